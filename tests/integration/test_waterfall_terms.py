"""Issue 17: a pool's own waterfall terms applied at posting: the hurdle's accrual and carry escrow.

Through the services, PostgreSQL and the operation engine; every expected figure worked out by hand
in the test, tier by tier, from the terms and the money moved. Distributions are drafted by the
pool's manager and approved by a second one (tests.approving).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from core import clock
from core.errors import InvalidState, PermissionDenied, ValidationError
from core.ledger import read_model
from core.services import corrections, expenses, winddown
from db.models import Pool as PoolRow
from tests.integration.test_carry_statement import Pool
from tests.integration.test_money_goes_where_meant import START, TODAY, act, agrees

D = Decimal


@pytest.mark.parametrize(
    ("accrual", "preferred", "carry"),
    [
        # 100,000 paid in, 118,000 distributed exactly two years (730 days) later; 8% hurdle, 100%
        # catch-up, 20% carry. Simple: 100,000 x 8% x 2 = 16,000 of preferred return, so 2,000 is
        # left for the catch-up (which could take up to 16,000 x 20/80 = 4,000): the GP gets 2,000.
        ("simple", D("16000"), D("2000")),
        # Compounded yearly: 100,000 x (1.08^2 - 1) = 16,640; the GP's catch-up gets 1,360.
        ("compound", D("16640"), D("1360")),
    ],
)
def test_the_hurdle_accrues_as_the_pools_terms_say(make: Any, accrual: str, preferred: D, carry: D) -> None:
    pool = Pool(make, ["100000"], hurdle_accrual=accrual, management_fee_rate="0")
    called = START + timedelta(days=3)
    pool.pay_call(1, "100", called)  # paid two days later
    paid_on = called + timedelta(days=2)
    pool.invest(paid_on + timedelta(days=1), "Kestrel", "100000")
    sold = paid_on + timedelta(days=730)
    pool.exit(sold, "Kestrel", "118000")
    shown = pool.preview(sold, "118000")
    tiers = {t.tier: t for t in shown.tiers}
    assert tiers["return_of_capital"].lp == D("100000")
    assert tiers["preferred_return"].lp == preferred
    assert tiers["catch_up"].gp == carry and tiers["split"].total == 0
    assert (shown.lp_total, shown.gp_total, shown.escrow) == (D("118000") - carry, carry, 0)
    pool.distribute(sold, "118000")
    assert agrees(pool.uow, pool.pool_id)["carried_interest"] == carry
    assert pool.statement().hurdle_accrual == accrual


def test_a_share_of_each_carry_payment_is_held_in_escrow_until_released(make: Any) -> None:
    """The issue's SPV with 25% of carry in escrow: of the 80,000 of carry, 20,000 stays in the pool's
    cash as carry held in escrow, a liability to the GP, so NAV and free cash leave it out."""
    spv = Pool(
        make,
        ["10000"] * 10,
        carry_rate="0.2",
        hurdle_rate="0",
        catch_up_rate="0",
        management_fee_rate="0",
        min_ticket="10000",
        escrow_rate="0.25",
    )
    spv.pay_call(1, "100", START + timedelta(days=5))
    spv.act(
        START + timedelta(days=8),
        expenses.preview,
        expenses.record,
        {"category": "formation", "amount": "8000", "memo": "SPV set-up"},
    )
    spv.invest(START + timedelta(days=10), "Target", "92000")
    exited = START + timedelta(days=400)
    spv.exit(exited, "Target", "500000")
    day = exited + timedelta(days=1)
    shown = spv.preview(day, "500000")
    assert (shown.lp_total, shown.gp_total, shown.escrow) == (D("420000"), D("80000"), D("20000"))
    spv.distribute(day, "500000")

    expected = agrees(spv.uow, spv.pool_id)
    assert expected["carried_interest"] == D("80000") and expected["distributions"] == D("420000")
    with spv.uow() as uow:
        books = read_model.pool_books(uow.session, spv.pool_id, as_of=None)
    # 100,000 in, 8,000 and 92,000 out, 500,000 in, 420,000 and 60,000 out: 20,000 left, all escrow.
    assert (books.cash, books.carry_in_escrow, books.free_cash, books.nav) == (D("20000"), D("20000"), 0, 0)
    statement = spv.statement()
    assert (statement.carry_received, statement.carry_in_escrow, statement.escrow_held) == (
        D("80000"),
        D("20000"),
        True,
    )
    assert statement.carry_due == D("80000") and statement.clawback_exposure == 0
    # The escrow is not the investors' to take: nothing is left to distribute.
    with pytest.raises(ValidationError) as refused:
        spv.preview(TODAY, "0.01")
    assert refused.value.field == "proceeds"

    # Reversing the distribution takes back its escrow with it.
    with spv.uow() as uow:
        [posted] = [
            c for c in corrections.correctable(spv.manager, uow, spv.pool_id) if c.kind == "distribution"
        ]
    act(
        spv.uow,
        TODAY,
        corrections.preview,
        corrections.reverse,
        spv.manager,
        spv.pool_id,
        {"operation_id": str(posted.operation_id), "reason": "Wrong day"},
    )
    with spv.uow() as uow:
        books = read_model.pool_books(uow.session, spv.pool_id, as_of=None)
    assert (books.cash, books.carry_in_escrow) == (D("500000"), 0)
    assert agrees(spv.uow, spv.pool_id)["carried_interest"] == 0


def test_escrow_rounds_half_up_on_the_running_total_so_it_never_drifts(make: Any) -> None:
    """Three distributions of carry 3.33 each with 50% escrow: 1.67, then 3.33 in all (not 1.67 x 2),
    then 5.00: each step is what brings the balance to half the carry taken so far, rounded half up."""
    pool = Pool(
        make,
        ["10000"],
        carry_rate="0.2",
        hurdle_rate="0",
        catch_up_rate="0",
        management_fee_rate="0",
        min_ticket="10000",
        escrow_rate="0.5",
    )
    pool.pay_call(1, "100", START + timedelta(days=5))
    pool.invest(START + timedelta(days=10), "Wren", "10000")
    pool.exit(START + timedelta(days=20), "Wren", "10049.95")  # profit 49.95: carry 9.99 in all
    held = []
    for n, proceeds in enumerate(("10016.65", "16.65", "16.65")):
        day = START + timedelta(days=30 + n)
        pool.distribute(day, proceeds)
        with pool.uow() as uow:
            held.append(read_model.pool_books(uow.session, pool.pool_id, as_of=None).carry_in_escrow)
    assert agrees(pool.uow, pool.pool_id)["carried_interest"] == D("9.99")
    assert held == [D("1.67"), D("3.33"), D("5.00")]


def wind_down(pool: Pool, on: Any) -> winddown.WindDownPreview:
    with clock.travel(on), pool.uow() as uow:
        shown = winddown.preview(pool.manager, uow, pool.pool_id, {})
    act(pool.uow, on, winddown.preview, winddown.wind_down, pool.manager, pool.pool_id, {})
    return shown


def two_investors(make: Any, escrow: str) -> Pool:
    return Pool(
        make,
        ["50000", "50000"],
        carry_rate="0.2",
        hurdle_rate="0",
        catch_up_rate="0",
        management_fee_rate="0",
        escrow_rate=escrow,
    )


def test_an_early_winner_then_a_loser_the_true_up_claws_back_escrow_first(make: Any) -> None:
    """Hand computation. Half the 100,000 is called and invested in A, sold for 100,000 and paid out:
    capital 50,000 back, profit 50,000, carry 10,000 (5,000 of it held in escrow), 90,000 to the
    investors. The other half is called and invested in B, which is written off. The pool made
    100,000 - 100,000 = 0 in all: carry due 0, so the GP owes back all 10,000: the 5,000 of escrow
    first (2,500 to each investor, who bore the carry equally), then 5,000 out of its own pocket."""
    pool = two_investors(make, "0.5")
    pool.pay_call(1, "50", START + timedelta(days=5))
    pool.invest(START + timedelta(days=10), "Alder", "50000")
    pool.exit(START + timedelta(days=100), "Alder", "100000")
    first = pool.preview(START + timedelta(days=101), "100000")
    assert (first.lp_total, first.gp_total, first.escrow) == (D("90000"), D("10000"), D("5000"))
    pool.distribute(START + timedelta(days=101), "100000")
    pool.pay_call(2, "50", START + timedelta(days=120))
    pool.invest(START + timedelta(days=130), "Birch", "50000")
    pool.exit(START + timedelta(days=200), "Birch", "0")  # written off
    before = pool.statement()
    assert (before.carry_received, before.carry_due, before.carry_in_escrow) == (D("10000"), 0, D("5000"))
    assert before.clawback_exposure == D("5000")  # 10,000 owed, 5,000 of it in escrow

    shown = wind_down(pool, TODAY)
    owed = shown.true_up.owed
    assert (owed.carry_received, owed.carry_due, owed.owed) == (D("10000"), 0, D("10000"))
    assert (owed.escrow_applied, owed.escrow_released, owed.exposure, owed.carry_kept) == (
        D("5000"),
        0,
        D("5000"),
        0,
    )
    me, you = (i.user_id for i in pool.investors)
    assert shown.true_up.escrow_applied == {me: D("2500"), you: D("2500")}
    assert shown.true_up.gp_owes == {me: D("2500"), you: D("2500")}

    lines = agrees(pool.uow, pool.pool_id)
    assert lines["carried_interest"] == 0  # the GP keeps its carry share of no profit: nothing
    assert lines["distributions"] == D("90000") + D("5000")  # then the escrow, paid to the investors
    assert lines["cash"] == 0
    with pool.uow() as uow:
        books = read_model.pool_books(uow.session, pool.pool_id, as_of=None)
        each = read_model.positions(uow.session, as_of=None, pool_id=pool.pool_id)
        status = uow.session.get(PoolRow, pool.pool_id).status
    assert (books.carry_in_escrow, books.clawback_due, books.nav) == (0, D("5000"), D("5000"))
    # Each investor's capital account: 50,000 in, 47,500 out, nothing gained, no carry kept: 2,500,
    # the clawback the GP still owes them.
    assert {p.nav for p in each.values()} == {D("2500")} and status == "wound_down"
    with pytest.raises(InvalidState), clock.travel(TODAY), pool.uow() as uow:
        winddown.preview(pool.manager, uow, pool.pool_id, {})  # once only


def test_a_second_call_then_a_poor_exit_pays_the_gp_nothing_more_and_the_true_up_settles_it(
    make: Any,
) -> None:
    """Hand computation. As above, A pays out 100,000: carry 10,000, 5,000 of it in escrow. Then
    the other half is called and invested in B, which returns 10,000. Each investor has put in
    50,000 and had 45,000 + 5,000 of carry taken + 5,000 now: a profit of 5,000, of which the GP's
    share is 1,000; it has 5,000 from each already, so it takes nothing: the investors get all
    10,000. The pool made 10,000 in all: carry due 2,000, so the GP owes back 8,000, the 5,000 of
    escrow first (2,500 each), then 3,000 out of its own pocket (1,500 each)."""
    pool = two_investors(make, "0.5")
    pool.pay_call(1, "50", START + timedelta(days=5))
    pool.invest(START + timedelta(days=10), "Alder", "50000")
    pool.exit(START + timedelta(days=100), "Alder", "100000")
    pool.distribute(START + timedelta(days=101), "100000")
    pool.pay_call(2, "50", START + timedelta(days=120))
    pool.invest(START + timedelta(days=130), "Birch", "50000")
    pool.exit(START + timedelta(days=200), "Birch", "10000")
    second = pool.preview(START + timedelta(days=201), "10000")
    assert (second.lp_total, second.gp_total, second.escrow) == (D("10000"), 0, 0)
    pool.distribute(START + timedelta(days=201), "10000")
    before = pool.statement()
    assert (before.carry_received, before.carry_due, before.carry_in_escrow) == (
        D("10000"),
        D("2000"),
        D("5000"),
    )
    assert before.clawback_exposure == D("3000")

    shown = wind_down(pool, TODAY)
    owed = shown.true_up.owed
    assert (owed.owed, owed.escrow_applied, owed.escrow_released, owed.exposure, owed.carry_kept) == (
        D("8000"),
        D("5000"),
        0,
        D("3000"),
        D("2000"),
    )
    me, you = (i.user_id for i in pool.investors)
    assert shown.true_up.escrow_applied == {me: D("2500"), you: D("2500")}
    assert shown.true_up.gp_owes == {me: D("1500"), you: D("1500")}
    lines = agrees(pool.uow, pool.pool_id)
    assert (lines["carried_interest"], lines["cash"], lines["nav"]) == (D("2000"), 0, D("3000"))


def test_with_no_clawback_the_escrow_is_released_to_the_gp(make: Any) -> None:
    pool = two_investors(make, "0.5")
    pool.pay_call(1, "100", START + timedelta(days=5))
    pool.invest(START + timedelta(days=10), "Cedar", "100000")
    # Held at cost, and cash paid out: not yet.
    with pytest.raises(InvalidState, match="still holds"), clock.travel(TODAY), pool.uow() as uow:
        winddown.preview(pool.manager, uow, pool.pool_id, {})
    pool.exit(START + timedelta(days=50), "Cedar", "200000")
    with pytest.raises(InvalidState, match="must be distributed"), clock.travel(TODAY), pool.uow() as uow:
        winddown.preview(pool.manager, uow, pool.pool_id, {})
    pool.distribute(START + timedelta(days=51), "200000")  # carry 20,000, 10,000 of it in escrow
    for stranger in (make.user("fund_manager"), pool.investors[0]):
        with pytest.raises(PermissionDenied), clock.travel(TODAY), pool.uow() as uow:
            winddown.preview(stranger, uow, pool.pool_id, {})
    shown = wind_down(pool, TODAY)
    assert (shown.true_up.owed.escrow_released, shown.true_up.owed.owed) == (D("10000"), 0)
    assert shown.true_up.escrow_applied == {} == shown.true_up.gp_owes
    lines = agrees(pool.uow, pool.pool_id)
    assert (lines["carried_interest"], lines["distributions"], lines["cash"], lines["nav"]) == (
        D("20000"),
        D("180000"),
        0,
        0,
    )
    with pool.uow() as uow:
        books = read_model.pool_books(uow.session, pool.pool_id, as_of=None)
    assert (books.carry_in_escrow, books.clawback_due) == (0, 0)
