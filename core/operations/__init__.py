"""Durable operations: a money-moving request is a PostgreSQL row first and an RQ job second.

submit()  validates, writes the row (idempotency key unique) with any state change, and after
          commit enqueues a job whose id is the operation id.
process() is what the job runs: per batch it locks the row FOR UPDATE SKIP LOCKED, does the next
          slice of work in the same transaction as the progress it records, and commits. A
          killed worker loses at most its current batch, which the next run redoes; a second
          run of a finished operation returns at once.
sweep()   re-enqueues operations left pending or running too long (lost job, flushed Redis).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import UUID, Row, String, any_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from core.errors import NotFound, PermissionDenied, ValidationError
from core.logs import log_context
from core.operations.kind import KINDS, MAX_REQUESTS, Kind, grouped_kinds, refusal, register
from core.permissions import ADMIN, FUND_MANAGER, Actor, managed_by, require_role
from core.services.audit import audits_refused_reads, records_refusals
from core.uow import UnitOfWork
from db.models import Operation, Pool, User

log = logging.getLogger("investment_pools.operations")
JOB_FUNCTION = "jobs.operations.process_operation"


@dataclass(frozen=True)
class OperationStatus:
    id: uuid.UUID
    kind: str
    pool_id: int | None
    status: str
    progress_done: int
    progress_total: int
    error: str | None
    result: dict[str, Any] | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    replayed: bool = False  # the same request was recorded before: this is that first operation

    @property
    def fraction(self) -> float:
        """For progress bars only; never money."""
        if self.status == "done":
            return 1.0
        return self.progress_done / self.progress_total if self.progress_total else 0.0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @classmethod
    def of(cls, op: Operation | Row[Any]) -> OperationStatus:
        """From an Operation or a row of the operations table (submission reads rows, not objects)."""
        return cls(
            op.id,
            op.kind,
            op.pool_id,
            op.status,
            op.progress_done,
            op.progress_total,
            op.error,
            op.result,
            op.attempts,
            op.created_at,
            op.updated_at,
        )


def derived_key(kind: str, actor: Actor, pool_id: int | None, payload: dict[str, Any]) -> str:
    """The same request twice (a double click, a resent form) gets the same key, hence one operation."""
    canonical = json.dumps(
        {"kind": kind, "actor": actor.user_id, "pool": pool_id, "payload": payload},
        sort_keys=True,
        default=str,
    )
    return f"{kind}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def enqueue(operation_id: uuid.UUID, queue: Any) -> None:
    """Trigger the job; losing this (Redis down) is harmless: the sweeper finds the row later."""
    enqueue_many([operation_id], queue)


def enqueue_many(operation_ids: list[uuid.UUID], queue: Any) -> None:
    """Trigger jobs in one Redis round trip (a statement's payments, the sweeper after a flush):
    quick enough that the work is queued before another worker's sweeper could take the same
    operations for lost."""
    from rq import Retry

    if not operation_ids:
        return
    try:
        queue.enqueue_many(
            [
                queue.prepare_data(
                    JOB_FUNCTION,
                    (str(operation_id),),
                    job_id=str(operation_id),
                    retry=Retry(max=5, interval=[1, 2, 5, 10, 30]),
                    result_ttl=3600,
                    failure_ttl=86400,
                )
                for operation_id in operation_ids
            ]
        )
    except Exception as exc:  # noqa: BLE001 - any Redis failure: the rows are durable, the sweeper retries
        log.warning("could not enqueue %d operation(s) (%s); the sweeper will retry", len(operation_ids), exc)


# Deletes the jobs that still wait in the queue; a worker that pops a deleted job skips it without
# forking. A job a worker has already taken runs, finds its operation done and returns.
_FORGET_WAITING = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'status') == 'queued' then redis.call('DEL', key); n = n + 1 end
end
return n
"""


def forget_jobs(operation_ids: list[uuid.UUID], queue: Any) -> None:
    """Drop the waiting jobs of operations already done (by drain()); purely a saving."""
    from rq.job import Job

    if not operation_ids:
        return
    try:
        queue.connection.eval(
            _FORGET_WAITING, len(operation_ids), *(Job.key_for(str(i)) for i in operation_ids)
        )
    except Exception as exc:  # noqa: BLE001 - the jobs then run and return at once
        log.warning("could not drop %d finished job(s): %s", len(operation_ids), exc)


def submit(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int | None,
    kind: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    queue: Any = None,
) -> OperationStatus:
    """Validate and record a money-moving request; the same key twice returns the first operation."""
    return submit_many(actor, uow, pool_id, kind, [payload], idempotency_keys=[idempotency_key], queue=queue)[
        0
    ]


@records_refusals("operation.submit", "pool")
def submit_many(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int | None,
    kind: str,
    payloads: list[dict[str, Any]],
    *,
    idempotency_keys: list[str | None] | None = None,
    queue: Any = None,
) -> list[OperationStatus]:
    """Record requests of one kind on one pool in one transaction, in their order.

    Each is still its own operation (row, key), posted or refused on its own in the worker; at
    submission one refused line refuses them all, named by its number, and nothing is written. A
    key already recorded returns its first operation (a resent form, a statement uploaded twice).
    Each gets its job, except a grouped kind's (payments): one job drains them all.
    """
    handler = KINDS.get(kind)
    if handler is None:
        raise ValidationError("kind", f"unknown operation kind {str(kind)[:40]!r}")
    if not isinstance(payloads, list) or not 1 <= len(payloads) <= MAX_REQUESTS:
        raise ValidationError("payloads", f"must be a list of 1 to {MAX_REQUESTS:,} requests")
    for line, payload in enumerate(payloads, 1):
        if not isinstance(payload, dict):
            raise ValidationError("payload" if len(payloads) == 1 else f"line {line}", "must be a mapping")
    given = idempotency_keys or [None] * len(payloads)
    if len(given) != len(payloads):
        raise ValidationError("idempotency_keys", "must name one key per request")
    keys = [
        (key or derived_key(kind, actor, pool_id, payload))[:200]
        for key, payload in zip(given, payloads, strict=True)
    ]
    first_line: dict[str, int] = {}
    for line, key in enumerate(keys, 1):
        if first_line.setdefault(key, line) != line:
            raise ValidationError(f"line {line}", f"repeats line {first_line[key]}")
    return _record(actor, uow, pool_id, handler, payloads, keys, queue)


def _record(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int | None,
    handler: Kind,
    payloads: list[dict[str, Any]],
    keys: list[str],
    queue: Any,
) -> list[OperationStatus]:
    recorded = {
        op.idempotency_key: op
        for op in uow.session.execute(
            select(Operation.__table__).where(
                Operation.idempotency_key == any_(bindparam("keys", keys, ARRAY(String)))
            )
        )
    }
    replays = set(recorded)
    if any(op.actor_id != actor.user_id or op.kind != handler.name for op in recorded.values()):
        raise ValidationError("idempotency_key", "is already used by another request")
    fresh = [(key, payload) for key, payload in zip(keys, payloads, strict=True) if key not in recorded]
    # A refusal names the line the user sent (several requests), skipping those already recorded.
    lines = [line for line, key in enumerate(keys, 1) if key not in recorded] if len(keys) > 1 else None
    if fresh:
        # Only a new request counts against the actor's limit; a replay returns the first one.
        uow.limiter.check_submission(actor)
        if pool_id is None and handler.needs_pool:
            raise ValidationError("pool_id", "is required")
        # A kind that needs no pool (an export) is handed None for it.
        pool: Any = _pool(uow, pool_id) if handler.needs_pool else None
        prepared = handler.prepare_many(actor, uow, pool, [payload for _, payload in fresh], lines)
        rows: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "kind": handler.name,
                "pool_id": pool.id if pool else None,
                "actor_id": actor.user_id,
                "payload": clean,
                "idempotency_key": key,
                "progress_total": total,
            }
            for (key, _), (clean, total) in zip(fresh, prepared, strict=True)
        ]
        # Arrays, not a VALUES row per request: the SQL text stays the same for any number of them.
        inserted = uow.session.execute(
            text(
                """INSERT INTO operations (id, kind, pool_id, actor_id, payload, idempotency_key, progress_total)
                   SELECT new.id, :kind, :pool, :actor, payload.value, new.idempotency_key, new.progress_total
                     FROM unnest(CAST(:ids AS uuid[]), CAST(:keys AS text[]), CAST(:totals AS integer[]))
                          WITH ORDINALITY AS new(id, idempotency_key, progress_total, n)
                     JOIN jsonb_array_elements(CAST(:payloads AS jsonb)) WITH ORDINALITY AS payload(value, n)
                       ON payload.n = new.n
                   ON CONFLICT (idempotency_key) DO NOTHING
                   RETURNING *"""
            ),
            {
                "kind": handler.name,
                "pool": pool.id if pool else None,
                "actor": actor.user_id,
                "ids": [row["id"] for row in rows],
                "payloads": json.dumps([row["payload"] for row in rows]),
                "keys": [row["idempotency_key"] for row in rows],
                "totals": [row["progress_total"] for row in rows],
            },
        ).all()
        if len(inserted) < len(rows):  # a key won a race a moment ago: start again from what it recorded
            uow.rollback()
            return _record(actor, uow, pool_id, handler, payloads, keys, queue)
        for row in rows:
            handler.on_submit(uow, pool, row["id"], row["payload"])
        uow.audit_many(
            actor.user_id,
            f"operation.{handler.name}",
            "operation",
            [(row["id"], None, {"pool_id": row["pool_id"], **row["payload"]}) for row in rows],
        )
        recorded.update((op.idempotency_key, op) for op in inserted)
        if queue is not None:
            # A grouped kind's job group-commits every waiting operation of its kind (drain), so
            # one job carries a whole statement; an operation it misses is still a pending row,
            # which another job's drain or the sweeper picks up.
            triggers = [rows[0]["id"]] if handler.grouped else [row["id"] for row in rows]
            uow.after_commit(lambda: enqueue_many(triggers, queue))
        uow.commit()
        for row in rows:
            with log_context(operation_id=row["id"], actor_id=actor.user_id, pool_id=row["pool_id"]):
                log.info("operation %s (%s) submitted", row["id"], handler.name)
    return [dataclasses.replace(OperationStatus.of(recorded[key]), replayed=key in replays) for key in keys]


