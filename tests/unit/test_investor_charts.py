"""The portfolio page's chart builders (app.investor_ui) drawn from a portfolio overview as the read
model computes it: the J-curve ends on the portfolio's totals, contributions go down and
distributions up, each allocation donut splits exactly the figure it says it splits and draws no
slice for a part of nothing, and no legend sits under the toolbar.

No I/O: the overview is built by the read model's own aggregation (core.views.investor._compute,
_allocations) from per-pool books and monthly lines given here by hand for a small history (what its
one ledger statement returns for it), in place of that statement.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app import investor_ui as ui
from core.fundmath import xirr
from core.ledger.read_model import Position
from core.views import investor

END = date(2024, 12, 31)
D = Decimal

# Three USD pools: Alpha (venture) and Beta (growth) have history; Gamma (venture) only a commitment.
METAS = [
    investor._PoolMeta(1, "Alpha", "venture", "investing", "USD", 7, 100),
    investor._PoolMeta(2, "Beta", "growth", "investing", "USD", 3, 100),
    investor._PoolMeta(3, "Gamma", "venture", "closed", "USD", 1, 100),
]


def account(**lines: str) -> Position:
    return Position(**{name: D(value) for name, value in lines.items()})


# Per pool: the capital account as of the end, the period's NAV lines (since inception: the same),
# and the dated cash flows (paid in negative) as the statement returns them: days, then amounts.
ALPHA = account(
    commitment="300000", called="100000", contributions="100000", distributions="20000",
    management_fees="2000", unrealized_gain="30000",
)  # fmt: skip
BETA = account(commitment="200000", called="100000", contributions="50000", distributions="5000")
GAMMA = account(commitment="100000")
FLOWS = {
    1: [(date(2024, 1, 20), D(-100000)), (date(2024, 9, 15), D(20000))],
    2: [(date(2024, 2, 15), D(-50000)), (date(2024, 11, 10), D(5000))],
    3: [],
}
BOOKS = {
    pool: investor._Book(end, end, [day for day, _ in FLOWS[pool]], [cash for _, cash in FLOWS[pool]])
    for pool, end in ((1, ALPHA), (2, BETA), (3, GAMMA))
}
# Per currency and day: the day's net cash flow over the pools (the total's IRR).
DAILY_CASH = {"USD": {day: cash for flows in FLOWS.values() for day, cash in flows}}
# Per month: the month's NAV lines.
MONTHS = {
    "USD": {
        date(2024, 1, 31): account(contributions="100000"),
        date(2024, 2, 29): account(contributions="50000"),
        date(2024, 3, 31): account(management_fees="2000"),
        date(2024, 6, 30): account(unrealized_gain="30000"),
        date(2024, 9, 30): account(distributions="20000"),
        date(2024, 11, 30): account(distributions="5000"),
    }
}


@pytest.fixture(scope="module")
def overview() -> investor.PortfolioOverview:
    period = investor.period_for("inception", on=END)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(investor, "_ledger_rows", lambda *args, **kwargs: (BOOKS, MONTHS, DAILY_CASH))
        totals, holdings, series = investor._compute(None, 1, METAS, period)  # type: ignore[arg-type]
    by_pool, by_strategy = investor._allocations(holdings)
    return investor.PortfolioOverview(1, period, totals, holdings, series, by_pool, by_strategy, [])


def traces(figure: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {trace["name"]: trace for trace in figure["data"]}


def exact(value: float) -> Decimal:
    """A plotted float back as the amount it was drawn from (amounts here have at most 2 places)."""
    return Decimal(repr(value)).quantize(Decimal("0.01"))


def test_the_overview_is_what_the_history_says(overview: investor.PortfolioOverview) -> None:
    """The figures the charts are checked against, from the read model's aggregation."""
    [totals] = overview.totals
    assert (totals.committed, totals.called, totals.paid_in, totals.distributed) == (
        D(600000),
        D(200000),
        D(150000),
        D(25000),
    )
    assert totals.unfunded == D(400000)  # commitment - called
    assert totals.outstanding == D(50000)  # called - paid-in
    assert (totals.nav, totals.total_value) == (D(153000), D(178000))
    assert [h.pool_name for h in overview.holdings] == ["Alpha", "Beta", "Gamma"]
    gamma = overview.holdings[2].figures
    assert (gamma.tvpi, gamma.irr, gamma.unfunded) == (None, None, D(100000))
    # Each IRR is the rate of its own flows with the NAV as the last: the total's from the days'
    # net flows, the same rate as every pool's flows merged.
    every_flow = sorted(flow for flows in FLOWS.values() for flow in flows)
    assert totals.irr == xirr([*every_flow, (END, totals.nav)])
    alpha = overview.holdings[0].figures
    assert alpha.irr == xirr([*FLOWS[1], (END, alpha.nav)])


