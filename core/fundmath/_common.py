"""Shared input handling: amounts, rates and dates are checked once, here, the same way everywhere.

Every public function accepts plain Decimals (or ints) or Money; floats, NaN and garbage are refused
with a ValidationError naming the argument, and Money in two currencies in one call raises
CurrencyMismatch. Intermediate arithmetic runs in a wide context so that the only rounding is the
explicit quantization each function documents.
"""

from __future__ import annotations

from datetime import date
from decimal import Context, Decimal

from core.errors import CurrencyMismatch, ValidationError
from core.money import Money, minor_unit, to_decimal

ZERO = Decimal(0)
ONE = Decimal(1)
DAYS_PER_YEAR = Decimal(365)

# Used when a caller names neither a currency nor a minor unit: the cent, the minor unit of every
# pool currency except JPY and KWD (pass currency= for those).
DEFAULT_MINOR_UNIT = Decimal("0.01")

# 60 significant digits: amounts up to 1e15 keep 45 decimals, so sums are exact and divisions
# only err far below any minor unit.
WIDE = Context(prec=60)


class CurrencyTracker:
    """Remembers the currency of the first Money seen in one call and refuses any other."""

    __slots__ = ("currency",)

    def __init__(self, currency: str | None = None) -> None:
        self.currency = currency

    def see(self, currency: str, field: str) -> None:
        if self.currency is None:
            self.currency = currency
        elif currency != self.currency:
            raise CurrencyMismatch(self.currency, currency, field)


def amount(value: object, field: str, tracker: CurrencyTracker | None = None) -> Decimal:
    """A finite Decimal from a Decimal, int, numeric string or Money; floats and bools are refused."""
    if isinstance(value, bool):  # an int to Python, but True is no amount of money
        raise ValidationError(field, "must be a number, not True or False")
    if isinstance(value, Money):
        if tracker is not None:
            tracker.see(value.currency, field)
        return value.amount
    return to_decimal(value, field)


def non_negative(value: object, field: str, tracker: CurrencyTracker | None = None) -> Decimal:
    result = amount(value, field, tracker)
    if result < 0:
        raise ValidationError(field, "must not be negative")
    return result


def fraction(value: object, field: str) -> Decimal:
    """A rate that is a share of something, so it must lie in 0..1 (1 = 100%)."""
    result = to_decimal(value, field)
    if not ZERO <= result <= ONE:
        raise ValidationError(field, "must be between 0 and 1 (1 = 100%)")
    return result


def a_date(value: object, field: str) -> date:
    if not isinstance(value, date):
        raise ValidationError(field, "must be a date")
    return value


def unit_for(
    currency: str | None, unit: object, tracker: CurrencyTracker, field: str = "minor_unit"
) -> Decimal:
    """The quantum results are rounded to: an explicit minor unit, else the currency's, else the cent."""
    if currency is not None:
        tracker.see(currency, "currency")
    if unit is not None:
        result = to_decimal(unit, field)
        if result <= 0:
            raise ValidationError(field, "must be greater than zero")
        return result
    if tracker.currency is not None:
        return minor_unit(tracker.currency)
    return DEFAULT_MINOR_UNIT


def on_grid(value: Decimal, unit: Decimal, field: str) -> None:
    if WIDE.remainder(value, unit) != 0:
        raise ValidationError(field, f"must be a whole number of minor units ({unit})")


def round_to(value: Decimal, unit: Decimal, rounding: str) -> Decimal:
    """Round to a whole number of `unit` (which need not be a power of ten, e.g. 0.05)."""
    units = WIDE.divide(value, unit).to_integral_value(rounding=rounding, context=WIDE)
    return WIDE.multiply(units, unit)
