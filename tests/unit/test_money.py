"""Money: exact Decimal amounts in one currency; floats, garbage and mixed currencies are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import CurrencyMismatch, ValidationError
from core.money import (
    MAX_AMOUNT,
    MINOR_UNITS,
    Money,
    check_currency,
    minor_unit,
    parse_amount,
    quantize,
    to_decimal,
)

D = Decimal


# --- currencies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "unit"), [("USD", D("0.01")), ("JPY", D("1")), ("KWD", D("0.001"))])
def test_minor_unit_follows_iso_4217(currency: str, unit: Decimal) -> None:
    assert minor_unit(currency) == unit
    assert MINOR_UNITS[currency] == -unit.as_tuple().exponent


@pytest.mark.parametrize("currency", ["XYZ", "usd", "", "US", None, 840, "USDX"])
def test_unknown_currency_is_refused_naming_the_field(currency: object) -> None:
    with pytest.raises(ValidationError) as caught:
        check_currency(currency)
    assert caught.value.field == "currency"
    assert caught.value.reason == (
        "is needed" if currency in ("", None) else f"unknown currency {str(currency)!r}"
    )


def test_check_currency_names_the_field_it_is_given() -> None:
    with pytest.raises(ValidationError) as caught:
        check_currency("ZZZ", field="payout_currency")
    assert caught.value.field == "payout_currency"
    assert str(caught.value).startswith("Payout currency ")


# --- to_decimal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("12.50"), D("12.50")),
        (7, D(7)),
        ("  1,000,000.25 ", D("1000000.25")),
        ("1_000", D(1000)),
        ("-3", D(-3)),
    ],
)
def test_to_decimal_accepts_decimals_ints_and_numeric_strings(value: object, expected: Decimal) -> None:
    result = to_decimal(value, "amount")
    assert isinstance(result, Decimal)
    assert result == expected


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan"), True, False])
def test_to_decimal_refuses_floats_and_bools(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        to_decimal(value, "amount")
    assert caught.value.field == "amount"
    assert "float" in caught.value.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "is not a number"),
        ("12abc", "is not a number"),
        ("", "is required"),
        ("   ", "is required"),
        ("1" * 41, "is not a number"),
        (None, "is not a number"),
        ([1], "is not a number"),
        ("NaN", "is not a number"),
        ("sNaN", "is not a number"),
        ("Infinity", "is not a number"),
        ("-inf", "is not a number"),
        (D("NaN"), "must be a finite number"),
        (D("Infinity"), "must be a finite number"),
        ("1e3", "must be written out in digits (1e9 and the like are not accepted)"),
        ("2.5E-4", "must be written out in digits (1e9 and the like are not accepted)"),
    ],
)
def test_to_decimal_refuses_garbage_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        to_decimal(value, "target_size")
    assert caught.value.field == "target_size"
    assert caught.value.reason == reason


# --- parse_amount ----------------------------------------------------------------------------------


def test_parse_amount_returns_the_amount_at_the_currency_scale() -> None:
    assert parse_amount("100", "USD", "amount") == D("100.00")
    assert parse_amount("100", "USD", "amount").as_tuple().exponent == -2
    assert parse_amount("1.5", "KWD", "amount").as_tuple().exponent == -3
    assert parse_amount("250000", "JPY", "amount") == D(250000)


@pytest.mark.parametrize(
    ("value", "currency", "reason"),
    [
        ("-1", "USD", "must be greater than zero"),
        ("0", "USD", "must be greater than zero"),
        ("0.00", "USD", "must be greater than zero"),
        ("0.001", "USD", "has more than 2 decimal places for USD"),
        ("10.5", "JPY", "has more than 0 decimal places for JPY"),
        ("1.0001", "KWD", "has more than 3 decimal places for KWD"),
        (f"{MAX_AMOUNT:f}", "USD", "is too large"),
        ("1" + "0" * 30, "USD", "is too large"),
    ],
)
def test_parse_amount_refusals(value: str, currency: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_amount(value, currency, "min_ticket")
    assert caught.value.field == "min_ticket"
    assert caught.value.reason == reason


def test_parse_amount_allows_zero_only_when_asked_and_never_negative() -> None:
    assert parse_amount("0", "USD", "fee", allow_zero=True) == D("0.00")
    with pytest.raises(ValidationError, match="must not be negative"):
        parse_amount("-0.01", "USD", "fee", allow_zero=True)


def test_parse_amount_just_below_the_absurd_limit_is_fine() -> None:
    assert parse_amount(str(MAX_AMOUNT - D("0.01")), "USD", "amount") == MAX_AMOUNT - D("0.01")


def test_trailing_zeros_are_not_over_precision() -> None:
    assert parse_amount("12.3400000", "USD", "amount") == D("12.34")


# --- quantize: the one rounding place ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "USD", "0.01"),
        ("0.004999", "USD", "0.00"),
        ("2.675", "USD", "2.68"),  # as a float this would be 2.67; Decimal keeps it exact
        ("-0.005", "USD", "-0.01"),  # half-up rounds away from zero
        ("0.5", "JPY", "1"),
        ("1.0005", "KWD", "1.001"),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    result = quantize(D(amount), currency)
    assert result == D(expected)
    assert result.as_tuple().exponent == -MINOR_UNITS[currency]


def test_quantize_honours_an_explicit_rounding_mode() -> None:
    from decimal import ROUND_DOWN, ROUND_HALF_EVEN

    assert quantize(D("0.019"), "USD", ROUND_DOWN) == D("0.01")
    assert quantize(D("0.025"), "USD", ROUND_HALF_EVEN) == D("0.02")


# --- Money -----------------------------------------------------------------------------------------


def test_money_is_exact_where_floats_are_not() -> None:
    total = Money(D("0.10"), "USD") + Money(D("0.20"), "USD")
    assert total == Money(D("0.30"), "USD")
    assert total.amount == D("0.30")


def test_money_normalises_to_the_currency_scale_and_compares_by_value() -> None:
    assert Money(D("5"), "USD").amount.as_tuple().exponent == -2
    assert Money(5, "USD") == Money(D("5.00"), "USD")
    assert Money(D("5"), "USD") != Money(D("5"), "EUR")


@pytest.mark.parametrize("amount", [0.1, 1.0, "1.00", None])
def test_money_refuses_floats_and_non_numbers(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [D("NaN"), D("Infinity"), D("-Infinity")])
def test_money_refuses_non_finite_amounts(amount: Decimal) -> None:
    with pytest.raises(ValidationError) as caught:
        Money(amount, "USD")
    assert caught.value.field == "amount"


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(D("1e30"), "USD"), (D("-1e30"), "USD"), (10**40, "USD"), (D("1e26"), "KWD"), (D("9" * 29), "JPY")],
)
def test_money_refuses_an_absurd_amount_naming_the_field(amount: Decimal | int, currency: str) -> None:
    # Too many digits for exact Decimal arithmetic: a ValidationError, not a bare InvalidOperation.
    with pytest.raises(ValidationError, match="^Amount is too large$") as caught:
        Money(amount, currency)
    assert caught.value.field == "amount"
    with pytest.raises(ValidationError, match="^Amount is too large$"):
        Money.rounded(D(amount), currency)


def test_sums_that_outgrow_exact_arithmetic_are_refused_too() -> None:
    big = Money(D("9e25"), "USD")  # still exact in cents
    assert big.amount == D("90000000000000000000000000.00")
    with pytest.raises(ValidationError, match="^Amount is too large$"):
        sum([big] * 20, Money.zero("USD"))


def test_money_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValidationError) as caught:
        Money(D(1), "BTC")
    assert caught.value.field == "currency"


@pytest.mark.parametrize(("amount", "currency"), [("0.001", "USD"), ("0.5", "JPY"), ("0.0001", "KWD")])
def test_money_refuses_more_precision_than_the_currency(amount: str, currency: str) -> None:
    with pytest.raises(ValidationError, match="round it first"):
        Money(D(amount), currency)


def test_money_rounded_rounds_once_half_up() -> None:
    assert Money.rounded(D("10.005"), "USD") == Money(D("10.01"), "USD")
    assert Money.rounded(D("10.004"), "USD") == Money(D("10.00"), "USD")
    with pytest.raises(TypeError):
        Money.rounded(10.005, "USD")  # type: ignore[arg-type]


def test_money_arithmetic_and_ordering() -> None:
    a, b = Money(D("100.00"), "EUR"), Money(D("30.50"), "EUR")
    assert a - b == Money(D("69.50"), "EUR")
    assert -b == Money(D("-30.50"), "EUR")
    assert b < a and b <= a and a > b and a >= b
    assert not (a < b)
    assert Money.zero("JPY") == Money(0, "JPY")


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_raises(operation) -> None:  # noqa: ANN001
    with pytest.raises(CurrencyMismatch) as caught:
        operation(Money(D(1), "USD"), Money(D(1), "EUR"))
    assert "USD" in caught.value.message and "EUR" in caught.value.message
    assert isinstance(caught.value, ValidationError)


def test_money_does_not_combine_with_plain_numbers() -> None:
    with pytest.raises(TypeError):
        Money(D(1), "USD") + D(1)  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(D(1), "USD") < 2  # type: ignore[operator]


def test_times_scales_by_an_exact_factor_and_rounds_once() -> None:
    assert Money(D("100.00"), "USD").times(D("0.025")) == Money(D("2.50"), "USD")
    assert Money(D("0.10"), "USD").times(D("0.05")) == Money(D("0.01"), "USD")  # 0.005 -> 0.01
    assert Money(D("1000"), "JPY").times(D("0.0015")) == Money(D("2"), "JPY")  # 1.5 -> 2
    with pytest.raises(TypeError):
        Money(D("100.00"), "USD").times(0.025)  # type: ignore[arg-type]


def test_money_is_immutable() -> None:
    money = Money(D(1), "USD")
    with pytest.raises(AttributeError):
        money.amount = D(2)  # type: ignore[misc]


def test_str_shows_currency_and_grouped_amount() -> None:
    assert str(Money(D("1234567.5"), "USD")) == "USD 1,234,567.50"
    assert str(Money(D("1000"), "JPY")) == "JPY 1,000"
