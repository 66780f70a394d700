"""Splitting money across investors so the parts always sum to the whole, to the minor unit.

allocate() is the one largest-remainder rule used for capital calls, fees and distributions:
1. every key gets the floor of its exact pro-rata share, in whole minor units;
2. the units left over go one each to the keys with the largest remainders; ties go to the larger
   weight, then to the key whose str() sorts first. A key with zero weight never gets a unit.
So each part differs from its exact share by less than one minor unit and the parts sum to the
total exactly. A negative total is split symmetrically: allocate(-t, w) == -allocate(t, w).
The arithmetic is on Python integers in minor units, so 100,000 investors take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from itertools import chain, repeat
from operator import add, itemgetter
from typing import TypeVar, cast

import numpy as np

from core.errors import ValidationError
from core.fundmath._common import (
    WIDE,
    ZERO,
    CurrencyTracker,
    amount,
    non_negative,
    on_grid,
    round_to,
    unit_for,
)

K = TypeVar("K")
_INT64_MAX = 2**63 - 1


def _weights(values: list[object], field: str, tracker: CurrencyTracker) -> list[Decimal]:
    """The weights as Decimals, checked.

    The fast path takes a list of finite, non-negative Decimals and lets the passes it makes anyway
    do the checking: Decimal addition refuses floats and strings, and Decimal.is_signed (the check
    for a negative weight) refuses anything but a Decimal. Everything else, bools and ints included,
    goes through non_negative(), which converts ints and refuses the rest naming `field`.
    """
    decimals = cast("list[Decimal]", values)  # if they are not, the arithmetic raises: the slow path
    try:
        total = sum(decimals, ZERO)
        if type(total) is not Decimal or not total.is_finite():
            raise TypeError
        if any(map(Decimal.is_signed, decimals)):  # a negative (or -0) weight: let the slow path judge
            raise TypeError
        return decimals
    except (TypeError, InvalidOperation):
        return [non_negative(v, field, tracker) for v in values]


def _integers(values: list[Decimal]) -> list[int]:
    """Exact integers proportional to the weights: all scaled by 10**places of the finest weight.

    The exponent of an exact Decimal sum is the smallest exponent among its terms.
    """
    with localcontext(WIDE):
        places = max(0, -sum(values, ZERO).as_tuple().exponent)  # type: ignore[operator]
        scale = Decimal(10**places)
        ints = list(map(int, map(scale.__mul__, values)))
        if sum(ints) != sum(values, ZERO) * scale:  # only when a weight has more digits than WIDE keeps
            raise ValidationError("weights", "have too many significant digits")
    return ints


def _largest_remainder(units: int, ints: list[int], keys: Sequence[object]) -> list[int]:
    """Whole units per key: floor of the exact share, then one more each by the documented order.

    numpy's int64 does the bulk arithmetic when the products fit, Python's exact integers otherwise;
    both give the same answer.
    """
    weight_sum = sum(ints)
    if units * max(ints) <= _INT64_MAX and weight_sum <= _INT64_MAX:
        weights = np.array(ints, dtype=np.int64)
        quotients, remainders = np.divmod(weights * units, weight_sum)
        parts: list[int] = quotients.tolist()
        left = units - sum(parts)
        if not left:
            return parts
        rests: list[int] = remainders.tolist()
        order: list[int] = np.lexsort((-weights, -remainders)).tolist()
    else:
        pairs = list(map(divmod, map(units.__mul__, ints), repeat(weight_sum)))
        parts = list(map(itemgetter(0), pairs))
        left = units - sum(parts)
        if not left:
            return parts
        rests = list(map(itemgetter(1), pairs))
        span = max(ints) + 1  # one integer per key orders by remainder, then weight
        rank = list(map(add, map(span.__mul__, rests), ints))
        order = sorted(range(len(ints)), key=rank.__getitem__, reverse=True)

    def rank_of(i: int) -> tuple[int, int]:
        return rests[i], ints[i]

    cutoff = rank_of(order[left - 1])
    first, last = left - 1, left
    while first > 0 and rank_of(order[first - 1]) == cutoff:
        first -= 1
    while last < len(order) and rank_of(order[last]) == cutoff:
        last += 1
    tied = sorted(order[first:last], key=lambda i: str(keys[i]))  # exact ties: str(key) ascending
    for i in chain(order[:first], tied[: left - first]):
        parts[i] += 1
    return parts


def allocate(total: object, weights: Mapping[K, object], minor_unit: object = None) -> dict[K, Decimal]:
    """Split `total` by `weights` into whole minor units by largest remainder (see module doc).

    The minor unit is `minor_unit` if given, else that of the currency of the Money passed in
    (Money(5, "JPY") is split into whole yen), else 0.01. `total` must be a whole number of minor
    units; every part is a multiple of the unit, stated with the unit's exponent (0.00, not 0).
    Zero total gives zeros; a non-zero total over weights that are all zero (or none) is refused.
    """
    tracker = CurrencyTracker()
    total_ = amount(total, "total", tracker)
    keys = list(weights)
    values = _weights(list(weights.values()), "weights", tracker)
    unit = unit_for(None, minor_unit, tracker)
    on_grid(total_, unit, "total")
    if total_ == 0:
        return dict.fromkeys(keys, ZERO * unit)
    ints = _integers(values)
    if not any(ints):
        raise ValidationError("weights", "must not all be zero when there is an amount to allocate")

    parts = _largest_remainder(int(WIDE.divide(abs(total_), unit)), ints, keys)
    with localcontext(WIDE):
        amounts = map(unit.__mul__, parts)
        if total_ < 0:
            amounts = map(Decimal.__neg__, amounts)
        return dict(zip(keys, amounts, strict=True))


def scale_down(
    requests: Mapping[K, object],
    capacity: object,
    min_ticket: object = ZERO,
    minor_unit: object = None,
) -> dict[K, Decimal]:
    """Cut oversubscribed requests pro rata to fit `capacity`; nobody is ever raised.

    When the requests fit, they are returned unchanged. Otherwise everyone gets allocate()'s share
    of the capacity by request, except that a request whose share would fall under min_ticket is
    dropped to zero and its share goes to the others: the smallest requests are dropped first (all
    requests of the same amount together), until the smallest remaining share reaches min_ticket
    (rounded up to the minor unit). If the remaining requests then fit, they are accepted in full
    and the rest of the capacity stays unused. The result never exceeds capacity or any request.

    The minor unit is chosen as in allocate() (explicit, else the Money's currency, else 0.01), and
    every amount returned, whether kept, cut or dropped, is stated with the unit's exponent: with a
    cent, 100 comes back as 100.00 and a dropped request as 0.00, never as 100 or 0.
    """
    tracker = CurrencyTracker()
    cap = non_negative(capacity, "capacity", tracker)
    ticket = non_negative(min_ticket, "min_ticket", tracker)
    asked = {key: non_negative(value, "requests", tracker) for key, value in requests.items()}
    unit = unit_for(None, minor_unit, tracker)
    floor = round_to(ticket, unit, ROUND_CEILING)
    for value in asked.values():
        on_grid(value, unit, "requests")
    on_grid(cap, unit, "capacity")
    with localcontext(WIDE):
        remaining = sum(asked.values(), ZERO)
        if remaining <= cap:
            return _in_units(asked, unit)
        count: dict[Decimal, int] = {}
        for value in asked.values():
            count[value] = count.get(value, 0) + 1
        survivors_from = None
        for level in sorted(count):
            if level > 0 and level * min(cap, remaining) >= floor * remaining:
                survivors_from = level
                break
            remaining -= level * count[level]
    result = dict.fromkeys(asked, ZERO * unit)
    if survivors_from is None:
        return result
    kept = {key: value for key, value in asked.items() if value >= survivors_from}
    result.update(_in_units(kept, unit) if remaining <= cap else allocate(cap, kept, unit))
    return result


def _in_units(amounts: dict[K, Decimal], unit: Decimal) -> dict[K, Decimal]:
    """The same amounts (already whole minor units) stated with the unit's exponent, like allocate's."""
    return {key: value.quantize(unit, context=WIDE) for key, value in amounts.items()}
