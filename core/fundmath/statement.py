"""The ILPA-style capital account statement of one investor in one pool, from ledger movements.

Input is a list of movements (date, kind, amount), as the service layer reads them from the
ledger. Movements dated before period_start make the beginning balances; those from period_start
to period_end inclusive (the statement convention: "the quarter ended 31 March") make the period's
lines; later ones are ignored. Amounts are signed as they affect their own line: a contribution,
distribution or fee is positive, and a reversing entry is the same kind with a negative amount;
gains are positive and losses negative. Nothing is rounded: the ledger's amounts are exact, so
ending NAV = beginning NAV + contributions - distributions - management fees + realized gain +
unrealized gain, exactly. Unfunded commitment = commitment - contributions (ILPA; a fee paid by
capital call is a contribution).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Literal, NamedTuple

from core.errors import ValidationError
from core.fundmath._common import WIDE, ZERO, CurrencyTracker, a_date, amount

MovementKind = Literal[
    "commitment", "contribution", "distribution", "management_fee", "realized_gain", "unrealized_gain"
]
KINDS: tuple[str, ...] = (
    "commitment",
    "contribution",
    "distribution",
    "management_fee",
    "realized_gain",
    "unrealized_gain",
)
# How each kind moves NAV.
_NAV_SIGN = {
    "commitment": 0,
    "contribution": 1,
    "distribution": -1,
    "management_fee": -1,
    "realized_gain": 1,
    "unrealized_gain": 1,
}


class Movement(NamedTuple):
    """One ledger movement for the statement; a plain (date, kind, amount) tuple works as well."""

    date: date
    kind: MovementKind
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CapitalAccount:
    """One period's statement; amounts are positive as labelled (distributions, fees paid out)."""

    period_start: date
    period_end: date
    beginning_nav: Decimal
    contributions: Decimal
    distributions: Decimal
    management_fees: Decimal
    realized_gain: Decimal
    unrealized_gain: Decimal
    ending_nav: Decimal
    total_commitment: Decimal
    beginning_unfunded: Decimal
    ending_unfunded: Decimal
    currency: str | None = None

    def lines(self) -> list[tuple[str, Decimal]]:
        """Statement lines in ILPA order; outflows are negative so the NAV lines add up on the page."""
        return [
            ("Beginning NAV", self.beginning_nav),
            ("Contributions", self.contributions),
            ("Distributions", -self.distributions),
            ("Management fees", -self.management_fees),
            ("Realized gain/(loss)", self.realized_gain),
            ("Unrealized gain/(loss)", self.unrealized_gain),
            ("Ending NAV", self.ending_nav),
            ("Total commitment", self.total_commitment),
            ("Beginning unfunded commitment", self.beginning_unfunded),
            ("Ending unfunded commitment", self.ending_unfunded),
        ]


def capital_account(
    movements: Iterable[tuple[date, str, object]],
    period_start: date,
    period_end: date,
    *,
    currency: str | None = None,
) -> CapitalAccount:
    """Build the statement for period_start..period_end (inclusive) from all of an investor's movements."""
    start = a_date(period_start, "period_start")
    end = a_date(period_end, "period_end")
    if end < start:
        raise ValidationError("period_end", "must not be before period_start")
    tracker = CurrencyTracker(currency)
    before = dict.fromkeys(KINDS, ZERO)
    during = dict.fromkeys(KINDS, ZERO)
    with localcontext(WIDE):
        for movement in movements:
            try:
                when, kind, value = movement
            except (TypeError, ValueError):
                raise ValidationError("movements", "must be (date, kind, amount) rows") from None
            when = a_date(when, "movements")
            if kind not in _NAV_SIGN:
                raise ValidationError("movements", f"unknown kind {str(kind)[:20]!r}")
            value = amount(value, "movements", tracker)
            if when < start:
                before[kind] += value
            elif when <= end:
                during[kind] += value

        def nav(sums: dict[str, Decimal]) -> Decimal:
            return sum((_NAV_SIGN[kind] * value for kind, value in sums.items()), ZERO)

        beginning_nav = nav(before)
        commitment = before["commitment"] + during["commitment"]
        return CapitalAccount(
            period_start=start,
            period_end=end,
            beginning_nav=beginning_nav,
            contributions=during["contribution"],
            distributions=during["distribution"],
            management_fees=during["management_fee"],
            realized_gain=during["realized_gain"],
            unrealized_gain=during["unrealized_gain"],
            ending_nav=beginning_nav + nav(during),
            total_commitment=commitment,
            beginning_unfunded=before["commitment"] - before["contribution"],
            ending_unfunded=commitment - before["contribution"] - during["contribution"],
            currency=tracker.currency,
        )
