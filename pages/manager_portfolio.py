"""The pool's portfolio: buy into companies, value each holding, record exits, charge management fees
and fund expenses;
the books, the holdings at their latest marks, and NAV history.

NAV is the pool's cash plus its holdings at their latest marks (less fees owed to the manager): an
exit turns a holding into cash and realized gain at once. Each form asks before it posts, says
what it did, and starts empty again.
"""

from datetime import timedelta

import streamlit as st

from app import format, webapp
from app.charts import plot_float
from app.manager_ui import act, amount, chart, choose_pool, figures, previewed, show_flash, table
from app.textsafe import md
from core import clock
from core.services import expenses, fees, investments
from core.views import manager
from core.vocabulary import ExpenseCategory

actor = webapp.require_actor("fund_manager")
st.title("Portfolio")
pool = choose_pool(
    ("closed", "investing", "wound_down"), empty="A pool's portfolio starts once it has closed."
)
cur = pool.currency
today = clock.today()
show_flash()
FORMS = ("investment", "valuation", "exit", "fee", "expense")
for form in FORMS:
    webapp.show_finished(form)
view = webapp.call(manager.portfolio, pool.id)
books = view.books
CORRECTION = "A mistake is corrected by reversing it on the Corrections page."

figures(
    amount("Cash", books.cash, cur),
    amount("Invested (cost)", books.investments_at_cost, cur, "The holdings still held, at cost"),
    amount("Unrealized", books.unrealized_value, cur, "The holdings' latest marks above their cost"),
    amount("Portfolio value", books.portfolio_value, cur, "The holdings at their latest marks"),
    amount("Realized", view.realized, cur, "Exit proceeds above the cost of what was sold"),
    amount(
        "NAV",
        books.nav,
        cur,
        f"Cash plus portfolio value, less {format.money(books.fees_payable, cur)} of management fees owed",
    ),
)

st.subheader("NAV history", anchor=False)
if view.history:
    days = [p.on for p in view.history]

    def line(name: str, values: list) -> dict:
        return {"type": "scatter", "name": name, "x": days, "y": values, "line": {"shape": "hv"}}

    chart(
        [
            line("NAV", [plot_float(p.nav) for p in view.history]),
            line("Portfolio value", [plot_float(p.portfolio_value) for p in view.history]),
            line("Cash", [plot_float(p.cash) for p in view.history]),
        ],
        height=360,
        yaxis={"title": {"text": cur}},
        hovermode="x unified",
    )
else:
    st.caption("Nothing booked yet: NAV starts with the first payment received.")

st.subheader("Holdings", anchor=False)
held = [h for h in view.holdings if h.held]
exited = [h for h in view.holdings if not h.held]
if held:
    table(
        {
            "Company": [h.company for h in held],
            "Cost": [h.cost for h in held],
            "Value": [h.value for h in held],
            "Unrealized": [h.unrealized for h in held],
            "Last marked": [h.last_mark_on for h in held],
        },
        cur,
        money=("Cost", "Value", "Unrealized"),
        dates=("Last marked",),
        widths={"Company": 150},
    )
else:
    st.caption("Nothing is held now." if view.holdings else "No investment yet.")
if exited:
    st.subheader("Exits", anchor=False)
    table(
        {
            "Company": [h.company for h in exited],
            "Cost": [h.exited_cost for h in exited],
            "Proceeds": [h.proceeds for h in exited],
            "Realized gain": [h.realized_gain for h in exited],
            "Exited on": [h.exited_on for h in exited],
        },
        cur,
        money=("Cost", "Proceeds", "Realized gain"),
        dates=("Exited on",),
        widths={"Company": 150},
    )
st.subheader("Valuations", anchor=False)
if view.marks:
    table(
        {
            "Date": [m.marked_on for m in view.marks],
            "Company": [m.company for m in view.marks],
            "Value": [m.value for m in view.marks],
            "Change": [m.change for m in view.marks],
            "Note": [m.note for m in view.marks],
        },
        cur,
        money=("Value", "Change"),
        dates=("Date",),
        widths={"Company": 140, "Note": 110},
    )
else:
    st.caption("No valuation yet: a holding counts at cost until it is valued.")
st.subheader("Fund expenses", anchor=False)
if view.expenses:
    table(
        {
            "Paid on": [x.incurred_on for x in view.expenses],
            "Category": [x.category for x in view.expenses],
            "Amount": [x.amount for x in view.expenses],
            "Memo": [x.memo for x in view.expenses],
        },
        cur,
        money=("Amount",),
        dates=("Paid on",),
        widths={"Category": 140},
    )
