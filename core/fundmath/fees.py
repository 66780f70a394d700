"""Management fees: rate x basis x days / 365, the way fund administrators accrue them.

Conventions (documented because every LPA states them and investors check them):
- Accrual period: from and including period_start to but excluding period_end (the ISDA
  convention), so a calendar year is period_start=2023-01-01, period_end=2024-01-01, 365 days.
  Days are counted actual/365 fixed, so a 366-day leap year accrues 366/365 of the annual rate.
- Investment period: days before investment_period_end are charged on committed capital at
  `rate`; days from investment_period_end on are charged on invested capital at step_down_rate
  (or `rate` when there is no step-down). A period straddling that date is split at it.
  basis="committed" or basis="invested" charges one basis throughout (the step-down still applies).
- Rounding: the exact fee for the whole period is rounded half up to the minor unit once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from core.errors import ValidationError
from core.fundmath._common import (
    DAYS_PER_YEAR,
    WIDE,
    ZERO,
    CurrencyTracker,
    a_date,
    fraction,
    non_negative,
    round_to,
    unit_for,
)
from core.money import ROUNDING

FeeBasis = Literal["committed_then_invested", "committed", "invested"]
_BASES = ("committed_then_invested", "committed", "invested")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeTerms:
    """A pool's fee terms: annual rate (0.02 = 2%), basis, optional step-down after the investment period."""

    rate: Decimal
    basis: FeeBasis = "committed_then_invested"
    step_down_rate: Decimal | None = None
    investment_period_end: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", fraction(self.rate, "rate"))
        if self.step_down_rate is not None:
            object.__setattr__(self, "step_down_rate", fraction(self.step_down_rate, "step_down_rate"))
        if self.basis not in _BASES:
            raise ValidationError("basis", f"must be one of {', '.join(_BASES)}")
        if self.investment_period_end is not None:
            a_date(self.investment_period_end, "investment_period_end")


def management_fee(
    terms: FeeTerms,
    period_start: date,
    period_end: date,
    committed: object,
    invested: object = ZERO,
    *,
    currency: str | None = None,
    minor_unit: object = None,
) -> Decimal:
    """The fee for [period_start, period_end) on constant committed / invested capital (see module doc).

    Split a period yourself where commitments or investments change; the minor unit is that of
    `currency` (or of the Money passed in), else 0.01.
    """
    if not isinstance(terms, FeeTerms):
        raise ValidationError("terms", "must be FeeTerms")
    start = a_date(period_start, "period_start")
    end = a_date(period_end, "period_end")
    if end < start:
        raise ValidationError("period_end", "must not be before period_start")
    tracker = CurrencyTracker()
    committed_ = non_negative(committed, "committed", tracker)
    invested_ = non_negative(invested, "invested", tracker)
    unit = unit_for(currency, minor_unit, tracker)

    switch = terms.investment_period_end
    split = end if switch is None else min(max(switch, start), end)
    later_rate = terms.rate if terms.step_down_rate is None else terms.step_down_rate
    during_basis, after_basis = {
        "committed_then_invested": (committed_, invested_),
        "committed": (committed_, committed_),
        "invested": (invested_, invested_),
    }[terms.basis]
    during = WIDE.multiply(WIDE.multiply(terms.rate, during_basis), (split - start).days)
    after = WIDE.multiply(WIDE.multiply(later_rate, after_basis), (end - split).days)
    return round_to(WIDE.divide(WIDE.add(during, after), DAYS_PER_YEAR), unit, ROUNDING)
