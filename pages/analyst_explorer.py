"""Every pool on the platform, charted: filters, five charts and the pool table, each as CSV."""

from datetime import date, timedelta

import streamlit as st

from app import charts, webapp
from core.csvsafe import frame_to_csv
from core.services import platform

actor = webapp.require_actor("analyst")
st.title("Explorer")
options = webapp.call(platform.explorer_options)

with st.container(border=True):
    left, mid, right = st.columns(3)
    strategies = left.multiselect(
        "Strategy",
        options.strategies,
        format_func=lambda s: s.replace("_", " "),
        placeholder="all strategies",
    )
    vintages = mid.multiselect("Vintage year", options.vintages, placeholder="all vintages")
    currencies = right.multiselect("Currency", options.currencies, placeholder="all currencies")
    statuses = left.multiselect(
        "Status", options.statuses, format_func=lambda s: s.replace("_", " "), placeholder="all statuses"
    )
    managers = mid.multiselect(
        "Manager", options.managers, format_func=lambda c: c.label, placeholder="all managers"
    )
    start = options.first_date or date.today() - timedelta(days=365)
    period = right.date_input("Date range", value=(start, date.today()), max_value=date.today())
    st.caption(
        "Figures are as of the end of the range; flows over time are shown within it. "
        "Vintage: the year of a pool's first capital call (or of its opening)."
    )

since, until = (period[0], period[1]) if len(period) == 2 else (period[0], date.today())
filters = platform.Filters(
    tuple(strategies),
    tuple(vintages),
    tuple(currencies),
    tuple(statuses),
    tuple(m.id for m in managers),
    since,
    until,
)
with webapp.refusals_shown():
    data = webapp.call(platform.explorer, filters)
    pools = charts.pools_frame(data)
    a, b, c, d = st.columns(4)
    a.metric("Pools", f"{len(data.pools):,}")
    b.metric("Median TVPI", "—" if data.median_tvpi is None else f"{data.median_tvpi:.2f}x")
    c.metric("Median IRR", "—" if data.median_irr is None else f"{data.median_irr * 100:.1f}%")
    d.metric("Reached target", f"{data.reached_target:,}")

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
            charts.show(
                charts.performance_by_vintage(data, metric),
                pools[["pool_id", "pool", "strategy", "currency", "vintage", "committed", "tvpi", "irr"]],
                "performance_by_vintage.csv",
                "perf",
            )
            st.dataframe(charts.vintages_frame(data), hide_index=True)
    if raising.open:
        with raising:
            charts.show(
                charts.committed_vs_target(data),
                pools[["pool_id", "pool", "status", "currency", "target_size", "committed", "raised_pct"]],
                "committed_vs_target.csv",
                "raising",
            )
    if velocity.open:
        with velocity:
            charts.show(
                charts.fundraising_velocity(data),
                pools[["pool_id", "pool", "vintage", "strategy", "days_to_target"]],
                "fundraising_velocity.csv",
                "velocity",
            )
    if flows.open:
        with flows:
            moved = data.flow_currencies()
            if not moved:
                st.info("No capital has been called or distributed in this range.")
            else:
                currency = (
                    st.radio("Currency", moved, horizontal=True, key="flows-currency")
                    if len(moved) > 1
                    else moved[0]
                )
                frame = charts.flows_frame(data, currency)
                charts.show(
                    charts.capital_over_time(frame, currency),
                    frame,
                    f"capital_over_time_{currency}.csv",
                    "flows",
                )
    if concentration.open:
        with concentration:
            charts.show(
                charts.concentration(data),
                pools[
                    ["pool_id", "pool", "investors", "top1_share_pct", "top5_share_pct", "top10_share_pct"]
                ],
                "concentration.csv",
                "concentration",
            )
    if table.open:
        with table:
            st.dataframe(
                pools,
                hide_index=True,
                column_config={
                    "irr": st.column_config.NumberColumn("irr", format="percent"),
                },
            )
            st.download_button(
                "Download the pools (CSV)",
                data=lambda: frame_to_csv(pools),
                file_name="pools.csv",
                mime="text/csv",
                on_click="ignore",
                icon=":material/download:",
            )