else:
    st.caption("No fund expense yet: the pool's own costs, paid from its cash, are recorded below.")

if pool.status == "wound_down":
    st.stop()


def buy() -> None:
    form = webapp.form_key("investment")
    company = st.text_input(
        "Company", max_chars=120, key=f"{form}-company", help="A new company, or more of one held (same name)"
    )
    left, right = st.columns(2)
    amount = left.text_input(f"Amount paid ({cur})", key=f"{form}-amount")
    on = right.date_input("Date", value=today, max_value=today, format="YYYY-MM-DD", key=f"{form}-date")
    preview = None
    if company.strip() and amount.strip():
        request = {"company": company, "amount": amount, "date": on}
        preview = previewed(investments.preview_investment, pool.id, request).preview
    what = "" if preview is None else f"{format.money(preview.command.amount, cur)} in {md(preview.company)}"
    act(
        "investment",
        preview,
        investments.invest,
        button="Record the investment",
        question=f"Invest {what} on {format.day(on)}? The cash leaves the pool's account; the holding counts "
        f"at cost until it is valued. {CORRECTION}",
        yes="Yes, record the investment",
        done=f"Investment recorded: {what}.",
    )


def value_holding() -> None:
    form = webapp.form_key("valuation")
    held = webapp.choose(
        "Holding",
        view.held,
        lambda h: (
            f"{h.name}: {format.money(h.value, cur)}"
            + (f", valued {format.day(h.last_mark_on)}" if h.last_mark_on else ", at cost")
        ),
        key=f"{form}-company",
        placeholder="Choose the holding to value",
        gone="The holding you had chosen is no longer held; nothing was done. Choose again.",
    )
    left, right = st.columns(2)
    value = left.text_input(f"New value of the holding ({cur})", key=f"{form}-value")
    on = right.date_input(
        "Valuation date", value=today, max_value=today, format="YYYY-MM-DD", key=f"{form}-date"
    )
    note = st.text_input("Note", max_chars=200, key=f"{form}-note", placeholder="e.g. Series C price")
    preview = None
    if held is not None and value.strip():
        request = {"company_id": held.id, "value": value, "date": on, "note": note}
        preview = previewed(investments.preview_mark, pool.id, request).preview
    name = "" if preview is None else md(preview.company)
    mark = "" if preview is None else format.money(preview.command.value, cur)
    change = "" if preview is None else format.money(preview.nav_change, cur)
    was = "" if preview is None else format.money(preview.value_before, cur)
    act(
        "valuation",
        preview,
        investments.mark,
        button="Record the valuation",
        question=f"Value {name} at {mark} as of {format.day(on)} (now {was})? NAV moves by {change}, shared "
        f"among the investors pro rata to what they have paid in. A later valuation replaces it. {CORRECTION}",
        yes="Yes, record the valuation",
        done=f"Valuation recorded: {name} at {mark} (NAV {change}).",
    )


def exit_holding() -> None:
    form = webapp.form_key("exit")
    held = webapp.choose(
        "Holding",
        view.held,
        lambda h: f"{h.name}: cost {format.money(h.cost, cur)}, valued {format.money(h.value, cur)}",
        key=f"{form}-company",
        placeholder="Choose the holding sold",
        gone="The holding you had chosen is no longer held; nothing was done. Choose again.",
    )
    left, right = st.columns(2)
    proceeds = left.text_input(f"Proceeds received ({cur})", key=f"{form}-proceeds")
    on = right.date_input("Exit date", value=today, max_value=today, format="YYYY-MM-DD", key=f"{form}-date")
    preview = None
    if held is not None and proceeds.strip():
        request = {"company_id": held.id, "proceeds": proceeds, "date": on}
        preview = previewed(investments.preview_exit, pool.id, request).preview
    if preview is None:
        name = sold = gain = change = cost = ""
    else:
        command = preview.command
        name, sold = md(preview.company), format.money(command.proceeds, cur)
        gain, change = format.money(command.realized_gain, cur), format.money(preview.nav_change, cur)
        cost = f"cost {format.money(command.cost, cur)}, valued {format.money(preview.value_before, cur)}"
    act(
        "exit",
        preview,
        investments.exit_holding,
        button="Record the exit",
        question=f"Record the sale of the whole holding in {name} ({cost}) for {sold} on {format.day(on)}? "
        f"The holding leaves the portfolio, the proceeds come into cash and {gain} is realized; NAV moves by "
        f"{change}. {CORRECTION}",
        yes="Yes, record the exit",
        done=f"Exit recorded: {name} sold for {sold}, realized gain {gain}.",
    )


