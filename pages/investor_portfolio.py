"""The investor's landing page: one picture of every pool, all figures for the chosen date range."""

import streamlit as st

from app import investor_ui as ui
from app import webapp
from core.services import investor

actor = webapp.require_actor("investor")
st.title("Portfolio")
period = ui.range_picker()
overview = ui.load(investor.portfolio_overview, period)

st.caption(
    f"Figures {period.label}. Paid-in, distributions and fees are the period's; commitment, unfunded, "
    "NAV and outstanding calls are as of its end."
    + ("" if period.since_inception else " Multiples and IRR count the NAV at the start as paid in.")
)
if overview.empty:
    st.info("You have no investments yet. Browse **Open pools** in the menu to commit to one.")
ui.portfolio_totals(overview)
ui.holdings_tables(overview)
ui.portfolio_charts(overview)
if overview.pending:
    st.subheader("Awaiting the manager's decision", anchor=False)
    ui.pending_commitments(overview.pending)
