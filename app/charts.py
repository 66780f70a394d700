"""Plotly figures and tables for the analyst pages, built from the services' results, plus one render
helper.

Figures and frames are pure functions of the data (testable without Streamlit). Amounts stay
Decimal until the very last step: a trace's coordinates, where plotly needs floats (plot_float).
Frames are what a table shows and what its CSV holds: human column labels (the ILPA names of the
capital-account lines), amounts at their currency's precision, multiples to 0.01, rates as
fractions to 0.0001 (a table shows them as percentages through app.format), never an internal id.
Every chart is drawn with its data downloadable as a neutralised CSV (core.csvsafe).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import format
from core.csvsafe import frame_to_csv
from core.ledger import Line
from core.money import ROUNDING, quantize
from core.services.platform import Explorer, FlowMonth, PoolCurve, PoolFacts
from core.vocabulary import label

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D")
LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "legend": {"orientation": "h", "y": -0.2},
    "height": 420,
}
CONFIG = {"displaylogo": False, "displayModeBar": False}  # no toolbar over the legend
MULTIPLE = Decimal("0.01")
RATE = Decimal("0.0001")  # a rate as a fraction: to 0.01%


def plot_float(value: Decimal | float | None) -> float | None:
    """The one place an amount becomes a float: a plotly coordinate."""
    return None if value is None else float(value)  # float-ok: a chart coordinate, never money


def _multiple(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(MULTIPLE, ROUNDING)


def _rate(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(RATE, ROUNDING)


def _fraction(percent: Decimal | None) -> Decimal | None:
    """A share given in percent (54.55) as the fraction a percent column shows (0.5455)."""
    return None if percent is None else (percent / 100).quantize(RATE, ROUNDING)


def _frame(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


# --- what each column is, for the tables ------------------------------------------------------------

MONEY = {
    "Target size",
    "Committed",
    "Capital called",
    "Paid-in",
    "Unfunded",
    "Outstanding",
    "NAV",
    "Net cash flow",
    "Cumulative net cash flow",
    *(line.label for line in (Line.COMMITMENT, Line.CONTRIBUTIONS, Line.DISTRIBUTIONS)),
    *(line.label for line in (Line.MANAGEMENT_FEES, Line.FUND_EXPENSES, Line.REALIZED_GAIN)),
    *(line.label for line in (Line.UNREALIZED_GAIN, Line.CARRIED_INTEREST)),
}
MULTIPLES = {"TVPI", "DPI", "RVPI", "Median TVPI", "Lower quartile TVPI", "Upper quartile TVPI"}
RATES = {
    "IRR": "Since-inception internal rate of return; n/a where no rate solves the flows (nothing paid in, or nothing back yet)",
    "Median IRR": "The middle IRR of the pools that have one",
    "Raised": "Committed as a share of the target size",
    "Largest investor": "Share of the commitments held by the largest investor",
    "Top 5": "Share of the commitments held by the five largest investors",
    "Top 10": "Share of the commitments held by the ten largest investors",
    "Net cash flow (% of commitment)": "Distributions less paid-in, as a share of the commitments",
}
NO_MULTIPLE = "n/a where nothing has been paid in or the NAV is negative"
WHOLE = {  # whole numbers: years and counts, never 2,025
    "Vintage": "The year of the pool's first capital call (of its opening, before one)",
    "Pools": None,
    "Investors": "Investors with a commitment",
    "Reached target": "Pools whose commitments reached their target",
    "Days to target": "Days from the opening to the day commitments reached the target; n/a: not reached",
}


# Headers short enough for a column of amounts; the full name is the header's tooltip (and the
# CSV's column name). Their columns get a width of their own: the grid would size them by the name.
SHORT_WIDTH = 100
SHORT = {
    Line.MANAGEMENT_FEES.label: "Fees",
    Line.FUND_EXPENSES.label: "Expenses",
    Line.REALIZED_GAIN.label: "Realized",
    Line.UNREALIZED_GAIN.label: "Unrealized",
    Line.CARRIED_INTEREST.label: "Carry",
    "Largest investor": "Largest",
}


# Text people type, at a width of its own: a column sized to its longest value (a pool's name may
# run to 120 characters) would push the figures beside it off the page. Hovering shows it in full.
TEXT_WIDTH = {"Pool": 150, "Strategy": 100, "Manager": 130}


def columns(frame: pd.DataFrame, currency: str | None) -> dict[str, Any]:
    """st.column_config for a frame: money in `currency` (None: the frame mixes currencies, so its
    amounts are left as plain numbers beside their Currency), multiples as 1.52x, rates as
    percentages, months as dates, typed text at a set width."""
    config: dict[str, Any] = {}
    for name in frame.columns:
        shown = SHORT.get(name, name)
        if name in TEXT_WIDTH:
            config[name] = st.column_config.TextColumn(name, width=TEXT_WIDTH[name])
        elif name in MONEY and currency is not None:
            config[name] = format.money_column(
                shown, currency, **({"help": name, "width": SHORT_WIDTH} if shown != name else {})
            )
        elif name in MULTIPLES:
            config[name] = format.multiple_column(name, help=NO_MULTIPLE)
        elif name in RATES:
            if shown == name:
                config[name] = format.percent_column(name, help=RATES[name])
            else:
                config[name] = format.percent_column(shown, help=f"{name}: {RATES[name]}", width=80)
        elif name == "Month":
            config[name] = format.date_column(name)
        elif name in WHOLE:
            config[name] = st.column_config.NumberColumn(name, format="%d", help=WHOLE[name])
    return config


# --- data frames (what each chart shows, and what its CSV holds) ------------------------------------

POOL_COLUMNS = [
    "Pool",
    "Strategy",
    "Status",
    "Manager",
    "Vintage",
    "Currency",
    "Target size",
    "Committed",
    "Raised",
    "Investors",
    "Capital called",
    "Paid-in",
    "Unfunded",
    "Outstanding",
    Line.DISTRIBUTIONS.label,
    Line.MANAGEMENT_FEES.label,
    Line.FUND_EXPENSES.label,
    Line.REALIZED_GAIN.label,
    Line.UNREALIZED_GAIN.label,
    Line.CARRIED_INTEREST.label,
    "NAV",
    "TVPI",
    "DPI",
    "RVPI",
    "IRR",
    "Days to target",
    "Largest investor",
    "Top 5",
    "Top 10",
]


def _pool_row(p: PoolFacts) -> dict[str, Any]:
    def m(value: Decimal) -> Decimal:
        return quantize(value, p.currency)

    return {
        "Pool": p.name,
        "Strategy": label(p.strategy),
        "Status": label(p.status),
        "Manager": p.manager,
        "Vintage": p.vintage,
        "Currency": p.currency,
        "Target size": m(p.target_size),
        "Committed": m(p.commitment),
        "Raised": _fraction(p.raised_pct),
        "Investors": p.investors,
        "Capital called": m(p.called),
        "Paid-in": m(p.paid_in),
        "Unfunded": m(p.unfunded),
        "Outstanding": m(p.outstanding),
        Line.DISTRIBUTIONS.label: m(p.distributions),
        Line.MANAGEMENT_FEES.label: m(p.management_fees),
        Line.FUND_EXPENSES.label: m(p.fund_expenses),
        Line.REALIZED_GAIN.label: m(p.realized_gain),
        Line.UNREALIZED_GAIN.label: m(p.unrealized_gain),
        Line.CARRIED_INTEREST.label: m(p.carried_interest),
        "NAV": m(p.nav),
        "TVPI": _multiple(p.tvpi),
        "DPI": _multiple(p.dpi),
        "RVPI": _multiple(p.rvpi),
        "IRR": _rate(p.irr),
        "Days to target": p.days_to_target,
        "Largest investor": _fraction(p.top1_share),
        "Top 5": _fraction(p.top5_share),
        "Top 10": _fraction(p.top10_share),
    }


# The pool table's columns in groups a page can show at once without scrolling sideways.
POOL_VIEWS = {
    "Performance": [
        "Pool",
        "Vintage",
        "Committed",
        "Paid-in",
        "Distributions",
        "NAV",
        "TVPI",
        "DPI",
        "RVPI",
        "IRR",
    ],
    # The capital account rolls forward to NAV: paid-in, less distributions, fees and expenses, plus
    # gains, less carry (what is still unfunded is in Calls).
    "Capital account": [
        "Pool",
        "Paid-in",
        Line.DISTRIBUTIONS.label,
        Line.MANAGEMENT_FEES.label,
        Line.FUND_EXPENSES.label,
        Line.REALIZED_GAIN.label,
        Line.UNREALIZED_GAIN.label,
        Line.CARRIED_INTEREST.label,
        "NAV",
    ],
    "Calls": ["Pool", "Committed", "Capital called", "Paid-in", "Outstanding", "Unfunded"],
    "Fundraising": [
        "Pool",
        "Strategy",
        "Status",
        "Manager",
        "Target size",
        "Committed",
        "Raised",
        "Investors",
        "Days to target",
    ],
}


def pools_frame(
    data: Explorer, currency: str | None = None, names: Sequence[str] = POOL_COLUMNS
) -> pd.DataFrame:
    """The counted pools (of one currency, or all), with the columns asked for."""
    chosen = [p for p in data.pools if currency is None or p.currency == currency]
    return _frame(({k: v for k, v in _pool_row(p).items() if k in names} for p in chosen), names)


def pool_currencies(data: Explorer) -> list[str]:
    """The pools' currencies, the one with most pools first."""
    counts: dict[str, int] = {}
    for p in data.pools:
        counts[p.currency] = counts.get(p.currency, 0) + 1
    return sorted(counts, key=lambda c: (-counts[c], c))


