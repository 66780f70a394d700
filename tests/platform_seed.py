"""Platform-scale data for the analyst and export tests and benchmarks, made set-based in one transaction.

Pools in eight strategies, four currencies and every state, opened over ten years; accepted
commitments (a few whales among them); and for running pools a ledger history of capital calls,
payments (each invested the same day in the pool's one portfolio company), a management fee,
valuations (marks of that company: gains and losses) and distributions, with the facts behind them
(capital calls, paid call items, payments, investments, marks, distributions). Every journal balances and every entry follows the booking
table in core.ledger, so `python -m core verify` and the database triggers accept it.

About 20 entries per commitment: 50,000 commitments make about a million entries.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from core import bootstrap, clock, operations
from core.services import calls, distributions, fees, investments, payments, pools
from db.models import CallItem, CapitalCall
from tests import approving


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
    # Each payment's cash is invested the same day in the pool's one portfolio company.
    """INSERT INTO seed_lines
       SELECT replace(l.jkey, ':payment:', ':investment:'), l.pool_id, 'investment', l.eff,
              'investment of ' || l.memo, NULL, v.account, v.side, sum(l.amount)
         FROM seed_lines l CROSS JOIN (VALUES ('investments', 'D'), ('cash', 'C')) v(account, side)
        WHERE l.kind = 'payment' AND l.investor_id IS NOT NULL AND l.account = 'capital'
        GROUP BY l.jkey, l.pool_id, l.eff, l.memo, v.account, v.side""",
    # A capital call's journal and its call are tied by operation id, as the real operation ties them.
    """INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date, operation_id)
       SELECT DISTINCT jkey, pool_id, kind, memo, eff, CASE WHEN kind = 'capital_call' THEN md5(jkey)::uuid END
         FROM seed_lines ORDER BY eff, jkey""",
    """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount, kind, day)
       SELECT j.id, l.pool_id, l.investor_id, l.account, p.currency, l.side, l.amount, j.kind, j.effective_date
         FROM seed_lines l JOIN journals j ON j.idempotency_key = l.jkey JOIN pools p ON p.id = l.pool_id
        ORDER BY j.id""",
    """INSERT INTO capital_calls (pool_id, amount, percent, purpose, call_date, due_date, status, operation_id,
                                  number)
       SELECT ev.pool_id, sum(round(sp.amount * 0.2, 2)), 0.2, ev.memo, ev.eff, ev.eff + 14, 'paid',
              md5(ev.jkey)::uuid, ev.seq + 1
         FROM seed_events ev JOIN seed_positions sp ON sp.pool_id = ev.pool_id
        WHERE ev.kind = 'capital_call'
        GROUP BY ev.pool_id, ev.seq, ev.eff, ev.memo, ev.jkey""",
    """INSERT INTO call_items (call_id, commitment_id, investor_id, amount_due, amount_paid, status)
       SELECT cc.id, c.id, sp.investor_id, round(sp.amount * 0.2, 2), round(sp.amount * 0.2, 2), 'paid'
         FROM capital_calls cc
         JOIN pools p ON p.id = cc.pool_id AND starts_with(p.name, 'Platform Pool ' || :run || '-')
         JOIN seed_positions sp ON sp.pool_id = cc.pool_id
         JOIN commitments c ON c.pool_id = sp.pool_id AND c.investor_id = sp.investor_id AND c.status = 'accepted'""",
    # The facts behind the journals, as the services write them in the journals' transactions.
    """INSERT INTO payments (pool_id, call_item_id, investor_id, amount, reference, paid_on, operation_id)
       SELECT l.pool_id, ci.id, l.investor_id, l.amount, 'seed wire', l.eff,
              md5(l.jkey || ':' || l.investor_id)::uuid
         FROM seed_lines l
         JOIN seed_events ev ON ev.jkey = l.jkey
         JOIN capital_calls cc ON cc.pool_id = l.pool_id AND cc.number = ev.seq + 1
         JOIN call_items ci ON ci.call_id = cc.id AND ci.investor_id = l.investor_id
        WHERE l.kind = 'payment' AND l.account = 'capital' AND l.investor_id IS NOT NULL""",
    """INSERT INTO distributions (pool_id, proceeds, lp_total, gp_total, distributed_on, memo, operation_id)
       SELECT pool_id, sum(amount), sum(amount), 0, eff, memo, md5(jkey)::uuid
         FROM seed_lines WHERE kind = 'distribution' AND investor_id IS NOT NULL
        GROUP BY pool_id, jkey, eff, memo""",
    """INSERT INTO portfolio_companies (pool_id, name)
       SELECT DISTINCT pool_id, 'Platform Company ' || pool_id FROM seed_lines WHERE kind = 'investment'""",
    """INSERT INTO investments (pool_id, company_id, amount, invested_on, operation_id)
       SELECT l.pool_id, c.id, l.amount, l.eff, md5(l.jkey)::uuid
         FROM seed_lines l JOIN portfolio_companies c ON c.pool_id = l.pool_id
        WHERE l.kind = 'investment' AND l.account = 'investments'""",
    """INSERT INTO marks (pool_id, company_id, value, change, marked_on, note, operation_id)
       SELECT v.pool_id, c.id,
              (SELECT sum(i.amount) FROM investments i WHERE i.pool_id = v.pool_id AND i.invested_on <= v.eff)
                + sum(v.change) OVER (PARTITION BY v.pool_id ORDER BY v.eff),
              v.change, v.eff, v.memo, md5(v.jkey)::uuid
         FROM (SELECT jkey, pool_id, eff, memo, sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS change
                 FROM seed_lines WHERE kind = 'valuation' AND account = 'unrealized'
                GROUP BY jkey, pool_id, eff, memo) v
         JOIN portfolio_companies c ON c.pool_id = v.pool_id""",
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
            """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount, kind, day)
           SELECT j.id, :pool,
                  CASE WHEN k % 2 = 0 THEN inv.ids[1 + (k / 2 + j.id) % cardinality(inv.ids)] END,
                  CASE WHEN k % 2 = 0 THEN 'capital' ELSE 'cash' END, 'USD',
                  CASE WHEN k % 2 = 0 THEN 'C' ELSE 'D' END,
                  ((j.id * 31 + ((k + 1) / 2) * 17) % 100000 + 1)::numeric / 100, j.kind, j.effective_date
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