def charge_fee() -> None:
    form = webapp.form_key("fee")
    left, right = st.columns(2)
    start = left.date_input(
        "Period start", value=today - timedelta(days=90), format="YYYY-MM-DD", key=f"{form}-start"
    )
    end = right.date_input("Period end", value=today, format="YYYY-MM-DD", key=f"{form}-end")
    request = {"period_start": start, "period_end": end}
    if st.button("Preview the fee", key=f"{form}-preview"):
        st.session_state["_fee_preview"] = (
            pool.id,
            request,
            previewed(fees.preview, pool.id, request).preview,
        )
    stored = st.session_state.get("_fee_preview")
    if stored is None or stored[0] != pool.id or stored[1] != request or stored[2] is None:
        return
    preview = stored[2]
    if preview.command.pool_version != pool.version:
        st.session_state.pop("_fee_preview")
        st.warning("The pool changed since that preview; preview again.")
        return
    period = f"{format.day(start)} to {format.day(end)}"
    st.markdown(
        f"**{format.money(preview.total, cur)}** for {period} at {format.percent(preview.rate, 2)} "
        f"({preview.basis.replace('_', ' ')}), from {format.count(len(preview.lines), 'investor')}."
    )
    table(
        {
            "Investor": [line.investor_name for line in preview.lines],
            "Fee": [line.fee for line in preview.lines],
        },
        cur,
        money=("Fee",),
    )
    later = f" It counts from {format.day(end)} on, the day it is booked." if end > today else ""
    if act(
        "fee",
        preview,
        fees.charge,
        button="Charge the fee",
        question=f"Charge {format.money(preview.total, cur)} of management fees for {period} to "
        f"{format.count(len(preview.lines), 'investor')}? Each investor's capital account is charged their "
        f"part.{later} {CORRECTION}",
        yes="Yes, charge the fee",
        done=f"Management fee charged: {format.money(preview.total, cur)} for {period}.",
    ):
        st.session_state.pop("_fee_preview", None)


def record_expense() -> None:
    form = webapp.form_key("expense")
    st.caption(
        "An expense the pool pays from its cash (set-up, legal, administration, bank fees). Every investor "
        "bears a share pro rata to their commitment, shown on their capital account as fund expenses."
    )
    left, middle, right = st.columns(3)
    category = left.selectbox(
        "Category", list(ExpenseCategory), format_func=lambda c: c.label, key=f"{form}-category"
    )
    paid = middle.text_input(f"Expense amount ({cur})", key=f"{form}-amount")
    on = right.date_input("Paid on", value=today, max_value=today, format="YYYY-MM-DD", key=f"{form}-date")
    memo = st.text_input("Memo (the invoice, the supplier)", max_chars=200, key=f"{form}-memo")
    preview = None
    if paid.strip():
        request = {"category": category, "amount": paid, "date": on, "memo": memo}
        preview = previewed(expenses.preview, pool.id, request).preview
    if preview is not None:
        st.markdown(
            f"**{format.money(preview.command.amount, cur)}** shared by "
            f"{format.count(len(preview.lines), 'investor')} pro rata to their commitments."
        )
        table(
            {
                "Investor": [line.investor_name for line in preview.lines],
                "Commitment": [line.commitment for line in preview.lines],
                "Share": [line.share for line in preview.lines],
            },
            cur,
            money=("Commitment", "Share"),
        )
    what = "" if preview is None else md(preview.command.description)
    total = "" if preview is None else format.money(preview.command.amount, cur)
    act(
        "expense",
        preview,
        expenses.record,
        button="Record the expense",
        question=f"Pay {total} of fund expenses ({what}) from the pool's cash on {format.day(on)} and charge "
        f"it to {format.count(0 if preview is None else len(preview.lines), 'investor')} pro rata to their "
        f"commitments? {CORRECTION}",
        yes="Yes, record the expense",
        done=f"Fund expense recorded: {total} ({what}).",
    )


buy_tab, mark_tab, exit_tab, fee_tab, expense_tab = st.tabs(
    [
        "Record an investment",
        "Value a holding",
        "Record an exit",
        "Charge a management fee",
        "Record a fund expense",
    ]
)
with buy_tab:
    buy()
with mark_tab:
    value_holding()
with exit_tab:
    exit_holding()
with fee_tab:
    charge_fee()
with expense_tab:
    record_expense()
for form in FORMS:
    webapp.follow_operation(form)
