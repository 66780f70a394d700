"""The engine under fire: real RQ workers in subprocesses, killed, starved of Redis and of PostgreSQL.

Each test gets a database of its own (the workers' DATABASE_URL points at it) and a queue of its
own, so `python -m core verify` judges exactly what the test did.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text

from core import operations
from core.verify import verify
from db.models import CallItem, CapitalCall, Journal, Operation
from db.session import engine_for
from tests.conftest import Factory
from tests.workers import (
    cli_verify,
    closed_pool_with_investors,
    process_in_process,
    queue_for,
    running_workers,
    unique_queue_name,
    uow_factory_for,
    wait_until,
)

pytestmark = pytest.mark.slow
DUE = str(date.today() + timedelta(days=14))


@dataclass
class Db:
    """A database of the test's own: its URL, units of work on it, and a factory of users and pools."""

    url: str
    uow_factory: Callable[[], Any]
    make: Factory

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.uow_factory() as uow:
            return uow.session.execute(text(sql), params).scalar()

    def statuses(self, ids: list[uuid.UUID] | None = None) -> dict[str, int]:
        with self.uow_factory() as uow:
            query = select(Operation.status, func.count()).group_by(Operation.status)
            if ids is not None:
                query = query.where(Operation.id.in_(ids))
            return dict(uow.session.execute(query).all())


@pytest.fixture
def db(fresh_database: str) -> Iterator[Db]:
    factory = uow_factory_for(fresh_database)
    yield Db(fresh_database, factory, Factory(factory))
    engine_for(fresh_database).dispose()


def call_items(db: Db, pool_id: int) -> list[Any]:
    with db.uow_factory() as uow:
        return uow.session.execute(
            select(
                CallItem.id, CallItem.investor_id, CallItem.amount_due, CallItem.amount_paid, CallItem.status
            )
            .join(CapitalCall)
            .where(CapitalCall.pool_id == pool_id)
            .order_by(CallItem.id)
        ).all()


def journals_of(db: Db, operation_id: uuid.UUID) -> int:
    with db.uow_factory() as uow:
        return uow.session.execute(
            select(func.count()).select_from(Journal).where(Journal.operation_id == operation_id)
        ).scalar_one()


def assert_verified(db: Db) -> None:
    with db.uow_factory() as uow:
        report = verify(uow.session)
    assert report.ok, report.summary()
    result = cli_verify(db.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger verified: OK" in result.stdout


def called_pool(db: Db, investors: int, amount: str = "10000", percent: str = "50") -> tuple[int, Any]:
    """A closed pool with a capital call already issued (in-process), ready for payments."""
    pool_id, manager, _ = closed_pool_with_investors(db.make, investors, amount)
    status = process_in_process(
        db.make, manager, pool_id, "capital_call", {"percent": percent, "purpose": "test", "due_date": DUE}
    )
    assert status.status == "done", status.error
    return pool_id, manager


def payment_of(item: Any) -> dict[str, Any]:
    """The payload of a payment of an item in full."""
    return {"call_item_id": item.id, "amount": str(item.amount_due), "reference": f"WIRE-{item.id}"}


def submit_payments(db: Db, manager: Any, pool_id: int, queue: Any, threads: int = 4) -> list[uuid.UUID]:
    """One full payment per call item, submitted (and enqueued) from a few client threads."""
    items = call_items(db, pool_id)

    def submit(item: Any) -> uuid.UUID:
        with db.uow_factory() as uow:
            return operations.submit(manager, uow, pool_id, "payment", payment_of(item), queue=queue).id

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(submit, items))


# --- 1. the same job twice ----------------------------------------------------------------------------


