"""Corrections: reverse a mis-posted payment, fee, valuation, investment, exit or distribution, with a
reason. The ledger is never edited: a reversing journal, dated today, nets the original out on every
surface, and the fact returns to its earlier state (the call item owes again, the holding is held)."""

import streamlit as st

from app import format, webapp
from app.manager_ui import act, choose_pool, previewed, show_flash, table
from app.textsafe import md
from core.services import corrections
from core.views import manager

actor = webapp.require_actor("fund_manager")
st.title("Corrections")
pool = choose_pool(("closed", "investing", "wound_down"), empty="Corrections start once a pool has closed.")
cur = pool.currency
show_flash()
webapp.show_finished("correction")
view = webapp.call(manager.corrections_of, pool.id)


def describe(fact: corrections.Correctable) -> str:
    blocked = f" (not yet: {fact.blocked_by})" if fact.blocked_by else ""
    return f"{format.day(fact.on)} · {fact.label}: {fact.description} · {format.money(fact.amount, cur)}{blocked}"


class Choice:
    """A posting as the picker offers it: by the id of the operation that posted it."""

    def __init__(self, fact: corrections.Correctable) -> None:
        self.id, self.fact = fact.operation_id, fact


st.subheader("Reverse a posting", anchor=False)
if not view.correctable:
    st.caption("Nothing has been posted that could be reversed.")
else:
    form = webapp.form_key("correction")
    chosen = webapp.choose(
        "Posting",
        [Choice(fact) for fact in view.correctable],
        lambda c: describe(c.fact),
        key=f"{form}-posting",
        placeholder="Choose the posting to reverse",
        gone="The posting you had chosen was reversed meanwhile; nothing was done. Choose again.",
    )
    reason = st.text_input(
        "Reason", max_chars=200, key=f"{form}-reason", placeholder="e.g. Keyed at half the wire"
    )
    preview = None
    if chosen is not None and reason.strip():
        request = {"operation_id": str(chosen.id), "reason": reason}
        preview = previewed(corrections.preview, pool.id, request).preview
    elif chosen is not None and chosen.fact.blocked_by:
        st.info(f"This cannot be reversed yet: {md(chosen.fact.blocked_by)}.")
    what = "" if preview is None else md(preview.description)
    amount = "" if preview is None else format.money(preview.correctable.amount, cur)
    on = "" if preview is None else format.day(preview.correctable.on)
    act(
        "correction",
        preview,
        corrections.reverse,
        button="Reverse it",
        question=f"Reverse this posting: {what} ({amount}, dated {on})? A reversing journal dated today nets it out on every "
        "surface (capital accounts, statements, the books, exports), with your reason; "
        f"{'the call item owes the amount again. ' if preview and preview.correctable.kind == 'payment' else ''}"
        "A reversal cannot itself be undone: post the right figure again instead.",
        yes="Yes, reverse it",
        done=f"Reversed: {what} ({amount}).",
    )
webapp.follow_operation("correction")

st.subheader("Postings that can be reversed", anchor=False)
if view.correctable:
    table(
        {
            "Date": [c.on for c in view.correctable],
            "Posting": [f"{c.label}: {c.description}" for c in view.correctable],
            "Amount": [c.amount for c in view.correctable],
            "Reversible": [
                "Yes" if not c.blocked_by else f"Not yet: {c.blocked_by}" for c in view.correctable
            ],
        },
        cur,
        money=("Amount",),
        dates=("Date",),
        widths={"Posting": 260, "Reversible": 100},
    )
st.subheader("Reversed", anchor=False)
if view.reversed:
    table(
        {
            "Reversed on": [r.reversed_on for r in view.reversed],
            "Posting": [f"{r.label} of {format.day(r.on)}: {r.description}" for r in view.reversed],
            "Amount": [r.amount for r in view.reversed],
            "Reason": [r.reason for r in view.reversed],
        },
        cur,
        money=("Amount",),
        dates=("Reversed on",),
        widths={"Posting": 170, "Reason": 190},
    )
else:
    st.caption("Nothing has been reversed.")
