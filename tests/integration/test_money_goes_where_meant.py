"""Issue 13 at the service layer: money goes where the person meant it.

Each finding of the issue is reproduced here against the real services, PostgreSQL and the
operation engine (processed in-process, as a worker does): exits and marks, corrections of every
reversible kind, call and item statuses, bounds, stale and repeated submissions, reused wire
references and concurrent duplicates. Figures are checked against the test's own recomputation
from the journal entries (ledger_lines below), not against the read model they test.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from core import clock, operations
from core.errors import Conflict, FieldErrors, InvalidState, Stale, ValidationError
from core.ledger import read_model
from core.permissions import Actor
from core.services import (
    calls,
    commitments,
    corrections,
    distributions,
    fees,
    investments,
    payments,
    pools,
    users,
)
from db.models import CallItem, CapitalCall, Commitment, User
from tests import approving
from tests.workers import closed_pool_with_investors, table_state

D = Decimal
TODAY = date.today()
START = TODAY - timedelta(days=500)


# --- an independent recomputation from the journal entries --------------------------------------------

# Written here on purpose, apart from core.ledger.accounts: (journal kind, account, side that adds).
_BY_HAND = {
    "commitment": ("commitment", "commitment", "C"),
    "called": ("capital_call", "receivable", "D"),
    "contributions": ("payment", "capital", "C"),
    "distributions": ("distribution", "capital", "D"),
    "management_fees": ("management_fee", "capital", "D"),
    "fund_expenses": ("fund_expense", "capital", "D"),
    "realized_gain": ("exit", "capital", "C"),
    "unrealized_gain": ("valuation", "capital", "C"),
    "carried_interest": ("carry", "capital", "D"),
}


def ledger_lines(
    uow_factory: Callable[[], Any], pool_id: int, investor_id: int | None = None
) -> dict[str, D]:
    """Each capital-account line of a pool (or one investor in it), summed straight from entries."""
    with uow_factory() as uow:
        out = {}
        for line, (kind, account, side) in _BY_HAND.items():
            out[line] = uow.session.execute(
                text(
                    """SELECT coalesce(sum(CASE e.side WHEN :side THEN e.amount ELSE -e.amount END), 0)
                         FROM entries e JOIN journals j ON j.id = e.journal_id
                        WHERE e.pool_id = :pool AND j.kind = :kind AND e.account = :account
                          AND (CAST(:investor AS bigint) IS NULL OR e.investor_id = :investor)"""
                ),
                {"side": side, "pool": pool_id, "kind": kind, "account": account, "investor": investor_id},
            ).scalar_one()
        capital = uow.session.execute(
            text(
                """SELECT coalesce(sum(CASE side WHEN 'C' THEN amount ELSE -amount END), 0) FROM entries
                    WHERE pool_id = :pool AND account = 'capital'
                      AND (CAST(:investor AS bigint) IS NULL OR investor_id = :investor)"""
            ),
            {"pool": pool_id, "investor": investor_id},
        ).scalar_one()
        books = dict(
            uow.session.execute(
                text(
                    """SELECT account, sum(CASE side WHEN 'D' THEN amount ELSE -amount END) FROM entries
                        WHERE pool_id = :pool AND investor_id IS NULL GROUP BY account"""
                ),
                {"pool": pool_id},
            ).all()
        )
    out["nav"] = capital
    out["cash"] = books.get("cash", D(0))
    out["investments"] = books.get("investments", D(0))
    out["unrealized"] = books.get("unrealized", D(0))
    return out


def agrees(uow_factory: Callable[[], Any], pool_id: int) -> dict[str, D]:
    """The read model's figures equal the hand recomputation, for the pool and each investor."""
    expected = ledger_lines(uow_factory, pool_id)
    with uow_factory() as uow:
        total = read_model.total(uow.session, as_of=None, pool_id=pool_id)
        books = read_model.pool_books(uow.session, pool_id, as_of=None)
        each = read_model.positions(uow.session, as_of=None, pool_id=pool_id)
    for line in _BY_HAND:
        assert getattr(total, line) == expected[line], line
    assert total.nav == expected["nav"] == books.nav
    assert (books.cash, books.investments_at_cost, books.unrealized_value) == (
        expected["cash"],
        expected["investments"],
        expected["unrealized"],
    )
    for investor, position in each.items():
        mine = ledger_lines(uow_factory, pool_id, investor)
        assert position.nav == mine["nav"], investor
    return expected


