"""Streamlit helpers shared by the investor's pages: the date-range control, the tables and charts
drawn from core.views.investor's read models, and the forms that act (pay a call item, commit,
withdraw) through the typed commands of core.services.payments and core.services.commitments.

Plumbing only: every figure and every permission check comes from the read models and services.
Amounts stay Decimal in tables (app.format configures each column); charts turn them into floats at
the very last step, because plotly draws floats. User text reaches markdown only through md().
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from app import format, webapp
from app.charts import plot_float
from app.textsafe import md
from core import clock
from core.errors import DomainError, Stale
from core.fundmath import CapitalAccount
from core.services import commitments, payments, pools
from core.views import investor
from core.vocabulary import label

RANGE_KEY = "investor_range"  # one widget key on every investor page: the range follows them
DATES_KEY = "investor_range_dates"
POOL_KEY = "investor_pool_id"  # the pool last opened on the pool detail page
PAY_FORM = "pay"  # the payment form (webapp.form_key / submit / follow_operation)
COMMIT_FORM = "commit"
DONE_KEY = "_investor_done"  # what the last commit or withdrawal did, shown once after the rerun
NOT_AVAILABLE = format.NA
PLOTLY = {"displayModeBar": False}  # no toolbar over the legends; the charts need no zoom tools


def said(message: str) -> None:
    """Say what an action did, on the run after it (the page reruns to show its effect)."""
    st.session_state[DONE_KEY] = message


def show_said() -> None:
    message = st.session_state.pop(DONE_KEY, None)
    if message:
        st.success(message)


# --- controls --------------------------------------------------------------------------------------


def range_picker() -> investor.Period:
    """The date-range control; the choice follows the investor from page to page (one key, kept
    for the session)."""
    choice = st.segmented_control(
        "Period",
        list(investor.RANGES),
        default="inception",
        required=True,
        format_func=lambda choice: investor.RANGES[choice],
        key=RANGE_KEY,
        persist_state="session",
    )
    start = end = None
    if choice == "custom":
        today = clock.today()
        picked = st.date_input(
            "From and to (inclusive)",
            value=(date(today.year, 1, 1), today),
            max_value=today,
            format="YYYY-MM-DD",
            key=DATES_KEY,
            persist_state="session",
        )
        if not (isinstance(picked, Sequence) and len(picked) == 2):
            st.info("Pick the last day of the range too.")
            st.stop()
        start, end = picked
    try:
        return investor.period_for(choice, start=start, end=end)
    except DomainError as exc:
        st.error(md(exc.message))
        st.stop()
        raise  # unreachable: st.stop() ends the run


def load(view: Callable[..., Any], *args: Any) -> Any:
    """Run one read as the logged-in actor; on a refusal show its message and end the run."""
    result = None
    with webapp.refusals_shown():
        result = webapp.call(view, *args)
    if result is None:
        st.stop()
    return result


def deferred(view: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Data for st.download_button that is built only when the investor clicks.

    Streamlit runs it on a thread of its own, outside the page run, so the logged-in actor is
    captured now; the read checks it as it checks every call.
    """
    actor = st.session_state["actor"]

    def build() -> Any:
        with webapp.unit_of_work() as uow:
            return view(actor, uow, *args)

    return build


# --- figures and tables ------------------------------------------------------------------------------


# Column widths in pixels. A table's columns add up to less than the page at 1400 px with the menu
# open (about 930), so no table scrolls sideways; an amount of $10,000,000.00 fits its column.
MONEY_WIDTH = 100
POOL_WIDTH = 150


def _money_columns(currency: str, *labels: str, width: str | int = MONEY_WIDTH) -> dict[str, Any]:
    return {name: format.money_column(name, currency, width=width) for name in labels}


RATIO_COLUMNS = {
    **{
        name: format.multiple_column(name, width=55, help=f"{what}. {investor.NO_MULTIPLE}")
        for name, what in (
            ("TVPI", "Total value (distributions + NAV) to paid-in"),
            ("DPI", "Distributions to paid-in"),
            ("RVPI", "NAV to paid-in"),
        )
    },
    "IRR": format.percent_column("IRR", width=65, help=f"Internal rate of return. {investor.NO_IRR}"),
}


