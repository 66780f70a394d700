"""Recording payments on the manager's Capital calls page as fund staff click (AppTest from Home.py),
with a real `python -m core worker` posting them: the form binds to the item it pays and resets
after success, a second click or a second tab records nothing more, a changed choice brings its
own amount, a reused wire reference needs an explicit confirmation, and call and item statuses
follow the payments. Afterwards the ledger (summed straight from its entries) shows the right
investor, once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select

from app import format
from core import clock
from core.services import users
from db.models import Operation
from tests.app.manager_support import (
    Fund,
    confirm,
    errors,
    goto,
    infos,
    journal_figures,
    logged_in,
    metrics,
    question,
    real_worker,
    rerun_until,
    successes,
)

CALLS = "pages/manager_calls.py"
RECORDED = "Payment recorded"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


@pytest.fixture
def worker() -> Any:
    with real_worker() as proc:
        yield proc


@pytest.fixture
def fund(make: Any) -> Fund:
    """Capital call 1 (10%) issued eight days ago, nothing paid yet."""
    fund = Fund(make, age=60)
    fund.call("10", clock.today() - timedelta(days=8), purpose="Series A")
    return fund


def calls_page(fund: Fund) -> Any:
    at = goto(logged_in(fund.manager.username), CALLS, manager_pool_id=fund.pool_id)
    return at.radio(key="calls-view").set_value("Calls and payments").run()


def field(at: Any, label: str) -> Any:
    [found] = [w for w in [*at.text_input, *at.selectbox] if w.label == label]
    return found


def investor_box(at: Any) -> Any:
    return field(at, "Investor")


def amount_box(at: Any) -> Any:
    return field(at, "Amount received (USD)")


def reference_box(at: Any) -> Any:
    return field(at, "Wire reference")


def posted(at: Any) -> Any:
    return rerun_until(at, lambda a: any(RECORDED in s for s in successes(a)), what="the payment to post")


def payment_operations(fund: Fund) -> int:
    with fund.uow() as uow:
        return uow.session.scalar(
            select(func.count())
            .select_from(Operation)
            .where(Operation.pool_id == fund.pool_id, Operation.kind == "payment")
        )


def paid_in(fund: Fund, investor: Any) -> Decimal:
    return journal_figures(fund.uow, fund.pool_id, investor_id=investor.user_id)["contributions"]


def test_the_form_prefills_the_chosen_item_rebinds_on_a_change_and_is_empty_after_recording(
    fund: Fund, worker: Any
) -> None:
    first, second, third = fund.investors
    items = {item.investor_id: item for item in fund.items(1)}
    at = calls_page(fund)
    box = investor_box(at)
    assert box.value is None, "no investor is chosen until the manager chooses"
    assert sorted(box.options) == sorted(
        f"Test {i.username}: {format.money(items[i.user_id].amount_due, 'USD')} due" for i in fund.investors
    )
    assert at.button(key="payment-ask").disabled  # nothing to record yet

    # Choose one investor: their amount is prefilled; change the choice: the other's replaces it.
    box.set_value(items[first.user_id].id).run()
    assert amount_box(at).value == "10000.00"
    investor_box(at).set_value(items[third.user_id].id).run()
    assert amount_box(at).value == "30000.00"
    reference_box(at).input("WIRE-T3").run()
    asked = question(at, "payment")
    assert f"Record $30,000.00 from Test {third.username} against Capital call 1 (Series A)" in asked
    assert "corrected by reversing it" in asked
    at.button(key="payment-yes").click().run()
    at = posted(at)

    # After "Payment recorded." the form is empty again and the paid investor is no longer offered.
    assert any(f"$30,000.00 from Test {third.username}" in s for s in successes(at))
    assert investor_box(at).value is None and amount_box(at).value == ""
    assert reference_box(at).value == ""
    assert not any(third.username in option for option in investor_box(at).options)
    assert at.button(key="payment-ask").disabled
    assert fund.payments() == [(third.user_id, Decimal("30000"), "WIRE-T3", None)]
    assert (paid_in(fund, third), paid_in(fund, first)) == (Decimal("30000"), Decimal(0))
    # The call moved from issued to partially paid, on the page as in the table.
    call_rows = at.dataframe[0].value
    assert list(call_rows["Status"]) == ["Partially paid"]
    assert list(call_rows["Capital call"]) == ["Capital call 1 (Series A)"]

    # The two others pay in full: the call is paid, and nothing is left to record.
    for investor in (first, second):
        investor_box(at).set_value(items[investor.user_id].id).run()
        reference_box(at).input(f"WIRE-{investor.username}").run()
        confirm(at, "payment")
        at = posted(at)
    assert list(at.dataframe[0].value["Status"]) == ["Paid"]
    assert not [w for w in at.selectbox if w.label == "Investor"]
    assert "Nothing is outstanding on this call." in [c.value for c in at.caption]
    assert metrics(at)["Outstanding"] == "$0.00"
    assert [(i, a) for i, a, _, _ in fund.payments()] == [
        (third.user_id, Decimal("30000")),
        (first.user_id, Decimal("10000")),
        (second.user_id, Decimal("20000")),
    ]


def test_a_second_click_after_success_records_nothing_and_a_double_click_records_once(
    fund: Fund,
) -> None:
    first, second, _ = fund.investors
    items = {item.investor_id: item for item in fund.items(1)}
    at = calls_page(fund)
    investor_box(at).set_value(items[second.user_id].id).run()
    reference_box(at).input("WIRE-2").run()
    question(at, "payment")
    yes = at.button(key="payment-yes")
    yes.click().run()  # submitted; no worker runs yet, so it waits as a pending operation
    yes.click().run()  # the double click's second click, on the question already answered
    assert not errors(at), errors(at)
    assert payment_operations(fund) == 1
    # Asked and confirmed again before it posted: the same request, recorded once, and said so.
    confirm(at, "payment")
    at.run()
    assert any("already recorded, once" in i for i in infos(at)), infos(at)
    assert payment_operations(fund) == 1
    with real_worker():
        at = posted(at)
    assert fund.payments() == [(second.user_id, Decimal("20000"), "WIRE-2", None)]
    # After success the form is empty and its button disabled (a browser cannot click it): a
    # second click on "Record the payment" records nothing.
    at.run()
    assert investor_box(at).value is None and amount_box(at).value == ""
    assert at.button(key="payment-ask").disabled
    assert not [b for b in at.button if b.key == "payment-yes"]
    assert fund.payments() == [(second.user_id, Decimal("20000"), "WIRE-2", None)]
    assert paid_in(fund, second) == Decimal("20000") and paid_in(fund, first) == 0


def test_two_tabs_on_one_item_the_second_finds_it_gone_or_stale(fund: Fund, worker: Any) -> None:
    first, second, third = fund.investors
    items = {item.investor_id: item for item in fund.items(1)}
    one, two = calls_page(fund), calls_page(fund)
    for tab in (one, two):
        investor_box(tab).set_value(items[first.user_id].id).run()
    # Tab two has even asked its question when tab one records the same payment.
    question(two, "payment")
    reference_box(one).input("WIRE-1").run()
    confirm(one, "payment")
    posted(one)
    two.button(key="payment-yes").click().run()
    assert any("nothing outstanding on this call any more" in w.value for w in two.warning)
    assert investor_box(two).value is None and amount_box(two).value == ""
    assert not [b for b in two.button if b.key == "payment-yes"]
    assert fund.payments() == [(first.user_id, Decimal("10000"), "WIRE-1", None)]

    # A part payment in one tab: the other, bound to the item as it was, is refused as stale.
    for tab in (one, two):
        investor_box(tab).set_value(items[third.user_id].id).run()
    amount_box(one).input("5000").run()
    confirm(one, "payment")
    posted(one)
    two.run()
    assert any(
        "changed since the form was shown" in e and "$25,000.00 outstanding now" in e for e in errors(two)
    )
    assert two.button(key="payment-ask").disabled
    ledger = {i.user_id: paid_in(fund, i) for i in fund.investors}
    assert ledger == {first.user_id: Decimal("10000"), second.user_id: 0, third.user_id: Decimal("5000")}


def test_a_wire_reference_used_on_another_investors_item_needs_an_explicit_confirmation(
    fund: Fund, worker: Any
) -> None:
    first, second, _ = fund.investors
    items = {item.investor_id: item for item in fund.items(1)}
    fund.pay(items[first.user_id], clock.today(), reference="WIRE-SHARED")
    at = calls_page(fund)
    investor_box(at).set_value(items[second.user_id].id).run()
    reference_box(at).input("WIRE-SHARED").run()
    assert any("already on another investor's payment" in e for e in errors(at)), errors(at)
    assert at.button(key="payment-ask").disabled
    [reuse] = [c for c in at.checkbox if c.label.startswith("Record it anyway")]
    reuse.check().run()
    asked = confirm(at, "payment")
    assert "wire WIRE-SHARED" in asked
    posted(at)
    assert [(i, r) for i, _, r, _ in fund.payments()] == [
        (first.user_id, "WIRE-SHARED"),
        (second.user_id, "WIRE-SHARED"),
    ]


def test_overdue_items_are_highlighted_for_the_manager(make: Any) -> None:
    fund = Fund(make, age=90)
    fund.call("10", fund.day(40), purpose="Late one", due_date=fund.day(50).isoformat())
    late = fund.items(1)
    fund.pay(late[0], fund.day(45))
    at = calls_page(fund)
    assert metrics(at)["Overdue"] == "$50,000.00"  # 20,000 + 30,000 unpaid past the due date
    assert any(
        "2 investors overdue on Capital call 1 (Late one)" in w.value and "$50,000.00" in w.value
        for w in at.warning
    )
    statuses = dict(zip(at.dataframe[1].value["Investor"], at.dataframe[1].value["Status"], strict=True))
    assert sorted(statuses.values()) == ["Overdue", "Overdue", "Paid"]
    assert list(at.dataframe[0].value["Status"]) == ["Partially paid · overdue"]
    assert any("(overdue)" in option for option in investor_box(at).options)
