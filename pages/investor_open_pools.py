"""Pools this investor may join, with live fundraising progress, a commit form checked before it
submits (and again by the service), and their own pending commitments with a withdraw action."""

import streamlit as st

from app import investor_ui as ui
from app import webapp
from app.textsafe import md
from core.services import commitments, investor

actor = webapp.require_actor("investor")
st.title("Open pools")
done = st.session_state.pop("_open_pools_done", None)
if done:
    st.success(done)

view = ui.load(investor.open_pools)
if view.reason:
    st.warning(f"You cannot commit right now: {md(view.reason)}.")
elif view.not_accredited:
    st.caption(f"{view.not_accredited} more open pool(s) ask for a higher accreditation than yours.")
if view.eligible and not view.pools:
    st.info("No pool is open to you right now.")
ui.open_pools_tables(view)

joinable = {p.pool.id: p for p in view.pools if p.may_commit}
if view.pools:
    st.subheader("Commit to a pool", anchor=False)
if view.pools and not joinable:
    st.caption("You already have a commitment to every pool open to you.")
if joinable:
    chosen = joinable[
        st.selectbox("Pool", list(joinable), format_func=lambda i: joinable[i].pool.name, key="commit-pool")
    ]
    pool, cur = chosen.pool, chosen.pool.currency
    st.session_state.pop(f"_raising_{pool.id}", None)  # a full run starts from the figures just read
    ui.live_fundraising(pool.id, chosen.fundraising)
    with st.form("commit", clear_on_submit=True):
        amount = st.text_input(f"Amount ({cur})", key="commit-amount")
        st.caption(
            f"Minimum ticket {ui.money(pool.min_ticket, cur)} · maximum {ui.money(pool.max_ticket, cur)} · "
            f"at most {ui.money(chosen.largest_ticket, cur)} fits under the hard cap now."
        )
        submitted = st.form_submit_button("Commit", type="primary")
    if submitted:
        with webapp.refusals_shown():
            value = webapp.call(investor.check_commitment, pool.id, amount)  # refused: nothing written
            webapp.call(commitments.submit_commitment, pool.id, amount)  # checks everything again
            st.session_state["_open_pools_done"] = (
                f"Commitment of {ui.money(value, cur)} to {md(pool.name)} submitted; the manager will review it."
            )
            st.rerun()

st.subheader("My pending commitments", anchor=False)
if not view.pending:
    st.caption("None.")
withdrawn = ui.pending_commitments(view.pending, withdraw=True)
if withdrawn is not None:
    with webapp.refusals_shown():
        webapp.call(commitments.withdraw_commitment, withdrawn)
        st.session_state["_open_pools_done"] = "Commitment withdrawn."
        st.rerun()