# --- a fund with history ---------------------------------------------------------------------------------


def done(uow_factory: Callable[[], Any], status: Any) -> None:
    outcome = operations.process(str(status.id), uow_factory)
    if outcome != "done":
        with uow_factory() as uow:
            failed = operations.operation_status(Actor.system(), uow, status.id)
        raise AssertionError(f"{status.kind}: {failed.error}")


def act(
    uow_factory: Callable[[], Any],
    on: date,
    preview: Callable[..., Any],
    submit: Callable[..., Any],
    actor: Actor,
    pool_id: int,
    request: dict[str, Any],
) -> Any:
    """Preview and submit a request on a given day, then process it as a worker would."""
    with clock.travel(on), uow_factory() as uow:
        status = submit(actor, uow, preview(actor, uow, pool_id, request).command)
    with clock.travel(on):
        done(uow_factory, status)
    return status


class Fund:
    """A pool 500 days old: three investors (100k, 200k, 300k), one call of 50% paid in full."""

    def __init__(self, make: Any) -> None:
        self.make = make
        self.uow = make.uow_factory
        with clock.travel(START):
            self.pool_id, self.manager = make.pool(hard_cap="2000000")
            self.investors = [
                make.commitment(self.pool_id, amount=a, accept_as=self.manager)[1]
                for a in ("100000", "200000", "300000")
            ]
            with self.uow() as uow:
                pools.close_pool(self.manager, uow, self.pool_id)
        self.call("50", START + timedelta(days=10))
        for item in self.items(1):
            self.pay(item, START + timedelta(days=15))

    def act(
        self, on: date, preview: Callable[..., Any], submit: Callable[..., Any], request: dict[str, Any]
    ) -> Any:
        return act(self.uow, on, preview, submit, self.manager, self.pool_id, request)

    def call(self, percent: str, on: date) -> None:
        self.act(on, calls.preview, calls.issue, {"percent": percent, "purpose": f"call of {on}"})

    def items(self, number: int) -> list[Any]:
        with self.uow() as uow:
            return list(
                uow.session.execute(
                    select(
                        CallItem.id,
                        CallItem.investor_id,
                        CallItem.amount_due,
                        CallItem.amount_paid,
                        CallItem.status,
                        CallItem.version,
                        CallItem.call_id,
                    )
                    .join(CapitalCall, CapitalCall.id == CallItem.call_id)
                    .where(CapitalCall.pool_id == self.pool_id, CapitalCall.number == number)
                    .order_by(CallItem.id)
                ).all()
            )

    def pay(self, item: Any, on: date, amount: D | None = None, reference: str | None = None) -> Any:
        return self.act(
            on,
            payments.preview,
            payments.record,
            {
                "call_item_id": item.id,
                "amount": str(amount if amount is not None else item.amount_due - item.amount_paid),
                "reference": reference or f"W-{item.id}-{on}",
                "paid_on": on.isoformat(),
                "item_version": item.version,
            },
        )

    def company(self, name: str) -> int:
        with self.uow() as uow:
            return next(h.company_id for h in investments.holdings(uow, self.pool_id) if h.company == name)

    def call_status(self, number: int) -> str:
        with self.uow() as uow:
            return uow.session.execute(
                select(CapitalCall.status).where(
                    CapitalCall.pool_id == self.pool_id, CapitalCall.number == number
                )
            ).scalar_one()


@pytest.fixture
def fund(make: Any) -> Fund:
    return Fund(make)


# --- exits and marks ---------------------------------------------------------------------------------


