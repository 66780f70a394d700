"""Largest-remainder allocation and pro-rata scale-down (core.fundmath.allocation)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import CurrencyMismatch, ValidationError
from core.fundmath import allocate, scale_down
from core.money import Money

D = Decimal
CENT = D("0.01")


def test_thirds_go_by_the_documented_tie_break() -> None:
    # Equal remainders and equal weights: str(key) ascending decides.
    assert allocate(D(100), {"b": D(1), "a": D(1), "c": D(1)}, CENT) == {
        "a": D("33.34"),
        "b": D("33.33"),
        "c": D("33.33"),
    }
    assert allocate(D("0.05"), {2: D(1), 10: D(1), 1: D(1), 3: D(1), 4: D(1), 5: D(1)}, CENT) == {
        1: CENT,
        10: CENT,
        2: CENT,
        3: CENT,
        4: CENT,
        5: D(0),
    }


def test_larger_remainder_then_larger_weight_wins() -> None:
    # 10 cents by 3:4 is 4.29 and 5.71 cents: floors 4 and 5, and the cent left over goes to b,
    # whose remainder (0.71) is the larger.
    assert allocate(D("0.10"), {"a": D(3), "b": D(4)}, CENT) == {"a": D("0.04"), "b": D("0.06")}
    # Equal remainders (0.5 cent each), different weights: the larger weight wins the cent.
    assert allocate(D("0.04"), {"a": D(1), "b": D(3)}, CENT) == {"a": D("0.01"), "b": D("0.03")}
    assert allocate(D("0.06"), {"z": D(1), "a": D(1), "m": D(2), "n": D(2)}, CENT) == {
        "z": D("0.01"),
        "a": D("0.01"),
        "m": D("0.02"),
        "n": D("0.02"),
    }


def test_negative_totals_are_symmetric_and_zero_gives_zeros() -> None:
    weights = {"a": D(1), "b": D(1), "c": D(1), "d": D(0)}
    assert allocate(D(-100), weights) == {k: -v for k, v in allocate(D(100), weights).items()}
    assert str(allocate(D(-100), weights)["d"]) == "0.00"
    assert allocate(D(0), {"a": D(0)}) == {"a": D(0)}
    assert allocate(D(0), {}) == {}


def test_minor_units_fine_weights_money_and_huge_numbers() -> None:
    assert allocate(D(10), {"a": D("0.0001"), "b": D("0.0002")}, D(1)) == {"a": D(3), "b": D(7)}
    assert allocate(D("0.005"), {"a": 1, "b": 1}, D("0.001")) == {"a": D("0.003"), "b": D("0.002")}
    assert allocate(Money(D(5), "JPY"), {"a": Money(D(1), "JPY"), "b": D(1)}, D(1)) == {"a": D(3), "b": D(2)}
    assert allocate(D("0.10"), {"a": D(1), "b": D(1)}, D("0.05")) == {"a": D("0.05"), "b": D("0.05")}
    huge = allocate(D("999999999999999.99"), {"a": D("1e14"), "b": D("3e14"), "c": D(1)})
    assert sum(huge.values()) == D("999999999999999.99")


def test_the_minor_unit_defaults_to_the_currency_of_the_money() -> None:
    # 5 yen by equal weights is 2.5 each: floors 2 and 2, and the one yen left over goes by the
    # documented tie-break (equal remainders, equal weights: str(key) ascending), so a gets 3.
    yen = allocate(Money(D(5), "JPY"), {"b": D(1), "a": D(1)})
    assert yen == {"a": D(3), "b": D(2)}
    assert sum(yen.values()) == 5
    assert [str(v) for v in yen.values()] == ["2", "3"]  # whole yen, not 2.50 / 2.50
    # Kuwaiti dinar: 3 places. A bare Decimal falls back to the cent.
    assert allocate(Money(D("0.005"), "KWD"), {"a": D(1), "b": D(1)}) == {"a": D("0.003"), "b": D("0.002")}
    assert allocate(D(5), {"b": D(1), "a": D(1)}) == {"a": D("2.50"), "b": D("2.50")}
    # An explicit minor_unit still wins over the currency.
    assert allocate(Money(D(5), "JPY"), {"a": D(1), "b": D(1)}, D("0.5")) == {"a": D("2.5"), "b": D("2.5")}


def test_scale_down_minor_unit_from_the_currency_and_exponents() -> None:
    # Whole yen by default when the amounts are yen: 200 by 100:301 is 49.875 and 150.125.
    yen = scale_down({"a": Money(D(100), "JPY"), "b": Money(D(301), "JPY")}, Money(D(200), "JPY"))
    assert yen == {"a": D(50), "b": D(150)}
    assert [str(v) for v in yen.values()] == ["50", "150"]
    # Every amount comes back with the unit's exponent, whichever branch produced it.
    fits = scale_down({"a": D(100), "b": D("300.5")}, D(500))
    assert [str(v) for v in fits.values()] == ["100.00", "300.50"]
    dropped = scale_down({"a": D(100), "b": D(60)}, D(120), D(50))
    assert [str(v) for v in dropped.values()] == ["100.00", "0.00"]
    cut = scale_down({"a": D(100), "b": D(300)}, D(200))
    assert [str(v) for v in cut.values()] == ["50.00", "150.00"]
    assert [str(v) for v in scale_down({"a": D(7)}, D(10), D(0), D(1)).values()] == ["7"]


def test_bool_weights_are_refused_and_int_weights_accepted() -> None:
    # True is an int to Python, so it must be refused explicitly (the fast path would add it as 1).
    for weights in ({"a": True, "b": D(1)}, {"a": D(1), "b": False}):
        with pytest.raises(ValidationError) as info:
            allocate(D(1), weights)
        assert info.value.field == "weights"
    assert allocate(D(1), {"a": 1, "b": D(3)}) == {"a": D("0.25"), "b": D("0.75")}
    with pytest.raises(ValidationError) as info:
        scale_down({"a": True}, D(0))
    assert info.value.field == "requests"


def test_bad_input_names_the_field() -> None:
    for args, field in (
        ((D(1), {"a": D(0)}), "weights"),
        ((D(1), {}), "weights"),
        ((D(1), {"a": D(-1), "b": D(2)}), "weights"),
        ((D(1), {"a": 0.5}), "weights"),
        ((D(1), {"a": D("NaN")}), "weights"),
        ((1.0, {"a": D(1)}), "total"),
        ((D("0.001"), {"a": D(1)}), "total"),
        ((D(1), {"a": D(1)}, D(0)), "minor_unit"),
    ):
        with pytest.raises(ValidationError) as info:
            allocate(*args)
        assert info.value.field == field, args
    with pytest.raises(CurrencyMismatch):
        allocate(Money(D(1), "USD"), {"a": Money(D(1), "EUR")})


weights_strategy = st.dictionaries(
    st.integers(0, 10**6),
    st.decimals(min_value=0, max_value=D(10**12), places=4),
    min_size=1,
    max_size=50,
).filter(lambda w: any(w.values()))


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=D(-(10**13)), max_value=D(10**13), places=2), weights_strategy)
def test_allocate_parts_sum_exactly_and_stay_within_a_unit(total: Decimal, weights: dict) -> None:
    parts = allocate(total, weights, CENT)
    assert parts.keys() == weights.keys()
    assert sum(parts.values()) == total
    weight_sum = sum(weights.values())
    for key, part in parts.items():
        assert abs(part - total * weights[key] / weight_sum) < CENT
        assert part == part.quantize(CENT)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**6), st.lists(st.integers(0, 10**4), min_size=1, max_size=30).filter(any))
def test_both_arithmetic_paths_agree(units: int, ints: list[int]) -> None:
    # Scaling the total far beyond int64 forces the exact-integer path; the shares scale with it.
    weights = {i: D(w) for i, w in enumerate(ints)}
    small = allocate(D(units), weights, D(1))
    big = allocate(D(units) * D(10**15), weights, D(10**15))
    assert big == {k: v * 10**15 for k, v in small.items()}


def test_allocate_over_100k_investors() -> None:
    weights = {f"investor-{i}": D(1000 + (i * 7919) % 100_000) / 100 for i in range(100_000)}
    parts = allocate(D("12345678.91"), weights)
    assert sum(parts.values()) == D("12345678.91")


def test_scale_down_pro_rata_and_untouched_when_it_fits() -> None:
    requests = {"a": D(100), "b": D(300)}
    assert scale_down(requests, D(500), D(0), CENT) == requests
    assert scale_down(requests, D(200), D(0), CENT) == {"a": D(50), "b": D(150)}
    assert scale_down({"a": D(1), "b": D(1), "c": D(1)}, D(1), D(0), CENT) == {
        "a": D("0.34"),
        "b": D("0.33"),
        "c": D("0.33"),
    }


def test_scale_down_drops_requests_under_the_min_ticket_and_redistributes() -> None:
    # Pro rata, b would get 45 < 50: b is dropped and a, alone, gets its full 100; 20 stays unused.
    assert scale_down({"a": D(100), "b": D(60)}, D(120), D(50), CENT) == {"a": D(100), "b": D(0)}
    # c's 300 and a's 100 share 300: a's 75 clears the 50 minimum once b's 60 is dropped.
    assert scale_down({"a": D(100), "b": D(60), "c": D(300)}, D(300), D(50), CENT) == {
        "a": D(75),
        "b": D(0),
        "c": D(225),
    }
    # Equal requests are dropped together, never one before the other.
    result = scale_down({"a": D(40), "b": D(40), "c": D(1000)}, D(1000), D(39), CENT)
    assert result["a"] == result["b"] == 0 and result["c"] == D(1000)
    # Capacity below the minimum: nobody can be served.
    assert scale_down({"a": D(100), "b": D(100)}, D(40), D(50), CENT) == {"a": D(0), "b": D(0)}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=3), st.decimals(min_value=0, max_value=D(10**9), places=2), max_size=40),
    st.decimals(min_value=0, max_value=D(10**10), places=2),
    st.decimals(min_value=0, max_value=D(10**8), places=2),
)
def test_scale_down_properties(requests: dict, capacity: Decimal, min_ticket: Decimal) -> None:
    result = scale_down(requests, capacity, min_ticket, CENT)
    assert result.keys() == requests.keys()
    assert all(0 <= value <= requests[key] for key, value in result.items())
    if sum(requests.values(), D(0)) <= capacity:
        assert result == requests
    else:
        assert sum(result.values()) <= capacity
        assert all(value == 0 or value >= min_ticket for value in result.values())


def test_scale_down_bad_input() -> None:
    for args, field in (
        (({"a": D(-1)}, D(1)), "requests"),
        (({"a": D("0.001")}, D(1)), "requests"),
        (({"a": 1.5}, D(1)), "requests"),
        (({"a": D(1)}, D(-1)), "capacity"),
        (({"a": D(1)}, D(1), D(-1)), "min_ticket"),
        (({"a": D(1)}, D(1), D(0), D(-1)), "minor_unit"),
    ):
        with pytest.raises(ValidationError) as info:
            scale_down(*args)
        assert info.value.field == field
    with pytest.raises(CurrencyMismatch):
        scale_down({"a": Money(D(1), "USD")}, Money(D(1), "EUR"))
