"""Review a pool's commitments: accept, accept scaled down, reject, or scale all down to fit the hard cap.

Each decision names the commitment's version as shown: one withdrawn or decided in another tab
since is refused, never decided on what it no longer is.
"""

from decimal import Decimal

import streamlit as st

from app import format, webapp
from app.manager_ui import (
    accept_plan,
    act,
    amount,
    choose_pool,
    figures,
    lifecycle_button,
    show_flash,
    status,
    table,
)
from app.manager_ui import flash as say
from app.textsafe import md
from core.errors import ValidationError
from core.money import parse_amount
from core.services import commitments
from core.views import manager

actor = webapp.require_actor("fund_manager")
st.title("Commitments")
pool = choose_pool(("open", "closed", "investing"), empty="Open a pool to receive commitments.")
PAGE_SIZE = 10

show_flash()
webapp.show_finished("scale-down")
book = webapp.call(manager.commitment_book, pool.id)
cur = pool.currency

figures(
    amount("Committed", book.committed, cur, "Accepted commitments"),
    amount("Pending", book.pending_total, cur, "Asked for, waiting for your decision"),
    amount("Room under the hard cap", book.room, cur),
    ("Investors", f"{book.investors:,}", None),
)
st.progress(
    max(0, min(int(book.committed * 100 / pool.hard_cap), 100)),
    text=f"{format.money(book.committed, cur)} committed of a {format.money(pool.target_size, cur)} target "
    f"and a {format.money(pool.hard_cap, cur)} hard cap",
)


def reject(item: manager.PendingCommitment) -> None:
    who, asked = md(item.investor_name), format.money(item.amount_requested, cur)
    if webapp.confirmed(
        f"reject-{item.id}",
        "Reject",
        f"Reject {who}'s commitment of {asked}? The investor sees it rejected; it cannot be undone "
        "(they may commit again while the pool is open).",
        yes="Yes, reject it",
        about=item.version,
    ):
        with webapp.refusals_shown():
            webapp.call(commitments.reject_commitment, item.id, version=item.version)
            say(f"Rejected {who}'s commitment of {asked}.")
            st.rerun()


def accept(item: manager.PendingCommitment, amount: Decimal | None) -> None:
    """Accept in full or scaled down to the amount typed, as understood (shown in the question)."""
    who, asked = md(item.investor_name), format.money(item.amount_requested, cur)
    if webapp.confirmed(
        f"accept-{item.id}",
        "Accept",
        f"Accept {format.money(amount, cur)} from {who} (asked {asked})? It is booked as their "
        "commitment: capital can be called on it, and it cannot be undone.",
        yes="Yes, accept it",
        about=(item.version, amount),
        disabled=amount is None,
        type="primary",
    ):
        with webapp.refusals_shown():
            accepted = webapp.call(commitments.accept_commitment, item.id, str(amount), version=item.version)
            scaled = "" if accepted == item.amount_requested else f" (scaled down from {asked})"
            say(f"Accepted {format.money(accepted, cur)} from {who}{scaled}.")
            st.rerun()


def typed_amount(where, item: manager.PendingCommitment) -> Decimal | None:  # noqa: ANN001 - a column
    """The amount to accept as typed, understood as the service will read it; refused beside the field."""
    text = where.text_input(
        "Accept amount",
        value=f"{item.amount_requested.normalize():f}",
        key=f"amt-{item.id}",
        help="Lower it to accept the commitment scaled down.",
    )
    try:
        return parse_amount(text, cur, "amount")
    except ValidationError as exc:
        where.error(md(exc.message), icon=":material/error:")
        return None


st.subheader(f"Pending ({len(book.pending)})", anchor=False)
if not book.pending:
    st.caption("No commitment is waiting for a decision.")
pages = max(1, -(-len(book.pending) // PAGE_SIZE))
page = 0
if pages > 1:
    page = st.selectbox("Page", range(pages), format_func=lambda i: f"{i + 1} of {pages}")
can_accept = pool.status in ("open", "closed")
for item in book.pending[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
    with st.container(border=True):
        info, amount_col, buttons = st.columns([3, 2, 2])
        info.write(f"**{md(item.investor_name)}**")
        kyc = f"KYC {status(item.kyc_status).lower()}"
        info.caption(
            f"asked for {format.money(item.amount_requested, cur)} · {kyc} · {format.day(item.submitted_on)}"
        )
        if item.kyc_status != "approved":
            info.warning(f"{kyc}: check before accepting.", icon=":material/warning:")
        with buttons:
            if can_accept:
                accept(item, typed_amount(amount_col, item))
            reject(item)

plans = st.session_state.setdefault("_scale_plans", {})
if book.pending and can_accept:
    st.subheader("Scale all down to fit the hard cap", anchor=False)
    st.caption(
        "Every pending commitment is cut pro rata to the room left under the hard cap; a request that "
        "would fall under the minimum ticket is left out. Nothing is accepted until you confirm."
    )
    if st.button("Preview scale-down", icon=":material/compress:"):
        with webapp.refusals_shown():
            plans[pool.id] = webapp.call(manager.scale_down_plan, pool.id)
    plan = plans.get(pool.id)
    if plan is not None and plan.pool_version != book.pool.version:
        plans.pop(pool.id)
        st.warning("The commitments changed since that preview; preview again.")
        plan = None
    if plan is not None:
        st.write(
            f"Requested {format.money(plan.requested, cur)} · room {format.money(plan.room, cur)} · "
            f"to accept {format.money(plan.proposed, cur)}"
            + (" · everything fits: all are accepted in full" if plan.fits else "")
        )
        table(
            {
                "Investor": [r.investor_name for r in plan.rows],
                "Requested": [r.requested for r in plan.rows],
                "Accept": [r.proposed for r in plan.rows],
            },
            cur,
            money=("Requested", "Accept"),
        )
        left_out = (
            f" {format.count(len(plan.left_out), 'request')} under the minimum ticket stay pending."
            if plan.left_out
            else ""
        )
        act(
            "scale-down",
            plan,
            accept_plan,
            button="Accept these amounts",
            question=f"Accept {format.count(len(plan.accepted), 'commitment')} for "
            f"{format.money(plan.proposed, cur)} in all, as shown? Accepted commitments are booked and "
            f"cannot be undone.{left_out}",
            yes="Yes, accept them",
            done=f"{format.count(len(plan.accepted), 'commitment')} accepted for "
            f"{format.money(plan.proposed, cur)} in all.",
        )
        if st.button("Discard the preview"):
            plans.pop(pool.id, None)
            st.rerun()
webapp.follow_operation("scale-down")

decided = book.decided
if len(decided):
    st.subheader(f"Decided ({len(decided):,})", anchor=False)
    table(
        {
            "Investor": decided.investor_names,
            "Requested": decided.requested,
            "Accepted": decided.accepted,
            "Status": [status(s) for s in decided.statuses],
        },
        cur,
        money=("Requested", "Accepted"),
    )
if pool.status == "open":
    st.divider()
    lifecycle_button(pool.id, "closed", key=f"close-{pool.id}")