def test_an_exit_removes_the_holding_at_cost_and_nav_is_cash_plus_holdings_at_marks_at_once(
    fund: Fund,
) -> None:
    """The issue's numbers: cost 500,000, last mark 1,020,000, proceeds 3,000,000."""
    on = START + timedelta(days=30)
    fund.act(
        on, investments.preview_investment, investments.invest, {"company": "Harbor", "amount": "200000"}
    )
    fund.act(on, investments.preview_investment, investments.invest, {"company": "Acme", "amount": "100000"})
    fund.call("50", on + timedelta(days=1))
    for item in fund.items(2):
        fund.pay(item, on + timedelta(days=5))
    fund.act(
        on + timedelta(days=6),
        investments.preview_investment,
        investments.invest,
        {"company": "Harbor", "amount": "300000"},
    )  # a follow-on: cost 500,000
    harbor = fund.company("Harbor")
    fund.act(
        on + timedelta(days=60),
        investments.preview_mark,
        investments.mark,
        {"company_id": harbor, "value": "1020000", "note": "Series C"},
    )
    fund.act(
        on + timedelta(days=70),
        investments.preview_mark,
        investments.mark,
        {"company_id": fund.company("Acme"), "value": "80000", "note": "down round"},
    )
    before = agrees(fund.uow, fund.pool_id)
    with clock.travel(on + timedelta(days=90)), fund.uow() as uow:
        preview = investments.preview_exit(
            fund.manager, uow, fund.pool_id, {"company_id": harbor, "proceeds": "3000000"}
        )
    # What the person confirms: the holding leaves at cost, its marks are released, NAV moves by
    # proceeds less the holding's value at its mark.
    assert (preview.command.cost, preview.command.released) == (D("500000"), D("520000"))
    assert preview.command.realized_gain == D("2500000") and preview.nav_change == D("1980000")
    with clock.travel(on + timedelta(days=90)), fund.uow() as uow:
        status = investments.exit_holding(fund.manager, uow, preview.command)
    with clock.travel(on + timedelta(days=90)):
        done(fund.uow, status)
    after = agrees(fund.uow, fund.pool_id)
    with fund.uow() as uow:
        held = {h.company: h for h in investments.holdings(uow, fund.pool_id)}
    assert not held["Harbor"].held and held["Harbor"].realized_gain == D("2500000")
    # NAV = cash + the remaining holding (Acme) at its mark, at once.
    assert after["nav"] == after["cash"] + held["Acme"].value == before["nav"] + D("1980000")
    assert after["investments"] == D("100000") and after["unrealized"] == D("-20000")
    assert after["realized_gain"] == D("2500000")
    assert after["unrealized_gain"] == D("-20000")  # Harbor's 520,000 released; Acme's -20,000 stays


def test_marks_are_per_company_and_may_not_precede_the_last_one(fund: Fund) -> None:
    on = START + timedelta(days=30)
    fund.act(on, investments.preview_investment, investments.invest, {"company": "Acme", "amount": "100000"})
    acme = fund.company("Acme")
    fund.act(
        on + timedelta(days=10),
        investments.preview_mark,
        investments.mark,
        {"company_id": acme, "value": "150000"},
    )
    with clock.travel(on + timedelta(days=20)), fund.uow() as uow, pytest.raises(ValidationError) as early:
        investments.preview_mark(
            fund.manager,
            uow,
            fund.pool_id,
            {"company_id": acme, "value": "1", "date": (on + timedelta(days=5)).isoformat()},
        )
    assert early.value.field == "date" and "last valuation" in early.value.message
    with fund.uow() as uow, pytest.raises(Exception, match="holds no such company"):
        investments.preview_mark(fund.manager, uow, fund.pool_id, {"company_id": 10**9, "value": "1"})


# --- corrections --------------------------------------------------------------------------------------


def correct(fund: Fund, operation_id: Any, reason: str = "Keyed in error", on: date = TODAY) -> None:
    fund.act(on, corrections.preview, corrections.reverse, {"operation_id": operation_id, "reason": reason})


