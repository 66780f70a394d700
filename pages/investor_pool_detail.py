"""One pool as the investor sees it: terms, fundraising, their capital account, every transaction and
the pool's documents (shared ones and their own notices and statements).

The pool comes from ?pool=<id> or the pool last opened; the read model refuses one that is not theirs.
"""

import streamlit as st

from app import format, notices_ui, webapp
from app import investor_ui as ui
from app.textsafe import md
from core.errors import DomainError, NotFound
from core.views import investor

actor = webapp.require_actor("investor")
st.title("Pool detail")
period = ui.range_picker()

requested = st.query_params.get("pool") or st.session_state.get(ui.POOL_KEY)
try:
    pool_id = None if requested is None else int(requested)
except (TypeError, ValueError):
    pool_id = -1  # not a pool id at all: the read model says there is no such pool
detail = None
try:
    detail = webapp.call(investor.pool_detail, pool_id, period)
except NotFound as refused:
    if pool_id is not None:
        st.error(md(refused.message))
    else:  # no pool asked for, and none of their own yet
        st.info("You have no pools yet: browse **Open pools** in the menu to commit to one.")
except DomainError as refused:
    st.error(md(refused.message))
if detail is None:
    if requested is not None and st.button("Show my own pools"):
        st.query_params.pop("pool", None)
        st.session_state.pop(ui.POOL_KEY, None)
        st.rerun()
    st.stop()

pool, cur = detail.pool, detail.pool.currency
names = {c.id: f"{c.name} ({c.status})" for c in detail.choices} | {pool.id: f"{pool.name} ({pool.status})"}
picked = st.selectbox(
    "Pool", list(names), index=list(names).index(pool.id), format_func=lambda pool: names[pool]
)
if picked != pool.id:
    st.query_params["pool"] = str(picked)
    st.rerun()
st.session_state[ui.POOL_KEY] = pool.id
st.query_params["pool"] = str(pool.id)

st.header(md(pool.name), anchor=False)
ui.pool_terms(pool)
st.subheader("Fundraising", anchor=False)
ui.fundraising_bar(detail.fundraising)

st.subheader("Your position", anchor=False)
st.caption(f"Figures {period.label}.")
if detail.figures is None:
    st.info("You have no position in this pool yet: it starts once the manager accepts your commitment.")
else:
    ui.figures_metrics(detail.figures, period)

st.subheader("Capital account", anchor=False)
st.caption(f"ILPA capital account statement {period.label}; outflows are negative so the NAV lines add up.")
ui.capital_account_table(detail.capital_account, cur, key="capital-account")
st.caption(
    md(
        f"Memo, not in Ending NAV: accrued incentive allocation {format.money(detail.accrued_carry, cur)} "
        f"as of {format.day(period.as_of)}, the carried interest the manager would take from your account "
        "if every holding were sold at its latest mark that day."
        if detail.accrued_carry is not None
        else "Memo, not in Ending NAV: accrued incentive allocation n/a until you have paid capital in."
    )
)
st.subheader("Transactions", anchor=False)
ui.transactions_table(detail.transactions, cur, key="transactions")
st.subheader("Capital calls", anchor=False)
if detail.call_items:
    ui.call_items_table(detail.call_items, cur, key="calls")
else:
    st.caption("No capital calls to you in this pool yet.")
st.subheader("Your commitments", anchor=False)
st.dataframe(
    [
        {
            "Date": c.created_at.date(),
            "Requested": c.requested,
            "Accepted": c.accepted,
            "Status": c.status.capitalize(),
        }
        for c in detail.commitments
    ],
    hide_index=True,
    column_config={
        "Date": format.date_column("Date"),
        "Requested": format.money_column("Requested", cur),
        "Accepted": format.money_column("Accepted", cur, help="n/a until the manager decides"),
    },
    placeholder=format.NA,
    key="commitments",
)
st.subheader("Documents", anchor=False)
if not detail.documents:
    st.caption("No documents have been shared for this pool yet.")
else:
    notices_ui.documents_table(detail.documents, key="pool-documents", pool=False)
    notices_ui.download_picker(
        detail.documents,
        key=f"pool-document-{pool.id}",
        describe=lambda d: f"{d.title} · version {d.version}",
    )
