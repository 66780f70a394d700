"""Issue 17: deal-by-deal (American) carry at posting, and the clawback that settles it.

Through the services, PostgreSQL and the operation engine; every expected figure worked out by hand
in the test, tier by tier. A deal-by-deal pool's distribution names its deal: it goes through the
waterfall on that deal's capital and that deal's earlier distributions alone, so the GP takes carry
on a winner before the losers are known, and the wind-down claws back what the whole pool's profit
does not support.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core import clock, verify
from core.errors import PermissionDenied, ValidationError
from core.ledger import read_model
from core.services import distributions, pools
from core.views import manager
from db.models import Distribution, Notice, WindDown
from tests.integration.test_carry_statement import Pool
from tests.integration.test_money_goes_where_meant import START, TODAY, agrees
from tests.integration.test_notices import render_all
from tests.integration.test_waterfall_terms import wind_down

D = Decimal


def by_deal(make: Any, escrow: str = "0", **terms: Any) -> Pool:
    """Two investors of 50,000, 20% carry, no hurdle, no catch-up, carry paid deal by deal (unless
    `terms` say otherwise)."""
    return Pool(
        make,
        ["50000", "50000"],
        carry_rate="0.2",
        hurdle_rate="0",
        catch_up_rate="0",
        management_fee_rate="0",
        escrow_rate=escrow,
        **{"waterfall_model": "deal_by_deal", **terms},
    )


def two_deals(pool: Pool) -> None:
    """All 100,000 called and paid; 50,000 in Alder, 50,000 in Birch."""
    pool.pay_call(1, "50", START + timedelta(days=5))
    pool.invest(START + timedelta(days=10), "Alder", "50000")
    pool.pay_call(2, "50", START + timedelta(days=20))
    pool.invest(START + timedelta(days=30), "Birch", "50000")


def test_an_early_winner_pays_carry_on_its_own_deal_and_the_true_up_claws_it_back_when_a_loser_follows(
    make: Any,
) -> None:
    """Hand computation. Alder (50,000, 25,000 from each investor) sells for 100,000: on its own deal
    that is capital 50,000 back and a profit of 50,000, carry 10,000 (5,000 held in escrow), paid in
    two parts that add up to exactly what one would pay: 60,000 (capital 50,000, profit 10,000:
    carry 2,000, 1,000 held) then 40,000 (profit 40,000: carry 8,000; escrow 5,000 in all, so 4,000
    more). A whole-fund pool would pay no carry at all on Alder: 100,000 was paid in by then. Birch is
    written off: the pool made 100,000 - 100,000 = 0, carry due 0, so at wind-down the GP owes back all
    10,000: the 5,000 of escrow first (2,500 to each investor), then 5,000 out of its own pocket."""
    pool = by_deal(make, escrow="0.5")
    two_deals(pool)
    sold = START + timedelta(days=100)
    pool.exit(sold, "Alder", "100000")
    day = sold + timedelta(days=1)

    whole = pool.preview(day, "100000", deal="Alder")
    tiers = {t.tier: t for t in whole.tiers}
    assert (tiers["return_of_capital"].lp, tiers["split"].lp, tiers["split"].gp) == (
        D("50000"),
        D("40000"),
        D("10000"),
    )
    assert (whole.lp_total, whole.gp_total, whole.escrow, whole.deal_name) == (
        D("90000"),
        D("10000"),
        D("5000"),
        "Alder",
    )
    assert {line.share for line in whole.lines} == {D("50000")}

    first = pool.preview(day, "60000", deal="Alder")
    assert (first.lp_total, first.gp_total, first.escrow) == (D("58000"), D("2000"), D("1000"))
    pool.distribute(day, "60000", deal="Alder")
    second = pool.preview(day, "40000", deal="Alder")
    assert (second.lp_total, second.gp_total, second.escrow) == (D("32000"), D("8000"), D("4000"))
    pool.distribute(day, "40000", deal="Alder")

    lines = agrees(pool.uow, pool.pool_id)
    assert (lines["distributions"], lines["carried_interest"]) == (D("90000"), D("10000"))
    with pool.uow() as uow:
        assert read_model.pool_books(uow.session, pool.pool_id, as_of=None).carry_in_escrow == D("5000")
        assert distributions.deals(pool.manager, uow, pool.pool_id) == []  # Alder is paid out
    with pytest.raises(ValidationError) as refused:
        pool.preview(day, "0.01", deal="Alder")
    assert refused.value.field == "proceeds"  # no cash left either: the cash check speaks first

    pool.exit(START + timedelta(days=200), "Birch", "0")  # written off
    before = pool.statement()
    assert (before.carry_received, before.carry_due, before.carry_in_escrow) == (D("10000"), 0, D("5000"))
    assert before.clawback_exposure == D("5000") and before.waterfall_model == "deal_by_deal"

    shown = wind_down(pool, TODAY)
    owed = shown.true_up.owed
    assert (owed.carry_received, owed.carry_due, owed.owed, owed.escrow_applied) == (
        D("10000"),
        0,
        D("10000"),
        D("5000"),
    )
    me, you = (i.user_id for i in pool.investors)
    assert shown.true_up.escrow_applied == {me: D("2500"), you: D("2500")}
    assert shown.true_up.gp_owes == {me: D("2500"), you: D("2500")}
    after = agrees(pool.uow, pool.pool_id)
    assert after["carried_interest"] == 0 and after["distributions"] == D("95000")
    with pool.uow() as uow:  # the true-up is a fact of its own, and verify checks its journals by it
        fact = uow.session.execute(select(WindDown).where(WindDown.pool_id == pool.pool_id)).scalar_one()
        assert (fact.escrow_applied, fact.clawback_due, fact.escrow_released) == (D("5000"), D("5000"), 0)
        assert verify.verify(uow.session).violations == {}


def test_the_same_history_in_a_whole_fund_pool_pays_no_carry_on_the_early_winner(make: Any) -> None:
    pool = by_deal(make, waterfall_model="whole_fund")
    two_deals(pool)
    pool.exit(START + timedelta(days=100), "Alder", "100000")
    shown = pool.preview(START + timedelta(days=101), "100000")
    assert (shown.lp_total, shown.gp_total) == (D("100000"), 0)
    with pytest.raises(ValidationError) as refused:  # a whole-fund distribution names no deal
        pool.preview(START + timedelta(days=101), "100000", deal="Alder")
    assert refused.value.field == "deal"


def test_each_deal_keeps_its_own_running_waterfall_whatever_the_order(make: Any) -> None:
    """Alder (50,000) sells for 75,000, Birch (50,000) for 150,000; Birch is paid out first. Birch:
    capital 50,000, profit 100,000, carry 20,000, 130,000 to the investors. Alder: capital 50,000,
    profit 25,000, carry 5,000, 70,000 to the investors; Birch's distribution is not in Alder's
    waterfall. Carry 25,000 in all is 20% of the pool's profit of 125,000: no clawback."""
    pool = by_deal(make)
    two_deals(pool)
    pool.exit(START + timedelta(days=100), "Alder", "75000")
    pool.exit(START + timedelta(days=110), "Birch", "150000")
    with pool.uow() as uow:
        shown = distributions.deals(pool.manager, uow, pool.pool_id)
    assert [(d.name, d.undistributed) for d in shown] == [("Alder", D("75000")), ("Birch", D("150000"))]
    with pytest.raises(ValidationError) as refused:  # a deal-by-deal distribution names what it pays out
        pool.preview(START + timedelta(days=111), "100")
    assert refused.value.field == "deal"
    with pytest.raises(ValidationError) as refused:  # capital never invested: there is none
        pool.preview(START + timedelta(days=111), "100", deal=distributions.NO_DEAL)
    assert refused.value.field == "proceeds" and refused.value.data["limit"] == 0
    with pytest.raises(ValidationError) as refused:
        pool.preview(START + timedelta(days=111), "75000.01", deal="Alder")
    assert refused.value.field == "proceeds" and refused.value.data["limit"] == D("75000")

    birch = pool.preview(START + timedelta(days=111), "150000", deal="Birch")
    assert (birch.lp_total, birch.gp_total) == (D("130000"), D("20000"))
    pool.distribute(START + timedelta(days=111), "150000", deal="Birch")
    alder = pool.preview(START + timedelta(days=112), "75000", deal="Alder")
    assert (alder.lp_total, alder.gp_total) == (D("70000"), D("5000"))
    pool.distribute(START + timedelta(days=112), "75000", deal="Alder")

    lines = agrees(pool.uow, pool.pool_id)
    assert (lines["distributions"], lines["carried_interest"]) == (D("200000"), D("25000"))
    statement = pool.statement()
    assert (statement.carry_received, statement.carry_due, statement.clawback_exposure) == (
        D("25000"),
        D("25000"),
        0,
    )
    with pool.uow() as uow:
        past = {d.deal: (d.lp, d.gp) for d in manager.distributions(pool.manager, uow, pool.pool_id)}
    assert past == {"Birch": (D("130000"), D("20000")), "Alder": (D("70000"), D("5000"))}
    # Each investor's distribution notice is rendered (in the app: mail is off) from the same deal's
    # waterfall, which must equal the ledger to the cent.
    render_all(pool.uow)
    with pool.uow() as uow:
        rendered = uow.session.execute(
            select(Notice.kind, Notice.status, Notice.amount).where(
                Notice.pool_id == pool.pool_id, Notice.kind == "distribution"
            )
        ).all()
    assert sorted((status, amount) for _, status, amount in rendered) == sorted(
        [("in_app", D("65000"))] * 2 + [("in_app", D("35000"))] * 2
    ), rendered