def test_a_reversed_payment_reopens_the_item_and_its_call(fund: Fund) -> None:
    fund.call("10", START + timedelta(days=40))
    items = fund.items(2)
    statuses = [fund.call_status(2)]
    wrong = fund.pay(items[0], START + timedelta(days=41))
    statuses.append(fund.call_status(2))
    for item in items[1:]:
        fund.pay(item, START + timedelta(days=42))
    statuses.append(fund.call_status(2))
    assert statuses == ["issued", "partially_paid", "paid"]
    before = agrees(fund.uow, fund.pool_id)
    correct(fund, wrong.id, "Booked to the wrong investor")
    after = agrees(fund.uow, fund.pool_id)
    assert after["contributions"] == before["contributions"] - items[0].amount_due
    reopened = fund.items(2)[0]
    assert (reopened.status, reopened.amount_paid) == ("open", 0)
    assert fund.call_status(2) == "partially_paid"
    # It can be paid again, once, and the reversal shows with its reason on the pool's journals.
    fund.pay(reopened, TODAY)
    assert fund.call_status(2) == "paid"
    with fund.uow() as uow:
        memo = uow.session.execute(
            text("SELECT memo FROM journals WHERE pool_id = :p AND reverses_id IS NOT NULL"),
            {"p": fund.pool_id},
        ).scalar_one()
    assert memo == "Reversed: Booked to the wrong investor"
    # Reversing it again is refused: it is reversed already.
    with fund.uow() as uow, pytest.raises(InvalidState, match="reversed already"):
        corrections.preview(fund.manager, uow, fund.pool_id, {"operation_id": wrong.id, "reason": "again"})


def test_every_reversible_kind_nets_out_and_restores_its_fact(fund: Fund) -> None:
    on = START + timedelta(days=50)
    buy = fund.act(
        on, investments.preview_investment, investments.invest, {"company": "Acme", "amount": "100000"}
    )
    acme = fund.company("Acme")
    mark = fund.act(
        on + timedelta(days=10),
        investments.preview_mark,
        investments.mark,
        {"company_id": acme, "value": "180000"},
    )
    fee = fund.act(
        on + timedelta(days=20),
        fees.preview,
        fees.charge,
        {"period_start": on.isoformat(), "period_end": (on + timedelta(days=20)).isoformat()},
    )
    exit_ = fund.act(
        on + timedelta(days=30),
        investments.preview_exit,
        investments.exit_holding,
        {"company_id": acme, "proceeds": "250000"},
    )
    paid_out = fund.act(
        on + timedelta(days=40),
        distributions.preview,
        approving.distribute,
        {"proceeds": "100000", "memo": "first"},
    )
    baseline = ledger_lines(fund.uow, fund.pool_id)
    # The investment and the mark wait for what stands on them to be reversed first.
    with fund.uow() as uow:
        blocked = {c.kind: c.blocked_by for c in corrections.correctable(fund.manager, uow, fund.pool_id)}
    assert blocked["investment"] and "exit" in blocked["investment"] and blocked["valuation"]
    with fund.uow() as uow, pytest.raises(InvalidState, match="cannot be reversed yet"):
        corrections.preview(fund.manager, uow, fund.pool_id, {"operation_id": buy.id, "reason": "x"})
    correct(fund, paid_out.id)
    assert ledger_lines(fund.uow, fund.pool_id)["distributions"] == 0
    correct(fund, exit_.id)
    with fund.uow() as uow:
        (holding,) = investments.holdings(uow, fund.pool_id)
    assert holding.held and holding.value == D("180000")  # held again, at its mark
    correct(fund, fee.id)
    correct(fund, mark.id)
    correct(fund, buy.id)
    final = agrees(fund.uow, fund.pool_id)
    for line in ("distributions", "carried_interest", "management_fees", "realized_gain", "unrealized_gain"):
        assert final[line] == 0, line
    assert final["investments"] == final["unrealized"] == 0
    assert final["cash"] == final["contributions"] == baseline["contributions"]
    with fund.uow() as uow:
        assert investments.holdings(uow, fund.pool_id) == []  # the purchase itself is undone
        assert corrections.correctable(fund.manager, uow, fund.pool_id) == [
            c for c in corrections.correctable(fund.manager, uow, fund.pool_id) if c.kind == "payment"
        ]


