"""Platform-scale data for the analyst and export tests and benchmarks, made set-based in one transaction.

Pools in eight strategies, four currencies and every state, opened over ten years; accepted
commitments (a few whales among them); and for running pools a ledger history of capital calls,
payments, a management fee, valuations (gains and losses) and distributions, with the capital
calls and paid call items behind them. Every journal balances and every entry follows the booking
table in core.ledger, so `python -m core verify` and the database triggers accept it.

About 20 entries per commitment: 50,000 commitments make about a million entries.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text

from core import bootstrap


@contextlib.contextmanager
def use_database(url: str) -> Iterator[None]:
    """Point this process's core.runtime (services, jobs and AppTest pages) at another database, then back."""
    from core import cache, runtime
    from core import settings as settings_module

    def switch(to: str) -> None:
        if runtime.database_url.cache_info().currsize:
            bootstrap.engine().dispose()
        os.environ["DATABASE_URL"] = to
        settings_module.settings.cache_clear()
        runtime.database_url.cache_clear()
        namespace = getattr(cache, "_namespace", None)  # cache keys name their database
        if namespace is not None:
            namespace.cache_clear()

    saved = os.environ["DATABASE_URL"]
    switch(url)
    try:
        yield
    finally:
        switch(saved)


# A bcrypt hash nobody can log in with (any valid hash will do: these users exist to be counted).
UNUSABLE_HASH = "$2b$04$" + "x" * 53


def seed_platform(
    uow: Any, *, pools: int = 1000, investors: int = 8000, per_investor: int = 2, calls: int = 4
) -> str:
    """Insert the data in the unit of work's transaction (the caller commits); the run's tag."""
    run = secrets.token_hex(3)
    params = {
        "run": run,
        "pools": pools,
        "investors": investors,
        "per": per_investor,
        "calls": calls,
        "hash": UNUSABLE_HASH,
    }
    for statement in _STATEMENTS:
        uow.session.execute(text(statement), params)
    uow.session.execute(text("ANALYZE pools"))
    return run


