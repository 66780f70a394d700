"""Pool dashboard: capital over time, NAV and distributions, and how concentrated the investor base is."""

import streamlit as st

from app import format, webapp
from app.charts import plot_float
from app.manager_ui import amount, chart, choose_pool, figures
from core.views import manager

actor = webapp.require_actor("fund_manager")
st.title("Pool dashboard")
pool = choose_pool(("open", "closed", "investing", "wound_down"), empty="Open a pool to see its dashboard.")
board = webapp.call(manager.dashboard, pool.id)
cur = board.currency
st.caption(f"As of {format.day(board.as_of)}")

no_multiple = "n/a until capital is paid in (or while NAV is negative)"
figures(
    amount(
        "Committed",
        board.committed,
        cur,
        f"Of which the GP's own commitment: {format.money(board.gp_committed, cur)} (no carry, no fees)"
        if board.gp_committed
        else None,
    ),
    amount("Called", board.called, cur),
    amount("Paid-in", board.paid_in, cur),
    amount("Outstanding", board.outstanding, cur, "Called and not yet paid"),
    amount("Unfunded", board.unfunded, cur, "Committed and not yet called"),
    amount("NAV", board.nav, cur),
    amount("Distributed", board.distributed, cur),
    amount("Management fees", board.fees, cur),
    amount(
        "Fund expenses", board.expenses, cur, "Paid from the pool's cash, charged pro rata to commitments"
    ),
    ("Investors", f"{board.investors:,}", "Besides the GP's own commitment" if board.gp_committed else None),
    ("Net IRR", format.percent(board.irr), "n/a until there is a rate to solve for"),
    ("TVPI", format.multiple(board.tvpi), no_multiple),
    ("DPI", format.multiple(board.dpi), no_multiple),
    ("RVPI", format.multiple(board.rvpi), no_multiple),
)


def line(name: str, values: list, **style: object) -> dict:
    return {"type": "scatter", "name": name, "x": days, "y": values, "line": {"shape": "hv", **style}}


days = [p.on for p in board.series]
capital, value = st.columns(2)
with capital:
    st.subheader("Committed, called and paid-in", anchor=False)
    if board.series:
        target = plot_float(board.target_size)
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
                    "y0": target,
                    "y1": target,
                    "line": {"dash": "dot", "color": "grey"},
                }
            ],
            annotations=[
                {
                    "xref": "paper",
                    "x": 0,
                    "y": target,
                    "text": "target",
                    "showarrow": False,
                    "yanchor": "bottom",
                    "xanchor": "left",
                }
            ],
        )
    else:
        st.caption("Nothing booked yet: the chart starts with the first accepted commitment.")
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
        st.caption("Nothing booked yet: NAV starts with the first payment received.")

st.subheader("Investor concentration", anchor=False)
if board.top:
    figures(
        *(
            (f"Top {format.count(n, 'investor')}", format.percent(board.top_share(n)), None)
            for n in (1, 5, 10)
        )
    )
    chart(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [plot_float(row.share * 100) for row in board.top],
                "y": [row.investor_name for row in board.top],
                "text": [format.percent(row.share) for row in board.top],
                "hovertext": [format.money(row.commitment, cur) for row in board.top],
            }
        ],
        height=60 + 28 * len(board.top),
        xaxis={"title": {"text": "% of commitments"}},
        yaxis={"autorange": "reversed"},
    )
else:
    st.caption("No accepted commitment yet.")

st.subheader("Carried interest", anchor=False)
carry = webapp.call(manager.carry_statement, pool.id)
st.caption(
    f"Terms: carry {format.percent(carry.carry_rate)}, hurdle {format.percent(carry.hurdle_rate)} "
    f"({'simple' if carry.hurdle_accrual == 'simple' else 'compounded yearly'}), "
    f"GP catch-up {format.percent(carry.catch_up_rate)}, escrow {format.percent(carry.escrow_rate)} of each carry "
    f"payment; "
    + (
        "carry paid deal by deal (American), the clawback settling it against the whole pool's profit at wind-down"
        if carry.waterfall_model == "deal_by_deal"
        else "European (whole pool) waterfall"
    )
    + ", as of "
    f"{format.day(carry.as_of)}. Accrued carry and carry due take NAV "
    f"({format.money(carry.wind_up_proceeds, cur)}) as the pool's last distribution today."
)
nothing_paid = "n/a until capital is paid in: there is no profit to carry yet"
figures(
    amount(
        "Carry received", carry.carry_received, cur, "Carried interest paid to the GP out of distributions"
    ),
    amount(
        "Carry in escrow",
        carry.carry_in_escrow,
        cur,
        "Carry held back in the pool's cash until the clawback risk clears"
        if carry.escrow_held
        else "Carry held back until the clawback risk clears: none under this pool's terms",
    ),
    amount(
        "Accrued carried interest",
        carry.accrued_carry,
        cur,
        "The carry the GP would still earn if every holding were sold at its latest mark today "
        "(ILPA accrued incentive allocation)"
        if carry.accrued_carry is not None
        else nothing_paid,
    ),
    amount(
        "Carry due on the whole pool",
        carry.carry_due,
        cur,
        "The carry the waterfall gives the GP on the whole pool's profit, sold at the marks today"
        if carry.carry_due is not None
        else nothing_paid,
    ),
    amount(
        "Clawback exposure",
        carry.clawback_exposure,
        cur,
        "What the GP would pay back if the pool wound up today: carry received above carry due, net of escrow"
        if carry.clawback_exposure is not None
        else "n/a until a distribution: no carry has been paid that could be clawed back",
    ),
)
