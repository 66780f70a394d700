"""Create a pool as a draft, or edit one: every term while draft, only the close date once open.

A refused term is shown under its own field; nothing is saved until every term is valid.
"""

from datetime import date, timedelta
from decimal import Decimal

import streamlit as st

from app import webapp
from app.manager_ui import POOL_KEY
from app.textsafe import md
from core.domain import ACCREDITATION_ORDER, FEE_BASES, STRATEGIES, percent_to_rate, rate_to_percent
from core.errors import DomainError, ValidationError
from core.money import MINOR_UNITS
from core.services import manager, pools

actor = webapp.require_actor("fund_manager")

LABELS = {
    "name": "Name",
    "strategy": "Strategy",
    "currency": "Currency",
    "target_size": "Target size",
    "hard_cap": "Hard cap",
    "min_ticket": "Minimum ticket",
    "max_ticket": "Maximum ticket",
    "close_date": "Close date",
    "investment_period_end": "Investment period ends (optional)",
    "management_fee_rate": "Management fee %",
    "management_fee_basis": "Fee basis",
    "management_fee_step_down_rate": "Fee after the investment period % (optional)",
    "carry_rate": "Carry %",
    "hurdle_rate": "Hurdle %",
    "catch_up_rate": "GP catch-up %",
    "min_accreditation": "Minimum accreditation",
}
PERCENT_FIELDS = (
    "management_fee_rate",
    "management_fee_step_down_rate",
    "carry_rate",
    "hurdle_rate",
    "catch_up_rate",
)

editing = st.session_state.get("edit_pool_id")
pool = None
if editing is not None:
    with webapp.refusals_shown():
        pool = webapp.call(manager.managed_pool, editing)
    if pool is None:
        st.session_state.pop("edit_pool_id", None)
        st.stop()
scope = f"pool-{pool.id if pool else 'new'}"
draft = pool is None or pool.status == "draft"
locked = not draft


def key(field: str) -> str:
    return f"{scope}-{field}"


def message(exc: DomainError) -> tuple[str | None, str]:
    """The refusal in the form's own words: the field's label, percentages as percentages."""
    if not isinstance(exc, ValidationError):
        return None, exc.message
    label = LABELS.get(exc.field, exc.field)
    reason = exc.reason
    if exc.field in PERCENT_FIELDS and "(rates are fractions" in reason:
        upper = Decimal(reason.split("must be at most ", 1)[1].split(" ", 1)[0]) * 100
        reason = f"must be at most {upper.normalize():f}%"
    return exc.field, f"{label}: {reason}"


def save() -> None:
    """The form's submit callback: runs before the page is drawn, so a refusal lands beside its field."""
    state = st.session_state
    outcome: dict[str, object] = {}
    try:
        if locked:
            current = {field: getattr(pool, field) for field in pools.TERM_FIELDS}
            webapp.call(pools.update_pool_terms, pool.id, {**current, "close_date": state[key("close_date")]})
            outcome["success"] = "Close date saved."
        else:
            terms = {field: state[key(field)] for field in LABELS if field not in PERCENT_FIELDS}
            terms.update({field: percent_to_rate(state[key(field)], field) for field in PERCENT_FIELDS})
            if pool is None:
                new_id = webapp.call(pools.create_pool, terms)
                state["edit_pool_id"] = new_id
                state[POOL_KEY] = new_id
                outcome["success"] = "Draft saved. Open it for commitments when you are ready."
            else:
                webapp.call(pools.update_pool_terms, pool.id, terms)
                outcome["success"] = "Draft saved."
    except DomainError as exc:
        outcome["field"], outcome["error"] = message(exc)
    state["_pool_form_outcome"] = outcome


outcome = st.session_state.pop("_pool_form_outcome", {})
st.title(f"Edit {md(pool.name)}" if pool else "Create a pool")
if pool is not None:
    st.caption(f"Status: {pool.status}")
    if st.button("Start a new pool instead", icon=":material/add:"):
        st.session_state.pop("edit_pool_id", None)
        st.rerun()
if pool is not None and pool.status not in ("draft", "open"):
    st.info(f"This pool is {pool.status}: its terms are final.")
    st.stop()
if locked:
    st.info("This pool is open: its terms are fixed; only the close date can still move.")
