"""Operations end to end in-process: submit, process, and the ledger agrees with every table."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import clock, operations
from core.errors import DomainError, InvalidState, PermissionDenied, ValidationError
from core.ledger import read_model
from core.services import distributions, investments
from core.verify import verify
from db.models import CallItem, CapitalCall, Journal
from tests import approving


@pytest.fixture
def closed_pool(make):
    """A pool raised 400 days ago and closed, with three accepted commitments of 100,000, 200,000 and
    300,000.33."""
    from core.services import pools

    with clock.travel(date.today() - timedelta(days=400)):
        pool_id, manager = make.pool(hard_cap="2000000")
        investors = []
        for amount in ("100000", "200000", "300000.33"):
            _, investor = make.commitment(pool_id, amount=amount, accept_as=manager)
            investors.append(investor)
        with make.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
    return pool_id, manager, investors


def violations_of(uow, pool_id):
    """What verify finds about this pool. The database is shared with the other tests of this folder:
    their pools are theirs to check (and some are still being posted to by their workers)."""
    found = {
        name: [row for row in rows if row and row[0] == pool_id]
        for name, rows in verify(uow.session).violations.items()
    }
    return {name: rows for name, rows in found.items() if rows}


def run(make, actor, pool_id, kind, payload, **kw):
    with make.uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload, **kw)
    outcome = operations.process(str(status.id), make.uow_factory)
    with make.uow_factory() as uow:
        return operations.operation_status(actor, uow, status.id), outcome


def items_of(make, pool_id):
    with make.uow_factory() as uow:
        return uow.session.execute(
            select(
                CallItem.id, CallItem.investor_id, CallItem.amount_due, CallItem.amount_paid, CallItem.status
            )
            .join(CapitalCall)
            .where(CapitalCall.pool_id == pool_id)
            .order_by(CallItem.id)
        ).all()


@pytest.fixture
def called_pool(make, closed_pool):
    """closed_pool with a capital call of 60,000 issued: (pool id, manager, investors, call items)."""
    pool_id, manager, investors = closed_pool
    run(
        make,
        manager,
        pool_id,
        "capital_call",
        {"amount": "60000", "purpose": "c", "due_date": str(date.today())},
    )
    return pool_id, manager, investors, items_of(make, pool_id)


SOON = (date.today() + timedelta(days=30)).isoformat()


def test_capital_call_allocates_exactly_and_posts_once(make, closed_pool):
    pool_id, manager, investors = closed_pool
    status, outcome = run(
        make,
        manager,
        pool_id,
        "capital_call",
        {"percent": "33.33", "purpose": "Series A", "due_date": str(date.today() + timedelta(days=14))},
    )
    assert outcome == "done" and status.status == "done", status.error
    items = items_of(make, pool_id)
    assert len(items) == 3
    total = sum(i.amount_due for i in items)
    assert total == Decimal("199980.11")  # 33.33% of 600,000.33 = 199,980.109989, half-up to the cent
    # Running the same job again changes nothing.
    assert operations.process(str(status.id), make.uow_factory) == "done"
    with make.uow_factory() as uow:
        assert not (found := violations_of(uow, pool_id)), found
        books = read_model.total(uow.session, as_of=None, pool_id=pool_id)
        assert books.called == total and books.outstanding == total


def test_same_idempotency_key_returns_the_first_operation(make, closed_pool):
    pool_id, manager, _ = closed_pool
    payload = {"percent": "10", "purpose": "fees", "due_date": str(date.today() + timedelta(days=7))}
    with make.uow_factory() as uow:
        first = operations.submit(manager, uow, pool_id, "capital_call", payload, idempotency_key="k-1")
    with make.uow_factory() as uow:
        second = operations.submit(manager, uow, pool_id, "capital_call", payload, idempotency_key="k-1")
    with make.uow_factory() as uow:
        third = operations.submit(manager, uow, pool_id, "capital_call", payload)  # derived key
    with make.uow_factory() as uow:
        fourth = operations.submit(manager, uow, pool_id, "capital_call", payload)
    assert first.id == second.id
    assert third.id == fourth.id and third.id != first.id
    with make.uow_factory() as uow:
        calls = uow.session.execute(
            select(func.count()).select_from(CapitalCall).where(CapitalCall.pool_id == pool_id)
        ).scalar_one()
    assert calls == 2


def test_payment_lifecycle_and_refusals(make, closed_pool):
    pool_id, manager, investors = closed_pool
    run(
        make,
        manager,
        pool_id,
        "capital_call",
        {"amount": "60000", "purpose": "first close", "due_date": str(date.today())},
    )
    item = next(i for i in items_of(make, pool_id) if i.investor_id == investors[0].user_id)
    half = (item.amount_due / 2).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    status, _ = run(
        make,
        investors[0],
        pool_id,
        "payment",
        {"call_item_id": item.id, "amount": str(half), "reference": "WIRE-1"},
    )
    assert status.status == "done"
    # Overpayment: refused at submission with the field named, nothing written.
    with make.uow_factory() as uow, pytest.raises(ValidationError) as err:
        operations.submit(
            investors[0],
            uow,
            pool_id,
            "payment",
            {"call_item_id": item.id, "amount": str(item.amount_due), "reference": "WIRE-2"},
        )
    assert err.value.field == "amount"
    # Another investor may not pay (or see) this item.
    with make.uow_factory() as uow, pytest.raises(PermissionDenied):
        operations.submit(
            investors[1], uow, pool_id, "payment", {"call_item_id": item.id, "amount": "1", "reference": "X"}
        )
    status, _ = run(
        make,
        manager,
        pool_id,
        "payment",
        {"call_item_id": item.id, "amount": str(item.amount_due - half), "reference": "WIRE-3"},
    )
    assert status.status == "done"
    paid = next(i for i in items_of(make, pool_id) if i.id == item.id)
    assert paid.status == "paid" and paid.amount_paid == paid.amount_due
    with make.uow_factory() as uow, pytest.raises(InvalidState):
        operations.submit(
            investors[0],
            uow,
            pool_id,
            "payment",
            {"call_item_id": item.id, "amount": "1", "reference": "late"},
        )
    with make.uow_factory() as uow:
        assert not (found := violations_of(uow, pool_id)), found
        assert (
            read_model.positions(uow.session, as_of=None, pool_id=pool_id)[investors[0].user_id].paid_in
            == item.amount_due
        )


def test_valuation_and_distribution_follow_the_waterfall(make, closed_pool):
    pool_id, manager, investors = closed_pool
    run(make, manager, pool_id, "capital_call", {"percent": "50", "purpose": "invest"})
    for item in items_of(make, pool_id):
        run(
            make,
            manager,
            pool_id,
            "payment",
            {"call_item_id": item.id, "amount": str(item.amount_due), "reference": f"W{item.id}"},
        )
    status, _ = run(make, manager, pool_id, "investment", {"company": "Acme", "amount": "250000"})
    assert status.status == "done", status.error
    with make.uow_factory() as uow:
        acme = investments.holdings(uow, pool_id)[0].company_id
    status, _ = run(make, manager, pool_id, "valuation", {"company_id": acme, "value": "400000", "note": "B"})
    assert status.status == "done", status.error
    status, _ = run(make, manager, pool_id, "exit", {"company_id": acme, "proceeds": "400000"})
    assert status.status == "done", status.error
    with make.uow_factory() as uow:
        books = read_model.pool_books(uow.session, pool_id, as_of=None)
        total = read_model.total(uow.session, as_of=None, pool_id=pool_id)
    # The exit realized 150,000 above cost and released the 150,000 mark: NAV is cash at once.
    assert (books.investments_at_cost, books.unrealized_value) == (0, 0)
    assert (total.realized_gain, total.unrealized_gain) == (Decimal("150000"), 0)
    assert total.nav == books.cash == Decimal("300000.17") + Decimal("150000")
    # Drafted by the manager and approved by a second one, as every distribution is.
    with make.uow_factory() as uow:
        request = {"proceeds": str(books.cash), "memo": "Acme exit"}
        posting = approving.distribute(
            manager, uow, distributions.preview(manager, uow, pool_id, request).command
        )
    assert operations.process(str(posting.id), make.uow_factory) == "done"
    with make.uow_factory() as uow:
        total = read_model.total(uow.session, as_of=None, pool_id=pool_id)
        assert total.distributions + total.carried_interest == books.cash
        assert read_model.pool_books(uow.session, pool_id, as_of=None).cash == 0
        assert not (found := violations_of(uow, pool_id)), found
    # More than the cash: refused, with the field named.
    with make.uow_factory() as uow, pytest.raises(ValidationError) as err:
        operations.submit(manager, uow, pool_id, "distribution", {"proceeds": "1"})
    assert err.value.field == "proceeds"


def test_bad_requests_fail_clearly_and_post_nothing(make, closed_pool):
    pool_id, manager, investors = closed_pool
    open_pool, other_manager = make.pool()
    cases = [
        (manager, open_pool, "capital_call", {"percent": "10", "due_date": SOON}, PermissionDenied),
        (other_manager, open_pool, "capital_call", {"percent": "10", "due_date": SOON}, InvalidState),
        (manager, pool_id, "capital_call", {"percent": "101", "due_date": SOON}, ValidationError),
        (
            manager,
            pool_id,
            "capital_call",
            {"amount": "600000.34", "due_date": SOON},
            ValidationError,
        ),
        (manager, pool_id, "capital_call", {"percent": "NaN", "due_date": SOON}, ValidationError),
        (
            manager,
            pool_id,
            "capital_call",
            {"percent": "10", "amount": "5", "due_date": SOON},
            ValidationError,
        ),
        (manager, pool_id, "capital_call", {"percent": "10", "due_date": "yesterday"}, ValidationError),
        (manager, pool_id, "payment", {"call_item_id": "1; DROP TABLE", "amount": "1"}, ValidationError),
        (manager, pool_id, "nonsense", {}, ValidationError),
        (investors[0], pool_id, "valuation", {"company_id": 1, "value": "1"}, PermissionDenied),
        (manager, pool_id, "investment", {"company": "X", "amount": "1"}, ValidationError),
        (manager, pool_id, "capital_call", {"percent": "0.0000001", "purpose": "dust"}, ValidationError),
        (manager, pool_id, "capital_call", {"amount": "1e9", "purpose": "exponent"}, ValidationError),
    ]
    with make.uow_factory() as uow:
        before = uow.session.execute(select(func.count()).select_from(Journal)).scalar_one()
    for actor, pool, kind, payload, error in cases:
        with make.uow_factory() as uow, pytest.raises(error):
            operations.submit(actor, uow, pool, kind, payload)
    with make.uow_factory() as uow:
        assert uow.session.execute(select(func.count()).select_from(Journal)).scalar_one() == before


def test_a_request_that_became_invalid_fails_with_a_reason_and_no_retry(make, closed_pool):
    pool_id, manager, investors = closed_pool
    run(
        make,
        manager,
        pool_id,
        "capital_call",
        {"amount": "6000", "purpose": "x", "due_date": str(date.today())},
    )
    item = items_of(make, pool_id)[0]
    with make.uow_factory() as uow:
        first = operations.submit(
            manager,
            uow,
            pool_id,
            "payment",
            {"call_item_id": item.id, "amount": str(item.amount_due), "reference": "A"},
        )
        second = operations.submit(
            manager,
            uow,
            pool_id,
            "payment",
            {"call_item_id": item.id, "amount": str(item.amount_due), "reference": "B"},
        )
    assert operations.process(str(first.id), make.uow_factory) == "done"
    assert operations.process(str(second.id), make.uow_factory) == "failed"
    with make.uow_factory() as uow:
        failed = operations.operation_status(manager, uow, second.id)
        assert "already paid" in failed.error
        assert not (found := violations_of(uow, pool_id)), found


def test_errors_are_domain_errors():
    assert issubclass(ValidationError, DomainError)


def test_waiting_payments_are_group_committed_once_each(make, called_pool):
    """drain() takes waiting payments in one transaction; one that became invalid fails alone with
    its reason; each posts once; the jobs still waiting for them are dropped from the queue."""
    from rq.job import Job

    from tests.workers import queue_for, unique_queue_name

    pool_id, manager, investors, items = called_pool
    queue = queue_for(unique_queue_name())
    payloads = [
        {"call_item_id": items[0].id, "amount": str(items[0].amount_due), "reference": "A"},
        {"call_item_id": items[1].id, "amount": "1.00", "reference": "B"},
        # valid when submitted, but the first payment settles the item in full before it runs
        {"call_item_id": items[0].id, "amount": str(items[0].amount_due), "reference": "A-again"},
    ]
    ids = []
    for payload in payloads:
        with make.uow_factory() as uow:
            ids.append(operations.submit(manager, uow, pool_id, "payment", payload, queue=queue).id)
    assert all(Job.exists(str(i), connection=queue.connection) for i in ids)

    drained: list = []
    while batch := operations.drain(make.uow_factory):
        drained += batch
    assert set(ids) <= set(drained)
    operations.forget_jobs(drained, queue)
    assert not any(Job.exists(str(i), connection=queue.connection) for i in ids)

    with make.uow_factory() as uow:
        first, second, third = (operations.operation_status(manager, uow, i) for i in ids)
        journals = uow.session.scalar(
            select(func.count()).select_from(Journal).where(Journal.operation_id.in_(ids))
        )
        assert not (found := violations_of(uow, pool_id)), found
    assert (first.status, second.status) == ("done", "done")
    assert third.status == "failed" and "already paid in full" in third.error
    assert journals == 2
    # A job run afterwards (a worker that had already taken it) changes nothing.
    assert operations.process(str(ids[0]), make.uow_factory) == "done"
    paid = {i.id: i.amount_paid for i in items_of(make, pool_id)}
    assert paid[items[0].id] == items[0].amount_due and paid[items[1].id] == Decimal("1.00")
    queue.delete(delete_jobs=True)


def test_a_capital_call_refused_in_the_worker_is_cancelled_and_books_nothing(make, closed_pool):
    """Accepted at submission, refused when processed (its manager was deactivated meanwhile): the
    operation fails with the reason and its call is cancelled, not left 'issuing'."""
    from core.services import users

    pool_id, manager, _ = closed_pool
    with make.uow_factory() as uow:
        status = operations.submit(
            manager,
            uow,
            pool_id,
            "capital_call",
            {"percent": "10", "purpose": "refused later", "due_date": str(date.today())},
        )
    with make.uow_factory() as uow:
        [(call_status,)] = uow.session.execute(
            select(CapitalCall.status).where(CapitalCall.operation_id == status.id)
        ).all()
    assert call_status == "issuing"
    admin = make.user("admin")
    with make.uow_factory() as uow:
        users.set_active(admin, uow, manager.user_id, False)
    assert operations.process(str(status.id), make.uow_factory) == "failed"
    with make.uow_factory() as uow:
        failed = uow.session.execute(
            select(CapitalCall).where(CapitalCall.operation_id == status.id)
        ).scalar_one()
        assert failed.status == "cancelled"
        assert not uow.session.scalar(
            select(func.count()).select_from(CallItem).where(CallItem.call_id == failed.id)
        )
        assert not uow.session.scalar(
            select(func.count()).select_from(Journal).where(Journal.operation_id == status.id)
        )
        assert not (found := violations_of(uow, pool_id)), found
    with make.uow_factory() as uow:
        assert "no longer active" in operations.operation_status(admin, uow, status.id).error


def test_a_capital_call_refused_after_a_posted_batch_stays_issuing_and_a_retry_finishes_it(
    make, closed_pool, monkeypatch
):
    """Its first batch's receivables are in the ledger, so the call is not cancelled: it waits,
    'issuing', for an admin's retry, which posts the rest once."""
    from core.services import calls, users

    monkeypatch.setattr(calls, "batch_size", lambda: 1)  # three investors: three batches
    pool_id, manager, _ = closed_pool
    admin = make.user("admin")
    with make.uow_factory() as uow:
        status = operations.submit(
            manager,
            uow,
            pool_id,
            "capital_call",
            {"percent": "10", "purpose": "p", "due_date": str(date.today())},
        )

    def deactivate_after_the_first_batch(op) -> None:  # noqa: ANN001
        if op.progress_done == 1:
            with make.uow_factory() as uow:
                users.set_active(admin, uow, manager.user_id, False)

    assert operations.process(str(status.id), make.uow_factory, deactivate_after_the_first_batch) == "failed"

    def call_and_journals():  # noqa: ANN202
        with make.uow_factory() as uow:
            call = uow.session.execute(
                select(CapitalCall).where(CapitalCall.operation_id == status.id)
            ).scalar_one()
            journals = uow.session.scalar(
                select(func.count()).select_from(Journal).where(Journal.operation_id == status.id)
            )
            assert not (found := violations_of(uow, pool_id)), found
            return call.status, journals

    assert call_and_journals() == ("issuing", 1)
    with make.uow_factory() as uow:
        users.set_active(admin, uow, manager.user_id, True)
    with make.uow_factory() as uow:
        operations.retry(admin, uow, str(status.id))
    assert operations.process(str(status.id), make.uow_factory) == "done"
    assert call_and_journals() == ("issued", 3)


