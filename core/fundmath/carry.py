"""Carried interest over a pool's life: exits in order, escrow, clawback, accrued carry.

run_waterfall() puts a pool's exits, in date order (same-day exits in the order given), through the
one engine of core.fundmath.waterfall and keeps the running figures:
- European model: every exit continues the one whole-pool waterfall, over all the investors'
  contributions to its date (every deal's, plus `expenses`: the fund expenses and fees paid out of
  contributed capital) and everything distributed before it.
- American model: every exit continues its own deal's waterfall, over that deal's contributions to
  its date (include the fund expenses and fees allocated to the deal in them) and that deal's earlier
  exits; carry is paid deal by deal. With terms.recover_prior_losses, the capital that deals already
  fully realized have lost (their contributions less what their investors got back, spread over
  those contributions' dates by allocate(), so the hurdle accrues on it from when it was paid in) is
  added to the capital of the next deal to exit, once: it is that deal's capital from then on, and
  is carried on again if that deal loses it too. `expenses` not allocated to a deal count only in the
  whole-pool figures (carry due, so the clawback takes back carry earned on them).
The hurdle in a run: each contribution accrues its preferred return (by terms.hurdle_accrual) up to
the exit's date, except that once an exit leaves the LP holding all the capital in that waterfall and
its preferred return, those contributions stop accruing (they have been paid back): otherwise a later
exit would find a larger preferred return and pay the catch-up a second time. (waterfall() on its
own, one distribution date, accrues to `on`.)
Each exit's proceeds are first split between the investors and the GP commitment (the GP's own
capital, which pays no carry) pro rata to their contributed capital to date, in the deal (American)
or the pool (European), by allocate(); only the investors' part goes through the waterfall.
escrow_rate of the carry is held in escrow: the escrow balance is escrow_rate x the carry paid so
far, rounded half up, so each exit's escrow is the step in it (never negative, never above its carry).

Carry due is what the whole pool's waterfall gives the GP: the investors' part of every exit, in
date order, through the European model over all the investors' contributions, capped at carry_rate
of the pool's cumulative profit (distributed minus contributed), so the GP never keeps more than its
carry share of what the pool made, and the passing of time alone never creates a clawback. The
clawback is the carry received (paid plus escrowed) above carry due, escrow applied first.
carry_statement() computes both "as if wound up today", every unrealized deal sold at its mark on
`on`; once every deal is realized that is the wind-down true-up, which true_up() splits across the
investors exactly.

Rounding: everything is in whole minor units. Within each waterfall (a deal's or the pool's) the
GP's running exact total is rounded down, so carry never exceeds the exact entitlement and several
exits pay exactly what one would; splits across investors use allocate()'s largest remainder.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal, localcontext
from itertools import chain
from typing import NamedTuple, TypeVar

from core.errors import ValidationError
from core.fundmath._common import (
    WIDE,
    ZERO,
    CurrencyTracker,
    a_date,
    non_negative,
    on_grid,
    round_to,
    unit_for,
)
from core.fundmath.allocation import allocate
from core.fundmath.waterfall import (
    WaterfallResult,
    WaterfallTerms,
    _dated,
    _Schedule,
    _split,
    preferred_return,
)
from core.money import ROUNDING

K = TypeVar("K")
Flow = tuple[date, Decimal]
_EXIT_SHAPE = "must be a list of DealExit(deal, on, proceeds, final)"


class DealExit(NamedTuple):
    """Proceeds of (part of) a deal received on `on`; final when nothing of the deal is left.

    A write-off is a final exit with zero proceeds. A plain (deal, on, proceeds[, final]) tuple works too.
    """

    deal: Hashable
    on: date
    proceeds: Decimal
    final: bool = False


@dataclass(frozen=True, slots=True)
class ExitDistribution:
    """Where one exit's proceeds went: proceeds == gp_commitment + lp + carry, and the running figures."""

    deal: Hashable
    on: date
    proceeds: Decimal
    gp_commitment: Decimal  # the GP's own capital's share: no carry on it
    waterfall: WaterfallResult  # the investors' share, tier by tier: lp_total to them, gp_total carry
    escrowed: Decimal  # of the carry, held in escrow
    realized_loss: Decimal  # American, final exits: the deal's capital its investors did not get back
    lp_to_date: Decimal
    carry_to_date: Decimal  # paid and escrowed
    escrow_balance: Decimal

    @property
    def lp(self) -> Decimal:
        return self.waterfall.lp_total

    @property
    def carry(self) -> Decimal:
        return self.waterfall.gp_total

    @property
    def carry_paid(self) -> Decimal:
        """The carry paid out to the GP now: what was not escrowed."""
        return self.waterfall.gp_total - self.escrowed


