"""A bank statement's lines matched by the payment reference the pool's wire instructions give each
investor (core.services.notices.reference_owner in payments.read_statement): a line that carries only
the reference is booked to its investor's item of the call; a reference naming another call, another
investor than the line's email, or nobody at all is refused by line."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import ValidationError
from core.services import calls, notices, payments
from db.models import CapitalCall
from tests.app.manager_support import Fund, post


@pytest.fixture
def fund(make: Any) -> Any:
    fund = Fund(make, age=30)
    for percent, purpose in (("10", "Series A"), ("5", "Series B")):
        post(
            make.uow_factory,
            date.today() - timedelta(days=2),
            calls.preview,
            calls.issue,
            fund.manager,
            fund.pool_id,
            {"percent": percent, "purpose": purpose},
        )
    return fund


def call_id(fund: Any, number: int) -> int:
    with fund.uow() as uow:
        return uow.session.execute(
            select(CapitalCall.id).where(CapitalCall.pool_id == fund.pool_id, CapitalCall.number == number)
        ).scalar_one()


def reference(fund: Any, item: Any) -> str:
    """The reference the investor is told to quote (their Capital calls page, their notice)."""
    with fund.uow() as uow:
        return notices.payment_instructions(fund.manager, uow, item.id).wire.reference


def read(fund: Any, number: int, text: str) -> list[payments.StatementLine]:
    with fund.uow() as uow:
        return payments.read_statement(fund.manager, uow, call_id(fund, number), text.encode())


def test_a_line_with_only_the_reference_is_matched_to_its_investor_and_call(fund: Any) -> None:
    first, second, third = fund.items(2)
    today = date.today()
    statement = (
        "amount,reference,received_on\n"
        f"{first.amount_due},INCOMING WIRE ACME HOLDINGS {reference(fund, first).lower()} THANK YOU,{today}\n"
        f"100.00,{reference(fund, third)},{today}\n"
    )
    lines = read(fund, 2, statement)
    assert [(line.command.call_item_id, line.command.amount, line.matched_by) for line in lines] == [
        (first.id, first.amount_due, "reference"),
        (third.id, Decimal("100.00"), "reference"),
    ]
    # Beside an email column: an empty email is matched by the reference, a given one as before.
    email_of = {person.user_id: f"{person.username}@example.com" for person in fund.investors}
    mixed = (
        "email,amount,reference,received_on\n"
        f",50.00,{reference(fund, second)},{today}\n"
        f"{email_of[third.investor_id]},60.00,{reference(fund, third)},{today}\n"
        f"{email_of[first.investor_id]},70.00,W-FREE-TEXT,{today}\n"
    )
    assert [(line.command.call_item_id, line.matched_by) for line in read(fund, 2, mixed)] == [
        (second.id, "reference"),
        (third.id, "email"),
        (first.id, "email"),
    ]


def test_references_that_name_another_call_another_investor_or_nobody_are_refused_by_line(
    fund: Any,
) -> None:
    first, second, _ = fund.items(2)
    earlier = fund.items(1)[0]
    today = date.today()
    email = f"{fund.investors[0].username}@example.com"
    for text, message in (
        (
            f"amount,reference,received_on\n1.00,{reference(fund, first)},{today}\n"
            f"1.00,{reference(fund, earlier)},{today}\n",
            "Line 2: Reference",
        ),
        (f"amount,reference,received_on\n1.00,WIRE 123,{today}\n", "names no investor"),
        (f"amount,reference,received_on\n1.00,,{today}\n", "Line 1: Reference is empty"),
        (
            f"email,amount,reference,received_on\n{email},1.00,{reference(fund, second)},{today}\n",
            f"names Test {fund.investors[1].username}, not Test {fund.investors[0].username}",
        ),
    ):
        with pytest.raises(ValidationError) as refused:
            read(fund, 2, text)
        assert message in refused.value.message, refused.value.message
    with pytest.raises(ValidationError, match="names capital call 1, not this one"):
        read(fund, 2, f"amount,reference,received_on\n1.00,{reference(fund, earlier)},{today}\n")
