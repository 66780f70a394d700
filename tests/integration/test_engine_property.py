"""A randomized stateful test of the engine: commitments, settlements, calls, payments, investments,
marks, exits and distributions from many actors, right and wrong, with good and bad amounts.

Operations run in-process (submit, then operations.process). After every step: the ledger verifies,
every capital-account line the read model gives equals a sum straight from the journal entries,
each investor's NAV is their capital balance, NAV equals cash plus holdings at their marks,
accepted commitments stay within the hard cap, and the pool has no negative cash. A request the
model says is wrong must be refused, and one it says is right must go through.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text

from core import operations
from core.errors import DomainError, PermissionDenied
from core.ledger import read_model
from core.money import quantize
from core.permissions import Actor
from core.services import approvals, commitments, investments, pools
from core.verify import verify
from db.models import CallItem, CapitalCall, Commitment, Operation, Pool
from db.session import engine_for
from tests.conftest import Factory
from tests.workers import insert_users, uow_factory_for

pytestmark = pytest.mark.slow

CENT = Decimal("0.01")
HARD_CAP = Decimal("150000")
MIN_TICKET, MAX_TICKET = Decimal("10000"), Decimal("60000")
DUE = (date.today() + timedelta(days=20)).isoformat()


@dataclass
class World:
    """Users shared by every example; each example gets a pool of its own."""

    uow_factory: Any
    manager: Actor
    other_manager: Actor
    analyst: Actor
    admin: Actor
    investors: list[Actor]  # eligible
    ineligible: Actor  # KYC pending

    @classmethod
    def create(cls, uow_factory: Any) -> World:
        with uow_factory() as uow:
            managers = insert_users(uow, "fund_manager", 2)
            analyst = insert_users(uow, "analyst", 1)
            admin = insert_users(uow, "admin", 1)
            investors = insert_users(uow, "investor", 5)
            ineligible = insert_users(uow, "investor", 1, kyc_status="pending")
            uow.commit()
        return cls(
            uow_factory,
            Actor(managers[0], "fund_manager", "m0"),
            Actor(managers[1], "fund_manager", "m1"),
            Actor(analyst[0], "analyst", "an"),
            Actor(admin[0], "admin", "ad"),
            [Actor(i, "investor", f"i{n}") for n, i in enumerate(investors)],
            Actor(ineligible[0], "investor", "inel"),
        )


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def valid_amount(raw: str) -> Decimal | None:
    """What parse_amount would accept for USD (plain digits only, no 1e4), or None."""
    if "e" in raw.lower():
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(CENT):
        return None
    return value


AMOUNTS = st.one_of(
    st.integers(min_value=5_000, max_value=70_000).map(str),
    st.sampled_from(
        ["10000", "60000", "60000.01", "9999.99", "0", "-10000", "abc", "1e4", "25000.005", "NaN"]
    ),
)


class EngineMachine(RuleBasedStateMachine):
    world: World  # set by the test before the run
    tally: Counter[tuple[str, str]] = Counter()  # (what, outcome) over the whole run

    @initialize(
        tickets=st.lists(st.integers(20, 120).map(lambda n: str(n * 500)), min_size=1, max_size=5),
        head_start=st.sampled_from([0, 1, 2, 3, 3]),
    )
    def open_pool(self, tickets: list[str], head_start: int) -> None:
        """An open pool with a few pending commitments; with a head start, accepted (as far as the
        hard cap allows) and closed (1), a first call issued and paid (2), and half the cash invested
        in a company (3), so that money can move within the steps an example has."""
        w = self.world
        terms = Factory.terms(
            target_size="100000",
            hard_cap=str(HARD_CAP),
            min_ticket=str(MIN_TICKET),
            max_ticket=str(MAX_TICKET),
        )
        with w.uow_factory() as uow:
            self.pool_id = pools.create_pool(w.manager, uow, terms)
        with w.uow_factory() as uow:
            pools.open_pool(w.manager, uow, self.pool_id)
        self.status = "open"
        self.requests = 0
        self.commitments: dict[int, dict[str, Any]] = {}  # id -> investor, requested, status, accepted
        for investor, ticket in zip(w.investors, tickets, strict=False):
            self.commit_as(investor, ticket)
        if head_start:
            for commitment_id in sorted(self.commitments):
                self.settle_as(w.manager, commitment_id, None)
            self.close(by_manager=True)
        if head_start >= 2 and self.running():
            self.call(percent="50", wrong=False)
            for item in self.items():
                owner = next(a for a in w.investors if a.user_id == item.investor_id)
                outcome, reason = self.operate(
                    owner,
                    "payment",
                    {"call_item_id": item.id, "amount": str(item.amount_due), "reference": f"W{item.id}"},
                )
                assert outcome == "done", reason
        if head_start == 3 and self.running():
            outcome, reason = self.operate(
                w.manager, "investment", {"company": "Acme", "amount": str(cents(self.books().cash / 2))}
            )
            assert outcome == "done", reason
            self.refresh_status()

    # --- helpers -------------------------------------------------------------------------------------

    def uow(self) -> Any:
        return self.world.uow_factory()

    def accepted_total(self) -> Decimal:
        return sum(
            (c["accepted"] for c in self.commitments.values() if c["status"] == "accepted"), Decimal(0)
        )

    def operate(self, actor: Actor, kind: str, payload: dict[str, Any]) -> tuple[str, str | None]:
        """Submit and process; ('refused', reason) when submission is refused."""
        # A key of its own: each step is a new request, even when it repeats an earlier one word
        # for word (which, without a key, would by design return the earlier operation).
        self.requests += 1
        try:
            with self.uow() as uow:
                status = operations.submit(
                    actor, uow, self.pool_id, kind, payload, idempotency_key=f"prop:{uuid.uuid4()}"
                )
        except DomainError as exc:
            self.tally[kind, "refused"] += 1
            return "refused", f"{type(exc).__name__}: {exc.message}"
        assert operations.process(str(status.id), self.world.uow_factory) in ("done", "failed")
        with self.uow() as uow:
            final = operations.operation_status(actor, uow, status.id)
        self.tally[kind, final.status] += 1
        return final.status, final.error

    def approved(self, actor: Actor, kind: str, request: dict[str, Any]) -> tuple[str, str | None]:
        """Drafted by `actor`, approved by the admin, then processed; ('refused', reason) when either
        step is refused (a distribution is never posted without a second person's approval)."""
        self.requests += 1
        try:
            with self.uow() as uow:
                draft = approvals.draft(actor, uow, self.pool_id, kind, request)
            with self.uow() as uow:
                status = approvals.approve(self.world.admin, uow, draft)
        except DomainError as exc:
            self.tally[kind, "refused"] += 1
            return "refused", f"{type(exc).__name__}: {exc.message}"
        assert operations.process(str(status.id), self.world.uow_factory) in ("done", "failed")
        with self.uow() as uow:
            final = operations.operation_status(self.world.admin, uow, status.id)
        self.tally[kind, final.status] += 1
        return final.status, final.error

    def books(self) -> read_model.PoolBooks:
        with self.uow() as uow:
            return read_model.pool_books(uow.session, self.pool_id, as_of=None)

    def held(self) -> dict[int, read_model.Position]:
        with self.uow() as uow:
            return read_model.positions(uow.session, as_of=None, pool_id=self.pool_id)

    def holding(self) -> investments.Holding | None:
        """The pool's one company, while it is held."""
        with self.uow() as uow:
            held = [h for h in investments.holdings(uow, self.pool_id) if h.held]
        return held[0] if held else None

    def items(self) -> list[Any]:
        with self.uow() as uow:
            return uow.session.execute(
                select(
                    CallItem.id,
                    CallItem.investor_id,
                    CallItem.amount_due,
                    CallItem.amount_paid,
                    CallItem.status,
                )
                .join(CapitalCall)
                .where(CapitalCall.pool_id == self.pool_id)
                .order_by(CallItem.id)
            ).all()

    def someone_paid_in(self) -> bool:
        return any(p.paid_in > 0 for p in self.held().values())

    def running(self) -> bool:
        return self.status in ("closed", "investing")

    def refresh_status(self) -> None:
        with self.uow() as uow:
            self.status = uow.session.get(Pool, self.pool_id).status

    # --- fundraising ---------------------------------------------------------------------------------

    @precondition(lambda self: self.status == "open")
    @rule(who=st.sampled_from([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6, 7]), raw=AMOUNTS)
    def commit(self, who: int, raw: str) -> None:
        w = self.world
        self.commit_as((w.investors + [w.ineligible, w.manager, w.analyst])[who], raw)

    def commit_as(self, actor: Actor, raw: str) -> None:
        w = self.world
        amount = valid_amount(raw)
        live = any(
            c["investor"] == actor.user_id and c["status"] in ("pending", "accepted")
            for c in self.commitments.values()
        )
        expect_ok = (
            actor in w.investors
            and amount is not None
            and MIN_TICKET <= amount <= MAX_TICKET
            and amount <= HARD_CAP - self.accepted_total()
            and not live
        )
        try:
            with self.uow() as uow:
                commitment_id = commitments.submit_commitment(actor, uow, self.pool_id, raw)
        except DomainError as exc:
            self.tally["commitment", "refused"] += 1
            assert not expect_ok, f"refused a good commitment of {raw}: {exc.message}"
            return
        self.tally["commitment", "accepted"] += 1
        assert expect_ok, f"accepted a bad commitment of {raw!r} from {actor.username}"
        self.commitments[commitment_id] = {
            "investor": actor.user_id,
            "requested": amount,
            "status": "pending",
            "accepted": Decimal(0),
        }

    @precondition(lambda self: self.status in ("open", "closed"))
    @rule(
        data=st.data(),
        who=st.sampled_from([0, 0, 0, 0, 1, 2, 3]),
        scale=st.sampled_from(["full", "full", "half", "above", "tiny", "garbage"]),
    )
    def settle(self, data: st.DataObject, who: int, scale: str) -> None:
        pending = sorted(i for i, c in self.commitments.items() if c["status"] == "pending")
        if not pending:
            return
        commitment_id = data.draw(st.sampled_from(pending))
        c = self.commitments[commitment_id]
        w = self.world
        owner = next(a for a in w.investors if a.user_id == c["investor"])
        actor = [w.manager, w.other_manager, owner, w.admin][who]
        amount: str | None = {
            "full": None,
            "half": str(cents(c["requested"] / 2)),
            "above": str(c["requested"] + CENT),
            "tiny": str(MIN_TICKET - CENT),
            "garbage": "lots",
        }[scale]
        self.settle_as(actor, commitment_id, amount)

    def settle_as(self, actor: Actor, commitment_id: int, amount: str | None) -> None:
        """Accept one commitment (in full when amount is None) through a settle_commitment operation."""
        w = self.world
        c = self.commitments[commitment_id]
        value = c["requested"] if amount is None else valid_amount(amount)
        expect_ok = (
            actor == w.manager
            and value is not None
            and MIN_TICKET <= value <= c["requested"]
            and value <= HARD_CAP - self.accepted_total()
        )
        outcome, reason = self.operate(
            actor, "settle_commitment", {"commitments": [{"id": commitment_id, "amount": amount}]}
        )
        if expect_ok:
            assert outcome == "done", reason
            c["status"], c["accepted"] = "accepted", value
        else:
            assert outcome in ("refused", "failed"), f"settled {amount} by {actor.username}"
        if actor != w.manager:
            assert outcome == "refused" and reason.startswith(PermissionDenied.__name__), reason

    @precondition(lambda self: self.status == "open")
    @rule(by_manager=st.sampled_from([True, True, True, False]))
    def close(self, by_manager: bool) -> None:
        w = self.world
        if not any(c["status"] == "accepted" for c in self.commitments.values()):
            return
        actor = w.manager if by_manager else w.other_manager
        try:
            with self.uow() as uow:
                pools.close_pool(actor, uow, self.pool_id)
        except DomainError:
            assert not by_manager
            return
        assert by_manager
        self.status = "closed"
        self.tally["close", "done"] += 1

    # --- money in ------------------------------------------------------------------------------------

    @precondition(lambda self: self.running())
    @rule(
        percent=st.sampled_from(["10", "25", "33.33", "50", "100", "101", "0", "-5", "NaN"]),
        wrong=st.booleans(),
    )
    def call(self, percent: str, wrong: bool) -> None:
        w = self.world
        actor = w.other_manager if wrong else w.manager
        held = {i: p for i, p in self.held().items() if p.commitment > 0}
        committed = sum((p.commitment for p in held.values()), Decimal(0))
        unfunded = sum((p.unfunded for p in held.values()), Decimal(0))
        pct = valid_amount(percent)
        total = None if pct is None or pct > 100 else quantize(committed * pct / 100, "USD")
        outcome, reason = self.operate(
            actor, "capital_call", {"percent": percent, "purpose": "property", "due_date": DUE}
        )
        if wrong or total is None or total == 0 or total > unfunded:
            assert outcome == "refused", f"call of {percent}% went {outcome}"
        elif total <= unfunded - CENT * len(held):
            assert outcome == "done", reason
        else:  # within rounding of the unfunded total: an investor's cent may not fit
            assert outcome == "done" or "unfunded" in (reason or ""), reason

    @precondition(lambda self: self.running())
    @rule(
        data=st.data(),
        who=st.sampled_from(
            ["owner", "manager", "owner", "manager", "other_investor", "other_manager", "analyst"]
        ),
        how=st.sampled_from(["full", "half", "full", "half", "cent", "over", "zero", "negative", "garbage"]),
    )
    def pay(self, data: st.DataObject, who: str, how: str) -> None:
        items = self.items()
        if not items:
            return
        item = data.draw(st.sampled_from(items))
        w = self.world
        owner = next(a for a in w.investors if a.user_id == item.investor_id)
        other = next(a for a in w.investors if a.user_id != item.investor_id)
        actor = {
            "owner": owner,
            "manager": w.manager,
            "other_investor": other,
            "other_manager": w.other_manager,
            "analyst": w.analyst,
        }[who]
        outstanding = item.amount_due - item.amount_paid
        raw = {
            "full": str(outstanding),
            "half": str(cents(outstanding / 2)),
            "cent": "0.01",
            "over": str(outstanding + CENT),
            "zero": "0",
            "negative": "-1",
            "garbage": "one million",
        }[how]
        amount = valid_amount(raw)
        allowed = who in ("owner", "manager")
        expect_ok = allowed and amount is not None and item.status != "paid" and amount <= outstanding
        outcome, reason = self.operate(
            actor, "payment", {"call_item_id": item.id, "amount": raw, "reference": f"P{self.requests}"}
        )
        if expect_ok:
            assert outcome == "done", reason
        else:
            assert outcome in ("refused", "failed"), f"{who} paid {raw!r} of {outstanding}"
        if not allowed and amount is not None:
            assert reason.startswith(PermissionDenied.__name__), reason

    @precondition(lambda self: self.running())
    @rule(fraction=st.sampled_from(["0.3", "0.3", "1", "1.5"]), wrong=st.sampled_from([False, False, True]))
    def invest(self, fraction: str, wrong: bool) -> None:
        cash = self.books().cash
        amount = cents(cash * Decimal(fraction))
        actor = self.world.other_manager if wrong else self.world.manager
        outcome, reason = self.operate(actor, "investment", {"company": "Acme", "amount": str(amount)})
        if not wrong and 0 < amount <= cash:
            assert outcome == "done", reason
            self.refresh_status()
        else:
            assert outcome == "refused", f"invested {amount} of {cash} (wrong actor: {wrong})"

    # --- value and money out -------------------------------------------------------------------------

    @precondition(lambda self: self.running())
    @rule(
        factor=st.sampled_from(["0", "0.5", "1.3", "2", "1.3", "2", "-1", "x"]),
        who=st.sampled_from([0, 0, 0, 1, 2]),
    )
    def valuation(self, factor: str, who: int) -> None:
        """A mark of the held company: its value scaled by factor."""
        w = self.world
        actor = [w.manager, w.other_manager, w.investors[0]][who]
        holding = self.holding()
        base = holding.value if holding and holding.value > 0 else Decimal("1000")
        try:
            value = str(cents(base * Decimal(factor)))
        except InvalidOperation:
            value = factor
        valid = valid_amount(value) is not None or value in ("0", "0.00")
        company = holding.company_id if holding else 0
        outcome, reason = self.operate(
            actor, "valuation", {"company_id": company, "value": value, "note": "mark"}
        )
        if who == 0 and valid and holding is not None and self.someone_paid_in():
            assert outcome == "done", reason
        else:
            assert outcome == "refused", f"valuation {value} by {actor.username} went {outcome}"

    @precondition(lambda self: self.running())
    @rule(factor=st.sampled_from(["0", "0.8", "1", "3", "-1"]), wrong=st.sampled_from([False, False, True]))
    def exit(self, factor: str, wrong: bool) -> None:
        """The held company sold for factor times its value: cost out, marks released, gain realized."""
        holding = self.holding()
        proceeds = cents(holding.value * Decimal(factor)) if holding else Decimal("1")
        actor = self.world.other_manager if wrong else self.world.manager
        company = holding.company_id if holding else 0
        outcome, reason = self.operate(actor, "exit", {"company_id": company, "proceeds": str(proceeds)})
        if not wrong and holding is not None and proceeds >= 0 and self.someone_paid_in():
            assert outcome == "done", reason
        else:
            assert outcome == "refused", f"exit for {proceeds} (wrong actor: {wrong}) went {outcome}"

    @precondition(lambda self: self.running())
    @rule(
        fraction=st.sampled_from(["0.25", "0.25", "1", "1.01", "0"]),
        wrong=st.sampled_from([False, False, True]),
    )
    def distribute(self, fraction: str, wrong: bool) -> None:
        cash = self.books().cash
        proceeds = cents(cash * Decimal(fraction)) + (CENT if fraction == "1.01" else 0)
        actor = self.world.other_manager if wrong else self.world.manager
        outcome, reason = self.approved(actor, "distribution", {"proceeds": str(proceeds), "memo": "payout"})
        if not wrong and 0 < proceeds <= cash and self.someone_paid_in():
            assert outcome == "done", reason
        else:
            assert outcome == "refused", f"distributed {proceeds} of {cash} (wrong actor: {wrong})"

    # --- what must always hold -----------------------------------------------------------------------

    @invariant()
    def books_hold(self) -> None:
        """One transaction, one consistent picture: checked after every step."""
        with self.uow() as uow:
            session = uow.session
            # The ledger balances and every stored figure agrees with it (what `core verify` runs).
            report = verify(session)
            assert report.ok, report.summary()

            # Every line the read model gives equals its sum straight from the entries, each
            # investor's NAV is their capital balance, and the pool's NAV is cash + holdings.
            for investor_id, position in read_model.positions(
                session, as_of=None, pool_id=self.pool_id
            ).items():
                by_hand = entry_sums(session, self.pool_id, investor_id)
                assert {line: getattr(position, line) for line in by_hand} == by_hand, investor_id
                assert position.nav == capital_balance(session, self.pool_id, investor_id)
                assert position.unfunded == position.commitment - position.called >= 0
                assert position.outstanding == position.called - position.contributions >= 0
            books = read_model.pool_books(session, self.pool_id, as_of=None)
            total = read_model.total(session, as_of=None, pool_id=self.pool_id)
            held = investments.holdings(uow, self.pool_id)
            assert (
                total.nav
                == books.nav
                == books.cash + sum((h.value for h in held if h.held), Decimal(0)) - books.fees_payable
            )

            # Nothing exceeds its cap: commitments the hard cap, payments their call item, cash zero.
            accepted = session.execute(
                select(func.coalesce(func.sum(Commitment.amount_accepted), 0)).where(
                    Commitment.pool_id == self.pool_id, Commitment.status == "accepted"
                )
            ).scalar_one()
            assert accepted <= HARD_CAP
            assert accepted == self.accepted_total()
            overpaid = session.execute(
                text(
                    """SELECT count(*) FROM call_items i JOIN capital_calls c ON c.id = i.call_id
                        WHERE c.pool_id = :p AND (i.amount_paid < 0 OR i.amount_paid > i.amount_due)"""
                ),
                {"p": self.pool_id},
            ).scalar_one()
            assert overpaid == 0
            assert books.cash >= 0
            # Processed in-process: nothing is left half done.
            unfinished = session.execute(
                select(func.count())
                .select_from(Operation)
                .where(Operation.pool_id == self.pool_id, Operation.status.in_(("pending", "running")))
            ).scalar_one()
            assert unfinished == 0


# The test's own arithmetic, apart from core.ledger: (journal kind, account, side that adds).
_BY_HAND = {
    "commitment": ("commitment", "commitment", "C"),
    "called": ("capital_call", "receivable", "D"),
    "contributions": ("payment", "capital", "C"),
    "distributions": ("distribution", "capital", "D"),
    "management_fees": ("management_fee", "capital", "D"),
    "realized_gain": ("exit", "capital", "C"),
    "unrealized_gain": ("valuation", "capital", "C"),
    "carried_interest": ("carry", "capital", "D"),
}


def entry_sums(session: Any, pool_id: int, investor_id: int) -> dict[str, Decimal]:
    rows = session.execute(
        text(
            """SELECT j.kind, e.account, sum(CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END)
                 FROM entries e JOIN journals j ON j.id = e.journal_id
                WHERE e.pool_id = :pool AND e.investor_id = :investor GROUP BY j.kind, e.account"""
        ),
        {"pool": pool_id, "investor": investor_id},
    ).all()
    debits = {(kind, account): amount for kind, account, amount in rows}
    return {
        line: debits.get((kind, account), Decimal(0)) * (1 if side == "D" else -1)
        for line, (kind, account, side) in _BY_HAND.items()
    }


def capital_balance(session: Any, pool_id: int, investor_id: int) -> Decimal:
    return session.execute(
        text(
            """SELECT coalesce(sum(CASE side WHEN 'C' THEN amount ELSE -amount END), 0) FROM entries
                WHERE pool_id = :pool AND investor_id = :investor AND account = 'capital'"""
        ),
        {"pool": pool_id, "investor": investor_id},
    ).scalar_one()


def test_the_engine_keeps_its_books_whatever_is_thrown_at_it(fresh_database: str) -> None:
    factory = uow_factory_for(fresh_database)
    EngineMachine.world = World.create(factory)
    try:
        run_state_machine_as_test(
            EngineMachine,
            settings=settings(
                # 250 steps through real workers: `make test` stays under 15 minutes on 2 cores.
                max_examples=10,
                stateful_step_count=25,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        engine_for(fresh_database).dispose()
    tally = EngineMachine.tally
    # Not vacuous: money moved, and bad requests were turned away.
    assert tally["capital_call", "done"] and tally["payment", "done"], sorted(tally.items())
    assert tally["valuation", "done"] or tally["exit", "done"], sorted(tally.items())
    assert sum(n for (_, outcome), n in tally.items() if outcome in ("refused", "failed")), sorted(
        tally.items()
    )
    print(sorted(tally.items()))
