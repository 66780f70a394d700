"""Returns: XIRR/XNPV (Excel-compatible, actual/365) and the multiples investors judge a fund by.

The rate is solved by pyxirr in floating point (it is a rate, not money); amounts are summed as
Decimals. xirr(), xirr_columns() and portfolio_metrics() share one code path (_flow_stats), so the
portfolio page, the explorer, the statements and the benchmark all compute the same figure the same
way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

import pyxirr

from core.errors import ValidationError
from core.fundmath._common import DAYS_PER_YEAR, WIDE, ZERO, CurrencyTracker, a_date, amount, non_negative
from core.money import ROUNDING, to_decimal

K = TypeVar("K")
Flow = tuple[date, Decimal]

# Multiples are stated to 10 decimal places (half up) so that TVPI = DPI + RVPI holds exactly.
MULTIPLE_QUANTUM = Decimal("1e-10")
_DATE, _AMOUNT = itemgetter(0), itemgetter(1)
_PAID_IN = Decimal.is_signed  # negative (or -0): money in; a TypeError for anything but a Decimal
_ORDINAL = date.toordinal  # a TypeError for anything but a date: pyxirr itself would read an ISO string
_SOLVER_LOW, _SOLVER_HIGH = Decimal(1), Decimal(10**9)


@dataclass(frozen=True, slots=True)
class Multiples:
    """TVPI, DPI and RVPI; each None when nothing has been paid in (a ratio to zero means nothing)."""

    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None


class InvestorMetrics(NamedTuple):
    """One investor's returns as the portfolio page shows them (a NamedTuple: cheap to build 100k)."""

    paid_in: Decimal
    distributed: Decimal
    nav: Decimal
    irr: Decimal | None
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return (numerator / denominator).quantize(MULTIPLE_QUANTUM, ROUNDING)


def _ratios(paid_in: Decimal, distributed: Decimal, nav: Decimal) -> tuple[Decimal | None, ...]:
    """(tvpi, dpi, rvpi); must run in the WIDE context."""
    if paid_in == 0:
        return None, None, None
    dpi = _ratio(distributed, paid_in)
    rvpi = _ratio(nav, paid_in)
    return dpi + rvpi, dpi, rvpi


def multiples(paid_in: object, distributed: object, nav: object) -> Multiples:
    """TVPI = DPI + RVPI exactly: DPI and RVPI are each rounded half up to 10 places, TVPI is their sum."""
    values = (paid_in, distributed, nav)
    # Ledger sums (finite, non-negative Decimals) as they are; anything else is checked by field.
    if not all(type(v) is Decimal and v.is_finite() and v >= 0 for v in values):
        tracker = CurrencyTracker()
        values = (
            non_negative(paid_in, "paid_in", tracker),
            non_negative(distributed, "distributed", tracker),
            non_negative(nav, "nav", tracker),
        )
    with localcontext(WIDE):
        return Multiples(*_ratios(*values))  # type: ignore[arg-type]


def moic(cost: object, value: object) -> Decimal | None:
    """Multiple on invested capital of one investment (value / cost, 10 places); None at zero cost."""
    tracker = CurrencyTracker()
    cost_ = non_negative(cost, "cost", tracker)
    value_ = non_negative(value, "value", tracker)
    if cost_ == 0:
        return None
    with localcontext(WIDE):
        return _ratio(value_, cost_)


def _listed(flows: object, field: str) -> list:
    try:
        return list(flows)  # type: ignore[call-overload]
    except TypeError:
        raise ValidationError(field, "must be a list of (date, amount) pairs") from None


def _checked_flows(flows: object, field: str) -> tuple[list[Flow], CurrencyTracker]:
    """The slow path: every pair unpacked and every date and amount checked, naming `field`."""
    tracker = CurrencyTracker()
    checked = []
    for pair in _listed(flows, field):
        try:
            when, value = pair
        except (TypeError, ValueError):
            raise ValidationError(field, "must be (date, amount) pairs") from None
        checked.append((a_date(when, field), amount(value, field, tracker)))
    return checked, tracker