def figures_metrics(figures: investor.Figures, period: investor.Period) -> None:
    """Committed, paid-in, unfunded, distributed, NAV, total value; TVPI, DPI, RVPI, IRR; calls, fees.

    Metrics flow in a wrapping row at their own width, so no amount is ever cut short; a figure
    that does not exist says n/a, and its tooltip why.
    """
    cur = figures.currency
    shown: list[tuple[str, str, str | None]] = [
        ("Committed", format.money(figures.committed, cur), None),
        ("Paid-in", format.money(figures.paid_in, cur), "Contributions in the period"),
        ("Unfunded", format.money(figures.unfunded, cur), "Commitment not yet called (ILPA)"),
        ("Distributed", format.money(figures.distributed, cur), None),
        ("NAV", format.money(figures.nav, cur), "Your capital account at the end of the period"),
        ("Total value", format.money(figures.total_value, cur), "Distributions + NAV"),
        ("TVPI", format.multiple(figures.tvpi), None if figures.tvpi is not None else investor.NO_MULTIPLE),
        ("DPI", format.multiple(figures.dpi), None if figures.dpi is not None else investor.NO_MULTIPLE),
        ("RVPI", format.multiple(figures.rvpi), None if figures.rvpi is not None else investor.NO_MULTIPLE),
        ("IRR", format.percent(figures.irr), None if figures.irr is not None else investor.NO_IRR),
        ("Outstanding calls", format.money(figures.outstanding, cur), "Called but not yet paid"),
        (
            "Fees and expenses",
            format.money(figures.fees + figures.expenses, cur),
            f"Management fees {format.money(figures.fees, cur)} and fund expenses "
            f"{format.money(figures.expenses, cur)} charged in the period",
        )
        if period.since_inception
        else (
            "NAV at start",
            format.money(figures.beginning_nav, cur),
            "Your NAV the day before the period starts; multiples and IRR count it as paid in then",
        ),
    ]
    with st.container(horizontal=True, gap="medium"):
        for name, value, why in shown:
            st.metric(name, value, help=why, width="content")


def portfolio_totals(overview: investor.PortfolioOverview) -> None:
    for totals in overview.totals:
        if len(overview.totals) > 1:
            st.subheader(f"In {totals.currency}", anchor=False)
        figures_metrics(totals, overview.period)


HOLDING_MONEY = ("Committed", "Paid-in", "Unfunded", "Distributed", "NAV")


def holdings_tables(overview: investor.PortfolioOverview) -> None:
    """One row per pool with the same figures; selecting a row opens the pool's detail."""
    for totals in overview.totals:
        cur = totals.currency
        mine = [h for h in overview.holdings if h.figures.currency == cur]
        st.subheader("Pools" if len(overview.totals) == 1 else f"Pools in {cur}", anchor=False)
        table = pd.DataFrame(
            [
                {
                    "Pool": h.pool_name,
                    "Committed": h.figures.committed,
                    "Paid-in": h.figures.paid_in,
                    "Unfunded": h.figures.unfunded,
                    "Distributed": h.figures.distributed,
                    "NAV": h.figures.nav,
                    "TVPI": format.multiple_value(h.figures.tvpi),
                    "DPI": format.multiple_value(h.figures.dpi),
                    "RVPI": format.multiple_value(h.figures.rvpi),
                    "IRR": format.rate_value(h.figures.irr),
                }
                for h in mine
            ],
            columns=["Pool", *HOLDING_MONEY, "TVPI", "DPI", "RVPI", "IRR"],
        )
        chosen = st.dataframe(
            table,
            hide_index=True,
            column_config={
                "Pool": st.column_config.TextColumn("Pool", width=POOL_WIDTH + 10),
                **_money_columns(cur, *HOLDING_MONEY),
                **RATIO_COLUMNS,
            },
            # Ratios stay numbers (they sort as numbers); one that does not exist is None, shown as
            # "n/a" (never 0% or 0.00x), its column's tooltip saying why.
            placeholder=NOT_AVAILABLE,
            on_select="rerun",
            selection_mode="single-row",
            key=f"holdings-{cur}",
        )
        st.caption("Select a row to open that pool's detail and capital account.")
        if chosen.selection.rows:
            st.session_state[POOL_KEY] = mine[chosen.selection.rows[0]].pool_id
            st.switch_page("pages/investor_pool_detail.py")