def _operation_count(make) -> int:
    from db.models import AuditLog, Operation

    with make.uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(Operation)), uow.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "operation.payment")
        )


def test_a_bank_statement_is_one_submission_of_separate_payment_operations(make, called_pool):
    """submit_many: one transaction and one job, yet one row, key, audit row and journal per
    payment; the same statement again adds nothing, a longer one adds only its new lines."""
    from rq.job import Job

    from tests.workers import queue_for, unique_queue_name

    pool_id, manager, _, items = called_pool
    queue = queue_for(unique_queue_name())
    audited_before = _operation_count(make)[1]
    lines = [
        {"call_item_id": items[0].id, "amount": "100.00", "reference": "stmt 1"},
        {"call_item_id": items[0].id, "amount": "200.00", "reference": "stmt 2"},  # same item, second part
        {"call_item_id": items[2].id, "amount": str(items[2].amount_due), "reference": "stmt 3"},
    ]
    with make.uow_factory() as uow:
        first = operations.submit_many(manager, uow, pool_id, "payment", lines, queue=queue)
    assert len({s.id for s in first}) == 3 and all(s.status == "pending" for s in first)
    # One job triggers the statement (its worker drains every waiting payment); the rows are the truth.
    assert [Job.exists(str(s.id), connection=queue.connection) for s in first] == [True, False, False]
    assert _operation_count(make)[1] == audited_before + 3  # one audit row per operation

    with make.uow_factory() as uow:  # uploaded twice: the same operations, nothing new
        again = operations.submit_many(manager, uow, pool_id, "payment", lines, queue=queue)
    assert [s.id for s in again] == [s.id for s in first]
    extra = {"call_item_id": items[1].id, "amount": "5.00", "reference": "stmt 4"}
    before = _operation_count(make)
    with make.uow_factory() as uow:
        longer = operations.submit_many(manager, uow, pool_id, "payment", [*lines, extra], queue=queue)
    assert [s.id for s in longer[:3]] == [s.id for s in first] and longer[3].id not in {s.id for s in first}
    assert _operation_count(make)[0] == before[0] + 1
    # A bad line after lines already recorded is named by its place in what was sent.
    bad = {"call_item_id": items[1].id, "amount": "-1", "reference": "stmt 5"}
    with make.uow_factory() as uow, pytest.raises(ValidationError) as refused:
        operations.submit_many(manager, uow, pool_id, "payment", [*lines, extra, bad], queue=queue)
    assert refused.value.field == "line 5 amount"

    while operations.drain(make.uow_factory):
        pass
    with make.uow_factory() as uow:
        statuses = [operations.operation_status(manager, uow, s.id) for s in longer]
        journals = uow.session.scalar(
            select(func.count()).select_from(Journal).where(Journal.operation_id.in_([s.id for s in longer]))
        )
        assert not (found := violations_of(uow, pool_id)), found
    assert [s.status for s in statuses] == ["done"] * 4 and journals == 4
    paid = {i.id: (i.amount_paid, i.status) for i in items_of(make, pool_id)}
    assert paid[items[0].id] == (Decimal("300.00"), "partially_paid")
    assert paid[items[2].id] == (items[2].amount_due, "paid")
    assert paid[items[1].id] == (Decimal("5.00"), "partially_paid")
    queue.delete(delete_jobs=True)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ({"amount": "-5", "reference": "neg"}, "line 2 amount"),
        ({"amount": "abc", "reference": "nan"}, "line 2 amount"),
        ({"amount": "1.001", "reference": "precise"}, "line 2 amount"),
        ({"call_item_id": 10**12, "amount": "1", "reference": "x"}, "line 2 call_item_id"),
        ({"amount": "1", "reference": "=HYPERLINK(\u202e)"}, "line 2 reference"),
        ("not a mapping", "line 2"),
    ],
)
def test_one_bad_statement_line_refuses_the_statement_naming_the_line(make, called_pool, bad_line, message):
    pool_id, manager, _, items = called_pool
    good = {"call_item_id": items[0].id, "amount": "10.00", "reference": "ok"}
    line = bad_line if isinstance(bad_line, str) else {"call_item_id": items[1].id, **bad_line}
    before = _operation_count(make)
    with make.uow_factory() as uow, pytest.raises(DomainError) as refused:
        operations.submit_many(manager, uow, pool_id, "payment", [good, line])
    field = getattr(refused.value, "field", "")
    assert field == message or str(refused.value).startswith(message.capitalize()), refused.value
    assert _operation_count(make) == before


