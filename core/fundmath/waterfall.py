"""The distribution waterfall for one investor class: the one engine behind both models.

waterfall() is the European (whole-fund) waterfall. The American (deal-by-deal) model, the escrow
and the clawback are in core.fundmath.carry, which runs this same engine once per deal.

Tiers, in order, on cumulative distributions since the first close:
1. return of capital: everything to the LP until it has its contributions back;
2. preferred return: everything to the LP until it has the hurdle on each contribution, from the
   contribution's date to `on`, actual/365, by the terms' hurdle_accrual: "compound" (annually,
   the default) c x ((1 + h) ** (days / 365) - 1), or "simple" c x h x days / 365;
3. GP catch-up: the GP takes `catch_up_rate` of each unit (the LP the rest) until the GP holds
   `carry_rate` of all profit distributed (profit = distributions above contributed capital);
   a catch-up rate at or below the carry rate can never catch up, so the tier then takes all the rest;
4. split: carry_rate to the GP, the rest to the LP.

No contributions (or all of them zero) means no capital to return and no preferred return to
accrue: every unit distributed is profit, tiers 1 to 3 are empty (there is no pref for the GP to
catch up on), and the split pays the GP carry_rate of all of it, e.g. 100 with 20% carry is LP 80,
GP 20, whatever the hurdle and catch-up. The GP then holds exactly its carry share of profit.

Earlier distributions count against tiers 1 and 2 first: the new proceeds continue the cumulative
waterfall from where the earlier ones left it. With prior_gp_distributions, the GP's part is also
capped at its entitlement on everything distributed so far less what it has received: capital
called after carry was paid can make that carry too much, and then the GP takes nothing more until
the cumulative figures allow it (the clawback settles the excess at the wind-down). prior_distributions are what the LP received; pass
prior_gp_distributions (what the GP received) and that point is known exactly. Without them it is
inferred from the LP's receipts under these same terms; the one point the LP's receipts cannot
tell apart is a 100% catch-up when the LP holds exactly capital + pref, and there the GP is taken
to have received no catch-up yet.

Rounding: tier boundaries are computed exactly and their running totals rounded half up to the
minor unit (the last one is `proceeds` itself); the GP's running total is rounded down and each
tier's GP amount is the step in it (never more than the tier); the LP takes the rest of each tier.
So every amount is in minor units, LP + GP = proceeds exactly, and rounding never gives the GP
more than its exact entitlement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Literal

from core.errors import ValidationError
from core.fundmath._common import (
    DAYS_PER_YEAR,
    ONE,
    WIDE,
    ZERO,
    CurrencyTracker,
    a_date,
    fraction,
    non_negative,
    on_grid,
    round_to,
    unit_for,
)
from core.money import ROUNDING, to_decimal

# GP amounts are snapped to this before rounding down, so 0.99999...(from a division) that is
# really 1.00 is not floored to 0.99.
_SNAP = Decimal("1e-30")

WaterfallModel = Literal["european", "american"]
HurdleAccrual = Literal["compound", "simple"]
MODELS: tuple[str, ...] = ("european", "american")
ACCRUALS: tuple[str, ...] = ("compound", "simple")


@dataclass(frozen=True, slots=True, kw_only=True)
class WaterfallTerms:
    """A pool's distribution terms; rates are Decimal fractions (0.08 = 8%, catch-up 1 = 100%).

    model: "european" (whole pool) or "american" (deal by deal, see core.fundmath.carry).
    escrow_rate: the share of each carry payment held back until the clawback risk clears.
    recover_prior_losses (American only): a deal's waterfall also returns the capital that earlier,
    fully realized deals lost, before any carry is paid on it.
    waterfall() itself reads only the hurdle, its accrual, the catch-up and the carry.
    """

    hurdle_rate: Decimal = ZERO
    catch_up_rate: Decimal = ZERO
    carry_rate: Decimal
    hurdle_accrual: HurdleAccrual = "compound"
    model: WaterfallModel = "european"
    escrow_rate: Decimal = ZERO
    recover_prior_losses: bool = False

    def __post_init__(self) -> None:
        hurdle = to_decimal(self.hurdle_rate, "hurdle_rate")
        if hurdle < 0:
            raise ValidationError("hurdle_rate", "must not be negative")
        object.__setattr__(self, "hurdle_rate", hurdle)
        object.__setattr__(self, "catch_up_rate", fraction(self.catch_up_rate, "catch_up_rate"))
        object.__setattr__(self, "carry_rate", fraction(self.carry_rate, "carry_rate"))
        object.__setattr__(self, "escrow_rate", fraction(self.escrow_rate, "escrow_rate"))
        _one_of(self.hurdle_accrual, ACCRUALS, "hurdle_accrual")
        _one_of(self.model, MODELS, "model")
        if not isinstance(self.recover_prior_losses, bool):
            raise ValidationError("recover_prior_losses", "must be True or False")


def _one_of(value: object, names: tuple[str, ...], field: str) -> None:
    if not isinstance(value, str) or value not in names:
        raise ValidationError(field, f"must be one of {', '.join(names)}")


@dataclass(frozen=True, slots=True)
class WaterfallTier:
    name: str
    lp: Decimal
    gp: Decimal


_TIER_FIELDS = (
    "return_of_capital_lp",
    "return_of_capital_gp",
    "preferred_return_lp",
    "preferred_return_gp",
    "catch_up_lp",
    "catch_up_gp",
    "split_lp",
    "split_gp",
)


@dataclass(frozen=True, slots=True)
class WaterfallResult:
    """How `proceeds` are split, tier by tier; lp_total + gp_total == proceeds."""

    return_of_capital_lp: Decimal
    return_of_capital_gp: Decimal
    preferred_return_lp: Decimal
    preferred_return_gp: Decimal
    catch_up_lp: Decimal
    catch_up_gp: Decimal
    split_lp: Decimal
    split_gp: Decimal
    lp_total: Decimal
    gp_total: Decimal

    @property
    def proceeds(self) -> Decimal:
        return self.lp_total + self.gp_total

    @property
    def tiers(self) -> list[WaterfallTier]:
        """The four tiers in order, for a distribution notice."""
        return [
            WaterfallTier("return_of_capital", self.return_of_capital_lp, self.return_of_capital_gp),
            WaterfallTier("preferred_return", self.preferred_return_lp, self.preferred_return_gp),
            WaterfallTier("catch_up", self.catch_up_lp, self.catch_up_gp),
            WaterfallTier("split", self.split_lp, self.split_gp),
        ]


class _Schedule:
    """Exact cumulative waterfall: who gets what out of the first `total` units distributed."""

    def __init__(self, terms: WaterfallTerms, capital: Decimal, preferred: Decimal) -> None:
        self.capital = capital
        self.preferred = preferred
        self.catch_up = terms.catch_up_rate
        self.carry = terms.carry_rate
        if self.catch_up == 0 or preferred == 0:
            self.catch_up_size: Decimal | None = ZERO
        elif self.catch_up > self.carry:
            # GP gets r*K and must reach carry * (P + K):  K = carry * P / (r - carry)
            self.catch_up_size = WIDE.divide(WIDE.multiply(self.carry, preferred), self.catch_up - self.carry)
        else:
            self.catch_up_size = None  # never completes

    def tiers(self, total: Decimal) -> list[tuple[Decimal, Decimal]]:
        """(tier amount, GP part) per tier, exact."""
        t1 = min(total, self.capital)
        t2 = min(max(total - self.capital, ZERO), self.preferred)
        above = max(WIDE.subtract(total, self.capital + self.preferred), ZERO)
        t3 = above if self.catch_up_size is None else min(above, self.catch_up_size)
        t4 = WIDE.subtract(above, t3)
        return [
            (t1, ZERO),
            (t2, ZERO),
            (t3, WIDE.multiply(t3, self.catch_up)),
            (t4, WIDE.multiply(t4, self.carry)),
        ]

    def total_for_lp(self, received: Decimal) -> Decimal:
        """The cumulative distribution at which the LP has received `received` (the least such)."""
        reach = self.capital + self.preferred
        if received <= reach:
            return received
        received = WIDE.subtract(received, reach)
        k = self.catch_up_size
        lp_in_catch_up = None if k is None else WIDE.multiply(k, ONE - self.catch_up)
        if k is None or lp_in_catch_up is None or received <= lp_in_catch_up:
            if self.catch_up == 1:
                raise ValidationError("prior_distributions", "exceed what these terms could have paid the LP")
            return WIDE.add(reach, WIDE.divide(received, ONE - self.catch_up))
        if self.carry == 1:
            raise ValidationError("prior_distributions", "exceed what these terms could have paid the LP")
        rest = WIDE.divide(WIDE.subtract(received, lp_in_catch_up), ONE - self.carry)
        return WIDE.add(WIDE.add(reach, k), rest)


def preferred_return(
    hurdle_rate: Decimal,
    contributions: Iterable[tuple[date, Decimal]],
    on: date,
    accrual: HurdleAccrual = "compound",
) -> Decimal:
    """The hurdle on each contribution from its date to `on`, actual/365 (exact).

    "compound" compounds annually, c x ((1 + h) ** (days / 365) - 1); "simple" is c x h x days / 365.
    """
    _one_of(accrual, ACCRUALS, "accrual")
    base = ONE + hurdle_rate
    total = ZERO
    for when, value in contributions:
        if hurdle_rate and value:
            years = WIDE.divide(Decimal((on - when).days), DAYS_PER_YEAR)
            if accrual == "simple":
                accrued = WIDE.multiply(WIDE.multiply(value, hurdle_rate), years)
            else:
                accrued = WIDE.multiply(value, WIDE.power(base, years) - ONE)
            total = WIDE.add(total, accrued)
    return total


def _dated(
    items: object,
    field: str,
    on: date | None,
    tracker: CurrencyTracker,
    on_is: str = "the distribution date",
) -> list[tuple[date, Decimal]]:
    """(date, non-negative amount) pairs, none dated after `on` (when given)."""
    result = []
    try:
        pairs = list(items)  # type: ignore[call-overload]
        for when, value in pairs:
            when = a_date(when, field)
            if on is not None and when > on:
                raise ValidationError(field, f"is dated {when}, after {on_is} {on}")
            result.append((when, non_negative(value, field, tracker)))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(field, "must be a list of (date, amount) pairs") from None
    return result


def waterfall(
    terms: WaterfallTerms,
    contributions: Iterable[tuple[date, Decimal]],
    prior_distributions: Iterable[tuple[date, Decimal]],
    proceeds: object,
    on: date,
    *,
    prior_gp_distributions: Iterable[tuple[date, Decimal]] | None = None,
    currency: str | None = None,
    minor_unit: object = None,
) -> WaterfallResult:
    """Split `proceeds` distributed on `on` between LP and GP; amounts in minor units (see module doc).

    The minor unit is `minor_unit` if given, else that of `currency` or of the Money passed in,
    else 0.01. `proceeds` must be a whole number of minor units. With no contributions all of
    `proceeds` is profit and carry is paid on all of it (see the module doc).
    """
    if not isinstance(terms, WaterfallTerms):
        raise ValidationError("terms", "must be WaterfallTerms")
    on = a_date(on, "on")
    tracker = CurrencyTracker()
    paid = _dated(contributions, "contributions", on, tracker)
    prior = _dated(prior_distributions, "prior_distributions", on, tracker)
    proceeds_ = non_negative(proceeds, "proceeds", tracker)
    unit = unit_for(currency, minor_unit, tracker)
    on_grid(proceeds_, unit, "proceeds")

    with localcontext(WIDE):  # exact intermediates; the only rounding is in _split
        capital = sum((v for _, v in paid), ZERO)
        preferred = preferred_return(terms.hurdle_rate, paid, on, terms.hurdle_accrual)
        schedule = _Schedule(terms, capital, preferred)
        lp_received = sum((v for _, v in prior), ZERO)
        if prior_gp_distributions is None:
            start = schedule.total_for_lp(lp_received)
            return _split(schedule, start, proceeds_, unit)[0]
        gp_prior = _dated(prior_gp_distributions, "prior_gp_distributions", on, tracker)
        gp_received = sum((v for _, v in gp_prior), ZERO)
        start = WIDE.add(lp_received, gp_received)
    return _capped(_split(schedule, start, proceeds_, unit)[0], schedule, start, gp_received, unit)


def _capped(
    result: WaterfallResult, schedule: _Schedule, start: Decimal, gp_received: Decimal, unit: Decimal
) -> WaterfallResult:
    """The GP's part never takes it above its entitlement on everything distributed so far. Capital
    called after carry was paid makes that carry more than the GP's share of the profit to date;
    the LP then takes the GP's part (from the split down) until the GP is back within it. What
    was paid too much before is the clawback's, settled at the wind-down."""
    with localcontext(WIDE):
        entitled = sum((gp for _, gp in schedule.tiers(WIDE.add(start, result.proceeds))), ZERO)
    allowed = max(round_to(entitled, unit, ROUND_FLOOR) - gp_received, ZERO)
    excess = result.gp_total - allowed
    if excess <= 0:
        return result
    amounts = {name: getattr(result, name) for name in _TIER_FIELDS}
    for tier in ("split", "catch_up", "preferred_return", "return_of_capital"):
        moved = min(excess, amounts[f"{tier}_gp"])
        amounts[f"{tier}_gp"] -= moved
        amounts[f"{tier}_lp"] += moved
        excess -= moved
    return WaterfallResult(**amounts, lp_total=result.proceeds - allowed, gp_total=allowed)


