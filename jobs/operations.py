"""RQ jobs. They take ids, never objects, and may run twice: core.operations makes that harmless."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from core import bootstrap, metrics, operations
from core.settings import settings
from db.models import Operation

log = logging.getLogger("investment_pools.jobs")


DRAIN_ROUNDS = 50  # at most this many group commits per job, so one job never runs for ever


def process_operation(operation_id: str) -> str:
    """Run one operation to the end, then group-commit waiting payments (operations.drain).
    Transient database errors on the job's own operation propagate so RQ retries with backoff."""
    try:
        outcome = operations.process(operation_id, bootstrap.unit_of_work, on_change=_changed)
    except Exception as exc:
        if operations.is_transient(exc):
            log.warning("operation %s hit a transient error and will be retried: %s", operation_id, exc)
        raise
    _drain()
    return outcome


def _counted(op: Operation) -> None:
    if op.status in ("done", "failed"):
        metrics.OPERATIONS.labels(kind=op.kind, status=op.status).inc()
        # End-to-end, from the submission (created_at): the wait in the queue is part of it.
        metrics.OPERATION_SECONDS.labels(kind=op.kind).observe(
            (datetime.now(UTC) - op.created_at).total_seconds()
        )


def _changed(op: Operation) -> None:
    _counted(op)
    bootstrap.resources().notifier.publish_change(
        op.pool_id, operation=str(op.id), status=op.status, done=op.progress_done, total=op.progress_total
    )


def _drain() -> None:
    """Take waiting payments in groups while there are any; their own jobs are then dropped. Each
    group tells listeners once per pool it touched, not once per payment."""
    queue = bootstrap.queue()
    touched: Counter[int] = Counter()

    def counted(op: Operation) -> None:
        _counted(op)
        if op.pool_id is not None:
            touched[op.pool_id] += 1

    for _ in range(DRAIN_ROUNDS):
        touched.clear()
        try:
            done = operations.drain(bootstrap.unit_of_work, on_change=counted)
        except Exception as exc:  # noqa: BLE001 - each operation still has its own job and the sweeper
            log.warning("group commit stopped: %s", exc)
            return
        if not done:
            return
        for pool_id, count in touched.items():
            bootstrap.resources().notifier.publish_change(pool_id, operations=count)
        operations.forget_jobs(done, queue)


def sweep() -> int:
    """Re-enqueue lost work; every worker runs this now and then, and once when it starts."""
    config = settings()
    with bootstrap.unit_of_work() as uow:
        ids = operations.sweep(
            uow,
            bootstrap.queue(),
            pending_after=timedelta(seconds=config.sweep_pending_after_seconds),
            running_after=timedelta(seconds=config.operation_timeout_seconds),
        )
    if ids:
        log.info("sweeper re-enqueued %d operation(s)", len(ids))
    return len(ids)
