"""The worker process: RQ's forking Worker on the operations queue, plus the sweeper and metrics."""

from __future__ import annotations

import logging
import threading

import redis
from rq import Queue, Worker

from core import metrics, runtime
from core.services.notices import notices_queue
from core.settings import settings
from jobs import notices
from jobs.operations import sweep

log = logging.getLogger("investment_pools.worker")


def _sweeper(stop: threading.Event, queue: Queue) -> None:
    """Every few seconds: re-enqueue lost work and publish the queue depth. Any worker may do it;
    doing it twice is harmless (processing is idempotent), so no leader election is needed."""
    interval = settings().sweep_interval_seconds
    while not stop.wait(interval):
        try:
            sweep()
            notices.sweep()  # reminders due, and notices whose render or send job was lost
            metrics.QUEUE_DEPTH.labels(queue=queue.name).set(queue.count)
        except Exception as exc:  # noqa: BLE001 - the database or Redis may be restarting; try again later
            log.warning("sweep failed, will retry: %s", exc)


class PoolsWorker(Worker):
    """RQ's forking Worker. After each work horse has exited and been reaped, its Prometheus multiprocess
    files are folded into the worker's archive files and deleted (core.metrics.absorb_dead_process), so
    PROMETHEUS_MULTIPROC_DIR holds a bounded number of files however many jobs ran, and the totals the
    worker's /metrics reports keep every finished horse's counts."""

    _metrics_horse_pid = 0

    def fork_work_horse(self, job, queue):  # noqa: ANN001, ANN201 - RQ's signature
        super().fork_work_horse(job, queue)  # the horse never returns from this: it exits inside
        self._metrics_horse_pid = self._horse_pid

    def execute_job(self, job, queue):  # noqa: ANN001, ANN201 - RQ's signature
        try:
            return super().execute_job(job, queue)
        finally:
            pid, self._metrics_horse_pid = self._metrics_horse_pid, 0
            # RQ resets _horse_pid to 0 once it has waited for the horse; if it has not (an exception
            # while monitoring), the horse may still be writing: leave its files to the next start.
            if pid and not self._horse_pid:
                try:
                    metrics.absorb_dead_process(pid)
                except Exception as exc:  # noqa: BLE001 - metrics must never stop the worker
                    log.warning("could not fold the metrics of work horse %s: %s", pid, exc)


def run_worker(*, burst: bool = False) -> int:
    config = settings()
    # No socket timeout here: the worker blocks on the queue longer than a page would wait.
    connection = redis.Redis.from_url(runtime.redis_url(), health_check_interval=30)
    queue = Queue(config.queue_name, connection=connection)
    if config.metrics_port:
        metrics.serve(config.metrics_port)
        log.info("metrics on :%d/metrics", config.metrics_port)
    try:
        sweep()
    except Exception as exc:  # noqa: BLE001 - start anyway; the periodic sweep will catch up
        log.warning("initial sweep failed: %s", exc)
    stop = threading.Event()
    threading.Thread(target=_sweeper, args=(stop, queue), name="sweeper", daemon=True).start()
    try:
        # Operations first: a worker takes a notice's job only when no operation waits.
        PoolsWorker([queue, notices_queue(queue)], connection=connection).work(
            burst=burst, with_scheduler=True
        )
    finally:
        stop.set()
    return 0