def _flow_stats(
    flows: Iterable[Any], field: str, days: list | None = None
) -> tuple[list, list | None, Decimal, Decimal, str | None]:
    """The flows as pyxirr can read them, their paid-in and distributed totals, and their currency.
    `flows` are (date, amount) pairs, or, with `days`, the amounts alone, a day for each (as the
    ledger's read model returns them): they come back in the same form, (flows, days, ...).

    The fast path takes lists of (date, Decimal) (or a list of Decimals and one of dates) and builds
    no per-flow objects; its checks ride on passes it makes anyway. Decimal plus a float or a string
    raises TypeError; Decimal.is_signed, which picks out the money paid in, raises TypeError for
    anything but a Decimal (so bools, and ints too, take the slow path, which converts ints and
    refuses bools); every date must be a date (date.toordinal raises TypeError for a string; a
    datetime passes, as the slow path would pass it on unchanged). A NaN or an infinity makes the
    sum non-finite, a signalling NaN raises. Anything else (Money, ints, bad input) goes through the
    slow path, which names `field`. Must run in the WIDE context, where the sums are exact.
    """
    listed = flows if type(flows) is list else _listed(flows, field)
    if days is not None:
        try:
            same = len(days) == len(listed)
        except TypeError:
            raise ValidationError(field, "must be two lists, the days and the amounts") from None
        if not same:
            raise ValidationError(field, "must have a date for every amount")
    amounts = (lambda: map(_AMOUNT, listed)) if days is None else (lambda: iter(listed))
    tracker = None
    try:
        net = sum(amounts(), ZERO)
        paid_in = -sum(filter(_PAID_IN, amounts()), ZERO)
        sum(map(_ORDINAL, map(_DATE, listed) if days is None else days))  # cheaper than a set of types
    except (TypeError, IndexError, KeyError):
        pairs, tracker = _checked_flows(listed if days is None else zip(days, listed, strict=True), field)
        checked = list(map(_AMOUNT, pairs))
        net = sum(checked, ZERO)
        paid_in = -sum(filter(ZERO.__gt__, checked), ZERO)
        listed, days = (pairs, None) if days is None else (checked, list(map(_DATE, pairs)))
    except InvalidOperation:
        raise ValidationError(field, "amounts must be finite numbers") from None
    if not net.is_finite():
        raise ValidationError(field, "amounts must be finite numbers")
    return listed, days, paid_in, net + paid_in, tracker.currency if tracker else None


def _solve(flows: list, paid_in: Decimal, days: list | None = None, field: str = "flows") -> Decimal | None:
    """The rate from pyxirr of (date, amount) pairs, or of amounts with their `days`; None when there
    is none.

    pyxirr tests convergence on the NPV in currency units, so a book far from unit size (a few
    cents, or trillions) is solved per unit paid in instead: the rate does not depend on scale.
    """
    if not _SOLVER_LOW <= paid_in <= _SOLVER_HIGH:
        flows = [(d, a / paid_in) for d, a in flows] if days is None else [a / paid_in for a in flows]
    try:
        rate = pyxirr.xirr(flows, silent=True) if days is None else pyxirr.xirr(days, flows, silent=True)
    except (TypeError, ValueError, IndexError):
        raise ValidationError(field, "could not be read as (date, amount) pairs") from None
    if rate is None or not math.isfinite(rate):
        return None
    return Decimal(repr(rate))


def xirr(flows: Iterable[Flow]) -> Decimal | None:
    """Annualised internal rate of return of dated flows (negative = paid in), actual/365 like Excel.

    Returns None, not 0 and not an exception, when no rate exists: no flows, all one sign, all zero.
    """
    with localcontext(WIDE):
        pairs, _, paid_in, distributed, _ = _flow_stats(flows, "flows")
    if paid_in == 0 or distributed == 0:
        return None
    return _solve(pairs, paid_in)


def xirr_columns(days: list[date], amounts: list[Decimal]) -> Decimal | None:
    """xirr() of flows given as two lists, a day for every amount: how the read model returns a
    pool's flows, so thousands of pools' flows are never paired up."""
    with localcontext(WIDE):
        checked, dated, paid_in, distributed, _ = _flow_stats(amounts, "flows", days)
    if paid_in == 0 or distributed == 0:
        return None
    return _solve(checked, paid_in, dated)


def xnpv(rate: object, flows: Iterable[Flow]) -> Decimal:
    """Net present value at an annual rate, discounted actual/365 to the earliest date (Excel XNPV).

    Computed in Decimal (not through pyxirr) so an amount stays exact; the result is unrounded.
    """
    rate_ = to_decimal(rate, "rate")
    if rate_ <= -1:
        raise ValidationError("rate", "must be greater than -1 (-100%)")
    pairs, _ = _checked_flows(flows, "flows")
    if not pairs:
        return ZERO
    start = min(d for d, _ in pairs)
    base = WIDE.add(1, rate_)
    total = ZERO
    for d, a in pairs:
        years = WIDE.divide(Decimal((d - start).days), DAYS_PER_YEAR)
        total = WIDE.add(total, WIDE.divide(a, WIDE.power(base, years)))
    return +total


def portfolio_metrics(
    flows: Mapping[K, Iterable[Flow]], navs: Mapping[K, object], on: date
) -> dict[K, InvestorMetrics]:
    """IRR and multiples for many investors at once: the bulk path for portfolio pages and jobs.

    Each investor's IRR treats the NAV as a final distribution on `on` (the standard interim IRR);
    an investor missing from navs has NAV 0. Same code as xirr() and multiples(), one loop.
    """
    a_date(on, "on")
    result: dict[K, InvestorMetrics] = {}
    with localcontext(WIDE):
        for key, investor_flows in flows.items():
            pairs, _, paid_in, distributed, currency = _flow_stats(investor_flows, "flows")
            nav = navs.get(key, ZERO)
            if type(nav) is not Decimal or not nav.is_finite() or nav < 0:
                nav = non_negative(nav, "navs", CurrencyTracker(currency))
            if paid_in == 0:
                result[key] = InvestorMetrics(paid_in, distributed, nav, None, None, None, None)
                continue
            irr = None
            if distributed or nav:
                irr = _solve([*pairs, (on, nav)] if nav else pairs, paid_in)
            result[key] = InvestorMetrics(paid_in, distributed, nav, irr, *_ratios(paid_in, distributed, nav))
    return result