def test_a_job_run_twice_or_at_once_posts_once(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import bootstrap
    from jobs.operations import process_operation

    # process_operation uses the composition root's unit of work: point it at this test's database.
    monkeypatch.setattr(bootstrap, "unit_of_work", db.uow_factory)
    pool_id, manager = called_pool(db, investors=3)
    items = call_items(db, pool_id)
    with db.uow_factory() as uow:
        pay = operations.submit(manager, uow, pool_id, "payment", payment_of(items[0]))
    assert process_operation(str(pay.id)) == "done"
    assert process_operation(str(pay.id)) == "done"
    assert journals_of(db, pay.id) == 1

    # Two runs of one job at the same moment (RQ delivering a job twice): one works, one sees it busy or done.
    with db.uow_factory() as uow:
        second = operations.submit(manager, uow, pool_id, "payment", payment_of(items[1]))
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        outcomes.append(process_operation(str(second.id)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 4 and set(outcomes) <= {"done", "busy"} and "done" in outcomes, outcomes
    assert journals_of(db, second.id) == 1
    paid = {i.id: i for i in call_items(db, pool_id)}
    assert paid[items[0].id].amount_paid == items[0].amount_due
    assert paid[items[1].id].amount_paid == items[1].amount_due
    assert paid[items[2].id].amount_paid == 0
    assert_verified(db)


def test_the_same_operation_enqueued_twice_to_real_workers_posts_once(db: Db) -> None:
    pool_id, manager, investors = closed_pool_with_investors(db.make, 50)
    queue_name = unique_queue_name()
    queue = queue_for(queue_name)
    with db.uow_factory() as uow:
        call = operations.submit(
            manager, uow, pool_id, "capital_call", {"percent": "40", "purpose": "twice", "due_date": DUE}
        )
    for _ in range(3):
        operations.enqueue(call.id, queue)
    assert queue.count == 3
    with running_workers(2, DATABASE_URL=db.url, QUEUE_NAME=queue_name, OPERATION_BATCH_SIZE=7) as workers:
        wait_until(
            lambda: db.statuses([call.id]).get("done"),
            60,
            what=lambda: f"the call to finish\n{workers.logs()}",
        )
        items = call_items(db, pool_id)
        item = items[0]
        with db.uow_factory() as uow:
            pay = operations.submit(manager, uow, pool_id, "payment", payment_of(item))
        for _ in range(3):
            operations.enqueue(pay.id, queue)
        wait_until(
            lambda: db.statuses([pay.id]).get("done"), 60, what=lambda: f"the payment\n{workers.logs()}"
        )
        # Let the duplicate jobs run too before counting.
        wait_until(lambda: queue.count == 0, 30, what="the queue to drain")
        time.sleep(1)
        assert len(workers.alive()) == 2
    assert len(items) == len(investors) == 50
    assert sum(i.amount_due for i in items) == Decimal("200000.00")  # 40% of 50 x 10,000
    assert journals_of(db, call.id) == 8  # ceil(50 / 7) batches, each posted once
    assert (
        db.scalar(
            """SELECT count(*) FROM entries e JOIN journals j ON j.id = e.journal_id
            WHERE j.operation_id = :op AND e.account = 'receivable'""",
            op=call.id,
        )
        == 50
    )
    assert journals_of(db, pay.id) == 1
    assert db.scalar("SELECT amount_paid FROM call_items WHERE id = :id", id=item.id) == item.amount_due
    assert_verified(db)


# --- the sweeper on its own -------------------------------------------------------------------------------


def test_the_sweeper_requeues_lost_jobs_and_only_those(db: Db, redis_client: Any) -> None:
    from rq.job import Job

    pool_id, manager = called_pool(db, investors=4)
    queue = queue_for(unique_queue_name())
    ids = submit_payments(db, manager, pool_id, queue, threads=1)
    queued, lost, started_long_ago, started_just_now = ids
    with db.uow_factory() as uow:  # all four look stale to the sweeper
        uow.session.execute(text("UPDATE operations SET updated_at = now() - interval '1 hour'"))
        uow.commit()
    redis_client.delete(Job.key_for(str(lost)))  # its job vanished (a flushed Redis, say)
    long_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    just_now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    redis_client.hset(
        Job.key_for(str(started_long_ago)), mapping={"status": "started", "started_at": long_ago}
    )
    redis_client.hset(
        Job.key_for(str(started_just_now)), mapping={"status": "started", "started_at": just_now}
    )

    def sweep() -> list[uuid.UUID]:
        with db.uow_factory() as uow:
            return operations.sweep(
                uow, queue, pending_after=timedelta(seconds=1), running_after=timedelta(seconds=60)
            )

    # Still queued, or just picked up by a worker: left alone. Gone, or started by a worker that
    # has since died: re-enqueued, once (the bump gives them their grace again).
    assert sorted(sweep()) == sorted([lost, started_long_ago])
    assert sweep() == []
    assert Job.fetch(str(lost), connection=queue.connection).get_status() == "queued"
    for op_id in ids:
        assert operations.process(str(op_id), db.uow_factory) == "done"
    assert sweep() == []
    assert_verified(db)


# --- 2. kill -9 in the middle of a capital call ---------------------------------------------------------


def test_kill_9_midway_through_a_capital_call_over_20000_investors(db: Db) -> None:
    investors = 20_000
    pool_id, manager, investor_ids = closed_pool_with_investors(db.make, investors, "10000")
    queue_name = unique_queue_name()
    queue = queue_for(queue_name)
    with db.uow_factory() as uow:
        call = operations.submit(
            manager,
            uow,
            pool_id,
            "capital_call",
            {"percent": "12.5", "purpose": "kill -9", "due_date": DUE},
            queue=queue,
        )
    assert call.progress_total == investors
    settings = {"DATABASE_URL": db.url, "QUEUE_NAME": queue_name, "OPERATION_BATCH_SIZE": 500}
    with running_workers(1, **settings, OPERATION_TIMEOUT_SECONDS=3) as workers:

        def progress() -> tuple[str, int]:
            with db.uow_factory() as uow:
                op = uow.session.get(Operation, call.id)
                return op.status, op.progress_done

        wait_until(
            lambda: progress()[1] > 0, 60, interval=0.02, what=lambda: f"a first batch\n{workers.logs()}"
        )
        victim = workers.procs[0]
        horses = workers.horses(victim)
        workers.kill(victim)
        status_at_kill, done_at_kill = progress()
        assert victim.poll() is not None
        assert horses, "the worker had no work horse running the call"
        assert status_at_kill == "running" and 0 < done_at_kill < investors, (status_at_kill, done_at_kill)

        workers.start(1)
        wait_until(
            lambda: progress()[0] == "done",
            240,
            interval=0.2,
            what=lambda: f"the call to complete\n{workers.logs()}",
        )

    total = Decimal(investors) * Decimal("10000") * Decimal("0.125")
    with db.uow_factory() as uow:
        capital_call = uow.session.execute(
            select(CapitalCall).where(CapitalCall.operation_id == call.id)
        ).scalar_one()
        assert capital_call.status == "issued" and capital_call.amount == total
        items = uow.session.execute(
            select(
                func.count(), func.count(func.distinct(CallItem.investor_id)), func.sum(CallItem.amount_due)
            ).where(CallItem.call_id == capital_call.id)
        ).one()
        assert tuple(items) == (investors, investors, total)
        charged = uow.session.execute(
            text(
                """SELECT count(*), count(DISTINCT e.investor_id), sum(e.amount),
                          count(*) FILTER (WHERE e.investor_id <> ALL(CAST(:ids AS bigint[])))
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE j.operation_id = :op AND e.account = 'receivable' AND e.side = 'D'"""
            ),
            {"op": call.id, "ids": investor_ids},
        ).one()
        assert tuple(charged) == (investors, investors, total, 0)  # every investor charged exactly once
        batches = uow.session.execute(
            select(func.count(), func.count(func.distinct(Journal.idempotency_key))).where(
                Journal.operation_id == call.id
            )
        ).one()
        assert tuple(batches) == (investors // 500, investors // 500)
    assert_verified(db)


# --- 3. Redis flushed with 1,000 payments queued --------------------------------------------------------


def test_flushing_redis_with_1000_payments_queued_loses_none_and_doubles_none(
    db: Db, redis_client: Any
) -> None:
    pool_id, manager = called_pool(db, investors=1000, amount="1000", percent="33.33")
    queue_name = unique_queue_name()
    queue = queue_for(queue_name)
    ids = submit_payments(db, manager, pool_id, queue)
    assert len(ids) == 1000 and queue.count == 1000
    redis_client.flushdb()
    assert queue.count == 0
    with running_workers(
        2, DATABASE_URL=db.url, QUEUE_NAME=queue_name, SWEEP_PENDING_AFTER_SECONDS=1, SWEEP_INTERVAL_SECONDS=1
    ) as workers:
        wait_until(
            lambda: db.statuses(ids).get("done") == 1000,
            900,
            interval=0.5,
            what=lambda: f"1,000 payments\n{workers.logs()}",
        )
        assert len(workers.alive()) == 2
    items = call_items(db, pool_id)
    assert len(items) == 1000
    assert all(i.status == "paid" and i.amount_paid == i.amount_due for i in items)
    assert (
        db.scalar("SELECT count(*) FROM journals WHERE pool_id = :p AND kind = 'payment'", p=pool_id) == 1000
    )
    assert (
        db.scalar(
            "SELECT count(DISTINCT operation_id) FROM journals WHERE pool_id = :p AND kind = 'payment'",
            p=pool_id,
        )
        == 1000
    )
    assert db.scalar(
        "SELECT sum(amount) FROM entries WHERE pool_id = :p AND account = 'cash' AND side = 'D'", p=pool_id
    ) == sum(i.amount_due for i in items)
    assert_verified(db)


# --- 4. PostgreSQL restarted (immediate stop) under the workers ---------------------------------------------


class PrivatePostgres:
    """An embedded PostgreSQL (pgserver) of the test's own, so stopping it disturbs nobody else."""

    def __init__(self) -> None:
        import pgserver

        self.folder = Path(tempfile.mkdtemp(prefix="ip-test-restart-"))
        self.server = pgserver.get_server(self.folder / "pg", cleanup_mode="delete")
        self.socket_dir = self.server.get_postmaster_info().socket_dir

    def url(self, database: str) -> str:
        return self.server.get_uri(database)

    def _pg_ctl(self, args: list[str]) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(args, pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def stop_immediately(self) -> None:
        """Like a crash: no checkpoint, every connection cut; recovery runs at the next start."""
        self._pg_ctl(["-w", "-m", "immediate", "stop"])

    def start(self) -> None:
        from pgserver.utils import PostmasterInfo

        self._pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start"]
        )
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.server.pgdata)  # noqa: SLF001

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.filterwarnings("ignore:XDG_RUNTIME_DIR")  # pgserver's lock file falls back to /tmp
def test_workers_ride_out_an_immediate_postgres_restart(private_postgres: PrivatePostgres) -> None:
    from db.migrate import upgrade

    with psycopg.connect(private_postgres.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE ip_restart")
    url = private_postgres.url("ip_restart")
    upgrade(url)
    factory = uow_factory_for(url)
    db = Db(url, factory, Factory(factory))
    try:
        _restart_under_load(db, private_postgres)
    finally:
        engine_for(url).dispose()


def _restart_under_load(db: Db, server: PrivatePostgres) -> None:
    pool_id, manager = called_pool(db, investors=200, amount="5000", percent="20")
    items = call_items(db, pool_id)
    queue_name = unique_queue_name()
    queue = queue_for(queue_name)
    submitted: list[uuid.UUID] = []
    failures: list[str] = []

    def submit_all() -> None:
        """A client that retries each request (same idempotency key) until its submission returns."""
        for item in items:
            for _ in range(300):
                try:
                    with db.uow_factory() as uow:
                        status = operations.submit(
                            manager,
                            uow,
                            pool_id,
                            "payment",
                            payment_of(item),
                            idempotency_key=f"restart:{item.id}",
                            queue=queue,
                        )
                    submitted.append(status.id)
                    break
                except Exception as exc:  # noqa: BLE001 - the database is down for a moment
                    failures.append(type(exc).__name__)
                    time.sleep(0.1)
            time.sleep(0.01)  # a steady stream, so the restart lands in the middle of it

    settings = {
        "DATABASE_URL": db.url,
        "QUEUE_NAME": queue_name,
        "SWEEP_PENDING_AFTER_SECONDS": 2,
        "OPERATION_TIMEOUT_SECONDS": 4,
    }
    with running_workers(2, **settings) as workers:
        client = threading.Thread(target=submit_all, name="client")
        client.start()
        try:
            wait_until(
                lambda: len(submitted) >= 60 and db.statuses(submitted).get("done", 0) >= 20,
                60,
                what=lambda: f"work under way\n{workers.logs()}",
            )
            server.stop_immediately()
            time.sleep(2)
            server.start()
        finally:
            client.join(120)
        assert not client.is_alive()
        assert len(submitted) == len(set(submitted)) == 200
        wait_until(
            lambda: db.statuses(submitted).get("done") == 200,
            300,
            interval=0.5,
            what=lambda: f"every submitted payment to be done: {db.statuses(submitted)}\n{workers.logs()}",
        )
        assert len(workers.alive()) == 2, workers.logs()
        logs = workers.logs(tail=10**7)
    assert failures, "the restart never touched the client: it happened too late to test anything"
    # The workers met the outage themselves, and got over it without help.
    assert "hit a transient error and will be retried" in logs or "sweep failed" in logs, logs[-4000:]
    assert (
        db.scalar("SELECT count(*) FROM journals WHERE pool_id = :p AND kind = 'payment'", p=pool_id) == 200
    )
    paid = call_items(db, pool_id)
    assert all(i.status == "paid" and i.amount_paid == i.amount_due for i in paid)
    assert_verified(db)


# --- malformed rows --------------------------------------------------------------------------------------


GARBAGE: list[tuple[str, Any, str]] = [
    ("payment", "not a mapping at all", "malformed request"),
    ("payment", {"call_item_id": "1; DROP TABLE operations"}, "Call item is not one of this pool's"),
    ("payment", {"call_item_id": 1}, "malformed request"),  # no amount
    ("payment", None, "malformed request"),
    ("capital_call", {"percent": "10"}, "could not be processed"),  # no call was ever recorded for it
    (
        "valuation",
        {
            "company_id": 1,
            "value": "1",
            "change": "1",
            "upto_journal": "abc",
            "date": "2024-01-01",
            "note": "x",
        },
        "could not be",
    ),
    ("distribution", {"proceeds": "NaN", "date": "2024-01-01", "upto_journal": 0, "memo": "x"}, "malformed"),
    ("no_such_kind", {}, "unknown operation kind"),
]


def test_malformed_operation_rows_fail_with_a_reason_and_the_worker_keeps_going(db: Db) -> None:
    pool_id, manager = called_pool(db, investors=2)
    item = call_items(db, pool_id)[0]
    queue_name = unique_queue_name()
    queue = queue_for(queue_name)
    bad = []
    with db.uow_factory() as uow:
        for kind, payload, _ in GARBAGE:
            op_id = uuid.uuid4()
            uow.session.add(
                Operation(
                    id=op_id,
                    kind=kind,
                    pool_id=pool_id,
                    actor_id=manager.user_id,
                    payload=payload,
                    idempotency_key=f"garbage:{op_id}",
                    progress_total=1,
                )
            )
            bad.append(op_id)
        uow.commit()
    with running_workers(1, DATABASE_URL=db.url, QUEUE_NAME=queue_name) as workers:
        worker = workers.procs[0]
        queue.enqueue(operations.JOB_FUNCTION, "not-a-uuid")  # a mangled job, too
        for op_id in bad:
            operations.enqueue(op_id, queue)
        wait_until(
            lambda: db.statuses(bad).get("failed") == len(bad),
            60,
            what=lambda: f"{db.statuses(bad)}\n{workers.logs()}",
        )
        with db.uow_factory() as uow:
            good = operations.submit(
                manager,
                uow,
                pool_id,
                "payment",
                payment_of(item),
                queue=queue,
            )
        wait_until(
            lambda: db.statuses([good.id]).get("done"), 60, what=lambda: f"the good payment\n{workers.logs()}"
        )
        assert worker.poll() is None and workers.alive() == [worker], workers.logs()
    with db.uow_factory() as uow:
        for op_id, (kind, _, reason) in zip(bad, GARBAGE, strict=True):
            op = uow.session.get(Operation, op_id)
            assert op.status == "failed" and op.error and reason in op.error, (kind, op.error)
            assert op.attempts == 1, (kind, op.attempts)  # failed once, never retried
            assert journals_of(db, op_id) == 0
    assert journals_of(db, good.id) == 1
    assert_verified(db)
