"""Every pool on the platform, charted: filters, five charts and the pool table, each as CSV."""

from datetime import timedelta

import streamlit as st

from app import charts, format, webapp
from core import clock
from core.services import platform
from core.vocabulary import PoolStatus, label

actor = webapp.require_actor("analyst")
st.title("Explorer")
options = webapp.call(platform.explorer_options)
today = clock.today()

with st.container(border=True):
    left, mid, right = st.columns(3)
    drafts = right.toggle(
        "Count draft pools",
        value=False,
        help="Drafts have raised nothing yet, so the platform's figures leave them out unless you count them.",
    )
    strategies = left.multiselect(
        "Strategy", options.strategies, format_func=label, placeholder="All strategies"
    )
    vintages = mid.multiselect("Vintage year", options.vintages, placeholder="All vintages")
    currencies = left.multiselect("Currency", options.currencies, placeholder="All currencies")
    statuses = mid.multiselect(
        "Status",
        [s for s in options.statuses if drafts or s != PoolStatus.DRAFT],
        format_func=label,
        placeholder="All statuses" if drafts else "All statuses but draft",
    )
    managers = left.multiselect(
        "Manager", options.managers, format_func=lambda c: c.label, placeholder="All managers"
    )
    start = options.first_date or today - timedelta(days=365)
    period = mid.date_input("Date range", value=(start, today), max_value=today, format="YYYY-MM-DD")
    st.caption(
        "Figures are as of the end of the range; capital over time is shown within it. "
        "Vintage: the year of a pool's first capital call (or of its opening, before one)."
    )

since, until = (period[0], period[1]) if len(period) == 2 else (period[0], today)
filters = platform.Filters(
    tuple(strategies),
    tuple(vintages),
    tuple(currencies),
    tuple(statuses),
    tuple(m.id for m in managers),
    since,
    until,
    drafts,
)
with webapp.refusals_shown():
    data = webapp.call(platform.explorer, filters)
    a, b, c, d = st.columns(4)
    a.metric("Pools", format.count(len(data.pools), "pool"), help=data.scope)
    b.metric(
        "Median TVPI",
        format.multiple(data.median_tvpi),
        help="Middle TVPI of the counted pools that have one (n/a: nothing paid in, or a negative NAV)",
    )
    c.metric(
        "Median IRR",
        format.percent(data.median_irr),
        help="Middle since-inception IRR of the counted pools that have one (n/a: no rate solves the flows)",
    )
    d.metric("Reached target", format.count(data.reached_target, "pool"))
    st.caption(data.scope)
    if not data.pools:
        st.info(
            "No pool matches these filters as of the end of the range. Widen the filters, move the end "
            "of the range later, or count draft pools."
        )
        st.stop()

    # Lazy tabs: only the open tab's chart is built and sent, so a rerun costs one figure, not six.
    perf, raising, velocity, flows, concentration, table = st.tabs(
        [
            "Performance by vintage",
            "Committed vs target",
            "Fundraising velocity",
            "Capital over time",
            "Concentration",
            "Pools",
        ],
        key="explorer-tab",
        on_change="rerun",
    )
    if perf.open:
        with perf:
            metric = st.radio("Measure", ["TVPI", "IRR"], horizontal=True, key="perf-metric")
            if data.median_tvpi is None and data.median_irr is None:
                st.info(
                    "No counted pool has a TVPI or an IRR yet: they appear once investors have paid in "
                    "to a capital call."
                )
            else:
                charts.show(
                    charts.performance_by_vintage(data, metric),
                    lambda: charts.pools_frame(
                        data, names=["Pool", "Strategy", "Currency", "Vintage", "Committed", "TVPI", "IRR"]
                    ),
                    "performance_by_vintage.csv",
                    "perf",
                )
            charts.table(charts.vintages_frame(data), None)
    if raising.open:
        with raising:
            charts.show(
                charts.committed_vs_target(data),
                lambda: charts.pools_frame(
                    data, names=["Pool", "Status", "Currency", "Target size", "Committed", "Raised"]
                ),
                "committed_vs_target.csv",
                "raising",
            )
    if velocity.open:
        with velocity:
            if not any(p.days_to_target is not None for p in data.pools):
                st.info(
                    "No counted pool has reached its target yet, so there is no fundraising speed to show: "
                    "a pool appears here on the day its accepted commitments reach its target size."
                )
            else:
                charts.show(
                    charts.fundraising_velocity(data),
                    lambda: charts.pools_frame(data, names=["Pool", "Vintage", "Strategy", "Days to target"]),
                    "fundraising_velocity.csv",
                    "velocity",
                )
    if flows.open:
        with flows:
            months = webapp.call(platform.explorer_flows, filters)
            moved = platform.flow_currencies(months)
            if not moved:
                st.info(
                    "No capital was called, paid in or distributed in this range: the chart fills in "
                    "with the first capital call of a counted pool."
                )
            else:
                currency = (
                    st.radio("Currency", moved, horizontal=True, key="flows-currency")
                    if len(moved) > 1
                    else moved[0]
                )
                frame = charts.flows_frame(months, currency)
                charts.show(
                    charts.capital_over_time(frame, currency),
                    lambda: frame,
                    f"capital_over_time_{currency}.csv",
                    "flows",
                )
    if concentration.open:
        with concentration:
            if not data.most_concentrated(1):
                st.info("No counted pool has an accepted commitment yet: concentration shows once one has.")
            else:
                charts.show(
                    charts.concentration(data),
                    lambda: charts.pools_frame(
                        data, names=["Pool", "Currency", "Investors", "Largest investor", "Top 5", "Top 10"]
                    ),
                    "concentration.csv",
                    "concentration",
                )
    if table.open:
        with table:
            held = charts.pool_currencies(data)
            currency = (
                st.radio(
                    "Currency",
                    held,
                    horizontal=True,
                    key="pools-currency",
                    help="Amounts of different currencies are never mixed in one column.",
                )
                if len(held) > 1
                else held[0]
            )
            view = st.segmented_control(
                "Columns", list(charts.POOL_VIEWS), default="Performance", key="pools-view"
            )
            charts.table(
                charts.pools_frame(data, currency, charts.POOL_VIEWS[view or "Performance"]), currency
            )
            charts.download(
                lambda: charts.pools_frame(data),
                "pools.csv",
                "pools",
                "Download every pool, every column (CSV)",
            )
