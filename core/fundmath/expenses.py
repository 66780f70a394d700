"""Fund expenses (formation, legal, administration, bank fees): who bears how much.

A fund expense is the pool's, so it is charged to the partners pro rata to their commitments, by
allocate()'s largest remainder: the shares sum to the expense exactly. What an investor pays for it
is contributed capital: it goes into their contributions in the waterfall and is returned before any
carry (core.fundmath.carry takes pool-level expenses as `expenses`, or allocated into deals). Pass
the GP commitment among `commitments` when the pool's terms have it bear its share.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TypeVar

from core.errors import ValidationError
from core.fundmath._common import CurrencyTracker, non_negative, on_grid, unit_for
from core.fundmath.allocation import allocate

K = TypeVar("K")


def fund_expense_shares(
    expense: object,
    commitments: Mapping[K, object],
    *,
    currency: str | None = None,
    minor_unit: object = None,
) -> dict[K, Decimal]:
    """Each partner's share of `expense`, pro rata to `commitments`, in whole minor units summing exactly."""
    tracker = CurrencyTracker()
    total = non_negative(expense, "expense", tracker)
    if not isinstance(commitments, Mapping):
        raise ValidationError("commitments", "must map each investor to their commitment")
    weights = {key: non_negative(value, "commitments", tracker) for key, value in commitments.items()}
    unit = unit_for(currency, minor_unit, tracker)
    on_grid(total, unit, "expense")
    if total and not any(weights.values()):
        raise ValidationError("commitments", "must not all be zero when there is an expense to share")
    return allocate(total, weights, unit)
