"""Replay: the same money-moving request, however often it arrives, posts once.

A double click on a form, the same request from two browser tabs (two sessions), a client that
retries after losing the response (same idempotency key), two submissions racing, and RQ running
the same job twice: each ends with one operation, one set of call items and one journal per batch.
The pages run through AppTest from Home.py and every operation is processed by a real
`python -m core worker` on this run's database and queue.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select, text

from core import bootstrap, operations
from core.services import payments, pools, users
from core.settings import settings
from db.models import CallItem, CapitalCall, Journal, Operation, Payment
from tests.app.manager_support import button, errors, goto, logged_in
from tests.conftest import Factory
from tests.workers import Workers, process_in_process, queue_for, running_workers, wait_until

pytestmark = pytest.mark.slow
CALLS = "pages/manager_calls.py"
INVESTOR_CALLS = "pages/investor_capital_calls.py"
DUE = (date.today() + timedelta(days=14)).isoformat()


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


@pytest.fixture(scope="module")
def worker() -> Iterator[Workers]:
    """One real worker on the run's database and the queue the app enqueues to."""
    with running_workers(1) as workers:
        yield workers


@pytest.fixture
def queue() -> Any:
    return queue_for(settings().queue_name)


def closed_pool(make: Factory, investors: int = 3) -> tuple[int, Any, list[Any]]:
    pool_id, manager = make.pool()
    held = [make.commitment(pool_id, amount="100000", accept_as=manager)[1] for _ in range(investors)]
    with make.uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    return pool_id, manager, held


def called_pool(make: Factory) -> tuple[int, Any, list[Any]]:
    pool_id, manager, held = closed_pool(make)
    status = process_in_process(
        make, manager, pool_id, "capital_call", {"percent": "50", "purpose": "first", "due_date": DUE}
    )
    assert status.status == "done", status.error
    return pool_id, manager, held


def scalar(sql: str, **params: Any) -> Any:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(text(sql), params).scalar()


def calls_of(pool_id: int) -> list[Any]:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(CapitalCall.id, CapitalCall.status, CapitalCall.amount).where(
                CapitalCall.pool_id == pool_id
            )
        ).all()


def item_of(pool_id: int, investor_id: int) -> Any:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(CallItem.id, CallItem.amount_due, CallItem.amount_paid, CallItem.status)
            .join(CapitalCall)
            .where(CapitalCall.pool_id == pool_id, CallItem.investor_id == investor_id)
        ).one()


def journals(pool_id: int, kind: str) -> int:
    return scalar("SELECT count(*) FROM journals WHERE pool_id = :p AND kind = :k", p=pool_id, k=kind)


def operations_of(pool_id: int, kind: str) -> list[Any]:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(Operation.id, Operation.status, Operation.error).where(
                Operation.pool_id == pool_id, Operation.kind == kind
            )
        ).all()


def settled(pool_id: int, kind: str, workers: Workers, count: int = 1) -> list[Any]:
    """Wait until the pool's operations of this kind are all finished; they must be `count`, all done."""
    wait_until(
        lambda: (
            operations_of(pool_id, kind)
            and all(s in ("done", "failed") for _, s, _ in operations_of(pool_id, kind))
        ),
        60,
        what=workers.logs,
    )
    found = operations_of(pool_id, kind)
    assert len(found) == count, f"{len(found)} {kind} operations: {found}"
    assert all(status == "done" for _, status, _ in found), found
    return found


# --- a retried request: the same idempotency key after a lost response --------------------------------


def test_a_retried_capital_call_posts_once(make: Factory, worker: Workers, queue: Any) -> None:
    pool_id, manager, held = closed_pool(make)
    payload = {"percent": "40", "purpose": "retried", "due_date": DUE}
    key = f"capital_call:client-{secrets.token_hex(8)}"
    with make.uow_factory() as uow:
        first = operations.submit(
            manager, uow, pool_id, "capital_call", payload, idempotency_key=key, queue=queue
        )
    # The response was lost; the client sends the very request again, and again once it is posted.
    with make.uow_factory() as uow:
        again = operations.submit(
            manager, uow, pool_id, "capital_call", payload, idempotency_key=key, queue=queue
        )
    assert again.id == first.id
    [(op_id, _, _)] = settled(pool_id, "capital_call", worker)
    with make.uow_factory() as uow:
        late = operations.submit(
            manager, uow, pool_id, "capital_call", payload, idempotency_key=key, queue=queue
        )
    assert (late.id, late.status) == (first.id, "done")
    [(call_id, status, amount)] = calls_of(pool_id)
    assert status == "issued" and amount == Decimal("120000")
    assert scalar("SELECT count(*) FROM call_items WHERE call_id = :c", c=call_id) == len(held)
    assert journals(pool_id, "capital_call") == 1
    with make.uow_factory() as uow:
        assert (
            uow.session.execute(
                select(func.count()).select_from(Journal).where(Journal.operation_id == op_id)
            ).scalar()
            == 1
        )


