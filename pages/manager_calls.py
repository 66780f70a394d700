"""Capital calls: preview and issue a call, follow it until posted, track payments and overdue items,
see who was notified (and reissue a notice), record a payment or a bank statement's, export notices.

The payment form is bound to the item it pays: only items with something outstanding are offered,
none is chosen until the manager chooses, choosing prefills that item's outstanding amount, and the
item's version as shown goes with the payment, so one paid meanwhile (another tab, a statement) is
refused as stale, never booked to another investor.
"""

from decimal import Decimal

import streamlit as st

from app import format, webapp
from app.approvals_ui import describe_call, render_call, submit_for_approval, waiting_for_approval
from app.manager_ui import (
    act,
    amount,
    choose_pool,
    deferred,
    figures,
    notified,
    previewed,
    record_statement,
    show_flash,
    status,
    table,
)
from app.textsafe import md
from core import clock
from core.services import calls, payments
from core.views import manager

actor = webapp.require_actor("fund_manager")
st.title("Capital calls")
pool = choose_pool(
    ("open", "closed", "investing"), empty="Capital calls start once a pool has closed with commitments."
)
cur = pool.currency
if pool.status == "open":
    st.info("Close the pool to new commitments before calling capital (Commitments page).")
    st.stop()

show_flash()
for form in ("capital-call", "payment", "statement"):
    webapp.show_finished(form)
book = webapp.call(manager.call_book, pool.id)
today = clock.today()
figures(
    amount("Called", book.called, cur),
    amount("Paid-in", book.paid_in, cur),
    amount("Outstanding", book.outstanding, cur, "Called and not yet paid"),
    amount("Overdue", book.overdue, cur, "Outstanding on items past their due date"),
)

progress = st.container()  # filled at the end, so a request submitted in this run shows at once

VIEWS = ["Issue a call", "Calls and payments", "By investor"]
view = st.radio("View", VIEWS, horizontal=True, key="calls-view", label_visibility="collapsed")


def issue_form() -> None:
    form = webapp.form_key("capital-call")
    mode = st.radio("Call", ["A percentage of commitments", "An amount"], horizontal=True, key=f"{form}-mode")
    by_percent = mode.startswith("A percentage")
    value = st.text_input(
        "Percentage of commitments" if by_percent else f"Amount ({cur})",
        key=f"{form}-value",
        help="e.g. 25 for 25% of every commitment" if by_percent else "e.g. 250000",
    )
    purpose = st.text_input("Purpose", key=f"{form}-purpose", max_chars=200)
    date_key, due_key = f"{form}-date", f"{form}-due"
    if date_key not in st.session_state:
        st.session_state[date_key] = today
        st.session_state[due_key] = calls.default_due_date(today)

    def follow_call_date() -> None:
        st.session_state[due_key] = calls.default_due_date(st.session_state[date_key])

    left, right = st.columns(2)
    call_date = left.date_input(
        "Call date", max_value=today, format="YYYY-MM-DD", key=date_key, on_change=follow_call_date
    )
    due_date = right.date_input(
        "Due date",
        format="YYYY-MM-DD",
        key=due_key,
        help="Ten business days after the call date unless you choose otherwise",
    )
    request = {
        "percent": value if by_percent else None,
        "amount": None if by_percent else value,
        "purpose": purpose,
        "call_date": call_date,
        "due_date": due_date,
    }
    if st.button("Preview the call", key=f"{form}-preview"):
        checked = previewed(calls.preview, pool.id, request)
        st.session_state["_call_preview"] = (pool.id, request, checked.preview)
    stored = st.session_state.get("_call_preview")
    if stored is None or stored[0] != pool.id or stored[1] != request or stored[2] is None:
        return  # no preview, or one of other inputs: preview what is asked now
    preview = stored[2]
    if preview.command.pool_version != book.pool.version:
        st.session_state.pop("_call_preview")
        st.warning("The pool changed since that preview (a commitment or a posting); preview again.")
        return
    name = manager.call_name(preview.number, preview.command.purpose)
    due = format.day(preview.command.due_date)
    render_call(preview, "call-preview")
    if preview.needs_approval:
        submit_for_approval(
            "capital-call",
            preview,
            calls.KIND,
            question=f"Submit {md(name)} for {format.money(preview.total, cur)} to "
            f"{format.count(len(preview.lines), 'investor')}, due {due}, for approval? It is above the pool's "
            "approval threshold: another manager of the pool, or an admin, approves it before it is issued.",
            done=f"Submitted {md(name)} for approval: {format.money(preview.total, cur)}. It waits for a second "
            "manager below.",
            stored="_call_preview",
        )
    elif act(
        "capital-call",
        preview,
        calls.issue,
        button="Issue this call",
        question=f"Issue {md(name)} for {format.money(preview.total, cur)} to "
        f"{format.count(len(preview.lines), 'investor')}, due {due}? Each investor is asked for their part "
        "at once; an issued call cannot be withdrawn.",
        yes="Yes, issue the call",
        done=f"{md(name)} is issued: {format.money(preview.total, cur)} asked of "
        f"{format.count(len(preview.lines), 'investor')}, due {due}.",
    ):
        st.session_state.pop("_call_preview", None)
    if st.button("Discard the preview"):
        st.session_state.pop("_call_preview", None)
        st.rerun()


