"""ILPA capital account statements (core.fundmath.statement) over core.ledger's lines and signs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import CurrencyMismatch, ValidationError
from core.fundmath import CapitalAccount, Movement, capital_account
from core.ledger import CAPITAL_LINES, Line
from core.money import Money

D = Decimal
Q1 = (date(2024, 1, 1), date(2024, 3, 31))
L = Line
MOVEMENTS = [
    Movement(date(2023, 1, 15), L.COMMITMENT, D(1000)),
    Movement(date(2023, 2, 1), L.CALLED, D(300)),
    Movement(date(2023, 2, 1), L.CONTRIBUTIONS, D(300)),
    Movement(date(2023, 12, 31), L.UNREALIZED_GAIN, D(30)),
    Movement(date(2023, 12, 31), L.MANAGEMENT_FEES, D(5)),
    (date(2024, 1, 1), L.CALLED, D(250)),  # first day of the period: in it
    (date(2024, 1, 1), L.CONTRIBUTIONS, D(200)),  # 50 of the call still outstanding
    (date(2024, 2, 1), L.DISTRIBUTIONS, D(50)),
    (date(2024, 2, 1), L.REALIZED_GAIN, D(20)),
    (date(2024, 2, 1), L.CARRIED_INTEREST, D(4)),
    (date(2024, 3, 31), L.MANAGEMENT_FEES, D("4.50")),  # last day of the period: in it
    (date(2024, 3, 15), L.FUND_EXPENSES, D("1.25")),  # the pool's legal costs, its share
    (date(2024, 3, 31), L.UNREALIZED_GAIN, D(-12)),  # a loss
    (date(2024, 3, 31), "commitment", D(500)),  # a line's value works as the line
    (date(2024, 4, 1), L.CONTRIBUTIONS, D(999)),  # after the period: ignored
    (date(2024, 4, 1), L.CALLED, D(999)),
]


def test_statement_lines_with_the_ilpa_names() -> None:
    account = capital_account(MOVEMENTS, *Q1)
    assert isinstance(account, CapitalAccount)
    assert account.beginning_nav == D(325)  # 300 + 30 - 5
    assert (account.contributions, account.distributions, account.management_fees) == (
        D(200),
        D(50),
        D("4.50"),
    )
    assert (account.realized_gain, account.unrealized_gain, account.carried_interest) == (D(20), D(-12), D(4))
    assert account.fund_expenses == D("1.25")
    assert account.ending_nav == D("473.25")  # 325 + 200 - 50 - 4.50 - 1.25 + 20 - 12 - 4
    assert account.commitment == D(1500)
    # ILPA: unfunded = commitment - capital called (not - contributions): 700 before, 1500 - 550 after.
    assert (account.beginning_unfunded, account.ending_unfunded) == (D(700), D(950))
    assert account.lines() == [
        ("Commitment", D(1500)),
        ("Beginning NAV", D(325)),
        ("Contributions", D(200)),
        ("Distributions", D(-50)),
        ("Management fees", D("-4.50")),
        ("Fund expenses", D("-1.25")),
        ("Realized gain/(loss)", D(20)),
        ("Change in unrealized gain/(loss)", D(-12)),
        ("Carried interest", D(-4)),
        ("Ending NAV", D("473.25")),
        ("Unfunded commitment, beginning", D(700)),
        ("Unfunded commitment, ending", D(950)),
    ]
    assert [label for label, _ in account.lines()[2:9]] == [
        line.label for line in (L.CONTRIBUTIONS, L.DISTRIBUTIONS, L.MANAGEMENT_FEES, L.FUND_EXPENSES)
    ] + [L.REALIZED_GAIN.label, L.UNREALIZED_GAIN.label, L.CARRIED_INTEREST.label]
    with pytest.raises(AttributeError):
        account.ending_nav = D(0)  # type: ignore[misc]


def test_consecutive_periods_chain() -> None:
    q1 = capital_account(MOVEMENTS, *Q1)
    q2 = capital_account(MOVEMENTS, date(2024, 4, 1), date(2024, 6, 30))
    assert q2.beginning_nav == q1.ending_nav
    assert q2.beginning_unfunded == q1.ending_unfunded
    assert q2.contributions == D(999) and q2.ending_unfunded == q1.ending_unfunded - D(999)


def test_summed_movements_give_the_same_statement() -> None:
    """The read model may hand the lines summed per period side (before, during): same statement."""
    summed: dict[tuple[date, Line], Decimal] = {}
    for when, line, value in MOVEMENTS:
        side = Q1[0] - timedelta(days=1) if when < Q1[0] else Q1[1] if when <= Q1[1] else when
        summed[(side, Line(line))] = summed.get((side, Line(line)), D(0)) + value
    rows = [(when, line, value) for (when, line), value in summed.items()]
    assert capital_account(rows, *Q1) == capital_account(MOVEMENTS, *Q1)


def test_reversals_money_and_empty() -> None:
    reversed_payment = [*MOVEMENTS, (date(2024, 3, 1), L.CONTRIBUTIONS, D(-200))]
    account = capital_account(reversed_payment, *Q1)
    assert account.contributions == 0 and account.ending_nav == D("273.25")
    money = [(d, k, Money(a, "EUR")) for d, k, a in MOVEMENTS]
    account = capital_account(money, *Q1)
    assert account.currency == "EUR" and account.ending_nav == D("473.25")
    empty = capital_account([], *Q1)
    assert empty.ending_nav == empty.commitment == empty.ending_unfunded == 0 and empty.currency is None


def test_bad_input() -> None:
    for args, field in (
        (([(date(2024, 1, 1), "bonus", D(1))], *Q1), "movements"),
        (([(date(2024, 1, 1), L.CASH, D(1))], *Q1), "movements"),  # a pool book line, not the investor's
        (([(date(2024, 1, 1), L.CONTRIBUTIONS, 1.0)], *Q1), "movements"),
        (([(date(2024, 1, 1), L.CONTRIBUTIONS, D("NaN"))], *Q1), "movements"),
        (([("2024-01-01", L.CONTRIBUTIONS, D(1))], *Q1), "movements"),
        (([(date(2024, 1, 1), D(1))], *Q1), "movements"),
        (([], date(2024, 3, 31), date(2024, 1, 1)), "period_end"),
        (([], "2024-01-01", date(2024, 1, 1)), "period_start"),
    ):
        with pytest.raises(ValidationError) as info:
            capital_account(*args)
        assert info.value.field == field
    with pytest.raises(CurrencyMismatch):
        capital_account([(date(2024, 1, 1), L.CONTRIBUTIONS, Money(D(1), "USD"))], *Q1, currency="EUR")


movement = st.tuples(
    st.integers(0, 800).map(lambda d: date(2023, 1, 1) + timedelta(days=d)),
    st.sampled_from(CAPITAL_LINES),
    st.decimals(min_value=D(-(10**12)), max_value=D(10**12), places=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(movement, max_size=30))
def test_ending_nav_identity_is_exact(movements: list) -> None:
    account = capital_account(movements, *Q1)
    assert account.ending_nav == (
        account.beginning_nav
        + account.contributions
        - account.distributions
        - account.management_fees
        - account.fund_expenses
        + account.realized_gain
        + account.unrealized_gain
        - account.carried_interest
    )

    def upto(line: Line) -> Decimal:
        return sum((a for d, k, a in movements if k == line and d <= Q1[1]), D(0))

    assert account.commitment == upto(L.COMMITMENT)
    assert account.ending_unfunded == upto(L.COMMITMENT) - upto(L.CALLED)
    lines = dict(account.lines())
    nav_lines = list(lines.values())[2:9]
    assert sum(nav_lines, lines["Beginning NAV"]) == lines["Ending NAV"]


def test_in_a_currency_every_amount_is_at_its_minor_unit() -> None:
    account = capital_account(MOVEMENTS, *Q1).in_currency("USD")
    assert account.currency == "USD" and account.management_fees == D("4.50")
    assert {str(value).split(".")[-1].__len__() for _, value in account.lines()} == {2}
    assert account.lines() == [(label, value) for label, value in capital_account(MOVEMENTS, *Q1).lines()]
    assert capital_account([(date(2024, 1, 1), L.COMMITMENT, D(1000))], *Q1).in_currency(
        "JPY"
    ).commitment == D(1000)
