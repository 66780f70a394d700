"""ILPA-style capital account statements (core.fundmath.statement)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import CurrencyMismatch, ValidationError
from core.fundmath import KINDS, CapitalAccount, Movement, capital_account
from core.money import Money

D = Decimal
Q1 = (date(2024, 1, 1), date(2024, 3, 31))
MOVEMENTS = [
    Movement(date(2023, 1, 15), "commitment", D(1000)),
    Movement(date(2023, 2, 1), "contribution", D(300)),
    Movement(date(2023, 12, 31), "unrealized_gain", D(30)),
    Movement(date(2023, 12, 31), "management_fee", D(5)),
    (date(2024, 1, 1), "contribution", D(200)),  # first day of the period: in it
    (date(2024, 2, 1), "distribution", D(50)),
    (date(2024, 2, 1), "realized_gain", D(20)),
    (date(2024, 3, 31), "management_fee", D("4.50")),  # last day of the period: in it
    (date(2024, 3, 31), "unrealized_gain", D(-12)),  # a loss
    (date(2024, 3, 31), "commitment", D(500)),
    (date(2024, 4, 1), "contribution", D(999)),  # after the period: ignored
]


def test_statement_lines() -> None:
    account = capital_account(MOVEMENTS, *Q1)
    assert isinstance(account, CapitalAccount)
    assert account.beginning_nav == D(325)  # 300 + 30 - 5
    assert (account.contributions, account.distributions, account.management_fees) == (
        D(200),
        D(50),
        D("4.50"),
    )
    assert (account.realized_gain, account.unrealized_gain) == (D(20), D(-12))
    assert account.ending_nav == D("478.50")
    assert account.total_commitment == D(1500)
    assert (account.beginning_unfunded, account.ending_unfunded) == (D(700), D(1000))
    assert account.lines() == [
        ("Beginning NAV", D(325)),
        ("Contributions", D(200)),
        ("Distributions", D(-50)),
        ("Management fees", D("-4.50")),
        ("Realized gain/(loss)", D(20)),
        ("Unrealized gain/(loss)", D(-12)),
        ("Ending NAV", D("478.50")),
        ("Total commitment", D(1500)),
        ("Beginning unfunded commitment", D(700)),
        ("Ending unfunded commitment", D(1000)),
    ]
    with pytest.raises(AttributeError):
        account.ending_nav = D(0)  # type: ignore[misc]


def test_consecutive_periods_chain() -> None:
    q1 = capital_account(MOVEMENTS, *Q1)
    q2 = capital_account(MOVEMENTS, date(2024, 4, 1), date(2024, 6, 30))
    assert q2.beginning_nav == q1.ending_nav
    assert q2.beginning_unfunded == q1.ending_unfunded
    assert q2.contributions == D(999)


def test_reversals_money_and_empty() -> None:
    reversed_call = [*MOVEMENTS, (date(2024, 3, 1), "contribution", D(-200))]
    assert capital_account(reversed_call, *Q1).contributions == 0
    money = [(d, k, Money(a, "EUR")) for d, k, a in MOVEMENTS]
    account = capital_account(money, *Q1)
    assert account.currency == "EUR" and account.ending_nav == D("478.50")
    empty = capital_account([], *Q1)
    assert empty.ending_nav == empty.total_commitment == 0 and empty.currency is None


def test_bad_input() -> None:
    for args, field in (
        (([(date(2024, 1, 1), "bonus", D(1))], *Q1), "movements"),
        (([(date(2024, 1, 1), "contribution", 1.0)], *Q1), "movements"),
        (([(date(2024, 1, 1), "contribution", D("NaN"))], *Q1), "movements"),
        (([("2024-01-01", "contribution", D(1))], *Q1), "movements"),
        (([(date(2024, 1, 1), D(1))], *Q1), "movements"),
        (([], date(2024, 3, 31), date(2024, 1, 1)), "period_end"),
        (([], "2024-01-01", date(2024, 1, 1)), "period_start"),
    ):
        with pytest.raises(ValidationError) as info:
            capital_account(*args)
        assert info.value.field == field
    with pytest.raises(CurrencyMismatch):
        capital_account([(date(2024, 1, 1), "contribution", Money(D(1), "USD"))], *Q1, currency="EUR")


movement = st.tuples(
    st.integers(0, 800).map(lambda d: date(2023, 1, 1) + timedelta(days=d)),
    st.sampled_from(KINDS),
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
        + account.realized_gain
        + account.unrealized_gain
    )
    assert account.ending_unfunded == account.total_commitment - sum(
        a for d, k, a in movements if k == "contribution" and d <= Q1[1]
    )
    lines = dict(account.lines())
    assert sum(list(lines.values())[1:6], lines["Beginning NAV"]) == lines["Ending NAV"]