@dataclass(frozen=True, slots=True)
class WaterfallRun:
    """A pool's exits through its waterfall in date order, and the running figures after the last."""

    distributions: tuple[ExitDistribution, ...]
    lp_total: Decimal
    carry_total: Decimal  # paid and escrowed
    escrow: Decimal  # the escrow balance
    gp_commitment_total: Decimal
    realized_losses: Decimal  # American: capital lost by fully realized deals
    unrecovered_losses: Decimal  # American with recover_prior_losses: not yet taken up by a later deal
    realized: tuple[Hashable, ...]  # deals fully realized, in the order they were

    @property
    def carry_paid(self) -> Decimal:
        return self.carry_total - self.escrow


@dataclass(frozen=True, slots=True)
class Clawback:
    """What the GP owes back when it has received more carry than is due; escrow is applied first."""

    carry_received: Decimal  # paid and escrowed
    carry_due: Decimal
    escrow: Decimal
    owed: Decimal  # max(0, carry_received - carry_due): the clawback before escrow
    escrow_applied: Decimal  # min(owed, escrow): escrow paid to the investors
    escrow_released: Decimal  # escrow - escrow_applied: escrow the GP gets once the risk clears
    exposure: Decimal  # owed - escrow_applied: what the GP pays back out of its own pocket

    @property
    def carry_kept(self) -> Decimal:
        """The carry the GP keeps after the true-up: min(carry_received, carry_due)."""
        return self.carry_received - self.owed


@dataclass(frozen=True, slots=True)
class TrueUp:
    """The wind-down true-up: escrow released to the GP, and what each investor gets back."""

    escrow_released: Decimal
    escrow_applied: dict  # investor -> escrow paid to them
    gp_owes: dict  # investor -> clawback the GP pays them out of its own pocket
    carry_kept: Decimal


@dataclass(frozen=True, slots=True)
class CarryStatement:
    """The GP's carry in one pool on `on`, as if every unrealized deal were sold at its mark that day."""

    on: date
    carry_received: Decimal  # paid and escrowed
    carry_paid: Decimal
    escrow: Decimal
    accrued_carry: Decimal  # ILPA accrued incentive allocation: still to come if sold at the marks
    carry_due: Decimal  # on the whole pool, sold at the marks
    clawback: Clawback
    investor_distributions: Decimal
    gp_commitment_distributions: Decimal  # the GP's own capital: its own line, no carry
    nav: Decimal  # the marks of the unrealized deals

    @property
    def clawback_exposure(self) -> Decimal:
        """What the GP would pay back out of its own pocket if the pool wound up today (net of escrow)."""
        return self.clawback.exposure

    def lines(self) -> list[tuple[str, Decimal]]:
        return [
            ("Carry received", self.carry_received),
            ("Carry paid", self.carry_paid),
            ("Carry in escrow", self.escrow),
            ("Accrued carry", self.accrued_carry),
            ("Carry due on the whole pool", self.carry_due),
            ("Clawback before escrow", self.clawback.owed),
            ("Escrow applied to the clawback", self.clawback.escrow_applied),
            ("Clawback exposure", self.clawback.exposure),
        ]