def _split(
    schedule: _Schedule,
    start: Decimal,
    proceeds: Decimal,
    unit: Decimal,
    gp_exact: Decimal = ZERO,
    gp_paid: Decimal = ZERO,
) -> tuple[WaterfallResult, Decimal]:
    """Split `proceeds` distributed after the first `start`; also returns the GP's exact share of them.

    The GP's running total is rounded down and each tier's GP amount is the step in it. gp_exact and
    gp_paid are where that total stood before these proceeds, exactly and as paid: waterfall() starts
    each call at zero; a run of exits (core.fundmath.carry) carries them from one exit to the next, so
    the fractions of a minor unit rounded off one exit are paid at a later one, never lost or doubled.
    """
    with localcontext(WIDE):
        before = schedule.tiers(start)
        after = schedule.tiers(WIDE.add(start, proceeds))

        amounts: list[Decimal] = []
        reached = paid_now = ZERO
        exact_total, exact_gp = ZERO, gp_exact
        for index, ((t_before, gp_before), (t_after, gp_after)) in enumerate(zip(before, after, strict=True)):
            exact_total = WIDE.add(exact_total, WIDE.subtract(t_after, t_before))
            exact_gp = WIDE.add(exact_gp, WIDE.subtract(gp_after, gp_before))
            if index == len(after) - 1:
                boundary = proceeds
            else:
                boundary = min(round_to(exact_total, unit, ROUNDING), proceeds)
            tier = boundary - reached
            reached = boundary
            rounded = round_to(exact_gp.quantize(_SNAP, context=WIDE), unit, ROUND_FLOOR)
            gp = max(min(rounded - gp_paid - paid_now, tier), ZERO)
            paid_now += gp
            amounts += [tier - gp, gp]
        increment = WIDE.subtract(exact_gp, gp_exact)
    lp_total = amounts[0] + amounts[2] + amounts[4] + amounts[6]
    gp_total = amounts[1] + amounts[3] + amounts[5] + amounts[7]
    tiers = dict(zip(_TIER_FIELDS, amounts, strict=True))
    return WaterfallResult(**tiers, lp_total=lp_total, gp_total=gp_total), increment
