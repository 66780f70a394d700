"""Platform analytics and operations health, against a small platform built through the real services
on their own days: every figure of the explorer and the comparison equals an independent
recomputation from the journal entries (tests.platform_seed.ledger_figures), with the same date
rule and the same definitions (docs/figures.md); filters narrow the pools and drafts are left out
by default; the cache follows the platform version; only the roles allowed may look."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import bcrypt
import pytest
import redis
from sqlalchemy import func, select, text

from app import charts
from core import bootstrap, clock, operations
from core import verify as vf
from core.csvsafe import frame_to_csv
from core.errors import PermissionDenied, ValidationError
from core.fundmath import multiples, xirr
from core.ledger import checks, read_model
from core.permissions import Actor
from core.services import exports, health, investments, platform, pools, users
from core.verify import verify
from db.models import AuditLog, Operation
from tests.conftest import Factory
from tests.platform_seed import History, ledger_figures

D = Decimal
TODAY = date.today()
START = date(TODAY.year - 3, 10, 1)  # the first call falls in the next year: vintage != opening year
CALLED_ON, PAID_ON, BOUGHT_ON = (
    START + timedelta(days=100),
    START + timedelta(days=110),
    START + timedelta(days=120),
)
FEE_TO, MARKED_ON, DISTRIBUTED_ON = (
    START + timedelta(days=400),
    START + timedelta(days=470),
    START + timedelta(days=480),
)


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    """Pool A (venture, USD): raised 1,100,000 against a 1,000,000 target on days 10, 20 and 35
    after opening; called 50%, paid, invested, charged a fee, marked up and partly distributed.
    Pool B (growth, EUR): open, 500,000 of 2,000,000. Pool C (venture, USD): a draft of another
    manager."""
    uow_factory = bootstrap.unit_of_work
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        make = Factory(uow_factory)
        manager, other = make.user("fund_manager"), make.user("fund_manager")
        investors = [make.user("investor") for _ in range(3)]
        with clock.travel(START):
            a, _ = make.pool(
                manager, strategy="venture", currency="USD", target_size="1000000", max_ticket="700000"
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
        with clock.travel(START + timedelta(days=5)):
            make.commitment(b, investors[0], amount="500000", accept_as=manager)
        for investor, amount, days in zip(
            investors, ("600000", "300000", "200000"), (10, 20, 35), strict=True
        ):
            with clock.travel(START + timedelta(days=days)):
                make.commitment(a, investor, amount=amount, accept_as=manager)
        fund = History(uow_factory, manager, a)
        fund.close(START + timedelta(days=40))
        fund.call("50", CALLED_ON)
        fund.pay_all(PAID_ON)
        acme = fund.invest("Acme", "500000", BOUGHT_ON)
        fund.fee(CALLED_ON, FEE_TO, FEE_TO)
        fund.mark(acme, "700000", MARKED_ON)
        fund.distribute("40000", DISTRIBUTED_ON, memo="dividend")
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
            "make": make,
        }


def explore(uow_factory: Any, actor: Actor, **filters: Any) -> platform.Explorer:
    with uow_factory() as uow:
        return platform.explorer(actor, uow, platform.Filters(**filters))


def capital_over_time(uow_factory: Any, actor: Actor, **filters: Any) -> list[platform.FlowMonth]:
    with uow_factory() as uow:
        return platform.explorer_flows(actor, uow, platform.Filters(**filters))


def mine(world: dict[str, Any]) -> tuple[int, ...]:
    return (world["manager"].user_id, world["other"].user_id)


def mine_of(report: Any, pool_id: int) -> dict[str, list[tuple]]:
    """verify's findings about one pool's capital accounts (other tests share this database)."""
    found = {
        name: [row for row in report.violations.get(name, []) if row[0] == pool_id]
        for name in (vf.FIGURES, vf.RECEIVABLES, vf.STATEMENTS, vf.BOOKS)
    }
    return {name: rows for name, rows in found.items() if rows}


LINES = (
    "commitment",
    "called",
    "contributions",
    "distributions",
    "management_fees",
    "realized_gain",
    "unrealized_gain",
    "carried_interest",
)


def test_explorer_figures_equal_a_recomputation_from_the_entries(
    world: dict[str, Any], uow_factory: Any
) -> None:
    a, b = world["a"], world["b"]
    data = explore(uow_factory, world["analyst"], managers=(world["manager"].user_id,))
    by_id = {p.pool_id: p for p in data.pools}
    assert set(by_id) == {a, b}
    with uow_factory() as uow:
        expected = ledger_figures(uow, a, TODAY)
    pool = by_id[a]
    for line in LINES:
        assert getattr(pool, line) == expected[line], line
    assert (pool.nav, pool.unfunded, pool.outstanding) == (
        expected["nav"],
        expected["unfunded"],
        expected["outstanding"],
    )
    assert pool.commitment == D("1100000") and pool.paid_in == D("550000")
    assert pool.management_fees > 0 and pool.unrealized_gain == D("200000") and pool.distributions > 0
    ratios = multiples(pool.paid_in, pool.distributions, pool.nav)
    assert (pool.tvpi, pool.dpi, pool.rvpi) == (ratios.tvpi, ratios.dpi, ratios.rvpi)
    assert pool.tvpi == pool.dpi + pool.rvpi
    expected_irr = xirr([*expected["flows"], (TODAY, expected["nav"])])
    assert pool.irr is not None and abs(pool.irr - expected_irr) < D("1e-9") and pool.irr > 0
    assert pool.vintage == CALLED_ON.year, "the vintage is the year of the first capital call"
    assert pool.days_to_target == 35
    assert pool.raised_pct == D("110.00")
    assert (pool.investors, pool.top1_share, pool.top5_share) == (3, D("54.55"), D("100.00"))

    fundraising = by_id[b]
    assert (fundraising.currency, fundraising.status, fundraising.commitment) == ("EUR", "open", D("500000"))
    assert fundraising.paid_in == 0 and fundraising.tvpi is None and fundraising.irr is None
    assert fundraising.days_to_target is None and fundraising.raised_pct == D("25.00")
    assert fundraising.vintage == START.year, "no call yet: the vintage is the year of opening"
    assert data.reached_target == 1

    months = {
        (m.month, m.currency): m
        for m in capital_over_time(uow_factory, world["analyst"], managers=(world["manager"].user_id,))
    }
    assert months[(CALLED_ON.replace(day=1), "USD")].called == D("550000")
    assert months[(PAID_ON.replace(day=1), "USD")].contributions == D("550000")
    assert months[(DISTRIBUTED_ON.replace(day=1), "USD")].distributions == pool.distributions
    [vintage] = [v for v in data.vintages if v.vintage == CALLED_ON.year]
    assert vintage.median_tvpi == pool.tvpi and vintage.reached_target == 1


def test_unfunded_is_commitment_less_called_everywhere(world: dict[str, Any], uow_factory: Any) -> None:
    """ILPA: unfunded = commitment - capital called, not commitment - paid-in (issue 14)."""
    make = world["make"]
    with clock.travel(START):
        pool_id, manager = make.pool(target_size="1000000")
    with clock.travel(START + timedelta(days=1)):
        _, investor = make.commitment(pool_id, amount="200000", accept_as=manager)
    fund = History(uow_factory, manager, pool_id)
    fund.close(START + timedelta(days=2))
    fund.call("25", START + timedelta(days=3))
    [item] = fund.items()
    fund.pay(item, START + timedelta(days=4), amount=D("20000"))  # 50,000 called, 20,000 paid
    [facts] = [p for p in explore(uow_factory, world["analyst"], managers=(manager.user_id,)).pools]
    assert (facts.commitment, facts.called, facts.paid_in) == (D("200000"), D("50000"), D("20000"))
    assert facts.unfunded == D("150000") != facts.commitment - facts.paid_in
    assert facts.outstanding == D("30000")
    with uow_factory() as uow:
        rows = list(
            csv.DictReader(
                io.StringIO(
                    exports.start_export(world["admin"], uow, "capital_accounts", enqueue=False).data.decode()
                )
            )
        )
    [row] = [r for r in rows if r["pool_id"] == str(pool_id)]
    assert (row["unfunded"], row["outstanding"], row["called_to_date"]) == (
        "150000.00",
        "30000.00",
        "50000.00",
    )
    with uow_factory() as uow:
        position = read_model.positions(uow.session, as_of=TODAY, pool_id=pool_id)[investor.user_id]
        assert position.unfunded == D("150000")
        report = verify(uow.session)
    assert mine_of(report, pool_id) == {}, report.summary()


def test_a_future_dated_fee_counts_from_its_date_on_every_surface(
    world: dict[str, Any], uow_factory: Any
) -> None:
    """A fee for a period ending 90 days ahead is dated then: the explorer, the exports and verify's
    recomputation all leave it out today and all count it from its day (issue 14)."""
    make = world["make"]
    with clock.travel(START):
        pool_id, manager = make.pool(target_size="1000000")
    with clock.travel(START + timedelta(days=1)):
        make.commitment(pool_id, amount="400000", accept_as=manager)
    fund = History(uow_factory, manager, pool_id)
    fund.close(START + timedelta(days=2))
    fund.call("10", START + timedelta(days=3))
    fund.pay_all(START + timedelta(days=4))
    due = TODAY + timedelta(days=90)
    fund.fee(TODAY - timedelta(days=30), due, TODAY)
    analyst, admin = world["analyst"], world["admin"]

    def surfaces() -> tuple[Decimal, Decimal, Decimal, Decimal, int]:
        [facts] = explore(uow_factory, analyst, managers=(manager.user_id,)).pools
        with uow_factory() as uow:
            accounts = exports.start_export(admin, uow, "capital_accounts", enqueue=False).data.decode()
            movements = exports.start_export(admin, uow, "transactions", enqueue=False).data.decode()
            recomputed = checks.recompute_positions(clock.today())
            recomputed_fee = uow.session.execute(
                select(func.coalesce(func.sum(recomputed.c.management_fees), 0)).where(
                    recomputed.c.pool_id == pool_id
                )
            ).scalar_one()
            report = verify(uow.session)
        assert mine_of(report, pool_id) == {}, report.summary()
        fees = sum(
            D(r["management_fees"])
            for r in csv.DictReader(io.StringIO(accounts))
            if r["pool_id"] == str(pool_id)
        )
        charged = [
            r
            for r in csv.DictReader(io.StringIO(movements))
            if r["pool_id"] == str(pool_id) and r["line"] == "Management fees"
        ]
        return facts.management_fees, fees, recomputed_fee, facts.nav, len(charged)

    with uow_factory() as uow:
        expected_later = ledger_figures(uow, pool_id, due)["management_fees"]
        assert ledger_figures(uow, pool_id, TODAY)["management_fees"] == 0
    assert expected_later > 0
    explorer_fee, export_fee, verify_fee, nav, rows = surfaces()
    assert (explorer_fee, export_fee, verify_fee, rows) == (0, 0, 0, 0), "not before its day"
    assert nav == D("40000")
    with clock.travel(due):
        explorer_fee, export_fee, verify_fee, nav, rows = surfaces()
    assert explorer_fee == export_fee == verify_fee == expected_later, "from its day, everywhere"
    assert nav == D("40000") - expected_later and rows == 1


def test_multiples_are_not_computed_where_nav_is_negative(world: dict[str, Any], uow_factory: Any) -> None:
    """Paid in, invested, written off and charged a fee: NAV below zero shows n/a multiples."""
    make = world["make"]
    with clock.travel(START):
        pool_id, manager = make.pool(target_size="1000000", management_fee_rate="0.1")
    with clock.travel(START + timedelta(days=1)):
        make.commitment(pool_id, amount="100000", accept_as=manager)
    fund = History(uow_factory, manager, pool_id)
    fund.close(START + timedelta(days=2))
    fund.call("10", START + timedelta(days=3))
    fund.pay_all(START + timedelta(days=4))
    company = fund.invest("Doomed", "10000", START + timedelta(days=5))
    fund.mark(company, "0", START + timedelta(days=6))
    fund.fee(START + timedelta(days=3), START + timedelta(days=300), START + timedelta(days=300))
    [facts] = explore(uow_factory, world["analyst"], managers=(manager.user_id,)).pools
    assert facts.paid_in == D("10000") and facts.nav < 0
    assert (facts.tvpi, facts.dpi, facts.rvpi) == (None, None, None)
    with uow_factory() as uow:
        [curve] = platform.compare_pools(world["analyst"], uow, [pool_id])
    assert curve.nav == facts.nav and (curve.tvpi, curve.dpi, curve.rvpi) == (None, None, None)
    frame = charts.pools_frame(explore(uow_factory, world["analyst"], managers=(manager.user_id,)))
    assert frame["TVPI"].isna().all(), "no multiple, shown as n/a"


def test_filters_narrow_the_pools_and_drafts_are_left_out_unless_counted(
    world: dict[str, Any], uow_factory: Any
) -> None:
    a, b, c = world["a"], world["b"], world["c"]
    analyst = world["analyst"]

    def ids(**filters: Any) -> set[int]:
        return {
            p.pool_id for p in explore(uow_factory, analyst, **{"managers": mine(world), **filters}).pools
        }

    assert ids() == {a, b}, "a draft is not counted by default"
    default = explore(uow_factory, analyst, managers=mine(world))
    assert default.drafts_left_out == 1
    assert default.scope == (
        f"Counting 2 pools: open, closed, investing, wound down (1 draft left out); figures as of {TODAY}."
    )
    assert ids(include_drafts=True) == {a, b, c}
    assert ids(statuses=("draft",)) == {c}, "asking for drafts counts them"
    assert ids(strategies=("venture",)) == {a}
    assert ids(strategies=("venture",), include_drafts=True) == {a, c}
    assert ids(currencies=("EUR",)) == {b}
    assert ids(statuses=("open",)) == {b}
    assert ids(vintages=(CALLED_ON.year,)) == {a}
    assert ids(managers=(world["other"].user_id,), include_drafts=True) == {c}
    # As of a day before the first call: nothing had been called yet.
    early = explore(uow_factory, analyst, managers=mine(world), until=CALLED_ON - timedelta(days=1))
    [pool] = [p for p in early.pools if p.pool_id == a]
    assert pool.called == 0 and pool.paid_in == 0 and pool.tvpi is None and pool.vintage == START.year
    # The range limits the flows over time, not the figures as of its end.
    late = explore(uow_factory, analyst, managers=mine(world), since=MARKED_ON)
    late_months = capital_over_time(uow_factory, analyst, managers=mine(world), since=MARKED_ON)
    every_month = capital_over_time(uow_factory, analyst, managers=mine(world))
    assert late_months == [m for m in every_month if m.month >= MARKED_ON.replace(day=1)] != every_month
    assert [p.paid_in for p in late.pools if p.pool_id == a] == [D("550000")]
    with uow_factory() as uow, pytest.raises(ValidationError):
        platform.explorer(analyst, uow, platform.Filters(since=TODAY, until=TODAY - timedelta(days=1)))

    with uow_factory() as uow:
        options = platform.explorer_options(analyst, uow)
        choices = platform.compare_choices(analyst, uow)
    assert {"venture", "growth"} <= set(options.strategies) and {"USD", "EUR"} <= set(options.currencies)
    assert {a, b, c} <= {p.id for p in choices}
    # (other tests' pools, hostile names among them, share this database: this test's own are checked)
    assert not any("#" in p.label for p in choices if p.id in {a, b, c}), "no internal ids in the picker"
    assert world["manager"].user_id in {m.id for m in options.managers}


def test_the_cache_follows_the_platform_version(
    world: dict[str, Any], uow_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyst, manager, a = world["analyst"], world["manager"], world["a"]
    computed: list[platform.Filters] = []
    real = platform._compute_explorer

    def counting(uow: Any, filters: platform.Filters, version: str) -> platform.Explorer:
        computed.append(filters)
        return real(uow, filters, version)

    monkeypatch.setattr(platform, "_compute_explorer", counting)
    first = explore(uow_factory, analyst, managers=(manager.user_id,))
    again = explore(uow_factory, analyst, managers=(manager.user_id,), since=START)
    assert again.pools == first.pools, "the cached copy reads back equal, Decimals and dates included"
    with uow_factory() as uow:
        version = platform.platform_version(uow)
    assert again.version == version
    assert len(computed) <= 1, "the second look (another start of the range) is served from Redis"
    cached_once = len(computed)

    # A posting bumps the pool's version: the next look recomputes and shows it.
    fund = History(uow_factory, manager, a)
    with uow_factory() as uow:
        [acme] = [h.company_id for h in investments.holdings(uow, a)]
    fund.mark(acme, "710000", TODAY)
    with uow_factory() as uow:
        assert platform.platform_version(uow) != version
    after = explore(uow_factory, analyst, managers=(manager.user_id,))
    assert len(computed) == cached_once + 1
    assert [p.unrealized_gain for p in after.pools if p.pool_id == a] == [D("210000")]

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
        explore(uow_factory, analyst, managers=(manager.user_id,)).pools
        == explore(uow_factory, analyst, managers=(manager.user_id,)).pools
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
    assert first.irr is not None and abs(first.irr - data[a].irr) < D("1e-9")
    months = [p.month for p in first.points]
    assert months == sorted(months) and months[-1] == TODAY
    assert months[0].replace(day=1) == PAID_ON.replace(day=1), "from the month of the first contribution"
    assert months[0] == (months[0] + timedelta(days=1)).replace(day=1) - timedelta(days=1), "a month end"
    assert first.points[0].net_cash_flow == -first.points[0].paid_in < 0, "the J starts below zero"
    assert first.points[-1].net_cash_flow == first.distributions - first.paid_in
    assert first.points[-1].net_pct_of_commitment == (
        (first.distributions - first.paid_in) * 100 / D("1100000")
    ).quantize(D("0.01"), ROUND_HALF_UP)
    # At an earlier month end the curve shows the figures as of that day (the date rule).
    with uow_factory() as uow:
        earlier = ledger_figures(uow, a, first.points[2].month)
    assert (first.points[2].paid_in, first.points[2].nav) == (earlier["contributions"], earlier["nav"])
    assert second.points == [] and second.tvpi is None and second.commitment == D("500000")
    with uow_factory() as uow, pytest.raises(ValidationError):
        platform.compare_pools(analyst, uow, [a, b, world["c"], a + 10_000, a + 10_001, a + 10_002])


@pytest.mark.parametrize("role", ["investor", "fund_manager"])
def test_only_analysts_and_admins_explore(world: dict[str, Any], uow_factory: Any, role: str) -> None:
    person = world["investor"] if role == "investor" else world["manager"]
    for service, args in (
        (platform.explorer, ()),
        (platform.explorer_options, ()),
        (platform.explorer_flows, ()),
        (platform.compare_choices, ()),
        (platform.compare_pools, ([world["a"]],)),
        (health.health, ()),
    ):
        with uow_factory() as uow, pytest.raises(PermissionDenied):
            service(person, uow, *args)
    with uow_factory() as uow:
        assert platform.explorer(world["admin"], uow).pools


def test_operations_health_names_no_secret_and_retries(world: dict[str, Any], uow_factory: Any) -> None:
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
    assert "configured, host 127.0.0.1" in state.servers or "embedded" in state.servers
    assert (
        "postgresql://" not in state.servers and "redis://" not in state.servers and "@" not in state.servers
    )
    [failed] = [op for op in state.failed if op.id == failing_id]
    assert "cannot be paid now" in failed.error
    assert state.pool_names[world["a"]]
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


def test_every_chart_has_its_data_as_csv_at_its_currencys_precision(
    world: dict[str, Any], uow_factory: Any
) -> None:
    """What each chart draws can be downloaded: human column names, amounts at the currency's
    precision, multiples to 0.01, rates to 0.0001, n/a as an empty cell, never None or nan."""
    data = explore(uow_factory, world["analyst"], managers=(world["manager"].user_id,))
    months = capital_over_time(uow_factory, world["analyst"], managers=(world["manager"].user_id,))
    with uow_factory() as uow:
        curves = platform.compare_pools(world["analyst"], uow, [world["a"], world["b"]])
    frames = {
        "pools": charts.pools_frame(data),
        "vintages": charts.vintages_frame(data),
        "flows": charts.flows_frame(months, "USD"),
        "curves": charts.curves_frame(curves),
        "multiples": charts.multiples_frame(curves),
    }
    for name, frame in frames.items():
        rows = list(csv.DictReader(io.StringIO(frame_to_csv(frame).decode())))
        assert len(rows) == len(frame) > 0, name
        assert list(rows[0]) == list(frame.columns), name
        for column in frame.columns:
            assert "_" not in column and column[0].isupper(), (name, column)
        for row in rows:
            for column, cell in row.items():
                assert cell not in ("None", "nan", "NaN"), (name, column)
                if column in charts.MONEY:
                    assert len(cell.partition(".")[2]) == 2, (name, column, cell)
                elif column in charts.MULTIPLES:
                    assert cell == "" or len(cell.partition(".")[2]) == 2, (name, column, cell)
                elif column in charts.RATES:
                    assert cell == "" or len(cell.partition(".")[2]) <= 4, (name, column, cell)
    pools = {r["Pool"]: r for r in csv.DictReader(io.StringIO(frame_to_csv(frames["pools"]).decode()))}
    a = {p.pool_id: p for p in data.pools}[world["a"]]
    assert D(pools[a.name]["NAV"]) == a.nav and D(pools[a.name]["TVPI"]) == a.tvpi.quantize(
        D("0.01"), ROUND_HALF_UP
    )
    assert D(pools[a.name]["Realized gain/(loss)"]) == a.realized_gain
    assert D(pools[a.name]["Carried interest"]) == a.carried_interest
    b = {p.pool_id: p for p in data.pools}[world["b"]]
    assert pools[b.name]["TVPI"] == "", "no paid-in, no multiple: an empty cell, not 'None'"
    flows = list(csv.DictReader(io.StringIO(frame_to_csv(frames["flows"]).decode())))
    assert D(flows[-1]["Cumulative net cash flow"]) == sum(
        (m.distributions - m.contributions for m in months if m.currency == "USD"), D(0)
    )


def test_charts_read_as_people_read_them(world: dict[str, Any], uow_factory: Any) -> None:
    """Vintage years on the axis as whole years, each vintage's median on its pools, percentages."""
    data = explore(uow_factory, world["analyst"], managers=mine(world), include_drafts=True)
    figure = charts.performance_by_vintage(data, "TVPI")
    assert list(figure.layout.xaxis.ticktext) == [str(CALLED_ON.year)]
    assert list(figure.layout.xaxis.tickvals) == [CALLED_ON.year]
    [median] = [t for t in figure.data if t.name == "median of the vintage"]
    [bubbles] = [t for t in figure.data if t.name == "venture"]
    assert list(median.x) == [CALLED_ON.year] and abs(bubbles.x[0] - CALLED_ON.year) <= 0.3
    velocity = charts.fundraising_velocity(data)
    assert list(velocity.layout.xaxis.ticktext) == [str(CALLED_ON.year)]
    months = capital_over_time(uow_factory, world["analyst"], managers=mine(world), include_drafts=True)
    flows = charts.capital_over_time(charts.flows_frame(months, "USD"), "USD")
    assert "yaxis2" not in flows.layout.to_plotly_json(), "one axis, one scale"
