"""The RQ worker process: RQ's forking Worker on the operations queue."""

from __future__ import annotations

import redis
from rq import Queue, Worker

from core import runtime
from core.settings import settings


def run_worker(*, burst: bool = False) -> int:
    # No socket timeout here: the worker blocks on the queue for longer than a page would wait.
    connection = redis.Redis.from_url(runtime.redis_url())
    queue = Queue(settings().queue_name, connection=connection)
    Worker([queue], connection=connection).work(burst=burst, with_scheduler=True)
    return 0
