"""Issue 17: fund expenses, recorded by the manager, paid from cash, charged pro rata to commitments.

Against the real services, PostgreSQL and the operation engine (processed in-process as a worker
does). Every figure is checked against the test's own recomputation from the journal entries
(tests.integration.test_money_goes_where_meant.agrees) and against amounts worked out by hand;
`python -m core verify` over fund expenses runs in test_cross_surface_agreement, on a database of its own.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from core import clock
from core.errors import FieldErrors, PermissionDenied, Stale, ValidationError
from core.ledger import read_model
from core.services import corrections, expenses
from core.views import investor
from core.vocabulary import ExpenseCategory
from db.models import FundExpense, Journal, Operation, Pool
from tests.integration.test_money_goes_where_meant import START, TODAY, Fund, act, agrees, done

D = Decimal
PAID_ON = START + timedelta(days=30)


def record(fund: Fund, amount: str, *, category: str = "legal", memo: str = "Counsel, closing") -> None:
    fund.act(
        PAID_ON, expenses.preview, expenses.record, {"category": category, "amount": amount, "memo": memo}
    )


def counts(fund: Fund) -> tuple[int, int, int]:
    with fund.uow() as uow:
        return (
            uow.session.scalar(
                select(func.count()).select_from(Operation).where(Operation.pool_id == fund.pool_id)
            ),
            uow.session.scalar(
                select(func.count()).select_from(Journal).where(Journal.pool_id == fund.pool_id)
            ),
            uow.session.scalar(
                select(func.count()).select_from(FundExpense).where(FundExpense.pool_id == fund.pool_id)
            ),
        )


def test_an_expense_is_paid_from_cash_and_shared_pro_rata_to_commitments(make: Any) -> None:
    fund = Fund(make)  # commitments 100,000 / 200,000 / 300,000; 300,000 paid in
    preview_request = {"category": "legal", "amount": "1000", "memo": "Counsel, closing"}
    with clock.travel(PAID_ON), fund.uow() as uow:
        shown = expenses.preview(fund.manager, uow, fund.pool_id, preview_request)
    # 1,000 / 6 = 166.666...: the shares are rounded by largest remainder and sum exactly.
    assert [(line.commitment, line.share) for line in shown.lines] == [
        (D("100000"), D("166.67")),
        (D("200000"), D("333.33")),
        (D("300000"), D("500.00")),
    ]
    record(fund, "1000")

    expected = agrees(fund.uow, fund.pool_id)
    assert expected["fund_expenses"] == D("1000") and expected["cash"] == D("299000")
    with fund.uow() as uow:
        each = read_model.positions(uow.session, as_of=None, pool_id=fund.pool_id)
        assert [each[i.user_id].fund_expenses for i in fund.investors] == [
            D("166.67"),
            D("333.33"),
            D("500.00"),
        ]
        # Before its day it does not count, on its day it does (the one date rule).
        before = read_model.total(uow.session, as_of=PAID_ON - timedelta(days=1), pool_id=fund.pool_id)
        assert before.fund_expenses == 0
        [row] = uow.session.scalars(select(FundExpense).where(FundExpense.pool_id == fund.pool_id)).all()
        assert (row.category, row.incurred_on, row.amount, row.memo) == (
            "legal",
            PAID_ON,
            D("1000"),
            "Counsel, closing",
        )
        # The first investor's capital account shows the line by its ILPA name, as an outflow.
        detail = investor.pool_detail(
            fund.investors[0], uow, fund.pool_id, investor.period_for("inception", on=TODAY)
        )
        assert ("Fund expenses", D("-166.67")) in detail.capital_account.lines()
        assert detail.capital_account.ending_nav == D("50000") - D("166.67")


def test_a_cent_goes_to_the_largest_remainder_and_nobody_is_charged_nothing(make: Any) -> None:
    fund = Fund(make)
    record(fund, "0.01", category="bank_fees", memo="")
    with fund.uow() as uow:
        each = read_model.positions(uow.session, as_of=None, pool_id=fund.pool_id)
        entries = uow.session.scalar(
            select(func.count())
            .select_from(Journal)
            .where(Journal.kind == "fund_expense", Journal.pool_id == fund.pool_id)
        )
    assert [each[i.user_id].fund_expenses for i in fund.investors] == [0, 0, D("0.01")]
    assert entries == 1
    agrees(fund.uow, fund.pool_id)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1e30"}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": "300000.01"}, "amount"),  # more than the pool's cash
        ({"category": "bribes"}, "category"),
        ({"date": (TODAY + timedelta(days=1)).isoformat()}, "date"),
        ({"date": (START - timedelta(days=400)).isoformat()}, "date"),
        ({"memo": "<script>alert(1)</script>"}, "memo"),
        ({"memo": "line\nbreak"}, "memo"),
        ({"memo": "x" * 201}, "memo"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(make: Any, request_: dict, field: str) -> None:
    fund = Fund(make)
    before = counts(fund)
    request = {"category": "legal", "amount": "100", "memo": "ok", **request_}
    with clock.travel(PAID_ON), fund.uow() as uow, pytest.raises(ValidationError) as refused:
        expenses.preview(fund.manager, uow, fund.pool_id, request)
    errors = refused.value.errors if isinstance(refused.value, FieldErrors) else [refused.value]
    assert [e.field for e in errors] == [field]
    assert counts(fund) == before


def test_a_submission_is_checked_as_its_preview_is(make: Any) -> None:
    """A command that skipped the preview (a crafted request) is refused by the same checks."""
    fund = Fund(make)
    before = counts(fund)
    with fund.uow() as uow:
        version = uow.session.get(Pool, fund.pool_id).version
    crafted = expenses.RecordExpense(fund.pool_id, ExpenseCategory.LEGAL, PAID_ON, D("-5"), "", version)
    with clock.travel(PAID_ON), fund.uow() as uow, pytest.raises(ValidationError) as refused:
        expenses.record(fund.manager, uow, crafted)
    assert refused.value.field == "amount"
    assert counts(fund) == before


def test_only_a_manager_of_this_very_pool_may_record_one(make: Any) -> None:
    fund = Fund(make)
    _, stranger = make.pool()  # manages a pool of their own, not this one
    request = {"category": "administration", "amount": "10"}
    command = _command(fund)
    for actor in (stranger, fund.investors[0], make.user("analyst")):
        with clock.travel(PAID_ON), fund.uow() as uow, pytest.raises(PermissionDenied):
            expenses.preview(actor, uow, fund.pool_id, request)
        with clock.travel(PAID_ON), fund.uow() as uow, pytest.raises(PermissionDenied):
            expenses.record(actor, uow, command)
    assert counts(fund)[2] == 0


def _command(fund: Fund) -> expenses.RecordExpense:
    with clock.travel(PAID_ON), fund.uow() as uow:
        return expenses.preview(
            fund.manager, uow, fund.pool_id, {"category": "legal", "amount": "600"}
        ).command


def test_a_second_click_is_the_same_expense_and_a_stale_preview_is_refused(make: Any) -> None:
    fund = Fund(make)
    command = _command(fund)
    with clock.travel(PAID_ON), fund.uow() as uow:
        first = expenses.record(fund.manager, uow, command)
    with clock.travel(PAID_ON), fund.uow() as uow:
        second = expenses.record(fund.manager, uow, command)
    assert first.id == second.id
    with clock.travel(PAID_ON):
        done(fund.uow, first)
    assert agrees(fund.uow, fund.pool_id)["fund_expenses"] == D("600")
    # The pool moved on (its version bumped by the posting): the old preview no longer stands.
    record(fund, "50")
    with clock.travel(PAID_ON), fund.uow() as uow, pytest.raises(Stale):
        expenses.preview(fund.manager, uow, fund.pool_id, {**command.payload(), "amount": "60"})


def test_a_reversed_expense_nets_out_and_is_marked(make: Any) -> None:
    fund = Fund(make)
    record(fund, "900", category="formation", memo="Set-up")
    with fund.uow() as uow:
        [fact] = [
            c for c in corrections.correctable(fund.manager, uow, fund.pool_id) if c.kind == "fund_expense"
        ]
    assert fact.description == "$900.00 of formation costs: Set-up" and fact.label == "Fund expense"
    act(
        fund.uow,
        TODAY,
        corrections.preview,
        corrections.reverse,
        fund.manager,
        fund.pool_id,
        {"operation_id": str(fact.operation_id), "reason": "Paid by the manager instead"},
    )
    expected = agrees(fund.uow, fund.pool_id)
    assert expected["fund_expenses"] == 0 and expected["cash"] == D("300000")
    with fund.uow() as uow:
        row = uow.session.scalars(select(FundExpense).where(FundExpense.pool_id == fund.pool_id)).one()
        assert row.reversed_on == TODAY
        assert not [
            c for c in corrections.correctable(fund.manager, uow, fund.pool_id) if c.kind == "fund_expense"
        ]
