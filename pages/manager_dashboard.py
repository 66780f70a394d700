"""Pool dashboard: capital over time, NAV and distributions, and how concentrated the investor base is."""

import streamlit as st

from app import webapp
from app.charts import plot_float
from app.manager_ui import chart, choose_pool, metric, money, multiple, percent
from core.services import manager

actor = webapp.require_actor("fund_manager")
st.title("Pool dashboard")
pool = choose_pool(("open", "closed", "investing", "wound_down"), empty="Open a pool to see its dashboard.")
board = webapp.call(manager.dashboard, pool.id)
cur = board.currency

row1 = st.columns(6)
metric(row1[0], "Committed", board.committed, cur)
metric(row1[1], "Called", board.called, cur)
metric(row1[2], "Paid-in", board.paid_in, cur)
metric(row1[3], "Outstanding", board.outstanding, cur)
row1[4].metric("Investors", f"{board.investors:,}")
metric(row1[5], "Fees charged", board.fees, cur)
row2 = st.columns(6)
metric(row2[0], "NAV", board.nav, cur)
metric(row2[1], "Distributed", board.distributed, cur)
row2[2].metric("Net IRR", percent(board.irr))
row2[3].metric("TVPI", multiple(board.tvpi))
row2[4].metric("DPI", multiple(board.dpi))
row2[5].metric("RVPI", multiple(board.rvpi))


def line(name: str, values: list, **style: object) -> dict:
    return {"type": "scatter", "name": name, "x": days, "y": values, "line": {"shape": "hv", **style}}


days = [p.on for p in board.series]
capital, value = st.columns(2)
with capital:
    st.subheader("Paid-in vs called vs committed", anchor=False)
    if board.series:
        chart(
            [
                line("Committed", [plot_float(p.committed) for p in board.series]),
                line("Called", [plot_float(p.called) for p in board.series]),
                line("Paid-in", [plot_float(p.paid_in) for p in board.series]),
            ],
            yaxis={"title": {"text": cur}},
            hovermode="x unified",
            shapes=[
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": plot_float(board.target_size),
                    "y1": plot_float(board.target_size),
                    "line": {"dash": "dot", "color": "grey"},
                }
            ],
            annotations=[
                {
                    "xref": "paper",
                    "x": 0,
                    "y": plot_float(board.target_size),
                    "text": "target",
                    "showarrow": False,
                    "yanchor": "bottom",
                    "xanchor": "left",
                }
            ],
        )
    else:
        st.caption("Nothing booked yet.")
with value:
    st.subheader("NAV and distributions", anchor=False)
    if board.series:
        chart(
            [
                line("NAV", [plot_float(p.nav) for p in board.series]),
                line("Distributed (cumulative)", [plot_float(p.distributed) for p in board.series]),
                line("Total value", [plot_float(p.nav + p.distributed) for p in board.series], dash="dot"),
            ],
            yaxis={"title": {"text": cur}},
            hovermode="x unified",
        )
    else:
        st.caption("Nothing booked yet.")

st.subheader("Investor concentration", anchor=False)
if board.top:
    shares = st.columns(3)
    for column, n in zip(shares, (1, 5, 10), strict=True):
        column.metric(f"Top {n} investor{'s' if n > 1 else ''}", percent(board.top_share(n)))
    chart(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [plot_float(row.share * 100) for row in board.top],
                "y": [row.investor_name for row in board.top],
                "text": [percent(row.share) for row in board.top],
                "hovertext": [money(row.committed, cur) for row in board.top],
            }
        ],
        height=60 + 28 * len(board.top),
        xaxis={"title": {"text": "% of commitments"}},
        yaxis={"autorange": "reversed"},
    )
else:
    st.caption("No accepted commitment yet.")
