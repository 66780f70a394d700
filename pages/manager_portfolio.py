"""The pool's portfolio: record investments into companies, exits, valuations (marks) and fees; NAV history."""

from datetime import date, timedelta

import streamlit as st

from app import webapp
from app.charts import plot_float
from app.manager_ui import chart, choose_pool, metric, money, table
from core.services import manager

actor = webapp.require_actor("fund_manager")
st.title("Portfolio")
pool = choose_pool(
    ("closed", "investing", "wound_down"), empty="A pool's portfolio starts once it has closed."
)
cur = pool.currency
for form in ("investment", "valuation", "fee"):
    webapp.show_finished(form)
view = webapp.call(manager.portfolio, pool.id)

cols = st.columns(5)
metric(cols[0], "Cash", view.cash, cur)
metric(cols[1], "Invested (cost)", view.invested_cost, cur)
metric(cols[2], "Unrealized", view.unrealized, cur)
metric(cols[3], "Portfolio value", view.portfolio_value, cur)
metric(cols[4], "NAV", view.nav, cur)

st.subheader("NAV history", anchor=False)
if view.history:
    days = [p.on for p in view.history]

    def line(name: str, values: list) -> dict:
        return {"type": "scatter", "name": name, "x": days, "y": values, "line": {"shape": "hv"}}

    traces = [
        line("NAV", [plot_float(p.nav) for p in view.history]),
        line("Portfolio value", [plot_float(p.portfolio_value) for p in view.history]),
        line("Cash", [plot_float(p.cash) for p in view.history]),
    ]
    if view.marks:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Marks",
                "x": [m.on for m in view.marks],
                "y": [plot_float(m.value) for m in view.marks],
                "text": [m.note for m in view.marks],
                "marker": {"size": 10, "symbol": "diamond"},
            }
        )
    chart(traces, height=360, yaxis={"title": {"text": cur}}, hovermode="x unified")
else:
    st.caption("Nothing booked yet.")

companies_col, marks_col = st.columns(2)
with companies_col:
    st.markdown("**Companies**")
    if view.companies:
        table(
            {
                "Company": [c.company for c in view.companies],
                "Invested": [c.invested for c in view.companies],
                "Cost held": [c.cost_held for c in view.companies],
                "Exit proceeds": [c.exit_proceeds for c in view.companies],
                "Realized gain": [c.realized_gain for c in view.companies],
                "Since": [c.first_date for c in view.companies],
            },
            cur,
            ("Invested", "Cost held", "Exit proceeds", "Realized gain"),
        )
    else:
        st.caption("No investment yet.")
with marks_col:
    st.markdown("**Valuations**")
    if view.marks:
        table(
            {
                "Date": [m.on for m in view.marks],
                "Portfolio value": [m.value for m in view.marks],
                "Change": [m.change for m in view.marks],
                "Note": [m.note for m in view.marks],
            },
            cur,
            ("Portfolio value", "Change"),
        )
    else:
        st.caption("No valuation yet.")

if pool.status == "wound_down":
    st.stop()
invest_tab, mark_tab, fee_tab = st.tabs(
    ["Record an investment", "Record a valuation", "Charge a management fee"]
)
with invest_tab:
    with st.form("investment"):
        action = st.radio(
            "Action",
            ["buy", "exit"],
            horizontal=True,
            key="inv-action",
            format_func=lambda a: {"buy": "Buy into a company", "exit": "Exit (sell)"}[a],
        )
        company = st.text_input("Company", max_chars=120, key="inv-company")
        left, right = st.columns(2)
        amount = left.text_input("Amount (paid, or received on an exit)", key="inv-amount")
        cost = right.text_input("Cost of what is sold (exits only)", key="inv-cost")
        on = left.date_input("Date", value=date.today(), max_value=date.today(), key="inv-date")
        submitted = st.form_submit_button("Record", type="primary")
    if submitted:
        payload = {"action": action, "company": company, "amount": amount, "date": on.isoformat()}
        if action == "exit":
            payload["cost"] = cost
        with webapp.refusals_shown():
            webapp.submit_operation(pool.id, "investment", payload, form="investment")
    webapp.follow_operation("investment", done_message="Investment recorded.")
with mark_tab:
    st.caption(
        f"The new fair value of the whole portfolio (now {money(view.portfolio_value, cur)}); the change is "
        "shared among investors pro rata to what they have paid in."
    )
    with st.form("valuation"):
        value = st.text_input("New portfolio value", key="val-value")
        left, right = st.columns(2)
        on = left.date_input("Valuation date", value=date.today(), max_value=date.today(), key="val-date")
        note = right.text_input("Note", max_chars=200, key="val-note")
        submitted = st.form_submit_button("Record the valuation", type="primary")
    if submitted:
        with webapp.refusals_shown():
            webapp.submit_operation(
                pool.id, "valuation", {"value": value, "date": on.isoformat(), "note": note}, form="valuation"
            )
    webapp.follow_operation("valuation", done_message="Valuation recorded.")
with fee_tab:
    with st.form("fee"):
        left, right = st.columns(2)
        start = left.date_input("Period start", value=date.today() - timedelta(days=90), key="fee-start")
        end = right.date_input("Period end", value=date.today(), key="fee-end")
        submitted = st.form_submit_button("Charge the fee", type="primary")
    if submitted:
        with webapp.refusals_shown():
            webapp.submit_operation(
                pool.id,
                "management_fee",
                {"period_start": start.isoformat(), "period_end": end.isoformat()},
                form="fee",
            )
    webapp.follow_operation("fee", done_message="Management fee charged.")
