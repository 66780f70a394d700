"""Demo data (one user per role, pools in every state, ledger history) and set-based scale data."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text

from core import operations
from core.permissions import Actor
from core.services import commitments, pools, users
from core.services.users import hash_password
from core.settings import settings
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, Pool, User

# The README prints these; they only exist in demo data.
DEMO_USERS = (
    # username, password, role, name, kyc, accreditation
    ("admin", "admin-demo", "admin", "Ada Admin", "approved", "none"),
    ("manager", "manager-demo", "fund_manager", "Maya Manager", "approved", "none"),
    ("manager2", "manager2-demo", "fund_manager", "Milo Other-Manager", "approved", "none"),
    ("analyst", "analyst-demo", "analyst", "Ana Analyst", "approved", "none"),
    ("investor", "investor-demo", "investor", "Ivy Investor", "approved", "accredited"),
    ("investor2", "investor2-demo", "investor", "Ian Second", "approved", "qualified_purchaser"),
    ("investor3", "investor3-demo", "investor", "Iris Third", "approved", "accredited"),
    ("investor4", "investor4-demo", "investor", "Igor Pending-KYC", "pending", "none"),
)

TERMS = {
    "currency": "USD",
    "management_fee_rate": "0.02",
    "management_fee_basis": "committed",
    "carry_rate": "0.2",
    "hurdle_rate": "0.08",
    "catch_up_rate": "1",
    "min_accreditation": "accredited",
}


def demo_passwords_in_use(uow: UnitOfWork) -> list[str]:
    """Active accounts that still accept their published demo password (checked against the stored
    hash, so a demo account whose password was changed is fine). Production refuses to start with any."""
    import bcrypt
    from sqlalchemy.exc import ProgrammingError

    demo = {username: password for username, password, *_ in DEMO_USERS}
    try:
        rows = uow.session.execute(
            select(User.username, User.password_hash).where(User.username.in_(demo), User.active)
        ).all()
    except ProgrammingError:  # not migrated yet: no users table, so no demo accounts
        return []

    def accepts(password: str, stored: str | None) -> bool:
        try:
            return bool(stored) and bcrypt.checkpw(password.encode(), str(stored).encode())
        except ValueError:  # not a bcrypt hash (e.g. a single sign-on account): no password to guess
            return False

    return sorted(username for username, stored in rows if accepts(demo[username], stored))


def is_empty(uow: UnitOfWork) -> bool:
    return uow.session.execute(select(func.count()).select_from(User)).scalar_one() == 0


class ProductionRefusal(Exception):
    """Seeding asked for where it must not happen."""


def refuse_in_production() -> None:
    """Demo passwords are in the README and scale users share a guessable one: neither in production,
    whoever asks (`python -m core seed`, or `python -m core run` on an empty database)."""
    if settings().environment == "production":
        raise ProductionRefusal("refusing to seed demo or scale data in production (APP_ENV=production)")


def seed_demo(uow_factory) -> dict[str, int]:  # noqa: ANN001 - a callable returning a UnitOfWork
    """Build the demo through the real services, so demo data obeys every rule real data does."""
    refuse_in_production()
    system = Actor.system()
    ids: dict[str, int] = {}
    for username, password, role, name, kyc, accreditation in DEMO_USERS:
        with uow_factory() as uow:
            ids[username], _ = users.create_user(
                system,
                uow,
                username,
                name=name,
                email=f"{username}@example.com",
                role=role,
                password=password,
                kyc_status=kyc,
                accreditation=accreditation,
            )
    manager = Actor(ids["manager"], "fund_manager", "manager")
    manager2 = Actor(ids["manager2"], "fund_manager", "manager2")
    soon = date.today() + timedelta(days=90)

    def create(actor: Actor, **terms: str) -> int:
        with uow_factory() as uow:
            return pools.create_pool(actor, uow, {**TERMS, "close_date": soon.isoformat(), **terms})

    def commit(investor: str, pool_id: int, amount: str, accept: str | None = None) -> None:
        with uow_factory() as uow:
            commitment_id = commitments.submit_commitment(
                Actor(ids[investor], "investor", investor), uow, pool_id, amount
            )
        if accept is not None:
            with uow_factory() as uow:
                owner = uow.session.get(Pool, pool_id).manager_id
                commitments.accept_commitment(Actor(owner, "fund_manager"), uow, commitment_id, accept)

    seed_fund = create(
        manager,
        name="Seed Fund I",
        strategy="venture",
        target_size="5000000",
        hard_cap="7500000",
        min_ticket="50000",
        max_ticket="1000000",
    )
    growth = create(
        manager,
        name="Growth SPV 2024",
        strategy="growth",
        target_size="2000000",
        hard_cap="2500000",
        min_ticket="25000",
        max_ticket="1000000",
    )
    create(
        manager,
        name="Draft Credit Fund",
        strategy="private_credit",
        target_size="10000000",
        hard_cap="12000000",
        min_ticket="100000",
        max_ticket="2000000",
    )
    climate = create(
        manager2,
        name="Climate Ventures II",
        strategy="venture",
        target_size="3000000",
        hard_cap="4000000",
        min_ticket="10000",
        max_ticket="500000",
    )
    for pool_id, actor in ((seed_fund, manager), (growth, manager), (climate, manager2)):
        with uow_factory() as uow:
            pools.open_pool(actor, uow, pool_id)
    commit("investor", growth, "500000", accept="500000")
    commit("investor2", growth, "1000000", accept="800000")
    commit("investor3", growth, "300000", accept="300000")
    commit("investor2", seed_fund, "250000", accept="250000")
    commit("investor3", seed_fund, "100000")
    commit("investor", climate, "150000", accept="150000")
    with uow_factory() as uow:
        pools.close_pool(manager, uow, growth)
    _history(uow_factory, manager, growth, late_payer=ids["investor"])
    return ids


def _history(uow_factory, manager: Actor, pool_id: int, late_payer: int) -> None:  # noqa: ANN001
    """A called, paid, invested, marked-up and partly distributed pool, through the real operations."""
    start = date.today() - timedelta(days=540)

    def run(kind: str, **payload: object) -> None:
        with uow_factory() as uow:
            status = operations.submit(manager, uow, pool_id, kind, payload)
        outcome = operations.process(str(status.id), uow_factory)
        if outcome != "done":
            raise RuntimeError(f"demo {kind} did not complete: {outcome}")

    def pay_call(call_date: date, skip: int | None) -> None:
        with uow_factory() as uow:
            items = uow.session.execute(
                select(CallItem.id, CallItem.investor_id, CallItem.amount_due)
                .join(CapitalCall, CapitalCall.id == CallItem.call_id)
                .where(CapitalCall.pool_id == pool_id, CapitalCall.call_date == call_date)
            ).all()
        for item_id, investor_id, due in items:
            if investor_id != skip:
                run(
                    "payment",
                    call_item_id=item_id,
                    amount=str(due),
                    reference=f"WIRE-{item_id:05d}",
                    paid_on=(call_date + timedelta(days=10)).isoformat(),
                )

    first, second = start, start + timedelta(days=240)
    run(
        "capital_call",
        percent="40",
        purpose="Call 1: Acme Robotics Series B",
        call_date=first.isoformat(),
        due_date=(first + timedelta(days=14)).isoformat(),
    )
    pay_call(first, skip=None)
    run(
        "investment",
        action="buy",
        company="Acme Robotics",
        amount="500000",
        date=(first + timedelta(days=30)).isoformat(),
    )
    run(
        "management_fee", period_start=first.isoformat(), period_end=(first + timedelta(days=365)).isoformat()
    )
    # The demo investor has not paid the second call yet: an open item to pay in the demo.
    run(
        "capital_call",
        percent="30",
        purpose="Call 2: follow-on and fees",
        call_date=second.isoformat(),
        due_date=(date.today() + timedelta(days=21)).isoformat(),
    )
    pay_call(second, skip=late_payer)
    run(
        "valuation",
        value="850000",
        note="Acme Robotics marked at its Series C price",
        date=(start + timedelta(days=420)).isoformat(),
    )
    run(
        "distribution",
        proceeds="150000",
        memo="Dividend recapitalisation",
        date=(start + timedelta(days=450)).isoformat(),
    )


def seed_scale(uow: UnitOfWork, investors: int, pool_count: int, per_investor: int = 2) -> None:
    """Set-based scale data: investors, open pools, accepted commitments and their journals.

    Every row is made by one INSERT ... SELECT over generate_series, so 100,000 investors take seconds.
    Scale investors share one unusable password hash: they exist to be counted, not to log in.
    """
    refuse_in_production()
    unusable = hash_password("scale-user-no-login-" + str(investors))
    run = uow.session.execute(text("SELECT coalesce(max(id), 0) + 1 FROM users")).scalar_one()
    uow.session.execute(
        text(
            """INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
               SELECT 'scale' || :run || '_manager' || g, 'Scale Manager ' || g, 'm' || g || '@example.com',
                      'fund_manager', 'approved', 'none', :hash
                 FROM generate_series(1, greatest(1, :pools / 20)) g"""
        ),
        {"run": run, "pools": pool_count, "hash": unusable},
    )
    uow.session.execute(
        text(
            """INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
               SELECT 'scale' || :run || '_investor' || g, 'Scale Investor ' || g, 'i' || g || '@example.com',
                      'investor', 'approved', 'accredited', :hash
                 FROM generate_series(1, :n) g"""
        ),
        {"run": run, "n": investors, "hash": unusable},
    )
    per_pool_cap = max(Decimal(investors * per_investor) / max(pool_count, 1), Decimal(1)) * 100000
    uow.session.execute(
        text(
            """INSERT INTO pools (manager_id, name, strategy, currency, target_size, hard_cap, min_ticket,
                                  max_ticket, management_fee_rate, carry_rate, hurdle_rate, catch_up_rate,
                                  close_date, status, opened_at, created_at)
               SELECT m.id, 'Scale Pool ' || :run || '-' || g,
                      (ARRAY['venture','growth','buyout','real_estate','private_credit','infrastructure'])[1 + g % 6],
                      'USD', :cap, :cap * 1.5, 10000, :cap, 0.02, 0.2, 0.08, 1,
                      current_date + 365, 'open',
                      now() - make_interval(days => (g * 37) % 3650), now() - make_interval(days => (g * 37) % 3650)
                 FROM generate_series(1, :pools) g
                 JOIN LATERAL (SELECT id FROM users WHERE username = 'scale' || :run || '_manager'
                               || (1 + (g - 1) % greatest(1, :pools / 20))) m ON true"""
        ),
        {"run": run, "pools": pool_count, "cap": per_pool_cap},
    )
    uow.session.execute(
        text(
            """CREATE TEMP TABLE scale_commitments ON COMMIT DROP AS
               WITH inv AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users
                             WHERE username LIKE 'scale' || :run || '_investor%'),
                    pl AS (SELECT array_agg(id ORDER BY id) AS ids
                             FROM pools WHERE name LIKE 'Scale Pool ' || :run || '-%')
               SELECT DISTINCT ON (pool_id, investor_id) pool_id, investor_id, amount
                 FROM (SELECT pl.ids[1 + (inv.n * 31 + k * 17) % :pools] AS pool_id, inv.id AS investor_id,
                              (10000 + (inv.n * 7919 + k * 104729) % 90000)::numeric AS amount
                         FROM inv CROSS JOIN pl CROSS JOIN generate_series(0, :per - 1) k) AS picks"""
        ),
        {"run": run, "per": per_investor, "pools": pool_count},
    )
    uow.session.execute(
        text(
            """INSERT INTO commitments (pool_id, investor_id, amount_requested, amount_accepted, status, decided_at)
               SELECT pool_id, investor_id, amount, amount, 'accepted', now() FROM scale_commitments"""
        )
    )
    # One journal per pool holding all its commitments: the balance trigger then sums each pool once.
    uow.session.execute(
        text(
            """INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date)
               SELECT 'seed:commitments:' || :run || ':' || pool_id, pool_id, 'commitment', 'scale seed',
                      current_date
                 FROM scale_commitments GROUP BY pool_id"""
        ),
        {"run": run},
    )
    uow.session.execute(
        text(
            """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount)
               SELECT j.id, s.pool_id, s.investor_id, acct.account, 'USD', acct.side, s.amount
                 FROM scale_commitments s
                 JOIN journals j ON j.idempotency_key = 'seed:commitments:' || :run || ':' || s.pool_id
                 CROSS JOIN (VALUES ('commitment_memo', 'D'), ('commitment', 'C')) AS acct(account, side)"""
        ),
        {"run": run},
    )
    uow.session.execute(
        text("UPDATE pools SET version = version + 1 WHERE name LIKE 'Scale Pool ' || :run || '-%'"),
        {"run": run},
    )
