"""Capital calls: what is due and when, overdue items highlighted, and paying one with a bank
reference as a durable payment operation whose progress shows until it is posted."""

import streamlit as st

from app import investor_ui as ui
from app import webapp
from app.textsafe import md
from core.errors import DomainError, InvalidState
from core.services import investor

actor = webapp.require_actor("investor")
st.title("Capital calls")
webapp.show_finished("pay")
webapp.follow_operation("pay", done_message="Payment posted: your paid-in capital is updated everywhere.")

calls = ui.load(investor.capital_calls)
for summary in calls.summary:
    cur = summary.currency
    cols = st.columns(3)
    cols[0].metric(f"Outstanding ({cur})", ui.money(summary.outstanding, cur))
    cols[1].metric(
        f"Overdue ({cur})",
        ui.money(summary.overdue, cur),
        f"{summary.overdue_items} item(s)",
        delta_color="off",
        delta_arrow="off",
    )
    cols[2].metric(f"Paid-in to date ({cur})", ui.money(summary.paid_in_to_date, cur))
overdue = [item for item in calls.open if item.overdue]
if overdue:
    st.error(
        f"{len(overdue)} call item(s) past their due date: please pay or contact the manager.",
        icon=":material/warning:",
    )

st.subheader("Open", anchor=False)
if not calls.open:
    st.success("Nothing to pay: every capital call to you is settled.")
for cur in sorted({i.currency for i in calls.open}):
    ui.call_items_table([i for i in calls.open if i.currency == cur], cur, key=f"open-{cur}")

payable = {i.id: i for i in calls.open}
wanted = st.session_state.get(ui.PAY_ITEM_KEY)
if payable:
    st.subheader("Record a payment", anchor=False)
if wanted is not None and wanted not in payable:
    # Not one of their open items: their own, settled or cancelled since (then pick again), or an id
    # that is not theirs, which the service refuses; then no form is offered in this run, not even
    # for another item in its place.
    st.session_state.pop(ui.PAY_ITEM_KEY)
    try:
        webapp.call(investor.call_item, wanted)
        wanted = None
    except InvalidState:  # their own item, in a call no longer issued
        wanted = None
    except DomainError as refused:
        st.error(md(refused.message))
if payable and (wanted is None or wanted in payable):
    item = webapp.choose(
        "Call item",
        calls.open,
        lambda i: (
            f"{i.pool_name} · {i.purpose} · due {i.due_date:%d %b %Y}"
            f" · {ui.money(i.outstanding, i.currency)} outstanding"
        ),
        selected=wanted,
        key="pay-choice",
    )
    st.session_state[ui.PAY_ITEM_KEY] = item.id
    with st.form("pay-form", clear_on_submit=True):
        amount = st.text_input(f"Amount ({item.currency})", value=f"{item.outstanding:f}", key="pay-amount")
        reference = st.text_input("Bank reference", placeholder="e.g. WIRE-20240131-001", key="pay-reference")
        submitted = st.form_submit_button("Record payment", type="primary")
    if submitted:
        with webapp.refusals_shown():
            mine = webapp.call(investor.call_item, item.id)  # refused unless it is the investor's own
            payload = {"call_item_id": mine.id, "amount": amount, "reference": reference}
            webapp.submit_operation(mine.pool_id, "payment", payload, form="pay")
            st.rerun()

if calls.settled:
    with st.expander(f"Settled ({len(calls.settled)})"):
        for cur in sorted({i.currency for i in calls.settled}):
            ui.call_items_table([i for i in calls.settled if i.currency == cur], cur, key=f"settled-{cur}")
