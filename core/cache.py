"""Redis as a cache and a notice board, never a source of truth.

Keys carry the pool's ledger version, so a posting (which bumps the version) makes old entries
unreachable at once; they expire on their own. When Redis is down (or there is none: a Cache
without a client) every read computes from PostgreSQL, and nothing a user does fails because of it.
The composition root (core.bootstrap) builds one Cache and one Notifier per process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, fields, is_dataclass
from decimal import Decimal
from typing import Any, TypeVar

import redis

from core import metrics

log = logging.getLogger("investment_pools.cache")
TTL_SECONDS = 24 * 3600
KEPT = 2  # values a process keeps itself (cached(kept=True)): the last few read
T = TypeVar("T")


def _encode(value: Any) -> str:
    return json.dumps(value, default=lambda v: {"__decimal__": str(v)} if isinstance(v, Decimal) else str(v))


def _decode(text: str | bytes) -> Any:
    return json.loads(text, object_hook=lambda d: Decimal(d["__decimal__"]) if "__decimal__" in d else d)


def from_fields(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return lambda data: cls(**{name: data[name] for name in names})


class Cache:
    """Computed figures under versioned keys. namespace: which database they belong to (its name and
    oid), so a re-created database (a reset demo, another test run on the same Redis) never reads
    stale entries; asked once, when first needed."""

    def __init__(self, client: redis.Redis | None, namespace: Callable[[], str] = lambda: "") -> None:
        self._client = client
        self._namespace_of = namespace
        self._namespace: str | None = None
        self._stats = {"hit": 0, "miss": 0, "error": 0}
        self._kept: OrderedDict[str, Any] = OrderedDict()
        self._kept_lock = threading.Lock()

    def full_key(self, key: str) -> str:
        """The Redis key a cache entry lives under."""
        if self._namespace is None:
            self._namespace = self._namespace_of()
        return f"{self._namespace}:{key}"

    def cached(
        self,
        key: str,
        compute: Callable[[], T],
        load: Callable[[Any], T],
        dump: Callable[[T], Any] | None = None,
        *,
        kept: bool = False,
    ) -> T:
        """The cached value under key, or compute() stored there; `dump` makes it JSON (by default
        a dataclass's fields), `load` rebuilds it from that. A computed value is returned as is.

        kept: the process also keeps the value (the last KEPT of them), for a large one read on
        every rerun, whose rebuilding from JSON costs more than its reading (the explorer's
        thousands of pools). The key's version makes that as safe as Redis; callers must not
        change what they are given."""
        if self._client is None:
            return compute()
        key = self.full_key(key)
        if kept:
            with self._kept_lock:
                if key in self._kept:
                    self._count("hit")
                    self._kept.move_to_end(key)
                    return self._kept[key]
        value = self._read(key, compute, load, dump)
        if kept:
            with self._kept_lock:
                self._kept[key] = value
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)
        return value

    def _read(
        self, key: str, compute: Callable[[], T], load: Callable[[Any], T], dump: Callable[[T], Any] | None
    ) -> T:
        try:
            raw = self._client.get(key)  # type: ignore[union-attr]
        except redis.RedisError as exc:
            self._count("error")
            log.warning("cache unavailable (%s); computing %s from PostgreSQL", type(exc).__name__, key)
            return compute()
        if raw is not None:
            self._count("hit")
            return load(_decode(raw))
        self._count("miss")
        value = compute()
        try:
            stored = dump(value) if dump else asdict(value) if is_dataclass(value) else value  # type: ignore[arg-type]
            self._client.set(key, _encode(stored), ex=TTL_SECONDS)  # type: ignore[union-attr]
        except redis.RedisError as exc:
            log.warning("cache unavailable (%s); %s not stored", type(exc).__name__, key)
        return value

    def forget_kept(self) -> None:
        """Drop what this process keeps (a benchmark's cold run; Redis's entries are the caller's)."""
        with self._kept_lock:
            self._kept.clear()

    def _count(self, result: str) -> None:
        self._stats[result] += 1
        metrics.CACHE_REQUESTS.labels(result=result).inc()

    def hit_rate(self) -> float | None:
        """This process's hit rate since start, for the operations health page."""
        looked = self._stats["hit"] + self._stats["miss"]
        return None if looked == 0 else self._stats["hit"] / looked


class Notifier:
    """Tells listeners a pool moved; best effort: pages poll the version in PostgreSQL anyway."""

    def __init__(self, client: redis.Redis | None) -> None:
        self._client = client

    def publish_change(self, pool_id: int | None, version: int | None = None, **details: Any) -> None:
        if pool_id is None or self._client is None:
            return
        try:
            self._client.publish(
                f"pools:{pool_id}", _encode({"pool_id": pool_id, "version": version, **details})
            )
        except redis.RedisError as exc:
            log.warning("could not publish change of pool %s (%s)", pool_id, type(exc).__name__)
