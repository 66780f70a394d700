"""Recording a bank statement's payments on the Capital calls page (AppTest from Home.py), with a
real worker: each line becomes its own payment operation, all posted; a bad line refuses the file."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select

from core.services import calls, users
from db.models import CallItem, Operation, Payment
from tests.app.manager_support import (
    Fund,
    confirm,
    errors,
    goto,
    journal_figures,
    logged_in,
    post,
    real_worker,
    rerun_until,
    successes,
)

CALLS = "pages/manager_calls.py"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def payments(uow_factory: Any, pool_id: int) -> int:
    """This pool's payment operations (the run's database is shared with other tests)."""
    with uow_factory() as uow:
        return uow.session.scalar(
            select(func.count())
            .select_from(Operation)
            .where(Operation.kind == "payment", Operation.pool_id == pool_id)
        )


def upload(at: Any, content: str) -> Any:
    uploader = at.get("file_uploader")[0]
    uploader.set_value(("statement.csv", content.encode(), "text/csv"))
    return at.run()


def test_a_bank_statement_becomes_one_payment_operation_per_line(make: Any, uow_factory: Any) -> None:
    fund = Fund(make, age=30)
    pool_id, boss, investors = fund.pool_id, fund.manager, fund.investors
    call = post(
        make.uow_factory,
        date.today() - timedelta(days=2),
        calls.preview,
        calls.issue,
        boss,
        pool_id,
        {"percent": "10", "purpose": "Q1"},
    )
    with make.uow_factory() as uow:
        call_id = uow.session.get(Operation, call.id).result["call_id"]
    with uow_factory() as uow:
        due = dict(
            uow.session.execute(
                select(CallItem.investor_id, CallItem.amount_due).where(CallItem.call_id == call_id)
            ).all()
        )
    first, _, third = investors

    at = goto(logged_in(boss.username), CALLS, manager_pool_id=pool_id)
    at = at.radio(key="calls-view").set_value("Calls and payments").run()

    # A line naming someone who is not in this call refuses the whole file, naming the line.
    at = upload(
        at,
        f"email,amount,reference,received_on\n{first.username}@example.com,100.00,W-1,{date.today()}\n"
        f"nobody@example.com,5.00,W-2,{date.today()}\n",
    )
    assert any("Line 2: Email" in e for e in errors(at)), errors(at)
    # So does an overpayment, with the amount's field named.
    at = upload(at, f"email,amount\n{third.username}@example.com,1\n")
    assert any("needs a header with email" in e for e in errors(at)), errors(at)
    # A line without the day the bank received it (part of each payment's key) is refused too.
    at = upload(at, f"email,amount,reference,received_on\n{third.username}@example.com,1,W,\n")
    assert any("Line 1: Received on" in e for e in errors(at)), errors(at)
    at = upload(
        at,
        f"email,amount,reference,received_on\n{third.username}@example.com,{due[third.user_id] + 1},W,{date.today()}\n",
    )
    assert any("Line 1: Amount" in e and "outstanding" in e for e in errors(at)), errors(at)
    assert payments(uow_factory, pool_id) == 0

    statement = (
        "Email,Amount,Reference,Received_on\n"
        f"{first.username.upper()}@EXAMPLE.COM,2500.25,WIRE-1,{date.today() - timedelta(days=1)}\n"
        f"{third.username}@example.com,{due[third.user_id]},WIRE-2,{date.today()}\n"
    )
    at = upload(at, statement)
    assert not errors(at), errors(at)
    total = Decimal("2500.25") + due[third.user_id]
    assert any(b.label == f"Record 2 payments (${total:,.2f})" for b in at.button)
    with real_worker():
        asked = confirm(at, "statement")
        assert f"Record 2 payments for ${total:,.2f} in all against Capital call 1 (Q1)" in asked
        assert not errors(at), errors(at)
        at = rerun_until(
            at,
            lambda a: any("Every payment of the statement is posted" in s for s in successes(a)),
            what="the statement",
        )
    assert payments(uow_factory, pool_id) == 2
    # The recorded statement has left the uploader: it is not offered (nor refused) again.
    assert not at.get("file_uploader")[0].value and not errors(at), errors(at)
    assert journal_figures(uow_factory, pool_id, investor_id=first.user_id)["contributions"] == Decimal(
        "2500.25"
    )
    assert (
        journal_figures(uow_factory, pool_id, investor_id=third.user_id)["contributions"]
        == due[third.user_id]
    )
    with uow_factory() as uow:
        references = sorted(
            uow.session.execute(select(Payment.reference).where(Payment.pool_id == pool_id)).scalars()
        )
    assert references == ["WIRE-1", "WIRE-2"]

    # The same statement uploaded and recorded again is the same operations: nothing is paid twice.
    at = upload(
        at,
        statement.replace(f"{third.username}@example.com,{due[third.user_id]},WIRE-2,{date.today()}\n", ""),
    )
    confirm(at, "statement")
    at.run()
    assert any("already recorded, once" in i.value for i in at.info), [i.value for i in at.info]
    assert payments(uow_factory, pool_id) == 2
