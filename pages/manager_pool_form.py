"""Create a pool as a draft, or edit one: every term while draft, only the close date once open."""

from datetime import date, timedelta

import streamlit as st

from core import webapp
from core.domain import FEE_BASES, STRATEGIES, percent_to_rate, rate_to_percent
from core.errors import ValidationError
from core.money import MINOR_UNITS
from core.services import pools

actor = webapp.require_actor("fund_manager")
editing = st.session_state.get("edit_pool_id")
pool = None
if editing is not None:
    with webapp.refusals_shown():
        pool = webapp.call(pools.get_pool, editing)
st.title(f"Edit {pool.name}" if pool else "Create a pool")
locked = pool is not None and pool.status != "draft"
if locked:
    st.info("This pool is open: its terms are fixed; only the close date can still move.")


def initial(name: str, default: str = "") -> str:
    value = getattr(pool, name, None) if pool else None
    return default if value is None else (f"{value:f}" if hasattr(value, "is_finite") else str(value))


with st.form("pool-terms"):
    name = st.text_input("Name", value=initial("name"), max_chars=120, disabled=locked)
    left, right = st.columns(2)
    strategy = left.selectbox(
        "Strategy",
        STRATEGIES,
        index=STRATEGIES.index(pool.strategy) if pool else 0,
        disabled=locked,
        format_func=lambda s: s.replace("_", " ").title(),
    )
    currencies = sorted(MINOR_UNITS)
    currency = right.selectbox(
        "Currency", currencies, index=currencies.index(pool.currency if pool else "USD"), disabled=locked
    )
    target = left.text_input("Target size", value=initial("target_size"), disabled=locked)
    hard_cap = right.text_input("Hard cap", value=initial("hard_cap"), disabled=locked)
    min_ticket = left.text_input("Minimum ticket", value=initial("min_ticket"), disabled=locked)
    max_ticket = right.text_input("Maximum ticket", value=initial("max_ticket"), disabled=locked)
    close_date = left.date_input(
        "Close date",
        value=pool.close_date if pool else date.today() + timedelta(days=90),
        min_value=date.today() + timedelta(days=1),
    )
    period_end = right.date_input(
        "Investment period ends (optional)",
        value=pool.investment_period_end if pool else None,
        disabled=locked,
    )
    st.markdown("**Economics** (percentages)")
    fee_rate = left.text_input(
        "Management fee %", value=rate_to_percent(pool.management_fee_rate) if pool else "2", disabled=locked
    )
    basis = right.selectbox(
        "Fee basis",
        FEE_BASES,
        index=FEE_BASES.index(pool.management_fee_basis) if pool else 0,
        disabled=locked,
    )
    step_down = left.text_input(
        "Fee after the investment period % (optional)",
        value=rate_to_percent(pool.management_fee_step_down_rate) if pool else "",
        disabled=locked,
    )
    carry = right.text_input(
        "Carry %", value=rate_to_percent(pool.carry_rate) if pool else "20", disabled=locked
    )
    hurdle = left.text_input(
        "Hurdle %", value=rate_to_percent(pool.hurdle_rate) if pool else "8", disabled=locked
    )
    catch_up = right.text_input(
        "GP catch-up %", value=rate_to_percent(pool.catch_up_rate) if pool else "100", disabled=locked
    )
    saved = st.form_submit_button("Save draft" if not locked else "Save close date", type="primary")

if saved:
    try:
        terms = {
            "name": name,
            "strategy": strategy,
            "currency": currency,
            "target_size": target,
            "hard_cap": hard_cap,
            "min_ticket": min_ticket,
            "max_ticket": max_ticket,
            "close_date": close_date,
            "investment_period_end": period_end,
            "management_fee_rate": percent_to_rate(fee_rate, "management_fee_rate"),
            "management_fee_basis": basis,
            "management_fee_step_down_rate": percent_to_rate(step_down, "management_fee_step_down_rate"),
            "carry_rate": percent_to_rate(carry, "carry_rate"),
            "hurdle_rate": percent_to_rate(hurdle, "hurdle_rate"),
            "catch_up_rate": percent_to_rate(catch_up, "catch_up_rate"),
        }
    except ValidationError as exc:
        st.error(exc.message)
    else:
        with webapp.refusals_shown():
            if pool is None:
                st.session_state["edit_pool_id"] = webapp.call(pools.create_pool, terms)
                st.success("Draft saved. Open it for commitments from My pools once you are ready.")
            else:
                current = {field: getattr(pool, field) for field in pools.TERM_FIELDS}
                webapp.call(
                    pools.update_pool_terms,
                    pool.id,
                    {**current, "close_date": close_date} if locked else terms,
                )
                st.success("Saved.")

if pool is not None and pool.status == "draft" and st.button("Open for commitments"):
    with webapp.refusals_shown():
        webapp.call(pools.open_pool, pool.id)
        st.success("The pool is open for commitments.")
