"""Demo data (one user per role, pools in every state, ledger history) and set-based scale data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text

from core import clock, operations
from core.permissions import Actor
from core.ratelimit import RateLimiter
from core.services import (
    approvals,
    calls,
    commitments,
    corrections,
    distributions,
    expenses,
    fees,
    investments,
    notices,
    payments,
    pools,
    users,
)
from core.services.users import hash_password
from core.settings import settings
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, User

# The README prints these; they only exist in demo data.
DEMO_USERS = (
    # username, password, role, name, kyc, accreditation
    ("admin", "admin-demo", "admin", "Ada Admin", "approved", "none"),
    ("manager", "manager-demo", "fund_manager", "Maya Manager", "approved", "none"),
    ("manager2", "manager2-demo", "fund_manager", "Milo Other-Manager", "approved", "none"),
    ("comanager", "comanager-demo", "fund_manager", "Cora Co-Manager", "approved", "none"),
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


def seed_demo(uow_factory: Callable[[], UnitOfWork]) -> dict[str, int]:
    """Build the demo through the real services, so demo data obeys every rule real data does.

    Two and a half years of one fund's life, each act on its own day (core.clock.travel): pools
    opened and raised, commitments accepted, capital called and paid (one payment keyed wrongly and
    corrected), fund expenses paid, companies bought, marked, one exited, fees charged, proceeds distributed, and a last
    call still open for the demo investor to pay. Every chart, period filter and statement then
    tells one story, and `python -m core verify` passes on it.
    """
    refuse_in_production()
    today = clock.today()
    start = today - timedelta(days=900)
    ids: dict[str, int] = {}
    with clock.travel(start - timedelta(days=30)):
        for username, password, role, name, kyc, accreditation in DEMO_USERS:
            with uow_factory() as uow:
                ids[username], _ = users.create_user(
                    Actor.system(),
                    uow,
                    username,
                    name=name,
                    email=f"{username}@example.com",
                    role=role,
                    password=password,
                    kyc_status=kyc,
                    accreditation=accreditation,
                )
    history = _History(uow_factory, ids)
    manager, manager2 = history.actor("manager"), history.actor("manager2")
    # Cora co-manages Maya's pools: she approves the distributions Maya drafts (and Maya hers).
    comanager = history.actor("comanager")

    # Growth SPV 2024: raised, called, invested, marked, one exit, distributions; a call still open.
    with clock.travel(start):
        growth = history.pool(
            manager, "Growth SPV 2024", "growth", "2000000", "2500000", "25000", "1000000", 60
        )
    history.co_manage(manager, growth, "comanager")
    history.commit("investor", growth, "500000", start + timedelta(days=5), accept="500000")
    history.commit("investor2", growth, "1000000", start + timedelta(days=12), accept="800000")
    history.commit("investor3", growth, "300000", start + timedelta(days=30), accept="300000")
    with clock.travel(start + timedelta(days=45)):
        history.close(manager, growth)
    first = start + timedelta(days=60)
    history.call(manager, growth, first, "40", "Acme Robotics Series B")
    history.pay_call(manager, growth, 1, first + timedelta(days=9))
    history.expense(
        manager, growth, first + timedelta(days=12), "formation", "18000", "Formation: counsel and filings"
    )
    history.invest(manager, growth, first + timedelta(days=20), "Acme Robotics", "500000")
    second = start + timedelta(days=280)
    history.call(manager, growth, second, "30", "Beacon Health seed and fees")
    history.pay_call(manager, growth, 2, second + timedelta(days=8), mistake="investor3")
    history.invest(manager, growth, second + timedelta(days=20), "Beacon Health", "300000")
    history.fee(manager, growth, first, first + timedelta(days=364))
    history.mark(manager, growth, start + timedelta(days=420), "Acme Robotics", "850000", "Series C price")
    history.mark(manager, growth, start + timedelta(days=600), "Beacon Health", "240000", "Down round")
    history.fee(manager, growth, first + timedelta(days=365), first + timedelta(days=729))
    history.expense(
        manager, growth, start + timedelta(days=640), "administration", "6500", "Fund administrator, year 2"
    )
    history.exit(manager, growth, start + timedelta(days=700), "Acme Robotics", "1400000")
    history.distribute(
        manager,
        comanager,
        growth,
        start + timedelta(days=720),
        "600000",
        "Proceeds of the Acme Robotics sale",
    )
    history.distribute(
        comanager,
        manager,
        growth,
        start + timedelta(days=800),
        "900000",
        "Rest of the Acme Robotics proceeds",
    )
    third = today - timedelta(days=8)
    history.call(manager, growth, third, "10", "Beacon Health follow-on")
    history.pay_call(manager, growth, 3, third + timedelta(days=2), skip="investor")

    # Climate Ventures II (another manager): the demo investor's second pool, called once.
    with clock.travel(start + timedelta(days=400)):
        climate = history.pool(
            manager2, "Climate Ventures II", "venture", "3000000", "4000000", "10000", "500000", 90
        )
    history.commit("investor", climate, "150000", start + timedelta(days=410), accept="150000")
    history.commit("investor2", climate, "400000", start + timedelta(days=430), accept="400000")
    with clock.travel(start + timedelta(days=480)):
        history.close(manager2, climate)
    history.call(manager2, climate, start + timedelta(days=500), "25", "First close: Helio Grid")
    history.pay_call(manager2, climate, 1, start + timedelta(days=512))
    history.invest(manager2, climate, start + timedelta(days=530), "Helio Grid", "130000")
    history.mark(manager2, climate, start + timedelta(days=800), "Helio Grid", "160000", "Series A extension")

    # Seed Fund I: raising now, one commitment accepted and one waiting for the manager.
    with clock.travel(today - timedelta(days=120)):
        seed_fund = history.pool(
            manager, "Seed Fund I", "venture", "5000000", "7500000", "50000", "1000000", 210
        )
    history.co_manage(manager, seed_fund, "comanager")
    history.commit("investor2", seed_fund, "250000", today - timedelta(days=100), accept="250000")
    history.commit("investor3", seed_fund, "100000", today - timedelta(days=10))

    # A draft the manager is still writing.
    with clock.travel(today - timedelta(days=3)):
        history.pool(
            manager,
            "Draft Credit Fund",
            "private_credit",
            "10000000",
            "12000000",
            "100000",
            "2000000",
            120,
            open_it=False,
        )
    return ids


class _History:
    """The demo's acts, each through the real services on its own day."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], ids: dict[str, int]) -> None:
        self.ids = ids

        def unlimited() -> UnitOfWork:
            """Years of a fund's acts replayed in seconds are no person hammering the app."""
            uow = uow_factory()
            uow.resources = replace(uow.resources, limiter=RateLimiter(None, off=True))
            return uow

        self.uow_factory = unlimited

    def actor(self, username: str) -> Actor:
        role = next(role for name, _, role, *_ in DEMO_USERS if name == username)
        return Actor(self.ids[username], role, username)

    def pool(
        self,
        manager: Actor,
        name: str,
        strategy: str,
        target: str,
        cap: str,
        min_ticket: str,
        max_ticket: str,
        closes_in: int,
        *,
        open_it: bool = True,
    ) -> int:
        terms = {
            **TERMS,
            "name": name,
            "strategy": strategy,
            "target_size": target,
            "hard_cap": cap,
            "min_ticket": min_ticket,
            "max_ticket": max_ticket,
            "close_date": (clock.today() + timedelta(days=closes_in)).isoformat(),
        }
        with self.uow_factory() as uow:
            pool_id = pools.create_pool(manager, uow, terms)
        with self.uow_factory() as uow:  # where its investors wire (the standard example IBAN)
            notices.set_wire_instructions(
                manager,
                uow,
                pool_id,
                {
                    "bank_name": "Westminster Bank plc",
                    "account_name": f"{name} LP",
                    "account_number": "GB82 WEST 1234 5698 7654 32",
                    "bank_code": "WESTGB2L",
                },
            )
        if open_it:
            with self.uow_factory() as uow:
                pools.open_pool(manager, uow, pool_id)
        return pool_id

    def co_manage(self, manager: Actor, pool_id: int, username: str) -> None:
        with self.uow_factory() as uow:
            pools.add_manager(manager, uow, pool_id, self.ids[username])

    def close(self, manager: Actor, pool_id: int) -> None:
        with self.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)

    def commit(self, investor: str, pool_id: int, amount: str, on: date, accept: str | None = None) -> None:
        with clock.travel(on), self.uow_factory() as uow:
            commitment_id = commitments.submit_commitment(self.actor(investor), uow, pool_id, amount)
        if accept is not None:
            with clock.travel(on + timedelta(days=3)), self.uow_factory() as uow:
                owner = pools.load_pool(uow, pool_id).manager_id
                commitments.accept_commitment(Actor(owner, "fund_manager"), uow, commitment_id, accept)

    def _run(
        self,
        on: date,
        preview: Callable[..., Any],
        submit: Callable[..., Any],
        actor: Actor,
        pool_id: int,
        request: dict[str, Any],
    ) -> None:
        with clock.travel(on):
            with self.uow_factory() as uow:
                status = submit(actor, uow, preview(actor, uow, pool_id, request).command)
            outcome = operations.process(str(status.id), self.uow_factory)
        if outcome != "done":
            raise RuntimeError(f"demo {status.kind} of {on} did not complete: {outcome}")
        return status.id

    def call(self, manager: Actor, pool_id: int, on: date, percent: str, purpose: str) -> None:
        self._run(on, calls.preview, calls.issue, manager, pool_id, {"percent": percent, "purpose": purpose})

    def pay_call(
        self,
        manager: Actor,
        pool_id: int,
        number: int,
        on: date,
        *,
        skip: str | None = None,
        mistake: str | None = None,
    ) -> None:
        """Every investor of the call pays in full (but `skip`), each a day apart; `mistake`'s wire is
        first keyed at half its amount, reversed with a reason, then recorded right."""
        with self.uow_factory() as uow:
            items = uow.session.execute(
                select(CallItem.id, CallItem.investor_id, CallItem.amount_due, CallItem.version)
                .join(CapitalCall, CapitalCall.id == CallItem.call_id)
                .where(CapitalCall.pool_id == pool_id, CapitalCall.number == number)
                .order_by(CallItem.id)
            ).all()
        for n, (item_id, investor_id, due, _) in enumerate(items):
            if skip is not None and investor_id == self.ids[skip]:
                continue
            day = on + timedelta(days=n)
            reference = f"WIRE-{pool_id:02d}{number:02d}-{item_id:05d}"
            if mistake is not None and investor_id == self.ids[mistake]:
                wrong = self._pay(manager, pool_id, item_id, day, str(due / 2), reference)
                day += timedelta(days=1)
                self._run(
                    day,
                    corrections.preview,
                    corrections.reverse,
                    manager,
                    pool_id,
                    {"operation_id": wrong, "reason": "Keyed at half the wire's amount"},
                )
            self._pay(manager, pool_id, item_id, day, str(due), reference)

    def _pay(self, manager: Actor, pool_id: int, item_id: int, on: date, amount: str, reference: str) -> Any:
        request = {
            "call_item_id": item_id,
            "amount": amount,
            "reference": reference,
            "paid_on": on.isoformat(),
            "reuse_reference": True,
        }
        return self._run(on, payments.preview, payments.record, manager, pool_id, request)

    def invest(self, manager: Actor, pool_id: int, on: date, company: str, amount: str) -> None:
        self._run(
            on,
            investments.preview_investment,
            investments.invest,
            manager,
            pool_id,
            {"company": company, "amount": amount},
        )

    def _company(self, pool_id: int, name: str) -> int:
        with self.uow_factory() as uow:
            return next(cid for cid, cname in investments.companies(uow, pool_id) if cname == name)

    def mark(self, manager: Actor, pool_id: int, on: date, company: str, value: str, note: str) -> None:
        self._run(
            on,
            investments.preview_mark,
            investments.mark,
            manager,
            pool_id,
            {"company_id": self._company(pool_id, company), "value": value, "note": note},
        )

    def exit(self, manager: Actor, pool_id: int, on: date, company: str, proceeds: str) -> None:
        self._run(
            on,
            investments.preview_exit,
            investments.exit_holding,
            manager,
            pool_id,
            {"company_id": self._company(pool_id, company), "proceeds": proceeds},
        )

    def expense(self, manager: Actor, pool_id: int, on: date, category: str, amount: str, memo: str) -> None:
        request = {"category": category, "amount": amount, "memo": memo}
        self._run(on, expenses.preview, expenses.record, manager, pool_id, request)

    def fee(self, manager: Actor, pool_id: int, start: date, end: date) -> None:
        self._run(
            end,
            fees.preview,
            fees.charge,
            manager,
            pool_id,
            {"period_start": start.isoformat(), "period_end": end.isoformat()},
        )

    def distribute(
        self, drafter: Actor, approver: Actor, pool_id: int, on: date, proceeds: str, memo: str
    ) -> None:
        """One manager drafts the distribution, the other approves it: it posts as approved."""
        with clock.travel(on):
            with self.uow_factory() as uow:
                draft = approvals.draft(
                    drafter, uow, pool_id, distributions.KIND, {"proceeds": proceeds, "memo": memo}
                )
            with self.uow_factory() as uow:
                status = approvals.approve(approver, uow, draft)
            outcome = operations.process(str(status.id), self.uow_factory)
        if outcome != "done":
            raise RuntimeError(f"demo distribution of {on} did not complete: {outcome}")


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
            """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount, kind, day)
               SELECT j.id, s.pool_id, s.investor_id, acct.account, 'USD', acct.side, s.amount, j.kind,
                      j.effective_date
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
