"""Rate limits kept in Redis, so every app replica, worker and process counts against one limit.

Each limit is a sliding window log: a sorted set per subject (an actor, a username, a client
address) holding one member per attempt, scored by the Redis server's clock (so replicas with
skewed clocks agree). One Lua script trims the window, counts, and records the attempt only if it
is allowed, atomically: two processes racing on the last slot cannot both get it. A refused
attempt is not recorded, so hammering a limit does not extend it.

Limits (core/settings.py, 0 turns one off):
- OPERATION_RATE_LIMIT: operation submissions per actor per minute, enforced inside
  core.operations.submit (a replay of an existing idempotency key is not a new submission);
- LOGIN_RATE_LIMIT_ACCOUNT / LOGIN_RATE_LIMIT_SOURCE per LOGIN_RATE_WINDOW_SECONDS: login
  attempts per username and per client address, checked before the password is (check_login).

When Redis is down the limiter degrades, it does not block: each process falls back to an
in-memory window with the same limits (so one replica still throttles a burst) and logs a
warning. Logins keep the database lockout (LOCKOUT_FAILURES per account) throughout, which
bounds password guessing per account whatever Redis does; refusing every login while a cache
is down would turn a Redis outage into a full outage. See docs/security.md.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import select

from core.errors import DomainError
from core.permissions import Actor
from core.settings import settings
from db.models import User
from db.session import UnitOfWork

log = logging.getLogger("investment_pools.ratelimit")
KEY_PREFIX = "ratelimit"

# KEYS[1] the window; ARGV limit, window in microseconds, a unique member for this attempt, and the
# mode: "hit" records the attempt if it is allowed, "peek" records nothing, "record" records it
# whatever the count (a failure that happened). Returns {allowed (1/0), microseconds until allowed}.
_SLIDING_WINDOW = """
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if ARGV[4] == 'record' or (ARGV[4] == 'hit' and count < limit) then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  count = count + 1
  if ARGV[4] == 'hit' then return {1, 0} end
end
if count < limit then return {1, 0} end
local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


@dataclass(frozen=True)
class Limit:
    name: str  # e.g. "operations", "login-account", "login-source"
    limit: int  # attempts allowed per window; 0 = no limit
    window_seconds: int


class RateLimited(DomainError):
    """Too many attempts in the window; nothing was done."""

    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"Too many {what}: try again in {retry_after} seconds.")
        self.retry_after = retry_after


def _key(limit: Limit, subject: str) -> str:
    # Hashed: a subject is user input (a typed username), never a key of unbounded length.
    return f"{KEY_PREFIX}:{limit.name}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


class _LocalWindows:
    """The same sliding windows in this process's memory: the fallback while Redis is down."""

    MAX_KEYS = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int, window: float, mode: str = "hit") -> float:
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > self.MAX_KEYS:  # forget the quietest windows rather than grow
                self._windows = {k: v for k, v in self._windows.items() if v and v[-1] > now - window}
            attempts = self._windows.setdefault(key, deque())
            while attempts and attempts[0] <= now - window:
                attempts.popleft()
            if mode == "record" or (mode == "hit" and len(attempts) < limit):
                attempts.append(now)
                if mode == "hit":
                    return 0.0
            if len(attempts) < limit:
                return 0.0
            return attempts[len(attempts) - limit] + window - now

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


_local = _LocalWindows()
_warned_at = 0.0


def _warn_degraded(exc: BaseException) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at > 60:  # once a minute per process, not once per request
        _warned_at = now
        log.warning(
            "rate limits degraded to this process only: Redis is unavailable (%s: %s)",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )


class RateLimiter:
    """The limits, counted in Redis (client None: in this process only, as when Redis is down).
    The composition root (core.bootstrap) builds one per process."""

    def __init__(self, client: Any, config: Any = None, *, off: bool = False) -> None:
        self._client = client
        self._config = config
        self._off = off  # a replay of history (the demo seed) is not a person at the keyboard

    @property
    def config(self) -> Any:
        return self._config or settings()

    def hit(self, limit: Limit, subject: str, mode: str = "hit") -> int:
        """Count one attempt by `subject`. 0 if it is allowed, else the whole seconds to wait.
        mode "peek" only looks; "record" counts an attempt that already happened (a failed login)."""
        if limit.limit <= 0 or self._off:
            return 0
        key = _key(limit, subject)
        window_us = limit.window_seconds * 1_000_000
        try:
            if self._client is None:
                raise redis.ConnectionError("no Redis configured")
            allowed, wait_us = self._client.eval(
                _SLIDING_WINDOW, 1, key, limit.limit, window_us, uuid.uuid4().hex, mode
            )
        except (redis.RedisError, OSError) as exc:
            if self._client is not None:
                _warn_degraded(exc)
            wait = _local.hit(key, limit.limit, float(limit.window_seconds), mode)  # float-ok: seconds
            return 0 if wait <= 0 else max(1, math.ceil(wait))
        if int(allowed):
            return 0
        return max(1, math.ceil(int(wait_us) / 1_000_000))

    def clear(self, limit: Limit, subject: str) -> None:
        """Forget a subject's attempts (an admin's unlock, a test's clean start)."""
        key = _key(limit, subject)
        _local.clear(key)
        if self._client is None:
            return
        try:
            self._client.delete(key)
        except (redis.RedisError, OSError) as exc:
            _warn_degraded(exc)

    # --- the limits the product enforces ----------------------------------------------------------

    def operations_limit(self) -> Limit:
        return Limit("operations", self.config.operation_rate_limit, 60)

    def login_limits(self) -> tuple[Limit, Limit]:
        window = self.config.login_rate_window_seconds
        return (
            Limit("login-account", self.config.login_rate_limit_account, window),
            Limit("login-source", self.config.login_rate_limit_source, window),
        )

    def check_submission(self, actor: Actor) -> None:
        """One operation submission by this actor; RateLimited past OPERATION_RATE_LIMIT a minute.

        The system actor (seeding, the sweeper, the CLI) is not a person and is not limited.
        """
        if actor.is_system or actor.user_id is None:
            return
        wait = self.hit(self.operations_limit(), str(actor.user_id))
        if wait:
            raise RateLimited("requests", wait)

    def check_login(self, uow: UnitOfWork, username: str, source: str | None) -> None:
        """Before the password of a login for `username` from `source` (a client address, None if
        unknown) is checked: over either limit of failed logins, the refusal is audited and
        RateLimited raised. Only failures count (record_login_failure): signing in ten times in
        five minutes is not an attack. Failures count whether the username exists or not, so
        spraying many usernames from one address is throttled as well as guessing one account's
        password from many addresses."""
        account_limit, source_limit = self.login_limits()
        account = (username or "").strip().lower()[:200]
        waits = {"account": self.hit(account_limit, account, "peek")}
        if source:
            waits["source"] = self.hit(source_limit, source[:200], "peek")
        refused_by = [name for name, wait in waits.items() if wait]
        if not refused_by:
            return
        error = RateLimited("login attempts", max(waits.values()))
        user_id = uow.session.execute(select(User.id).where(User.username == account)).scalar_one_or_none()
        where = f"by {' and '.join(refused_by)}" + (f" (source {source[:64]})" if source else "")
        uow.record_refusal(
            user_id, "login", "user", account[:64] or None, f"rate limited {where}: {error.message}"
        )
        raise error

    def record_login_failure(self, username: str, source: str | None) -> None:
        account_limit, source_limit = self.login_limits()
        self.hit(account_limit, (username or "").strip().lower()[:200], "record")
        if source:
            self.hit(source_limit, source[:200], "record")