def test_a_deal_is_one_of_the_pools_own_companies_and_only_its_managers_list_them(make: Any) -> None:
    pool = by_deal(make)
    two_deals(pool)
    pool.exit(START + timedelta(days=100), "Alder", "60000")
    other = by_deal(make)
    other.pay_call(1, "50", START + timedelta(days=5))
    other.invest(START + timedelta(days=10), "Cedar", "50000")
    for deal in (other.company("Cedar"), "Alder", "-1", True, 3.5):
        with pytest.raises(ValidationError) as refused, clock.travel(TODAY), pool.uow() as uow:
            distributions.preview(
                pool.manager, uow, pool.pool_id, {"proceeds": "100", "date": TODAY.isoformat(), "deal": deal}
            )
        assert refused.value.field == "deal", deal
    for stranger in (other.manager, pool.investors[0]):
        with pytest.raises(PermissionDenied), pool.uow() as uow:
            distributions.deals(stranger, uow, pool.pool_id)


def test_capital_never_invested_is_returned_without_carry_and_the_deal_pays_carry_on_its_own(
    make: Any,
) -> None:
    """100,000 paid in, 60,000 invested in Alder, which sells for 90,000. The 40,000 never invested
    goes back without carry; Alder's 90,000 is capital 60,000 and profit 30,000: carry 6,000, which is
    20% of the pool's profit of 30,000, so the wind-down finds nothing to claw back."""
    pool = by_deal(make)
    pool.pay_call(1, "100", START + timedelta(days=5))
    pool.invest(START + timedelta(days=10), "Alder", "60000")
    pool.exit(START + timedelta(days=100), "Alder", "90000")
    day = START + timedelta(days=101)
    with clock.travel(day), pool.uow() as uow:
        shown = distributions.deals(pool.manager, uow, pool.pool_id)
    assert [(d.id == distributions.NO_DEAL, d.name, d.undistributed) for d in shown] == [
        (False, "Alder", D("90000")),
        (True, "Uninvested capital", D("40000")),
    ]
    with pytest.raises(ValidationError) as refused:
        pool.preview(day, "40000.01", deal=distributions.NO_DEAL)
    assert refused.value.field == "proceeds" and refused.value.data["limit"] == D("40000")
    back = pool.preview(day, "40000", deal=distributions.NO_DEAL)
    assert (back.lp_total, back.gp_total, back.deal_name) == (D("40000"), 0, None)
    assert {t.tier: (t.lp, t.gp) for t in back.tiers}["return_of_capital"] == (D("40000"), 0)
    pool.distribute(day, "40000", deal=distributions.NO_DEAL)
    alder = pool.preview(day, "90000", deal="Alder")
    assert (alder.lp_total, alder.gp_total) == (D("84000"), D("6000"))
    pool.distribute(day, "90000", deal="Alder")
    lines = agrees(pool.uow, pool.pool_id)
    assert (lines["distributions"], lines["carried_interest"], lines["cash"]) == (D("124000"), D("6000"), 0)
    statement = pool.statement()
    assert (statement.carry_due, statement.clawback_exposure) == (D("6000"), 0)
    shown_down = wind_down(pool, TODAY)
    assert (shown_down.true_up.owed.owed, shown_down.true_up.gp_owes) == (0, {})
    assert agrees(pool.uow, pool.pool_id)["carried_interest"] == D("6000")