def _pool(uow: UnitOfWork, pool_id: int | None) -> Pool:
    pool = uow.session.get(Pool, pool_id) if isinstance(pool_id, int) else None
    if pool is None:
        raise NotFound(f"no pool {pool_id}")
    return pool


def _visible(actor: Actor, uow: UnitOfWork, ops: list[Row[Any]]) -> None:
    """The submitter, the manager of the pool and admins may look; one query for any number."""
    if actor.is_system or actor.role == ADMIN:
        return
    pool_ids = {op.pool_id for op in ops if op.actor_id != actor.user_id}
    if not pool_ids:
        return
    if actor.role == FUND_MANAGER and None not in pool_ids:
        managed = uow.session.execute(
            select(func.count()).where(Pool.id.in_(pool_ids), managed_by(actor.user_id))
        ).scalar_one()
        if managed == len(pool_ids):  # a manager (lead or co-manager) of every one of them
            return
    raise PermissionDenied("you may not see this operation")


@audits_refused_reads
def operation_status(actor: Actor, uow: UnitOfWork, operation_id: uuid.UUID | str) -> OperationStatus:
    """Status, progress and error for the progress bars; the submitter, the manager and admins may look."""
    return operation_statuses(actor, uow, [operation_id])[0]


@audits_refused_reads
def operation_statuses(
    actor: Actor, uow: UnitOfWork, operation_ids: list[uuid.UUID | str]
) -> list[OperationStatus]:
    """Many operations' statuses in their order, in one query (the payments of a bank statement)."""
    try:
        ids = [uuid.UUID(str(operation_id)) for operation_id in operation_ids]
    except ValueError:
        raise NotFound("no such operation") from None
    # The status columns only (not the payload): a page following a statement asks every second.
    columns = [
        getattr(Operation, name)
        for name in (*OperationStatus.__dataclass_fields__, "actor_id")
        if name != "replayed"
    ]
    found = {
        op.id: op
        for op in uow.session.execute(
            select(*columns).where(Operation.id == any_(bindparam("ids", ids, ARRAY(UUID))))
        )
    }
    if not ids or len(found) < len(set(ids)):
        raise NotFound("no such operation")
    _visible(actor, uow, list(found.values()))
    return [OperationStatus.of(found[i]) for i in ids]