def calls_waiting() -> None:
    """Calls above the pool's approval threshold, drafted and waiting for a second manager."""
    waiting_for_approval(
        pool.id,
        cur,
        calls.KIND,
        form="capital-call",
        what="capital call",
        describe=describe_call,
        render=render_call,
        quiet=True,
    )


def payment_form(call: manager.CallSummary, items: manager.CallItems) -> None:
    """Record one payment received against one investor's item of this call."""
    form = f"{webapp.form_key('payment')}-{call.id}"
    item_key, amount_key, bound_key = f"{form}-item", f"{form}-amount", f"{form}-bound"
    payable = {i.id: i for i in items.payable}
    if st.session_state.get(item_key) is not None and st.session_state[item_key] not in payable:
        st.session_state[amount_key] = ""  # the chosen item is paid (elsewhere): its amount goes too

    def prefill() -> None:
        """A new choice brings its own outstanding amount, and the item's version as now shown."""
        chosen = payable.get(st.session_state.get(item_key))
        st.session_state[amount_key] = "" if chosen is None else f"{chosen.outstanding}"
        st.session_state[bound_key] = None if chosen is None else (chosen.id, chosen.version)

    item = webapp.choose(
        "Investor",
        list(payable.values()),
        # A label that stays the same as payments land: Streamlit keeps a choice by its label.
        lambda i: (
            f"{i.investor_name}: {format.money(i.amount_due, cur)} due" + (" (overdue)" if i.overdue else "")
        ),
        key=item_key,
        on_change=prefill,
        placeholder="Choose the investor whose payment arrived",
        gone="The investor you had chosen has nothing outstanding on this call any more (paid meanwhile); "
        "nothing was recorded. Choose again.",
    )
    amount = st.text_input(
        f"Amount received ({cur})", key=amount_key, help="Prefilled with what is outstanding"
    )
    left, right = st.columns(2)
    reference = left.text_input("Wire reference", max_chars=100, key=f"{form}-reference")
    paid_on = right.date_input(
        "Received on", value=today, max_value=today, format="YYYY-MM-DD", key=f"{form}-date"
    )
    preview = None
    if item is not None and amount.strip():
        bound = st.session_state.get(bound_key)
        request = {
            "call_item_id": item.id,
            "amount": amount,
            "reference": reference,
            "paid_on": paid_on,
            "item_version": bound[1] if bound and bound[0] == item.id else item.version,
        }
        checked = previewed(payments.preview, pool.id, request)
        if checked.reused and st.checkbox(
            "Record it anyway: this is a different wire that carries the same reference",
            key=f"{form}-reuse",
        ):
            checked = previewed(payments.preview, pool.id, {**request, "reuse_reference": True})
        preview = checked.preview
    if preview is None:
        act("payment", None, payments.record, button="Record the payment", question="", yes="", done="")
        return
    command = preview.command
    wire = f", wire {md(command.reference)}" if command.reference else ""
    who, paid = md(preview.investor_name), format.money(command.amount, cur)
    act(
        "payment",
        preview,
        payments.record,
        button="Record the payment",
        question=f"Record {paid} from {who} against {md(call.name)}, received {format.day(command.paid_on)}"
        f"{wire}? It leaves {format.money(preview.outstanding_after, cur)} outstanding on their item. "
        "A recorded payment is not edited: a mistake is corrected by reversing it (Corrections page).",
        yes="Yes, record the payment",
        done=f"Payment recorded: {paid} from {who} against {md(call.name)}.",
    )


def statement_form(call: manager.CallSummary) -> None:
    st.caption(
        "One row per payment received: an email (or investor_id) column as in the call notice, "
        "amount, reference and received_on (YYYY-MM-DD). A line without an email is matched by its "
        "reference when that is the one the pool's wire instructions give the investor. Lines count "
        "from the first payment."
    )
    # A recorded statement leaves the uploader (a new key), so it is not offered again.
    uploads = st.session_state.setdefault("statements_recorded", 0)
    statement = st.file_uploader(
        "Bank statement", type=["csv"], key=f"statement-{call.id}-{uploads}", max_upload_size=2
    )
    if statement is None:
        return
    data = statement.getvalue()
    checked = previewed(payments.read_statement, call.id, data)
    if checked.reused and st.checkbox(
        "Record them anyway: these are different wires that carry references already seen",
        key=f"statement-{call.id}-{uploads}-reuse",
    ):
        checked = previewed(payments.read_statement, call.id, data, reuse_references=True)
    lines = checked.preview
    if not lines:
        return
    table(
        {
            "Line": [line.line for line in lines],
            "Investor": [line.investor_name for line in lines],
            "Matched by": [line.matched_by.replace("_", " ") for line in lines],
            "Amount": [line.command.amount for line in lines],
            "Reference": [line.command.reference for line in lines],
            "Received on": [line.command.paid_on for line in lines],
        },
        cur,
        money=("Amount",),
        dates=("Received on",),
        widths={"Line": 50, "Investor": 150, "Matched by": 90, "Reference": 120},
    )
    total = format.money(sum((line.command.amount for line in lines), Decimal(0)), cur)
    count = format.count(len(lines), "payment")
    if act(
        "statement",
        tuple(line.command for line in lines),
        record_statement,
        button=f"Record {count} ({total})",
        question=f"Record {count} for {total} in all against {md(call.name)}, as listed? Recorded payments "
        "are not edited: a mistake is corrected by reversing it (Corrections page).",
        yes="Yes, record them",
        done=f"Every payment of the statement is posted: {count}, {total}.",
    ):
        st.session_state["statements_recorded"] = uploads + 1


