"""Capital calls: preview and issue a call, follow it until posted, track payments, record one or a bank statement's, export notices."""

from datetime import date, timedelta
from decimal import Decimal

import streamlit as st

from app import webapp
from app.manager_ui import choose_pool, deferred, metric, money, table
from app.textsafe import md
from core.services import manager

actor = webapp.require_actor("fund_manager")
st.title("Capital calls")
pool = choose_pool(
    ("open", "closed", "investing"), empty="Capital calls start once a pool has closed with commitments."
)
cur = pool.currency
if pool.status == "open":
    st.info("Close the pool to new commitments before calling capital (Commitments page).")
    st.stop()

webapp.show_finished("capital-call")
webapp.show_finished("payment")
webapp.show_finished("statement")
book = webapp.call(manager.call_book, pool.id)
cols = st.columns(3)
metric(cols[0], "Called", book.called, cur)
metric(cols[1], "Paid-in", book.paid_in, cur)
metric(cols[2], "Outstanding", book.outstanding, cur)

progress = st.container()  # filled at the end, so a request submitted in this run shows at once

VIEWS = ["Issue a call", "Calls and payments", "By investor"]
view = st.radio("View", VIEWS, horizontal=True, key="calls-view", label_visibility="collapsed")

if view == VIEWS[0]:
    with st.form("call-request"):
        mode = st.radio(
            "Call", ["A percentage of commitments", "An amount"], horizontal=True, key="call-mode"
        )
        value = st.text_input("Percent or amount", key="call-value", help="e.g. 25 (percent) or 250000")
        purpose = st.text_input("Purpose", key="call-purpose", max_chars=200)
        left, right = st.columns(2)
        call_date = left.date_input("Call date", value=date.today(), max_value=date.today(), key="call-date")
        due_date = right.date_input("Due date", value=date.today() + timedelta(days=14), key="call-due")
        previewed = st.form_submit_button("Preview the call")
    if previewed:
        percent = mode.startswith("A percentage")
        request = {
            "percent": value if percent else None,
            "amount": None if percent else value,
            "purpose": purpose,
            "call_date": call_date,
            "due_date": due_date,
        }
        with webapp.refusals_shown():
            st.session_state["_call_preview"] = webapp.call(manager.call_preview, pool.id, request)
    preview = st.session_state.get("_call_preview")
    if preview is not None and (preview.pool_id != pool.id or preview.version != book.pool.version):
        st.session_state.pop("_call_preview")
        if preview.pool_id == pool.id:
            st.warning("The pool changed since that preview; preview again.")
        preview = None
    if preview is not None:
        st.markdown(
            f"**{money(preview.total, cur)}** from **{len(preview.lines):,}** investors for "
            f"*{md(preview.payload['purpose'])}*, due {preview.payload['due_date']}. "
            f"The parts below add up to the call exactly."
        )
        table(
            {
                "Investor": [line.investor_name for line in preview.lines],
                "Commitment": [line.committed for line in preview.lines],
                "Called before": [line.called_before for line in preview.lines],
                "Unfunded": [line.unfunded_before for line in preview.lines],
                "This call": [line.amount for line in preview.lines],
            },
            cur,
            ("Commitment", "Called before", "Unfunded", "This call"),
        )
        issue, discard = st.columns(2)
        if issue.button("Issue this call", type="primary"):
            with webapp.refusals_shown():
                webapp.submit_operation(pool.id, "capital_call", preview.payload, form="capital-call")
                st.session_state.pop("_call_preview", None)
        if discard.button("Discard the preview"):
            st.session_state.pop("_call_preview", None)
            st.rerun()