def test_statement_lines_together_may_not_overpay_an_item_or_repeat(make, called_pool):
    pool_id, manager, investors, items = called_pool
    item = items[0]
    half = (item.amount_due / 2).quantize(Decimal("0.01"))
    lines = [
        {"call_item_id": item.id, "amount": str(half), "reference": "a"},
        {"call_item_id": item.id, "amount": str(item.amount_due - half), "reference": "b"},
        {"call_item_id": item.id, "amount": "0.01", "reference": "c"},
    ]
    before = _operation_count(make)
    with make.uow_factory() as uow, pytest.raises(ValidationError) as overpaid:
        operations.submit_many(manager, uow, pool_id, "payment", lines)
    assert overpaid.value.field == "line 3 amount"
    assert "$0.00 left outstanding after the lines before it" in overpaid.value.message
    with make.uow_factory() as uow, pytest.raises(ValidationError) as repeated:
        operations.submit_many(manager, uow, pool_id, "payment", [lines[0], lines[0]])
    assert repeated.value.field == "line 2" and "repeats line 1" in repeated.value.reason
    # An investor may not pay another investor's item by slipping it into a batch of their own.
    other = items[1]
    with make.uow_factory() as uow, pytest.raises(PermissionDenied) as denied:
        operations.submit_many(
            investors[0],
            uow,
            pool_id,
            "payment",
            [lines[0], {"call_item_id": other.id, "amount": "1.00", "reference": "x"}],
        )
    assert str(denied.value).startswith("line 2:")
    assert _operation_count(make) == before