@dataclass(slots=True)
class _Book:
    """The running figures of one waterfall: a deal's (American) or the pool's (European)."""

    lp: Decimal = ZERO
    gp: Decimal = ZERO
    gp_exact: Decimal = ZERO
    absorbed: list[Flow] = field(default_factory=list)  # earlier deals' losses this deal took up
    paid_back: list[tuple[date, Decimal, date]] = field(default_factory=list)  # (date, amount, when)

    def distribute(
        self, terms: WaterfallTerms, capital: list[Flow], on: date, proceeds: Decimal, unit: Decimal
    ) -> WaterfallResult:
        """Continue this waterfall with `proceeds` distributed on `on`, over `capital`."""
        with localcontext(WIDE):
            total = sum((v for _, v in capital), ZERO)
            preferred = self._preferred(terms, capital, on)
            result, exact = _split(
                _Schedule(terms, total, preferred), self.lp + self.gp, proceeds, unit, self.gp_exact, self.gp
            )
            self.lp += result.lp_total
            self.gp += result.gp_total
            self.gp_exact += exact
            if self.lp + self.gp >= total + preferred:
                self._paid_back(capital, on)
        return result

    def _preferred(self, terms: WaterfallTerms, capital: list[Flow], on: date) -> Decimal:
        """The hurdle on each contribution up to `on`, or up to the exit that paid it back if one did."""
        ends: dict[Flow, list[date]] = {}
        for when, value, end in self.paid_back:
            ends.setdefault((when, value), []).append(end)
        accruing: dict[date, list[Flow]] = {}
        for flow in capital:
            found = ends.get(flow)
            accruing.setdefault(found.pop() if found else on, []).append(flow)
        total = ZERO
        for end, flows in accruing.items():
            total += preferred_return(terms.hurdle_rate, flows, end, terms.hurdle_accrual)
        return total

    def _paid_back(self, capital: list[Flow], on: date) -> None:
        """The LP now holds all this capital and its preferred return: stop the hurdle on it."""
        seen: dict[Flow, int] = {}
        for when, value, _ in self.paid_back:
            seen[(when, value)] = seen.get((when, value), 0) + 1
        for flow in capital:
            if seen.get(flow):
                seen[flow] -= 1
            else:
                self.paid_back.append((flow[0], flow[1], on))


@dataclass(frozen=True, slots=True)
class _Pool:
    """Checked inputs: investors' and GP commitment contributions per deal, pool expenses, exits."""

    deals: dict
    gp_commitment: dict
    expenses: list[Flow]
    exits: list[DealExit]
    unit: Decimal

    def investors_capital(self, on: date) -> list[Flow]:
        return _upto(chain(*self.deals.values(), self.expenses), on)


def _upto(flows: Iterable[Flow], on: date) -> list[Flow]:
    return [flow for flow in flows if flow[0] <= on]


def _total(flows: Iterable[Flow]) -> Decimal:
    with localcontext(WIDE):
        return sum((v for _, v in flows), ZERO)


def _per_deal(value: object, field: str, on: date | None, tracker: CurrencyTracker) -> dict:
    if not isinstance(value, Mapping):
        raise ValidationError(field, "must map each deal to its list of (date, amount) contributions")
    return {deal: _dated(flows, field, on, tracker, "the statement date") for deal, flows in value.items()}


def _exits(value: object, deals: dict, on: date | None, tracker: CurrencyTracker) -> list[DealExit]:
    try:
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise ValidationError("exits", _EXIT_SHAPE) from None
    result = []
    for item in items:
        try:
            deal, when, proceeds, *rest = item
        except (TypeError, ValueError):
            raise ValidationError("exits", _EXIT_SHAPE) from None
        if len(rest) > 1:
            raise ValidationError("exits", _EXIT_SHAPE)
        final = rest[0] if rest else False
        if not _known(deal, deals):
            raise ValidationError("exits", f"include one of a deal that is not in deals: {str(deal)[:40]!r}")
        when = a_date(when, "exits")
        if on is not None and when > on:
            raise ValidationError("exits", f"include one dated {when}, after the statement date {on}")
        if not isinstance(final, bool):
            raise ValidationError("exits", "final must be True or False")
        result.append(DealExit(deal, when, non_negative(proceeds, "exits", tracker), final))
    result.sort(key=lambda e: e.on)  # stable: same-day exits keep the order given
    done: set = set()
    for e in result:
        if e.deal in done:
            raise ValidationError(
                "exits", f"deal {str(e.deal)[:40]!r} has an exit on {e.on} after its final one"
            )
        if e.final:
            done.add(e.deal)
    return result


