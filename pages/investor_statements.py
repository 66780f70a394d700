"""Statements: the capital account and the transaction history for a period, on screen and as CSV.

The files are built only when asked for, from the same read model rows as the tables here.
"""

import streamlit as st

from app import investor_ui as ui
from app import webapp
from app.textsafe import md
from core.views import investor

actor = webapp.require_actor("investor")
st.title("Statements")
period = ui.range_picker()
pool_id = st.session_state.get("statement-pool")  # the select box below, as last chosen
result = ui.load(investor.statement, period, pool_id)

names = {None: "All my pools", **{c.id: c.name for c in result.choices}}
st.selectbox("Pool", list(names), format_func=lambda pool: names[pool], key="statement-pool")
st.caption(f"{md(result.investor_name)} · {period.label}")
if not result.pools:
    st.info("No pools to report on yet: statements start with your first accepted commitment.")
    st.stop()

suffix = f"{'inception' if period.since_inception else period.start}_to_{period.end}"
left, right = st.columns(2)
left.download_button(
    "Capital account statement (CSV)",
    data=ui.deferred(investor.capital_account_csv, period, pool_id),
    file_name=f"capital-account_{suffix}.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
    key="download-capital-account",
)
right.download_button(
    "Transaction history (CSV)",
    data=ui.deferred(investor.transactions_csv, period, pool_id),
    file_name=f"transactions_{suffix}.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
    key="download-transactions",
)

st.subheader("Capital account", anchor=False)
ui.statement_tables(
    investor.capital_account_rows(result),
    investor.CAPITAL_ACCOUNT_HEADER,
    ["Pool", "Line", "Amount"],
    ["Amount"],
    key="statement-account",
    whole=True,
)
st.subheader("Transactions", anchor=False)
ui.statement_tables(
    investor.transaction_rows(result),
    investor.TRANSACTION_HEADER,
    ["Date", "Pool", "Type", "Description", "Amount", "NAV effect"],
    ["Amount", "NAV effect"],
    key="statement-transactions",
)