def portfolio_charts(overview: investor.PortfolioOverview) -> None:
    """The J-curve, monthly cash flows and allocation; only the open tab is drawn."""
    if not overview.series:
        return
    value_tab, flows_tab, allocation_tab = st.tabs(
        ["Value over time", "Cash flows by month", "Allocation"], key="portfolio-charts", on_change="rerun"
    )
    currencies = [t.currency for t in overview.totals]
    if value_tab.open:
        with value_tab:
            for cur in currencies:
                points = [p for p in overview.series if p.currency == cur]
                st.plotly_chart(value_chart(points, cur), key=f"value-{cur}", config=PLOTLY)
    if flows_tab.open:
        with flows_tab:
            for cur in currencies:
                points = [p for p in overview.series if p.currency == cur]
                if not overview.period.since_inception:
                    points = points[1:]  # the opening balance is not a month of flows
                st.plotly_chart(cash_flow_chart(points, cur), key=f"flows-{cur}", config=PLOTLY)
    if allocation_tab.open:
        with allocation_tab:
            allocation(overview)


def allocation(overview: investor.PortfolioOverview) -> None:
    measure = st.segmented_control(
        "Measure", ["NAV", "Commitment"], default="NAV", required=True, key="allocation-measure"
    )
    for totals in overview.totals:
        cur = totals.currency
        shown = measure
        if shown == "NAV" and totals.nav <= 0:
            st.caption(f"No NAV in {cur} yet: showing commitments instead.")
            shown = "Commitment"
        left, right = st.columns(2)
        for column, rows, title in (
            (left, overview.by_pool, "By pool"),
            (right, overview.by_strategy, "By strategy"),
        ):
            mine = [a for a in rows if a.currency == cur]
            values = [a.nav if shown == "NAV" else a.committed for a in mine]
            column.plotly_chart(
                allocation_chart([a.label for a in mine], values, f"{title} ({shown}, {cur})"),
                key=f"allocation-{title}-{cur}",
                config=PLOTLY,
            )
            left_out = [a.label for a, v in zip(mine, values, strict=True) if v <= 0]
            if left_out:
                what = "NAV" if shown == "NAV" else "commitment"
                column.caption(md(f"Not drawn, with no {what} above zero: {', '.join(left_out)}."))


def pending_commitments(lines: Sequence[investor.CommitmentLine], *, withdraw: bool = False) -> None:
    """The investor's pending commitments; with withdraw, each can be withdrawn after a question."""
    for line in lines:
        with st.container(border=True):
            what = f"{line.pool_name}: {format.money(line.requested, line.currency)}"
            st.markdown(
                f"**{md(what)}** requested on {format.day(line.created_at.date())}, awaiting the manager's decision"
            )
            if withdraw and webapp.confirmed(
                f"withdraw-{line.id}",
                "Withdraw",
                md(
                    f"Withdraw your commitment of {what}? The manager will no longer review it; to invest "
                    "in this pool later you would commit again."
                ),
                yes="Yes, withdraw it",
                about=(line.id, line.version),
            ):
                with webapp.refusals_shown():
                    webapp.call(commitments.withdraw_commitment, line.id)
                    said(md(f"Your commitment of {what} was withdrawn."))
                    st.rerun()