def _known(deal: object, deals: dict) -> bool:
    try:
        return deal in deals
    except TypeError:  # unhashable
        return False


def _pool(
    deals: object,
    exits: object,
    expenses: object,
    gp_commitment: object,
    on: date | None,
    currency: str | None,
    minor_unit: object,
    tracker: CurrencyTracker,
) -> _Pool:
    investors = _per_deal(deals, "deals", on, tracker)
    own = _per_deal({} if gp_commitment is None else gp_commitment, "gp_commitment", on, tracker)
    for deal in own:
        if deal not in investors:
            raise ValidationError("gp_commitment", f"names a deal that is not in deals: {str(deal)[:40]!r}")
    spent = _dated(expenses, "expenses", on, tracker, "the statement date")
    checked = _exits(exits, investors, on, tracker)
    unit = unit_for(currency, minor_unit, tracker)
    for name, flows in (
        ("deals", chain(*investors.values())),
        ("gp_commitment", chain(*own.values())),
        ("expenses", spent),
        ("exits", ((e.on, e.proceeds) for e in checked)),
    ):
        for _, value in flows:
            on_grid(value, unit, name)
    return _Pool(investors, own, spent, checked, unit)


def _gp_commitment_share(
    proceeds: Decimal, investors: Decimal, gp_commitment: Decimal, unit: Decimal
) -> tuple[Decimal, Decimal]:
    """(GP commitment, investors): proceeds pro rata to their capital, by largest remainder."""
    if gp_commitment == 0 or proceeds == 0:
        return ZERO * unit, proceeds
    shares = allocate(proceeds, {"gp_commitment": gp_commitment, "investors": investors}, unit)
    return shares["gp_commitment"], shares["investors"]


def _spread(loss: Decimal, capital: list[Flow], unit: Decimal) -> list[Flow]:
    """A realized loss as dated capital: over the dates of `capital`, pro rata, in whole minor units."""
    shares = allocate(loss, {i: value for i, (_, value) in enumerate(capital)}, unit)
    return [(capital[i][0], share) for i, share in shares.items() if share]


def _run(terms: WaterfallTerms, pool: _Pool) -> WaterfallRun:
    american = terms.model == "american"
    unit = pool.unit
    books = {deal: _Book() for deal in pool.deals}
    whole = _Book()
    pending: list[Flow] = []  # realized losses waiting for the next deal to exit
    rows: list[ExitDistribution] = []
    lp_total = carry_total = escrow = gp_commitment_total = losses = ZERO * unit  # 0.00 with a cent
    realized: list[Hashable] = []
    for ex in pool.exits:
        if american:
            book = books[ex.deal]
            if terms.recover_prior_losses and pending:
                book.absorbed.extend(pending)
                pending = []
            own = _upto(pool.deals[ex.deal], ex.on)
            theirs = _upto(pool.gp_commitment.get(ex.deal, ()), ex.on)
        else:
            book = whole
            own = pool.investors_capital(ex.on)
            theirs = _upto(chain(*pool.gp_commitment.values()), ex.on)
        to_gp_commitment, to_investors = _gp_commitment_share(ex.proceeds, _total(own), _total(theirs), unit)
        capital = own + book.absorbed
        result = book.distribute(terms, capital, ex.on, to_investors, unit)
        lp_total += result.lp_total
        carry_total += result.gp_total
        gp_commitment_total += to_gp_commitment
        held = round_to(WIDE.multiply(terms.escrow_rate, carry_total), unit, ROUNDING)
        escrowed, escrow = held - escrow, held
        loss = ZERO * unit
        if ex.final:
            realized.append(ex.deal)
            if american:
                loss = max(_total(capital) - book.lp, loss)
                losses += loss
                if loss and terms.recover_prior_losses:
                    pending += _spread(loss, capital, unit)
        rows.append(
            ExitDistribution(
                deal=ex.deal,
                on=ex.on,
                proceeds=ex.proceeds,
                gp_commitment=to_gp_commitment,
                waterfall=result,
                escrowed=escrowed,
                realized_loss=loss,
                lp_to_date=lp_total,
                carry_to_date=carry_total,
                escrow_balance=escrow,
            )
        )
    return WaterfallRun(
        distributions=tuple(rows),
        lp_total=lp_total,
        carry_total=carry_total,
        escrow=escrow,
        gp_commitment_total=gp_commitment_total,
        realized_losses=losses,
        unrecovered_losses=_total(pending) + ZERO * unit,
        realized=tuple(realized),
    )