_STATEMENTS = [
    """INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
       SELECT 'p' || :run || '_m' || g, 'Platform Manager ' || g, 'pm' || g || '@example.com',
              'fund_manager', 'approved', 'none', :hash
         FROM generate_series(1, greatest(1, :pools / 20)) g""",
    """INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
       SELECT 'p' || :run || '_i' || g, 'Platform Investor ' || g, 'pi' || g || '@example.com',
              'investor', 'approved', 'accredited', :hash
         FROM generate_series(1, :investors) g""",
    """INSERT INTO pools (manager_id, name, strategy, currency, target_size, hard_cap, min_ticket, max_ticket,
                          management_fee_rate, carry_rate, hurdle_rate, catch_up_rate, close_date, status,
                          opened_at, closed_at, created_at)
       SELECT m.id, 'Platform Pool ' || :run || '-' || g,
              (ARRAY['venture', 'growth', 'buyout', 'real_estate', 'private_credit', 'infrastructure',
                     'secondaries', 'fund_of_funds'])[1 + g % 8],
              (ARRAY['USD', 'USD', 'EUR', 'GBP', 'USD', 'CHF'])[1 + g % 6],
              1, 1, 10000, 5000000, 0.02, 0.2, 0.08, 1,
              (now() - make_interval(days => age) + interval '150 days')::date,
              CASE WHEN g % 25 = 0 THEN 'draft' WHEN age < 150 THEN 'open' WHEN age > 3000 THEN 'wound_down'
                   WHEN age < 400 THEN 'closed' ELSE 'investing' END,
              CASE WHEN g % 25 <> 0 THEN now() - make_interval(days => age) END,
              CASE WHEN g % 25 <> 0 AND age >= 150 THEN now() - make_interval(days => age - 150) END,
              now() - make_interval(days => age + 10)
         FROM (SELECT g, 20 + (g * 37) % 3600 AS age FROM generate_series(1, :pools) g) s
         JOIN users m ON m.username = 'p' || :run || '_m' || (1 + (g - 1) % greatest(1, :pools / 20))""",
    """CREATE TEMP TABLE seed_positions ON COMMIT DROP AS
       WITH inv AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users
                     WHERE starts_with(username, 'p' || :run || '_i')),
            pl AS (SELECT array_agg(id ORDER BY id) AS ids FROM pools
                    WHERE starts_with(name, 'Platform Pool ' || :run || '-') AND status <> 'draft')
       SELECT DISTINCT ON (pool_id, investor_id) pool_id, investor_id, amount
         FROM (SELECT pl.ids[1 + (inv.n * 31 + k * 17) % cardinality(pl.ids)] AS pool_id, inv.id AS investor_id,
                      ((10000 + (inv.n * 7919 + k * 104729) % 90000)
                       * CASE WHEN inv.n % 97 = 0 THEN 20 ELSE 1 END)::numeric AS amount
                 FROM inv CROSS JOIN pl CROSS JOIN generate_series(0, :per - 1) k) picks""",
    "ANALYZE seed_positions",
    """INSERT INTO commitments (pool_id, investor_id, amount_requested, amount_accepted, status, created_at,
                                decided_at)
       SELECT s.pool_id, s.investor_id, s.amount, s.amount, 'accepted', s.decided - interval '1 day', s.decided
         FROM (SELECT sp.*, least(now() - interval '1 hour',
                                  p.opened_at + make_interval(days => ((sp.investor_id * 13 + sp.pool_id * 7) % 120)::int))
                                  AS decided
                 FROM seed_positions sp JOIN pools p ON p.id = sp.pool_id) s""",
    """UPDATE pools p SET target_size = round(t.total * (0.7 + (p.id % 7) * 0.1)),
                          hard_cap = round(greatest(t.total, t.total * (0.7 + (p.id % 7) * 0.1)) * 1.25)
         FROM (SELECT pool_id, sum(amount) AS total FROM seed_positions GROUP BY pool_id) t
        WHERE t.pool_id = p.id""",
    """UPDATE pools SET target_size = 1000000, hard_cap = 1500000
        WHERE starts_with(name, 'Platform Pool ' || :run || '-') AND target_size = 1""",
    # One row per journal to post: (pool, kind, sequence, date), with what a line needs to know.
    """CREATE TEMP TABLE seed_events ON COMMIT DROP AS
       WITH p AS (SELECT id, status, opened_at::date AS opened, ((id % 11) - 3) * 0.05 AS rate FROM pools
                   WHERE starts_with(name, 'Platform Pool ' || :run || '-') AND status <> 'draft'),
            ev AS (
              SELECT id AS pool_id, 'commitment' AS kind, 0 AS seq, opened AS eff, 0::numeric AS rate,
                     'commitments accepted' AS memo FROM p
              UNION ALL
              SELECT id, 'capital_call', k, opened + 60 + 150 * k, 0, 'capital call ' || (k + 1)
                FROM p CROSS JOIN generate_series(0, :calls - 1) k
               WHERE status NOT IN ('open') AND opened + 70 + 150 * k <= current_date
              UNION ALL
              SELECT id, 'payment', k, opened + 70 + 150 * k, 0, 'payment for call ' || (k + 1)
                FROM p CROSS JOIN generate_series(0, :calls - 1) k
               WHERE status NOT IN ('open') AND opened + 70 + 150 * k <= current_date
              UNION ALL
              SELECT id, 'management_fee', 0, opened + 365, 0, 'management fee, first year'
                FROM p WHERE status NOT IN ('open') AND opened + 365 <= current_date
              UNION ALL
              SELECT id, 'valuation', y, opened + 420 + 365 * y, rate * (1 + y), 'annual valuation ' || (y + 1)
                FROM p CROSS JOIN generate_series(0, 2) y
               WHERE status NOT IN ('open') AND opened + 420 + 365 * y <= current_date AND rate <> 0
              UNION ALL
              SELECT id, 'distribution', d, opened + 1400 + 900 * d, 0, 'distribution ' || (d + 1)
                FROM p CROSS JOIN generate_series(0, 1) d
               WHERE status NOT IN ('open') AND opened + 1400 + 900 * d <= current_date)
       SELECT ev.*, 'pseed:' || :run || ':' || ev.pool_id || ':' || kind || ':' || seq AS jkey,
              least(:calls, greatest(0, floor((eff - p.opened - 70) / 150.0) + 1)) AS paid_calls
         FROM ev JOIN p ON p.id = ev.pool_id""",
    "ANALYZE seed_events",
    """CREATE TEMP TABLE seed_lines ON COMMIT DROP AS
       SELECT ev.jkey, ev.pool_id, ev.kind, ev.eff, ev.memo, sp.investor_id, l.account, l.side, l.amount
         FROM seed_events ev
         JOIN seed_positions sp ON sp.pool_id = ev.pool_id
         CROSS JOIN LATERAL (
           SELECT * FROM (VALUES
             ('commitment_memo', 'D', CASE WHEN ev.kind = 'commitment' THEN sp.amount END),
             ('commitment', 'C', CASE WHEN ev.kind = 'commitment' THEN sp.amount END),
             ('receivable', 'D', CASE WHEN ev.kind = 'capital_call' THEN round(sp.amount * 0.2, 2) END),
             ('capital', 'C', CASE WHEN ev.kind = 'payment' THEN round(sp.amount * 0.2, 2) END),
             ('receivable', 'C', CASE WHEN ev.kind = 'payment' THEN round(sp.amount * 0.2, 2) END),
             ('capital', 'D', CASE WHEN ev.kind = 'management_fee' THEN round(sp.amount * 0.02, 2) END),
             ('capital', CASE WHEN ev.rate >= 0 THEN 'C' ELSE 'D' END,
              CASE WHEN ev.kind = 'valuation'
                   THEN abs(round(ev.paid_calls * round(sp.amount * 0.2, 2) * ev.rate, 2)) END),
             ('capital', 'D', CASE WHEN ev.kind = 'distribution'
                                   THEN round(ev.paid_calls * round(sp.amount * 0.2, 2) * 0.25, 2) END)
           ) v(account, side, amount) WHERE v.amount > 0) l""",
    "ANALYZE seed_lines",
    """INSERT INTO seed_lines
       SELECT jkey, pool_id, kind, eff, memo, NULL,
              CASE WHEN kind = 'capital_call' THEN 'call_clearing'
                   WHEN kind = 'payment' AND account = 'capital' THEN 'cash'
                   WHEN kind = 'payment' THEN 'call_clearing'
                   WHEN kind = 'management_fee' THEN 'fee_income'
                   WHEN kind = 'valuation' THEN 'unrealized'
                   ELSE 'cash' END,
              CASE side WHEN 'D' THEN 'C' ELSE 'D' END, sum(amount)
         FROM seed_lines WHERE investor_id IS NOT NULL AND kind <> 'commitment'
        GROUP BY jkey, pool_id, kind, eff, memo, account, side""",
    # A capital call's journal and its call are tied by operation id, as the real operation ties them.
    """INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date, operation_id)
       SELECT DISTINCT jkey, pool_id, kind, memo, eff, CASE WHEN kind = 'capital_call' THEN md5(jkey)::uuid END
         FROM seed_lines ORDER BY eff, jkey""",
    """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount)
       SELECT j.id, l.pool_id, l.investor_id, l.account, p.currency, l.side, l.amount
         FROM seed_lines l JOIN journals j ON j.idempotency_key = l.jkey JOIN pools p ON p.id = l.pool_id
        ORDER BY j.id""",
    """INSERT INTO capital_calls (pool_id, amount, percent, purpose, call_date, due_date, status, operation_id)
       SELECT ev.pool_id, sum(round(sp.amount * 0.2, 2)), 0.2, ev.memo, ev.eff, ev.eff + 14, 'issued',
              md5(ev.jkey)::uuid
         FROM seed_events ev JOIN seed_positions sp ON sp.pool_id = ev.pool_id
        WHERE ev.kind = 'capital_call'
        GROUP BY ev.pool_id, ev.seq, ev.eff, ev.memo, ev.jkey""",
    """INSERT INTO call_items (call_id, commitment_id, investor_id, amount_due, amount_paid, status)
       SELECT cc.id, c.id, sp.investor_id, round(sp.amount * 0.2, 2), round(sp.amount * 0.2, 2), 'paid'
         FROM capital_calls cc
         JOIN pools p ON p.id = cc.pool_id AND starts_with(p.name, 'Platform Pool ' || :run || '-')
         JOIN seed_positions sp ON sp.pool_id = cc.pool_id
         JOIN commitments c ON c.pool_id = sp.pool_id AND c.investor_id = sp.investor_id AND c.status = 'accepted'""",
    """UPDATE pools SET version = version + 1 WHERE starts_with(name, 'Platform Pool ' || :run || '-')""",
]


