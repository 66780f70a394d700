"""The ILPA capital account statement of one investor in one pool, from capital-account lines.

Input is movements (date, line, amount): each a core.ledger.accounts.Line of the investor's
capital account with an amount positive as the line is labelled (a reversal negative), as the
ledger's read model gives them, one per entry or already summed per day or per period. Movements
dated before period_start make the beginning balances; those from period_start to period_end
inclusive (the statement convention: "the quarter ended 31 March") make the period's lines; later
ones are ignored. How a line moves NAV is core.ledger's NAV_SIGN, not restated here. Nothing is
rounded: the ledger's amounts are exact, so ending NAV = beginning NAV + each NAV line by its sign,
exactly. Unfunded commitment = commitment - capital called (ILPA).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import NamedTuple

from core.errors import ValidationError
from core.fundmath._common import WIDE, ZERO, CurrencyTracker, a_date, amount
from core.ledger.accounts import CAPITAL_LINES, NAV_LINES, NAV_SIGN, Line
from core.money import quantize

BEGINNING_NAV = "Beginning NAV"
ENDING_NAV = "Ending NAV"
BEGINNING_UNFUNDED = "Unfunded commitment, beginning"
ENDING_UNFUNDED = "Unfunded commitment, ending"


class Movement(NamedTuple):
    """One movement of a capital-account line; a plain (date, line, amount) tuple works as well."""

    date: date
    line: Line
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CapitalAccount:
    """One period's statement. The NAV lines (named as core.ledger's Line values) are the period's,
    positive as labelled (distributions, fees and carried interest paid out); commitment is as of
    the period's end."""

    period_start: date
    period_end: date
    commitment: Decimal
    beginning_nav: Decimal
    contributions: Decimal
    distributions: Decimal
    management_fees: Decimal
    fund_expenses: Decimal
    realized_gain: Decimal
    unrealized_gain: Decimal
    carried_interest: Decimal
    ending_nav: Decimal
    beginning_unfunded: Decimal
    ending_unfunded: Decimal
    currency: str | None = None

    def in_currency(self, currency: str) -> CapitalAccount:
        """The statement in a pool's currency, every amount at its minor unit (exact for ledger
        amounts, which are on that grid already)."""

        def q(value: Decimal) -> Decimal:
            return quantize(value, currency)

        return CapitalAccount(
            period_start=self.period_start,
            period_end=self.period_end,
            commitment=q(self.commitment),
            beginning_nav=q(self.beginning_nav),
            contributions=q(self.contributions),
            distributions=q(self.distributions),
            management_fees=q(self.management_fees),
            fund_expenses=q(self.fund_expenses),
            realized_gain=q(self.realized_gain),
            unrealized_gain=q(self.unrealized_gain),
            carried_interest=q(self.carried_interest),
            ending_nav=q(self.ending_nav),
            beginning_unfunded=q(self.beginning_unfunded),
            ending_unfunded=q(self.ending_unfunded),
            currency=currency,
        )

    def line(self, line: Line) -> Decimal:
        """The period's amount of a NAV line, positive as labelled."""
        return getattr(self, line.value)

    def lines(self) -> list[tuple[str, Decimal]]:
        """The statement in ILPA order, with the ILPA names; each NAV line by its sign (outflows
        negative), so Beginning NAV plus the lines below it is Ending NAV on the page."""
        return [
            (Line.COMMITMENT.label, self.commitment),
            (BEGINNING_NAV, self.beginning_nav),
            *((line.label, _signed(line, self.line(line))) for line in NAV_LINES),
            (ENDING_NAV, self.ending_nav),
            (BEGINNING_UNFUNDED, self.beginning_unfunded),
            (ENDING_UNFUNDED, self.ending_unfunded),
        ]


def _signed(line: Line, value: Decimal) -> Decimal:
    """The amount as it moves NAV; a zero stays 0, never -0."""
    return line.nav_sign * value if value else value


def _nav(sums: dict[Line, Decimal]) -> Decimal:
    return sum((sign * sums[line] for line, sign in NAV_SIGN.items()), ZERO)


def capital_account(
    movements: Iterable[tuple[date, Line | str, object]],
    period_start: date,
    period_end: date,
    *,
    currency: str | None = None,
) -> CapitalAccount:
    """Build the statement for period_start..period_end (inclusive) from an investor's movements."""
    start = a_date(period_start, "period_start")
    end = a_date(period_end, "period_end")
    if end < start:
        raise ValidationError("period_end", "must not be before period_start")
    tracker = CurrencyTracker(currency)
    before = dict.fromkeys(CAPITAL_LINES, ZERO)
    during = dict.fromkeys(CAPITAL_LINES, ZERO)
    with localcontext(WIDE):
        for movement in movements:
            try:
                when, line, value = movement
            except (TypeError, ValueError):
                raise ValidationError("movements", "must be (date, line, amount) rows") from None
            when = a_date(when, "movements")
            if line not in before:
                raise ValidationError("movements", f"{str(line)[:30]!r} is not a capital-account line")
            value = amount(value, "movements", tracker)
            if when < start:
                before[Line(line)] += value
            elif when <= end:
                during[Line(line)] += value
        beginning_nav = _nav(before)
        commitment = before[Line.COMMITMENT] + during[Line.COMMITMENT]
        called = before[Line.CALLED] + during[Line.CALLED]
        return CapitalAccount(
            period_start=start,
            period_end=end,
            commitment=commitment,
            beginning_nav=beginning_nav,
            **{line.value: during[line] for line in NAV_LINES},
            ending_nav=beginning_nav + _nav(during),
            beginning_unfunded=before[Line.COMMITMENT] - before[Line.CALLED],
            ending_unfunded=commitment - called,
            currency=tracker.currency,
        )
