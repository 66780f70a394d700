"""Approval by a second person on the pages: submitting a previewed distribution or capital call for
approval, the drafts waiting (each with its preview exactly as drafted), and Approve / Reject (asked
first) for another manager of the pool or an admin, Withdraw for the drafter. The previews are drawn
by render_distribution and render_call, the same for the drafter, the approver and an admin.

Plumbing only: figures come from core.services (the stored preview), amounts are formatted by
app.format, user text (memos, purposes, names, reasons) goes through md() wherever it lands in markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app import format, webapp
from app.charts import plot_float
from app.manager_ui import amount, chart, figures, flash, status, table
from app.textsafe import md
from core.services import approvals, calls, distributions
from core.views import manager

# --- the previews, as drafted ---------------------------------------------------------------------------


def describe_distribution(preview: distributions.DistributionPreview) -> str:
    """A distribution in words (the memo escaped: it is what a manager typed)."""
    cur, command = preview.currency, preview.command
    return (
        f"{format.money(preview.proceeds, cur)} on {format.day(command.distributed_on)} ({md(command.memo)})"
        + (f" from {md(preview.deal_name)}" if preview.deal_name else "")
        + ": "
        f"{format.money(preview.lp_total, cur)} to {format.count(len(preview.lines) - len(preview.gp_own), 'investor')}"
        + (" and the GP's own commitment," if preview.gp_own else "")
        + " and "
        f"{format.money(preview.gp_total, cur)} of carried interest to the GP"
        + (f", of which {format.money(preview.escrow, cur)} held in escrow" if preview.escrow else "")
    )


def render_distribution(preview: distributions.DistributionPreview, key: str) -> None:
    """The waterfall per tier and per investor: the same for the drafter and the approver."""
    cur = preview.currency
    figures(
        amount("To investors", preview.lp_total, cur),
        amount(
            "Carried interest",
            preview.gp_total,
            cur,
            f"To the GP; {format.money(preview.escrow, cur)} of it held in escrow in the pool's cash"
            if preview.escrow
            else "To the GP",
        ),
        amount(
            "Cash after",
            preview.cash - preview.proceeds,
            cur,
            "The pool's cash free to spend when it was previewed (carry in escrow held back), less this",
        ),
    )
    steps = [(t.label, t.total, t) for t in preview.tiers if t.tier != "split"]
    split = next(t for t in preview.tiers if t.tier == "split")
    steps += [("Profit split to investors", split.lp, split), ("Carry to the GP", split.gp, split)]
    chart(
        [
            {
                "type": "waterfall",
                "x": [label for label, _, _ in steps] + ["Proceeds"],
                "measure": ["relative"] * len(steps) + ["total"],
                "y": [plot_float(value) for _, value, _ in steps] + [plot_float(preview.proceeds)],
                "text": [format.money(value, cur) for _, value, _ in steps]
                + [format.money(preview.proceeds, cur)],
                "hovertext": [
                    f"Investors {format.money(t.lp, cur)} · GP {format.money(t.gp, cur)}" for _, _, t in steps
                ]
                + [""],
                "connector": {"line": {"dash": "dot"}},
            }
        ],
        height=380,
        yaxis={"title": {"text": cur}},
        showlegend=False,
        key=f"{key}-waterfall",
    )
    table(
        {
            "Tier": [t.label for t in preview.tiers],
            "To investors": [t.lp for t in preview.tiers],
            "To the GP": [t.gp for t in preview.tiers],
            "Total": [t.total for t in preview.tiers],
        },
        cur,
        money=("To investors", "To the GP", "Total"),
        key=f"{key}-tiers",
    )
    st.markdown(
        f"**Per investor** ({format.count(len(preview.lines), 'investor')}; the shares add up to the proceeds exactly)"
    )
    table(
        {
            "Investor": [line.investor_name for line in preview.lines],
            "Paid-in": [line.paid_in for line in preview.lines],
            "To the investor": [line.lp for line in preview.lines],
            "Carry": [line.gp for line in preview.lines],
        },
        cur,
        money=("Paid-in", "To the investor", "Carry"),
        widths={"Investor": 180},
        key=f"{key}-investors",
    )


def describe_call(preview: calls.CallPreview) -> str:
    name = manager.call_name(preview.number, preview.command.purpose)
    return f"{md(name)} for {format.money(preview.total, preview.currency)}"


def render_call(preview: calls.CallPreview, key: str) -> None:
    """A call as previewed: what each investor is asked for (the same for the drafter and the approver)."""
    cur = preview.currency
    st.markdown(
        f"**{md(manager.call_name(preview.number, preview.command.purpose))}**: {format.money(preview.total, cur)} "
        f"from {format.count(len(preview.lines), 'investor')}, dated {format.day(preview.command.call_date)}, "
        f"due {format.day(preview.command.due_date)}. The parts below add up to the call exactly."
    )
    table(
        {
            "Investor": [line.investor_name for line in preview.lines],
            "Commitment": [line.commitment for line in preview.lines],
            "This call": [line.amount for line in preview.lines],
            "Unfunded after": [line.unfunded_after for line in preview.lines],
        },
        cur,
        money=("Commitment", "This call", "Unfunded after"),
        widths={"Investor": 200},
        key=key,
    )


# What each kind is called, and how its preview reads and is drawn.
KINDS: dict[str, tuple[str, Callable[[Any], str], Callable[[Any, str], None]]] = {
    distributions.KIND: (
        "distribution",
        lambda p: f"Distribution of {describe_distribution(p)}",
        render_distribution,
    ),
    calls.KIND: ("capital call", describe_call, render_call),
}


def submit_for_approval(form: str, preview: Any, kind: str, *, question: str, done: str, stored: str) -> None:
    """In place of posting: the button that submits exactly the previewed request for approval by
    another manager of the pool (asked first); `done` says what happened. Once submitted the form
    resets and the preview (session key `stored`) goes: it now waits under "Waiting for approval"."""
    command = None if preview is None else preview.command
    if (
        webapp.confirmed(
            f"{form}-draft",
            "Submit for approval",
            question,
            yes="Yes, submit it for approval",
            about=command,
            disabled=command is None,
            type="primary",
        )
        and command is not None
    ):
        with webapp.refusals_shown():
            webapp.call(approvals.draft, command.pool_id, kind, command.payload())
            st.session_state.pop(stored, None)
            webapp.reset_form(form)
            flash(done)
            st.rerun()


def decision(form: str, waiting: approvals.Waiting, describe: str) -> None:
    """Approve (asked first, then followed to posted) or reject with a reason, for a manager who may."""
    left, right = st.columns(2)
    with left:
        if webapp.confirmed(
            f"{form}-approve-{waiting.id}",
            "Approve",
            f"Approve {describe}, drafted by {md(waiting.drafted_by_name)}, exactly as shown above? It is "
            f"posted at once and cannot be undone: a mistake is corrected by reversing it on the Corrections "
            "page. If the pool changed since it was drafted, nothing is posted and you are told what changed.",
            yes="Yes, approve and post it",
            about=(waiting.id, waiting.preview.command),
            type="primary",
        ):
            with webapp.refusals_shown():
                webapp.submit(
                    approvals.approve, waiting.id, form=form, done=f"Approved and posted {describe}."
                )
    with right:
        reason = st.text_input(
            "Reason", key=f"{form}-reject-reason-{waiting.id}", max_chars=500, placeholder="e.g. Wrong memo"
        )
        if webapp.confirmed(
            f"{form}-reject-{waiting.id}",
            "Reject",
            f"Reject {describe}? Nothing is posted; {md(waiting.drafted_by_name)} sees your reason and can draft "
            "it again.",
            yes="Yes, reject it",
            about=(waiting.id, reason),
        ):
            with webapp.refusals_shown():
                webapp.call(approvals.reject, waiting.id, reason)
                flash(f"Rejected {describe}. Nothing was posted.")
                st.rerun()


def _withdrawal(form: str, waiting: approvals.Waiting, describe: str) -> None:
    st.info(
        "Waiting for a second manager: another manager of this pool, or an admin, approves it before it "
        "is posted. You drafted it, so you cannot approve it yourself.",
        icon=":material/hourglass_top:",
    )
    reason = st.text_input("Reason to withdraw it", key=f"{form}-withdraw-reason-{waiting.id}", max_chars=500)
    if webapp.confirmed(
        f"{form}-withdraw-{waiting.id}",
        "Withdraw",
        f"Withdraw {describe}? Nothing is posted; you can draft it again.",
        yes="Yes, withdraw it",
        about=(waiting.id, reason),
    ):
        with webapp.refusals_shown():
            webapp.call(approvals.withdraw, waiting.id, reason)
            flash(f"Withdrew {describe}. Nothing was posted.")
            st.rerun()


def waiting_for_approval(
    pool_id: int,
    currency: str,
    kind: str,
    *,
    form: str,
    what: str,
    describe: Callable[[Any], str],
    render: Callable[[Any, str], None],
    quiet: bool = False,
) -> None:
    """The drafts of this kind waiting on the pool, each with its preview exactly as drafted
    (render(preview, key), the same as the drafter saw); Approve and Reject for another manager of the
    pool (asked first), Withdraw for the one who drafted it; then the latest decisions. `quiet`: say
    nothing while there has never been a draft."""
    listed = webapp.call(approvals.approvals, pool_id, kind)
    if quiet and not listed.waiting and not listed.decided:
        return  # (a pool whose calls never needed approval says nothing of it)
    st.subheader("Waiting for approval", anchor=False)
    if not listed.waiting:
        st.caption(f"No {what} is waiting for approval.")
    for waiting in listed.waiting:
        described = describe(waiting.preview)
        with st.container(border=True):
            st.markdown(
                f"**{described}**, drafted by {md(waiting.drafted_by_name)} on {format.day(waiting.drafted_at.date())}"
            )
            render(waiting.preview, f"{form}-draft-{waiting.id}")
            if waiting.changes:
                st.warning(
                    f"The pool changed since this was drafted ({md('; '.join(waiting.changes))}): approving it "
                    "would be refused. Reject or withdraw it, and draft it again."
                )
            if waiting.mine:
                _withdrawal(form, waiting, described)
            elif waiting.may_decide:
                decision(form, waiting, described)
    if listed.decided:
        st.markdown("**Latest decisions**")
        table(
            {
                "Decided": [d.decided_at.date() if d.decided_at else None for d in listed.decided],
                "Outcome": [status(d.status) for d in listed.decided],
                "Drafted by": [d.drafted_by_name for d in listed.decided],
                "Decided by": [d.decided_by_name for d in listed.decided],
                "Amount": [d.total for d in listed.decided],
                "Reason": [d.reason for d in listed.decided],
            },
            currency,
            money=("Amount",),
            dates=("Decided",),
            widths={"Reason": 200},
        )