VINTAGE_COLUMNS = [
    "Vintage",
    "Pools",
    "Median TVPI",
    "Lower quartile TVPI",
    "Upper quartile TVPI",
    "Median IRR",
    "Median days to target",
    "Reached target",
]


def vintages_frame(data: Explorer) -> pd.DataFrame:
    return _frame(
        (
            {
                "Vintage": v.vintage,
                "Pools": v.pools,
                "Median TVPI": _multiple(v.median_tvpi),
                "Lower quartile TVPI": _multiple(v.q1_tvpi),
                "Upper quartile TVPI": _multiple(v.q3_tvpi),
                "Median IRR": _rate(v.median_irr),
                "Median days to target": v.median_days_to_target,
                "Reached target": v.reached_target,
            }
            for v in data.vintages
        ),
        VINTAGE_COLUMNS,
    )


FLOW_COLUMNS = [
    "Month",
    "Currency",
    "Capital called",
    "Contributions",
    "Distributions",
    "Cumulative net cash flow",
]


def flows_frame(months: list[FlowMonth], currency: str) -> pd.DataFrame:
    """Capital moved per month in one currency; the cumulative net flow to investors beside it."""
    rows, total = [], Decimal(0)
    for m in months:
        if m.currency != currency:
            continue
        total += m.distributions - m.contributions
        rows.append(
            {
                "Month": m.month,
                "Currency": m.currency,
                "Capital called": quantize(m.called, currency),
                "Contributions": quantize(m.contributions, currency),
                "Distributions": quantize(m.distributions, currency),
                "Cumulative net cash flow": quantize(total, currency),
            }
        )
    return _frame(rows, FLOW_COLUMNS)