def test_only_the_pools_manager_or_an_admin_may_correct(fund: Fund) -> None:
    other = fund.make.user("fund_manager")
    with fund.uow() as uow:
        target = corrections.correctable(fund.manager, uow, fund.pool_id)[0]
    for intruder in (other, fund.investors[0], fund.make.user("analyst")):
        with fund.uow() as uow, pytest.raises(Exception, match="manager"):
            corrections.preview(
                intruder, uow, fund.pool_id, {"operation_id": target.operation_id, "reason": "x"}
            )
    admin = fund.make.user("admin")
    act(
        fund.uow,
        TODAY,
        corrections.preview,
        corrections.reverse,
        admin,
        fund.pool_id,
        {"operation_id": target.operation_id, "reason": "Admin correction"},
    )
    agrees(fund.uow, fund.pool_id)


# --- forms bound to what they act on --------------------------------------------------------------------


def test_a_stale_payment_is_refused_naming_what_changed(fund: Fund) -> None:
    fund.call("10", START + timedelta(days=40))
    item = fund.items(2)[0]  # the version the form showed
    fund.pay(item, START + timedelta(days=41))  # paid meanwhile, in another tab
    before = table_state(fund.uow)
    with fund.uow() as uow, pytest.raises(Stale) as stale:
        payments.preview(
            fund.manager,
            uow,
            fund.pool_id,
            {"call_item_id": item.id, "amount": "1", "reference": "tab 2", "item_version": item.version},
        )
    assert "changed since the form was shown" in stale.value.message and "paid in full" in stale.value.message
    assert table_state(fund.uow) == before


def test_the_same_payment_submitted_twice_is_recorded_once(fund: Fund) -> None:
    fund.call("10", START + timedelta(days=40))
    item = fund.items(2)[0]
    request = {
        "call_item_id": item.id,
        "amount": str(item.amount_due),
        "reference": "DOUBLE",
        "paid_on": TODAY.isoformat(),
        "item_version": item.version,
    }
    with fund.uow() as uow:
        first = payments.record(
            fund.manager, uow, payments.preview(fund.manager, uow, fund.pool_id, request).command
        )
    with fund.uow() as uow:
        command = payments.check_many(fund.manager, uow, pools.load_pool(uow, fund.pool_id), [request])[0]
        second = payments.record(fund.manager, uow, command)
    assert second.id == first.id and second.replayed and not first.replayed
    done(fund.uow, first)
    assert ledger_lines(fund.uow, fund.pool_id, item.investor_id)["contributions"] == (
        fund.items(1)[0].amount_due + item.amount_due
    )


def test_a_wire_reference_already_on_another_investors_item_needs_confirming(fund: Fund) -> None:
    fund.call("10", START + timedelta(days=40))
    first, second = fund.items(2)[:2]
    fund.pay(first, TODAY, reference="WIRE-777")
    with fund.uow() as uow, pytest.raises(payments.ReferenceReused) as reused:
        payments.preview(
            fund.manager,
            uow,
            fund.pool_id,
            {
                "call_item_id": second.id,
                "amount": "1",
                "reference": "WIRE-777",
                "item_version": second.version,
            },
        )
    assert reused.value.field == "reference" and reused.value.data["items"] == [first.id]
    confirmed = {
        "call_item_id": second.id,
        "amount": "1",
        "reference": "WIRE-777",
        "item_version": second.version,
        "reuse_reference": True,
    }
    with fund.uow() as uow:
        assert payments.preview(fund.manager, uow, fund.pool_id, confirmed).command.reuse_reference


