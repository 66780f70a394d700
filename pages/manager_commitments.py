"""Review a pool's pending commitments: accept, accept scaled down, or reject."""

import pandas as pd
import streamlit as st

from core import webapp
from core.services import commitments, pools

actor = webapp.require_actor("fund_manager")
st.title("Commitments")

mine = [p for p in webapp.call(pools.list_pools) if p.status in ("open", "closed")]
if not mine:
    st.info("Open a pool to receive commitments.")
    st.stop()
ids = [p.id for p in mine]
chosen = st.session_state.get("commitments_pool_id")
pool = st.selectbox(
    "Pool",
    mine,
    index=ids.index(chosen) if chosen in ids else 0,
    format_func=lambda p: f"{p.name} ({p.status})",
)
progress = webapp.call(pools.fundraising, pool.id)
cols = st.columns(4)
cols[0].metric("Accepted", f"{progress.accepted:,.0f} {pool.currency}")
cols[1].metric("Pending", f"{progress.pending:,.0f} {pool.currency}")
cols[2].metric("Room under hard cap", f"{progress.remaining:,.0f} {pool.currency}")
cols[3].metric("Investors", progress.investors)

pending = webapp.call(commitments.list_commitments, pool_id=pool.id, status="pending")
st.subheader(f"Pending ({len(pending)})", anchor=False)
for item in pending:
    with st.container(border=True):
        info, amount_col, buttons = st.columns([3, 2, 2])
        info.write(f"**{item.investor_name}** · KYC {item.kyc_status}")
        info.caption(f"asked for {item.amount_requested:,.2f} {item.currency}")
        scaled = amount_col.text_input(
            "Accept amount", value=f"{item.amount_requested:f}", key=f"amt-{item.id}"
        )
        if buttons.button("Accept", key=f"accept-{item.id}", type="primary"):
            with webapp.refusals_shown():
                accepted = webapp.call(commitments.accept_commitment, item.id, scaled)
                st.success(f"Accepted {accepted:,.2f} {item.currency}")
                st.rerun()
        if buttons.button("Reject", key=f"reject-{item.id}"):
            with webapp.refusals_shown():
                webapp.call(commitments.reject_commitment, item.id)
                st.rerun()

decided = [c for c in webapp.call(commitments.list_commitments, pool_id=pool.id) if c.status != "pending"]
if decided:
    st.subheader("Decided", anchor=False)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Investor": c.investor_name,
                    "Requested": c.amount_requested,
                    "Accepted": c.amount_accepted,
                    "Status": c.status,
                }
                for c in decided
            ]
        ),
        hide_index=True,
        column_config={
            "Requested": webapp.money_column("Requested", pool.currency),
            "Accepted": webapp.money_column("Accepted", pool.currency),
        },
    )
if pool.status == "open" and st.button("Close the pool to new commitments"):
    with webapp.refusals_shown():
        webapp.call(pools.close_pool, pool.id)
        st.rerun()
