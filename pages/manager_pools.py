"""A manager's pools: status, live fundraising progress, capital and returns, and the next step for each."""

import streamlit as st

from app import webapp
from app.manager_ui import POOL_KEY, metric, money, multiple, percent
from app.textsafe import md
from core.services import manager, pools

actor = webapp.require_actor("fund_manager")
st.title("My pools")
if st.button("Create a pool", icon=":material/add:", type="primary"):
    st.session_state.pop("edit_pool_id", None)
    st.switch_page("pages/manager_pool_form.py")

NEXT_PAGES = {
    "open": [("Review commitments", "pages/manager_commitments.py")],
    "closed": [
        ("Commitments", "pages/manager_commitments.py"),
        ("Capital calls", "pages/manager_calls.py"),
        ("Portfolio", "pages/manager_portfolio.py"),
    ],
    "investing": [
        ("Capital calls", "pages/manager_calls.py"),
        ("Portfolio", "pages/manager_portfolio.py"),
        ("Distributions", "pages/manager_distributions.py"),
    ],
    "wound_down": [],
}


def go(pool_id: int, page: str) -> None:
    st.session_state[POOL_KEY] = pool_id
    st.switch_page(page)


@st.fragment(run_every=3.0)
def live_pools() -> None:
    """Re-read the pools only when one of their version counters moved (a commitment, a posting)."""
    versions = webapp.call(manager.pool_versions)
    if st.session_state.get("_my_pools_versions") != versions or "_my_pools" not in st.session_state:
        st.session_state["_my_pools"] = webapp.call(manager.my_pools)
        st.session_state["_my_pools_versions"] = versions
    mine = st.session_state["_my_pools"]
    if not mine:
        st.info("You have no pools yet. Create one to start fundraising.")
        return
    for pool in mine:
        with st.container(border=True):
            head, actions = st.columns([5, 2])
            head.subheader(md(pool.name), anchor=False)
            head.caption(
                f"{pool.status.upper()} · {pool.strategy.replace('_', ' ')} · {pool.currency} · "
                f"closes {pool.close_date:%d %b %Y}"
            )
            head.progress(
                pool.raised,
                text=f"committed {money(pool.accepted, pool.currency)} of target "
                f"{money(pool.target_size, pool.currency)} (hard cap {money(pool.hard_cap, pool.currency)})"
                f" · pending {money(pool.pending, pool.currency)} · {pool.investors} investors",
            )
            if pool.status != "draft":
                figures = head.columns(5)
                metric(figures[0], "Called", pool.called, pool.currency)
                metric(figures[1], "Paid-in", pool.paid_in, pool.currency)
                metric(figures[2], "NAV", pool.nav, pool.currency)
                figures[3].metric("Net IRR", percent(pool.irr))
                figures[4].metric("TVPI", multiple(pool.tvpi))
            if pool.status == "draft":
                if actions.button("Edit terms", key=f"edit-{pool.id}"):
                    st.session_state["edit_pool_id"] = pool.id
                    st.switch_page("pages/manager_pool_form.py")
                if actions.button("Open for commitments", key=f"open-{pool.id}", type="primary"):
                    with webapp.refusals_shown():
                        webapp.call(pools.open_pool, pool.id)
                        st.rerun()
            if pool.status == "open" and actions.button("Change the close date", key=f"date-{pool.id}"):
                st.session_state["edit_pool_id"] = pool.id
                st.switch_page("pages/manager_pool_form.py")
            for label, page in NEXT_PAGES.get(pool.status, []):
                if actions.button(label, key=f"{page}-{pool.id}"):
                    go(pool.id, page)
            if pool.status != "draft" and actions.button("Dashboard", key=f"dash-{pool.id}"):
                go(pool.id, "pages/manager_dashboard.py")
            if pool.status == "open" and actions.button("Close the pool", key=f"close-{pool.id}"):
                with webapp.refusals_shown():
                    webapp.call(pools.close_pool, pool.id)
                    st.rerun()


st.session_state.pop("_my_pools", None)  # a full run (navigation, a click) always reads afresh
live_pools()
