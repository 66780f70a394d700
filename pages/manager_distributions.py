"""Distributions: enter proceeds, preview the waterfall per tier and per investor, submit exactly that
waterfall for approval; another manager of the pool (or an admin) sees the same waterfall under
"Waiting for approval" and approves it (followed to posted) or rejects it, the drafter may withdraw
it; past distributions, reversed ones with their reason, and who was notified of each; and, once
everything is sold and paid out, the wind-down with its carry true-up."""

import streamlit as st

from app import format, webapp
from app.approvals_ui import (
    describe_distribution,
    render_distribution,
    submit_for_approval,
    waiting_for_approval,
)
from app.manager_ui import act, amount, choose_pool, figures, notified, previewed, show_flash, table
from app.textsafe import md
from core import clock
from core.services import distributions, winddown
from core.views import manager

actor = webapp.require_actor("fund_manager")
st.title("Distributions")
pool = choose_pool(("closed", "investing", "wound_down"), empty="Distributions start once a pool has closed.")
cur = pool.currency
today = clock.today()
show_flash()
webapp.show_finished("distribution")
webapp.show_finished("wind_down")
past = webapp.call(manager.distributions, pool.id)
if pool.status == "wound_down":
    st.info("This pool is wound down: its carry true-up is posted and its books are closed.")


def draft() -> None:
    """Preview the waterfall, submit it for approval, and the drafts waiting for a second person."""
    form = webapp.form_key("distribution")
    exited = webapp.call(distributions.deals, pool.id) if pool.waterfall_model == "deal_by_deal" else None
    if exited == []:
        st.info(
            "Carry in this pool is paid deal by deal: a distribution pays out one deal's exit proceeds, "
            "or capital the pool never invested. Neither is waiting to be distributed; an exit recorded "
            "on the Portfolio page brings its deal here."
        )
    else:
        propose(form, exited)
    waiting_for_approval(
        pool.id,
        cur,
        distributions.KIND,
        form="distribution",
        what="distribution",
        describe=lambda p: f"Distribution of {describe_distribution(p)}",
        render=render_distribution,
    )
    webapp.follow_operation("distribution")


def propose(form: str, exited: list | None) -> None:
    """The proceeds (and, deal by deal, the deal) to preview, and the preview to submit for approval."""
    request = {}
    if exited is not None:
        deal = webapp.choose(
            "Deal",
            exited,
            lambda d: d.name,
            key=f"{form}-deal",
            help="The deal whose exit proceeds this pays out, its carry on that deal's own profit; or the "
            "capital the pool never invested, returned without carry",
        )
        if deal is not None:
            st.caption(f"{format.money(deal.undistributed, cur)} of it not yet distributed.")
        request["deal"] = None if deal is None else deal.id
    proceeds = st.text_input(f"Proceeds to distribute ({cur})", key=f"{form}-proceeds")
    left, right = st.columns(2)
    on = left.date_input(
        "Distribution date", value=today, max_value=today, format="YYYY-MM-DD", key=f"{form}-date"
    )
    memo = right.text_input(
        "Memo", max_chars=200, key=f"{form}-memo", placeholder="e.g. Proceeds of the Acme sale"
    )
    request |= {"proceeds": proceeds, "date": on, "memo": memo}
    if st.button("Preview the waterfall", key=f"{form}-preview"):
        checked = previewed(distributions.preview, pool.id, request)
        st.session_state["_distribution_preview"] = (pool.id, request, checked.preview)
    stored = st.session_state.get("_distribution_preview")
    preview = None
    if stored is not None and stored[0] == pool.id and stored[1] == request and stored[2] is not None:
        preview = stored[2]
        if preview.command.pool_version != pool.version:
            st.session_state.pop("_distribution_preview")
            st.warning("The pool changed since that preview (a payment, a valuation, a fee); preview again.")
            preview = None

    if preview is not None:
        st.subheader(f"Waterfall for {format.money(preview.proceeds, cur)}", anchor=False)
        render_distribution(preview, "preview")
        what = describe_distribution(preview)
        submit_for_approval(
            "distribution",
            preview,
            distributions.KIND,
            question=f"Submit the distribution of {what} for approval, exactly as in the waterfall above? Another "
            "manager of the pool, or an admin, approves it before anything is posted; you cannot approve it yourself.",
            done=f"Submitted for approval: {what}. It waits for a second manager below.",
            stored="_distribution_preview",
        )
        if st.button("Discard the preview"):
            st.session_state.pop("_distribution_preview", None)
            st.rerun()


