"""Up to five pools side by side: J-curves, IRR over time and multiples, each chart's data as CSV."""

import streamlit as st

from app import charts, format, webapp
from app.textsafe import md
from core import clock
from core.services import platform

actor = webapp.require_actor("analyst")
st.title("Compare pools")
choices = webapp.call(platform.compare_choices)
today = clock.today()

left, right = st.columns([4, 1])
chosen = left.multiselect(
    f"Pools (up to {platform.MAX_COMPARE})",
    choices,
    format_func=lambda c: c.label,
    max_selections=platform.MAX_COMPARE,
    placeholder="Type to search by name",
    help=f"The comparison takes at most {platform.MAX_COMPARE} pools: 'Select all' takes the first "
    f"{platform.MAX_COMPARE} in the list.",
    key="compare-pools",
)
until = right.date_input("As of", value=today, max_value=today, format="YYYY-MM-DD")

if not chosen:
    st.info(
        f"Pick up to {platform.MAX_COMPARE} pools to compare their J-curves, IRRs and multiples "
        "month by month."
    )
    st.stop()
if len(chosen) == platform.MAX_COMPARE and len(choices) > platform.MAX_COMPARE:
    st.caption(
        f"Comparing {platform.MAX_COMPARE} pools, the most it takes ('Select all' stops at the first "
        f"{platform.MAX_COMPARE}); remove one to add another."
    )

with webapp.refusals_shown():
    curves = webapp.call(platform.compare_pools, [c.id for c in chosen], until)
    table = charts.multiples_frame(curves)
    currencies = sorted({c.currency for c in curves})
    for currency in currencies:
        if len(currencies) > 1:
            st.caption(f"In {md(currency)}:")
        charts.table(table[table["Currency"] == currency].drop(columns="Currency"), currency)
    if len(currencies) > 1:
        st.caption("These pools are in different currencies: compare ratios and percentages, not amounts.")
    charts.download(lambda: table, "multiples.csv", "multiples-table", "Download this table (CSV)")
    series = charts.curves_frame(curves)
    if series.empty:
        st.info(
            "No capital has been paid in to these pools by "
            f"{format.day(until)}, so there is no curve to draw yet: each curve starts with a pool's "
            "first contribution."
        )
    else:
        charts.show(charts.j_curves(curves), lambda: series, "j_curves.csv", "jcurve")
        charts.show(charts.irr_over_time(curves), lambda: series, "irr_over_time.csv", "irr")
    charts.show(charts.multiples(curves), lambda: table, "multiples.csv", "multiples")
