"""A manager's pools: status, live fundraising progress, capital and returns, and the next step for each."""

import streamlit as st

from app import format, webapp
from app.manager_ui import POOL_KEY, amount, figures, lifecycle_button, show_flash, status
from app.textsafe import md
from core.views import manager

actor = webapp.require_actor("fund_manager")
st.title("My pools")
show_flash()
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


def card(pool: manager.PoolSummary) -> None:
    cur = pool.currency
    with st.container(border=True):
        head, actions = st.columns([3, 2])  # the actions column fits its labels from 1024 px up
        head.subheader(md(pool.name), anchor=False)
        head.caption(
            f"{status(pool.status)} · {status(pool.strategy)} · {cur} · closes {format.day(pool.close_date)}"
        )
        head.progress(
            pool.raised,
            text=f"Committed {format.money(pool.committed, cur)} of a {format.money(pool.target_size, cur)} "
            f"target (hard cap {format.money(pool.hard_cap, cur)}) · pending {format.money(pool.pending, cur)}"
            f" · {format.count(pool.investors, 'investor')}",
        )
        if pool.status != "draft":
            with head:
                figures(
                    amount("Called", pool.called, cur),
                    amount("Paid-in", pool.paid_in, cur),
                    amount("NAV", pool.nav, cur),
                    ("Net IRR", format.percent(pool.irr), "n/a until there is a rate to solve for"),
                    ("TVPI", format.multiple(pool.tvpi), "n/a until capital is paid in"),
                )
        if pool.status == "draft":
            if actions.button("Edit terms", key=f"edit-{pool.id}"):
                st.session_state["edit_pool_id"] = pool.id
                st.switch_page("pages/manager_pool_form.py")
            with actions:
                lifecycle_button(pool.id, "open", key=f"open-{pool.id}")
        if pool.status == "open" and actions.button("Change the close date", key=f"date-{pool.id}"):
            st.session_state["edit_pool_id"] = pool.id
            st.switch_page("pages/manager_pool_form.py")
        if pool.status not in ("draft", "open") and actions.button(
            "Wire instructions and reminders", key=f"wire-{pool.id}"
        ):
            st.session_state["edit_pool_id"] = pool.id
            st.switch_page("pages/manager_pool_form.py")
        for label, page in NEXT_PAGES.get(pool.status, []):
            if actions.button(label, key=f"{page}-{pool.id}"):
                go(pool.id, page)
        if pool.status != "draft" and actions.button("Dashboard", key=f"dash-{pool.id}"):
            go(pool.id, "pages/manager_dashboard.py")
        if pool.status == "open":
            with actions:
                lifecycle_button(pool.id, "closed", key=f"close-{pool.id}")


@st.fragment(run_every=3.0)
def live_pools() -> None:
    """Re-read the pools only when one of their version counters moved (a commitment, a posting).
    The cards keep one order, newest pool first, whatever happens to them."""
    versions = webapp.call(manager.pool_versions)
    if st.session_state.get("_my_pools_versions") != versions or "_my_pools" not in st.session_state:
        st.session_state["_my_pools"] = webapp.call(manager.my_pools)
        st.session_state["_my_pools_versions"] = versions
    mine = st.session_state["_my_pools"]
    if not mine:
        st.info("You have no pools yet. Create one to start fundraising.")
        return
    for pool in mine:
        card(pool)


st.session_state.pop("_my_pools", None)  # a full run (navigation, a click) always reads afresh
live_pools()
