"""The European whole-fund waterfall (core.fundmath.waterfall)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import CurrencyMismatch, ValidationError
from core.fundmath import WaterfallTerms, preferred_return, waterfall
from core.money import Money

D = Decimal
START, ONE_YEAR_LATER = date(2023, 1, 1), date(2024, 1, 1)  # 365 days apart
STANDARD = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D(1), carry_rate=D("0.2"))


def test_published_example_with_full_catch_up() -> None:
    # Source: issue 3 ("Fund maths ..."), section "Tests that must exist", which gives these
    # figures: 8% hurdle, 100% catch-up, 20% carry; the LP contributes 50 one year before an exit
    # of 100; LP 90 (50 capital, 4 preferred, 36 of the split), GP 10 (1 catch-up, 9 of the split).
    # Derivation (2023-01-01 to 2024-01-01 is 365 days, so exactly one year at actual/365):
    #   tier 1, return of capital: LP 50                              (100 - 50 = 50 left)
    #   tier 2, preferred return:  LP 50 x (1.08 ** (365/365) - 1) = 4 (50 - 4 = 46 left)
    #   tier 3, 100% catch-up:     GP takes K until K = 20% x (4 + K), so 0.8 K = 0.8, K = 1
    #                              GP 1, LP 0                         (46 - 1 = 45 left)
    #   tier 4, 80/20 split of 45: LP 0.8 x 45 = 36, GP 0.2 x 45 = 9
    #   LP 50 + 4 + 0 + 36 = 90; GP 0 + 0 + 1 + 9 = 10; 90 + 10 = 100 = proceeds,
    #   and GP 10 = 20% of the 50 profit.
    result = waterfall(STANDARD, [(START, D(50))], [], D(100), ONE_YEAR_LATER)
    assert (result.return_of_capital_lp, result.preferred_return_lp) == (D(50), D(4))
    assert (result.catch_up_gp, result.catch_up_lp) == (D(1), D(0))
    assert (result.split_lp, result.split_gp) == (D(36), D(9))
    assert (result.lp_total, result.gp_total) == (D(90), D(10))
    assert [t.name for t in result.tiers] == ["return_of_capital", "preferred_return", "catch_up", "split"]


def test_published_example_without_catch_up() -> None:
    # Source: issue 3, section "Tests that must exist", which gives these figures: 100 in, 200
    # out after one year, 8% compounded hurdle, 20% carry, no catch-up: LP 181.60, GP 18.40.
    # Derivation (365 days, so exactly one year at actual/365):
    #   tier 1, return of capital: LP 100                               (200 - 100 = 100 left)
    #   tier 2, preferred return:  LP 100 x (1.08 ** (365/365) - 1) = 8  (100 - 8 = 92 left)
    #   tier 3, catch-up at 0%:    nothing                               (92 left)
    #   tier 4, 80/20 split of 92: LP 0.8 x 92 = 73.60, GP 0.2 x 92 = 18.40
    #   LP 100 + 8 + 73.60 = 181.60; GP 18.40; 181.60 + 18.40 = 200 = proceeds.
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D(0), carry_rate=D("0.2"))
    result = waterfall(terms, [(START, D(100))], [], D(200), ONE_YEAR_LATER)
    assert (result.lp_total, result.gp_total) == (D("181.60"), D("18.40"))
    assert (result.split_lp, result.split_gp) == (D("73.60"), D("18.40"))
    assert result.catch_up_gp == 0


@pytest.mark.parametrize("catch_up_rate", [D(0), D("0.2"), D("0.8"), D(1)])
@pytest.mark.parametrize("contributions", [[], [(START, D(0))]], ids=["none", "zero"])
def test_no_contributions_means_all_proceeds_are_profit(catch_up_rate: Decimal, contributions: list) -> None:
    # No capital to return and no pref to accrue, so no pref to catch up on either: the whole 100
    # is profit and goes straight to the split, 20% carry on all of it, whatever the catch-up rate.
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=catch_up_rate, carry_rate=D("0.2"))
    result = waterfall(terms, contributions, [], D(100), ONE_YEAR_LATER)
    assert (result.lp_total, result.gp_total) == (D(80), D(20))
    assert (result.split_lp, result.split_gp) == (D(80), D(20))
    assert all(t.lp == t.gp == 0 for t in result.tiers[:3])
    # Earlier distributions continue the same split: the LP's 40 was the LP's 80% of 50.
    later = waterfall(terms, contributions, [(START, D(40))], D(50), ONE_YEAR_LATER)
    assert (later.lp_total, later.gp_total) == (D(40), D(10))
    assert waterfall(terms, contributions, [], D(0), ONE_YEAR_LATER).gp_total == 0


def test_simple_carry_without_hurdle_or_catch_up() -> None:
    result = waterfall(WaterfallTerms(carry_rate=D("0.2")), [(START, D(100))], [], D(150), START)
    assert (result.lp_total, result.gp_total) == (D(140), D(10))
    assert result.preferred_return_lp == 0


def test_pref_compounds_annually_actual_365_per_contribution() -> None:
    # 100 for two years (2022-01-01 to 2024-01-01 is 730 days) at 8% compounded: 16.64 of pref;
    # 100 for half a year (182 days): 100 * (1.08 ** (182/365) - 1) = 3.9117...
    contributions = [(date(2022, 1, 1), D(100)), (date(2023, 7, 3), D(100))]
    result = waterfall(STANDARD, contributions, [], D(300), ONE_YEAR_LATER)
    exact = D("16.64") + D(100) * (D("1.08") ** (D(182) / D(365)) - 1)
    assert result.preferred_return_lp == exact.quantize(D("0.01")) == D("20.55")


def test_leap_year_accrues_366_days() -> None:
    result = waterfall(STANDARD, [(date(2024, 1, 1), D(1000))], [], D(2000), date(2025, 1, 1))
    exact = D(1000) * (D("1.08") ** (D(366) / D(365)) - 1)
    assert result.preferred_return_lp == exact.quantize(D("0.01"))
    assert result.preferred_return_lp > D(80)


@pytest.mark.parametrize("proceeds", [D(0), D("0.01"), D(30), D(50)])
def test_losses_and_zero_proceeds_all_go_to_the_lp(proceeds: Decimal) -> None:
    result = waterfall(STANDARD, [(START, D(50))], [], proceeds, ONE_YEAR_LATER)
    assert result.lp_total == result.return_of_capital_lp == proceeds
    assert result.gp_total == 0


def test_inside_the_catch_up() -> None:
    result = waterfall(STANDARD, [(START, D(50))], [], D("54.50"), ONE_YEAR_LATER)
    assert (result.lp_total, result.gp_total, result.catch_up_gp) == (D(54), D("0.50"), D("0.50"))


def test_partial_catch_up_rate() -> None:
    # 80% catch-up, 20% carry: the tier lasts K = 0.2 * 8 / (0.8 - 0.2) = 2.666..., of which the
    # GP gets 2.1333 and the LP 0.5333; then 89.3333 split 80/20. The GP ends with 20% of the
    # 100 profit: 20.00, its running total rounded down. The tier ends at 110.67 (half up), so the
    # LP's part of it is 2.67 - 2.13 = 0.54.
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D("0.8"), carry_rate=D("0.2"))
    result = waterfall(terms, [(START, D(100))], [], D(200), ONE_YEAR_LATER)
    assert (result.catch_up_gp, result.catch_up_lp) == (D("2.13"), D("0.54"))
    assert (result.gp_total, result.lp_total) == (D(20), D(180))


def test_catch_up_at_the_carry_rate_never_completes() -> None:
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D("0.2"), carry_rate=D("0.2"))
    result = waterfall(terms, [(START, D(100))], [], D(200), ONE_YEAR_LATER)
    assert result.split_lp == result.split_gp == 0
    assert result.catch_up_gp == D("18.40")


def test_prior_distributions_count_against_capital_and_pref_first() -> None:
    whole = waterfall(STANDARD, [(START, D(50))], [], D(100), ONE_YEAR_LATER)
    first = waterfall(STANDARD, [(START, D(50))], [], D(30), ONE_YEAR_LATER)
    second = waterfall(
        STANDARD, [(START, D(50))], [(date(2023, 6, 1), first.lp_total)], D(70), ONE_YEAR_LATER
    )
    assert (first.lp_total, first.gp_total) == (D(30), D(0))
    assert second.return_of_capital_lp == D(20) and second.preferred_return_lp == D(4)
    assert (first.lp_total + second.lp_total, first.gp_total + second.gp_total) == (
        whole.lp_total,
        whole.gp_total,
    )


@pytest.mark.parametrize("split_at", [D(20), D(54), D("54.40"), D(55), D(60), D(99)])
def test_distributing_in_two_steps_equals_one(split_at: Decimal) -> None:
    whole = waterfall(STANDARD, [(START, D(50))], [], D(100), ONE_YEAR_LATER)
    first = waterfall(STANDARD, [(START, D(50))], [], split_at, ONE_YEAR_LATER)
    lp_prior, gp_prior = [(START, first.lp_total)], [(START, first.gp_total)]
    second = waterfall(
        STANDARD,
        [(START, D(50))],
        lp_prior,
        D(100) - split_at,
        ONE_YEAR_LATER,
        prior_gp_distributions=gp_prior,
    )
    assert first.lp_total + second.lp_total == whole.lp_total
    assert first.gp_total + second.gp_total == whole.gp_total
    if first.lp_total != D(54):  # else the LP receipts cannot tell how much catch-up was paid
        inferred = waterfall(STANDARD, [(START, D(50))], lp_prior, D(100) - split_at, ONE_YEAR_LATER)
        assert inferred == second


def test_capital_called_after_carry_was_paid_never_pays_the_gp_above_its_share() -> None:
    """Half the capital in, 100 back on it: capital 50, profit 50, the GP 10 (20%, no hurdle, no
    catch-up). The other 50 is called and 10 comes back: 110 distributed on 100 contributed is a
    profit of 10, of which the GP's share is 2; it holds 10 already, so it takes none of the 10.
    (Placed in its band of the cumulative waterfall, the 10 would have paid it 2 more.)"""
    terms = WaterfallTerms(carry_rate=D("0.2"))
    first = waterfall(terms, [(START, D(50))], [], D(100), START + timedelta(days=100))
    assert (first.lp_total, first.gp_total) == (D(90), D(10))
    second = waterfall(
        terms,
        [(START, D(50)), (START + timedelta(days=120), D(50))],
        [(START + timedelta(days=100), D(90))],
        D(10),
        ONE_YEAR_LATER,
        prior_gp_distributions=[(START + timedelta(days=100), D(10))],
    )
    assert (second.lp_total, second.gp_total, second.split_lp, second.split_gp) == (D(10), 0, D(10), 0)
    # With more back, the GP takes its share again once the cumulative profit allows it: 200 on 100
    # is a profit of 100, of which 20 is the GP's; it holds 10, so it takes 10 of these 100.
    third = waterfall(
        terms,
        [(START, D(50)), (START + timedelta(days=120), D(50))],
        [(START + timedelta(days=100), D(90))],
        D(100),
        ONE_YEAR_LATER,
        prior_gp_distributions=[(START + timedelta(days=100), D(10))],
    )
    assert (third.lp_total, third.gp_total) == (D(90), D(10))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10_000),
    st.integers(0, 30_000),
    st.integers(0, 10_000),
    st.integers(0, 30_000),
    st.sampled_from([D("0.1"), D("0.2"), D("0.3")]),
)
def test_after_each_distribution_the_gp_holds_at_most_its_share_or_what_it_had(
    c1: int, p1: int, c2: int, p2: int, carry: Decimal
) -> None:
    """No hurdle, no catch-up: the GP's entitlement is carry x the profit distributed to date. A
    second call between two distributions never lets the second take it above that, unless it
    already was (then it takes nothing)."""
    terms = WaterfallTerms(carry_rate=carry)
    first = waterfall(terms, [(START, D(c1))], [], D(p1), START + timedelta(days=10))
    second = waterfall(
        terms,
        [(START, D(c1)), (START + timedelta(days=20), D(c2))],
        [(START + timedelta(days=10), first.lp_total)],
        D(p2),
        START + timedelta(days=30),
        prior_gp_distributions=[(START + timedelta(days=10), first.gp_total)],
    )
    share = (carry * max(D(p1 + p2 - c1 - c2), D(0))).quantize(D("0.01"), rounding="ROUND_FLOOR")
    assert first.gp_total + second.gp_total <= max(share, first.gp_total)
    assert second.lp_total + second.gp_total == D(p2) and second.gp_total >= 0


def test_inside_a_full_catch_up_the_lp_receipts_alone_assume_no_catch_up_paid() -> None:
    # LP holds exactly capital + pref (54): the GP may have had 0 or up to 1 of catch-up.
    result = waterfall(STANDARD, [(START, D(50))], [(START, D(54))], D(1), ONE_YEAR_LATER)
    assert result.catch_up_gp == D(1)


def test_minor_units_from_currency_and_money() -> None:
    yen = waterfall(STANDARD, [(START, D(50))], [], D(101), ONE_YEAR_LATER, currency="JPY")
    assert yen.gp_total == D(10) and yen.lp_total == D(91)  # GP's 10.2 rounds down to 10
    money = waterfall(STANDARD, [(START, Money(D(50), "JPY"))], [], Money(D(101), "JPY"), ONE_YEAR_LATER)
    assert money == yen
    with pytest.raises(ValidationError) as info:
        waterfall(STANDARD, [(START, D(50))], [], D("100.5"), ONE_YEAR_LATER, currency="JPY")
    assert info.value.field == "proceeds"


def test_rounding_keeps_the_sum_and_favours_the_lp() -> None:
    terms = WaterfallTerms(hurdle_rate=D("0.07"), catch_up_rate=D("0.9"), carry_rate=D("0.15"))
    result = waterfall(terms, [(date(2021, 3, 7), D("333.33"))], [], D("1000.01"), date(2024, 8, 19))
    assert result.lp_total + result.gp_total == D("1000.01")
    for value in (result.lp_total, result.gp_total, result.split_gp, result.catch_up_gp):
        assert value == value.quantize(D("0.01"))


@st.composite
def cases(draw: st.DrawFn) -> tuple:
    terms = WaterfallTerms(
        hurdle_rate=draw(st.decimals(min_value=0, max_value=D("0.2"), places=3)),
        catch_up_rate=draw(st.sampled_from([D(0), D("0.5"), D("0.8"), D(1)])),
        carry_rate=draw(st.decimals(min_value=0, max_value=D("0.5"), places=2)),
    )
    on = date(2025, 1, 1)
    money = st.decimals(min_value=D("0.01"), max_value=D(10**9), places=2)
    contributions = draw(
        st.lists(st.tuples(st.integers(0, 4000).map(lambda d: on - timedelta(days=d)), money), max_size=4)
    )
    proceeds = draw(st.decimals(min_value=0, max_value=D(10**10), places=2))
    return terms, contributions, proceeds, on


@settings(max_examples=300, deadline=None)
@given(cases())
def test_waterfall_properties(case: tuple) -> None:
    terms, contributions, proceeds, on = case
    result = waterfall(terms, contributions, [], proceeds, on)
    assert result.lp_total + result.gp_total == proceeds
    assert result.lp_total >= 0 and result.gp_total >= 0
    assert all(t.lp >= 0 and t.gp >= 0 for t in result.tiers)
    assert sum(t.lp for t in result.tiers) == result.lp_total
    assert sum(t.gp for t in result.tiers) == result.gp_total
    profit = max(proceeds - sum(a for _, a in contributions), D(0))
    # The GP never holds more than its carry share of profit (exactly, rounding is in LP's favour),
    # and once the catch-up is done and the split reached, it holds that share to the cent.
    assert result.gp_total <= terms.carry_rate * profit
    if result.split_lp > 0 and terms.catch_up_rate == 1:
        assert result.gp_total >= terms.carry_rate * profit - D("0.02")


@settings(max_examples=100, deadline=None)
@given(cases(), st.decimals(min_value=0, max_value=1, places=2))
def test_two_step_distribution_property(case: tuple, share: Decimal) -> None:
    terms, contributions, proceeds, on = case
    first_amount = (proceeds * share).quantize(D("0.01"))
    whole = waterfall(terms, contributions, [], proceeds, on)
    first = waterfall(terms, contributions, [], first_amount, on)
    second = waterfall(
        terms,
        contributions,
        [(on, first.lp_total)],
        proceeds - first_amount,
        on,
        prior_gp_distributions=[(on, first.gp_total)],
    )
    assert abs(first.gp_total + second.gp_total - whole.gp_total) <= D("0.02")
    assert second.lp_total + second.gp_total == proceeds - first_amount


def test_bad_terms_name_the_field() -> None:
    for kwargs, field in (
        ({"hurdle_rate": D("-0.01"), "carry_rate": D("0.2")}, "hurdle_rate"),
        ({"hurdle_rate": 0.08, "carry_rate": D("0.2")}, "hurdle_rate"),
        ({"catch_up_rate": D("1.5"), "carry_rate": D("0.2")}, "catch_up_rate"),
        ({"catch_up_rate": D(-1), "carry_rate": D("0.2")}, "catch_up_rate"),
        ({"carry_rate": D("1.01")}, "carry_rate"),
        ({"carry_rate": D("NaN")}, "carry_rate"),
        ({"carry_rate": 0.2}, "carry_rate"),
    ):
        with pytest.raises(ValidationError) as info:
            WaterfallTerms(**kwargs)
        assert info.value.field == field
    with pytest.raises(TypeError):
        WaterfallTerms(D("0.08"), D(1), D("0.2"))  # type: ignore[misc]  # keyword arguments only


def test_bad_arguments_name_the_field() -> None:
    good = [(START, D(50))]
    cases = [
        ((STANDARD, [(START, 50.0)], [], D(100), ONE_YEAR_LATER), "contributions"),
        ((STANDARD, [(START, D(-5))], [], D(100), ONE_YEAR_LATER), "contributions"),
        ((STANDARD, [(date(2030, 1, 1), D(5))], [], D(100), ONE_YEAR_LATER), "contributions"),
        ((STANDARD, [D(5)], [], D(100), ONE_YEAR_LATER), "contributions"),
        ((STANDARD, good, [(START, D("NaN"))], D(100), ONE_YEAR_LATER), "prior_distributions"),
        ((STANDARD, good, [], D(-1), ONE_YEAR_LATER), "proceeds"),
        ((STANDARD, good, [], 100.0, ONE_YEAR_LATER), "proceeds"),
        ((STANDARD, good, [], D(100), "2024-01-01"), "on"),
        (({"carry_rate": 1}, good, [], D(100), ONE_YEAR_LATER), "terms"),
    ]
    for args, field in cases:
        with pytest.raises(ValidationError) as info:
            waterfall(*args)
        assert info.value.field == field, args
    with pytest.raises(CurrencyMismatch):
        waterfall(STANDARD, [(START, Money(D(50), "USD"))], [], Money(D(100), "EUR"), ONE_YEAR_LATER)
    with pytest.raises(CurrencyMismatch):
        waterfall(STANDARD, [(START, Money(D(50), "USD"))], [], D(100), ONE_YEAR_LATER, currency="EUR")
    with pytest.raises(ValidationError) as info:
        waterfall(STANDARD, good, [], D(100), ONE_YEAR_LATER, minor_unit=D(0))
    assert info.value.field == "minor_unit"


def test_prior_distributions_beyond_what_terms_allow() -> None:
    all_carry = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D(1), carry_rate=D(1))
    with pytest.raises(ValidationError) as info:
        waterfall(all_carry, [(START, D(50))], [(START, D(60))], D(10), ONE_YEAR_LATER)
    assert info.value.field == "prior_distributions"


def test_partial_catch_up_of_25_percent_completes_exactly() -> None:
    # 8% hurdle compounded, 25% catch-up, 20% carry; 100 in on START, 200 out a year later.
    #   tier 1, return of capital: LP 100                              (200 - 100 = 100 left)
    #   tier 2, preferred return:  LP 100 x (1.08 ** (365/365) - 1) = 8 (100 - 8 = 92 left)
    #   tier 3, 25% catch-up:      after K units the GP holds 0.25 K of a profit of 8 + K; it has
    #                              caught up when 0.25 K = 0.2 x (8 + K), so 0.05 K = 1.6, K = 32:
    #                              GP 0.25 x 32 = 8, LP 24                (92 - 32 = 60 left)
    #   tier 4, 80/20 split of 60: LP 48, GP 12
    #   LP 100 + 8 + 24 + 48 = 180; GP 8 + 12 = 20 = 20% of the 100 profit, not a cent more.
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D("0.25"), carry_rate=D("0.2"))
    result = waterfall(terms, [(START, D(100))], [], D(200), ONE_YEAR_LATER)
    assert [(t.lp, t.gp) for t in result.tiers] == [(100, 0), (8, 0), (24, 8), (48, 12)]
    assert (result.lp_total, result.gp_total) == (D(180), D(20))


def test_partial_catch_up_of_50_percent_rounds_in_the_lps_favour() -> None:
    # The same with a 50% catch-up: 0.5 K = 0.2 x (8 + K), so 0.3 K = 1.6, K = 5.3333...
    #   tier 1: 100 to the LP; tier 2: 8 to the LP (boundaries 100 and 108)
    #   tier 3 ends at 113.3333..., rounded half up to 113.33, so the tier is 5.33; the GP's exact
    #          running total is 0.5 x 5.3333... = 2.6666..., rounded down 2.66: GP 2.66, LP 2.67
    #   tier 4 is 200 - 113.33 = 86.67; the GP's exact running total is now
    #          2.6666... + 0.2 x 86.6666... = 20 (exactly its carry share), so GP 20 - 2.66 = 17.34,
    #          LP 86.67 - 17.34 = 69.33
    #   LP 100 + 8 + 2.67 + 69.33 = 180; GP 2.66 + 17.34 = 20.
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D("0.5"), carry_rate=D("0.2"))
    result = waterfall(terms, [(START, D(100))], [], D(200), ONE_YEAR_LATER)
    assert (result.catch_up_lp, result.catch_up_gp) == (D("2.67"), D("2.66"))
    assert (result.split_lp, result.split_gp) == (D("69.33"), D("17.34"))
    assert (result.lp_total, result.gp_total) == (D(180), D(20))


def test_a_partial_catch_up_stopped_half_way_has_not_overtaken() -> None:
    # 50% catch-up, 110 out: tiers 1 and 2 take 108, and the 2 left are the start of the catch-up:
    # GP 1, LP 1. The GP holds 1 of a profit of 10: 10%, still short of its 20%.
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D("0.5"), carry_rate=D("0.2"))
    result = waterfall(terms, [(START, D(100))], [], D(110), ONE_YEAR_LATER)
    assert (result.catch_up_lp, result.catch_up_gp, result.split_gp) == (D(1), D(1), D(0))
    assert result.gp_total <= D("0.2") * D(10)


def test_simple_hurdle_accrual() -> None:
    # 8% simple over two years (2022-01-01 to 2024-01-01, 730 days): 100 x 0.08 x 730/365 = 16
    # (compounded it would be 16.64). 100% catch-up, 20% carry, 250 out:
    #   tier 1: LP 100; tier 2: LP 16                                   (250 - 116 = 134 left)
    #   tier 3: K = 0.2 x (16 + K), so 0.8 K = 3.2, K = 4: GP 4          (134 - 4 = 130 left)
    #   tier 4: LP 0.8 x 130 = 104, GP 0.2 x 130 = 26
    #   LP 100 + 16 + 104 = 220; GP 4 + 26 = 30 = 20% of the 150 profit.
    terms = WaterfallTerms(
        hurdle_rate=D("0.08"), hurdle_accrual="simple", catch_up_rate=D(1), carry_rate=D("0.2")
    )
    result = waterfall(terms, [(date(2022, 1, 1), D(100))], [], D(250), ONE_YEAR_LATER)
    assert [(t.lp, t.gp) for t in result.tiers] == [(100, 0), (16, 0), (0, 4), (104, 26)]
    assert preferred_return(D("0.08"), [(date(2022, 1, 1), D(100))], ONE_YEAR_LATER, "simple") == 16
    # A leap year accrues 366 days: 1000 x 0.08 x 366/365 = 80.2191..., 80.22 to the cent.
    leap = preferred_return(D("0.08"), [(date(2024, 1, 1), D(1000))], date(2025, 1, 1), "simple")
    assert abs(leap - D(29280) / D(365)) < D("1e-25") and round(leap, 2) == D("80.22")


def test_new_terms_default_to_the_existing_whole_fund_behaviour() -> None:
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D(1), carry_rate=D("0.2"))
    assert (terms.model, terms.hurdle_accrual, terms.escrow_rate, terms.recover_prior_losses) == (
        "european",
        "compound",
        D(0),
        False,
    )
    assert terms == STANDARD
    # waterfall() reads only hurdle, accrual, catch-up and carry: model and escrow change nothing.
    american = WaterfallTerms(
        hurdle_rate=D("0.08"), catch_up_rate=D(1), carry_rate=D("0.2"), model="american", escrow_rate=D("0.3")
    )
    assert waterfall(american, [(START, D(50))], [], D(100), ONE_YEAR_LATER) == waterfall(
        STANDARD, [(START, D(50))], [], D(100), ONE_YEAR_LATER
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": "whole_fund"}, "model"),
        ({"model": None}, "model"),
        ({"model": "European"}, "model"),
        ({"hurdle_accrual": "continuous"}, "hurdle_accrual"),
        ({"hurdle_accrual": 1}, "hurdle_accrual"),
        ({"escrow_rate": D("1.01")}, "escrow_rate"),
        ({"escrow_rate": D(-1)}, "escrow_rate"),
        ({"escrow_rate": 0.3}, "escrow_rate"),
        ({"escrow_rate": True}, "escrow_rate"),
        ({"escrow_rate": "thirty"}, "escrow_rate"),
        ({"escrow_rate": D("NaN")}, "escrow_rate"),
        ({"carry_rate": True}, "carry_rate"),
        ({"carry_rate": "twenty"}, "carry_rate"),
        ({"catch_up_rate": D("sNaN")}, "catch_up_rate"),
        ({"catch_up_rate": D("Infinity")}, "catch_up_rate"),
        ({"hurdle_rate": "eight"}, "hurdle_rate"),
        ({"hurdle_rate": False}, "hurdle_rate"),
        ({"recover_prior_losses": 1}, "recover_prior_losses"),
        ({"recover_prior_losses": "yes"}, "recover_prior_losses"),
    ],
)
def test_bad_new_terms_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        WaterfallTerms(**{"carry_rate": D("0.2"), **kwargs})
    assert info.value.field == field


def test_numeric_strings_are_accepted_as_rates() -> None:
    terms = WaterfallTerms(carry_rate="0.2", escrow_rate="0.25", hurdle_rate="0.08")
    assert (terms.carry_rate, terms.escrow_rate, terms.hurdle_rate) == (D("0.2"), D("0.25"), D("0.08"))


def test_unknown_accrual_is_refused_by_preferred_return() -> None:
    with pytest.raises(ValidationError) as info:
        preferred_return(D("0.08"), [(START, D(100))], ONE_YEAR_LATER, "daily")  # type: ignore[arg-type]
    assert info.value.field == "accrual"