def calls_and_payments() -> None:
    if not book.calls:
        st.caption("No capital call yet.")
        return
    table(
        {
            "Capital call": [c.name for c in book.calls],
            "Amount": [c.amount for c in book.calls],
            "Outstanding": [c.outstanding for c in book.calls],
            "Status": [status(c.status) + (" · overdue" if c.overdue_items else "") for c in book.calls],
        },
        cur,
        money=("Amount", "Outstanding"),
        widths={"Capital call": 200, "Status": 145},
        highlight=[c.overdue_items > 0 for c in book.calls],
    )
    call = webapp.choose(
        "Capital call",
        book.calls,
        lambda c: c.name,
        key=f"calls-call-{pool.id}",
        selected=book.calls[0].id,
    )
    if call is None:
        return
    items = webapp.call(manager.call_items, call.id)
    st.caption(
        f"{status(call.status)}: called {format.day(call.call_date)}, due {format.day(call.due_date)}; "
        f"{call.items_paid:,} of {format.count(call.items, 'investor')} paid in full, "
        f"{format.money(call.paid, cur)} received of {format.money(call.amount, cur)}."
    )
    if items.overdue:
        late = sum((i.outstanding for i in items.overdue), Decimal(0))
        st.warning(
            f"{format.count(len(items.overdue), 'investor')} overdue on {md(call.name)}: "
            f"{format.money(late, cur)} still outstanding after the due date, {format.day(call.due_date)}.",
            icon=":material/schedule:",
        )
    st.download_button(
        "Download the call notice (CSV, one row per investor)",
        data=deferred(manager.call_notice_csv, call.id),
        file_name=f"capital-call-{call.number}-notice.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )
    table(
        {
            "Investor": [i.investor_name for i in items.items],
            "Due": [i.amount_due for i in items.items],
            "Paid": [i.amount_paid for i in items.items],
            "Outstanding": [i.outstanding for i in items.items],
            "Status": [i.shown_status for i in items.items],
        },
        cur,
        money=("Due", "Paid", "Outstanding"),
        widths={"Investor": 160, "Status": 85},
        highlight=[i.overdue for i in items.items],
    )
    notified(call_id=call.id, what=call.name)
    received = webapp.call(manager.call_payments, call.id)
    if received:
        with st.expander(f"Payments received ({len(received):,})"):
            table(
                {
                    "Received on": [p.paid_on for p in received],
                    "Investor": [p.investor_name for p in received],
                    "Amount": [p.amount for p in received],
                    "Reference": [p.reference for p in received],
                    "Reversed": [
                        "" if p.reversed_on is None else f"{format.day(p.reversed_on)}: {p.reason or ''}"
                        for p in received
                    ],
                },
                cur,
                money=("Amount",),
                dates=("Received on",),
                widths={"Investor": 140, "Reference": 110, "Reversed": 110},
            )
    if not items.payable:
        st.caption(
            "Nothing is outstanding on this call."
            if call.items
            else "This call is being issued: its investors' items appear once it is posted."
        )
        return
    st.markdown("**Record a payment**")
    payment_form(call, items)
    with st.expander("Record payments from a bank statement (CSV)"):
        statement_form(call)


if view == VIEWS[0]:
    issue_form()
    calls_waiting()
elif view == VIEWS[1]:
    calls_and_payments()
else:
    balances = webapp.call(manager.investor_balances, pool.id)
    table(
        {
            "Investor": [i.investor_name for i in balances],
            "Commitment": [i.commitment for i in balances],
            "Called": [i.called for i in balances],
            "Paid-in": [i.paid_in for i in balances],
            "Outstanding": [i.outstanding for i in balances],
            "Unfunded": [i.unfunded for i in balances],
        },
        cur,
        money=("Commitment", "Called", "Paid-in", "Outstanding", "Unfunded"),
        widths={"Investor": 120},
    )
    st.caption(
        "Unfunded is what is committed and not yet called (ILPA); outstanding is called and not yet paid."
    )

with progress:
    webapp.follow_operation("capital-call")
    webapp.follow_operation("payment")
    webapp.follow_operation("statement")
