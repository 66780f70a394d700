"""Streamlit helpers shared by the investor's pages: the date-range control, number formats, and
the tables and charts the pages draw from service results.

Plumbing only: every figure and every permission check comes from core.services.investor. Money
stays Decimal in tables (st.dataframe formats it per currency); charts turn it into floats at the
very last step, because plotly draws floats. The drawing lives in functions here, not in the page
scripts, so each page stays a short list of steps (and Streamlit's per-run script compile stays cheap).
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
from core.errors import DomainError
from core.money import MINOR_UNITS, quantize
from core.services import investor, pools

RANGE_KEY = "investor_range"  # one widget key on every investor page: the range follows them
DATES_KEY = "investor_range_dates"
POOL_KEY = "investor_pool_id"  # the pool last opened on the pool detail page
PAY_ITEM_KEY = "investor_pay_item"  # the call item the payment form pays (an id, checked by the service)
SYMBOLS = {"USD": "$", "EUR": "€", "JPY": "¥", "GBP": "£"}
NOT_AVAILABLE = "n/a"
MONEY_LABELS = ("Committed", "Paid-in", "Unfunded", "Distributed", "NAV", "Total value")


# --- formats ---------------------------------------------------------------------------------------


def money(amount: Decimal | None, currency: str) -> str:
    """An amount in its currency: $1,234.50, -€10.00, 1,234.50 CHF."""
    if amount is None:
        return NOT_AVAILABLE
    value = quantize(amount, currency)
    digits = f"{abs(value):,.{MINOR_UNITS.get(currency, 2)}f}"
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def multiple(value: Decimal | None) -> str:
    """A multiple such as TVPI; "n/a" when there is none (nothing paid in), never 0.00x."""
    return NOT_AVAILABLE if value is None else f"{value:.2f}x"


def percent(value: Decimal | None, places: int = 1) -> str:
    """A rate such as IRR; "n/a" when it cannot be computed, never 0%."""
    return NOT_AVAILABLE if value is None else f"{value * 100:.{places}f}%"


def money_columns(currency: str, *labels: str) -> dict[str, Any]:
    return {label: format.money_column(label, currency) for label in labels}


DATE_COLUMN = {"format": "YYYY-MM-DD"}
MULTIPLE_FORMAT = "%.2fx"  # printf-style: 1.5 shows as 1.50x
RATIO_COLUMNS = {
    **{
        label: st.column_config.NumberColumn(label, format=MULTIPLE_FORMAT)
        for label in ("TVPI", "DPI", "RVPI")
    },
    "IRR": st.column_config.NumberColumn("IRR", format="percent"),
}
TERMS_COLUMNS = {
    label: st.column_config.NumberColumn(label, format="percent") for label in ("Fee", "Carry", "Hurdle")
}


# --- controls --------------------------------------------------------------------------------------


def range_picker() -> investor.Period:
    """The date-range control; the choice follows the investor from page to page (one key, kept
    for the session)."""
    choice = st.segmented_control(
        "Period",
        list(investor.RANGES),
        default="inception",
        required=True,
        format_func=investor.RANGES.get,
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


def load(service: Callable[..., Any], *args: Any) -> Any:
    """Run one service as the logged-in actor; on a refusal show its message and end the run."""
    result = None
    with webapp.refusals_shown():
        result = webapp.call(service, *args)
    if result is None:
        st.stop()
    return result


def deferred(service: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Data for st.download_button that is built only when the investor clicks.

    Streamlit runs it on a thread of its own, outside the page run, so the logged-in actor is
    captured now; the service checks it as it checks every call.
    """
    actor = st.session_state["actor"]

    def build() -> Any:
        with webapp.unit_of_work() as uow:
            return service(actor, uow, *args)

    return build


# --- figures and tables ------------------------------------------------------------------------------


def figures_metrics(figures: investor.Figures, period: investor.Period) -> None:
    """Committed, paid-in, unfunded, distributed, NAV, total value; TVPI, DPI, RVPI, IRR; calls, fees.

    Metrics flow in a wrapping row at their own width, so no amount is ever cut short.
    """
    cur = figures.currency
    shown = [
        ("Committed", money(figures.committed, cur)),
        ("Paid-in", money(figures.paid_in, cur)),
        ("Unfunded", money(figures.unfunded, cur)),
        ("Distributed", money(figures.distributed, cur)),
        ("NAV", money(figures.nav, cur)),
        ("Total value", money(figures.total_value, cur)),
        ("TVPI", multiple(figures.tvpi)),
        ("DPI", multiple(figures.dpi)),
        ("RVPI", multiple(figures.rvpi)),
        ("IRR", percent(figures.irr)),
        ("Outstanding calls", money(figures.outstanding, cur)),
        ("Fees", money(figures.fees, cur))
        if period.since_inception
        else ("NAV at start", money(figures.beginning_nav, cur)),
    ]
    with st.container(horizontal=True, gap="large"):
        for label, value in shown:
            st.metric(label, value, width="content")


