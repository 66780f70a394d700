"""Create a pool as a draft, or edit one: every term while draft, only the close date once open; and,
in every status, who manages it (co-managers, the amount above which a capital call needs a second
manager's approval) and how its investors pay (wire instructions, payment reminders).

Every refused term is shown under its own field at once; nothing is saved until every term is valid.
"""

from datetime import timedelta
from decimal import Decimal

import streamlit as st

from app import format, webapp
from app.manager_ui import POOL_KEY, lifecycle_button, managers_form, payment_settings, show_flash, status
from app.textsafe import md
from core import clock
from core.domain import (
    ACCREDITATION_ORDER,
    FEE_BASES,
    HURDLE_ACCRUALS,
    STRATEGIES,
    WATERFALL_MODELS,
    rate_to_percent,
)
from core.errors import DomainError, FieldErrors, ValidationError
from core.money import MINOR_UNITS, to_decimal
from core.services import pools
from core.views import manager

actor = webapp.require_actor("fund_manager")

LABELS = {
    "name": "Name",
    "strategy": "Strategy",
    "currency": "Currency",
    "target_size": "Target size",
    "hard_cap": "Hard cap",
    "min_ticket": "Minimum ticket",
    "max_ticket": "Maximum ticket",
    "gp_commitment": "GP commitment (optional)",
    "close_date": "Close date",
    "investment_period_end": "Investment period ends (optional)",
    "management_fee_rate": "Management fee %",
    "management_fee_basis": "Fee basis",
    "management_fee_step_down_rate": "Fee after the investment period % (optional)",
    "carry_rate": "Carry %",
    "hurdle_rate": "Hurdle %",
    "catch_up_rate": "GP catch-up %",
    "hurdle_accrual": "Hurdle accrues",
    "escrow_rate": "Carry held in escrow %",
    "waterfall_model": "Carry is paid",
    "recover_prior_losses": "Deal by deal: earlier deals' losses come back first",
    "min_accreditation": "Minimum accreditation",
}
PERCENT_FIELDS = (
    "management_fee_rate",
    "management_fee_step_down_rate",
    "carry_rate",
    "hurdle_rate",
    "catch_up_rate",
    "escrow_rate",
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
locked = not (pool is None or pool.status == "draft")


def key(field: str) -> str:
    return f"{scope}-{field}"


def message(error: ValidationError) -> str:
    """A refusal in the form's words: a rate's limit as a percentage, as the form asks for rates."""
    limit = error.data.get("limit")
    if error.field in PERCENT_FIELDS and isinstance(limit, Decimal):
        return f"{LABELS[error.field].removesuffix(' %')} must be at most {(limit * 100).normalize():f}%"
    return error.message


def as_rate(text: object) -> object:
    """The form asks for percentages (2 = 2%), the pool stores fractions; what is not a number is
    passed on as typed, for the service to refuse by the field's name with the other errors."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return to_decimal(text, "rate") / 100
    except ValidationError:
        return text


def save() -> None:
    """The form's submit callback: runs before the page is drawn, so refusals land beside their fields."""
    state = st.session_state
    outcome: dict[str, object] = {}
    try:
        if locked:
            current = {field: getattr(pool, field) for field in pools.TERM_FIELDS}
            webapp.call(
                pools.update_pool_terms,
                pool.id,
                {**current, "close_date": state[key("close_date")]},
                version=pool.version,
            )
            outcome["success"] = "Close date saved."
        else:
            terms = {field: state[key(field)] for field in LABELS if field not in PERCENT_FIELDS}
            terms |= {field: as_rate(state[key(field)]) for field in PERCENT_FIELDS}
            if pool is None:
                new_id = webapp.call(pools.create_pool, terms)
                state["edit_pool_id"] = new_id
                state[POOL_KEY] = new_id
                outcome["success"] = "Draft saved. Open it for commitments when you are ready."
            else:
                webapp.call(pools.update_pool_terms, pool.id, terms, version=pool.version)
                outcome["success"] = "Draft saved."
    except FieldErrors as exc:
        outcome["fields"] = {error.field: message(error) for error in exc.errors}
    except ValidationError as exc:
        outcome["fields"] = {exc.field: message(exc)}
    except DomainError as exc:
        outcome["error"] = exc.message
    state["_pool_form_outcome"] = outcome


outcome = st.session_state.pop("_pool_form_outcome", {})
field_errors: dict[str, str] = outcome.get("fields", {})  # type: ignore[assignment]
st.title(f"Edit {md(pool.name)}" if pool else "Create a pool")
show_flash()
if pool is not None:
    st.caption(f"Status: {status(pool.status)}")
    if st.button("Start a new pool instead", icon=":material/add:"):
        st.session_state.pop("edit_pool_id", None)
        st.rerun()
if pool is not None and pool.status not in ("draft", "open"):
    st.info(f"This pool is {status(pool.status).lower()}: its terms are final.")
    managers_form(pool.id, pool.currency)
    st.divider()
    payment_settings(pool.id)
    st.stop()
if locked:
    st.info("This pool is open: its terms are fixed; only the close date can still move.")
unplaced = [text for field, text in field_errors.items() if field not in LABELS]
if outcome.get("error") or unplaced:  # refusals about no one field; field errors show under their field
    st.error("\n".join(f"- {md(text)}" for text in [outcome.get("error"), *unplaced] if text))
elif field_errors:
    wrong = len(field_errors)
    st.error(
        f"Nothing was saved: {format.count(wrong, 'field')} {'needs' if wrong == 1 else 'need'} attention, "
        "each shown below it."
    )
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
    if field in field_errors:
        where.error(md(field_errors[field]), icon=":material/error:")


today = clock.today()
tomorrow = today + timedelta(days=1)
with st.form(f"{scope}-terms"):
    st.text_input(LABELS["name"], value=initial("name"), max_chars=120, disabled=locked, key=key("name"))
    field_error("name", st)
    left, right = st.columns(2)
    left.selectbox(
        LABELS["strategy"],
        STRATEGIES,
        index=STRATEGIES.index(pool.strategy) if pool else 0,
        disabled=locked,
        format_func=status,
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
    left.text_input(
        LABELS["gp_commitment"],
        value=initial("gp_commitment", "0"),
        disabled=locked,
        help="The GP's own capital in the pool, committed when it opens: called and paid like any other "
        "commitment, it pays no carry and no management fee, and is shown on its own line",
        key=key("gp_commitment"),
    )
    field_error("gp_commitment", left)
    right.date_input(
        LABELS["close_date"],
        value=pool.close_date if pool else today + timedelta(days=90),
        min_value=min(pool.close_date, tomorrow) if pool else tomorrow,
        format="YYYY-MM-DD",
        key=key("close_date"),
    )
    field_error("close_date", right)
    left.date_input(
        LABELS["investment_period_end"],
        value=pool.investment_period_end if pool else None,
        disabled=locked,
        format="YYYY-MM-DD",
        key=key("investment_period_end"),
    )
    field_error("investment_period_end", left)
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
        format_func=status,
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
    econ_left.selectbox(
        LABELS["hurdle_accrual"],
        HURDLE_ACCRUALS,
        index=HURDLE_ACCRUALS.index(pool.hurdle_accrual) if pool else 0,
        disabled=locked,
        format_func=lambda a: "Compounded yearly" if a == "compound" else "Simple interest",
        help="How the preferred return grows on each contribution until it is paid back",
        key=key("hurdle_accrual"),
    )
    field_error("hurdle_accrual", econ_left)
    econ_right.text_input(
        LABELS["escrow_rate"],
        value=initial("escrow_rate", "0"),
        disabled=locked,
        help="The share of each carry payment the pool keeps until the clawback risk clears",
        key=key("escrow_rate"),
    )
    field_error("escrow_rate", econ_right)
    econ_left.selectbox(
        LABELS["waterfall_model"],
        WATERFALL_MODELS,
        index=WATERFALL_MODELS.index(pool.waterfall_model) if pool else 0,
        disabled=locked,
        format_func=lambda m: (
            "On the whole fund (European)" if m == "whole_fund" else "Deal by deal (American)"
        ),
        help=(
            "Whole fund: carry only once the investors have their capital and hurdle back on everything. "
            "Deal by deal: each distribution names its deal and pays carry on that deal's profit; the "
            "clawback at wind-down takes back what the whole fund's profit does not support"
        ),
        key=key("waterfall_model"),
    )
    field_error("waterfall_model", econ_left)
    econ_right.checkbox(
        LABELS["recover_prior_losses"],
        value=bool(pool.recover_prior_losses) if pool else False,
        disabled=locked,
        help="A deal's waterfall first returns the capital that earlier, fully realized deals lost, before "
        "any carry is paid on it (each loss once, taken up by the next deal to exit)",
        key=key("recover_prior_losses"),
    )
    field_error("recover_prior_losses", econ_right)
    st.selectbox(
        LABELS["min_accreditation"],
        ACCREDITATION_ORDER,
        index=ACCREDITATION_ORDER.index(pool.min_accreditation if pool else "accredited"),
        disabled=locked,
        format_func=lambda a: "No minimum" if a == "none" else status(a),
        key=key("min_accreditation"),
    )
    field_error("min_accreditation", st)
    st.form_submit_button("Save draft" if not locked else "Save close date", type="primary", on_click=save)

if pool is not None and pool.status == "draft":
    st.divider()
    st.write("Once the terms are right, open the pool: investors can then commit, and the terms are fixed.")
    lifecycle_button(pool.id, "open", key=f"open-{pool.id}")

if pool is not None:
    st.divider()
    managers_form(pool.id, pool.currency)
    st.divider()
    payment_settings(pool.id)