if pool.status != "wound_down":
    draft()
st.subheader("Past distributions", anchor=False)
if past:
    table(
        {
            "Date": [d.distributed_on for d in past],
            **({"Deal": [d.deal or "" for d in past]} if pool.waterfall_model == "deal_by_deal" else {}),
            "Memo": [d.memo for d in past],
            "To investors": [d.lp for d in past],
            "Carry": [d.gp for d in past],
            "Reversed": [
                "" if d.reversed_on is None else f"{format.day(d.reversed_on)}: {d.reason or ''}"
                for d in past
            ],
        },
        cur,
        money=("To investors", "Carry"),
        dates=("Date",),
        widths={"Deal": 120, "Memo": 150, "Reversed": 100},
    )
    shown = webapp.choose(
        "Distribution",
        past,
        lambda d: f"{format.day(d.distributed_on)}: {d.memo}",
        key=f"distribution-notices-{pool.id}",
        selected=past[0].id,
    )
    if shown is not None:
        notified(distribution_id=shown.id, what=f"the distribution of {format.day(shown.distributed_on)}")
else:
    st.caption("No distribution yet.")


def wind_down() -> None:
    """The carry true-up a wind-down posts, for the manager to confirm."""
    st.subheader("Wind the pool down", anchor=False)
    st.caption(
        "Once every holding is sold or written off and the net assets are distributed, the pool winds down: "
        "its carry is final, escrow the clawback does not need is released to the GP, escrow it needs goes back "
        "to the investors, and any clawback left is booked as owed by the GP."
    )
    if st.button("Preview the wind-down", key="wind-down-preview"):
        st.session_state["_wind_down_preview"] = (pool.id, previewed(winddown.preview, pool.id, {}).preview)
    kept = st.session_state.get("_wind_down_preview")
    ending = kept[1] if kept is not None and kept[0] == pool.id else None
    if ending is not None and ending.command.pool_version != pool.version:
        st.session_state.pop("_wind_down_preview")
        ending = None
    if ending is not None:
        owed = ending.true_up.owed
        figures(
            amount("Carry received", owed.carry_received, cur, "Taken from the investors' distributions"),
            amount("Carry due", owed.carry_due, cur, "On the whole pool's profit over its life"),
            amount("Escrow released to the GP", owed.escrow_released, cur),
            amount("Escrow back to the investors", owed.escrow_applied, cur),
            amount(
                "Clawback owed by the GP", owed.exposure, cur, "Beyond the escrow: booked as due from the GP"
            ),
        )
        people = sorted({*ending.true_up.escrow_applied, *ending.true_up.gp_owes})
        if people:
            table(
                {
                    "Investor": [ending.true_up.names.get(i, "?") for i in people],
                    "Escrow back": [ending.true_up.escrow_applied.get(i, 0) for i in people],
                    "Owed by the GP": [ending.true_up.gp_owes.get(i, 0) for i in people],
                },
                cur,
                money=("Escrow back", "Owed by the GP"),
            )
    if act(
        "wind_down",
        ending,
        winddown.wind_down,
        button="Wind the pool down",
        question=f"Wind {md(pool.name)} down today and post the carry true-up above? The pool's books close: no "
        "more calls, payments or distributions.",
        yes="Yes, wind it down",
        done=f"{md(pool.name)} is wound down; its carry true-up is posted.",
    ):
        st.session_state.pop("_wind_down_preview", None)


if pool.status != "wound_down":
    wind_down()
webapp.follow_operation("wind_down")
