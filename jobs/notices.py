"""RQ jobs for notices (core.services.notices): render, send, and the sweeper's part.

render_notices() renders pending notices batch by batch, each batch committed with its documents,
then triggers one send job per ready notice; after a while it queues itself again and lets other
work in. send_notice() sends one notice; a failed try raises
so that RQ's Retry runs it again after the backoff (MAIL_RETRY_SECONDS), until the notice's own
count of tries says it failed. Both may run twice or at once on two workers: rows are locked and
their status decides. sweep() triggers again what a killed worker or a flushed Redis lost, and
writes the reminders that have come due.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import select

from core import bootstrap, clock
from core.domain import RUNNING_POOLS
from core.permissions import Actor
from core.services import notices
from core.settings import settings
from db.models import Pool

log = logging.getLogger("investment_pools.jobs.notices")

SWEEP_RENDER_JOB = "notices-render-sweep"
REMIND_EVERY_SECONDS = 60  # reminders are by the day: looking once a minute is plenty
RENDER_SLICE_SECONDS = 20  # a render job's longest turn on a worker
_last_reminded = 0.0


def render_notices() -> int:
    """Render pending notices, a batch per transaction, until an operation waits on the operations
    queue (or RENDER_SLICE_SECONDS have passed): then the job queues itself again, so that a large
    call's thousands of notices hold a payment or another call up for one batch at most, even on a
    single worker (`make run`). Returns how many it rendered."""
    queue = bootstrap.queue()
    started = time.monotonic()
    rendered = 0
    while True:
        with bootstrap.unit_of_work() as uow:
            batch = notices.render_pending(uow)
            uow.commit()  # also when none was found: batches found done are closed
        if not batch.count:
            return rendered
        rendered += batch.count
        notices.enqueue_sends(queue, batch.ready)
        if queue.count or time.monotonic() - started > RENDER_SLICE_SECONDS:
            notices.enqueue_render(queue)
            return rendered


def send_notice(notice_id: int) -> str:
    """Send one notice; notices.SendLater propagates so that RQ retries it after its backoff."""
    with bootstrap.unit_of_work() as uow:
        try:
            return notices.deliver(uow, int(notice_id))
        except notices.SendLater as exc:
            log.info("notice %s not sent this time: %s", notice_id, exc)
            raise


# A job in one of these states is still on its way to a worker (or waiting for its retry); a started
# one only if it started lately: a killed worker's job stays "started" in Redis.
_WAITING = {b"queued", b"scheduled", b"deferred", b"created"}


def _waiting(queue: Any, job_ids: list[str], *, started_since: datetime) -> set[str]:
    """Which of these jobs Redis still holds as on their way to this queue's workers (one pipelined
    round trip). A job left on another queue (a QUEUE_NAME since changed) is on its way to nobody."""
    if not job_ids:
        return set()
    ours = {notices.notices_queue(queue).name.encode(), queue.name.encode()}
    with queue.connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(Job.key_for(job_id), "status", "started_at", "origin")
        states = pipe.execute()
    return {
        job_id
        for job_id, (state, started_at, origin) in zip(job_ids, states, strict=True)
        if origin in ours
        and (
            state in _WAITING
            or (state == b"started" and started_at and utcparse(started_at.decode()) > started_since)
        )
    }


def sweep() -> None:
    """Write the reminders due today (at most once a minute), and trigger again the rendering of
    notices left pending and the sending of ready ones whose job Redis no longer holds."""
    global _last_reminded
    config = settings()
    queue = bootstrap.queue()
    with bootstrap.unit_of_work() as uow:
        if time.monotonic() - _last_reminded >= REMIND_EVERY_SECONDS:
            written = notices.remind(uow, clock.today())
            uow.commit()
            _last_reminded = time.monotonic()
            if written:
                log.info("%d reminder(s) written", written)
        lost = notices.lost(uow, grace=timedelta(seconds=config.sweep_pending_after_seconds))
    since = datetime.now(UTC) - timedelta(seconds=config.operation_timeout_seconds)
    if lost.pending and not _waiting(queue, [SWEEP_RENDER_JOB], started_since=since):
        notices.enqueue_render(queue, job_id=SWEEP_RENDER_JOB)
        log.info("sweeper triggered the rendering of %d pending notice(s)", lost.pending)
    waiting = _waiting(queue, [notices.send_job_id(i) for i in lost.ready], started_since=since)
    resend = [i for i in lost.ready if notices.send_job_id(i) not in waiting]
    if resend:
        notices.enqueue_sends(queue, resend)
        log.info("sweeper re-enqueued %d notice(s) to send", len(resend))


def issue_quarter_statements(quarter_end: str | None = None) -> int:
    """Issue the last ended quarter's statements (or quarter_end's) for every running pool, as the
    system; pools issued already are skipped by their notices' keys. For a scheduler (RQ's cron, a
    Kubernetes CronJob) a few days after each quarter's end."""
    end = (
        date.fromisoformat(quarter_end)
        if quarter_end
        else notices.quarter_of(clock.today())[0] - timedelta(days=1)
    )
    with bootstrap.unit_of_work() as uow:
        pool_ids = list(uow.session.execute(select(Pool.id).where(Pool.status.in_(RUNNING_POOLS))).scalars())
    written = 0
    for pool_id in pool_ids:
        with bootstrap.unit_of_work() as uow:
            written += notices.issue_statements(Actor.system(), uow, pool_id, end)
    return written