if view == VIEWS[1]:
    if not book.calls:
        st.caption("No capital call yet.")
    else:
        table(
            {
                "Call date": [c.call_date for c in book.calls],
                "Due": [c.due_date for c in book.calls],
                "Purpose": [c.purpose for c in book.calls],
                "Amount": [c.amount for c in book.calls],
                "Paid": [c.paid for c in book.calls],
                "Outstanding": [c.outstanding for c in book.calls],
                "Investors paid": [f"{c.items_paid:,} of {c.items:,}" for c in book.calls],
                "Status": [("overdue" if c.overdue else c.status) for c in book.calls],
            },
            cur,
            ("Amount", "Paid", "Outstanding"),
        )
        issued = [c for c in book.calls if c.status == "issued"]
        if issued:
            call = webapp.choose(
                "Call", issued, lambda c: f"{c.call_date:%d %b %Y}: {c.purpose} ({money(c.amount, cur)})"
            )
            items = webapp.call(manager.call_items, call.id)
            st.download_button(
                "Download the call notice (CSV, one row per investor)",
                data=deferred(manager.call_notice_csv, call.id),
                file_name=f"call-{call.id}-notice.csv",
                mime="text/csv",
                on_click="ignore",
                icon=":material/download:",
            )
            table(
                {
                    "Investor": [i.investor_name for i in items],
                    "Due": [i.amount_due for i in items],
                    "Paid": [i.amount_paid for i in items],
                    "Outstanding": [i.outstanding for i in items],
                    "Status": [i.status for i in items],
                },
                cur,
                ("Due", "Paid", "Outstanding"),
            )
            if any(i.outstanding > 0 for i in items):
                st.markdown("**Record a payment**")
                with st.form("payment"):
                    # Every item of the call, paid or not: a choice made in a tab opened before
                    # another payment landed still names the same investor.
                    item = webapp.choose(
                        "Investor",
                        items,
                        lambda i: (
                            f"{i.investor_name}: "
                            + (
                                f"{money(i.outstanding, cur)} outstanding"
                                if i.outstanding > 0
                                else "paid in full"
                            )
                        ),
                        selected=next(i.id for i in items if i.outstanding > 0),
                        key="pay-item",
                    )
                    amount = st.text_input(
                        "Amount received",
                        help="Leave empty to record the full outstanding amount",
                        key="pay-amount",
                    )
                    left, right = st.columns(2)
                    reference = left.text_input("Reference", max_chars=100, key="pay-reference")
                    paid_on = right.date_input(
                        "Received on", value=date.today(), max_value=date.today(), key="pay-date"
                    )
                    record = st.form_submit_button("Record the payment", type="primary")
                if record:
                    payload = {
                        "call_item_id": item.id,
                        "amount": amount.strip() or str(item.outstanding),
                        "reference": reference,
                        "paid_on": paid_on.isoformat(),
                    }
                    with webapp.refusals_shown():
                        webapp.submit_operation(pool.id, "payment", payload, form="payment")

                with st.expander("Record payments from a bank statement (CSV)"):
                    st.caption(
                        "One row per payment received: an `email` (or `investor_id`) column as in the "
                        "call notice, `amount`, `reference` and `received_on` (YYYY-MM-DD). "
                        "Lines count from the first payment."
                    )
                    # A recorded statement leaves the uploader (a new key), so it is not offered again.
                    uploads = st.session_state.setdefault("statements_recorded", 0)
                    statement = st.file_uploader(
                        "Bank statement",
                        type=["csv"],
                        key=f"statement-{call.id}-{uploads}",
                        max_upload_size=2,
                    )
                    if statement is not None:
                        with webapp.refusals_shown():
                            lines = webapp.call(manager.read_bank_statement, call.id, statement.getvalue())
                            table(
                                {
                                    "Line": [line.line for line in lines],
                                    "Investor": [line.investor_name for line in lines],
                                    "Amount": [line.amount for line in lines],
                                    "Reference": [line.reference for line in lines],
                                    "Received on": [line.received_on for line in lines],
                                },
                                cur,
                                ("Amount",),
                            )
                            total = sum((line.amount for line in lines), Decimal(0))
                            if st.button(
                                f"Record {len(lines):,} payments ({money(total, cur)})",
                                type="primary",
                                key="record-statement",
                            ):
                                webapp.submit_operations(
                                    pool.id, "payment", [line.payload for line in lines], form="statement"
                                )
                                st.session_state["statements_recorded"] = uploads + 1

if view == VIEWS[2]:
    balances = webapp.call(manager.investor_balances, pool.id)
    table(
        {
            "Investor": [i.investor_name for i in balances],
            "Commitment": [i.committed for i in balances],
            "Called": [i.called for i in balances],
            "Paid-in": [i.paid_in for i in balances],
            "Outstanding": [i.outstanding for i in balances],
            "Unfunded": [i.unfunded for i in balances],
        },
        cur,
        ("Commitment", "Called", "Paid-in", "Outstanding", "Unfunded"),
    )

with progress:
    webapp.follow_operation("capital-call", done_message="The capital call is posted to every investor.")
    webapp.follow_operation("payment", done_message="Payment recorded.")
    webapp.follow_operation("statement", done_message="Every payment of the statement is posted.")
