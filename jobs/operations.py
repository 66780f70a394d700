"""RQ jobs. They take ids, never objects, and may run twice: core.operations makes that harmless."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from core import cache, metrics, operations, runtime
from core.settings import settings
from db.models import Operation

log = logging.getLogger("investment_pools.jobs")


def process_operation(operation_id: str) -> str:
    """Run one operation to the end. Transient database errors propagate so RQ retries with backoff."""
    started = time.perf_counter()

    def changed(op: Operation) -> None:
        if op.status in ("done", "failed"):
            metrics.OPERATIONS.labels(kind=op.kind, status=op.status).inc()
            metrics.OPERATION_SECONDS.labels(kind=op.kind).observe(time.perf_counter() - started)
        cache.publish_change(
            op.pool_id, operation=str(op.id), status=op.status, done=op.progress_done, total=op.progress_total
        )

    try:
        return operations.process(operation_id, runtime.unit_of_work, on_change=changed)
    except Exception as exc:
        if operations.is_transient(exc):
            log.warning("operation %s hit a transient error and will be retried: %s", operation_id, exc)
        raise


def sweep() -> int:
    """Re-enqueue lost work; every worker runs this now and then, and once when it starts."""
    config = settings()
    with runtime.unit_of_work() as uow:
        ids = operations.sweep(
            uow,
            runtime.operations_queue(),
            pending_after=timedelta(seconds=config.sweep_pending_after_seconds),
            running_after=timedelta(seconds=config.operation_timeout_seconds),
        )
    if ids:
        log.info("sweeper re-enqueued %d operation(s)", len(ids))
    return len(ids)
