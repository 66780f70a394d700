"""XIRR, XNPV, multiples and the bulk portfolio path (core.fundmath.returns)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import CurrencyMismatch, ValidationError
from core.fundmath import moic, multiples, portfolio_metrics, xirr, xirr_columns, xnpv
from core.money import Money

D = Decimal

# Microsoft support, "XIRR function" and "XNPV function" (Excel), worked example:
# https://support.microsoft.com/en-us/office/xirr-function-de1242ec-6477-445b-b11b-a303ad9adc9d
# https://support.microsoft.com/en-us/office/xnpv-function-1b42bbf6-370f-4532-a0eb-d67c16b664b7
EXCEL_FLOWS = [
    (date(2008, 1, 1), D("-10000")),
    (date(2008, 3, 1), D("2750")),
    (date(2008, 10, 30), D("4250")),
    (date(2009, 2, 15), D("3250")),
    (date(2009, 4, 1), D("2750")),
]


def test_xirr_excel_example() -> None:
    # Microsoft support, XIRR function: the example returns 0.373362535 (37.34%).
    rate = xirr(EXCEL_FLOWS)
    assert isinstance(rate, Decimal)
    assert abs(rate - D("0.373362535")) < D("1e-6")


def test_xnpv_excel_example() -> None:
    # Microsoft support, XNPV function: the same flows at 9% give 2086.65 (2,086.6476...).
    assert abs(xnpv(D("0.09"), EXCEL_FLOWS) - D("2086.6476")) < D("0.0001")


def test_xnpv_uses_the_earliest_date_whatever_the_order() -> None:
    assert xnpv(D("0.09"), list(reversed(EXCEL_FLOWS))) == xnpv(D("0.09"), EXCEL_FLOWS)


def test_xnpv_at_zero_rate_is_the_plain_sum_exactly() -> None:
    assert xnpv(D(0), EXCEL_FLOWS) == D(3000)
    assert xnpv(D("0.1"), []) == 0


def test_xirr_accepts_iterators_money_and_ints() -> None:
    money = [(d, Money(a, "USD")) for d, a in EXCEL_FLOWS]
    ints = [(d, int(a)) for d, a in EXCEL_FLOWS]
    assert xirr(iter(EXCEL_FLOWS)) == xirr(money) == xirr(ints)


@pytest.mark.parametrize(
    "flows",
    [
        [],
        [(date(2020, 1, 1), D(-100))],
        [(date(2020, 1, 1), D(100)), (date(2021, 1, 1), D(50))],
        [(date(2020, 1, 1), D(-100)), (date(2021, 1, 1), D(-50))],
        [(date(2020, 1, 1), D(0)), (date(2021, 1, 1), D(0))],
    ],
    ids=["empty", "single flow", "all positive", "all negative", "all zero"],
)
def test_xirr_is_none_when_no_rate_exists(flows: list) -> None:
    assert xirr(flows) is None


def test_xirr_total_loss_has_no_finite_rate_or_minus_one() -> None:
    # 100 in, a millionth back a year later: (1e-6 / 100) ** (365/366) - 1, about -0.99999999;
    # never -1 (which would mean nothing at all came back) and never below it.
    rate = xirr([(date(2020, 1, 1), D(-100)), (date(2021, 1, 1), D("0.000001"))])
    assert rate is not None
    assert D(-1) < rate < D("-0.999")


def test_xirr_same_day_flows_and_a_leap_year() -> None:
    # 2020 is a leap year: 366 days at actual/365, so 10% over the year is a bit under 10% a year.
    flows = [
        (date(2020, 1, 1), D(-60)),
        (date(2020, 1, 1), D(-40)),
        (date(2021, 1, 1), D(110)),
    ]
    expected = D("1.1") ** (D(365) / D(366)) - 1
    assert abs(xirr(flows) - expected) < D("1e-9")
    # Flows on one day net: 60 + 40 paid in on one day is 100 paid in that day, and money in and
    # out on the same day cancels. pyxirr solves in floating point, so the two solves may differ
    # in the last digits (about 5e-15 here), far below the 1e-12 asked.
    d0, d1 = date(2020, 1, 1), date(2021, 1, 1)
    netted = xirr([(d0, D(-100)), (d1, D(110))])
    assert abs(xirr([(d0, D(-60)), (d0, D(-40)), (d1, D(110))]) - netted) < D("1e-12")
    assert abs(xirr([(d0, D(-150)), (d1, D(110)), (d0, D(50))]) - netted) < D("1e-12")


@pytest.mark.parametrize("scale", [D("1e-10"), D("1e-6"), D("0.01"), D("1e5"), D("1e11"), D("1e14")])
def test_xirr_is_scale_free_for_tiny_and_huge_amounts(scale: Decimal) -> None:
    flows = [(d, a * scale) for d, a in EXCEL_FLOWS]
    assert abs(xirr(flows) - D("0.373362535")) < D("1e-6")


def test_xirr_refuses_floats_nan_and_garbage_naming_flows() -> None:
    for bad in (
        [(date(2020, 1, 1), -100.0), (date(2021, 1, 1), 110.0)],
        [(date(2020, 1, 1), D(-100)), (date(2021, 1, 1), D("NaN"))],
        [(date(2020, 1, 1), D(-100)), (date(2021, 1, 1), D("Infinity"))],
        [("not a date", D(-100)), (date(2021, 1, 1), D(110))],
        [(date(2020, 1, 1),), (date(2021, 1, 1), D(110))],
        # pyxirr alone would read an ISO string as a date; the contract is dates only.
        [("2020-01-01", D(-100)), (date(2021, 1, 1), D(110))],
        [(date(2020, 1, 1), D(-100)), ("2021-01-01", D(110))],
        # True is an int to Python (and 1 to Decimal) but no amount of money.
        [(date(2020, 1, 1), True), (date(2021, 1, 1), D(2))],
        [(date(2020, 1, 1), D(-1)), (date(2021, 1, 1), True)],
        5,
    ):
        with pytest.raises(ValidationError) as info:
            xirr(bad)
        assert info.value.field == "flows", bad


def test_xirr_slow_path_still_takes_ints_datetimes_and_iterators() -> None:
    # Anything but a list of (date, Decimal) leaves the fast path; these are still valid flows.
    ints = [(date(2020, 1, 1), -100), (date(2021, 1, 1), 110)]
    decimals = [(date(2020, 1, 1), D(-100)), (date(2021, 1, 1), D(110))]
    assert xirr(ints) == xirr(iter(decimals)) == xirr(decimals)
    assert xirr([(datetime(2020, 1, 1), D(-100)), (date(2021, 1, 1), D(110))]) == xirr(decimals)


def test_xirr_columns_is_xirr_of_the_same_flows_given_as_days_and_amounts() -> None:
    days, amounts = [d for d, _ in EXCEL_FLOWS], [a for _, a in EXCEL_FLOWS]
    assert xirr_columns(days, amounts) == xirr(EXCEL_FLOWS)
    assert xirr_columns(days[::-1], amounts[::-1]) == xirr(EXCEL_FLOWS[::-1])
    assert xirr_columns([], []) is None
    assert xirr_columns(days, [abs(a) for a in amounts]) is None  # nothing paid in: no rate
    scaled = [a * D("1e-8") for a in amounts]  # solved per unit paid in, like xirr
    assert abs(xirr_columns(days, scaled) - D("0.373362535")) < D("1e-6")  # type: ignore[operator]
    assert xirr_columns(days, [int(a) for a in amounts]) == xirr(EXCEL_FLOWS)  # ints: the slow path


def test_xirr_columns_refuses_what_xirr_refuses_and_a_day_missing_naming_flows() -> None:
    days = [date(2020, 1, 1), date(2021, 1, 1)]
    for bad_days, bad_amounts in (
        (days, [D(-100)]),
        (days[:1], [D(-100), D(110)]),
        (days, [-100.0, 110.0]),
        (days, [D(-100), D("NaN")]),
        (["2020-01-01", days[1]], [D(-100), D(110)]),
        (days, [True, D(2)]),
    ):
        with pytest.raises(ValidationError) as info:
            xirr_columns(bad_days, bad_amounts)  # type: ignore[arg-type]
        assert info.value.field == "flows", (bad_days, bad_amounts)


def test_xirr_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        xirr([(date(2020, 1, 1), Money(D(-100), "USD")), (date(2021, 1, 1), Money(D(110), "EUR"))])


def test_xnpv_bad_input() -> None:
    for rate in (0.1, D(-1), D("-1.5"), D("NaN"), True):
        with pytest.raises(ValidationError) as info:
            xnpv(rate, EXCEL_FLOWS)
        assert info.value.field == "rate", rate
    for bad in (
        [(date(2008, 1, 1),)],
        [(date(2008, 1, 1), D(-1), D(1))],
        [D(-1)],
        [("2008-01-01", D(-1))],
        [(date(2008, 1, 1), 1.5)],
        [(date(2008, 1, 1), True)],
        None,
    ):
        with pytest.raises(ValidationError) as info:
            xnpv(D("0.1"), bad)
        assert info.value.field == "flows", bad


def test_xnpv_refuses_mixed_currencies() -> None:
    flows = [(date(2020, 1, 1), Money(D(-100), "USD")), (date(2021, 1, 1), Money(D(110), "EUR"))]
    with pytest.raises(CurrencyMismatch) as info:
        xnpv(D("0.1"), flows)
    assert info.value.field == "flows"
    same = [(date(2020, 1, 1), Money(D(-100), "USD")), (date(2021, 1, 1), Money(D(110), "USD"))]
    assert xnpv(D(0), same) == D(10)


@st.composite
def solvable_flows(draw: st.DrawFn) -> list[tuple[date, Decimal]]:
    """An investment, then returns: one sign change, so exactly one rate exists."""
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)))
    cents = st.integers(min_value=100, max_value=10**11)
    calls = draw(st.lists(st.tuples(st.integers(0, 400), cents), min_size=1, max_size=5))
    backs = draw(st.lists(st.tuples(st.integers(766, 3650), cents), min_size=1, max_size=8))
    multiple = draw(st.sampled_from([D("0.3"), D("0.9"), D("1.5"), D(3)]))
    paid = sum(c for _, c in calls)
    back_total = sum(c for _, c in backs)
    flows = [(start + timedelta(days=d), D(-c) / 100) for d, c in calls]
    flows += [
        (
            start + timedelta(days=d),
            max((D(c) * paid * multiple / back_total / 100).quantize(D("0.01")), D("0.01")),
        )
        for d, c in backs
    ]
    return flows


@settings(max_examples=150, deadline=None)
@given(solvable_flows())
def test_xnpv_at_the_xirr_rate_is_about_zero(flows: list[tuple[date, Decimal]]) -> None:
    rate = xirr(flows)
    assert rate is not None
    scale = sum(abs(a) for _, a in flows)
    assert abs(xnpv(rate, flows)) <= scale * D("1e-7")


def test_multiples() -> None:
    m = multiples(D(100), D(50), D(80))
    assert (m.tvpi, m.dpi, m.rvpi) == (D("1.3"), D("0.5"), D("0.8"))
    thirds = multiples(D(3), D(1), D(1))
    assert thirds.dpi == D("0.3333333333") and thirds.tvpi == thirds.dpi + thirds.rvpi
    assert multiples(D(0), D(0), D(0)) == multiples(0, 5, 5)
    assert multiples(D(0), D(10), D(0)).tvpi is None
    assert moic(D(4), D(10)) == D("2.5")
    assert moic(D(0), D(10)) is None


@given(
    st.decimals(min_value=0, max_value=10**12, places=2),
    st.decimals(min_value=0, max_value=10**12, places=2),
    st.decimals(min_value=0, max_value=10**12, places=2),
)
def test_tvpi_is_dpi_plus_rvpi_exactly(paid: Decimal, distributed: Decimal, nav: Decimal) -> None:
    m = multiples(paid, distributed, nav)
    if paid == 0:
        assert m.tvpi is m.dpi is m.rvpi is None
    else:
        assert m.tvpi == m.dpi + m.rvpi
        assert abs(m.tvpi - (distributed + nav) / paid) <= D("1e-10")


def test_multiples_bad_input_names_the_argument() -> None:
    for args, field in (
        ((100.0, D(1), D(1)), "paid_in"),
        ((D(100), D(-1), D(1)), "distributed"),
        ((D(100), D(1), D("NaN")), "nav"),
    ):
        with pytest.raises(ValidationError) as info:
            multiples(*args)
        assert info.value.field == field
    with pytest.raises(CurrencyMismatch):
        multiples(Money(D(1), "USD"), Money(D(1), "GBP"), D(0))
    with pytest.raises(ValidationError):
        moic(D(-1), D(1))


def test_portfolio_metrics_matches_xirr_and_multiples() -> None:
    on = date(2010, 1, 1)
    book = {
        "excel": EXCEL_FLOWS,
        "open": [(date(2008, 1, 1), D(-1000)), (date(2009, 1, 1), D(200))],
        "fresh": [],
        "money": [(date(2008, 1, 1), Money(D(-500), "EUR"))],
    }
    navs = {"open": D(1100), "money": Money(D(550), "EUR")}
    result = portfolio_metrics(book, navs, on)
    assert result["excel"].irr == xirr(EXCEL_FLOWS)
    assert result["excel"].nav == 0 and result["excel"].paid_in == D(10000)
    assert result["excel"].tvpi == multiples(D(10000), D(13000), D(0)).tvpi
    opened = result["open"]
    assert opened.irr == xirr([*book["open"], (on, D(1100))])
    assert (opened.paid_in, opened.distributed, opened.nav) == (D(1000), D(200), D(1100))
    assert (opened.dpi, opened.rvpi, opened.tvpi) == (D("0.2"), D("1.1"), D("1.3"))
    assert result["fresh"].irr is None and result["fresh"].tvpi is None
    assert result["money"].irr == xirr([(date(2008, 1, 1), D(-500)), (on, D(550))])


def test_portfolio_metrics_bad_input() -> None:
    with pytest.raises(ValidationError) as info:
        portfolio_metrics({"a": EXCEL_FLOWS}, {"a": D(-1)}, date(2010, 1, 1))
    assert info.value.field == "navs"
    with pytest.raises(CurrencyMismatch):
        portfolio_metrics(
            {"a": [(date(2008, 1, 1), Money(D(-500), "EUR"))]}, {"a": Money(D(1), "USD")}, date(2010, 1, 1)
        )
    with pytest.raises(ValidationError):
        portfolio_metrics({"a": EXCEL_FLOWS}, {}, "2010-01-01")  # type: ignore[arg-type]
    # The bulk path shares xirr's fast path, and its checks: no ISO strings, no bools.
    for bad in ([("2008-01-01", D(-100))], [(date(2008, 1, 1), D(-100)), (date(2009, 1, 1), False)]):
        with pytest.raises(ValidationError) as info:
            portfolio_metrics({"a": bad}, {}, date(2010, 1, 1))
        assert info.value.field == "flows"
