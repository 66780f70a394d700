"""Replay: the same money-moving request, however often it arrives, posts once.

A double click on a form, the same request from two browser tabs (two sessions), a client that
retries after losing the response (same idempotency key), two submissions racing, and RQ running
the same job twice: each ends with one operation, one set of call items and one journal per batch.
The pages run through AppTest from Home.py and every operation is processed by a real
`python -m core worker` on this run's database and queue.
"""

from __future__ import annotations

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
from core.services import pools, users
from core.settings import settings
from db.models import CallItem, CapitalCall, Journal, Operation
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


# --- the pages: a double click, two tabs -----------------------------------------------------------------


def payments_view(at: Any) -> Any:
    at = at.radio(key="calls-view").set_value("Calls and payments").run()
    assert not at.exception, at.exception
    return at


def fill_payment(at: Any, pool_id: int, investor: Any, amount: str, reference: str) -> None:
    chooser = at.selectbox(key="pay-item")
    assert any(investor.username in option for option in chooser.options)
    chooser.set_value(item_of(pool_id, investor.user_id).id)  # the options are call item ids
    at.text_input(key="pay-amount").input(amount)
    at.text_input(key="pay-reference").input(reference)


def test_a_double_click_on_record_payment_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, manager, held = called_pool(make)
    at = payments_view(goto(logged_in(manager.username), CALLS, manager_pool_id=pool_id))
    fill_payment(at, pool_id, held[0], "1234.56", "WIRE-DOUBLE")
    at = button(at, "Record the payment").click().run()
    assert not at.exception and not errors(at), errors(at)
    at = button(at, "Record the payment").click().run()  # the second click of a double click
    assert not at.exception and not errors(at), errors(at)
    settled(pool_id, "payment", worker)
    assert item_of(pool_id, held[0].user_id).amount_paid == Decimal("1234.56")
    assert journals(pool_id, "payment") == 1


def test_the_same_payment_from_two_tabs_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, manager, held = called_pool(make)
    tabs = [
        payments_view(goto(logged_in(manager.username), CALLS, manager_pool_id=pool_id)) for _ in range(2)
    ]
    for tab in tabs:
        fill_payment(tab, pool_id, held[2], "777", "WIRE-TABS")
    for tab in tabs:
        tab = button(tab, "Record the payment").click().run()
        assert not tab.exception and not errors(tab), errors(tab)
    settled(pool_id, "payment", worker)
    assert item_of(pool_id, held[2].user_id).amount_paid == Decimal("777")
    assert journals(pool_id, "payment") == 1


def test_an_investor_paying_from_two_tabs_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, _, held = called_pool(make)
    payer = held[1]
    tabs = [goto(logged_in(payer.username), INVESTOR_CALLS) for _ in range(2)]
    for tab in tabs:
        tab.text_input(key="pay-amount").input("250")
        tab.text_input(key="pay-reference").input("MY-WIRE")
    for tab in tabs:
        tab = button(tab, "Record payment").click().run()
        assert not tab.exception and not errors(tab), errors(tab)
    settled(pool_id, "payment", worker)
    assert item_of(pool_id, payer.user_id).amount_paid == Decimal("250")
    assert journals(pool_id, "payment") == 1


def test_the_same_capital_call_issued_from_two_tabs_posts_once(make: Factory, worker: Workers) -> None:
    pool_id, manager, held = closed_pool(make)
    tabs = [goto(logged_in(manager.username), CALLS, manager_pool_id=pool_id) for _ in range(2)]
    for index, tab in enumerate(tabs):
        tab.text_input(key="call-value").input("25")
        tab.text_input(key="call-purpose").input("Two tabs")
        tabs[index] = tab = button(tab, "Preview the call").click().run()
        assert not errors(tab) and tab.session_state["_call_preview"] is not None, errors(tab)
    for tab in tabs:
        issue = [b for b in tab.button if b.label == "Issue this call"]
        if issue:  # the other tab's call may already be posted: the stale preview is then withdrawn
            tab = issue[0].click().run()
            assert not tab.exception and not errors(tab), errors(tab)
    settled(pool_id, "capital_call", worker)
    [(call_id, status, amount)] = calls_of(pool_id)
    assert status == "issued" and amount == Decimal("75000")
    assert scalar("SELECT count(*) FROM call_items WHERE call_id = :c", c=call_id) == len(held)
    assert journals(pool_id, "capital_call") == 1
