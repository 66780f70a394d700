"""How figures read, the same on every page and in every file: money, dates, multiples, rates, n/a.

Plain text (messages, notices, CSV cells that must read as text); tables keep numbers as numbers
and take the same conventions from app.format. Money shows its currency's symbol or code and
never more decimals than the currency has; dates are ISO 8601 (2027-03-07), which no reader in
any country misreads; a figure that does not exist is "n/a", never 0 or a blank.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.money import MINOR_UNITS, quantize

NA = "n/a"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(amount: Decimal | None, currency: str) -> str:
    """$1,234.50, -€10.00, 1,234.50 CHF; n/a for none."""
    if amount is None:
        return NA
    value = quantize(amount, currency)
    digits = f"{abs(value):,.{MINOR_UNITS.get(currency, 2)}f}"
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def day(value: date | None) -> str:
    return NA if value is None else value.isoformat()


def multiple(value: Decimal | None) -> str:
    """A multiple such as TVPI: 1.52x; n/a when there is none (nothing paid in), never 0.00x."""
    return NA if value is None else f"{value:.2f}x"


def percent(fraction: Decimal | None, places: int = 1) -> str:
    """A rate given as a fraction (0.2641 -> 26.4%); n/a when it cannot be computed, never 0%."""
    return NA if fraction is None else f"{fraction * 100:.{places}f}%"


def count(n: int, one: str, many: str | None = None) -> str:
    """1 investor, 2 investors, 1,204 investors."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
