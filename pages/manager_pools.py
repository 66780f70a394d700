"""A manager's pools: status and fundraising progress, with the lifecycle buttons."""

import streamlit as st

from core import webapp
from core.services import pools

actor = webapp.require_actor("fund_manager")
st.title("My pools")
if st.button("Create a pool", icon=":material/add:", type="primary"):
    st.session_state.pop("edit_pool_id", None)
    st.switch_page("pages/manager_pool_form.py")

mine = webapp.call(pools.list_pools)
if not mine:
    st.info("You have no pools yet.")
for pool in mine:
    progress = webapp.call(pools.fundraising, pool.id)
    with st.container(border=True):
        head, actions = st.columns([4, 2])
        head.subheader(pool.name, anchor=False)
        head.caption(f"{pool.status.upper()} · {pool.strategy.replace('_', ' ')} · {pool.currency}")
        head.progress(
            min(float(progress.accepted / pool.hard_cap), 1.0),
            text=f"accepted {progress.accepted:,.0f} · pending {progress.pending:,.0f} · "
            f"target {pool.target_size:,.0f} · hard cap {pool.hard_cap:,.0f} {pool.currency}",
        )
        if pool.status == "draft":
            if actions.button("Edit terms", key=f"edit-{pool.id}"):
                st.session_state["edit_pool_id"] = pool.id
                st.switch_page("pages/manager_pool_form.py")
            if actions.button("Open for commitments", key=f"open-{pool.id}", type="primary"):
                with webapp.refusals_shown():
                    webapp.call(pools.open_pool, pool.id)
                    st.rerun()
        elif pool.status == "open":
            if actions.button("Review commitments", key=f"review-{pool.id}"):
                st.session_state["commitments_pool_id"] = pool.id
                st.switch_page("pages/manager_commitments.py")
            if actions.button("Close the pool", key=f"close-{pool.id}"):
                with webapp.refusals_shown():
                    webapp.call(pools.close_pool, pool.id)
                    st.rerun()