def portfolio_totals(overview: investor.PortfolioOverview) -> None:
    for totals in overview.totals:
        if len(overview.totals) > 1:
            st.subheader(f"In {totals.currency}", anchor=False)
        figures_metrics(totals, overview.period)


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
                    "Strategy": h.strategy.replace("_", " "),
                    "Status": h.status,
                    "Committed": h.figures.committed,
                    "Paid-in": h.figures.paid_in,
                    "Unfunded": h.figures.unfunded,
                    "Distributed": h.figures.distributed,
                    "NAV": h.figures.nav,
                    "Total value": h.figures.total_value,
                    "TVPI": h.figures.tvpi,
                    "DPI": h.figures.dpi,
                    "RVPI": h.figures.rvpi,
                    "IRR": h.figures.irr,
                }
                for h in mine
            ]
        )
        chosen = st.dataframe(
            table,
            hide_index=True,
            column_config={**money_columns(cur, *MONEY_LABELS), **RATIO_COLUMNS},
            # The ratios stay numbers (they sort as numbers); one that cannot be computed is None,
            # which st.dataframe's placeholder shows as "n/a", never 0% or 0.00x. Only the ratio
            # columns can be missing here: money and names always have a value.
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
                st.plotly_chart(value_chart(points, cur), key=f"value-{cur}")
    if flows_tab.open:
        with flows_tab:
            for cur in currencies:
                points = [p for p in overview.series if p.currency == cur]
                if not overview.period.since_inception:
                    points = points[1:]  # the opening balance is not a month of flows
                st.plotly_chart(cash_flow_chart(points, cur), key=f"flows-{cur}")
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
            )


def pending_commitments(lines: Sequence[investor.CommitmentLine], *, withdraw: bool = False) -> int | None:
    """The investor's pending commitments; returns the id whose Withdraw button was pressed."""
    pressed = None
    for line in lines:
        with st.container(border=True):
            info, action = st.columns([5, 1])
            info.write(
                f"**{md(line.pool_name)}**: {money(line.requested, line.currency)} requested on "
                f"{line.created_at:%d %b %Y}, awaiting the manager's decision"
            )
            if withdraw and action.button("Withdraw", key=f"withdraw-{line.id}"):
                pressed = line.id
    return pressed


def pool_terms(pool: pools.PoolView) -> None:
    cur = pool.currency
    st.caption(
        f"{pool.status.replace('_', ' ')} · {pool.strategy.replace('_', ' ')} · {cur} · "
        f"close date {pool.close_date:%d %b %Y}"
    )
    fee = f"{percent(pool.management_fee_rate, 2)} on {pool.management_fee_basis.replace('_', ' ')}"
    if pool.management_fee_step_down_rate is not None:
        fee += f", stepping down to {percent(pool.management_fee_step_down_rate, 2)}"
    period_end = pool.investment_period_end
    cells = [
        ("Target size", money(pool.target_size, cur)),
        ("Hard cap", money(pool.hard_cap, cur)),
        ("Tickets", f"{money(pool.min_ticket, cur)} to {money(pool.max_ticket, cur)}"),
        ("Minimum accreditation", pool.min_accreditation.replace("_", " ")),
        ("Management fee", fee),
        ("Investment period ends", "not set" if period_end is None else f"{period_end:%d %b %Y}"),
        ("Carried interest", percent(pool.carry_rate)),
        ("Hurdle / GP catch-up", f"{percent(pool.hurdle_rate)} / {percent(pool.catch_up_rate, 0)}"),
    ]
    columns = st.columns(4)
    for index, (label, value) in enumerate(cells):
        columns[index % 4].markdown(f"**{label}**  \n{value}")


def fundraising_bar(raising: pools.Fundraising) -> None:
    cur = raising.currency
    st.progress(
        min(float(raising.accepted / raising.target_size), 1.0)  # float-ok: a bar
        if raising.target_size
        else 0.0,  # float-ok: a bar
        text=f"{money(raising.accepted, cur)} committed of a {money(raising.target_size, cur)} target · "
        f"{raising.investors} investors · {money(raising.pending, cur)} pending · "
        f"room under the hard cap {money(raising.remaining, cur)}",
    )


