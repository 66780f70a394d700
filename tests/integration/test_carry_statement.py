"""Issue 17: the GP's carry statement of a real pool, built through the services.

Every expected figure is computed by hand in the test (tier by tier) from the pool's terms and the
money the test moved, never read back from the view it checks; distributions are drafted by the
pool's manager and approved by a second one (tests.approving).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Any

import pytest

from core import clock
from core.errors import PermissionDenied, ValidationError
from core.ledger import read_model
from core.services import distributions, expenses, investments, pools
from core.views import investor, manager
from tests import approving
from tests.integration.test_money_goes_where_meant import START, Fund, act

D = Decimal
CENT = D("0.01")


class Pool(Fund):
    """A pool with its own terms and commitments, closed on START (Fund's helpers for the rest)."""

    def __init__(self, make: Any, amounts: list[str], **terms: Any) -> None:  # noqa: D107
        self.make = make
        self.uow = make.uow_factory
        with clock.travel(START):
            self.pool_id, self.manager = make.pool(hard_cap="2000000", **terms)
            self.investors = [
                make.commitment(self.pool_id, amount=a, accept_as=self.manager)[1] for a in amounts
            ]
            with self.uow() as uow:
                pools.close_pool(self.manager, uow, self.pool_id)

    def pay_call(self, number: int, percent: str, on: date) -> None:
        self.call(percent, on)
        for item in self.items(number):
            self.pay(item, on + timedelta(days=2))

    def invest(self, on: date, company: str, amount: str) -> None:
        self.act(
            on, investments.preview_investment, investments.invest, {"company": company, "amount": amount}
        )

    def mark(self, on: date, company: str, value: str) -> None:
        request = {"company_id": self.company(company), "value": value, "note": "mark"}
        self.act(on, investments.preview_mark, investments.mark, request)

    def exit(self, on: date, company: str, proceeds: str) -> None:
        request = {"company_id": self.company(company), "proceeds": proceeds}
        self.act(on, investments.preview_exit, investments.exit_holding, request)

    def _deal(self, deal: str | int | None) -> dict[str, Any]:
        """A deal-by-deal distribution names its deal (a company, by name here) or NO_DEAL."""
        if deal is None:
            return {}
        return {"deal": deal if isinstance(deal, int) else self.company(deal)}

    def preview(
        self, on: date, proceeds: str, deal: str | int | None = None
    ) -> distributions.DistributionPreview:
        with clock.travel(on), self.uow() as uow:
            return distributions.preview(
                self.manager,
                uow,
                self.pool_id,
                {"proceeds": proceeds, "date": on.isoformat(), **self._deal(deal)},
            )

    def distribute(self, on: date, proceeds: str, deal: str | int | None = None) -> None:
        request = {"proceeds": proceeds, "date": on.isoformat(), "memo": "Exit proceeds", **self._deal(deal)}
        act(self.uow, on, distributions.preview, approving.distribute, self.manager, self.pool_id, request)

    def memos(self, on: date) -> list[tuple[D | None, D, D]]:
        """Each investor's pool page as of `on`: (accrued incentive allocation memo, Ending NAV, NAV)."""
        shown = []
        with self.uow() as uow:
            for person in self.investors:
                detail = investor.pool_detail(
                    person, uow, self.pool_id, investor.period_for("inception", on=on)
                )
                position = read_model.positions(uow.session, as_of=on, pool_id=self.pool_id)[person.user_id]
                shown.append((detail.accrued_carry, detail.capital_account.ending_nav, position.nav))
        return shown

    def statement(self, on: date | None = None, actor: Any = None) -> manager.CarryStatement:
        with self.uow() as uow:
            return manager.carry_statement(actor or self.manager, uow, self.pool_id, on)


def test_the_issues_worked_example_spv(make: Any) -> None:
    """100,000 from 10 investors, 8,000 of set-up costs, 92,000 invested, exit for 500,000, 20% carry,
    no hurdle: carry 80,000, investors 420,000 (42,000 each). The set-up costs are a fund expense,
    paid from cash and charged 800 to each investor on the Fund expenses line."""
    spv = Pool(
        make,
        ["10000"] * 10,
        carry_rate="0.2",
        hurdle_rate="0",
        catch_up_rate="0",
        management_fee_rate="0",
        min_ticket="10000",
    )
    spv.pay_call(1, "100", START + timedelta(days=5))
    spv.act(
        START + timedelta(days=8),
        expenses.preview,
        expenses.record,
        {"category": "formation", "amount": "8000", "memo": "SPV set-up"},
    )
    with spv.uow() as uow:
        lines = read_model.positions(uow.session, as_of=None, pool_id=spv.pool_id)
        assert {p.fund_expenses for p in lines.values()} == {D("800")}
        assert read_model.pool_books(uow.session, spv.pool_id, as_of=None).cash == D("92000")
    spv.invest(START + timedelta(days=10), "Target", "92000")

    before = spv.statement(START + timedelta(days=20))
    # Paid in 100,000; worth 92,000: the holding at cost, the costs spent.
    assert (before.paid_in, before.wind_up_proceeds) == (D("100000"), D("92000"))
    assert (before.carry_received, before.accrued_carry, before.carry_due) == (0, 0, 0)
    assert before.clawback_exposure is None  # nothing distributed, nothing to claw back

    exited = START + timedelta(days=400)
    spv.exit(exited, "Target", "500000")
    sold = spv.statement(exited)
    # Cash: 100,000 paid in, 8,000 of costs and 92,000 invested paid out, 500,000 received.
    assert sold.wind_up_proceeds == D("500000")
    assert sold.accrued_carry == sold.carry_due == D("0.2") * (D("500000") - D("100000")) == D("80000")
    assert sold.carry_received == 0 and sold.carry_in_escrow == 0
    # Each investor's pool page: a memo of 8,000 (a tenth of it); Ending NAV is still their 50,000
    # (10,000 paid in, 800 of costs, a tenth of the 408,000 gain), carry not taken from it.
    assert spv.memos(exited) == [(D("8000"), D("50000"), D("50000"))] * 10
    # The same figure the distribution's preview pays on the same inputs.
    shown = spv.preview(exited + timedelta(days=1), "500000")
    assert shown.gp_total == sold.accrued_carry
    assert shown.lp_total == D("420000") and {line.lp for line in shown.lines} == {D("42000")}

    spv.distribute(exited + timedelta(days=1), "500000")
    after = spv.statement()
    assert after.carry_received == D("80000") and after.distributed == D("420000")
    assert after.carry_due == D("80000")
    assert after.accrued_carry == 0 and after.clawback_exposure == 0
    assert after.wind_up_proceeds == 0
    assert spv.memos(date.today()) == [(0, 0, 0)] * 10
    assert (after.carry_rate, after.hurdle_rate, after.catch_up_rate) == (D("0.2"), 0, 0)
    with spv.uow() as uow:  # received is the ledger's carried-interest line
        assert read_model.total(uow.session, as_of=None, pool_id=spv.pool_id).carried_interest == D("80000")


def test_accrued_carry_before_any_distribution_follows_nav_tier_by_tier(make: Any) -> None:
    """8% compound hurdle, 100% catch-up, 20% carry; 300,000 paid in on one day and valued exactly a
    year later, so the preferred return is 8% of it: 24,000, and the catch-up ends after 6,000."""
    pool = Pool(make, ["100000", "200000", "300000"])  # the factory's terms: 20%, 8%, 100%
    paid_on = START + timedelta(days=12)
    pool.pay_call(1, "50", START + timedelta(days=10))
    pool.invest(START + timedelta(days=20), "Harbor", "250000")
    year = paid_on + timedelta(days=365)
    capital, pref = D("300000"), D("24000")
    catch_up = pref * D("0.2") / (1 - D("0.2"))  # the GP reaches 20% of profit after 6,000
    assert catch_up == D("6000")

    # Harbor at 262,000: NAV 312,000, profit 12,000. Half a year in, the compound preferred return
    # is c x (1.08 ** (182/365) - 1), about 3.9% of each investor's capital c: the GP's catch-up takes
    # all that is past it. As a distribution pays it: NAV shared pro rata to paid-in (52,000,
    # 104,000, 156,000), each investor's waterfall on their own capital, the GP's part rounded down.
    pool.mark(START + timedelta(days=100), "Harbor", "262000")
    half = paid_on + timedelta(days=182)
    expected = D(0)
    with localcontext() as wide:
        wide.prec = 50
        for paid in (D("50000"), D("100000"), D("150000")):
            pref_half = paid * (D("1.08") ** (D(182) / D(365)) - 1)
            share = D("312000") * paid / capital
            gp = (share - paid - pref_half).quantize(CENT, ROUND_FLOOR)
            assert D(0) < gp < pref_half * D("0.2") / (1 - D("0.2"))  # inside the catch-up
            expected += gp
    early = pool.statement(half)
    assert early.wind_up_proceeds == D("312000") and early.accrued_carry == early.carry_due == expected
    # A year in, the preferred return (24,000) is more than the profit: nothing accrues.
    assert pool.statement(year).accrued_carry == 0

    # Harbor at 278,000: NAV 328,000 is 4,000 past capital and pref, inside the catch-up (all to GP).
    pool.mark(START + timedelta(days=200), "Harbor", "278000")
    inside = pool.statement(year)
    nav = D("50000") + D("278000")
    assert inside.wind_up_proceeds == nav
    assert inside.accrued_carry == inside.carry_due == nav - capital - pref == D("4000")
    assert inside.clawback_exposure is None and inside.carry_received == 0
    # Per investor (54,666.67, 109,333.33 and 164,000 of it): 666.67 + 1,333.33 + 2,000.
    memos = pool.memos(year)
    assert [memo for memo, _, _ in memos] == [D("666.67"), D("1333.33"), D("2000")]
    assert all(ending == nav for _, ending, nav in memos)

    # Harbor at 350,000: NAV 400,000, past the catch-up: the GP holds exactly 20% of the profit.
    pool.mark(START + timedelta(days=300), "Harbor", "350000")
    past = pool.statement(year)
    # Shared 66,666.67 / 133,333.33 / 200,000 (largest remainder), 20% of each profit rounded down:
    # 3,333.33 + 6,666.66 + 10,000, a cent short of 20% of the pool's 100,000, as a distribution pays.
    shares = {D("50000"): D("66666.67"), D("100000"): D("133333.33"), D("150000"): D("200000")}
    assert sum(shares.values()) == D("400000")
    by_hand = sum(((s - c) * D("0.2")).quantize(CENT, ROUND_FLOOR) for c, s in shares.items())
    assert past.accrued_carry == past.carry_due == by_hand == D("19999.99")

    # Marked below cost: no profit, no carry accrues.
    pool.mark(START + timedelta(days=350), "Harbor", "100000")
    assert pool.statement(year).accrued_carry == 0


def test_early_carry_above_the_carry_due_after_a_loss_is_the_clawback_exposure(make: Any) -> None:
    """No hurdle, 20% carry: a winner's distribution pays carry; capital called later is lost.
    Two investors of 300,000 each, so each half of every figure is whole and the pool's is twice it."""
    pool = Pool(make, ["300000", "300000"], hurdle_rate="0", catch_up_rate="0")
    pool.pay_call(1, "50", START + timedelta(days=10))  # 300,000
    pool.invest(START + timedelta(days=20), "Winner", "300000")
    pool.exit(START + timedelta(days=40), "Winner", "400000")
    pool.distribute(START + timedelta(days=50), "400000")
    early = pool.statement(START + timedelta(days=60))
    # Capital 300,000 back, then 20% of the 100,000 profit: carry 20,000, the investors 380,000.
    assert early.carry_received == D("20000") and early.distributed == D("380000")
    assert early.carry_due == D("20000") and early.clawback_exposure == 0 and early.accrued_carry == 0

    pool.pay_call(2, "50", START + timedelta(days=70))  # another 300,000
    pool.invest(START + timedelta(days=80), "Loser", "300000")
    pool.mark(START + timedelta(days=100), "Loser", "250000")
    partly = pool.statement(START + timedelta(days=110))
    # Wound up: 400,000 + 250,000 out on 600,000 in: profit 50,000, carry due 10,000 of the 20,000.
    due = D("0.2") * (D("400000") + D("250000") - D("600000"))
    assert partly.carry_due == due == D("10000")
    assert partly.clawback_exposure == D("20000") - due == D("10000")
    assert partly.accrued_carry == 0 and partly.carry_in_escrow == 0

    pool.mark(START + timedelta(days=120), "Loser", "100000")
    lost = pool.statement(START + timedelta(days=130))
    # 500,000 out on 600,000 in: no profit, nothing due, all 20,000 owed back.
    assert (lost.carry_due, lost.clawback_exposure, lost.accrued_carry) == (0, D("20000"), 0)
    # As of before the loss the statement still reads as it did then.
    assert pool.statement(START + timedelta(days=110)) == partly


def test_accrued_carry_is_what_distributing_nav_would_pay_to_the_cent(make: Any) -> None:
    """8% hurdle, 100% catch-up, awkward amounts: once everything is cash, the preview of distributing
    the whole NAV pays exactly the accrued carry, before and after a first part is distributed."""
    pool = Pool(make, ["100000", "200000", "300000"])
    pool.pay_call(1, "50", START + timedelta(days=10))
    pool.invest(START + timedelta(days=20), "Harbor", "250000")
    pool.exit(START + timedelta(days=200), "Harbor", "333333.33")
    first = START + timedelta(days=210)
    before = pool.statement(first)
    assert before.wind_up_proceeds == D("383333.33")
    shown = pool.preview(first, "383333.33")
    assert before.accrued_carry == before.carry_due == shown.gp_total > 0

    pool.distribute(first, "100000.01")  # all of it returns capital: no carry yet
    later = START + timedelta(days=300)
    after = pool.statement(later)
    assert after.carry_received == 0 and after.distributed == D("100000.01")
    assert after.wind_up_proceeds == D("283333.32") and after.clawback_exposure == 0
    assert after.accrued_carry == after.carry_due == pool.preview(later, "283333.32").gp_total > 0
    pool.distribute(later, "283333.32")
    done_ = pool.statement()
    assert done_.accrued_carry == 0 and done_.clawback_exposure == 0
    assert done_.carry_received == done_.carry_due == after.accrued_carry


def test_only_the_pools_manager_reads_its_carry_statement(make: Any) -> None:
    pool = Pool(make, ["100000"])
    other_manager = make.user("fund_manager")
    with pool.uow() as uow, pytest.raises(PermissionDenied):
        manager.carry_statement(other_manager, uow, pool.pool_id)
    with pool.uow() as uow, pytest.raises(PermissionDenied):
        manager.carry_statement(pool.investors[0], uow, pool.pool_id)
    with pool.uow() as uow, pytest.raises(ValidationError):
        manager.carry_statement(pool.manager, uow, pool.pool_id, date.today() + timedelta(days=1))
    nothing = pool.statement()
    assert nothing.paid_in == 0 and nothing.accrued_carry is None and nothing.carry_due is None
    assert nothing.clawback_exposure is None and nothing.carry_received == 0
    assert pool.memos(date.today()) == [(None, 0, 0)]
