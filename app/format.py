"""The one formatting module of the pages: core.formatting's conventions, plus table columns.

Tables keep numbers as numbers (sortable, exact when copied) and configure how they show: money
with its currency and precision, multiples as 1.52x, rates as percentages, dates as 2027-03-07,
and "n/a" where a figure does not exist.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import streamlit as st

from core.formatting import NA, count, day, money, multiple, percent
from core.money import MINOR_UNITS

__all__ = [
    "NA",
    "count",
    "date_column",
    "day",
    "money",
    "money_column",
    "multiple",
    "multiple_column",
    "multiple_value",
    "percent",
    "percent_column",
    "rate_value",
]

_PRESETS = {"USD": "dollar", "EUR": "euro", "JPY": "yen"}


def money_column(label: str, currency: str, **options: Any) -> Any:
    """An amount column: the currency's symbol (or its code in the label) and its decimals."""
    preset = _PRESETS.get(currency)
    if preset:
        return st.column_config.NumberColumn(label, format=preset, **options)
    places = MINOR_UNITS.get(currency, 2)
    return st.column_config.NumberColumn(f"{label} ({currency})", format=f"%,.{places}f", **options)


def multiple_column(label: str, **options: Any) -> Any:
    return st.column_config.NumberColumn(label, format="%.2fx", **options)


def multiple_value(value: Decimal | None) -> Decimal | None:
    """A multiple for a multiple_column: to the two places it shows (1.547012 -> 1.55), so what a
    copied cell holds is what was read; None stays None (the table's n/a)."""
    return None if value is None else value.quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def rate_value(value: Decimal | None, decimals: int = 2) -> Decimal | None:
    """A rate (a fraction) for a percent_column, to `decimals` places of a percent (0.321843 ->
    0.3218, shown 32.18%), as the analyst's tables show rates: what a copied cell holds is what was
    read."""
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-(decimals + 2)), ROUND_HALF_EVEN)


def percent_column(label: str, **options: Any) -> Any:
    """A rate stored as a fraction (0.2641) shown as 26.41%."""
    return st.column_config.NumberColumn(label, format="percent", **options)


def date_column(label: str, **options: Any) -> Any:
    return st.column_config.DateColumn(label, format="YYYY-MM-DD", **options)
