"""Platform analytics and operations health, against a small platform built through the real services:
every figure agrees with core.positions and the fund maths, filters narrow the pools, the cache
follows the platform version, and only the roles allowed may look."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import bcrypt
import pytest
import redis
from sqlalchemy import select, text

from core import bootstrap, operations, positions
from core.errors import PermissionDenied, ValidationError
from core.fundmath import multiples, xirr
from core.ledger import posting as ledger
from core.permissions import Actor
from core.services import health, platform, pools, users
from core.services import ledger as ledger_service
from core.settings import settings
from db.models import AuditLog, Operation
from tests.conftest import Factory

D = Decimal
TODAY = date.today()
CALLED_ON, PAID_ON, BOUGHT_ON = (
    TODAY - timedelta(days=400),
    TODAY - timedelta(days=390),
    TODAY - timedelta(days=380),
)
MARKED_ON, DISTRIBUTED_ON = TODAY - timedelta(days=30), TODAY - timedelta(days=20)


def run(uow_factory: Any, actor: Actor, pool_id: int, kind: str, **payload: Any) -> None:
    with uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload)
    assert operations.process(str(status.id), uow_factory) == "done"


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    """Pool A (venture, USD): raised 1,100,000 against a 1,000,000 target on days 10, 20 and 35 after
    opening; called 50%, paid, invested, marked up and partly distributed. Pool B (growth, EUR): open,
    500,000 of 2,000,000. Pool C (venture, USD): a draft of another manager."""
    from core import bootstrap

    uow_factory = bootstrap.unit_of_work
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        make = Factory(uow_factory)
        manager, other = make.user("fund_manager"), make.user("fund_manager")
        a, _ = make.pool(
            manager,
            strategy="venture",
            currency="USD",
            target_size="1000000",
            hard_cap="1500000",
            max_ticket="700000",
        )
        b, _ = make.pool(
            manager,
            strategy="growth",
            currency="EUR",
            target_size="2000000",
            hard_cap="2500000",
            max_ticket="700000",
        )
        c, _ = make.pool(other, status="draft", strategy="venture")
        investors = [make.user("investor") for _ in range(3)]
        for investor, amount in zip(investors, ("600000", "300000", "200000"), strict=True):
            make.commitment(a, investor, amount=amount, accept_as=manager)
        make.commitment(b, investors[0], amount="500000", accept_as=manager)
        with uow_factory() as uow:
            # Fundraising took 35 days: the opening and the decisions are moved back in time.
            uow.session.execute(
                text(
                    "UPDATE pools SET opened_at = now() - interval '500 days', "
                    "created_at = now() - interval '510 days' WHERE id = :a"
                ),
                {"a": a},
            )
            for investor, days in zip(investors, (10, 20, 35), strict=True):
                uow.session.execute(
                    text(
                        "UPDATE commitments SET decided_at = (SELECT opened_at FROM pools WHERE id = :a) "
                        "+ make_interval(days => :d) WHERE pool_id = :a AND investor_id = :i"
                    ),
                    {"a": a, "d": days, "i": investor.user_id},
                )
            uow.commit()
        with uow_factory() as uow:
            pools.close_pool(manager, uow, a)
        run(
            uow_factory,
            manager,
            a,
            "capital_call",
            percent="50",
            purpose="first call",
            call_date=str(CALLED_ON),
            due_date=str(CALLED_ON + timedelta(days=14)),
        )
        with uow_factory() as uow:
            items = uow.session.execute(
                text(
                    "SELECT ci.id, ci.investor_id, ci.amount_due FROM call_items ci JOIN capital_calls cc "
                    "ON cc.id = ci.call_id WHERE cc.pool_id = :a ORDER BY ci.id"
                ),
                {"a": a},
            ).all()
        for item_id, _, due in items:
            run(
                uow_factory,
                manager,
                a,
                "payment",
                call_item_id=item_id,
                amount=str(due),
                reference="wire",
                paid_on=str(PAID_ON),
            )
        run(
            uow_factory,
            manager,
            a,
            "investment",
            action="buy",
            company="Acme",
            amount="500000",
            date=str(BOUGHT_ON),
        )
        run(uow_factory, manager, a, "valuation", value="700000", note="marked up", date=str(MARKED_ON))
        run(
            uow_factory,
            manager,
            a,
            "distribution",
            proceeds="40000",
            memo="dividend",
            date=str(DISTRIBUTED_ON),
        )
        yield {
            "a": a,
            "b": b,
            "c": c,
            "manager": manager,
            "other": other,
            "investors": investors,
            "analyst": make.user("analyst"),
            "admin": make.user("admin"),
            "investor": investors[0],
        }


def explore(uow_factory: Any, actor: Actor, **filters: Any) -> platform.Explorer:
    with uow_factory() as uow:
        return platform.explorer(actor, uow, platform.Filters(**filters))


def test_explorer_figures_come_from_the_ledger(world: dict[str, Any], uow_factory: Any) -> None:
    a, b = world["a"], world["b"]
    data = explore(uow_factory, world["analyst"], managers=(world["manager"].user_id,))
    by_id = {p.pool_id: p for p in data.pools}
    assert set(by_id) == {a, b}
    with uow_factory() as uow:
        books = positions.pool_total(uow.session, a)
        flows = positions.dated_capital_flows(uow.session, a, positions.last_journal(uow.session, a))
    pool = by_id[a]
    assert (pool.committed, pool.called, pool.paid_in, pool.distributed, pool.nav) == (
        books.committed,
        books.called,
        books.paid_in,
        books.distributed,
        books.nav,
    )
    assert pool.committed == D("1100000") and pool.paid_in == D("550000") and pool.distributed > 0
    expected = multiples(books.paid_in, books.distributed, books.nav)
    assert (pool.tvpi, pool.dpi, pool.rvpi) == (expected.tvpi, expected.dpi, expected.rvpi)
    dated: list[tuple[date, Decimal]] = []
    for mine in flows.values():
        dated += [(d, -x) for d, x in mine["payment"]] + [(d, x) for d, x in mine["distribution"]]
    expected_irr = xirr([*dated, (TODAY, books.nav)])
    assert pool.irr is not None and abs(pool.irr - expected_irr) < D("1e-9") and pool.irr > 0
    assert pool.vintage == CALLED_ON.year, "the vintage is the year of the first capital call"
    assert pool.days_to_target == 35
    assert pool.raised_pct == D("110.00")
    assert (pool.investors, pool.top1_share, pool.top5_share) == (3, D("54.55"), D("100.00"))

    fundraising = by_id[b]
    assert (fundraising.currency, fundraising.status, fundraising.committed) == ("EUR", "open", D("500000"))
    assert fundraising.paid_in == 0 and fundraising.tvpi is None and fundraising.irr is None
    assert fundraising.days_to_target is None and fundraising.raised_pct == D("25.00")
    assert data.reached_target == 1

    called = {(m.month, m.currency): m for m in data.flows}
    month = called[(CALLED_ON.replace(day=1), "USD")]
    assert month.called == D("550000")
    assert called[(PAID_ON.replace(day=1), "USD")].contributed == D("550000")
    assert called[(DISTRIBUTED_ON.replace(day=1), "USD")].distributed == pool.distributed
    [vintage] = [v for v in data.vintages if v.vintage == CALLED_ON.year]
    assert vintage.median_tvpi is not None and vintage.reached_target >= 1


def test_filters_narrow_the_pools(world: dict[str, Any], uow_factory: Any) -> None:
    a, b, c = world["a"], world["b"], world["c"]
    analyst = world["analyst"]
    mine = (world["manager"].user_id, world["other"].user_id)

    def ids(**filters: Any) -> set[int]:
        return {p.pool_id for p in explore(uow_factory, analyst, **{"managers": mine, **filters}).pools}

    assert ids() == {a, b, c}
    assert ids(strategies=("venture",)) == {a, c}
    assert ids(currencies=("EUR",)) == {b}
    assert ids(statuses=("open",)) == {b}
    assert ids(statuses=("draft", "investing")) == {a, c}
    assert ids(vintages=(CALLED_ON.year,)) == {a}
    assert ids(vintages=(TODAY.year,)) == {b, c}, "no call yet: the vintage is the year of opening"
    assert ids(managers=(world["other"].user_id,)) == {c}
    # As of a day before the first call: nothing had been called yet.
    early = explore(uow_factory, analyst, managers=mine, until=CALLED_ON - timedelta(days=1))
    [pool] = [p for p in early.pools if p.pool_id == a]
    assert pool.called == 0 and pool.paid_in == 0 and pool.tvpi is None
    # The range limits the flows over time, not the figures as of its end.
    late = explore(uow_factory, analyst, managers=mine, since=MARKED_ON)
    assert all(m.month >= MARKED_ON.replace(day=1) for m in late.flows)
    assert [p.paid_in for p in late.pools if p.pool_id == a] == [D("550000")]
    with uow_factory() as uow, pytest.raises(ValidationError):
        platform.explorer(analyst, uow, platform.Filters(since=TODAY, until=TODAY - timedelta(days=1)))

    with uow_factory() as uow:
        options = platform.explorer_options(analyst, uow)
    assert {"venture", "growth"} <= set(options.strategies) and {"USD", "EUR"} <= set(options.currencies)
    assert {a, b, c} <= {p.id for p in options.pools}
    assert world["manager"].user_id in {m.id for m in options.managers}


def test_the_cache_follows_the_platform_version(
    world: dict[str, Any], uow_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyst, manager, a = world["analyst"], world["manager"], world["a"]
    computed: list[platform.Filters] = []
    real = platform._compute_explorer

    def counting(uow: Any, filters: platform.Filters) -> platform.Explorer:
        computed.append(filters)
        return real(uow, filters)

    monkeypatch.setattr(platform, "_compute_explorer", counting)
    mine = (manager.user_id,)
    first = explore(uow_factory, analyst, managers=mine)
    again = explore(uow_factory, analyst, managers=mine)
    assert again == first, "the cached copy reads back equal, Decimals and dates included"
    with uow_factory() as uow:
        version = platform.platform_version(uow)
    assert again.version == version
    cached_once = len(computed)
    assert cached_once <= 1, "the second look is served from Redis"

    # A posting bumps the pool's version: the next look recomputes and shows it.
    with uow_factory() as uow:
        ledger_service.post_journal(
            manager,
            uow,
            a,
            kind="investment",
            idempotency_key=f"cache-{a}",
            effective_date=TODAY,
            lines=[ledger.debit("investments", D("1")), ledger.credit("cash", D("1"))],
        )
    with uow_factory() as uow:
        assert platform.platform_version(uow) != version
    explore(uow_factory, analyst, managers=mine)
    assert len(computed) == cached_once + 1

    # A change that does not go through the ledger (a draft's terms) moves the version too.
    with uow_factory() as uow:
        before = platform.platform_version(uow)
        pools.update_pool_terms(world["other"], uow, world["c"], Factory.terms(name="Renamed draft"))
    with uow_factory() as uow:
        assert platform.platform_version(uow) != before

    # Redis down: the figures come straight from PostgreSQL, nothing fails.
    class Down:
        def __getattr__(self, name: str) -> Any:
            raise redis.ConnectionError("redis is down")

    monkeypatch.setattr(bootstrap.resources().cache, "_client", Down())
    assert (
        explore(uow_factory, analyst, managers=mine).pools
        == explore(uow_factory, analyst, managers=mine).pools
    )


def test_pool_comparison(world: dict[str, Any], uow_factory: Any) -> None:
    analyst, a, b = world["analyst"], world["a"], world["b"]
    with uow_factory() as uow:
        curves = platform.compare_pools(analyst, uow, [a, b, a])
        again = platform.compare_pools(analyst, uow, [a, b])
    assert again == curves
    assert [c.pool_id for c in curves] == [a, b]
    first, second = curves
    data = {p.pool_id: p for p in explore(uow_factory, analyst, managers=(world["manager"].user_id,)).pools}
    assert (first.tvpi, first.dpi, first.rvpi, first.paid_in, first.nav) == (
        data[a].tvpi,
        data[a].dpi,
        data[a].rvpi,
        data[a].paid_in,
        data[a].nav,
    )
    assert abs(first.irr - data[a].irr) < D("1e-9")
    months = [p.month for p in first.points]
    assert months == sorted(months) and months[-1] == TODAY
    assert first.points[0].net_cash_flow == -first.points[0].paid_in < 0, "the J starts below zero"
    assert first.points[-1].net_cash_flow == first.distributed - first.paid_in
    assert first.points[-1].net_pct_of_commitment == (
        (first.distributed - first.paid_in) * 100 / D("1100000")
    ).quantize(D("0.01"), ROUND_HALF_UP)
    assert second.points == [] and second.tvpi is None and second.committed == D("500000")
    with uow_factory() as uow, pytest.raises(ValidationError):
        platform.compare_pools(analyst, uow, [a, b, world["c"], a + 10_000, a + 10_001, a + 10_002])


@pytest.mark.parametrize("role", ["investor", "fund_manager"])
def test_only_analysts_and_admins_explore(world: dict[str, Any], uow_factory: Any, role: str) -> None:
    person = world["investor"] if role == "investor" else world["manager"]
    for service, args in (
        (platform.explorer, ()),
        (platform.explorer_options, ()),
        (platform.compare_pools, ([world["a"]],)),
        (health.health, ()),
    ):
        with uow_factory() as uow, pytest.raises(PermissionDenied):
            service(person, uow, *args)
    with uow_factory() as uow:
        assert platform.explorer(world["admin"], uow).pools


def test_operations_health_and_retry(world: dict[str, Any], uow_factory: Any) -> None:
    admin, analyst, manager = world["admin"], world["analyst"], world["manager"]
    # A payment that fails when processed: its call item was paid in full in the meantime.
    with uow_factory() as uow:
        item_id, due = uow.session.execute(
            text(
                "SELECT ci.id, ci.amount_due FROM call_items ci JOIN capital_calls cc ON cc.id = ci.call_id "
                "WHERE cc.pool_id = :a ORDER BY ci.id LIMIT 1"
            ),
            {"a": world["a"]},
        ).one()
        failing = Operation(
            kind="payment",
            pool_id=world["a"],
            actor_id=manager.user_id,
            payload={
                "call_item_id": item_id,
                "amount": str(due),
                "reference": "again",
                "paid_on": str(TODAY),
            },
            idempotency_key=f"health-test-{item_id}",
            progress_total=1,
        )
        uow.session.add(failing)
        uow.commit()
        failing_id = failing.id
    assert operations.process(str(failing_id), uow_factory) == "failed"

    with uow_factory() as uow:
        state = health.health(admin, uow)
    assert state.database.ok and "connections" in state.database.detail
    assert state.redis.ok and state.redis.latency_ms is not None
    assert [q.name for q in state.queues] == [settings().queue_name]
    [failed] = [op for op in state.failed if op.id == failing_id]
    assert "already paid in full" in failed.error
    assert state.operations_by_status.get("failed", 0) >= 1
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        health.health(analyst, uow)
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        health.retry_operation(analyst, uow, failing_id)

    with uow_factory() as uow:
        retried = health.retry_operation(admin, uow, failing_id)
    assert retried.status == "pending"
    with uow_factory() as uow:
        rows = uow.session.execute(
            select(AuditLog.actor_id, AuditLog.action, AuditLog.outcome)
            .where(AuditLog.object_type == "operation", AuditLog.object_id == str(failing_id))
            .order_by(AuditLog.id)
        ).all()
    assert (analyst.user_id, "operation.retry", "refused") in rows
    assert (admin.user_id, "operation.retry", "ok") in rows
    assert operations.process(str(failing_id), uow_factory) == "failed"  # still paid: fails again, honestly


def test_every_chart_has_its_data_as_csv(world: dict[str, Any], uow_factory: Any) -> None:
    """What each chart draws can be downloaded: exact Decimals, neutralised text."""
    import csv
    import io

    from app import charts
    from core.csvsafe import frame_to_csv

    data = explore(uow_factory, world["analyst"], managers=(world["manager"].user_id,))
    with uow_factory() as uow:
        curves = platform.compare_pools(world["analyst"], uow, [world["a"], world["b"]])
    frames = {
        "pools": charts.pools_frame(data),
        "vintages": charts.vintages_frame(data),
        "flows": charts.flows_frame(data, "USD"),
        "curves": charts.curves_frame(curves),
        "multiples": charts.multiples_frame(curves),
    }
    for name, frame in frames.items():
        rows = list(csv.DictReader(io.StringIO(frame_to_csv(frame).decode())))
        assert len(rows) == len(frame) > 0, name
        assert list(rows[0]) == list(frame.columns), name
    pools = {
        int(r["pool_id"]): r for r in csv.DictReader(io.StringIO(frame_to_csv(frames["pools"]).decode()))
    }
    a = {p.pool_id: p for p in data.pools}[world["a"]]
    assert D(pools[a.pool_id]["nav"]) == a.nav and D(pools[a.pool_id]["tvpi"]) == a.tvpi
    assert pools[world["b"]]["tvpi"] == "", "no paid-in, no multiple: an empty cell, not 'None'"
    flows = list(csv.DictReader(io.StringIO(frame_to_csv(frames["flows"]).decode())))
    assert D(flows[-1]["net_cash_flow_cumulative"]) == sum(
        (m.distributed - m.contributed for m in data.flows if m.currency == "USD"), D(0)
    )