def test_payments_on_a_cancelled_item_are_refused_at_submission_and_in_the_worker(make, called_pool):
    """No service cancels an item yet (a write-off would); the rule stands wherever it is checked."""
    from sqlalchemy import update

    pool_id, manager, _, items = called_pool
    late, early = items[0], items[1]
    with make.uow_factory() as uow:  # valid when submitted ...
        pending = operations.submit(
            manager, uow, pool_id, "payment", {"call_item_id": late.id, "amount": "1.00", "reference": "L"}
        )
    with make.uow_factory() as uow:  # ... then both items are written off
        uow.session.execute(
            update(CallItem).where(CallItem.id.in_([late.id, early.id])).values(status="cancelled")
        )
        uow.commit()
    with make.uow_factory() as uow, pytest.raises(InvalidState, match="was cancelled"):
        operations.submit(
            manager, uow, pool_id, "payment", {"call_item_id": early.id, "amount": "1.00", "reference": "E"}
        )
    assert operations.process(str(pending.id), make.uow_factory) == "failed"
    with make.uow_factory() as uow:
        assert "was cancelled" in operations.operation_status(manager, uow, pending.id).error
        posted = uow.session.scalar(
            select(func.count()).select_from(Journal).where(Journal.operation_id == pending.id)
        )
    assert posted == 0
    assert {i.id: i.amount_paid for i in items_of(make, pool_id)}[late.id] == 0
    with make.uow_factory() as uow:  # the run's shared database still verifies for every later test
        assert not (found := violations_of(uow, pool_id)), found