if outcome.get("error") and outcome.get("field") not in LABELS:
    st.error(md(outcome["error"]))  # a refusal about no one field; field errors show under their field
if outcome.get("success"):
    st.success(outcome["success"])


def initial(field: str, default: str = "") -> str:
    value = getattr(pool, field, None) if pool else None
    if value is None:
        return default
    if field in PERCENT_FIELDS:
        return rate_to_percent(value)
    return f"{value.normalize():f}" if hasattr(value, "is_finite") else str(value)


def field_error(field: str, where) -> None:  # noqa: ANN001 - a Streamlit container
    if outcome.get("field") == field:
        where.error(md(outcome["error"]), icon=":material/error:")


tomorrow = date.today() + timedelta(days=1)
with st.form(f"{scope}-terms"):
    st.text_input(LABELS["name"], value=initial("name"), max_chars=120, disabled=locked, key=key("name"))
    field_error("name", st)
    left, right = st.columns(2)
    left.selectbox(
        LABELS["strategy"],
        STRATEGIES,
        index=STRATEGIES.index(pool.strategy) if pool else 0,
        disabled=locked,
        format_func=lambda s: s.replace("_", " ").title(),
        key=key("strategy"),
    )
    field_error("strategy", left)
    currencies = sorted(MINOR_UNITS)
    right.selectbox(
        LABELS["currency"],
        currencies,
        index=currencies.index(pool.currency if pool else "USD"),
        disabled=locked,
        key=key("currency"),
    )
    field_error("currency", right)
    for column, field in (
        (left, "target_size"),
        (right, "hard_cap"),
        (left, "min_ticket"),
        (right, "max_ticket"),
    ):
        column.text_input(LABELS[field], value=initial(field), disabled=locked, key=key(field))
        field_error(field, column)
    left.date_input(
        LABELS["close_date"],
        value=pool.close_date if pool else date.today() + timedelta(days=90),
        min_value=min(pool.close_date, tomorrow) if pool else tomorrow,
        key=key("close_date"),
    )
    field_error("close_date", left)
    right.date_input(
        LABELS["investment_period_end"],
        value=pool.investment_period_end if pool else None,
        disabled=locked,
        key=key("investment_period_end"),
    )
    field_error("investment_period_end", right)
    st.markdown("**Economics** (percentages: 2 means 2%)")
    econ_left, econ_right = st.columns(2)
    econ_left.text_input(
        LABELS["management_fee_rate"],
        value=initial("management_fee_rate", "2"),
        disabled=locked,
        key=key("management_fee_rate"),
    )
    field_error("management_fee_rate", econ_left)
    econ_right.selectbox(
        LABELS["management_fee_basis"],
        FEE_BASES,
        index=FEE_BASES.index(pool.management_fee_basis) if pool else 0,
        disabled=locked,
        format_func=lambda b: b.replace("_", " "),
        key=key("management_fee_basis"),
    )
    field_error("management_fee_basis", econ_right)
    for column, field, default in (
        (econ_left, "management_fee_step_down_rate", ""),
        (econ_right, "carry_rate", "20"),
        (econ_left, "hurdle_rate", "8"),
        (econ_right, "catch_up_rate", "100"),
    ):
        column.text_input(LABELS[field], value=initial(field, default), disabled=locked, key=key(field))
        field_error(field, column)
    st.selectbox(
        LABELS["min_accreditation"],
        ACCREDITATION_ORDER,
        index=ACCREDITATION_ORDER.index(pool.min_accreditation if pool else "accredited"),
        disabled=locked,
        format_func=lambda a: a.replace("_", " "),
        key=key("min_accreditation"),
    )
    field_error("min_accreditation", st)
    st.form_submit_button("Save draft" if not locked else "Save close date", type="primary", on_click=save)

if pool is not None and pool.status == "draft":
    st.divider()
    st.write("Once the terms are right, open the pool: investors can then commit, and the terms are fixed.")
    if st.button("Open for commitments", type="primary"):
        with webapp.refusals_shown():
            webapp.call(pools.open_pool, pool.id)
            st.session_state[POOL_KEY] = pool.id
            st.session_state["_pool_form_outcome"] = {"success": "The pool is open for commitments."}
            st.rerun()
