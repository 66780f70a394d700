"""Properties of carry over random pools, in both models (core.fundmath.carry)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.fundmath import (
    ACCRUALS,
    MODELS,
    DealExit,
    WaterfallTerms,
    carry_statement,
    run_waterfall,
    true_up,
    waterfall,
)

D = Decimal
CENT = D("0.01")
ORIGIN = date(2023, 1, 1)
MONEY = st.decimals(min_value=CENT, max_value=D(10**6), places=2)
PROCEEDS = st.decimals(min_value=0, max_value=D(5 * 10**6), places=2)
CARRY = st.decimals(min_value=0, max_value=D("0.5"), places=2)
RATE = st.decimals(min_value=0, max_value=1, places=2)


def day(n: int) -> date:
    return ORIGIN + timedelta(days=n)


def floor(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_FLOOR)


def total(flows: object) -> Decimal:
    return sum((value for _, value in flows), D(0))  # type: ignore[attr-defined]


@st.composite
def any_terms(draw: st.DrawFn, model: str, **fixed: object) -> WaterfallTerms:
    drawn = {
        "hurdle_rate": draw(st.decimals(min_value=0, max_value=D("0.2"), places=3)),
        "hurdle_accrual": draw(st.sampled_from(ACCRUALS)),
        "catch_up_rate": draw(RATE),
        "carry_rate": draw(CARRY),
        "escrow_rate": draw(RATE),
        "recover_prior_losses": draw(st.booleans()),
    }
    return WaterfallTerms(model=model, **{**drawn, **fixed})


@st.composite
def pools(draw: st.DrawFn, contributed_by: int = 700, exits_from: int = 0) -> dict:
    """Deals with dated contributions, perhaps a GP commitment and expenses, and exits in order."""
    names = [f"deal {n}" for n in range(draw(st.integers(1, 4)))]
    dates = st.integers(0, contributed_by).map(day)
    deals = {name: draw(st.lists(st.tuples(dates, MONEY), max_size=2)) for name in names}
    gp_commitment = {
        name: draw(st.lists(st.tuples(dates, MONEY), min_size=1, max_size=1))
        for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    }
    expenses = draw(
        st.lists(st.tuples(dates, st.decimals(min_value=CENT, max_value=D(10**4), places=2)), max_size=2)
    )
    raw = draw(
        st.lists(
            st.tuples(
                st.sampled_from(names), st.integers(exits_from, 1400).map(day), PROCEEDS, st.booleans()
            ),
            min_size=1,
            max_size=6,
        )
    )
    exits, done = [], set()
    for deal, when, proceeds, final in sorted(raw, key=lambda e: e[1]):
        if deal not in done:  # nothing after a deal's final exit
            exits.append(DealExit(deal, when, proceeds, final))
            if final:
                done.add(deal)
    return {"deals": deals, "exits": exits, "expenses": expenses, "gp_commitment": gp_commitment}


def run(terms: WaterfallTerms, pool: dict):  # noqa: ANN201
    return run_waterfall(
        terms, pool["deals"], pool["exits"], expenses=pool["expenses"], gp_commitment=pool["gp_commitment"]
    )


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODELS).flatmap(any_terms), pools())
def test_every_exit_adds_up_and_escrow_never_goes_negative(terms: WaterfallTerms, pool: dict) -> None:
    result = run(terms, pool)
    escrow_before = D(0)
    for row in result.distributions:
        # Investors plus GP (carry and its own commitment's share) is the exit's proceeds, exactly.
        assert row.gp_commitment + row.lp + row.carry == row.proceeds
        assert min(row.gp_commitment, row.lp, row.carry, row.escrowed, row.carry_paid) >= 0
        assert sum(t.lp for t in row.waterfall.tiers) == row.lp
        assert sum(t.gp for t in row.waterfall.tiers) == row.carry
        assert row.escrowed + row.carry_paid == row.carry
        # The escrow balance: escrow_rate of the carry to date, half up; never negative, never
        # falling, never more than the carry.
        assert row.escrow_balance == (terms.escrow_rate * row.carry_to_date).quantize(CENT, ROUND_HALF_UP)
        assert 0 <= escrow_before <= row.escrow_balance <= row.carry_to_date
        assert row.escrow_balance - escrow_before == row.escrowed
        escrow_before = row.escrow_balance
        for value in (row.lp, row.carry, row.escrowed, row.gp_commitment):
            assert value == value.quantize(CENT)
    rows = result.distributions
    assert result.lp_total == sum((r.lp for r in rows), D(0))
    assert result.carry_total == sum((r.carry for r in rows), D(0))
    assert result.escrow == escrow_before and result.carry_paid == sum((r.carry_paid for r in rows), D(0))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(MODELS).flatmap(any_terms),
    pools(),
    st.lists(st.decimals(min_value=0, max_value=D(10**6), places=2), min_size=4, max_size=4),
    st.dictionaries(st.sampled_from("abcdefg"), st.integers(1, 10**6), min_size=1),
)
def test_after_the_true_up_the_gp_keeps_at_most_its_carry_share(
    terms: WaterfallTerms, pool: dict, values: list, weights: dict
) -> None:
    # Wind down on the last day anything happened, every deal still held sold at a random mark.
    flows = [*pool["expenses"], *(f for fs in pool["deals"].values() for f in fs)]
    flows += [f for fs in pool["gp_commitment"].values() for f in fs]
    on = max([f[0] for f in flows] + [e.on for e in pool["exits"]])
    held = [deal for deal in pool["deals"] if not any(e.final and e.deal == deal for e in pool["exits"])]
    marks = dict(zip(held, values, strict=False))
    statement = carry_statement(
        terms,
        pool["deals"],
        pool["exits"],
        marks,
        on,
        expenses=pool["expenses"],
        gp_commitment=pool["gp_commitment"],
    )
    owed = statement.clawback
    actual = run(terms, pool)
    sold = run(terms, {**pool, "exits": pool["exits"] + [DealExit(d, on, marks[d], True) for d in held]})
    contributed = total(pool["expenses"]) + sum((total(fs) for fs in pool["deals"].values()), D(0))
    profit = max(sold.lp_total + sold.carry_total - contributed, D(0))
    # What the GP keeps of the carry received, and with the accrued carry once the marks are sold,
    # is never more than its carry share of the pool's cumulative profit.
    assert owed.carry_kept <= owed.carry_kept + statement.accrued_carry <= terms.carry_rate * profit
    assert owed.carry_kept == min(owed.carry_received, owed.carry_due)
    assert statement.accrued_carry <= sold.carry_total - actual.carry_total
    # The escrow is used first and never goes negative; nothing is lost between the pockets.
    assert 0 <= owed.escrow_applied <= owed.owed and owed.escrow_released >= 0 and owed.exposure >= 0
    assert owed.escrow_applied + owed.escrow_released == owed.escrow == actual.escrow
    assert owed.escrow_applied + owed.exposure == owed.owed
    settled = true_up(owed, weights)
    assert sum(settled.escrow_applied.values()) == owed.escrow_applied
    assert sum(settled.gp_owes.values()) == owed.exposure
    assert all(v >= 0 for v in [*settled.escrow_applied.values(), *settled.gp_owes.values()])
    # Investors plus GP is still what went through the waterfall, exactly.
    investors = actual.lp_total + owed.escrow_applied + owed.exposure
    assert investors + owed.carry_kept == actual.lp_total + actual.carry_total


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODELS).flatmap(lambda m: any_terms(m, recover_prior_losses=False)), pools(100, 101))
def test_a_partial_catch_up_never_overtakes(terms: WaterfallTerms, pool: dict) -> None:
    # All capital is in before the first exit (by day 100, exits from day 101), with any catch-up
    # rate from 0 to 100%: after every exit the GP's carry to date is at most carry_rate of the
    # profit distributed to date, in the pool (European) and in each deal (American).
    result = run(terms, pool)
    seen: dict = {}
    for row in result.distributions:
        if terms.model == "european":
            capital = total(pool["expenses"]) + sum((total(fs) for fs in pool["deals"].values()), D(0))
            received, carry = row.lp_to_date + row.carry_to_date, row.carry_to_date
        else:
            capital = total(pool["deals"][row.deal])
            received, carry = seen.get(row.deal, (D(0), D(0)))
            received, carry = received + row.lp + row.carry, carry + row.carry
            seen[row.deal] = received, carry
        assert carry <= terms.carry_rate * max(received - capital, D(0))


@st.composite
def winners(draw: st.DrawFn, model: str) -> tuple:
    """Deals paid 100 or more by day 100, each sold once (final) between day 101 and day 1095 for at
    least 5 times its capital: with a hurdle of at most 10% over at most 3 years the pref is at most
    33.1% of capital and the catch-up no more than that (carry <= 50%), so every deal and the
    pool reach the split."""
    terms = draw(
        any_terms(
            model,
            hurdle_rate=draw(st.decimals(min_value=0, max_value=D("0.1"), places=3)),
            catch_up_rate=D(1),
            carry_rate=draw(st.decimals(min_value=D("0.05"), max_value=D("0.5"), places=2)),
            recover_prior_losses=False,
        )
    )
    count = draw(st.integers(1, 4))
    cost = st.decimals(min_value=D(100), max_value=D(10**6), places=2)
    deals = {f"deal {n}": [(day(draw(st.integers(0, 100))), draw(cost))] for n in range(count)}
    exits = [
        DealExit(
            name,
            day(draw(st.integers(101, 1095))),
            flows[0][1] * draw(st.integers(5, 20)) + draw(MONEY),
            True,
        )
        for name, flows in deals.items()
    ]
    return terms, deals, sorted(exits, key=lambda e: e.on)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODELS).flatmap(winners))
def test_full_catch_up_with_enough_profit_gives_exactly_the_carry_share(case: tuple) -> None:
    terms, deals, exits = case
    result = run_waterfall(terms, deals, exits)
    capital = sum((total(fs) for fs in deals.values()), D(0))
    profit = sum((e.proceeds for e in exits), D(0)) - capital
    if terms.model == "european":
        # One whole-pool waterfall, however many exits: exactly carry_rate of the profit, rounded
        # down once.
        assert result.carry_total == floor(terms.carry_rate * profit)
    else:
        # Each deal's carry is exactly carry_rate of that deal's profit, rounded down; so the pool's
        # is short of carry_rate of its profit by less than a cent a deal.
        for row in result.distributions:
            assert row.carry == floor(terms.carry_rate * (row.proceeds - total(deals[row.deal])))
        assert 0 <= floor(terms.carry_rate * profit) - result.carry_total < CENT * len(deals)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODELS).flatmap(winners), MONEY, st.integers(0, 99))
def test_after_a_loser_the_true_up_leaves_exactly_the_carry_share(
    case: tuple, extra: Decimal, kept: int
) -> None:
    # The winners, then a loser paid in with them (at least 100, no more than the winners' capital)
    # and sold on the last day for kept% of its cost. Deal by deal, the GP was paid carry on the
    # winners alone; the true-up leaves it exactly carry_rate of the pool's profit, rounded down.
    terms, deals, exits = case
    winners_capital = sum((total(fs) for fs in deals.values()), D(0))
    cost = min(D(100) + extra, winners_capital)  # so the pool as a whole still reaches the split
    last = max(e.on for e in exits)
    deals = {**deals, "loser": [(ORIGIN, cost)]}
    exits = [*exits, DealExit("loser", last, (cost * kept / 100).quantize(CENT, ROUND_FLOOR), True)]
    statement = carry_statement(terms, deals, exits, {}, last)
    profit = sum((e.proceeds for e in exits), D(0)) - winners_capital - cost
    assert statement.carry_due == floor(terms.carry_rate * profit)
    assert statement.clawback.carry_kept == floor(terms.carry_rate * profit)
    if terms.model == "american":
        assert statement.clawback.owed > 0  # the loser's 1% or more of 100 at 5% carry is >= 0.05


@settings(max_examples=200, deadline=None)
@given(
    st.booleans(),
    CARRY,
    RATE,
    MONEY,
    st.integers(100, 1000),
    MONEY,
    st.integers(0, 99),
    st.dictionaries(st.sampled_from("abcde"), st.integers(1, 1000), min_size=1),
)
def test_early_winner_then_loser_matches_the_hand_computation(
    recover: bool,
    carry: Decimal,
    escrow_rate: Decimal,
    winner_cost: Decimal,
    multiple_percent: int,
    loser_cost: Decimal,
    loser_percent: int,
    weights: dict,
) -> None:
    # American, no hurdle: the winner (sold for multiple_percent% of its cost) pays
    #   carry = floor(c x (P_w - C_w)), escrow = half-up(e x carry);
    # the loser (sold for loser_percent% of its cost) pays none; at wind-down
    #   due = floor(c x max(0, P_w + P_l - C_w - C_l)), owed = max(0, carry - due),
    #   escrow applied = min(owed, escrow), exposure = owed - escrow applied.
    # Loss recovery changes nothing: no deal exits after the loser.
    terms = WaterfallTerms(
        carry_rate=carry, escrow_rate=escrow_rate, model="american", recover_prior_losses=recover
    )
    winner_proceeds = (winner_cost * multiple_percent / 100).quantize(CENT, ROUND_FLOOR)
    loser_proceeds = (loser_cost * loser_percent / 100).quantize(CENT, ROUND_FLOOR)
    deals = {"winner": [(ORIGIN, winner_cost)], "loser": [(ORIGIN, loser_cost)]}
    exits = [
        DealExit("winner", day(200), winner_proceeds, True),
        DealExit("loser", day(400), loser_proceeds, True),
    ]
    paid = floor(carry * (winner_proceeds - winner_cost))
    held = (escrow_rate * paid).quantize(CENT, ROUND_HALF_UP)
    due = floor(carry * max(winner_proceeds + loser_proceeds - winner_cost - loser_cost, D(0)))
    owed = max(paid - due, D(0))
    applied = min(owed, held)

    statement = carry_statement(terms, deals, exits, {}, day(400))
    claw = statement.clawback
    assert (statement.carry_received, statement.escrow, statement.carry_paid) == (paid, held, paid - held)
    assert (claw.carry_due, claw.owed, claw.escrow_applied, claw.exposure) == (
        due,
        owed,
        applied,
        owed - applied,
    )
    assert claw.escrow_released == held - applied
    settled = true_up(claw, weights)
    assert sum(settled.gp_owes.values()) == owed - applied
    assert sum(settled.escrow_applied.values()) == applied


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(MODELS).flatmap(any_terms),
    st.lists(st.tuples(st.integers(0, 700).map(day), MONEY), max_size=3),
    PROCEEDS,
)
def test_one_exit_is_the_whole_fund_waterfall(terms: WaterfallTerms, paid: list, proceeds: Decimal) -> None:
    # One engine: a pool's single exit, in either model, is exactly waterfall() on the same flows.
    on = day(800)
    (row,) = run_waterfall(terms, {"deal": paid}, [DealExit("deal", on, proceeds, True)]).distributions
    assert row.waterfall == waterfall(terms, paid, [], proceeds, on)
