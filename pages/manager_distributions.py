"""Distributions: enter proceeds, preview the waterfall per tier and per investor, confirm, follow to posted."""

from datetime import date

import streamlit as st

from app import webapp
from app.charts import plot_float
from app.manager_ui import chart, choose_pool, metric, money, table
from core.services import manager

actor = webapp.require_actor("fund_manager")
st.title("Distributions")
pool = choose_pool(("closed", "investing"), empty="Distributions start once a pool has closed.")
cur = pool.currency
webapp.show_finished("distribution")
past = webapp.call(manager.distributions, pool.id)
version = webapp.call(manager.pool_versions).get(pool.id)

with st.form("distribution-request"):
    proceeds = st.text_input("Proceeds to distribute", key="dist-proceeds")
    left, right = st.columns(2)
    on = left.date_input("Distribution date", value=date.today(), max_value=date.today(), key="dist-date")
    memo = right.text_input("Memo", max_chars=200, key="dist-memo", placeholder="e.g. Acme exit")
    previewed = st.form_submit_button("Preview the waterfall")
if previewed:
    with webapp.refusals_shown():
        st.session_state["_distribution_preview"] = webapp.call(
            manager.distribution_preview, pool.id, {"proceeds": proceeds, "date": on, "memo": memo}
        )
preview = st.session_state.get("_distribution_preview")
if preview is not None and (preview.pool_id != pool.id or preview.version != version):
    st.session_state.pop("_distribution_preview")
    if preview.pool_id == pool.id:
        st.warning("The pool changed since that preview; preview again.")
    preview = None

if preview is not None:
    st.subheader(f"Waterfall for {money(preview.proceeds, cur)}", anchor=False)
    cols = st.columns(3)
    metric(cols[0], "To investors", preview.lp_total, cur)
    metric(cols[1], "Carried interest", preview.gp_total, cur)
    metric(cols[2], "Cash after", preview.cash - preview.proceeds, cur)
    steps = [(t.label, t.total, t) for t in preview.tiers if t.tier != "split"]
    split = next(t for t in preview.tiers if t.tier == "split")
    steps += [("Profit split to LPs", split.lp, split), ("Carry to GP", split.gp, split)]
    chart(
        [
            {
                "type": "waterfall",
                "x": [label for label, _, _ in steps] + ["Proceeds"],
                "measure": ["relative"] * len(steps) + ["total"],
                "y": [plot_float(amount) for _, amount, _ in steps] + [plot_float(preview.proceeds)],
                "text": [money(amount, cur) for _, amount, _ in steps] + [money(preview.proceeds, cur)],
                "hovertext": [f"LP {money(t.lp, cur)} · GP {money(t.gp, cur)}" for _, _, t in steps] + [""],
                "connector": {"line": {"dash": "dot"}},
            }
        ],
        height=380,
        yaxis={"title": {"text": cur}},
        showlegend=False,
    )
    table(
        {
            "Tier": [t.label for t in preview.tiers],
            "To LPs": [t.lp for t in preview.tiers],
            "To GP": [t.gp for t in preview.tiers],
            "Total": [t.total for t in preview.tiers],
        },
        cur,
        ("To LPs", "To GP", "Total"),
    )
    st.markdown(f"**Per investor** ({len(preview.lines):,}; the shares add up to the proceeds exactly)")
    table(
        {
            "Investor": [line.investor_name for line in preview.lines],
            "Paid-in": [line.paid_in for line in preview.lines],
            "Share of proceeds": [line.share for line in preview.lines],
            "To the investor": [line.lp for line in preview.lines],
            "Carry": [line.gp for line in preview.lines],
        },
        cur,
        ("Paid-in", "Share of proceeds", "To the investor", "Carry"),
    )
    confirm, discard = st.columns(2)
    if confirm.button("Confirm the distribution", type="primary"):
        with webapp.refusals_shown():
            webapp.submit_operation(pool.id, "distribution", preview.payload, form="distribution")
            st.session_state.pop("_distribution_preview", None)
    if discard.button("Discard the preview"):
        st.session_state.pop("_distribution_preview", None)
        st.rerun()
webapp.follow_operation("distribution", done_message="The distribution is posted to every investor.")

st.subheader("Past distributions", anchor=False)
if past:
    table(
        {
            "Date": [d.on for d in past],
            "Memo": [d.memo for d in past],
            "To investors": [d.lp for d in past],
            "Carry": [d.gp for d in past],
        },
        cur,
        ("To investors", "Carry"),
    )
else:
    st.caption("No distribution yet.")