@audits_refused_reads
def list_operations(
    actor: Actor, uow: UnitOfWork, *, status: str | None = None, limit: int = 200
) -> list[OperationStatus]:
    require_role(actor, ADMIN)
    query = select(Operation).order_by(Operation.created_at.desc()).limit(limit)
    if status:
        query = query.where(Operation.status == status)
    return [OperationStatus.of(op) for op in uow.session.execute(query).scalars()]


@records_refusals("operation.retry", "operation")
def retry(actor: Actor, uow: UnitOfWork, operation_id: str, *, queue: Any = None) -> OperationStatus:
    """An admin sends a failed operation round again (after fixing what made it fail)."""
    require_role(actor, ADMIN)
    op = uow.session.execute(
        select(Operation).where(Operation.id == uuid.UUID(str(operation_id))).with_for_update()
    ).scalar_one_or_none()
    if op is None:
        raise NotFound("no such operation")
    if op.status != "failed":
        raise ValidationError("operation", f"only a failed operation can be retried; this one is {op.status}")
    op.status, op.error, op.updated_at = "pending", None, func.now()
    uow.audit(
        actor.user_id, "operation.retry", "operation", op.id, {"status": "failed"}, {"status": "pending"}
    )
    if queue is not None:
        uow.after_commit(lambda: enqueue(op.id, queue))
    uow.commit()
    return OperationStatus.of(op)