def test_two_submissions_racing_with_one_key_are_one_payment(
    make: Factory, worker: Workers, queue: Any
) -> None:
    pool_id, manager, held = called_pool(make)
    item = item_of(pool_id, held[0].user_id)
    payload = {"call_item_id": item.id, "amount": "1000", "reference": "WIRE-RACE"}
    key = f"payment:client-{secrets.token_hex(8)}"

    def submit() -> uuid.UUID:
        with make.uow_factory() as uow:
            return operations.submit(
                manager, uow, pool_id, "payment", payload, idempotency_key=key, queue=queue
            ).id

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda _: submit(), range(4)))
    assert len(ids) == 1
    settled(pool_id, "payment", worker)
    assert item_of(pool_id, held[0].user_id).amount_paid == Decimal("1000")
    assert journals(pool_id, "payment") == 1


def test_rq_running_the_same_job_twice_posts_once(make: Factory, worker: Workers, queue: Any) -> None:
    pool_id, manager, held = called_pool(make)
    item = item_of(pool_id, held[1].user_id)
    with make.uow_factory() as uow:
        status = operations.submit(
            manager, uow, pool_id, "payment", {"call_item_id": item.id, "amount": "500", "reference": "W-RQ"}
        )
    for _ in range(3):  # the job, then the same job again (RQ may deliver twice, the sweeper re-enqueues)
        operations.enqueue(status.id, queue)
    settled(pool_id, "payment", worker)
    operations.enqueue(status.id, queue)
    assert operations.process(str(status.id), make.uow_factory) == "done"
    assert item_of(pool_id, held[1].user_id).amount_paid == Decimal("500")
    assert journals(pool_id, "payment") == 1


# --- the pages: a double click, two tabs, a resubmission after success, going back --------------------


def payments_view(at: Any) -> Any:
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert not at.exception, at.exception
    return at


def payment_key(at: Any) -> str:
    """The manager's payment form as it is now: payment-<generation>-<call id> (webapp.form_key)."""
    [key] = {w.key.rsplit("-", 1)[0] for w in at.text_input if w.key and w.key.startswith("payment-")}
    return key


def fill_payment(at: Any, pool_id: int, investor: Any, amount: str, reference: str) -> None:
    """Choose the investor's item (its outstanding amount is prefilled), then type over it."""
    form = payment_key(at)
    chooser = at.selectbox(key=f"{form}-item")
    assert any(investor.username in option for option in chooser.options)
    chooser.set_value(item_of(pool_id, investor.user_id).id).run()  # the options are call item ids
    at.text_input(key=f"{form}-amount").input(amount)
    at.text_input(key=f"{form}-reference").input(reference).run()
    assert not at.exception and not errors(at), errors(at)


def ask(at: Any, key: str) -> Any:
    """Click an irreversible act's button: the question, and its "yes" button."""
    at.button(key=f"{key}-ask").click().run()
    assert not at.exception and not errors(at), errors(at)
    return at.button(key=f"{key}-yes")


def said(at: Any) -> str:
    return " ".join(str(e.value) for kind in ("info", "warning", "error", "success") for e in at.get(kind))


def posted_on_page(at: Any, text: str) -> Any:
    """Rerun the page (as its progress fragment does) until it says the operation is done; it may
    have said so already, in the run that followed the answer."""

    def says() -> bool:
        return text in " ".join(s.value for s in at.success)

    def rerun_says() -> bool:
        at.run()
        return says()

    if not says():
        wait_until(rerun_says, 60, what=lambda: said(at))
    return at


def payments_of(pool_id: int) -> list[Any]:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(Payment.investor_id, Payment.amount, Payment.reference).where(Payment.pool_id == pool_id)
        ).all()


def test_a_double_click_on_record_payment_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, manager, held = called_pool(make)
    at = payments_view(goto(logged_in(manager.username), CALLS, manager_pool_id=pool_id))
    fill_payment(at, pool_id, held[0], "1234.56", "WIRE-DOUBLE")
    yes = ask(at, "payment")
    yes.click().run()
    assert not at.exception and not errors(at), errors(at)
    yes.click().run()  # the second click of a double click, on the question already answered
    assert not at.exception and not errors(at), errors(at)
    settled(pool_id, "payment", worker)
    posted_on_page(at, "Payment recorded")
    # After success the question is gone and the form is empty: there is nothing left to click
    # that could record it again (a second click on "Record the payment" is on a disabled button).
    form = payment_key(at)
    assert not [b for b in at.button if b.key == "payment-yes"]
    assert at.button(key="payment-ask").disabled
    assert at.selectbox(key=f"{form}-item").value is None and at.text_input(key=f"{form}-amount").value == ""
    assert len(operations_of(pool_id, "payment")) == 1
    assert item_of(pool_id, held[0].user_id).amount_paid == Decimal("1234.56")
    assert payments_of(pool_id) == [(held[0].user_id, Decimal("1234.56"), "WIRE-DOUBLE")]
    assert journals(pool_id, "payment") == 1


