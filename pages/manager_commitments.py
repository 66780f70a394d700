"""Review a pool's commitments: accept, accept scaled down, reject, or scale all down to fit the hard cap."""

import streamlit as st

from app import webapp
from app.manager_ui import choose_pool, metric, money, table
from app.textsafe import md
from core.services import commitments, manager, pools

actor = webapp.require_actor("fund_manager")
st.title("Commitments")
pool = choose_pool(("open", "closed", "investing"), empty="Open a pool to receive commitments.")
PAGE_SIZE = 10

flash = st.session_state.pop("_commitments_flash", None)
if flash:
    st.success(flash)
webapp.show_finished("scale-down")
book = webapp.call(manager.commitment_book, pool.id)
cur = pool.currency

cols = st.columns(4)
metric(cols[0], "Accepted", book.accepted, cur)
metric(cols[1], "Pending", book.pending_total, cur)
metric(cols[2], "Room under the hard cap", book.room, cur)
cols[3].metric("Investors", f"{book.investors:,}")
st.progress(
    min(int(book.accepted * 100 / pool.hard_cap), 100),
    text=f"{money(book.accepted, cur)} accepted of a {money(pool.target_size, cur)} target "
    f"and a {money(pool.hard_cap, cur)} hard cap",
)

st.subheader(f"Pending ({len(book.pending)})", anchor=False)
if not book.pending:
    st.caption("No commitment is waiting for a decision.")
pages = max(1, -(-len(book.pending) // PAGE_SIZE))
page = 0
if pages > 1:
    page = st.selectbox("Page", range(pages), format_func=lambda i: f"{i + 1} of {pages}")
for item in book.pending[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
    with st.container(border=True):
        info, amount_col, buttons = st.columns([3, 2, 2])
        info.write(f"**{md(item.investor_name)}**")
        kyc = f"KYC {item.kyc_status}"
        info.caption(f"asked for {money(item.amount_requested, cur)} · {kyc} · {item.created_at:%d %b %Y}")
        if item.kyc_status != "approved":
            info.warning(f"{kyc}: check before accepting.", icon=":material/warning:")
        amount = amount_col.text_input(
            "Accept amount",
            value=f"{item.amount_requested.normalize():f}",
            key=f"amt-{item.id}",
            help="Lower it to accept the commitment scaled down.",
        )
        if pool.status in ("open", "closed") and buttons.button(
            "Accept", key=f"accept-{item.id}", type="primary"
        ):
            with webapp.refusals_shown():
                accepted = webapp.call(commitments.accept_commitment, item.id, amount)
                scaled = (
                    ""
                    if accepted == item.amount_requested
                    else (f" (scaled down from {money(item.amount_requested, cur)})")
                )
                st.session_state["_commitments_flash"] = (
                    f"Accepted {money(accepted, cur)} from {md(item.investor_name)}{scaled}."
                )
                st.rerun()
        if buttons.button("Reject", key=f"reject-{item.id}"):
            with webapp.refusals_shown():
                webapp.call(commitments.reject_commitment, item.id)
                st.session_state["_commitments_flash"] = f"Rejected {md(item.investor_name)}'s commitment."
                st.rerun()

plans = st.session_state.setdefault("_scale_plans", {})
if book.pending and pool.status in ("open", "closed"):
    st.subheader("Scale all down to fit the hard cap", anchor=False)
    st.caption(
        "Every pending commitment is cut pro rata to the room left under the hard cap; a request that "
        "would fall under the minimum ticket is left out. Nothing is accepted until you confirm."
    )
    if st.button("Preview scale-down", icon=":material/compress:"):
        with webapp.refusals_shown():
            plans[pool.id] = webapp.call(manager.scale_down_plan, pool.id)
    plan = plans.get(pool.id)
    if plan is not None and plan.version != book.pool.version:
        plans.pop(pool.id)
        st.warning("The commitments changed since that preview; preview again.")
        plan = None
    if plan is not None:
        st.write(
            f"Requested {money(plan.requested, cur)} · room {money(plan.room, cur)} · "
            f"to accept {money(plan.proposed, cur)}"
            + (" · everything fits: all are accepted in full" if plan.fits else "")
        )
        table(
            {
                "Investor": [r.investor_name for r in plan.rows],
                "Requested": [r.requested for r in plan.rows],
                "Accept": [r.proposed for r in plan.rows],
            },
            cur,
            ("Requested", "Accept"),
        )
        if plan.left_out:
            st.caption(f"{len(plan.left_out)} request(s) left out stay pending; reject them above.")
        confirm, discard = st.columns(2)
        if confirm.button("Confirm and accept these amounts", type="primary"):
            with webapp.refusals_shown():
                webapp.submit_operation(pool.id, "settle_commitment", plan.payload, form="scale-down")
                plans.pop(pool.id, None)
        if discard.button("Discard the preview"):
            plans.pop(pool.id, None)
            st.rerun()
webapp.follow_operation("scale-down", done_message="The scaled-down commitments are accepted.")

decided = book.decided
if len(decided):
    st.subheader(f"Decided ({len(decided):,})", anchor=False)
    table(
        {
            "Investor": decided.investor_names,
            "Requested": decided.requested,
            "Accepted": decided.accepted,
            "Status": decided.statuses,
        },
        cur,
        ("Requested", "Accepted"),
    )
if pool.status == "open":
    st.divider()
    if st.button("Close the pool to new commitments"):
        with webapp.refusals_shown():
            webapp.call(pools.close_pool, pool.id)
            st.session_state["_commitments_flash"] = "The pool is closed: capital calls can start."
            st.rerun()