CURVE_COLUMNS = [
    "Pool",
    "Currency",
    "Month",
    "Paid-in",
    "Distributions",
    "NAV",
    "Net cash flow",
    "Net cash flow (% of commitment)",
    "TVPI",
    "IRR",
]


def curves_frame(curves: Sequence[PoolCurve]) -> pd.DataFrame:
    return _frame(
        (
            {
                "Pool": c.name,
                "Currency": c.currency,
                "Month": p.month,
                "Paid-in": quantize(p.paid_in, c.currency),
                "Distributions": quantize(p.distributions, c.currency),
                "NAV": quantize(p.nav, c.currency),
                "Net cash flow": quantize(p.net_cash_flow, c.currency),
                "Net cash flow (% of commitment)": _fraction(p.net_pct_of_commitment),
                "TVPI": _multiple(p.tvpi),
                "IRR": _rate(p.irr),
            }
            for c in curves
            for p in c.points
        ),
        CURVE_COLUMNS,
    )


MULTIPLE_COLUMNS = [
    "Pool",
    "Strategy",
    "Currency",
    "Committed",
    "Paid-in",
    "Distributions",
    "NAV",
    "DPI",
    "RVPI",
    "TVPI",
    "IRR",
]


def multiples_frame(curves: Sequence[PoolCurve]) -> pd.DataFrame:
    return _frame(
        (
            {
                "Pool": c.name,
                "Strategy": label(c.strategy),
                "Currency": c.currency,
                "Committed": quantize(c.commitment, c.currency),
                "Paid-in": quantize(c.paid_in, c.currency),
                "Distributions": quantize(c.distributions, c.currency),
                "NAV": quantize(c.nav, c.currency),
                "DPI": _multiple(c.dpi),
                "RVPI": _multiple(c.rvpi),
                "TVPI": _multiple(c.tvpi),
                "IRR": _rate(c.irr),
            }
            for c in curves
        ),
        MULTIPLE_COLUMNS,
    )