# --- the worker side -------------------------------------------------------------------------------

TRANSIENT_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03", "08000", "08003", "08006", "55P03"}


def _fail(op: Operation, reason: str, now: Any = None) -> None:
    now = func.now() if now is None else now
    op.status, op.error, op.finished_at, op.updated_at = "failed", reason[:2000], now, now


def process(
    operation_id: str,
    uow_factory: Callable[[], UnitOfWork],
    on_change: Callable[[Operation], None] | None = None,
) -> str:
    """Run an operation to the end, batch by batch; safe to call twice, or from two workers at once."""
    try:
        op_id = uuid.UUID(str(operation_id))
    except ValueError:
        log.warning("ignoring job with malformed operation id %r", str(operation_id)[:64])
        return "missing"
    with log_context(operation_id=op_id):
        return _process(op_id, uow_factory, on_change)


def _process(
    op_id: uuid.UUID, uow_factory: Callable[[], UnitOfWork], on_change: Callable[[Operation], None] | None
) -> str:
    while True:
        with uow_factory() as uow:
            op = uow.session.execute(
                select(Operation).where(Operation.id == op_id).with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if op is None:
                exists = uow.session.execute(select(Operation.id).where(Operation.id == op_id)).first()
                return "busy" if exists else "missing"
            if op.status in ("done", "failed"):
                return op.status
            _step(uow, op)
            uow.commit()
            _finished(op, on_change)
            if op.status in ("done", "failed"):
                return op.status


def _step(uow: UnitOfWork, op: Operation) -> None:
    """One batch of one locked operation, in a savepoint of the caller's transaction: a refusal or a
    bug fails this operation with its reason; a transient error propagates (nothing is recorded)."""
    _start(op)
    finished = False
    try:
        with uow.session.begin_nested():
            handler = KINDS.get(op.kind)
            if handler is None:
                raise ValidationError("kind", f"unknown operation kind {op.kind!r}")
            pool: Any = _pool(uow, op.pool_id) if handler.needs_pool else None
            actor = _actor(uow, op.actor_id)
            op.progress_done = handler.run_batch(uow, op, pool, actor)
            finished = op.progress_done >= op.progress_total
            if finished:
                op.result = handler.finish(uow, op, pool)
    except Exception as exc:
        if is_transient(exc):
            raise  # rolled back; RQ retries with backoff and the sweeper catches the rest
        reason = refusal(exc)
        if reason is not None:
            _fail(op, reason)
            log.info("operation %s (%s) failed: %s", op.id, op.kind, reason)
        else:
            # Anything else would fail the same way on every retry: fail it, once, with the reason.
            _fail(op, f"could not be processed: {type(exc).__name__}: {str(exc).splitlines()[0][:500]}")
            log.exception("operation %s (%s) failed unexpectedly", op.id, op.kind)
        if op.kind in KINDS:
            KINDS[op.kind].on_failure(uow, op)
    else:
        op.updated_at = func.now()
        if finished:
            op.status, op.finished_at = "done", func.now()


def _start(op: Operation) -> None:
    if op.status == "pending":
        op.status, op.attempts = "running", op.attempts + 1
        log.info(
            "operation %s (%s) started, attempt %d",
            op.id,
            op.kind,
            op.attempts,
            extra={"actor_id": op.actor_id, "pool_id": op.pool_id},
        )


def _finished(op: Operation, on_change: Callable[[Operation], None] | None) -> None:
    """After the commit: tell the caller (metrics, change events) and log the outcome."""
    if on_change is not None:
        on_change(op)
    if op.status in ("done", "failed"):
        log.info(
            "operation %s (%s) %s",
            op.id,
            op.kind,
            op.status,
            extra={"actor_id": op.actor_id, "pool_id": op.pool_id},
        )


def drain(
    uow_factory: Callable[[], UnitOfWork],
    on_change: Callable[[Operation], None] | None = None,
    limit: int = 500,
) -> list[uuid.UUID]:
    """Group commit: process up to `limit` pending one-batch operations (payments) set-based in
    one transaction, so a worker keeps up with many small requests instead of paying a job, a
    fork, a dozen statements and a commit for each. Rows another worker holds are skipped; the
    jobs of the operations done here find them done and return at once."""
    with uow_factory() as uow:
        ops = list(
            uow.session.execute(
                select(Operation)
                .where(Operation.kind.in_(grouped_kinds()), Operation.status == "pending")
                .order_by(Operation.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        for kind in sorted({op.kind for op in ops}):
            _run_group(uow, [op for op in ops if op.kind == kind])
        uow.commit()
    for op in ops:
        with log_context(operation_id=op.id):
            _finished(op, on_change)
    return [op.id for op in ops]


def _run_group(uow: UnitOfWork, ops: list[Operation]) -> None:
    """One kind's operations set-based, in a savepoint; if the group as a whole hits something
    unexpected, each operation is taken on its own instead, so only the culprit fails."""
    try:
        # No autoflush, no 'running' step: every row is written once, at the end of the group.
        with uow.session.begin_nested(), uow.session.no_autoflush:
            for op in ops:
                op.attempts += 1
            pool_ids = {op.pool_id for op in ops}
            pools = {
                p.id: p for p in uow.session.execute(select(Pool).where(Pool.id.in_(pool_ids))).scalars()
            }
            refused = KINDS[ops[0].kind].run_group(uow, ops, pools, _actors(uow, {op.actor_id for op in ops}))
            # The transaction's now() as a value, not an expression: the rows' updates then go
            # to the database as one batch instead of one statement each.
            now: Any = uow.session.scalar(select(func.now()))
            for op in ops:
                if op.id in refused:
                    _fail(op, refused[op.id], now)
                    log.info("operation %s (%s) failed: %s", op.id, op.kind, refused[op.id])
                else:
                    op.progress_done = op.progress_total
                    op.result = KINDS[op.kind].finish(uow, op, pools[op.pool_id or 0])
                    op.status, op.finished_at, op.updated_at = "done", now, now
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception("a group of %d %s operation(s) failed; taking them one by one", len(ops), ops[0].kind)
        for op in ops:
            with log_context(operation_id=op.id):
                _step(uow, op)


def _actors(uow: UnitOfWork, user_ids: set[int]) -> dict[int, Actor]:
    """The submitters as they are now: a manager removed since submission can no longer move money."""
    rows = uow.session.execute(
        select(User.id, User.role, User.username).where(User.id.in_(user_ids), User.active)
    ).all()
    return {row.id: Actor(row.id, row.role, row.username) for row in rows}


def _actor(uow: UnitOfWork, user_id: int) -> Actor:
    actor = _actors(uow, {user_id}).get(user_id)
    if actor is None:
        raise PermissionDenied("the user who submitted this operation is no longer active")
    return actor


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a lost connection, a serialization failure, a deadlock, a restarting server,
    or the job's time running out (the batch rolled back; the next run resumes from the last one)."""
    import psycopg
    from rq.timeouts import BaseTimeoutException
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, (OperationalError, BaseTimeoutException)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # Raw driver errors too: the capital call's COPY talks to psycopg directly.
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, psycopg.OperationalError):
        return True
    return getattr(orig, "sqlstate", None) in TRANSIENT_SQLSTATES


# A job in one of these states is still on its way to a worker: re-enqueueing it would only queue
# a duplicate (and, with a backlog longer than the grace period, duplicates of duplicates).
_WAITING_JOB_STATES = {b"queued", b"scheduled", b"deferred", b"created", b"ready_to_enqueue", b"rate_limited"}


def _waiting_jobs(queue: Any, ids: list[uuid.UUID], *, started_since: datetime) -> set[uuid.UUID]:
    """Which of these operations' jobs Redis still holds, waiting to run, or started by a worker
    since started_since (its work horse is about to lock the row; stealing the row from it would
    only make it give up). One pipelined round trip."""
    if not ids:
        return set()
    from rq.job import Job
    from rq.utils import utcparse

    try:
        with queue.connection.pipeline(transaction=False) as pipe:
            for operation_id in ids:
                pipe.hmget(Job.key_for(str(operation_id)), "status", "started_at")
            rows = pipe.execute()
    except Exception as exc:  # noqa: BLE001 - Redis down: enqueueing will fail and be logged anyway
        log.warning("could not read job states (%s); treating every job as lost", exc)
        return set()
    waiting = set()
    for operation_id, (state, started_at) in zip(ids, rows, strict=True):
        if state in _WAITING_JOB_STATES or (
            state == b"started" and started_at and utcparse(started_at.decode()) > started_since
        ):
            waiting.add(operation_id)
    return waiting


def sweep(
    uow: UnitOfWork, queue: Any, *, pending_after: timedelta, running_after: timedelta, limit: int = 1000
) -> list[uuid.UUID]:
    """Re-enqueue operations whose job is lost: pending past a short grace, or running without
    progress for long, and whose job Redis no longer holds as waiting (a flushed Redis, a killed
    worker, a dropped enqueue). Rows a worker holds right now are locked, hence skipped; rows whose
    job is merely waiting in a long queue are neither locked nor touched.

    Times are the database's own clock at the moment of each statement (clock_timestamp, not the
    transaction's start): a sweeper slow under load must not see another's fresh bump as stale."""
    clock = func.clock_timestamp()
    stale = or_(
        (Operation.status == "pending") & (Operation.updated_at < clock - pending_after),
        (Operation.status == "running") & (Operation.updated_at < clock - running_after),
    )
    candidates = list(
        uow.session.execute(
            select(Operation.id).where(stale).order_by(Operation.created_at).limit(limit * 20)
        ).scalars()
    )
    waiting = _waiting_jobs(queue, candidates, started_since=datetime.now(UTC) - running_after)
    lost = [operation_id for operation_id in candidates if operation_id not in waiting][:limit]
    rows: list[tuple[uuid.UUID, str]] = []
    if lost:
        rows = [
            (row.id, row.kind)
            for row in uow.session.execute(
                select(Operation.id, Operation.kind)
                .where(Operation.id.in_(lost), stale)
                .order_by(Operation.created_at)
                .with_for_update(skip_locked=True)
            )
        ]
    ids = [operation_id for operation_id, _ in rows]
    if ids:
        # A fresh updated_at gives each re-enqueued operation its full grace again.
        uow.session.execute(update(Operation).where(Operation.id.in_(ids)).values(updated_at=clock))
    uow.commit()
    # One job's drain takes every waiting operation of a grouped kind (a bank statement's payments
    # have one job between them), so those need one trigger, not one each.
    grouping = grouped_kinds()
    grouped = [operation_id for operation_id, kind in rows if kind in grouping][:1]
    enqueue_many([operation_id for operation_id, kind in rows if kind not in grouping] + grouped, queue)
    return ids


__all__ = [
    "KINDS",
    "register",
    "OperationStatus",
    "derived_key",
    "drain",
    "enqueue",
    "enqueue_many",
    "forget_jobs",
    "is_transient",
    "list_operations",
    "operation_status",
    "process",
    "retry",
    "submit",
    "sweep",
]