@contextlib.contextmanager
def paused(workers: Workers) -> Iterator[None]:
    """No worker runs inside: what the pages submit waits, pending, until one is started again."""
    workers.stop_all()
    try:
        yield
    finally:
        workers.start(1)


def test_the_same_payment_confirmed_again_before_it_posted_is_recorded_once_and_said_so(
    make: Factory, worker: Workers
) -> None:
    """The form asked and answered twice with the same request (the page ran again before the first
    posted): the second is the operation already recorded, and the page says so."""
    pool_id, manager, held = called_pool(make)
    with paused(worker):
        at = payments_view(goto(logged_in(manager.username), CALLS, manager_pool_id=pool_id))
        fill_payment(at, pool_id, held[1], "500", "WIRE-AGAIN")
        ask(at, "payment").click().run()
        at.run()  # the page as it is after the submission: the form still filled in, until it posts
        ask(at, "payment").click().run()
        at.run()
        assert "This was already recorded, once; it was not recorded again." in said(at)
        [(_, status, _)] = operations_of(pool_id, "payment")
        assert status == "pending"
    settled(pool_id, "payment", worker)
    assert payments_of(pool_id) == [(held[1].user_id, Decimal("500"), "WIRE-AGAIN")]
    assert journals(pool_id, "payment") == 1


def two_payment_tabs(pool_id: int, manager: Any, investor: Any) -> tuple[list[Any], list[Any]]:
    """Two tabs of the manager's, each with the same payment filled in and its question asked."""
    tabs = [
        payments_view(goto(logged_in(manager.username), CALLS, manager_pool_id=pool_id)) for _ in range(2)
    ]
    answers = []
    for tab in tabs:
        fill_payment(tab, pool_id, investor, "777", "WIRE-TABS")
        answers.append(ask(tab, "payment"))
    return tabs, answers


def test_the_same_payment_from_two_tabs_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, manager, held = called_pool(make)
    with paused(worker):
        tabs, answers = two_payment_tabs(pool_id, manager, held[2])
        for tab, yes in zip(tabs, answers, strict=True):
            yes.click().run()
            assert not tab.exception and not errors(tab), errors(tab)
        tabs[1].run()  # what the second tab says once its answer is handled
        assert "This was already recorded, once; it was not recorded again." in said(tabs[1])
        assert len(operations_of(pool_id, "payment")) == 1
    settled(pool_id, "payment", worker)
    assert item_of(pool_id, held[2].user_id).amount_paid == Decimal("777")
    assert payments_of(pool_id) == [(held[2].user_id, Decimal("777"), "WIRE-TABS")]
    assert journals(pool_id, "payment") == 1


def test_a_tab_answering_after_the_other_posted_records_nothing(make: Factory, worker: Workers) -> None:
    """The first tab's payment has posted when the second tab answers the same question: the item
    has changed since its form was shown, so the answer is refused, saying so, and nothing is recorded."""
    pool_id, manager, held = called_pool(make)
    tabs, answers = two_payment_tabs(pool_id, manager, held[2])
    answers[0].click().run()
    settled(pool_id, "payment", worker)
    answers[1].click().run()
    assert not tabs[1].exception, tabs[1].exception
    assert any("changed since the form was shown" in e for e in errors(tabs[1])), said(tabs[1])
    assert not [b for b in tabs[1].button if b.key == "payment-yes"], "the question is withdrawn"
    assert tabs[1].button(key="payment-ask").disabled
    assert len(operations_of(pool_id, "payment")) == 1
    assert payments_of(pool_id) == [(held[2].user_id, Decimal("777"), "WIRE-TABS")]
    assert journals(pool_id, "payment") == 1


def test_an_investor_paying_from_two_tabs_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, _, held = called_pool(make)
    payer = held[1]
    item = item_of(pool_id, payer.user_id)
    with paused(worker):
        tabs = [goto(logged_in(payer.username), INVESTOR_CALLS) for _ in range(2)]
        answers = []
        for tab in tabs:
            tab.selectbox(key="pay-0-item").set_value(item.id).run()
            tab.text_input(key="pay-0-amount").input("250")
            tab.text_input(key="pay-0-reference").input("MY-WIRE").run()
            assert not errors(tab), errors(tab)
            answers.append(ask(tab, "pay-0-confirm"))
        for tab, yes in zip(tabs, answers, strict=True):
            yes.click().run()
            assert not tab.exception and not errors(tab), errors(tab)
        # The page reran itself after the answer: the second tab is told it was recorded once.
        assert "This was already recorded, once; it was not recorded again." in said(tabs[1])
        assert len(operations_of(pool_id, "payment")) == 1
    settled(pool_id, "payment", worker)
    assert item_of(pool_id, payer.user_id).amount_paid == Decimal("250")
    assert journals(pool_id, "payment") == 1


