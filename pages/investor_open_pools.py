"""Open pools an investor may join, a commit form, and their own pending commitments."""

import streamlit as st

from core import webapp
from core.services import commitments, pools

actor = webapp.require_actor("investor")
st.title("Open pools")

open_pools = webapp.call(pools.list_pools, status="open")
if not open_pools:
    st.info("No pool is open for commitments right now.")

for pool in open_pools:
    progress = webapp.call(pools.fundraising, pool.id)
    with st.container(border=True):
        st.subheader(pool.name, anchor=False)
        left, right = st.columns([3, 2])
        with left:
            st.caption(
                f"{pool.strategy.replace('_', ' ').title()} · {pool.currency} · closes {pool.close_date:%d %b %Y}"
            )
            st.progress(
                min(float(progress.accepted / pool.target_size), 1.0),
                text=f"{progress.accepted:,.0f} of {pool.target_size:,.0f} {pool.currency} target "
                f"(hard cap {pool.hard_cap:,.0f})",
            )
            st.write(
                f"Tickets {pool.min_ticket:,.0f} – {pool.max_ticket:,.0f} {pool.currency} · "
                f"fee {pool.management_fee_rate:.2%} on {pool.management_fee_basis} · "
                f"carry {pool.carry_rate:.0%} over a {pool.hurdle_rate:.0%} hurdle"
            )
        with right, st.form(f"commit-{pool.id}", clear_on_submit=True):
            amount = st.text_input(
                f"Amount ({pool.currency})",
                key=f"amount-{pool.id}",
                help=f"Between {pool.min_ticket:,.0f} and {min(pool.max_ticket, progress.remaining):,.0f}",
            )
            if st.form_submit_button("Commit", type="primary"):
                with webapp.refusals_shown():
                    webapp.call(commitments.submit_commitment, pool.id, amount)
                    st.success(
                        f"Commitment of {amount} {pool.currency} submitted; the manager will review it."
                    )

st.header("My pending commitments", anchor=False)
pending = webapp.call(commitments.list_commitments, status="pending")
if not pending:
    st.caption("None.")
for item in pending:
    cols = st.columns([4, 2, 1])
    cols[0].write(item.pool_name)
    cols[1].write(f"{item.amount_requested:,.2f} {item.currency}")
    if cols[2].button("Withdraw", key=f"withdraw-{item.id}"):
        with webapp.refusals_shown():
            webapp.call(commitments.withdraw_commitment, item.id)
            st.rerun()
