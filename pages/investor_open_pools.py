"""Pools this investor may join, with live fundraising progress and a commit form (the service
checks eligibility, tickets and the hard cap), and their own pending commitments, each of which
can be withdrawn after a question. Nothing listed says why, and what to do next."""

import streamlit as st

from app import investor_ui as ui
from app import webapp
from app.textsafe import md
from core.views import investor

actor = webapp.require_actor("investor")
st.title("Open pools")
ui.show_said()

view = ui.load(investor.open_pools)
standing = view.standing
if standing.kyc_note:
    st.warning(f"No pool is listed for you yet. {md(standing.kyc_note)}", icon=":material/badge:")
else:
    if view.accreditation_note:
        st.info(md(view.accreditation_note), icon=":material/verified_user:")
    if not view.pools:
        st.info(
            "No pool is open to you right now. New pools show here as managers open them for commitments."
        )
ui.open_pools_tables(view)

joinable = [p for p in view.pools if p.may_commit]
if view.pools:
    st.subheader("Commit to a pool", anchor=False)
if view.pools and not joinable:
    st.caption("You already have a commitment to every pool open to you (or no room is left in them).")
if joinable:
    ui.commit_form(joinable)

st.subheader("My pending commitments", anchor=False)
if not view.pending:
    st.caption("You have no commitment awaiting a manager's decision.")
ui.pending_commitments(view.pending, withdraw=True)