def run_waterfall(
    terms: WaterfallTerms,
    deals: Mapping[K, Iterable[tuple[date, object]]],
    exits: Iterable[DealExit],
    *,
    expenses: Iterable[tuple[date, object]] = (),
    gp_commitment: Mapping[K, Iterable[tuple[date, object]]] | None = None,
    currency: str | None = None,
    minor_unit: object = None,
) -> WaterfallRun:
    """Distribute every exit by terms.model, in date order, keeping the running figures (module doc).

    deals maps each deal to the investors' dated contributions to it; gp_commitment (optional) to
    the GP's own; expenses are the investors' pool-level contributed capital in no deal. All amounts
    are whole minor units (of minor_unit, else the currency's, else 0.01).
    """
    if not isinstance(terms, WaterfallTerms):
        raise ValidationError("terms", "must be WaterfallTerms")
    pool = _pool(deals, exits, expenses, gp_commitment, None, currency, minor_unit, CurrencyTracker())
    return _run(terms, pool)


def carry_due(
    terms: WaterfallTerms,
    contributions: Iterable[tuple[date, object]],
    distributions: Iterable[tuple[date, object]],
    *,
    currency: str | None = None,
    minor_unit: object = None,
) -> Decimal:
    """The carry the whole pool's waterfall gives the GP, whatever terms.model (see the module doc).

    contributions are the investors' (fund expenses included, GP commitment not); distributions
    are what went through the waterfall on each date, the investors' part and the carry together.
    """
    if not isinstance(terms, WaterfallTerms):
        raise ValidationError("terms", "must be WaterfallTerms")
    tracker = CurrencyTracker()
    paid = _dated(contributions, "contributions", None, tracker)
    out = _dated(distributions, "distributions", None, tracker)
    unit = unit_for(currency, minor_unit, tracker)
    for _, value in out:
        on_grid(value, unit, "distributions")
    return _carry_due(terms, paid, out, unit)


def _carry_due(
    terms: WaterfallTerms, contributions: list[Flow], distributions: list[Flow], unit: Decimal
) -> Decimal:
    """The distributions in date order through the European model, capped at carry_rate of profit."""
    whole = _Book()
    for when, value in sorted(distributions, key=lambda flow: flow[0]):
        whole.distribute(terms, _upto(contributions, when), when, value, unit)
    with localcontext(WIDE):
        profit = max(whole.lp + whole.gp - _total(contributions), ZERO)
        cap = round_to(WIDE.multiply(terms.carry_rate, profit), unit, ROUND_FLOOR)
    return min(whole.gp, cap)


def _clawback(received: Decimal, due: Decimal, escrow: Decimal) -> Clawback:
    owed = max(received - due, ZERO * received)  # zero stated like the amounts (0.00)
    applied = min(owed, escrow)
    return Clawback(
        carry_received=received,
        carry_due=due,
        escrow=escrow,
        owed=owed,
        escrow_applied=applied,
        escrow_released=escrow - applied,
        exposure=owed - applied,
    )


def clawback(
    carry_received: object,
    carry_due: object,
    escrow: object,
    *,
    currency: str | None = None,
    minor_unit: object = None,
) -> Clawback:
    """The clawback when the GP has received carry_received (escrow included) and is due carry_due."""
    tracker = CurrencyTracker()
    received = non_negative(carry_received, "carry_received", tracker)
    due = non_negative(carry_due, "carry_due", tracker)
    held = non_negative(escrow, "escrow", tracker)
    unit = unit_for(currency, minor_unit, tracker)
    for name, value in (("carry_received", received), ("carry_due", due), ("escrow", held)):
        on_grid(value, unit, name)
    if held > received:
        raise ValidationError("escrow", "must not be more than carry_received, of which it is part")
    return _clawback(received, due, held)