# --- a pool's history through the real services, each act on its own day -------------------------------


class History:
    """Acts on one pool through the services' previews and typed commands, each on its own day
    (core.clock.travel), processed in-process as a worker would: the pool's history as people make it."""

    def __init__(self, uow_factory: Any, manager: Any, pool_id: int) -> None:
        self.uow_factory, self.manager, self.pool_id = uow_factory, manager, pool_id

    def _act(self, on: Any, preview: Any, submit: Any, request: dict[str, Any]) -> Any:
        with clock.travel(on), self.uow_factory() as uow:
            status = submit(self.manager, uow, preview(self.manager, uow, self.pool_id, request).command)
        with clock.travel(on):
            outcome = operations.process(str(status.id), self.uow_factory)
        if outcome != "done":
            with self.uow_factory() as uow:
                failed = operations.operation_status(self.manager, uow, status.id)
            raise AssertionError(f"{status.kind} on {on}: {failed.error}")
        return status

    def close(self, on: Any) -> None:
        with clock.travel(on), self.uow_factory() as uow:
            pools.close_pool(self.manager, uow, self.pool_id)

    def call(self, percent: str, on: Any) -> None:
        self._act(on, calls.preview, calls.issue, {"percent": percent, "purpose": f"Capital call of {on}"})

    def items(self) -> list[Any]:
        """The pool's call items with what is still owed on them, oldest first."""
        with self.uow_factory() as uow:
            return list(
                uow.session.execute(
                    select(
                        CallItem.id,
                        CallItem.investor_id,
                        CallItem.amount_due,
                        CallItem.amount_paid,
                        CallItem.version,
                    )
                    .join(CapitalCall, CapitalCall.id == CallItem.call_id)
                    .where(CapitalCall.pool_id == self.pool_id)
                    .order_by(CallItem.id)
                ).all()
            )

    def pay(self, item: Any, on: Any, amount: Any = None, reference: str = "") -> None:
        owed = item.amount_due - item.amount_paid
        self._act(
            on,
            payments.preview,
            payments.record,
            {
                "call_item_id": item.id,
                "amount": str(owed if amount is None else amount),
                "reference": reference or f"WIRE-{item.id}",
                "item_version": item.version,
                "paid_on": on.isoformat(),
            },
        )

    def pay_all(self, on: Any) -> None:
        for item in self.items():
            if item.amount_paid < item.amount_due:
                self.pay(item, on)

    def invest(self, company: str, amount: str, on: Any) -> int:
        self._act(
            on, investments.preview_investment, investments.invest, {"company": company, "amount": amount}
        )
        with self.uow_factory() as uow:
            return next(h.company_id for h in investments.holdings(uow, self.pool_id) if h.company == company)

    def mark(self, company_id: int, value: str, on: Any, note: str = "") -> None:
        request = {"company_id": company_id, "value": value, "note": note}
        self._act(on, investments.preview_mark, investments.mark, request)

    def exit(self, company_id: int, proceeds: str, on: Any) -> None:
        self._act(
            on,
            investments.preview_exit,
            investments.exit_holding,
            {"company_id": company_id, "proceeds": proceeds},
        )

    def fee(self, period_start: Any, period_end: Any, on: Any) -> None:
        self._act(
            on,
            fees.preview,
            fees.charge,
            {"period_start": period_start.isoformat(), "period_end": period_end.isoformat()},
        )

    def distribute(self, proceeds: str, on: Any, memo: str = "Distribution") -> None:
        self._act(on, distributions.preview, approving.distribute, {"proceeds": proceeds, "memo": memo})