def pool_terms(pool: pools.PoolView) -> None:
    cur = pool.currency
    st.caption(
        f"{label(pool.status).capitalize()} · {label(pool.strategy)} · {cur} · "
        f"close date {format.day(pool.close_date)}"
    )
    fee = f"{format.percent(pool.management_fee_rate, 2)} on {label(pool.management_fee_basis)}"
    if pool.management_fee_step_down_rate is not None:
        fee += f", stepping down to {format.percent(pool.management_fee_step_down_rate, 2)}"
    cells = [
        ("Target size", format.money(pool.target_size, cur)),
        ("Hard cap", format.money(pool.hard_cap, cur)),
        ("Tickets", f"{format.money(pool.min_ticket, cur)} to {format.money(pool.max_ticket, cur)}"),
        ("Minimum accreditation", label(pool.min_accreditation)),
        ("Management fee", fee),
        (
            "Investment period ends",
            "not set" if pool.investment_period_end is None else format.day(pool.investment_period_end),
        ),
        ("Carried interest", format.percent(pool.carry_rate)),
        (
            "Hurdle / GP catch-up",
            f"{format.percent(pool.hurdle_rate)} / {format.percent(pool.catch_up_rate, 0)}",
        ),
    ]
    columns = st.columns(4)
    for index, (name, value) in enumerate(cells):
        columns[index % 4].markdown(f"**{name}**  \n{md(value)}")


def fundraising_bar(raising: pools.Fundraising) -> None:
    cur = raising.currency
    st.progress(
        min(float(raising.accepted / raising.target_size), 1.0)  # float-ok: a bar
        if raising.target_size
        else 0.0,  # float-ok: a bar
        text=md(
            f"{format.money(raising.accepted, cur)} committed of a {format.money(raising.target_size, cur)} "
            f"target · {format.count(raising.investors, 'investor')} · {format.money(raising.pending, cur)} "
            f"pending · room under the hard cap {format.money(raising.remaining, cur)}"
        ),
    )


def capital_account_table(account: CapitalAccount, currency: str, key: str) -> None:
    """Every line of the statement in view, down to the unfunded commitment: none scrolled away."""
    st.dataframe(
        pd.DataFrame(account.lines(), columns=["Line", "Amount"]),
        hide_index=True,
        column_config={
            "Line": st.column_config.TextColumn("Line", width=260),
            **_money_columns(currency, "Amount", width=130),
        },
        height="content",
        key=key,
    )


# A longer description shows in full on hover.
TRANSACTION_COLUMNS = {
    "Date": format.date_column("Date", width="small"),
    "Pool": st.column_config.TextColumn("Pool", width=POOL_WIDTH),
    "Type": st.column_config.TextColumn("Type", width=170),
    "Description": st.column_config.TextColumn("Description", width=320),
}


def transactions_table(transactions: Sequence[investor.Transaction], currency: str, key: str) -> None:
    if not transactions:
        st.caption("No transactions in this period.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Date": t.on,
                    "Type": t.label,
                    "Description": t.description,
                    "Amount": t.amount,
                    "NAV effect": t.nav_effect,
                }
                for t in transactions
            ]
        ),
        hide_index=True,
        column_config={**TRANSACTION_COLUMNS, **_money_columns(currency, "Amount", "NAV effect")},
        key=key,
    )


def _overdue_red(row: pd.Series) -> list[str]:
    return ["background-color: rgba(255, 75, 75, 0.18)" if row["Status"] == "Overdue" else ""] * len(row)


def call_items_table(items: Sequence[investor.CallItemView], currency: str, key: str) -> None:
    """Call items with amount due, due date and status; overdue rows are highlighted."""
    table = pd.DataFrame(
        [
            {
                "Capital call": i.title,
                "Pool": i.pool_name,
                "Due date": i.due_date,
                "Amount due": i.amount_due,
                "Paid": i.amount_paid,
                "Outstanding": i.outstanding,
                "Status": i.status_label,
                "Due": i.due,
            }
            for i in items
        ]
    )
    st.dataframe(
        table.style.apply(_overdue_red, axis=1),
        hide_index=True,
        column_config={
            "Capital call": st.column_config.TextColumn("Capital call", width=200),
            "Pool": st.column_config.TextColumn("Pool", width=125),
            "Due date": format.date_column("Due date", width=85),
            **_money_columns(currency, "Amount due", "Paid", "Outstanding", width=95),
            "Status": st.column_config.TextColumn("Status", width=80),
            "Due": st.column_config.TextColumn("Due", width=100),
        },
        key=key,
    )