# --- figures ------------------------------------------------------------------------------------------


def _jitter(pool_id: int) -> float:
    """A fixed horizontal offset per pool within its vintage year, so 1,000 points of one vintage do
    not sit on one line (the year's median sits in the middle of them)."""
    return ((pool_id * 2654435761) % 1000) / 1000 * 0.6 - 0.3


def _years(figure: go.Figure, years: Iterable[int]) -> None:
    """A year axis: one tick per whole year, written 2025, never 2,025.002."""
    present = sorted(set(years))
    if present:
        figure.update_xaxes(tickmode="array", tickvals=present, ticktext=[str(y) for y in present])
        figure.update_xaxes(range=[present[0] - 0.6, present[-1] + 0.6])


def performance_by_vintage(data: Explorer, metric: str) -> go.Figure:
    """TVPI or IRR of each pool by vintage, sized by commitments, with each vintage's median drawn
    across its pools."""
    key = "tvpi" if metric == "TVPI" else "irr"
    pools = [p for p in data.pools if getattr(p, key) is not None]
    scale = plot_float(max((p.commitment for p in pools), default=Decimal(1)) or Decimal(1))
    figure = go.Figure()
    for index, strategy in enumerate(sorted({p.strategy for p in pools})):
        group = [p for p in pools if p.strategy == strategy]
        # Arrays, not lists: plotly checks a list value by value, an array at once (thousands of pools).
        committed = numpy.array([plot_float(p.commitment) for p in group])
        figure.add_trace(
            go.Scatter(
                x=numpy.array([p.vintage + _jitter(p.pool_id) for p in group]),
                y=numpy.array([plot_float(getattr(p, key)) for p in group]),
                mode="markers",
                name=label(strategy),
                marker={
                    "size": 4 + 26 * numpy.sqrt(numpy.maximum(committed / scale, 0.0)),
                    "color": PALETTE[index % len(PALETTE)],
                    "opacity": 0.55,
                    "line": {"width": 0},
                },
                text=numpy.array([f"{p.name} ({p.currency})" for p in group], dtype=object),
                customdata=committed,
                hovertemplate="%{text}<br>%{customdata:,.0f} committed<br>"
                + metric
                + (" %{y:.1%}" if key == "irr" else " %{y:.2f}x")
                + "<extra></extra>",
            )
        )
    medians = [v for v in data.vintages if (v.median_tvpi if key == "tvpi" else v.median_irr) is not None]
    figure.add_trace(
        go.Scatter(
            x=[v.vintage for v in medians],
            y=[plot_float(v.median_tvpi if key == "tvpi" else v.median_irr) for v in medians],
            mode="markers",
            name="median of the vintage",
            marker={"symbol": "line-ew", "size": 40, "line": {"width": 3, "color": "black"}},
            hovertemplate="%{x} median "
            + metric
            + (" %{y:.1%}" if key == "irr" else " %{y:.2f}x")
            + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{metric} by vintage (marker size: commitments)",
        xaxis_title="Vintage (year of the first capital call)",
        yaxis_title=metric,
        yaxis_tickformat=".0%" if key == "irr" else ".2f",
        yaxis_ticksuffix="" if key == "irr" else "x",
        **LAYOUT,
    )
    _years(figure, (p.vintage for p in pools))
    return figure


def committed_vs_target(data: Explorer) -> go.Figure:
    """How many pools raised what share of their target (clipped at 200%)."""
    figure = go.Figure()
    for index, status in enumerate(sorted({p.status for p in data.pools})):
        figure.add_trace(
            go.Histogram(
                x=numpy.minimum(
                    numpy.array([plot_float(p.raised_pct) for p in data.pools if p.status == status]), 200.0
                ),
                name=label(status),
                xbins={"start": 0, "end": 210, "size": 10},
                marker_color=PALETTE[index % len(PALETTE)],
            )
        )
    figure.add_vline(x=100, line_dash="dash", line_color="black")
    figure.update_layout(
        barmode="stack",
        title=f"Committed vs target: {data.reached_target:,} of {len(data.pools):,} pools reached it",
        xaxis_title="Committed, % of target (200% and more in the last bar)",
        xaxis_ticksuffix="%",
        yaxis_title="Pools",
        **LAYOUT,
    )
    return figure


def fundraising_velocity(data: Explorer) -> go.Figure:
    """Days from opening to the day commitments reached the target, per vintage (a box per year)."""
    figure = go.Figure()
    reached = [p for p in data.pools if p.days_to_target is not None]
    for vintage in sorted({p.vintage for p in reached}):
        figure.add_trace(
            go.Box(
                x=[vintage] * sum(1 for p in reached if p.vintage == vintage),
                y=[p.days_to_target for p in reached if p.vintage == vintage],
                name=str(vintage),
                boxpoints=False,
                marker_color=PALETTE[0],
                showlegend=False,
            )
        )
    figure.update_layout(
        title=f"Days to reach target ({len(reached):,} of {len(data.pools):,} pools reached it)",
        xaxis_title="Vintage",
        yaxis_title="Days from opening",
        yaxis_rangemode="tozero",
        **LAYOUT,
    )
    _years(figure, (p.vintage for p in reached))
    return figure


def capital_over_time(frame: pd.DataFrame, currency: str) -> go.Figure:
    """Monthly capital called, paid in and distributed (bars), and the cumulative net flow to
    investors (a line on the same axis: one scale, one currency, zero where the bars start)."""
    figure = go.Figure()
    months = list(frame["Month"])
    for name, column, colour in (
        ("Capital called", "Capital called", PALETTE[0]),
        ("Paid in", "Contributions", PALETTE[4]),
        ("Distributed", "Distributions", PALETTE[2]),
    ):
        figure.add_trace(
            go.Bar(x=months, y=[plot_float(v) for v in frame[column]], name=name, marker_color=colour)
        )
    figure.add_trace(
        go.Scatter(
            x=months,
            y=[plot_float(v) for v in frame["Cumulative net cash flow"]],
            name="Cumulative net cash flow to investors",
            line={"color": "black"},
        )
    )
    figure.add_hline(y=0, line_color="grey")
    figure.update_layout(
        barmode="group",
        title=f"Capital called and distributed per month ({currency})",
        yaxis_title=currency,
        yaxis_tickformat="~s",
        **LAYOUT,
    )
    return figure


def concentration(data: Explorer, top: int = 20) -> go.Figure:
    """The top-N most concentrated pools: share of commitments held by their largest 1 and 5 investors."""
    pools = list(reversed(data.most_concentrated(top)))
    names = [p.name for p in pools]
    figure = go.Figure()
    for name, values, colour in (
        ("Top 5 investors", [plot_float(p.top5_share) for p in pools], PALETTE[0]),
        ("Largest investor", [plot_float(p.top1_share) for p in pools], PALETTE[1]),
    ):
        figure.add_trace(go.Bar(y=names, x=values, orientation="h", name=name, marker_color=colour))
    figure.update_layout(
        barmode="overlay",
        title=f"Concentration: the {len(pools)} most concentrated pools",
        xaxis_title="% of commitments",
        xaxis_range=[0, 100],
        xaxis_ticksuffix="%",
        **{**LAYOUT, "height": 560},
    )
    return figure


def j_curves(curves: Sequence[PoolCurve]) -> go.Figure:
    figure = go.Figure()
    for index, curve in enumerate(curves):
        figure.add_trace(
            go.Scatter(
                x=[p.month for p in curve.points],
                y=[plot_float(p.net_pct_of_commitment) for p in curve.points],
                name=curve.name,
                mode="lines",
                line={"color": PALETTE[index % len(PALETTE)]},
            )
        )
    figure.add_hline(y=0, line_color="grey")
    figure.update_layout(
        title="J-curve: cumulative net cash flow to investors, % of commitments",
        yaxis_title="% of commitments",
        yaxis_ticksuffix="%",
        **LAYOUT,
    )
    return figure


def irr_over_time(curves: Sequence[PoolCurve]) -> go.Figure:
    figure = go.Figure()
    for index, curve in enumerate(curves):
        figure.add_trace(
            go.Scatter(
                x=[p.month for p in curve.points],
                y=[plot_float(p.irr) for p in curve.points],
                name=curve.name,
                mode="lines",
                line={"color": PALETTE[index % len(PALETTE)]},
            )
        )
    figure.update_layout(title="Since-inception IRR at each month end", yaxis_tickformat=".0%", **LAYOUT)
    return figure


def multiples(curves: Sequence[PoolCurve]) -> go.Figure:
    names = [c.name for c in curves]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=names, y=[plot_float(c.dpi) for c in curves], name="DPI (distributed)", marker_color=PALETTE[2]
        )
    )
    figure.add_trace(
        go.Bar(
            x=names,
            y=[plot_float(c.rvpi) for c in curves],
            name="RVPI (residual value)",
            marker_color=PALETTE[0],
            text=[f"TVPI {format.multiple(c.tvpi)}" for c in curves],
            textposition="outside",
        )
    )
    figure.update_layout(
        barmode="stack",
        title="Multiples: DPI + RVPI = TVPI (n/a: nothing paid in, or a negative NAV)",
        yaxis_title="Multiple of paid-in",
        yaxis_ticksuffix="x",
        **LAYOUT,
    )
    return figure


# --- drawing --------------------------------------------------------------------------------------------


def table(frame: pd.DataFrame, currency: str | None, **options: Any) -> None:
    """A frame as a table: its columns configured (app.format), n/a where a figure does not exist."""
    st.dataframe(
        frame, hide_index=True, column_config=columns(frame, currency), placeholder=format.NA, **options
    )


def download(frame: Callable[[], pd.DataFrame], file_name: str, key: str, label_: str) -> None:
    """A button that builds the CSV only when clicked."""
    st.download_button(
        label_,
        data=lambda: frame_to_csv(frame()),
        file_name=file_name,
        mime="text/csv",
        key=f"csv-{key}",
        icon=":material/download:",
        on_click="ignore",
    )


def show(figure: go.Figure, frame: Callable[[], pd.DataFrame], file_name: str, key: str) -> None:
    """Draw a chart, and under it a button to download exactly its data as CSV."""
    st.plotly_chart(figure, key=f"chart-{key}", config=CONFIG)
    download(frame, file_name, key, "Download this chart's data (CSV)")
