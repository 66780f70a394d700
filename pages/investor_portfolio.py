"""The investor's landing page: one picture of every pool, all figures for the chosen date range."""

import streamlit as st

from app import investor_ui as ui
from app import webapp
from app.textsafe import md
from core.views import investor

actor = webapp.require_actor("investor")
st.title("Portfolio")
period = ui.range_picker()
overview = ui.load(investor.portfolio_overview, period)

st.caption(
    f"Figures {period.label}. Paid-in, distributions and fees are the period's; commitment, unfunded, "
    "NAV and outstanding calls are as of its end."
    + ("" if period.since_inception else " Multiples and IRR count the NAV at the start as paid in.")
)
if overview.standing is not None:
    standing = overview.standing
    if standing.kyc_note:
        st.info(f"You have no investments yet. {md(standing.kyc_note)}")
    elif standing.pending:
        st.info(
            "You have no investments yet: your commitment awaits the manager's decision (below). Once it "
            "is accepted the pool shows here, and its capital calls under **Capital calls**."
        )
    else:
        st.info("You have no investments yet. Browse **Open pools** in the menu to commit to one.")
ui.portfolio_totals(overview)
ui.holdings_tables(overview)
ui.portfolio_charts(overview)
if overview.pending:
    st.subheader("Awaiting the manager's decision", anchor=False)
    ui.pending_commitments(overview.pending)
