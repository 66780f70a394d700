"""The portfolio page's chart builders (app.investor_ui) drawn from a portfolio overview as the
service computes it: the J-curve ends on the portfolio's totals, contributions go down and
distributions up, and each allocation pie splits exactly the figure it says it splits.

No I/O: the overview is built by the service's own aggregation (investor._compute and
investor._allocations) from the rows its single ledger query returns, given here by hand for a
small history (the same rows the SQL would return for it), through a stand-in unit of work.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from app import investor_ui as ui
from core.services import investor

END = date(2024, 12, 31)
D = Decimal

# Three USD pools: Alpha (venture) and Beta (growth) have history; Gamma (venture) only a commitment.
METAS = [
    investor._PoolMeta(1, "Alpha", "venture", "investing", "USD", 7, 100),
    investor._PoolMeta(2, "Beta", "growth", "investing", "USD", 3, 100),
    investor._PoolMeta(3, "Gamma", "venture", "closed", "USD", 1, 100),
]
# part, pool, currency, day, then the part's figures (see investor._FIGURES):
# pool:  committed, called, outstanding, nav, paid to date, nav before the start, fees
# flow:  contributions, distributions (of one day)
# month: contributions, distributions, change of NAV (of one month, per currency)
ROWS = [
    ("pool", 1, None, None, D(300000), D(100000), D(0), D(108000), D(100000), D(0), D(2000)),
    ("pool", 2, None, None, D(200000), D(100000), D(50000), D(45000), D(50000), D(0), D(0)),
    ("pool", 3, None, None, D(100000), D(0), D(0), D(0), D(0), D(0), D(0)),
    ("flow", 1, None, date(2024, 1, 20), D(100000), D(0), None, None, None, None, None),
    ("flow", 1, None, date(2024, 9, 15), D(0), D(20000), None, None, None, None, None),
    ("flow", 2, None, date(2024, 2, 15), D(50000), D(0), None, None, None, None, None),
    ("flow", 2, None, date(2024, 11, 10), D(0), D(5000), None, None, None, None, None),
    ("month", None, "USD", date(2024, 1, 31), D(100000), D(0), D(100000), None, None, None, None),
    ("month", None, "USD", date(2024, 2, 29), D(50000), D(0), D(50000), None, None, None, None),
    ("month", None, "USD", date(2024, 3, 31), D(0), D(0), D(-2000), None, None, None, None),
    ("month", None, "USD", date(2024, 6, 30), D(0), D(0), D(30000), None, None, None, None),
    ("month", None, "USD", date(2024, 9, 30), D(0), D(20000), D(-20000), None, None, None, None),
    ("month", None, "USD", date(2024, 11, 30), D(0), D(5000), D(-5000), None, None, None, None),
]


class _Rows:
    """Stands in for the unit of work: its one query returns ROWS."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.session = SimpleNamespace(execute=lambda *args, **kwargs: SimpleNamespace(all=lambda: rows))


@pytest.fixture(scope="module")
def overview() -> investor.PortfolioOverview:
    period = investor.period_for("inception", on=END)
    totals, holdings, series = investor._compute(_Rows(ROWS), 1, METAS, period)
    by_pool, by_strategy = investor._allocations(holdings)
    return investor.PortfolioOverview(1, period, totals, holdings, series, by_pool, by_strategy, [])


def traces(figure: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {trace["name"]: trace for trace in figure["data"]}


def exact(value: float) -> Decimal:
    """A plotted float back as the amount it was drawn from (amounts here have at most 2 places)."""
    return Decimal(repr(value)).quantize(Decimal("0.01"))


def test_the_overview_is_what_the_history_says(overview: investor.PortfolioOverview) -> None:
    """The figures the charts are checked against, from the service's aggregation."""
    [totals] = overview.totals
    assert (totals.committed, totals.paid_in, totals.distributed) == (D(600000), D(150000), D(25000))
    assert (totals.nav, totals.total_value) == (D(153000), D(178000))
    assert [h.pool_name for h in overview.holdings] == ["Alpha", "Beta", "Gamma"]


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
        assert pie["type"] == "pie" and pie["labels"] == labels
        assert sum(exact(v) for v in pie["values"]) == whole
    by_pool = dict(zip([a.label for a in overview.by_pool], [getattr(a, measure) for a in overview.by_pool]))
    by_strategy = {a.label: getattr(a, measure) for a in overview.by_strategy}
    assert by_strategy == {
        "venture": by_pool["Alpha"] + by_pool["Gamma"],
        "growth": by_pool["Beta"],
    }