def test_a_stale_commitment_decision_is_refused(make: Any) -> None:
    pool_id, manager = make.pool()
    commitment_id, investor = make.commitment(pool_id, amount="50000")
    with make.uow_factory() as uow:
        version = uow.session.get(Commitment, commitment_id).version
    with make.uow_factory() as uow:
        commitments.withdraw_commitment(investor, uow, commitment_id)
    with make.uow_factory() as uow, pytest.raises(Stale, match="withdrawn now"):
        commitments.accept_commitment(manager, uow, commitment_id, version=version)


# --- bounds -----------------------------------------------------------------------------------------------


def bad(
    fund: Fund, preview: Callable[..., Any], request: dict[str, Any], field: str, words: str, on: date = TODAY
) -> None:
    """Refused naming the field, nothing written."""
    before = table_state(fund.uow)
    with clock.travel(on), fund.uow() as uow, pytest.raises(ValidationError) as refused:
        preview(fund.manager, uow, fund.pool_id, request)
    fields = (
        refused.value.fields
        if isinstance(refused.value, FieldErrors)
        else {refused.value.field: refused.value.message}
    )
    assert field in fields and words in fields[field], fields
    assert not fields[field].startswith(f"{field}:")
    assert table_state(fund.uow) == before


@pytest.mark.parametrize(
    ("request_", "field", "words"),
    [
        ({"percent": "0.0000001", "purpose": "dust"}, "percent", "would call $0"),
        ({"amount": "1e9", "purpose": "exponent"}, "amount", "written out in digits"),
        (
            {"percent": "10", "purpose": "early", "call_date": (START - timedelta(days=1)).isoformat()},
            "call_date",
            "before the last commitment",
        ),
        (
            {"percent": "10", "purpose": "ahead", "call_date": (TODAY + timedelta(days=1)).isoformat()},
            "call_date",
            "future",
        ),
        (
            {
                "percent": "10",
                "purpose": "due",
                "call_date": TODAY.isoformat(),
                "due_date": (TODAY - timedelta(days=1)).isoformat(),
            },
            "due_date",
            "before the call date",
        ),
        ({"percent": "", "purpose": "none"}, "percent", "is needed"),
    ],
)
def test_call_bounds(fund: Fund, request_: dict[str, Any], field: str, words: str) -> None:
    bad(fund, calls.preview, request_, field, words)


def test_payment_and_holding_dates_stay_within_the_pools_life(fund: Fund) -> None:
    fund.call("10", START + timedelta(days=40))
    item = fund.items(2)[0]
    base = {"call_item_id": item.id, "amount": "1", "reference": "r", "item_version": item.version}
    bad(fund, payments.preview, {**base, "paid_on": "0001-01-01"}, "paid_on", "before the capital call")
    bad(
        fund,
        payments.preview,
        {**base, "paid_on": (TODAY + timedelta(days=1)).isoformat()},
        "paid_on",
        "future",
    )
    bad(fund, payments.preview, {**base, "amount": "1e3"}, "amount", "written out in digits")
    bad(
        fund,
        investments.preview_investment,
        {"company": "Early", "amount": "1", "date": "2000-01-01"},
        "date",
        "before the pool opened",
    )
    bad(
        fund,
        distributions.preview,
        {"proceeds": "1", "date": (TODAY + timedelta(days=2)).isoformat()},
        "date",
        "future",
    )
    bad(
        fund,
        fees.preview,
        {"period_start": "2000-01-01", "period_end": "2000-06-30"},
        "period_start",
        "before the pool opened",
    )


def test_a_bank_statement_line_dated_before_the_call_is_refused_naming_the_line(fund: Fund) -> None:
    fund.call("10", START + timedelta(days=40))
    with fund.uow() as uow:
        call_id = uow.session.execute(
            select(CapitalCall.id).where(CapitalCall.pool_id == fund.pool_id, CapitalCall.number == 2)
        ).scalar_one()
    emails = [f"{investor.username}@example.com" for investor in fund.investors]
    data = "email,amount,reference,received_on\n" + "\n".join(
        [f"{emails[0]},10.00,A,{TODAY}", f"{emails[1]},10.00,B,0001-01-01"]
    )
    with fund.uow() as uow, pytest.raises(ValidationError) as refused:
        payments.read_statement(fund.manager, uow, call_id, data.encode())
    assert refused.value.field == "line 2 paid_on" and refused.value.message.startswith("Line 2: Received on")


