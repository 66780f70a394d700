"""The unit of work the services take: one transaction, plus the process's collaborators.

A service reaches the cache, the rate limiter, the job queue and the change notifier only through
the unit of work it was handed, never by importing them, so the composition root (core.bootstrap)
decides what they are: real Redis in the app and workers, nothing at all in a fast unit test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from core.cache import Cache, Notifier
from core.ratelimit import RateLimiter
from db.session import UnitOfWork as Transaction


@dataclass(frozen=True)
class Resources:
    """What a process's services share besides the database. The defaults work without Redis:
    figures are computed, limits counted in this process, nothing enqueued or published."""

    cache: Cache = field(default_factory=lambda: Cache(None))
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(None))
    notifier: Notifier = field(default_factory=lambda: Notifier(None))
    queue: Any = None  # the RQ queue durable operations are triggered through (None: the sweeper's job)
    redis: Any = None  # the raw client, for the operations health page
    describe: Callable[[], str] = lambda: ""  # which database and Redis are in use, passwords masked


class UnitOfWork(Transaction):
    """One transaction (rollback unless commit() is called) and the process's Resources."""

    def __init__(self, engine: Engine, resources: Resources | None = None) -> None:
        super().__init__(engine)
        self.resources = resources or Resources()

    @property
    def cache(self) -> Cache:
        return self.resources.cache

    @property
    def limiter(self) -> RateLimiter:
        return self.resources.limiter

    @property
    def notifier(self) -> Notifier:
        return self.resources.notifier

    @property
    def queue(self) -> Any:
        return self.resources.queue
