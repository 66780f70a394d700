"""Up to five pools side by side: J-curves, IRR over time and multiples, each chart's data as CSV."""

from datetime import date

import streamlit as st

from app import charts, webapp
from core.services import platform

actor = webapp.require_actor("analyst")
st.title("Compare pools")
options = webapp.call(platform.explorer_options)

left, right = st.columns([4, 1])
chosen = left.multiselect(
    f"Pools (up to {platform.MAX_COMPARE})",
    options.pools,
    format_func=lambda c: c.label,
    max_selections=platform.MAX_COMPARE,
    placeholder="type to search by name",
)
until = right.date_input("As of", value=date.today(), max_value=date.today())

if not chosen:
    st.info("Pick pools to compare their J-curves and multiples.")
    st.stop()

with webapp.refusals_shown():
    curves = webapp.call(platform.compare_pools, [c.id for c in chosen], until)
    table = charts.multiples_frame(curves)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "irr": st.column_config.NumberColumn("irr", format="percent"),
        },
    )
    if any(c.currency != curves[0].currency for c in curves):
        st.caption("These pools are in different currencies: compare ratios and percentages, not amounts.")
    series = charts.curves_frame(curves)
    if series.empty:
        st.info("No capital has been paid in to these pools yet, so there is no curve to draw.")
    else:
        charts.show(charts.j_curves(curves), series, "j_curves.csv", "jcurve")
        charts.show(charts.irr_over_time(curves), series, "irr_over_time.csv", "irr")
    charts.show(charts.multiples(curves), table, "multiples.csv", "multiples")