def open_pools_tables(view: investor.OpenPools) -> None:
    currencies = sorted({p.pool.currency for p in view.pools})
    for cur in currencies:
        if len(currencies) > 1:
            st.subheader(f"In {cur}", anchor=False)
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Pool": p.pool.name,
                        "Closes": p.pool.close_date,
                        "Raised": float(p.fundraising.accepted / p.pool.target_size),  # float-ok: a bar
                        "Room": p.remaining,
                        "Min ticket": p.pool.min_ticket,
                        "Max ticket": p.pool.max_ticket,
                        "Fee": format.rate_value(p.pool.management_fee_rate),
                        "Carry": format.rate_value(p.pool.carry_rate),
                        "Hurdle": format.rate_value(p.pool.hurdle_rate),
                        "Yours": ""
                        if p.my_commitment is None
                        else label(p.my_commitment.status).capitalize(),
                    }
                    for p in view.pools
                    if p.pool.currency == cur
                ]
            ),
            hide_index=True,
            column_config={
                "Pool": st.column_config.TextColumn("Pool", width=POOL_WIDTH + 10),
                "Closes": format.date_column("Closes", width=85),
                "Raised": st.column_config.ProgressColumn(
                    "Raised",
                    min_value=0,
                    max_value=1,
                    format="percent",
                    width=85,
                    help="Commitments accepted, as a share of the target size",
                ),
                **_money_columns(cur, "Min ticket", "Max ticket"),
                "Room": format.money_column("Room", cur, width=105, help="Left under the hard cap"),
                **{name: format.percent_column(name, width=55) for name in ("Fee", "Carry", "Hurdle")},
                "Yours": st.column_config.TextColumn("Yours", width=80, help="Your commitment, if any"),
            },
            key=f"open-pools-{cur}",
        )


LIVE_FUNDRAISING = "live-fundraising"  # the fragment's key: st.rerun(scope=...) and tests find it by it


@st.fragment(run_every=5.0, key=LIVE_FUNDRAISING)
def live_fundraising(pool_id: int, initial: pools.Fundraising) -> None:
    """Polls the pool's cheap version counter; re-reads the fundraising figures only when it moved."""
    slot = f"_raising_{pool_id}"
    raising = st.session_state.get(slot) or initial
    version = webapp.call(pools.pool_version, pool_id)
    if raising.version != version:
        raising = webapp.call(pools.fundraising, pool_id)
    st.session_state[slot] = raising
    fundraising_bar(raising)


def statement_tables(
    rows: Sequence[Sequence[Any]],
    header: Sequence[str],
    shown: Sequence[str],
    money_labels: Sequence[str],
    key: str,
    whole: bool = False,
) -> None:
    """A statement's rows (exactly those the CSV file holds) as one table per currency, with the
    columns `shown`; `whole`: every row in view (a capital account), not ten and a scroll bar."""
    frame = pd.DataFrame(list(rows), columns=list(header))
    if frame.empty:
        st.caption("Nothing in this period.")
        return
    for cur in sorted(frame["Currency"].unique()):
        part = frame[frame["Currency"] == cur][list(shown)]
        if "Date" in part:
            part = part.assign(Date=pd.to_datetime(part["Date"]).dt.date)
        st.dataframe(
            part,
            hide_index=True,
            column_config={
                **TRANSACTION_COLUMNS,
                "Line": st.column_config.TextColumn("Line", width=260),
                **_money_columns(cur, *money_labels),
            },
            height="content" if whole else "auto",
            key=f"{key}-{cur}",
        )


# --- the forms ---------------------------------------------------------------------------------------


def _item_choice(item: investor.CallItemView) -> str:
    """An item's name in the chooser: words that stay the same while payments land."""
    return f"{item.pool_name} · {item.title} · due {format.day(item.due_date)}"


