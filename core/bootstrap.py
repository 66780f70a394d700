"""The composition root: each process's connections and collaborators, built here and only here.

It builds the database engine, the Redis client, the operations queue, the cache, the rate limiter
and the change notifier, and registers every operation kind with the engine. Services receive them
through the unit of work it hands out; nothing else reaches for them. App, workers, the CLI, tests
and benchmarks all start from unit_of_work().
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from sqlalchemy import Engine, text

from core import operations, runtime, seed
from core.cache import Cache, Notifier
from core.ratelimit import RateLimiter
from core.services import (
    calls,
    commitments,
    corrections,
    distributions,
    expenses,
    exports,
    fees,
    investments,
    payments,
    winddown,
)
from core.settings import SettingsError, settings
from core.uow import Resources, UnitOfWork
from db.migrate import code_head
from db.session import engine_for

operations.register(
    commitments.SettleCommitments(),
    calls.IssueCapitalCall(),
    payments.RecordPaymentKind(),
    fees.ChargeManagementFee(),
    expenses.ChargeFundExpense(),
    investments.RecordInvestment(),
    investments.RecordValuation(),
    investments.RecordExit(),
    distributions.DistributeProceeds(),
    winddown.WindDownPool(),
    corrections.ReversePosting(),
    exports.ExportCsv(),
)


def engine() -> Engine:
    return engine_for(runtime.database_url())


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    # Short timeouts: Redis is only a cache and a trigger, never worth hanging a page for. One quick
    # retry (a pooled connection gone stale), no more: redis-py's default of 10 retries with backoff
    # would make every cache read take seconds while Redis is down.
    return redis.Redis.from_url(
        runtime.redis_url(),
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1),
    )


def queue() -> Queue:
    """The RQ queue that durable operations are triggered through."""
    return Queue(settings().queue_name, connection=redis_client())


def _namespace() -> str:
    """Which database cached figures belong to (its name and oid), and which release's shapes they
    have (its schema head): during a rolling deploy the previous release and this one share Redis,
    and neither may read the other's figures (a capital-account line added is a field more)."""
    with engine().connect() as connection:
        name, oid = connection.execute(
            text("SELECT datname, oid FROM pg_database WHERE datname = current_database()")
        ).one()
    return f"{name}:{oid}:{code_head()}"


@lru_cache(maxsize=1)
def resources() -> Resources:
    client = redis_client()
    return Resources(
        cache=Cache(client, _namespace),
        limiter=RateLimiter(client),
        notifier=Notifier(client),
        queue=queue(),
        redis=client,
        describe=runtime.describe,
    )


def unit_of_work() -> UnitOfWork:
    return UnitOfWork(engine(), resources())


def check_production_ready(uow_factory: Callable[[], UnitOfWork] | None = None) -> None:
    """Refuse to run a production deployment that anyone could walk into: a default or short cookie
    key (Settings.check), or an account that still has its published demo password (core.seed).
    Raises SettingsError with what to fix; outside production only the settings are checked."""
    config = settings()
    config.check()
    if config.environment != "production":
        return
    with (uow_factory or unit_of_work)() as uow:
        found = seed.demo_passwords_in_use(uow)
    if found:
        raise SettingsError(
            f"refusing to run in production (APP_ENV=production): the account(s) {', '.join(found)} still "
            "have the demo passwords printed in the README. Deactivate them (admin Users page) or, better, "
            "start production from an empty database and `python -m core createuser`; the demo runs "
            "without APP_ENV=production."
        )


def stop() -> None:
    """Close this process's connections and stop the embedded servers it started (the launcher's Ctrl-C)."""
    if runtime.database_url.cache_info().currsize:
        engine().dispose()
    if redis_client.cache_info().currsize:
        redis_client().close()
        redis_client.cache_clear()
        resources.cache_clear()
    runtime.stop_embedded()


def _after_fork_in_child() -> None:
    """RQ forks a work horse per job: it must not share the parent's pooled sockets."""
    if runtime.database_url.cache_info().currsize:
        engine().dispose(close=False)
    redis_client.cache_clear()
    resources.cache_clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