def test_the_j_curve_ends_on_the_portfolio_totals(overview: investor.PortfolioOverview) -> None:
    [totals] = overview.totals
    figure = ui.value_chart(overview.series, "USD")
    lines = traces(figure)
    assert set(lines) == {"NAV", "Distributions (cumulative)", "NAV + distributions", "Paid-in (cumulative)"}
    for trace in lines.values():
        assert trace["x"] == [p.on.isoformat() for p in overview.series]
        assert trace["x"][-1] == END.isoformat()
    assert exact(lines["NAV"]["y"][-1]) == totals.nav
    assert exact(lines["Distributions (cumulative)"]["y"][-1]) == totals.distributed
    assert exact(lines["NAV + distributions"]["y"][-1]) == totals.total_value
    assert exact(lines["Paid-in (cumulative)"]["y"][-1]) == totals.paid_in
    # The curve is cumulative: paid-in never falls, and NAV + distributions is their sum all along.
    paid = lines["Paid-in (cumulative)"]["y"]
    assert paid == sorted(paid) and paid[0] == 100000.0
    for nav, distributed, total in zip(
        lines["NAV"]["y"],
        lines["Distributions (cumulative)"]["y"],
        lines["NAV + distributions"]["y"],
        strict=True,
    ):
        assert exact(nav) + exact(distributed) == exact(total)
    assert figure["layout"]["yaxis"]["title"]["text"] == "USD"
    # The legend sits under the plot, away from the top where a toolbar would be (and none is drawn).
    assert figure["layout"]["legend"]["y"] < 0 and ui.PLOTLY == {"displayModeBar": False}


def test_cash_flows_go_down_for_contributions_and_up_for_distributions(
    overview: investor.PortfolioOverview,
) -> None:
    [totals] = overview.totals
    bars = traces(ui.cash_flow_chart(overview.series, "USD"))
    contributions, distributions = bars["Contributions"]["y"], bars["Distributions"]["y"]
    assert bars["Contributions"]["x"] == [p.on.strftime("%Y-%m") for p in overview.series]
    assert all(y <= 0 for y in contributions) and any(y < 0 for y in contributions)
    assert all(y >= 0 for y in distributions) and any(y > 0 for y in distributions)
    assert -sum(exact(y) for y in contributions) == totals.paid_in
    assert sum(exact(y) for y in distributions) == totals.distributed
    by_month = dict(zip(bars["Contributions"]["x"], contributions, strict=True))
    assert by_month["2024-01"] == -100000.0 and by_month["2024-02"] == -50000.0
    assert dict(zip(bars["Distributions"]["x"], distributions, strict=True))["2024-09"] == 20000.0


@pytest.mark.parametrize("measure", ["nav", "committed"])
def test_allocation_by_pool_and_by_strategy_splits_the_totals(
    overview: investor.PortfolioOverview, measure: str
) -> None:
    [totals] = overview.totals
    whole = getattr(totals, measure)
    for rows in (overview.by_pool, overview.by_strategy):
        labels = [a.label for a in rows]
        pie = ui.allocation_chart(labels, [getattr(a, measure) for a in rows], "title")["data"][0]
        assert pie["type"] == "pie"
        assert sum(exact(v) for v in pie["values"]) == whole
        assert all(v > 0 for v in pie["values"])  # no slice of nothing
    by_pool = {a.label: getattr(a, measure) for a in overview.by_pool}
    by_strategy = {a.label: getattr(a, measure) for a in overview.by_strategy}
    assert by_strategy == {"venture": by_pool["Alpha"] + by_pool["Gamma"], "growth": by_pool["Beta"]}


def test_a_donut_draws_no_slice_for_a_part_of_nothing(overview: investor.PortfolioOverview) -> None:
    """Gamma holds a commitment and no NAV: by NAV it is left out, not drawn as a 0% slice."""
    pie = ui.allocation_chart(
        [a.label for a in overview.by_pool], [a.nav for a in overview.by_pool], "By pool (NAV, USD)"
    )["data"][0]
    assert pie["labels"] == ["Alpha", "Beta"]
    assert [exact(v) for v in pie["values"]] == [D(108000), D(45000)]
    negative = ui.allocation_chart(["Up", "Down"], [D(10), D(-5)], "t")["data"][0]
    assert negative["labels"] == ["Up"]