def seed_entries(uow: Any, *, total: int = 1_000_000, per_journal: int = 1000, investors: int = 1000) -> int:
    """`total` ledger entries in one pool, set-based: balanced payment journals of `per_journal`
    entries (cash debits paired with investors' capital credits), dated over eight years, every
    tenth memo starting with "@SUM(1)". Also an admin to export them. Returns the pool id."""
    run = secrets.token_hex(3)
    params = {
        "run": run,
        "hash": UNUSABLE_HASH,
        "investors": investors,
        "journals": total // per_journal,
        "per": per_journal,
    }
    session = uow.session
    session.execute(
        text(
            """INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
           SELECT 'bulk' || :run || '_' || r, 'Bulk ' || r, 'bulk' || r || '@example.com', r, 'approved', 'none', :hash
             FROM unnest(ARRAY['admin', 'fund_manager']) r"""
        ),
        params,
    )
    session.execute(
        text(
            """INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
           SELECT 'bulk' || :run || '_i' || g, 'Bulk Investor ' || g, 'bi' || g || '@example.com', 'investor',
                  'approved', 'accredited', :hash FROM generate_series(1, :investors) g"""
        ),
        params,
    )
    pool_id = session.execute(
        text(
            """INSERT INTO pools (manager_id, name, strategy, currency, target_size, hard_cap, min_ticket, max_ticket,
                              management_fee_rate, carry_rate, hurdle_rate, catch_up_rate, close_date, status,
                              opened_at, created_at)
           SELECT id, 'Bulk Pool ' || :run, 'buyout', 'USD', 100000000, 150000000, 10000, 10000000, 0.02, 0.2,
                  0.08, 1, current_date - 2900, 'investing', now() - interval '3000 days', now() - interval '3000 days'
             FROM users WHERE username = 'bulk' || :run || '_fund_manager'
           RETURNING id"""
        ),
        params,
    ).scalar_one()
    params["pool"] = pool_id
    session.execute(
        text(
            """INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date)
           SELECT 'bulk:' || :run || ':' || g, :pool, 'payment',
                  CASE WHEN g % 10 = 0 THEN '@SUM(1) bulk payment ' || g ELSE 'bulk payment ' || g END,
                  current_date - (g * 7) % 2900
             FROM generate_series(1, :journals) g"""
        ),
        params,
    )
    session.execute(
        text(
            """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount)
           SELECT j.id, :pool,
                  CASE WHEN k % 2 = 0 THEN inv.ids[1 + (k / 2 + j.id) % cardinality(inv.ids)] END,
                  CASE WHEN k % 2 = 0 THEN 'capital' ELSE 'cash' END, 'USD',
                  CASE WHEN k % 2 = 0 THEN 'C' ELSE 'D' END,
                  ((j.id * 31 + ((k + 1) / 2) * 17) % 100000 + 1)::numeric / 100
             FROM journals j
             CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM users
                          WHERE starts_with(username, 'bulk' || :run || '_i')) inv
             CROSS JOIN generate_series(1, :per) k
            WHERE starts_with(j.idempotency_key, 'bulk:' || :run || ':')"""
        ),
        params,
    )
    session.execute(text("UPDATE pools SET version = version + 1 WHERE id = :pool"), params)
    return pool_id