@st.composite
def histories(draw: Any) -> dict[str, Any]:
    """Terms (recovering prior losses or not, deal by deal), and 1 to 3 deals of 10,000 to 40,000 each (all within the 100,000 paid in), each sold
    at a multiple of its cost (0: written off) and paid out in one or two parts."""
    count = draw(st.integers(1, 3))
    costs = [draw(st.integers(10, 33)) * 1000 for _ in range(count)]
    return {
        "model": (model := draw(st.sampled_from(["whole_fund", "deal_by_deal"]))),
        "recover": model == "deal_by_deal" and draw(st.booleans()),
        "hurdle": draw(st.sampled_from(["0", "0.08"])),
        "catch_up": draw(st.sampled_from(["0", "0.5", "1"])),
        "escrow": draw(st.sampled_from(["0", "0.25"])),
        "deals": [
            (cost, cost * draw(st.sampled_from([0, 1, 3, 5])) // 2, draw(st.booleans())) for cost in costs
        ],
    }


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # shrinking re-runs whole pools: the note says what failed
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_whatever_the_deals_every_distribution_adds_up_and_after_the_true_up_the_gp_keeps_no_more_than_its_share(
    make: Any, history: dict[str, Any]
) -> None:
    """Through posting, on both models: every distribution's investors' part plus carry is its
    proceeds exactly; escrow never goes negative nor above the carry taken; after the wind-down's
    true-up the GP keeps at most the carry rate of the pool's profit (everything distributed less
    everything paid in), and with a 100% catch-up and every winning deal well clear of its hurdle,
    exactly that share."""
    note(repr(history))
    pool = Pool(
        make,
        ["50000", "50000"],
        carry_rate="0.2",
        hurdle_rate=history["hurdle"],
        catch_up_rate=history["catch_up"],
        management_fee_rate="0",
        escrow_rate=history["escrow"],
        waterfall_model=history["model"],
        recover_prior_losses=history["recover"],
    )
    by_deal = history["model"] == "deal_by_deal"
    pool.pay_call(1, "100", START + timedelta(days=5))
    names = [f"Deal {n}" for n in range(len(history["deals"]))]
    for n, (name, (cost, _, _)) in enumerate(zip(names, history["deals"], strict=True)):
        pool.invest(START + timedelta(days=10 + n), name, str(cost))
    for n, (name, (_, proceeds, _)) in enumerate(zip(names, history["deals"], strict=True)):
        pool.exit(START + timedelta(days=100 + 30 * n), name, str(proceeds))

    def paid_out(on: Any, amount: int, deal: str | int) -> None:
        pool.distribute(on, str(amount), deal=deal if by_deal else None)
        with pool.uow() as uow:
            last = uow.session.execute(
                select(Distribution.proceeds, Distribution.lp_total, Distribution.gp_total)
                .where(Distribution.pool_id == pool.pool_id)
                .order_by(Distribution.id.desc())
                .limit(1)
            ).one()
            books = read_model.pool_books(uow.session, pool.pool_id, as_of=None)
            taken = read_model.total(uow.session, as_of=None, pool_id=pool.pool_id).carried_interest
        assert last.lp_total + last.gp_total == last.proceeds == D(amount)
        assert 0 <= books.carry_in_escrow <= taken

    for n, (name, (_, proceeds, in_two)) in enumerate(zip(names, history["deals"], strict=True)):
        on = START + timedelta(days=200 + 30 * n)
        parts = [proceeds // 2, proceeds - proceeds // 2] if in_two else [proceeds]
        for part in parts:
            if part:
                paid_out(on, part, name)
    uninvested = 100_000 - sum(cost for cost, _, _ in history["deals"])
    if uninvested:
        paid_out(START + timedelta(days=400), uninvested, distributions.NO_DEAL)

    wind_down(pool, TODAY)
    profit = D(sum(proceeds - cost for cost, proceeds, _ in history["deals"]))
    kept = agrees(pool.uow, pool.pool_id)["carried_interest"]
    assert 0 <= kept <= D("0.2") * max(profit, D(0))
    clear = all(proceeds >= 3 * cost // 2 for cost, proceeds, _ in history["deals"] if proceeds > cost)
    # Recovering prior losses may leave a winner too little profit of its own to finish its catch-up.
    if history["catch_up"] == "1" and clear and profit >= 10_000 and not history["recover"]:
        assert kept == D("0.2") * profit


@pytest.mark.parametrize(("recover", "carry"), [(True, D("10000")), (False, D("20000"))])
def test_where_the_terms_say_so_a_deal_first_returns_what_earlier_deals_lost(
    make: Any, recover: bool, carry: D
) -> None:
    """Birch (50,000) is written off before Alder (50,000) sells for 150,000. Recovering prior losses,
    Alder's waterfall returns its own 50,000 and Birch's lost 50,000 first: profit 50,000, carry 10,000
    (20% of what the pool made, so nothing to claw back). Without, Alder's own profit of 100,000
    carries 20,000, and the clawback exposure is the 10,000 above carry due."""
    pool = by_deal(make, recover_prior_losses=recover)
    two_deals(pool)
    pool.exit(START + timedelta(days=50), "Birch", "0")
    pool.exit(START + timedelta(days=100), "Alder", "150000")
    shown = pool.preview(START + timedelta(days=101), "150000", deal="Alder")
    assert (shown.lp_total, shown.gp_total) == (D("150000") - carry, carry)
    assert {t.tier: t.lp for t in shown.tiers}["return_of_capital"] == (
        D("100000") if recover else D("50000")
    )
    pool.distribute(START + timedelta(days=101), "150000", deal="Alder")
    statement = pool.statement()
    assert (statement.carry_received, statement.carry_due) == (carry, D("10000"))
    assert statement.clawback_exposure == carry - D("10000")


def test_recovering_prior_losses_is_a_deal_by_deal_term(make: Any) -> None:
    with pytest.raises(ValidationError) as refused, make.uow_factory() as uow:
        pools.create_pool(make.user("fund_manager"), uow, make.terms(recover_prior_losses=True))
    assert refused.value.field == "recover_prior_losses"
    with pytest.raises(ValidationError) as refused, make.uow_factory() as uow:
        pools.create_pool(
            make.user("fund_manager"),
            uow,
            make.terms(waterfall_model="deal_by_deal", recover_prior_losses="yes"),
        )
    assert refused.value.field == "recover_prior_losses"
