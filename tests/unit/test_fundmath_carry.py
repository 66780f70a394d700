"""Carry over a pool's life (core.fundmath.carry, core.fundmath.expenses): worked examples by hand.

Every figure below is derived tier by tier in the comments; 20% carry unless stated.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import CurrencyMismatch, ValidationError
from core.fundmath import (
    Clawback,
    DealExit,
    WaterfallTerms,
    allocate,
    carry_due,
    carry_statement,
    clawback,
    fund_expense_shares,
    run_waterfall,
    true_up,
    waterfall,
)
from core.money import Money

D = Decimal
CENT = D("0.01")
START = date(2023, 1, 1)
ONE_YEAR_LATER = date(2024, 1, 1)  # 365 days after START
EUROPEAN = WaterfallTerms(carry_rate=D("0.2"))
AMERICAN = WaterfallTerms(carry_rate=D("0.2"), model="american")
INVESTORS = [f"investor {n:02}" for n in range(1, 11)]


# --- The SPV of the issue -------------------------------------------------------------------------


def test_spv_example_with_set_up_costs() -> None:
    # Source: the worked example. An SPV raises 100,000 from 10 investors of 10,000 each,
    # pays 8,000 of set-up costs, invests 92,000 and exits for 500,000; 20% carry, no hurdle.
    # The set-up costs are a fund expense charged pro rata to commitments: 8,000 x 10,000/100,000 =
    # 800 each, and they are contributed capital: each investor's 10,000 is 800 of expenses and 9,200
    # invested, so the waterfall's capital is 92,000 + 8,000 = 100,000.
    #   tier 1, return of capital: LP 100,000                  (500,000 - 100,000 = 400,000 left)
    #   tier 2, preferred return:  nothing (no hurdle); tier 3, catch-up: nothing (no pref)
    #   tier 4, 80/20 split of the 400,000 profit: LP 320,000, GP 80,000
    #   LP 100,000 + 320,000 = 420,000, i.e. 42,000 to each of the 10 investors; GP 80,000.
    commitments = dict.fromkeys(INVESTORS, D(10000))
    assert fund_expense_shares(D(8000), commitments) == dict.fromkeys(INVESTORS, D(800))

    whole = waterfall(EUROPEAN, [(START, D(100000))], [], D(500000), ONE_YEAR_LATER)
    assert [(t.lp, t.gp) for t in whole.tiers] == [(100000, 0), (0, 0), (0, 0), (320000, 80000)]
    assert (whole.lp_total, whole.gp_total) == (D(420000), D(80000))

    deal = {"spv": [(START, D(92000))]}
    sale = [DealExit("spv", ONE_YEAR_LATER, D(500000), final=True)]
    european = run_waterfall(EUROPEAN, deal, sale, expenses=[(START, D(8000))])
    # American: the expenses allocated to the deal are part of its contributed capital.
    american = run_waterfall(AMERICAN, {"spv": [(START, D(92000)), (START, D(8000))]}, sale)
    for run in (european, american):
        (row,) = run.distributions
        assert (row.lp, row.carry, row.gp_commitment) == (D(420000), D(80000), D(0))
        assert (run.lp_total, run.carry_total, run.escrow) == (D(420000), D(80000), D(0))
        assert allocate(run.lp_total, commitments) == dict.fromkeys(INVESTORS, D(42000))
    statement = carry_statement(EUROPEAN, deal, sale, {}, ONE_YEAR_LATER, expenses=[(START, D(8000))])
    assert (statement.carry_received, statement.carry_due, statement.clawback_exposure) == (80000, 80000, 0)


def test_spv_expenses_left_out_of_the_deal_are_clawed_back() -> None:
    # The same SPV, American, but the 8,000 of expenses left at pool level instead of allocated to
    # the deal: the deal's waterfall sees only its 92,000.
    #   tier 1: LP 92,000; split of 500,000 - 92,000 = 408,000: LP 326,400, GP 81,600
    #   LP 92,000 + 326,400 = 418,400; GP 81,600.
    # The whole pool made 400,000 (its capital is 100,000), so carry due is 20% x 400,000 = 80,000:
    # the GP has 1,600 too much, with no escrow to apply, so it owes 1,600 out of its own pocket,
    # 160 to each investor (equal weights).
    deal = {"spv": [(START, D(92000))]}
    sale = [DealExit("spv", ONE_YEAR_LATER, D(500000), final=True)]
    run = run_waterfall(AMERICAN, deal, sale, expenses=[(START, D(8000))])
    assert (run.lp_total, run.carry_total) == (D(418400), D(81600))
    statement = carry_statement(AMERICAN, deal, sale, {}, ONE_YEAR_LATER, expenses=[(START, D(8000))])
    assert (statement.carry_received, statement.carry_due) == (D(81600), D(80000))
    assert (statement.clawback.owed, statement.clawback.escrow_applied, statement.clawback_exposure) == (
        D(1600),
        D(0),
        D(1600),
    )
    settled = true_up(statement.clawback, dict.fromkeys(INVESTORS, D(10000)))
    assert settled.gp_owes == dict.fromkeys(INVESTORS, D(160)) and settled.carry_kept == D(80000)


# --- The GP commitment ----------------------------------------------------------------------------


@pytest.mark.parametrize("terms", [EUROPEAN, AMERICAN], ids=["european", "american"])
def test_gp_commitment_pays_no_carry_and_has_its_own_line(terms: WaterfallTerms) -> None:
    # Investors put 90 into the deal and the GP 10 of its own; the exit of 300 is split by capital:
    #   GP commitment 300 x 10/100 = 30, investors 300 x 90/100 = 270
    #   investors' waterfall: tier 1 LP 90; split of 180: LP 144, GP 36 (carry)
    #   300 = 30 (GP commitment) + 144 + 90 (LP 234) + 36 (carry). The GP commitment's 20 of profit
    #   bears no carry: carry is 36 = 20% of the investors' 180, not 20% of 200.
    deals = {"deal": [(START, D(90))]}
    own = {"deal": [(START, D(10))]}
    sale = [DealExit("deal", ONE_YEAR_LATER, D(300), final=True)]
    (row,) = run_waterfall(terms, deals, sale, gp_commitment=own).distributions
    assert (row.gp_commitment, row.lp, row.carry) == (D(30), D(234), D(36))
    assert row.gp_commitment + row.lp + row.carry == row.proceeds
    statement = carry_statement(terms, deals, sale, {}, ONE_YEAR_LATER, gp_commitment=own)
    assert (statement.gp_commitment_distributions, statement.investor_distributions) == (D(30), D(234))
    assert (statement.carry_received, statement.carry_due, statement.clawback.owed) == (D(36), D(36), D(0))


# --- Deal by deal: losses and the clawback --------------------------------------------------------

LOSER_THEN_WINNER = [
    DealExit("loser", date(2023, 7, 2), D(40), final=True),  # 182 days after START
    DealExit("winner", ONE_YEAR_LATER, D(300), final=True),  # 365 days after START
]
TWO_DEALS = {"loser": [(START, D(100))], "winner": [(START, D(100))]}


def test_deal_by_deal_recovering_prior_losses_needs_no_clawback() -> None:
    # American, 10% simple hurdle, 100% catch-up, 20% carry; prior realized losses recovered.
    # Exit 1, the loser, 40 on 2023-07-02: capital 100, so all 40 is tier 1 to the LP and the deal
    #   is fully realized with 100 - 40 = 60 of capital lost, carried forward dated 2023-01-01.
    # Exit 2, the winner, 300 on 2024-01-01: its capital is its own 100 plus the 60 lost = 160
    #   tier 1: LP 160
    #   tier 2: LP 160 x 10% x 365/365 = 16
    #   tier 3: 100% catch-up until the GP holds 20% of the profit: K = 0.2 x (16 + K), K = 4: GP 4
    #   tier 4: 300 - 180 = 120: LP 96, GP 24
    #   LP 160 + 16 + 96 = 272; GP 4 + 24 = 28.
    # Whole pool: 200 in, 40 + 300 = 340 out, profit 140, carry due 20% x 140 = 28 = carry received.
    terms = WaterfallTerms(
        hurdle_rate=D("0.1"),
        hurdle_accrual="simple",
        catch_up_rate=D(1),
        carry_rate=D("0.2"),
        model="american",
        recover_prior_losses=True,
    )
    run = run_waterfall(terms, TWO_DEALS, LOSER_THEN_WINNER)
    loser, winner = run.distributions
    assert (loser.lp, loser.carry, loser.realized_loss) == (D(40), D(0), D(60))
    assert [(t.lp, t.gp) for t in winner.waterfall.tiers] == [(160, 0), (16, 0), (0, 4), (96, 24)]
    assert (run.lp_total, run.carry_total, run.unrecovered_losses) == (D(312), D(28), D(0))
    statement = carry_statement(terms, TWO_DEALS, LOSER_THEN_WINNER, {}, ONE_YEAR_LATER)
    # Carry due, the whole pool in date order (the European model over both deals' 200):
    #   2023-07-02, 40: short of the 200 of capital, all to the LP
    #   2024-01-01, 300, continuing from 40: tier 1 160 more (to 200); tier 2 200 x 10% = 20;
    #   tier 3 K = 0.2 x (20 + K), K = 5, GP 5; tier 4 340 - 225 = 115: GP 23; carry 5 + 23 = 28,
    #   within the cap of 20% x 140 = 28.
    assert (statement.carry_due, statement.clawback.owed) == (D(28), D(0))


def test_deal_by_deal_without_loss_recovery_claws_back_by_hand() -> None:
    # The same, but the winner's waterfall sees only its own 100:
    #   tier 1: LP 100; tier 2: 100 x 10% = 10; tier 3: K = 0.2 x (10 + K), K = 2.50: GP 2.50
    #   tier 4: 300 - 112.50 = 187.50: LP 150, GP 37.50
    #   LP 260, GP 40; over both deals the investors have 40 + 260 = 300.
    # Carry due is still 28 (the whole pool does not change), so the GP has 40 - 28 = 12 too much;
    # no escrow: it owes 12 out of its own pocket and keeps 28 = 20% of the 140 profit.
    terms = WaterfallTerms(
        hurdle_rate=D("0.1"),
        hurdle_accrual="simple",
        catch_up_rate=D(1),
        carry_rate=D("0.2"),
        model="american",
    )
    run = run_waterfall(terms, TWO_DEALS, LOSER_THEN_WINNER)
    assert [(t.lp, t.gp) for t in run.distributions[1].waterfall.tiers] == [
        (100, 0),
        (10, 0),
        (0, D("2.50")),
        (150, D("37.50")),
    ]
    assert (run.lp_total, run.carry_total, run.realized_losses, run.unrecovered_losses) == (300, 40, 60, 0)
    owed = carry_statement(terms, TWO_DEALS, LOSER_THEN_WINNER, {}, ONE_YEAR_LATER).clawback
    assert (owed.carry_received, owed.carry_due, owed.owed, owed.exposure, owed.carry_kept) == (
        40,
        28,
        12,
        12,
        28,
    )


ESCROWED = WaterfallTerms(carry_rate=D("0.2"), model="american", escrow_rate=D("0.3"))
THREE_DEALS = {"A": [(START, D(100))], "B": [(START, D(100))], "C": [(START, D(100))]}
WINNER_THEN_LOSERS = [
    DealExit("A", date(2023, 6, 1), D(150)),  # a partial exit
    DealExit("A", date(2023, 9, 1), D(50), final=True),
    DealExit("B", ONE_YEAR_LATER, D(0), final=True),  # written off
    DealExit("C", date(2024, 6, 1), D(130), final=True),
]


def test_early_winner_then_losers_with_escrow_and_the_true_up() -> None:
    # American, no hurdle, 20% carry, 30% of each carry payment escrowed; 100 into each of A, B, C.
    # 2023-06-01, A, 150: tier 1 LP 100; split of 50: LP 40, GP 10. Escrow 30% x 10 = 3, paid 7.
    # 2023-09-01, A, 50 (final): continues A's waterfall past its capital: LP 40, GP 10.
    #   Carry to date 20, escrow 30% x 20 = 6 (3 more), paid 7.
    # 2024-01-01, B written off: nothing to distribute; B lost its 100.
    # 2024-06-01, C, 130 (final): tier 1 LP 100; split of 30: LP 24, GP 6.
    #   Carry to date 26, escrow 30% x 26 = 7.80 (1.80 more), paid 4.20.
    # Totals: investors 140 + 40 + 0 + 124 = 304, carry 26 (18.20 paid, 7.80 in escrow).
    run = run_waterfall(ESCROWED, THREE_DEALS, WINNER_THEN_LOSERS)
    assert [(r.lp, r.carry, r.escrowed, r.carry_paid, r.escrow_balance) for r in run.distributions] == [
        (140, 10, 3, 7, 3),
        (40, 10, 3, 7, 6),
        (0, 0, 0, 0, 6),
        (124, 6, D("1.80"), D("4.20"), D("7.80")),
    ]
    assert (run.lp_total, run.carry_total, run.escrow, run.carry_paid) == (304, 26, D("7.80"), D("18.20"))
    assert run.realized_losses == 100 and run.realized == ("A", "B", "C")
    # Wind-down: the pool took 300 and returned 304 + 26 = 330, a profit of 30: carry due 6.
    #   clawback 26 - 6 = 20; escrow applied first: 7.80 to the investors, none released;
    #   the GP pays the other 20 - 7.80 = 12.20 out of its own pocket, and keeps 6 = 20% x 30.
    statement = carry_statement(ESCROWED, THREE_DEALS, WINNER_THEN_LOSERS, {}, date(2024, 6, 1))
    owed = statement.clawback
    assert (owed.carry_received, owed.carry_due, owed.owed) == (26, 6, 20)
    assert (owed.escrow_applied, owed.escrow_released, owed.exposure) == (D("7.80"), 0, D("12.20"))
    assert (statement.carry_paid, statement.escrow, statement.accrued_carry, statement.nav) == (
        D("18.20"),
        D("7.80"),
        0,
        0,
    )
    # Split across investors by the carry they bore, 5 : 3 : 2:
    #   escrow 7.80: 3.90, 2.34, 1.56;  from the GP 12.20: 6.10, 3.66, 2.44 (exact, nothing left over)
    settled = true_up(owed, {"ann": D(5), "bob": D(3), "cy": D(2)})
    assert settled.escrow_applied == {"ann": D("3.90"), "bob": D("2.34"), "cy": D("1.56")}
    assert settled.gp_owes == {"ann": D("6.10"), "bob": D("3.66"), "cy": D("2.44")}
    assert (settled.escrow_released, settled.carry_kept) == (0, 6)
    # After the true-up: investors 304 + 7.80 + 12.20 = 324, GP 6; 324 + 6 = 330, all proceeds.
    assert run.lp_total + sum(settled.escrow_applied.values()) + sum(settled.gp_owes.values()) == 324


@pytest.mark.parametrize(
    ("marks", "due", "owed", "exposure", "accrued"),
    [
        # B and C held at cost: 200 out + 200 of NAV on 300 in, profit 100, due 20 = received.
        ({"B": D(100), "C": D(100)}, 20, 0, 0, 0),
        # B worth nothing, C at cost: 200 + 100 on 300, no profit, due 0: the GP would owe its 20,
        # 6 of it from escrow and 14 out of its pocket.
        ({"B": D(0), "C": D(100)}, 0, 20, 14, 0),
        # B at cost, C doubled: selling C pays 20 more carry (split of 100), profit 200, due 40:
        # the GP's 20 + 20 = 40 is all due, so the 20 is accrued carry and nothing is exposed.
        ({"B": D(100), "C": D(200)}, 40, 0, 0, 20),
        # B at half its cost, C doubled: selling C pays 20 more carry, but the whole pool made only
        # 200 + 50 + 200 - 300 = 150, due 30; 20 received, so only 10 is accrued.
        ({"B": D(50), "C": D(200)}, 30, 0, 0, 10),
    ],
)
def test_clawback_exposure_and_accrued_carry_before_the_end(
    marks: dict, due: int, owed: int, exposure: int, accrued: int
) -> None:
    # On 2023-12-31, after A's two exits (carry 20 received: 14 paid, 6 escrowed, investors 180),
    # with B and C still held at the marks given and sold at them on that day. Carry due is the
    # whole pool's waterfall over 300 of capital: 150, 50 and B's mark all go to tier 1, and C's mark
    # ends it; so with no hurdle it is 20% of (180 + 20 + marks - 300) whenever that is positive.
    # Selling B pays no carry unless it is marked above its 100, and C pays 20% of its mark above 100.
    # The last case: B at 50 pays none and C at 200 pays 20 (its split of 100), but the pool made
    # 150 and carry due is 30, so the GP could receive only 10 more: accrued 10.
    on = date(2023, 12, 31)
    statement = carry_statement(ESCROWED, THREE_DEALS, WINNER_THEN_LOSERS[:2], marks, on)
    assert (statement.carry_received, statement.carry_paid, statement.escrow) == (20, 14, 6)
    assert (statement.carry_due, statement.clawback.owed, statement.clawback_exposure) == (
        due,
        owed,
        exposure,
    )
    assert statement.accrued_carry == accrued
    assert statement.nav == sum(marks.values())
    assert dict(statement.lines())["Clawback exposure"] == exposure


def test_whole_fund_clawback_when_capital_is_called_after_a_distribution() -> None:
    # European, no hurdle, 20% carry, 25% escrow.
    # 2023-01-01 deal A takes 50; 2023-06-01 A sells for 100: capital to date 50: LP 50, then the
    #   split of 50: LP 40, GP 10 (escrow 2.50, paid 7.50).
    # 2023-07-01 deal B takes 100; 2024-01-01 B is written off: nothing to distribute (the
    #   whole-pool waterfall now has 150 of capital and 100 distributed: still in tier 1).
    # The pool took 150 and returned only A's 100 (LP 90 + GP 10): no profit, carry due 0.
    #   clawback 10 - 0 = 10; escrow 2.50 applied; the GP owes 7.50 out of its pocket; keeps 0.
    terms = WaterfallTerms(carry_rate=D("0.2"), escrow_rate=D("0.25"))
    deals = {"A": [(START, D(50))], "B": [(date(2023, 7, 1), D(100))]}
    exits = [DealExit("A", date(2023, 6, 1), D(100), True), DealExit("B", ONE_YEAR_LATER, D(0), True)]
    run = run_waterfall(terms, deals, exits)
    assert (run.lp_total, run.carry_total, run.escrow) == (D(90), D(10), D("2.50"))
    owed = carry_statement(terms, deals, exits, {}, ONE_YEAR_LATER).clawback
    assert (owed.carry_due, owed.owed, owed.escrow_applied, owed.exposure, owed.carry_kept) == (
        0,
        10,
        D("2.50"),
        D("7.50"),
        0,
    )
    # Split equally over three investors: escrow 2.50 is 0.84 + 0.83 + 0.83 (the odd cent by the
    # largest-remainder tie-break, name order), the GP's 7.50 is 2.50 each.
    settled = true_up(owed, {"x": 1, "y": 1, "z": 1})
    assert settled.escrow_applied == {"x": D("0.84"), "y": D("0.83"), "z": D("0.83")}
    assert settled.gp_owes == {"x": D("2.50"), "y": D("2.50"), "z": D("2.50")}


def test_time_alone_creates_no_clawback() -> None:
    # European, 8% compounded hurdle, no catch-up: 100 in on START, 200 out a year later is the
    # published example: LP 181.60, GP 18.40. Six years on nothing has happened; carry due is the
    # same distribution through the whole pool's waterfall on its own date (18.40), not a waterfall
    # run today with six more years of hurdle, so the GP owes nothing back.
    terms = WaterfallTerms(hurdle_rate=D("0.08"), carry_rate=D("0.2"))
    deals = {"deal": [(START, D(100))]}
    exits = [DealExit("deal", ONE_YEAR_LATER, D(200), True)]
    statement = carry_statement(terms, deals, exits, {}, date(2030, 1, 1))
    assert (statement.carry_received, statement.carry_due, statement.clawback.owed) == (
        D("18.40"),
        D("18.40"),
        0,
    )


def test_a_paid_back_contribution_stops_accruing_the_hurdle() -> None:
    # European, 8% compounded, 100% catch-up. 100 in on START.
    # 2024-01-01, 200: tier 1 100, tier 2 8, tier 3 K = 0.2 x (8 + K), K = 2: GP 2, tier 4 90:
    #   GP 18; GP 20, LP 180. The LP now holds its capital and pref: the 100 stops accruing.
    # 2033-01-01, 1,000: the pref stays 8 (not 100 x (1.08 ** 10 - 1) = 115.89), so the waterfall
    #   continues in the split: GP 200, LP 800. GP 220 = 20% of the 1,100 profit, not 240 (which a
    #   new catch-up on a larger pref would have paid).
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D(1), carry_rate=D("0.2"))
    deals = {"deal": [(START, D(100))]}
    exits = [DealExit("deal", ONE_YEAR_LATER, D(200)), DealExit("deal", date(2033, 1, 1), D(1000), True)]
    first, second = run_waterfall(terms, deals, exits).distributions
    assert (first.lp, first.carry, second.lp, second.carry) == (180, 20, 800, 200)
    # Not paid back at the first exit (50 < 108), the 100 accrues to the second: pref 115.89...,
    # catch-up and split take the GP to 20% of the 950 profit: 190.
    exits = [DealExit("deal", ONE_YEAR_LATER, D(50)), DealExit("deal", date(2033, 1, 1), D(1000), True)]
    first, second = run_waterfall(terms, deals, exits).distributions
    assert (first.lp, first.carry, second.lp, second.carry) == (50, 0, 810, 190)


def test_several_exits_pay_exactly_what_one_would() -> None:
    # No capital, so every cent is profit and 20% of it is carry: 0.002 a cent. Five exits of one
    # cent each: the GP's running exact total is 0.002, 0.004, ..., 0.010, rounded down 0, 0, 0, 0,
    # 0.01; so the fifth exit pays the cent the first four rounded off. One exit of 0.05 pays 0.01.
    deals = {"deal": []}
    run = run_waterfall(AMERICAN, deals, [DealExit("deal", START, CENT)] * 5)
    assert [r.carry for r in run.distributions] == [0, 0, 0, 0, CENT]
    assert run_waterfall(AMERICAN, deals, [DealExit("deal", START, D("0.05"))]).carry_total == CENT


def test_partial_exits_through_a_partial_catch_up_add_up() -> None:
    # 8% compounded, 50% catch-up; 100 in on START; 110 then 90 a year later (same day).
    # First 110: tiers 1 and 2 take 108; the catch-up's first 2: GP 1, LP 1 (see the waterfall
    # tests). Then 90: the catch-up's other 3.3333... and the split; the GP ends with 20 in all,
    # exactly what one exit of 200 gives (GP 2.66 + 17.34, see the waterfall tests).
    terms = WaterfallTerms(hurdle_rate=D("0.08"), catch_up_rate=D("0.5"), carry_rate=D("0.2"))
    deals = {"deal": [(START, D(100))]}
    exits = [DealExit("deal", ONE_YEAR_LATER, D(110)), DealExit("deal", ONE_YEAR_LATER, D(90), True)]
    first, second = run_waterfall(terms, deals, exits).distributions
    assert (first.lp, first.carry) == (109, 1)
    assert (second.lp, second.carry) == (71, 19)


def test_losses_carried_on_through_a_second_loser() -> None:
    # American, no hurdle, losses recovered. A (100) sells for 30: 70 lost. B (100) sells for 50:
    # its capital is 100 + 70 = 170, all 50 to the LP, 120 lost. C (100) sells for 400: capital
    # 100 + 120 = 220: LP 220, split of 180: LP 144, GP 36. Whole pool: 300 in, 480 out, profit 180,
    # due 36 = received.
    terms = WaterfallTerms(carry_rate=D("0.2"), model="american", recover_prior_losses=True)
    exits = [
        DealExit("A", date(2023, 3, 1), D(30), True),
        DealExit("B", date(2023, 6, 1), D(50), True),
        DealExit("C", date(2023, 9, 1), D(400), True),
    ]
    run = run_waterfall(terms, THREE_DEALS, exits)
    assert [(r.lp, r.carry, r.realized_loss) for r in run.distributions] == [
        (30, 0, 70),
        (50, 0, 120),
        (364, 36, 0),
    ]
    owed = carry_statement(terms, THREE_DEALS, exits, {}, date(2023, 9, 1)).clawback
    assert (owed.carry_due, owed.owed) == (36, 0)


def test_clawback_and_true_up_arithmetic() -> None:
    # 26 received (7.80 in escrow), 6 due: 20 owed, escrow covers 7.80, the GP 12.20.
    owed = clawback(D(26), D(6), D("7.80"))
    assert owed == Clawback(D(26), D(6), D("7.80"), D(20), D("7.80"), D(0), D("12.20"))
    # Escrow larger than the clawback: 5 owed, all from escrow, 5 of the 10 released to the GP.
    owed = clawback(D(30), D(25), D(10))
    assert (owed.escrow_applied, owed.escrow_released, owed.exposure, owed.carry_kept) == (5, 5, 0, 25)
    # The GP received less than is due: nothing is owed and the escrow is released in full.
    owed = clawback(D(20), D(25), D(6))
    assert (owed.owed, owed.escrow_released, owed.carry_kept) == (0, 6, 20)
    settled = true_up(owed, {"a": 1})
    assert (settled.escrow_applied, settled.gp_owes, settled.escrow_released) == ({"a": 0}, {"a": 0}, 6)
    assert clawback(Money(D(30), "JPY"), Money(D(25), "JPY"), Money(D(10), "JPY")).exposure == 0


def test_carry_due_from_plain_flows() -> None:
    # The loser-then-winner pool: 200 in on START; 40 then 300 distributed; 20% carry, no hurdle:
    # profit 140, carry due 28.
    flows = [(START, D(200))]
    assert carry_due(EUROPEAN, flows, [(date(2023, 7, 2), D(40)), (ONE_YEAR_LATER, D(300))]) == 28


# --- Bad input ------------------------------------------------------------------------------------

GOOD_DEALS = {"A": [(START, D(100))]}
GOOD_EXITS = [DealExit("A", ONE_YEAR_LATER, D(150), True)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"terms": {"carry_rate": D("0.2")}}, "terms"),
        ({"deals": [("A", [(START, D(100))])]}, "deals"),
        ({"deals": {"A": [(START, D(-1))]}}, "deals"),
        ({"deals": {"A": [(START, 100.0)]}}, "deals"),
        ({"deals": {"A": [(START, True)]}}, "deals"),
        ({"deals": {"A": [(START, "lots")]}}, "deals"),
        ({"deals": {"A": [(START, D("NaN"))]}}, "deals"),
        ({"deals": {"A": [(START, D("0.001"))]}}, "deals"),
        ({"deals": {"A": [("2023-01-01", D(100))]}}, "deals"),
        ({"deals": {"A": [D(100)]}}, "deals"),
        ({"exits": [DealExit("Z", ONE_YEAR_LATER, D(150))]}, "exits"),
        ({"exits": [DealExit("A", ONE_YEAR_LATER, D(-150))]}, "exits"),
        ({"exits": [DealExit("A", ONE_YEAR_LATER, 150.0)]}, "exits"),
        ({"exits": [DealExit("A", ONE_YEAR_LATER, D("Infinity"))]}, "exits"),
        ({"exits": [DealExit("A", ONE_YEAR_LATER, "a lot")]}, "exits"),
        ({"exits": [DealExit("A", ONE_YEAR_LATER, False)]}, "exits"),
        ({"exits": [DealExit("A", ONE_YEAR_LATER, D("0.005"))]}, "exits"),
        ({"exits": [DealExit("A", "2024-01-01", D(150))]}, "exits"),
        ({"exits": [DealExit("A", ONE_YEAR_LATER, D(150), "yes")]}, "exits"),
        ({"exits": [("A", ONE_YEAR_LATER)]}, "exits"),
        ({"exits": [("A", ONE_YEAR_LATER, D(1), True, "extra")]}, "exits"),
        ({"exits": [(["A"], ONE_YEAR_LATER, D(1))]}, "exits"),
        ({"exits": 5}, "exits"),
        ({"exits": [DealExit("A", START, D(1), True), DealExit("A", ONE_YEAR_LATER, D(1))]}, "exits"),
        ({"expenses": [(START, D(-8))]}, "expenses"),
        ({"expenses": [(START, 8.0)]}, "expenses"),
        ({"gp_commitment": {"Z": [(START, D(1))]}}, "gp_commitment"),
        ({"gp_commitment": {"A": [(START, D("-1"))]}}, "gp_commitment"),
        ({"gp_commitment": [(START, D(1))]}, "gp_commitment"),
        ({"minor_unit": D(0)}, "minor_unit"),
        ({"currency": "XXX"}, "currency"),
    ],
)
def test_run_waterfall_refuses_bad_input_naming_it(kwargs: dict, field: str) -> None:
    args = {"terms": AMERICAN, "deals": GOOD_DEALS, "exits": GOOD_EXITS, **kwargs}
    with pytest.raises(ValidationError) as info:
        run_waterfall(args.pop("terms"), args.pop("deals"), args.pop("exits"), **args)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"on": "2024-01-01"}, "on"),
        ({"on": START}, "exits"),  # the exit is after the statement date
        ({"on": date(2022, 12, 31), "exits": []}, "deals"),
        ({"exits": [], "marks": {}}, "marks"),  # A is held and has no mark
        ({"exits": [], "marks": {"A": D(-1)}}, "marks"),
        ({"exits": [], "marks": {"A": 1.5}}, "marks"),
        ({"exits": [], "marks": {"A": D("0.001")}}, "marks"),
        ({"marks": {"A": D(100)}}, "marks"),  # A is fully realized
        ({"marks": {"Z": D(100)}}, "marks"),
        ({"marks": [("A", D(1))]}, "marks"),
        ({"expenses": [(date(2030, 1, 1), D(1))]}, "expenses"),
        ({"terms": None}, "terms"),
    ],
)
def test_carry_statement_refuses_bad_input_naming_it(kwargs: dict, field: str) -> None:
    args = {"terms": AMERICAN, "deals": GOOD_DEALS, "exits": GOOD_EXITS, "marks": {}, "on": ONE_YEAR_LATER}
    args.update(kwargs)
    positional = [args.pop(name) for name in ("terms", "deals", "exits", "marks", "on")]
    with pytest.raises(ValidationError) as info:
        carry_statement(*positional, **args)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((D(-1), D(0), D(0)), "carry_received"),
        ((26.0, D(0), D(0)), "carry_received"),
        ((True, D(0), D(0)), "carry_received"),
        ((D(26), "six", D(0)), "carry_due"),
        ((D(26), D("NaN"), D(0)), "carry_due"),
        ((D(26), D(6), D("-0.01")), "escrow"),
        ((D(26), D(6), D(27)), "escrow"),
        ((D(26), D(6), D("0.001")), "escrow"),
    ],
)
def test_clawback_refuses_bad_input_naming_it(args: tuple, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        clawback(*args)
    assert info.value.field == field


def test_true_up_fund_expenses_and_carry_due_refuse_bad_input() -> None:
    owed = clawback(D(26), D(6), D("7.80"))
    for call, field in (
        (lambda: true_up("owed", {"a": 1}), "owed"),  # type: ignore[arg-type]
        (lambda: true_up(owed, {"a": D(-1)}), "weights"),
        (lambda: true_up(owed, {"a": 0.5}), "weights"),
        (lambda: true_up(owed, {"a": 0}), "weights"),
        (lambda: true_up(owed, [("a", 1)]), "weights"),  # type: ignore[arg-type]
        (lambda: true_up(owed, {"a": 1}, currency="JPY"), "owed"),  # 7.80 is not whole yen
        (lambda: fund_expense_shares(D(-8), {"a": 1}), "expense"),
        (lambda: fund_expense_shares(8.0, {"a": 1}), "expense"),
        (lambda: fund_expense_shares("eight", {"a": 1}), "expense"),
        (lambda: fund_expense_shares(D("0.001"), {"a": 1}), "expense"),
        (lambda: fund_expense_shares(D(8), {"a": -1}), "commitments"),
        (lambda: fund_expense_shares(D(8), {"a": True}), "commitments"),
        (lambda: fund_expense_shares(D(8), {"a": 0}), "commitments"),
        (lambda: fund_expense_shares(D(8), [1, 2]), "commitments"),  # type: ignore[arg-type]
        (lambda: carry_due(EUROPEAN, [(START, -1)], []), "contributions"),
        (lambda: carry_due(EUROPEAN, [], [(START, 1.5)]), "distributions"),
        (lambda: carry_due(EUROPEAN, [], [(START, D("0.001"))]), "distributions"),
        (lambda: carry_due("european", [], []), "terms"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field
    with pytest.raises(CurrencyMismatch):
        run_waterfall(AMERICAN, {"A": [(START, Money(D(100), "USD"))]}, [("A", START, Money(D(1), "EUR"))])
    with pytest.raises(CurrencyMismatch):
        fund_expense_shares(Money(D(8), "USD"), {"a": Money(D(1), "EUR")})


def test_money_and_minor_units() -> None:
    # Yen: 8,001 of expenses over three equal commitments is 2,667 each, whole yen.
    assert fund_expense_shares(Money(D(8001), "JPY"), {"a": 1, "b": 1, "c": 1}) == dict.fromkeys(
        "abc", D(2667)
    )
    # A run in yen: 20% of 101 yen of profit is 20.2, rounded down to 20.
    run = run_waterfall(AMERICAN, {"A": [(START, D(100))]}, [("A", START, D(201), True)], currency="JPY")
    assert (run.lp_total, run.carry_total) == (D(181), D(20))