def test_close_dates_may_not_be_in_the_past(make: Any) -> None:
    pool_id, manager = make.pool(status="draft")
    for status in ("draft", "open"):
        if status == "open":
            with make.uow_factory() as uow:
                pools.open_pool(manager, uow, pool_id)
        with make.uow_factory() as uow:
            current = pools.load_pool(uow, pool_id)
            terms = {name: getattr(current, name) for name in pools.TERM_FIELDS}
        with make.uow_factory() as uow, pytest.raises(ValidationError) as refused:
            pools.update_pool_terms(manager, uow, pool_id, {**terms, "close_date": "2020-01-01"})
        assert "Close date" in str(refused.value) and "future" in str(refused.value)
    with make.uow_factory() as uow:
        assert pools.load_pool(uow, pool_id).close_date > TODAY


# --- concurrent duplicates -------------------------------------------------------------------------------

RACES = itertools.count(1)


def race(make: Any, act: Callable[[Any], object]) -> list[object]:
    """act(uow) in two threads released at the same moment: what each returned or raised."""
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def one() -> None:
        with make.uow_factory() as uow:
            barrier.wait()
            try:
                outcomes.append(act(uow))
            except Exception as exc:  # noqa: BLE001 - the outcome is what the tests look at
                outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_capital_calls_submitted_at_the_same_moment_each_get_a_number(make: Any) -> None:
    """Each call's operation row holds a key-share lock on its pool (the foreign key) before the call
    takes its number under a pool lock: two managers' calls at once once deadlocked there, one of
    them refused with a database error. Now the second waits its turn, every round."""
    pool_id, manager, _ = closed_pool_with_investors(make, 2, "100000")
    due = (date.today() + timedelta(days=14)).isoformat()
    rounds = 6
    for n in range(rounds):

        def call(uow: Any, n: int = n) -> object:
            purpose = f"race {n} {threading.get_ident()}"
            payload = {"percent": "1", "purpose": purpose, "due_date": due}
            return operations.submit(manager, uow, pool_id, "capital_call", payload)

        outcomes = race(make, call)
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with make.uow_factory() as uow:
        numbers = uow.session.scalars(select(CapitalCall.number).where(CapitalCall.pool_id == pool_id)).all()
    assert sorted(numbers) == list(range(1, 2 * rounds + 1)), "one number each, none twice"


def test_two_identical_commitments_at_the_same_moment_end_in_a_message(make: Any) -> None:
    pool_id, _ = make.pool()
    investor = make.user("investor")
    outcomes = race(make, lambda uow: commitments.submit_commitment(investor, uow, pool_id, "50000"))
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], (Conflict, InvalidState)), outcomes
    assert "live commitment" in str(refused[0])
    with make.uow_factory() as uow:
        live = uow.session.execute(
            select(Commitment.id).where(
                Commitment.pool_id == pool_id, Commitment.investor_id == investor.user_id
            )
        ).all()
    assert len(live) == 1


@pytest.mark.parametrize("what", ["username", "invite"])
def test_two_identical_users_at_the_same_moment_end_in_a_message(make: Any, what: str) -> None:
    admin = make.user("admin")
    tag = f"race{next(RACES)}"
    email = f"{tag}@example.com"

    def create(uow: Any) -> object:
        if what == "invite":
            return users.invite_user(admin, uow, email, role="investor")
        return users.create_user(admin, uow, tag, name="Racer", email=email, role="investor")

    outcomes = race(make, create)
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], (Conflict, ValidationError)), outcomes
    assert "already" in str(refused[0]) and "constraint" not in str(refused[0])
    with make.uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(User).where(User.email == email)) == 1
