"""Approvals: every distribution and capital call drafted on the platform and waiting for a second
person, each with its preview exactly as drafted; an admin approves it (asked first, then followed
to posted) or rejects it with a reason, as another manager of its pool would (a pool with one
manager has no one else to approve)."""

import streamlit as st

from app import format, webapp
from app.approvals_ui import KINDS, decision
from app.manager_ui import show_flash
from app.textsafe import md
from core.services import approvals

actor = webapp.require_actor("admin")
st.title("Approvals")
show_flash()
webapp.show_finished("admin-approval")
waiting = webapp.call(approvals.waiting_everywhere)
if not waiting:
    st.info("Nothing is waiting for approval.")
for found in waiting:
    what, describe, render = KINDS[found.waiting.kind]
    draft = found.waiting
    described = describe(draft.preview)
    with st.container(border=True):
        st.markdown(
            f"**{md(found.pool_name)}**: {described}, drafted by {md(draft.drafted_by_name)} "
            f"on {format.day(draft.drafted_at.date())}"
        )
        render(draft.preview, f"admin-draft-{draft.id}")
        if draft.changes:
            st.warning(
                f"The pool changed since this was drafted ({md('; '.join(draft.changes))}): approving it "
                "would be refused. Reject it, so that its manager drafts it again."
            )
        decision("admin-approval", draft, described)
webapp.follow_operation("admin-approval")