def capital_account_table(account: Any, currency: str, key: str) -> None:
    st.dataframe(
        pd.DataFrame(account.lines(), columns=["Line", "Amount"]),
        hide_index=True,
        column_config=money_columns(currency, "Amount"),
        key=key,
    )


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
                    "Reference": t.reference,
                    "Journal": t.journal_id,
                    "Amount": t.amount,
                    "NAV effect": t.nav_effect,
                }
                for t in transactions
            ]
        ),
        hide_index=True,
        column_config={
            "Date": st.column_config.DateColumn(**DATE_COLUMN),
            **money_columns(currency, "Amount", "NAV effect"),
        },
        key=key,
    )


def _overdue_red(row: pd.Series) -> list[str]:
    return ["background-color: rgba(255, 75, 75, 0.18)" if row["Status"] == "overdue" else ""] * len(row)


def call_items_table(items: Sequence[investor.CallItemView], currency: str, key: str) -> None:
    """Call items with amount due, due date and status; overdue rows are highlighted."""
    table = pd.DataFrame(
        [
            {
                "Pool": i.pool_name,
                "Call": i.purpose,
                "Call date": i.call_date,
                "Due date": i.due_date,
                "Amount due": i.amount_due,
                "Paid": i.amount_paid,
                "Outstanding": i.outstanding,
                "Status": "overdue" if i.overdue else i.status.replace("_", " "),
                "Due in (days)": i.days_to_due,
            }
            for i in items
        ]
    )
    st.dataframe(
        table.style.apply(_overdue_red, axis=1),
        hide_index=True,
        column_config={
            "Call date": st.column_config.DateColumn(**DATE_COLUMN),
            "Due date": st.column_config.DateColumn(**DATE_COLUMN),
            **money_columns(currency, "Amount due", "Paid", "Outstanding"),
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
                        "Strategy": p.pool.strategy.replace("_", " "),
                        "Closes": p.pool.close_date,
                        "Target": p.pool.target_size,
                        "Hard cap": p.pool.hard_cap,
                        "Committed": p.fundraising.accepted,
                        "Raised": float(  # float-ok: a bar, not money
                            p.fundraising.accepted / p.pool.target_size
                        ),  # float-ok: a bar, not money
                        "Min ticket": p.pool.min_ticket,
                        "Max ticket": p.pool.max_ticket,
                        "Room": p.remaining,
                        "Fee": p.pool.management_fee_rate,
                        "Carry": p.pool.carry_rate,
                        "Hurdle": p.pool.hurdle_rate,
                        "You": "" if p.my_commitment is None else p.my_commitment.status,
                    }
                    for p in view.pools
                    if p.pool.currency == cur
                ]
            ),
            hide_index=True,
            column_config={
                "Closes": st.column_config.DateColumn(**DATE_COLUMN),
                "Raised": st.column_config.ProgressColumn(
                    "Raised", min_value=0, max_value=1, format="percent"
                ),
                **money_columns(cur, "Target", "Hard cap", "Committed", "Min ticket", "Max ticket", "Room"),
                **TERMS_COLUMNS,
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
    money_labels: Sequence[str],
    drop: Sequence[str],
    key: str,
) -> None:
    """A statement's rows (exactly those the CSV file holds) as one table per currency."""
    frame = pd.DataFrame(list(rows), columns=list(header))
    if frame.empty:
        st.caption("Nothing in this period.")
        return
    for cur in sorted(frame["Currency"].unique()):
        st.dataframe(
            frame[frame["Currency"] == cur].drop(columns=["Currency", *drop]),
            hide_index=True,
            column_config=money_columns(cur, *money_labels),
            key=f"{key}-{cur}",
        )


# --- charts: plotly figure specs (dicts), floats only here ---------------------------------------------

_LAYOUT = {
    "height": 360,
    "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
    "legend": {"orientation": "h", "y": -0.15},
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
        "layout": {**_LAYOUT, "yaxis": {"title": {"text": currency}, "tickformat": ",.0f"}},
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
    return {
        "data": [
            {
                "type": "pie",
                "labels": list(labels),
                "values": _floats(values),
                "hole": 0.45,
                "textinfo": "percent",
                "sort": False,
            }
        ],
        "layout": {**_LAYOUT, "height": 320, "title": {"text": title}, "hovermode": "closest"},
    }
