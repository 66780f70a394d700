"""Domain rules without I/O: names, rates, dates, pool terms, lifecycle, eligibility, tickets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.domain import (
    ACCREDITATION_ORDER,
    FEE_BASES,
    NAME_MAX,
    POOL_TRANSITIONS,
    PoolTerms,
    check_ticket,
    check_transition,
    clean_text,
    is_eligible,
    parse_date,
    parse_rate,
    validate_pool_terms,
)
from core.errors import DomainError, FieldErrors, InvalidState, ValidationError, field_label

D = Decimal
TODAY = date(2026, 3, 1)


def terms(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "Seed Fund I",
        "strategy": "venture",
        "currency": "USD",
        "target_size": "1000000",
        "hard_cap": "1500000",
        "min_ticket": "10000",
        "max_ticket": "500000",
        "management_fee_rate": "0.02",
        "management_fee_basis": "committed",
        "carry_rate": "0.2",
        "hurdle_rate": "0.08",
        "catch_up_rate": "1",
        "close_date": (TODAY + timedelta(days=30)).isoformat(),
        "min_accreditation": "accredited",
    }
    raw.update(overrides)
    return raw


def refused(field: str, **overrides: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_pool_terms(terms(**overrides), TODAY)
    assert caught.value.field == field, caught.value.message
    # The message names the field by its label, in words a person reads ("Close date must be ...").
    assert str(caught.value).startswith(f"{field_label(field)} ")
    assert not isinstance(caught.value, FieldErrors), "one bad field, one error"
    return caught.value


# --- clean_text ------------------------------------------------------------------------------------


def test_clean_text_strips_and_normalises() -> None:
    assert clean_text("  Seed Fund  ", "name", max_length=20) == "Seed Fund"
    # NFC: "e" + combining acute becomes the single code point.
    assert clean_text("Cafe\u0301", "name", max_length=20) == "Caf\u00e9"


def test_clean_text_keeps_emoji_sequences_whole() -> None:
    # A zero-width joiner between pictographs is part of one emoji (family, heart on fire).
    for name in (
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 Family Office",
        "\u2764\ufe0f\u200d\U0001f525 Fund",
    ):
        assert clean_text(name, "name", max_length=120) == name


def test_clean_text_keeps_markdown_literally() -> None:
    # Pages render names as plain text, so markdown is harmless and must round-trip unchanged.
    for name in ("**Bold** Fund", "_Alpha_ [link](http://x.y) `code` # 1"):
        assert clean_text(name, "name", max_length=120) == name


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is required"),
        ("    ", "is required"),
        (None, "must be text"),
        (123, "must be text"),
        ("x" * 121, "must be at most 120 characters"),
        ("line\nbreak", "must not contain control characters or line breaks"),
        ("tab\there", "must not contain control characters or line breaks"),
        ("nul\x00", "must not contain control characters or line breaks"),
        ("<b>Fund</b>", "must not contain < or > (no HTML)"),
        ("<script>alert(1)</script>", "must not contain < or > (no HTML)"),
        ("a > b", "must not contain < or > (no HTML)"),
        ("Fund\u202egnp.exe", "must not contain invisible formatting characters"),
        ("ad\u200dmin", "must not contain invisible formatting characters"),
        ("\u200d\U0001f680 Fund", "must not contain invisible formatting characters"),
    ],
)
def test_clean_text_refusals(value: object, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_text(value, "name", max_length=120)
    assert caught.value.field == "name"
    assert caught.value.reason == reason


def test_clean_text_length_limit_is_inclusive_and_optional_text_may_be_empty() -> None:
    assert clean_text("x" * 120, "name", max_length=120) == "x" * 120
    assert clean_text("  ", "memo", max_length=10, required=False) == ""


# --- rates and dates -------------------------------------------------------------------------------


def test_parse_rate_accepts_fractions_up_to_the_bound() -> None:
    assert parse_rate("0.2", "carry_rate") == D("0.2")
    assert parse_rate("0", "carry_rate") == 0
    assert parse_rate("1", "carry_rate") == 1
    assert parse_rate("0.123456", "carry_rate") == D("0.123456")


@pytest.mark.parametrize(
    ("value", "upper", "reason"),
    [
        ("-0.01", D(1), "must not be negative"),
        ("1.01", D(1), "must be at most 1 (rates are fractions: 0.2 = 20%)"),
        ("20", D(1), "must be at most 1 (rates are fractions: 0.2 = 20%)"),
        ("0.11", D("0.1"), "must be at most 0.1 (rates are fractions: 0.2 = 20%)"),
        ("0.1234567", D(1), "has more than 6 decimal places"),
        ("NaN", D(1), "is not a number"),
        ("ten", D(1), "is not a number"),
    ],
)
def test_parse_rate_refusals(value: str, upper: Decimal, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_rate(value, "hurdle_rate", upper=upper)
    assert caught.value.field == "hurdle_rate"
    assert caught.value.reason == reason


def test_parse_rate_refuses_floats() -> None:
    with pytest.raises(ValidationError, match="float"):
        parse_rate(0.2, "carry_rate")


def test_parse_date_accepts_dates_and_iso_strings() -> None:
    assert parse_date(TODAY, "close_date") == TODAY
    assert parse_date(" 2026-12-31 ", "close_date") == date(2026, 12, 31)


@pytest.mark.parametrize("value", ["31/12/2026", "2026-02-30", "", "tomorrow", None, 20261231])
def test_parse_date_refusals(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_date(value, "close_date")
    assert caught.value.field == "close_date"
    assert "YYYY-MM-DD" in caught.value.reason


# --- pool terms ------------------------------------------------------------------------------------


def test_valid_terms_become_exact_typed_values() -> None:
    valid = validate_pool_terms(terms(management_fee_step_down_rate="0.015"), TODAY)
    assert isinstance(valid, PoolTerms)
    assert valid.target_size == D("1000000.00") and valid.target_size.as_tuple().exponent == -2
    assert valid.hard_cap == D("1500000")
    assert valid.management_fee_rate == D("0.02")
    assert valid.management_fee_step_down_rate == D("0.015")
    assert valid.close_date == TODAY + timedelta(days=30)
    assert valid.investment_period_end is None
    assert valid.as_dict()["strategy"] == "venture"
    assert set(valid.as_dict()) == set(PoolTerms.__dataclass_fields__)


def test_defaults_for_optional_terms() -> None:
    raw = terms()
    for key in (
        "management_fee_rate",
        "management_fee_basis",
        "carry_rate",
        "hurdle_rate",
        "catch_up_rate",
        "min_accreditation",
    ):
        raw.pop(key)
    valid = validate_pool_terms(raw, TODAY)
    assert valid.management_fee_rate == 0 and valid.carry_rate == 0
    assert valid.management_fee_basis in FEE_BASES
    assert valid.min_accreditation == "accredited"


def test_equal_bounds_are_allowed() -> None:
    valid = validate_pool_terms(
        terms(target_size="1000", hard_cap="1000", min_ticket="1000", max_ticket="1000"), TODAY
    )
    assert valid.hard_cap == valid.target_size == valid.min_ticket == valid.max_ticket


@pytest.mark.parametrize(
    ("field", "overrides", "reason"),
    [
        ("name", {"name": ""}, "is required"),
        ("name", {"name": "x" * 10_000}, f"must be at most {NAME_MAX} characters"),
        ("name", {"name": "<img src=x onerror=alert(1)>"}, "must not contain < or > (no HTML)"),
        ("strategy", {"strategy": "crypto"}, None),
        ("currency", {"currency": "XYZ"}, "unknown currency 'XYZ'"),
        ("target_size", {"target_size": "-5"}, "must be greater than zero"),
        ("target_size", {"target_size": "0"}, "must be greater than zero"),
        ("target_size", {"target_size": "NaN"}, "is not a number"),
        ("target_size", {"target_size": "inf"}, "is not a number"),
        (
            "target_size",
            {"target_size": "1e6"},
            "must be written out in digits (1e9 and the like are not accepted)",
        ),
        ("target_size", {"target_size": "lots"}, "is not a number"),
        ("target_size", {"target_size": 1e6}, None),
        ("target_size", {"target_size": "1000.001"}, "has more than 2 decimal places for USD"),
        ("target_size", {"target_size": "1" + "0" * 20}, "is too large"),
        ("hard_cap", {"hard_cap": "999999.99"}, "must not be below the target size"),
        ("min_ticket", {"min_ticket": "600000"}, "must not be above the maximum ticket"),
        ("max_ticket", {"max_ticket": "1500000.01"}, "must not be above the hard cap"),
        ("management_fee_rate", {"management_fee_rate": "0.2"}, None),
        ("management_fee_basis", {"management_fee_basis": "nav"}, None),
        ("management_fee_step_down_rate", {"management_fee_step_down_rate": "0.03"}, None),
        ("investment_period_end", {"investment_period_end": "2026-03-02"}, None),
        ("investment_period_end", {"investment_period_end": "soon"}, None),
        ("close_date", {"close_date": TODAY.isoformat()}, "must be in the future"),
        ("close_date", {"close_date": (TODAY - timedelta(days=1)).isoformat()}, "must be in the future"),
        ("close_date", {"close_date": None}, None),
        ("carry_rate", {"carry_rate": "1.5"}, None),
        ("hurdle_rate", {"hurdle_rate": "-0.08"}, None),
        ("catch_up_rate", {"catch_up_rate": "x"}, None),
        ("min_accreditation", {"min_accreditation": "retail"}, None),
    ],
)
def test_each_bad_term_is_refused_naming_its_field(
    field: str, overrides: dict[str, Any], reason: str | None
) -> None:
    error = refused(field, **overrides)
    if reason is not None:
        assert error.reason == reason


def test_jpy_terms_refuse_fractions_but_kwd_takes_three_places() -> None:
    refused("min_ticket", currency="JPY", min_ticket="10000.5")
    assert validate_pool_terms(terms(currency="KWD", min_ticket="10000.125"), TODAY).min_ticket == D(
        "10000.125"
    )


def test_every_bad_term_is_named_at_once() -> None:
    """Six problems, one refusal naming all six: nobody submits six times to find them."""
    with pytest.raises(FieldErrors) as caught:
        validate_pool_terms(
            terms(
                name="",
                strategy="crypto",
                target_size="-1",
                hard_cap="1e9",
                min_ticket="600000",
                close_date="2020-01-01",
            ),
            TODAY,
        )
    assert set(caught.value.fields) == {
        "name",
        "strategy",
        "target_size",
        "hard_cap",
        "min_ticket",
        "close_date",
    }
    assert "Close date must be in the future." in caught.value.message


def test_missing_terms_are_named() -> None:
    raw = terms()
    del raw["hard_cap"]
    with pytest.raises(ValidationError) as caught:
        validate_pool_terms(raw, TODAY)
    assert caught.value.field == "hard_cap"


# --- lifecycle -------------------------------------------------------------------------------------

ALL_STATUSES = tuple(POOL_TRANSITIONS)
ALLOWED = {
    ("draft", "open"),
    ("open", "closed"),
    ("closed", "investing"),
    ("closed", "wound_down"),
    ("investing", "wound_down"),
}


@pytest.mark.parametrize("current", ALL_STATUSES)
@pytest.mark.parametrize("target", ALL_STATUSES)
def test_only_the_documented_transitions_exist(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidState) as caught:
            check_transition(current, target)
        assert caught.value.message == f"a {current} pool cannot become {target}"


def test_unknown_status_cannot_move() -> None:
    with pytest.raises(InvalidState):
        check_transition("archived", "open")


# --- eligibility and tickets -----------------------------------------------------------------------


@pytest.mark.parametrize("kyc", ["pending", "rejected", "expired"])
def test_kyc_must_be_approved(kyc: str) -> None:
    assert not is_eligible(kyc, "qualified_purchaser", "none")


@pytest.mark.parametrize("accreditation", ACCREDITATION_ORDER)
@pytest.mark.parametrize("minimum", ACCREDITATION_ORDER)
def test_accreditation_must_reach_the_pool_minimum(accreditation: str, minimum: str) -> None:
    expected = ACCREDITATION_ORDER.index(accreditation) >= ACCREDITATION_ORDER.index(minimum)
    assert is_eligible("approved", accreditation, minimum) is expected


def test_accreditation_order_is_none_accredited_qualified_purchaser() -> None:
    assert is_eligible("approved", "qualified_purchaser", "accredited")
    assert not is_eligible("approved", "none", "accredited")
    assert not is_eligible("approved", "accredited", "qualified_purchaser")


def test_check_ticket_within_bounds_passes() -> None:
    check_ticket(D(100), D(100), D(500), D(100), "USD")
    check_ticket(D(500), D(100), D(500), D(10_000), "USD")


@pytest.mark.parametrize(
    ("amount", "remaining", "reason"),
    [
        (D("99.99"), D(10_000), "is below the minimum ticket of $100.00"),
        (D("500.01"), D(10_000), "is above the maximum ticket of $500.00"),
        (D(300), D(299), "is above the room left under the hard cap, $299.00"),
        (D(300), D(-50), "is above the room left under the hard cap, $0.00"),
    ],
)
def test_check_ticket_refusals(amount: Decimal, remaining: Decimal, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_ticket(amount, D(100), D(500), remaining, "USD")
    assert caught.value.field == "amount"
    assert caught.value.reason == reason


def test_domain_errors_are_catchable_as_one_family() -> None:
    assert issubclass(ValidationError, DomainError)
    assert issubclass(InvalidState, DomainError)
    assert issubclass(ValidationError, ValueError)