def payment_form(items: Sequence[investor.CallItemView]) -> None:
    """Pay one call item. The form is bound to the item it pays: its id, and its version as the
    choice showed it, go with the request, so an item paid or changed since (in another tab, by the
    manager) is refused with what changed, never paid in another's place. A choice prefills that
    item's own outstanding amount; the preview says what will be recorded, and only the answer to
    that question records it. After success the form starts empty again."""
    key = webapp.form_key(PAY_FORM)
    item_key, amount_key, bound_key = f"{key}-item", f"{key}-amount", f"{key}-bound"
    open_items = {i.id: i for i in items}
    if st.session_state.get(item_key) is not None and st.session_state[item_key] not in open_items:
        st.session_state[amount_key] = ""  # the chosen item is gone: its amount goes with it

    def bind() -> None:
        """A choice brings its own outstanding amount, and the item's version as now shown."""
        chosen_id = st.session_state.get(item_key)
        chosen = open_items.get(chosen_id) if isinstance(chosen_id, int) else None
        st.session_state[amount_key] = "" if chosen is None else f"{chosen.outstanding:f}"
        st.session_state[bound_key] = None if chosen is None else (chosen.id, chosen.version)

    item = webapp.choose(
        "Call item to pay",
        items,
        _item_choice,
        key=item_key,
        on_change=bind,
        placeholder="Choose the call item you are paying",
        gone="The call item you had chosen is no longer open (paid or changed meanwhile); nothing was "
        "recorded. Choose again.",
    )
    currency = item.currency if item is not None else items[0].currency
    amount = st.text_input(f"Amount ({currency})", key=amount_key, help="Prefilled with what is outstanding")
    reference = st.text_input(
        "Wire reference", max_chars=100, placeholder="e.g. WIRE-20240131-001", key=f"{key}-reference"
    )
    preview = None
    if item is not None and amount.strip():
        bound = st.session_state.get(bound_key)
        version = bound[1] if bound and bound[0] == item.id else item.version
        request = {"call_item_id": item.id, "item_version": version, "amount": amount, "reference": reference}
        stale = None
        with webapp.refusals_shown():  # every error of the form at once, in the users' words
            try:
                preview = webapp.call(payments.preview, item.pool_id, request)
            except Stale as exc:
                stale = exc
        if stale is not None:
            st.error(md(stale.message))
            st.button("Show the call item as it is now", key=f"{key}-rebind", on_click=bind)
    if preview is None or item is None:
        st.button("Record the payment", key=f"{key}-confirm-ask", type="primary", disabled=True)
        return
    command = preview.command
    paid = format.money(command.amount, preview.currency)
    wire = f" by wire {command.reference}" if command.reference else ""
    question = (
        f"Record {paid} paid{wire} on {item.title} of {item.pool_name}, received {format.day(command.paid_on)}? "
        f"It leaves {format.money(preview.outstanding_after, preview.currency)} outstanding on this item. A "
        "recorded payment cannot be undone here: only the pool's manager can reverse a wrong one."
    )
    if webapp.confirmed(
        f"{key}-confirm",
        "Record the payment",
        md(question),
        yes="Yes, record it",
        about=command,
        type="primary",
    ):
        with webapp.refusals_shown():
            webapp.submit(
                payments.record,
                command,
                form=PAY_FORM,
                done=md(
                    f"Payment of {paid} on {item.title} of {item.pool_name} recorded: your paid-in capital "
                    "is updated everywhere."
                ),
            )
            st.rerun()


