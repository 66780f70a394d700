"""The worker process: RQ's forking Worker on the operations queue, plus the sweeper and metrics."""

from __future__ import annotations

import logging
import threading

import redis
from rq import Queue, Worker

from core import metrics, runtime
from core.settings import settings
from jobs.operations import sweep

log = logging.getLogger("investment_pools.worker")


def _sweeper(stop: threading.Event, queue: Queue) -> None:
    """Every few seconds: re-enqueue lost work and publish the queue depth. Any worker may do it;
    doing it twice is harmless (processing is idempotent), so no leader election is needed."""
    interval = settings().sweep_interval_seconds
    while not stop.wait(interval):
        try:
            sweep()
            metrics.QUEUE_DEPTH.labels(queue=queue.name).set(queue.count)
        except Exception as exc:  # noqa: BLE001 - the database or Redis may be restarting; try again later
            log.warning("sweep failed, will retry: %s", exc)


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
        Worker([queue], connection=connection).work(burst=burst, with_scheduler=True)
    finally:
        stop.set()
    return 0