def true_up(
    owed: Clawback, weights: Mapping[K, object], *, currency: str | None = None, minor_unit: object = None
) -> TrueUp:
    """Settle a clawback at wind-down: the escrow applied and what the GP still owes, per investor.

    Both are split by `weights` with allocate(), so each sums to its whole exactly; weights are
    normally the carry each investor bore (what the LPA names).
    """
    if not isinstance(owed, Clawback):
        raise ValidationError("owed", "must be a Clawback")
    tracker = CurrencyTracker()
    unit = unit_for(currency, minor_unit, tracker)
    for value in (owed.escrow_applied, owed.exposure, owed.escrow_released):
        on_grid(value, unit, "owed")
    if not isinstance(weights, Mapping):
        raise ValidationError("weights", "must map each investor to a weight")
    return TrueUp(
        escrow_released=owed.escrow_released,
        escrow_applied=allocate(owed.escrow_applied, weights, unit),
        gp_owes=allocate(owed.exposure, weights, unit),
        carry_kept=owed.carry_kept,
    )


def carry_statement(
    terms: WaterfallTerms,
    deals: Mapping[K, Iterable[tuple[date, object]]],
    exits: Iterable[DealExit],
    marks: Mapping[K, object],
    on: date,
    *,
    expenses: Iterable[tuple[date, object]] = (),
    gp_commitment: Mapping[K, Iterable[tuple[date, object]]] | None = None,
    currency: str | None = None,
    minor_unit: object = None,
) -> CarryStatement:
    """The GP's carry statement for one pool on `on` (module doc); arguments as for run_waterfall().

    marks gives every deal not fully realized its value on `on` (the whole holding, GP commitment
    included). Accrued carry is what selling them all at those marks would still pay the GP, net of
    any clawback; with every deal realized, the clawback is the wind-down true-up.
    """
    if not isinstance(terms, WaterfallTerms):
        raise ValidationError("terms", "must be WaterfallTerms")
    on = a_date(on, "on")
    tracker = CurrencyTracker()
    if not isinstance(marks, Mapping):
        raise ValidationError("marks", "must map each deal not fully realized to its value")
    value = {deal: non_negative(mark, "marks", tracker) for deal, mark in marks.items()}
    pool = _pool(deals, exits, expenses, gp_commitment, on, currency, minor_unit, tracker)
    actual = _run(terms, pool)
    held = [deal for deal in pool.deals if deal not in actual.realized]
    for deal, mark in value.items():
        if not _known(deal, pool.deals) or deal in actual.realized:
            raise ValidationError("marks", f"include one of a deal that is not held: {str(deal)[:40]!r}")
        on_grid(mark, pool.unit, "marks")
    for deal in held:
        if deal not in value:
            raise ValidationError("marks", f"have none for {str(deal)[:40]!r}, which is not fully realized")
    hypothetical = [DealExit(deal, on, value[deal], True) for deal in held]
    sold = _run(
        terms, _Pool(pool.deals, pool.gp_commitment, pool.expenses, pool.exits + hypothetical, pool.unit)
    )
    distributed = [(row.on, row.lp + row.carry) for row in sold.distributions]
    due = _carry_due(terms, pool.investors_capital(on), distributed, pool.unit)
    owed = _clawback(actual.carry_total, due, actual.escrow)
    accrued = max(min(sold.carry_total - actual.carry_total, due - actual.carry_total), ZERO * pool.unit)
    return CarryStatement(
        on=on,
        carry_received=actual.carry_total,
        carry_paid=actual.carry_paid,
        escrow=actual.escrow,
        accrued_carry=accrued,
        carry_due=due,
        clawback=owed,
        investor_distributions=actual.lp_total,
        gp_commitment_distributions=actual.gp_commitment_total,
        nav=sum((value[deal] for deal in held), ZERO * pool.unit),
    )
