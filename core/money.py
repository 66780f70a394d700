"""Money: a Decimal amount in one currency, exact to that currency's minor unit.

Floats never become money: they are refused at the door, because 0.1 + 0.2 is not 0.3.
Rounding happens only where code asks for it, with the one explicit mode below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import CurrencyMismatch, ValidationError

# ISO 4217 minor units of the currencies pools may be raised in.
MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SGD": 2,
    "HKD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "JPY": 0,
    "KWD": 3,
}

# Half-up is what investors expect on a statement ("0.005 rounds up"); allocation across
# investors never relies on it, it uses largest remainder (see core.fundmath.allocate).
ROUNDING = ROUND_HALF_UP

# The ledger stores NUMERIC(20, 4): anything larger is refused as absurd rather than truncated.
MAX_AMOUNT = Decimal("1e15")


def check_currency(currency: object, field: str = "currency") -> str:
    if currency is None or currency == "":
        raise ValidationError(field, "is needed")  # never "unknown currency 'None'"
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        raise ValidationError(field, f"unknown currency {str(currency)[:12]!r}")
    return currency


# Built once: a page quantizes tens of thousands of amounts (a fund of funds' portfolio).
_MINOR_UNIT = {currency: Decimal(1).scaleb(-places) for currency, places in MINOR_UNITS.items()}


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency, e.g. Decimal('0.01') for USD, Decimal('1') for JPY."""
    return _MINOR_UNIT[check_currency(currency)]


def quantize(amount: Decimal, currency: str, rounding: str = ROUNDING) -> Decimal:
    """Round an exact intermediate result to the currency's minor unit: the one named place it happens."""
    return amount.quantize(minor_unit(currency), rounding=rounding)


_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def to_decimal(value: object, field: str) -> Decimal:
    """A finite Decimal from a Decimal, int or numeric string; floats and garbage are refused.

    Text must be a plain decimal number (thousands separators allowed): "1e9" is refused rather
    than read as a billion, because nobody types an amount that way on purpose."""
    if isinstance(value, (bool, float)):
        raise ValidationError(field, "must be given as a decimal string or Decimal, not a float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        if not text:
            raise ValidationError(field, "is required")
        if len(text) > 40:
            raise ValidationError(field, "is not a number")
        if not _PLAIN.fullmatch(text):
            if re.fullmatch(r"[+-]?[\d.]+[eE][+-]?\d+", text):
                raise ValidationError(
                    field, "must be written out in digits (1e9 and the like are not accepted)"
                )
            raise ValidationError(field, "is not a number")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValidationError(field, "is not a number") from None
    else:
        raise ValidationError(field, "is not a number")
    if not result.is_finite():
        raise ValidationError(field, "must be a finite number")
    return result


def parse_amount(value: object, currency: str, field: str, *, allow_zero: bool = False) -> Decimal:
    """User input to an exact amount: positive, not over-precise, not absurd."""
    amount = to_decimal(value, field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError(
            field, "must be greater than zero" if not allow_zero else "must not be negative"
        )
    if amount >= MAX_AMOUNT:
        raise ValidationError(field, "is too large")
    if amount != quantize(amount, currency):
        places = MINOR_UNITS[currency]
        raise ValidationError(
            field, f"has more than {places} decimal places for {currency}", places=places, currency=currency
        )
    return quantize(amount, currency)


def _quantize_or_refuse(amount: Decimal, currency: str, rounding: str) -> Decimal:
    """quantize, with an amount too large for exact Decimal arithmetic (more significant digits
    than the context holds, e.g. 1e30 in cents) refused by name instead of as InvalidOperation."""
    try:
        return quantize(amount, currency, rounding)
    except InvalidOperation:
        raise ValidationError("amount", "is too large") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float) or not isinstance(self.amount, (Decimal, int)):
            raise TypeError("Money amount must be a Decimal or int, never a float")
        check_currency(self.currency)
        amount = Decimal(self.amount)
        if not amount.is_finite():
            raise ValidationError("amount", "must be a finite number")
        exact = _quantize_or_refuse(amount, self.currency, ROUNDING)
        if amount != exact:
            raise ValidationError(
                "amount", f"{amount} is more precise than {self.currency} allows; round it first"
            )
        object.__setattr__(self, "amount", exact)

    @classmethod
    def rounded(cls, amount: Decimal, currency: str) -> Money:
        """Money from an exact intermediate (a fee accrual, a percentage), rounded by ROUNDING."""
        if isinstance(amount, float):
            raise TypeError("Money amount must be a Decimal or int, never a float")
        amount = Decimal(amount)
        if not amount.is_finite():
            raise ValidationError("amount", "must be a finite number")
        return cls(_quantize_or_refuse(amount, currency, ROUNDING), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def times(self, factor: Decimal) -> Money:
        """Scale by an exact factor (a percentage, a rate) and round once."""
        if isinstance(factor, float):
            raise TypeError("factor must be a Decimal, never a float")
        return Money.rounded(self.amount * factor, self.currency)

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,}"
