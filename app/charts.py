"""Plotly figures for the analyst pages, built from the services' results, plus one render helper.

Figures are pure functions of the data (testable without Streamlit). Amounts stay Decimal until
the very last step: a trace's coordinates, where plotly needs floats. Every chart is drawn with
its data downloadable as a neutralised CSV (core.csvsafe), so what is seen can be checked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.csvsafe import frame_to_csv
from core.services.platform import Explorer, PoolCurve

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D")
LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "legend": {"orientation": "h", "y": -0.2},
    "height": 420,
}


def plot_float(value: Decimal | float | None) -> float | None:
    """The one place an amount becomes a float: a plotly coordinate."""
    return None if value is None else float(value)  # float-ok: a chart coordinate, never money


def _label(text: str) -> str:
    return text.replace("_", " ")


# --- data frames (what each chart shows, and what its CSV holds) ------------------------------------


def pools_frame(data: Explorer) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "pool_id": p.pool_id,
                "pool": p.name,
                "strategy": p.strategy,
                "currency": p.currency,
                "status": p.status,
                "manager": p.manager,
                "vintage": p.vintage,
                "target_size": p.target_size,
                "committed": p.committed,
                "raised_pct": p.raised_pct,
                "investors": p.investors,
                "called": p.called,
                "paid_in": p.paid_in,
                "distributed": p.distributed,
                "nav": p.nav,
                "tvpi": p.tvpi,
                "dpi": p.dpi,
                "rvpi": p.rvpi,
                "irr": p.irr,
                "days_to_target": p.days_to_target,
                "top1_share_pct": p.top1_share,
                "top5_share_pct": p.top5_share,
                "top10_share_pct": p.top10_share,
            }
            for p in data.pools
        ],
        columns=[
            "pool_id",
            "pool",
            "strategy",
            "currency",
            "status",
            "manager",
            "vintage",
            "target_size",
            "committed",
            "raised_pct",
            "investors",
            "called",
            "paid_in",
            "distributed",
            "nav",
            "tvpi",
            "dpi",
            "rvpi",
            "irr",
            "days_to_target",
            "top1_share_pct",
            "top5_share_pct",
            "top10_share_pct",
        ],
    )


def vintages_frame(data: Explorer) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "vintage": v.vintage,
                "pools": v.pools,
                "median_tvpi": v.median_tvpi,
                "q1_tvpi": v.q1_tvpi,
                "q3_tvpi": v.q3_tvpi,
                "median_irr": v.median_irr,
                "median_days_to_target": v.median_days_to_target,
                "reached_target": v.reached_target,
            }
            for v in data.vintages
        ],
        columns=[
            "vintage",
            "pools",
            "median_tvpi",
            "q1_tvpi",
            "q3_tvpi",
            "median_irr",
            "median_days_to_target",
            "reached_target",
        ],
    )


def flows_frame(data: Explorer, currency: str) -> pd.DataFrame:
    rows = [m for m in data.flows if m.currency == currency]
    frame = pd.DataFrame(
        [
            {
                "month": m.month,
                "currency": m.currency,
                "called": m.called,
                "contributed": m.contributed,
                "distributed": m.distributed,
            }
            for m in rows
        ],
        columns=["month", "currency", "called", "contributed", "distributed"],
    )
    frame["net_cash_flow_cumulative"] = list(_cumulative(r.distributed - r.contributed for r in rows))
    return frame


def _cumulative(values: Any) -> Any:
    total = Decimal(0)
    for value in values:
        total += value
        yield total


def curves_frame(curves: Sequence[PoolCurve]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "pool_id": c.pool_id,
                "pool": c.name,
                "currency": c.currency,
                "month": p.month,
                "paid_in": p.paid_in,
                "distributed": p.distributed,
                "nav": p.nav,
                "net_cash_flow": p.net_cash_flow,
                "net_pct_of_commitment": p.net_pct_of_commitment,
                "tvpi": p.tvpi,
                "irr": p.irr,
            }
            for c in curves
            for p in c.points
        ],
        columns=[
            "pool_id",
            "pool",
            "currency",
            "month",
            "paid_in",
            "distributed",
            "nav",
            "net_cash_flow",
            "net_pct_of_commitment",
            "tvpi",
            "irr",
        ],
    )


def multiples_frame(curves: Sequence[PoolCurve]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "pool_id": c.pool_id,
                "pool": c.name,
                "strategy": c.strategy,
                "currency": c.currency,
                "committed": c.committed,
                "paid_in": c.paid_in,
                "distributed": c.distributed,
                "nav": c.nav,
                "dpi": c.dpi,
                "rvpi": c.rvpi,
                "tvpi": c.tvpi,
                "irr": c.irr,
            }
            for c in curves
        ],
        columns=[
            "pool_id",
            "pool",
            "strategy",
            "currency",
            "committed",
            "paid_in",
            "distributed",
            "nav",
            "dpi",
            "rvpi",
            "tvpi",
            "irr",
        ],
    )


# --- figures ------------------------------------------------------------------------------------------


def _jitter(pool_id: int) -> float:
    """A fixed horizontal offset per pool, so 1,000 points of one vintage do not sit on one line."""
    return ((pool_id * 2654435761) % 1000) / 1000 * 0.6 - 0.3


def performance_by_vintage(data: Explorer, metric: str) -> go.Figure:
    """TVPI or IRR of each pool by vintage, sized by commitments, with the vintage median drawn over."""
    key = "tvpi" if metric == "TVPI" else "irr"
    pools = [p for p in data.pools if getattr(p, key) is not None]
    biggest = max((p.committed for p in pools), default=Decimal(1)) or Decimal(1)
    figure = go.Figure()
    strategies = sorted({p.strategy for p in pools})
    for index, strategy in enumerate(strategies):
        group = [p for p in pools if p.strategy == strategy]
        figure.add_trace(
            go.Scatter(
                x=[p.vintage + _jitter(p.pool_id) for p in group],
                y=[plot_float(getattr(p, key)) for p in group],
                mode="markers",
                name=_label(strategy),
                marker={
                    "size": [
                        4 + 26 * math.sqrt(plot_float(p.committed) / plot_float(biggest))
                        if p.committed > 0
                        else 4
                        for p in group
                    ],
                    "color": PALETTE[index % len(PALETTE)],
                    "opacity": 0.55,
                    "line": {"width": 0},
                },
                text=[f"{p.name} · {p.currency} {p.committed:,.0f} committed" for p in group],
                hovertemplate="%{text}<br>" + metric + " %{y:.2f}<extra></extra>",
            )
        )
    medians = [v for v in data.vintages if (v.median_tvpi if key == "tvpi" else v.median_irr) is not None]
    figure.add_trace(
        go.Scatter(
            x=[v.vintage for v in medians],
            y=[plot_float(v.median_tvpi if key == "tvpi" else v.median_irr) for v in medians],
            mode="lines+markers",
            name="median",
            line={"color": "black", "width": 2},
        )
    )
    figure.update_layout(
        title=f"{metric} by vintage (marker size: commitments)",
        xaxis_title="vintage",
        yaxis_title=metric,
        yaxis_tickformat=".0%" if key == "irr" else None,
        **LAYOUT,
    )
    return figure


def committed_vs_target(data: Explorer) -> go.Figure:
    """How many pools raised what share of their target (clipped at 200%)."""
    figure = go.Figure()
    statuses = sorted({p.status for p in data.pools})
    for index, status in enumerate(statuses):
        figure.add_trace(
            go.Histogram(
                x=[min(plot_float(p.raised_pct), 200.0) for p in data.pools if p.status == status],
                name=_label(status),
                xbins={"start": 0, "end": 210, "size": 10},
                marker_color=PALETTE[index % len(PALETTE)],
            )
        )
    reached = sum(1 for p in data.pools if p.committed >= p.target_size)
    figure.add_vline(x=100, line_dash="dash", line_color="black")
    figure.update_layout(
        barmode="stack",
        title=f"Committed vs target: {reached} of {len(data.pools)} pools reached it",
        xaxis_title="% of target committed",
        yaxis_title="pools",
        **LAYOUT,
    )
    return figure


def fundraising_velocity(data: Explorer) -> go.Figure:
    """Days from opening to the commitment that reached the target, per vintage (box per year)."""
    figure = go.Figure()
    reached = [p for p in data.pools if p.days_to_target is not None]
    for vintage in sorted({p.vintage for p in reached}):
        figure.add_trace(
            go.Box(
                y=[p.days_to_target for p in reached if p.vintage == vintage],
                name=str(vintage),
                boxpoints=False,
                marker_color=PALETTE[0],
                showlegend=False,
            )
        )
    figure.update_layout(
        title=f"Days to reach target ({len(reached)} of {len(data.pools)} pools reached it)",
        xaxis_title="vintage",
        yaxis_title="days",
        **LAYOUT,
    )
    return figure


def capital_over_time(frame: pd.DataFrame, currency: str) -> go.Figure:
    figure = go.Figure()
    months = list(frame["month"])
    figure.add_trace(
        go.Bar(x=months, y=[plot_float(v) for v in frame["called"]], name="called", marker_color=PALETTE[0])
    )
    figure.add_trace(
        go.Bar(
            x=months, y=[plot_float(v) for v in frame["contributed"]], name="paid in", marker_color=PALETTE[4]
        )
    )
    figure.add_trace(
        go.Bar(
            x=months,
            y=[plot_float(v) for v in frame["distributed"]],
            name="distributed",
            marker_color=PALETTE[2],
        )
    )
    figure.add_trace(
        go.Scatter(
            x=months,
            y=[plot_float(v) for v in frame["net_cash_flow_cumulative"]],
            name="cumulative net cash flow to investors",
            yaxis="y2",
            line={"color": "black"},
        )
    )
    figure.update_layout(
        barmode="group",
        title=f"Capital called and distributed per month ({currency})",
        yaxis_title=currency,
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False},
        **LAYOUT,
    )
    return figure


def concentration(data: Explorer, top: int = 20) -> go.Figure:
    """The top-N most concentrated pools: share of commitments held by their largest 1 and 5 investors."""
    pools = list(reversed(data.most_concentrated(top)))
    names = [f"{p.name} (#{p.pool_id})" for p in pools]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            y=names,
            x=[plot_float(p.top5_share) for p in pools],
            orientation="h",
            name="top 5 investors",
            marker_color=PALETTE[0],
        )
    )
    figure.add_trace(
        go.Bar(
            y=names,
            x=[plot_float(p.top1_share) for p in pools],
            orientation="h",
            name="largest investor",
            marker_color=PALETTE[1],
        )
    )
    figure.update_layout(
        barmode="overlay",
        title=f"Concentration: the {len(pools)} most concentrated pools",
        xaxis_title="% of commitments",
        xaxis_range=[0, 100],
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
            text=[f"TVPI {c.tvpi:.2f}" if c.tvpi is not None else "" for c in curves],
            textposition="outside",
        )
    )
    figure.update_layout(
        barmode="stack", title="Multiples: DPI + RVPI = TVPI", yaxis_title="x paid-in", **LAYOUT
    )
    return figure


# --- drawing --------------------------------------------------------------------------------------------


def show(figure: go.Figure, frame: pd.DataFrame, file_name: str, key: str) -> None:
    """Draw a chart, and under it a button to download exactly its data as CSV."""
    import streamlit as st

    st.plotly_chart(figure, key=f"chart-{key}", config={"displaylogo": False})
    st.download_button(
        "Download this chart's data (CSV)",
        data=lambda: frame_to_csv(frame),
        file_name=file_name,
        mime="text/csv",
        key=f"csv-{key}",
        icon=":material/download:",
        on_click="ignore",
    )