def ledger_figures(uow: Any, pool_id: int, as_of: Any, investor_id: int | None = None) -> dict[str, Any]:
    """A pool's (or one investor's) capital-account lines and NAV as of a day, summed straight from
    the journal entries by the test's own hand: the independent recomputation surfaces must equal."""
    by_hand = {  # line: (journal kind, account, the side that adds), written apart from core.ledger
        "commitment": ("commitment", "commitment", "C"),
        "called": ("capital_call", "receivable", "D"),
        "contributions": ("payment", "capital", "C"),
        "distributions": ("distribution", "capital", "D"),
        "management_fees": ("management_fee", "capital", "D"),
        "realized_gain": ("exit", "capital", "C"),
        "unrealized_gain": ("valuation", "capital", "C"),
        "carried_interest": ("carry", "capital", "D"),
    }
    params = {"pool": pool_id, "on": as_of, "investor": investor_id}
    where = """e.pool_id = :pool AND j.effective_date <= :on
               AND (CAST(:investor AS bigint) IS NULL OR e.investor_id = :investor)"""
    out: dict[str, Any] = {}
    for line, (kind, account, side) in by_hand.items():
        out[line] = uow.session.execute(
            text(
                f"""SELECT coalesce(sum(CASE e.side WHEN :side THEN e.amount ELSE -e.amount END), 0)
                      FROM entries e JOIN journals j ON j.id = e.journal_id
                     WHERE {where} AND j.kind = :kind AND e.account = :account"""
            ),
            {**params, "side": side, "kind": kind, "account": account},
        ).scalar_one()
    out["nav"] = uow.session.execute(
        text(
            f"""SELECT coalesce(sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END), 0)
                  FROM entries e JOIN journals j ON j.id = e.journal_id WHERE {where} AND e.account = 'capital'"""
        ),
        params,
    ).scalar_one()
    out["unfunded"] = out["commitment"] - out["called"]
    out["outstanding"] = out["called"] - out["contributions"]
    out["flows"] = [
        (day, -paid if paid else out_)
        for day, paid, out_ in uow.session.execute(
            text(
                f"""SELECT j.effective_date,
                           sum(CASE WHEN j.kind = 'payment' THEN CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END END),
                           sum(CASE WHEN j.kind = 'distribution' THEN CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END END)
                      FROM entries e JOIN journals j ON j.id = e.journal_id
                     WHERE {where} AND e.account = 'capital' AND j.kind IN ('payment', 'distribution')
                     GROUP BY j.effective_date, j.kind ORDER BY j.effective_date"""
            ),
            params,
        )
        if (paid or out_)
    ]
    assert all(isinstance(v, Decimal) for k, v in out.items() if k != "flows")
    return out


# --- what a page must never show (issue 15), for the AppTest suites --------------------------------------

_SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")
_FIELD_CODE = re.compile(r"^\W*[a-z]+(?:_[a-z]+)*: ")  # "due_date: must not ...", "- amount: ..."
_REPRS = re.compile(
    r"\bNone\b|\bnan\b|\bNaN\b|\bNaT\b|\{'|\['|Decimal\(|datetime\.|\b[0-9a-f]{8}-[0-9a-f]{4}-"
)


def unreadable(at: Any) -> list[str]:
    """Everything on an AppTest page a person should not have to read: Python reprs ("None", "nan",
    dicts, lists, Decimal(...)), internal ids (UUIDs), snake_case column names, a missing value a
    table would show as "None" (no placeholder), more decimals than any figure needs (a float with
    no column format, a Decimal beyond 4 places), a message starting with a field code."""
    problems = []
    for table in at.dataframe:
        frame, proto = table.value, table.proto
        configured = json.loads(proto.columns) if proto.columns else {}
        if frame.isna().to_numpy().any() and not proto.placeholder:
            problems.append(f"a table shows None where a value is missing: {list(frame.columns)}")
        for column in frame.columns:
            if _SNAKE.match(str(column)):
                problems.append(f"snake_case column {column!r}")
            formatted = "format" in json.dumps(configured.get(str(column), {})) or "progress" in json.dumps(
                configured.get(str(column), {})
            )
            for value in frame[column]:
                if isinstance(value, str) and _REPRS.search(value):
                    problems.append(f"{column!r} shows {value!r}")
                elif isinstance(value, Decimal) and value.is_finite() and value.as_tuple().exponent < -4:  # type: ignore[operator]
                    problems.append(f"{column!r} shows {value} (over-precise)")
                elif isinstance(value, float) and value == value and not value.is_integer() and not formatted:
                    problems.append(f"{column!r} shows the float {value!r} unformatted")
    texts = [m.value for m in at.metric] + [m.label for m in at.metric]
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "success",
        "warning",
        "error",
    ):
        texts += [element.value for element in at.get(kind)]
    for text_ in texts:
        if isinstance(text_, str) and _REPRS.search(text_):
            problems.append(f"text shows a Python repr or an internal id: {text_!r}")
    for kind in ("info", "success", "warning", "error"):
        for element in at.get(kind):
            if _FIELD_CODE.match(element.value):
                problems.append(f"a message starts with a field code: {element.value!r}")
    return problems
