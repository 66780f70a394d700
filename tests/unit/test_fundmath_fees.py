"""Management fees (core.fundmath.fees)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import CurrencyMismatch, ValidationError
from core.fundmath import FeeTerms, management_fee
from core.money import Money

D = Decimal
TWO_PERCENT = FeeTerms(rate=D("0.02"))


def test_published_example_two_percent_for_a_year() -> None:
    # Source: issue 3 ("Fund maths ..."), section "Tests that must exist", which gives this figure:
    # 2% on 100,000,000 committed for one year is 2,000,000.
    # Derivation: 2023-01-01 (included) to 2024-01-01 (excluded) is 365 days (2023 is not a leap
    # year), so at actual/365 the period is 365 / 365 = 1 year;
    #   100,000,000 x 0.02 x 365 / 365 = 2,000,000.00 (exact, nothing to round).
    assert management_fee(TWO_PERCENT, date(2023, 1, 1), date(2024, 1, 1), D(100_000_000)) == D(2_000_000)


def test_actual_365_proration_and_leap_year() -> None:
    # A quarter of 90 days: 100,000,000 * 2% * 90 / 365 = 493,150.6849... -> 493,150.68
    assert management_fee(TWO_PERCENT, date(2023, 1, 1), date(2023, 4, 1), D(100_000_000)) == D("493150.68")
    # 2024 has 366 days, and actual/365 charges every one of them.
    assert management_fee(TWO_PERCENT, date(2024, 1, 1), date(2025, 1, 1), D(100_000_000)) == D("2005479.45")
    assert management_fee(TWO_PERCENT, date(2024, 1, 1), date(2024, 1, 1), D(100_000_000)) == 0


def test_after_the_investment_period_on_invested_at_the_step_down() -> None:
    terms = FeeTerms(rate=D("0.02"), step_down_rate=D("0.015"), investment_period_end=date(2023, 1, 1))
    fee = management_fee(terms, date(2023, 1, 1), date(2024, 1, 1), D(100_000_000), D(40_000_000))
    assert fee == D(600_000)  # 1.5% of the 40m invested


def test_a_period_straddling_the_end_of_the_investment_period_is_split() -> None:
    terms = FeeTerms(rate=D("0.02"), step_down_rate=D("0.015"), investment_period_end=date(2023, 7, 1))
    fee = management_fee(terms, date(2023, 1, 1), date(2024, 1, 1), D(100_000_000), D(50_000_000))
    # 181 days at 2% on 100m + 184 days at 1.5% on 50m, rounded once.
    exact = (D(100_000_000) * D("0.02") * 181 + D(50_000_000) * D("0.015") * 184) / 365
    assert fee == exact.quantize(D("0.01")) == D("1369863.01")
    without_step_down = FeeTerms(rate=D("0.02"), investment_period_end=date(2023, 7, 1))
    fee = management_fee(without_step_down, date(2023, 1, 1), date(2024, 1, 1), D(100_000_000), D(50_000_000))
    assert fee == ((D(2_000_000) * 181 + D(1_000_000) * 184) / 365).quantize(D("0.01"))


def test_investment_period_ending_after_the_period_charges_committed_only() -> None:
    terms = FeeTerms(rate=D("0.02"), step_down_rate=D("0.01"), investment_period_end=date(2030, 1, 1))
    assert management_fee(terms, date(2023, 1, 1), date(2024, 1, 1), D(100_000_000), D(1)) == D(2_000_000)


def test_fixed_bases() -> None:
    committed = FeeTerms(
        rate=D("0.02"), basis="committed", step_down_rate=D("0.01"), investment_period_end=date(2023, 1, 1)
    )
    invested = FeeTerms(rate=D("0.02"), basis="invested")
    year = (date(2023, 1, 1), date(2024, 1, 1))
    assert management_fee(committed, *year, D(100_000_000), D(10)) == D(1_000_000)
    assert management_fee(invested, *year, D(100_000_000), D(50_000_000)) == D(1_000_000)


def test_currency_minor_unit_and_money() -> None:
    year = (date(2023, 1, 1), date(2023, 1, 2))  # one day: 1,000,000 * 2% / 365 = 54.79...
    assert management_fee(TWO_PERCENT, *year, D(1_000_000), currency="JPY") == D(55)
    assert management_fee(TWO_PERCENT, *year, Money(D(1_000_000), "KWD")) == D("54.795")
    assert management_fee(TWO_PERCENT, *year, D(1_000_000)) == D("54.79")
    with pytest.raises(CurrencyMismatch):
        management_fee(TWO_PERCENT, *year, Money(D(1), "USD"), Money(D(1), "EUR"))


def test_bad_input_names_the_field() -> None:
    for kwargs, field in (
        ({"rate": D("-0.01")}, "rate"),
        ({"rate": 0.02}, "rate"),
        ({"rate": D("1.5")}, "rate"),
        ({"rate": D("0.02"), "step_down_rate": D("-0.01")}, "step_down_rate"),
        ({"rate": D("0.02"), "basis": "nav"}, "basis"),
        ({"rate": D("0.02"), "investment_period_end": "2025-01-01"}, "investment_period_end"),
    ):
        with pytest.raises(ValidationError) as info:
            FeeTerms(**kwargs)
        assert info.value.field == field
    year = (date(2023, 1, 1), date(2024, 1, 1))
    for args, field in (
        ((TWO_PERCENT, date(2024, 1, 1), date(2023, 1, 1), D(1)), "period_end"),
        ((TWO_PERCENT, "2023-01-01", date(2023, 1, 1), D(1)), "period_start"),
        ((TWO_PERCENT, *year, D(-1)), "committed"),
        ((TWO_PERCENT, *year, D(1), 5.0), "invested"),
        ((TWO_PERCENT, *year, D("NaN")), "committed"),
        (({"rate": D("0.02")}, *year, D(1)), "terms"),
    ):
        with pytest.raises(ValidationError) as info:
            management_fee(*args)
        assert info.value.field == field