def test_an_investor_going_back_after_paying_finds_an_empty_form_and_records_nothing(
    make: Factory, worker: Workers
) -> None:
    """After "Payment ... recorded", the browser's back button (to the page before, then forward to
    this one again) shows the form empty; the old answer, sent again, records nothing more."""
    pool_id, _, held = called_pool(make)
    payer = held[0]
    item = item_of(pool_id, payer.user_id)
    at = goto(logged_in(payer.username), INVESTOR_CALLS)
    at.selectbox(key="pay-0-item").set_value(item.id).run()
    at.text_input(key="pay-0-amount").input("1000")  # a part: the item stays open, and the form with it
    at.text_input(key="pay-0-reference").input("BACK-WIRE").run()
    yes = ask(at, "pay-0-confirm")
    yes.click().run()
    settled(pool_id, "payment", worker)
    posted_on_page(at, "recorded")
    at = goto(at, "pages/investor_portfolio.py")
    at = goto(at, INVESTOR_CALLS)
    assert at.selectbox(key="pay-1-item").value is None, "nothing chosen after success"
    assert at.text_input(key="pay-1-amount").value == at.text_input(key="pay-1-reference").value == ""
    assert at.button(key="pay-1-confirm-ask").disabled
    assert not [b for b in at.button if b.key and b.key.endswith("-confirm-yes")], "no question left open"
    at.run()
    assert len(operations_of(pool_id, "payment")) == 1
    assert item_of(pool_id, payer.user_id).amount_paid == Decimal("1000")
    assert journals(pool_id, "payment") == 1


def test_the_same_capital_call_issued_from_two_tabs_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, manager, held = closed_pool(make)
    tabs = [goto(logged_in(manager.username), CALLS, manager_pool_id=pool_id) for _ in range(2)]
    answers = []
    for tab in tabs:
        tab.text_input(key="capital-call-0-value").input("25")
        tab.text_input(key="capital-call-0-purpose").input("Two tabs")
        button(tab, "Preview the call").click().run()
        assert not errors(tab) and tab.session_state["_call_preview"] is not None, errors(tab)
        answers.append(ask(tab, "capital-call"))
    with paused(worker):
        answers[0].click().run()
        answers[0].click().run()  # a double click on "Yes, issue the call"
        answers[1].click().run()  # the other tab's answer to the same question
        for tab in tabs:
            tab.run()  # what each tab says once its answer is handled
            assert not tab.exception and not errors(tab), errors(tab)
        assert "This was already recorded, once; it was not recorded again." in said(tabs[1])
        assert len(operations_of(pool_id, "capital_call")) == 1
    settled(pool_id, "capital_call", worker)
    posted_on_page(tabs[0], "Capital call 1 (Two tabs) is issued")
    # After success the form starts empty and no question is left open to answer again.
    assert tabs[0].text_input(key="capital-call-1-purpose").value == ""
    assert not [b for b in tabs[0].button if b.key == "capital-call-yes"]
    assert len(operations_of(pool_id, "capital_call")) == 1
    [(call_id, status, amount)] = calls_of(pool_id)
    assert status == "issued" and amount == Decimal("75000")
    assert scalar("SELECT count(*) FROM call_items WHERE call_id = :c", c=call_id) == len(held)
    assert journals(pool_id, "capital_call") == 1


def test_a_posted_command_sent_again_is_that_operation(make: Factory, worker: Workers) -> None:
    """What a page submits is a previewed command: sent again after it posted (a resent request, a
    stale tab that kept it), it is the operation already done, marked replayed, and nothing more."""
    pool_id, manager, held = called_pool(make)
    item = item_of(pool_id, held[0].user_id)
    request = {"call_item_id": item.id, "amount": "100", "reference": "W-AGAIN"}
    with make.uow_factory() as uow:
        command = payments.preview(manager, uow, pool_id, request).command
    with make.uow_factory() as uow:
        first = payments.record(manager, uow, command)
    assert not first.replayed
    settled(pool_id, "payment", worker)
    with make.uow_factory() as uow:
        again = payments.record(manager, uow, command)
    assert (again.id, again.status, again.replayed) == (first.id, "done", True)
    assert payments_of(pool_id) == [(held[0].user_id, Decimal("100"), "W-AGAIN")]
    assert journals(pool_id, "payment") == 1
