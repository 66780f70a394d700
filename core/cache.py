"""Redis as a cache and a notice board, never a source of truth.

Keys carry the pool's ledger version, so a posting (which bumps the version) makes old entries
unreachable at once; they expire on their own. When Redis is down every read falls back to
PostgreSQL with a warning, and nothing a user does fails because of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, fields, is_dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import redis
from sqlalchemy import text

from core import metrics

log = logging.getLogger("investment_pools.cache")
TTL_SECONDS = 24 * 3600
T = TypeVar("T")
_stats = {"hit": 0, "miss": 0, "error": 0}


def _client() -> redis.Redis:
    from core import runtime

    return runtime.redis_client()


@lru_cache(maxsize=1)
def _namespace() -> str:
    """Which database the cached figures belong to: its name and oid, so a re-created database
    (a reset demo, a restored backup, another test run on the same Redis) never reads stale entries."""
    from core import runtime

    with runtime.engine().connect() as connection:
        name, oid = connection.execute(
            text("SELECT datname, oid FROM pg_database WHERE datname = current_database()")
        ).one()
    return f"{name}:{oid}"


def _encode(value: Any) -> str:
    return json.dumps(value, default=lambda v: {"__decimal__": str(v)} if isinstance(v, Decimal) else str(v))


def _decode(text: str | bytes) -> Any:
    return json.loads(text, object_hook=lambda d: Decimal(d["__decimal__"]) if "__decimal__" in d else d)


def full_key(key: str) -> str:
    """The Redis key a cache entry lives under."""
    return f"{_namespace()}:{key}"


def cached(key: str, compute: Callable[[], T], load: Callable[[Any], T]) -> T:
    """The cached value under key, or compute() stored there; `load` rebuilds it from JSON."""
    key = full_key(key)
    try:
        raw = _client().get(key)
    except redis.RedisError as exc:
        _count("error")
        log.warning("cache unavailable (%s); computing %s from PostgreSQL", type(exc).__name__, key)
        return compute()
    if raw is not None:
        _count("hit")
        return load(_decode(raw))
    _count("miss")
    value = compute()
    try:
        _client().set(key, _encode(asdict(value) if is_dataclass(value) else value), ex=TTL_SECONDS)
    except redis.RedisError as exc:
        log.warning("cache unavailable (%s); %s not stored", type(exc).__name__, key)
    return value


def _count(result: str) -> None:
    _stats[result] += 1
    metrics.CACHE_REQUESTS.labels(result=result).inc()


def hit_rate() -> float | None:
    """This process's hit rate since start, for the operations health page."""
    looked = _stats["hit"] + _stats["miss"]
    return None if looked == 0 else _stats["hit"] / looked


def from_fields(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return lambda data: cls(**{name: data[name] for name in names})


def publish_change(pool_id: int | None, version: int | None = None, **details: Any) -> None:
    """Tell listeners a pool moved; best effort, pages poll the version in PostgreSQL anyway."""
    if pool_id is None:
        return
    try:
        _client().publish(f"pools:{pool_id}", _encode({"pool_id": pool_id, "version": version, **details}))
    except redis.RedisError as exc:
        log.warning("could not publish change of pool %s (%s)", pool_id, type(exc).__name__)