def commit_form(joinable: Sequence[investor.OpenPool]) -> None:
    """Commit to one open pool; the service checks eligibility, tickets and the hard cap again."""
    key = webapp.form_key(COMMIT_FORM)
    chosen = webapp.choose(
        "Pool",
        joinable,
        lambda p: p.pool.name,
        key=f"{key}-pool",
        placeholder="Choose a pool",
        gone="The pool you had chosen no longer takes your commitment; nothing was submitted. Choose again.",
    )
    if chosen is None:
        return
    pool, cur = chosen.pool, chosen.pool.currency
    st.session_state.pop(f"_raising_{pool.id}", None)  # a full run starts from the figures just read
    live_fundraising(pool.id, chosen.fundraising)
    amount = st.text_input(f"Amount ({cur})", key=f"{key}-amount")
    st.caption(
        md(
            f"Minimum ticket {format.money(pool.min_ticket, cur)} · maximum {format.money(pool.max_ticket, cur)} "
            f"· at most {format.money(chosen.largest_ticket, cur)} fits under the hard cap now."
        )
    )
    if st.button("Commit", type="primary", key=f"{key}-submit"):
        with webapp.refusals_shown():
            commitment_id = webapp.call(commitments.submit_commitment, pool.id, amount)
            mine = webapp.call(commitments.get_commitment, commitment_id)
            said(
                md(
                    f"Commitment of {format.money(mine.amount_requested, cur)} to {pool.name} submitted; the "
                    "manager will review it."
                )
            )
            webapp.reset_form(COMMIT_FORM)
            st.rerun()


# --- charts: plotly figure specs (dicts), floats only here ---------------------------------------------

_LAYOUT = {
    "height": 360,
    "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
    "legend": {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
    "hovermode": "x unified",
}


def _floats(values: Sequence[Decimal]) -> list[float | None]:
    return [plot_float(v) for v in values]


def value_chart(points: Sequence[investor.MonthPoint], currency: str) -> dict[str, Any]:
    """The J-curve: NAV + cumulative distributions against cumulative paid-in."""
    xs = [p.on.isoformat() for p in points]
    line = {"type": "scatter", "mode": "lines", "x": xs}
    return {
        "data": [
            {
                **line,
                "name": "NAV",
                "y": _floats([p.nav for p in points]),
                "fill": "tozeroy",
                "line": {"width": 1},
            },
            {
                **line,
                "name": "Distributions (cumulative)",
                "y": _floats([p.cumulative_distributions for p in points]),
                "line": {"dash": "dash"},
            },
            {
                **line,
                "name": "NAV + distributions",
                "y": _floats([p.total_value for p in points]),
                "line": {"width": 3},
            },
            {
                **line,
                "name": "Paid-in (cumulative)",
                "y": _floats([p.cumulative_paid_in for p in points]),
                "line": {"dash": "dot", "width": 3},
            },
        ],
        "layout": {
            **_LAYOUT,
            "xaxis": {"tickformat": "%Y-%m"},
            "yaxis": {"title": {"text": currency}, "tickformat": ",.0f"},
        },
    }


def cash_flow_chart(points: Sequence[investor.MonthPoint], currency: str) -> dict[str, Any]:
    """Cash flows by month: contributions down, distributions up."""
    xs = [p.on.strftime("%Y-%m") for p in points]
    return {
        "data": [
            {
                "type": "bar",
                "name": "Contributions",
                "x": xs,
                "y": _floats([-p.contributions for p in points]),
            },
            {
                "type": "bar",
                "name": "Distributions",
                "x": xs,
                "y": _floats([p.distributions for p in points]),
            },
        ],
        "layout": {
            **_LAYOUT,
            "barmode": "relative",
            "yaxis": {"title": {"text": currency}, "tickformat": ",.0f"},
            "xaxis": {"type": "category"},
        },
    }


def allocation_chart(labels: Sequence[str], values: Sequence[Decimal], title: str) -> dict[str, Any]:
    """A donut of the parts above zero: a part of nothing (or below it) draws no slice."""
    drawn = [(name, value) for name, value in zip(labels, values, strict=True) if value > 0]
    return {
        "data": [
            {
                "type": "pie",
                "labels": [name for name, _ in drawn],
                "values": _floats([value for _, value in drawn]),
                "hole": 0.45,
                "textinfo": "percent",
                "sort": False,
            }
        ],
        "layout": {**_LAYOUT, "height": 320, "title": {"text": title}, "hovermode": "closest"},
    }
