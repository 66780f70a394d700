"""The investor's landing page: every commitment across every pool, in one table."""

import pandas as pd
import streamlit as st

from core import webapp
from core.services import commitments

actor = webapp.require_actor("investor")
st.title("Portfolio")

mine = webapp.call(commitments.list_commitments)
if not mine:
    st.info("You have no commitments yet. Browse the open pools to commit to one.")
    st.page_link("pages/investor_open_pools.py", label="Open pools", icon=":material/storefront:")
    st.stop()

table = pd.DataFrame(
    [
        {
            "Pool": c.pool_name,
            "Currency": c.currency,
            "Requested": c.amount_requested,
            "Committed": c.amount_accepted,
            "Status": c.status,
            "Submitted": c.created_at,
        }
        for c in mine
    ]
)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "Requested": st.column_config.NumberColumn(format="accounting"),
        "Committed": st.column_config.NumberColumn(format="accounting"),
        "Submitted": st.column_config.DatetimeColumn(format="D MMM YYYY"),
    },
)
