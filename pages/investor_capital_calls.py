"""Capital calls: what is due and when, overdue items highlighted, where to wire each open item and
the reference to quote, and paying one call item through a preview the investor confirms; the
payment is a durable operation whose progress shows until it is posted, after which the form starts
empty again."""

import streamlit as st

from app import format, notices_ui, webapp
from app import investor_ui as ui
from app.textsafe import md
from core.views import investor

actor = webapp.require_actor("investor")
st.title("Capital calls")
webapp.show_finished(ui.PAY_FORM)
webapp.follow_operation(ui.PAY_FORM)

calls = ui.load(investor.capital_calls)
for summary in calls.summary:
    cur = summary.currency
    with st.container(horizontal=True, gap="large"):  # each at its own width: no amount cut short
        st.metric(
            f"Outstanding ({cur})",
            format.money(summary.outstanding, cur),
            help="Called but not yet paid",
            width="content",
        )
        st.metric(
            f"Overdue ({cur})",
            format.money(summary.overdue, cur),
            format.count(summary.overdue_items, "item"),
            delta_color="off",
            delta_arrow="off",
            width="content",
        )
        st.metric(f"Paid-in to date ({cur})", format.money(summary.paid_in_to_date, cur), width="content")
overdue = [item for item in calls.open if item.overdue]
if overdue:
    st.error(
        f"{format.count(len(overdue), 'call item')} past {'its' if len(overdue) == 1 else 'their'} due date: "
        "please pay, or contact the pool's manager.",
        icon=":material/warning:",
    )

st.subheader("Open", anchor=False)
if calls.standing is not None:  # never called at all: say why, and what comes next
    note = calls.standing.kyc_note
    st.info(
        "No capital calls yet. "
        + (
            md(note)
            if note
            else "A capital call comes once a manager has accepted your commitment to a pool and calls "
            "capital from it; it then shows here with its due date, to pay."
        )
    )
elif not calls.open:
    st.success("Nothing to pay: every capital call to you is paid.")
for cur in sorted({i.currency for i in calls.open}):
    ui.call_items_table([i for i in calls.open if i.currency == cur], cur, key=f"open-{cur}")

if calls.open:
    st.subheader("How to pay", anchor=False)
    notices_ui.payment_instructions(calls.open)
    st.subheader("Record a payment", anchor=False)
    ui.payment_form(calls.open)

if calls.settled:
    with st.expander(f"Paid ({len(calls.settled):,})"):
        for cur in sorted({i.currency for i in calls.settled}):
            ui.call_items_table([i for i in calls.settled if i.currency == cur], cur, key=f"settled-{cur}")
