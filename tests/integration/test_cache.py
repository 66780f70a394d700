"""The figures cache: keyed by the pool's ledger version (and the day the figures are as of), so a
posting shows at once; and with Redis gone the same figures come straight from PostgreSQL, with a
warning and no error. Checked on the manager's dashboard and the investor's portfolio."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core import bootstrap, cache, clock, operations, runtime
from core.permissions import Actor
from core.views import investor as investor_views
from core.views import manager as manager_views
from db.models import CallItem, CapitalCall
from tests.workers import closed_pool_with_investors, process_in_process, queue_for, unique_queue_name

DUE = str(date.today() + timedelta(days=14))


@pytest.fixture
def called(make: Any, redis_client: Any) -> tuple[int, Actor, list[Any]]:
    """A closed pool of three investors (100,000 each) with a 40% call issued: 40,000 due from each."""
    pool_id, manager, investor_ids = closed_pool_with_investors(make, 3, "100000")
    status = process_in_process(
        make, manager, pool_id, "capital_call", {"percent": "40", "purpose": "cache", "due_date": DUE}
    )
    assert status.status == "done", status.error
    with make.uow_factory() as uow:
        items = uow.session.execute(
            select(CallItem.id, CallItem.investor_id, CallItem.amount_due)
            .join(CapitalCall)
            .where(CapitalCall.pool_id == pool_id)
            .order_by(CallItem.id)
        ).all()
    return pool_id, manager, items


def analytics(make: Any, actor: Actor, pool_id: int) -> Any:
    with make.uow_factory() as uow:
        return manager_views.dashboard(actor, uow, pool_id)


def portfolio(investor: Actor, uow: Any) -> list[Any]:
    overview = investor_views.portfolio_overview(investor, uow, investor_views.period_for("inception"))
    return overview.holdings


def pay(make: Any, manager: Actor, pool_id: int, item: Any, amount: Decimal, **submit: Any) -> Any:
    # A reference of its own: the same payload twice is, by design, the same request (one operation).
    payload = {"call_item_id": item.id, "amount": str(amount), "reference": f"WIRE-{uuid.uuid4().hex[:12]}"}
    if not submit:
        return process_in_process(make, manager, pool_id, "payment", payload)
    with make.uow_factory() as uow:
        status = operations.submit(manager, uow, pool_id, "payment", payload, **submit)
    assert operations.process(str(status.id), make.uow_factory) == "done"
    return status


def test_a_cached_figure_changes_right_after_a_posting(make: Any, called: Any, redis_client: Any) -> None:
    pool_id, manager, items = called
    before = analytics(make, manager, pool_id)
    assert before.called == Decimal("120000") and before.paid_in == 0 and before.outstanding == before.called
    key = bootstrap.resources().cache.full_key(
        f"manager:dashboard:top10:{pool_id}:v{before.version}:{clock.today().isoformat()}"
    )
    assert redis_client.exists(key), "the figures were not cached under the pool's version"

    # Served from the cache: the stored entry is what comes back (proved by planting a marker in it).
    stored = cache._decode(redis_client.get(key))  # noqa: SLF001
    redis_client.set(key, cache._encode({**stored, "investors": before.investors + 1000}))  # noqa: SLF001
    assert analytics(make, manager, pool_id).investors == before.investors + 1000

    half = items[0].amount_due / 2
    pay(make, manager, pool_id, items[0], half)
    after = analytics(make, manager, pool_id)
    assert after.version > before.version
    assert after.paid_in == half
    assert after.cash == before.cash + half
    assert after.outstanding == before.outstanding - half
    assert after.nav == before.nav + half
    assert redis_client.exists(
        bootstrap.resources().cache.full_key(
            f"manager:dashboard:top10:{pool_id}:v{after.version}:{clock.today().isoformat()}"
        )
    )
    # The planted entry is simply unreachable now: the posting moved the version on.
    assert after.investors == before.investors

    # The investor's own portfolio summary moves the same way, under the versions of their pools.
    investor = Actor(items[0].investor_id, "investor", "seeded")
    with make.uow_factory() as uow:
        (holding,) = [h for h in portfolio(investor, uow) if h.pool_id == pool_id]
    assert holding.figures.paid_in == half and holding.figures.outstanding == items[0].amount_due - half
    pay(make, manager, pool_id, items[0], items[0].amount_due - half)
    with make.uow_factory() as uow:
        (holding,) = [h for h in portfolio(investor, uow) if h.pool_id == pool_id]
    assert holding.figures.paid_in == items[0].amount_due and holding.figures.outstanding == 0
    assert analytics(make, manager, pool_id).paid_in == items[0].amount_due


def test_with_redis_down_the_page_level_services_answer_from_postgres(
    make: Any,
    called: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    pool_id, manager, items = called
    pay(make, manager, pool_id, items[1], items[1].amount_due)
    expected = analytics(make, manager, pool_id)
    investor = Actor(items[1].investor_id, "investor", "seeded")
    with make.uow_factory() as uow:
        expected_holdings = portfolio(investor, uow)

    # Redis goes away: the application's own client (its timeouts and retry policy) on a dead port.
    bootstrap.redis_client.cache_clear()
    bootstrap.resources.cache_clear()
    monkeypatch.setattr(runtime, "redis_url", lambda: "redis://127.0.0.1:1/0")
    request.addfinalizer(bootstrap.redis_client.cache_clear)
    request.addfinalizer(bootstrap.resources.cache_clear)
    dead = bootstrap.redis_client()
    caplog.set_level(logging.WARNING)
    started = time.perf_counter()
    got = analytics(make, manager, pool_id)
    elapsed = time.perf_counter() - started
    assert got == expected
    # Degraded, not hanging: no retry storm against a Redis that is not there.
    assert elapsed < 2.5, f"the page waited {elapsed:.1f} s for a Redis that is down"
    assert got.paid_in == items[1].amount_due
    with make.uow_factory() as uow:
        assert portfolio(investor, uow) == expected_holdings
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "cache unavailable" in r.message
    ]
    assert warnings, "no warning says the cache is down"

    # Money still moves: the request is stored (its job waits for the sweeper) and, once processed,
    # the figures computed from PostgreSQL show it straight away.
    caplog.clear()
    dead_queue = queue_for(unique_queue_name())
    dead_queue.connection = dead
    status = pay(make, manager, pool_id, items[2], Decimal("1000.00"), queue=dead_queue)
    assert status.status == "pending"
    assert any("could not enqueue" in r.message for r in caplog.records), "the lost enqueue was not logged"
    now = analytics(make, manager, pool_id)
    assert now.paid_in == expected.paid_in + Decimal("1000.00")
    assert now.version > expected.version


def test_a_kept_value_is_served_by_its_key_alone_and_only_the_last_few_are_kept(redis_client: Any) -> None:
    """cached(kept=True) (the explorer's pools): a key already read is answered by the process,
    without Redis; a new key (a posting's new version) is computed; only the last KEPT are kept."""
    store = cache.Cache(redis_client, lambda: f"kept-test-{uuid.uuid4().hex}")
    computed: list[str] = []

    def read(key: str) -> dict[str, str]:
        def compute() -> dict[str, str]:
            computed.append(key)
            return {"figures": key}

        return store.cached(key, compute, lambda data: data, kept=True)

    first = read("v1")
    assert computed == ["v1"] and redis_client.exists(store.full_key("v1"))
    redis_client.delete(store.full_key("v1"))
    assert read("v1") is first and computed == ["v1"], "answered by the process, Redis not needed"
    assert read("v2") == {"figures": "v2"} and computed == ["v1", "v2"], "a new version is computed"
    for n in range(cache.KEPT):
        read(f"other-{n}")
    redis_client.delete(store.full_key("v1"))
    assert read("v1") == {"figures": "v1"} and computed.count("v1") == 2, "the oldest is no longer kept"
    store.forget_kept()
    again = read("v1")
    assert again == first and again is not first and computed.count("v1") == 2, (
        "after forgetting, Redis answers"
    )