def test_a_management_fee_charges_each_investor_pro_rata_by_days_once(make, closed_pool):
    """2% a year on committed capital: 365 days on 100,000 / 200,000 / 300,000.33 is 2,000.00 /
    4,000.00 / 6,000.01 (6,000.0066 rounded half up), booked against each capital account once."""
    pool_id, manager, investors = closed_pool
    end = date.today()
    payload = {"period_start": (end - timedelta(days=365)).isoformat(), "period_end": end.isoformat()}
    status, outcome = run(make, manager, pool_id, "management_fee", payload)
    assert outcome == "done", status.error
    assert operations.process(str(status.id), make.uow_factory) == "done"  # a second run adds nothing
    with make.uow_factory() as uow:
        held = read_model.positions(uow.session, as_of=None, pool_id=pool_id)
        journals = uow.session.scalar(
            select(func.count()).select_from(Journal).where(Journal.operation_id == status.id)
        )
        assert not (found := violations_of(uow, pool_id)), found
    assert [held[i.user_id].management_fees for i in investors] == [
        Decimal("2000.00"),
        Decimal("4000.00"),
        Decimal("6000.01"),
    ]
    assert journals == 1
    # A period that ends before it starts, is longer than a year, or starts in the future (fees may be
    # charged in advance, so only the start is held to today) is refused with the field named.
    for bad, field in (
        (
            {"period_start": end.isoformat(), "period_end": (end - timedelta(days=1)).isoformat()},
            "period_end",
        ),
        (
            {"period_start": (end - timedelta(days=400)).isoformat(), "period_end": end.isoformat()},
            "period_end",
        ),
        (
            {
                "period_start": (end + timedelta(days=1)).isoformat(),
                "period_end": (end + timedelta(days=90)).isoformat(),
            },
            "period_start",
        ),
    ):
        with make.uow_factory() as uow, pytest.raises(ValidationError) as refused:
            operations.submit(manager, uow, pool_id, "management_fee", bad)
        assert refused.value.field == field
