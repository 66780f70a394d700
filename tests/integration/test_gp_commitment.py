"""Issue 17: the GP's own commitment, which pays no carry and no fees and is shown on its own lines.

Through the services, PostgreSQL and the operation engine; the figures worked out by hand.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.approvals_ui import describe_distribution
from core import clock, verify
from core.errors import FieldErrors, ValidationError
from core.ledger import read_model
from core.services import fees, pools
from core.views import manager
from db.models import Commitment
from tests.integration.test_carry_statement import Pool
from tests.integration.test_exports import export
from tests.integration.test_money_goes_where_meant import START, agrees

D = Decimal


def with_gp(make: Any) -> Pool:
    """Two investors of 45,000 and the GP's own 10,000; 20% carry, no hurdle, 2% fee on commitments."""
    return Pool(
        make,
        ["45000", "45000"],
        gp_commitment="10000",
        carry_rate="0.2",
        hurdle_rate="0",
        catch_up_rate="0",
        management_fee_rate="0.02",
        management_fee_basis="committed",
    )


def test_the_gps_commitment_is_called_like_any_other_but_pays_no_carry_and_no_fee(make: Any) -> None:
    """The GP's 10,000 is 10% of the 100,000 paid in, so it gets 20,000 of the 200,000 distributed, all
    of it its own. Each investor's 90,000 is capital 45,000 back and a profit of 45,000: carry 9,000,
    81,000 to them. Carry 18,000 in all: 20% of the investors' profit of 90,000, not of the pool's
    100,000 (the GP's own profit carries nothing)."""
    pool = with_gp(make)
    gp = pool.manager.user_id
    with pool.uow() as uow:
        [(amount, status)] = uow.session.execute(
            select(Commitment.amount_accepted, Commitment.status).where(
                Commitment.pool_id == pool.pool_id, Commitment.gp
            )
        ).all()
        assert (amount, status) == (D("10000"), "accepted")
        assert pools.gp_investors(uow, pool.pool_id) == {gp}
    pool.pay_call(1, "100", START + timedelta(days=5))  # the GP's item is called and paid too
    with pool.uow() as uow:
        paid = read_model.positions(uow.session, as_of=None, pool_id=pool.pool_id)
    assert {i: p.contributions for i, p in paid.items()} == {
        gp: D("10000"),
        **{person.user_id: D("45000") for person in pool.investors},
    }

    # A year's fee: 2% of each investor's 45,000 is 900; the GP's commitment is charged nothing.
    period = {"period_start": START.isoformat(), "period_end": (START + timedelta(days=365)).isoformat()}
    with clock.travel(START + timedelta(days=365)), pool.uow() as uow:
        charged = fees.preview(pool.manager, uow, pool.pool_id, period)
    assert {line.investor_id: line.fee for line in charged.lines} == {
        person.user_id: D("900") for person in pool.investors
    }

    pool.invest(START + timedelta(days=10), "Alder", "100000")
    pool.exit(START + timedelta(days=100), "Alder", "200000")
    day = START + timedelta(days=101)
    shown = pool.preview(day, "200000")
    lines = {line.investor_id: line for line in shown.lines}
    assert (lines[gp].share, lines[gp].lp, lines[gp].gp) == (D("20000"), D("20000"), 0)
    assert lines[gp].investor_name.endswith("(GP commitment)")
    for person in pool.investors:
        assert (lines[person.user_id].share, lines[person.user_id].lp, lines[person.user_id].gp) == (
            D("90000"),
            D("81000"),
            D("9000"),
        )
    assert (shown.lp_total, shown.gp_total) == (D("182000"), D("18000"))
    assert shown.gp_own == (gp,)
    assert "$182,000.00 to 2 investors and the GP's own commitment, and $18,000.00 of carried" in (
        describe_distribution(shown)
    )
    pool.distribute(day, "200000")
    assert agrees(pool.uow, pool.pool_id)["carried_interest"] == D("18000")
    statement = pool.statement()
    assert (statement.carry_received, statement.carry_due, statement.clawback_exposure) == (
        D("18000"),
        D("18000"),
        0,
    )

    with pool.uow() as uow:
        board = manager.dashboard(pool.manager, uow, pool.pool_id)
        book = {
            row.investor_id: row.investor_name
            for row in manager.investor_balances(pool.manager, uow, pool.pool_id)
        }
    assert (board.committed, board.gp_committed, board.investors) == (D("100000"), D("10000"), 2)
    with pool.uow() as uow:  # My pools and the commitment book count the investors alike
        [summary] = [row for row in manager.my_pools(pool.manager, uow) if row.id == pool.pool_id]
        assert summary.investors == manager.commitment_book(pool.manager, uow, pool.pool_id).investors == 2
    assert book[gp].endswith("(GP commitment)")
    assert not any(book[p.user_id].endswith("(GP commitment)") for p in pool.investors)
    with pool.uow() as uow:  # every figure, the GP's capital account among them, still agrees
        assert verify.verify(uow.session).violations == {}


@pytest.mark.parametrize("amount", ["-1", "abc", "0.001", "1500000.01"])
def test_a_gp_commitment_is_refused_by_field_when_it_is_not_an_amount_within_the_hard_cap(
    make: Any, amount: str
) -> None:
    manager_user = make.user("fund_manager")
    with pytest.raises(ValidationError) as refused, make.uow_factory() as uow:
        pools.create_pool(manager_user, uow, make.terms(gp_commitment=amount))
    errors = refused.value.errors if isinstance(refused.value, FieldErrors) else [refused.value]
    assert [e.field for e in errors] == ["gp_commitment"], errors


def test_a_pool_without_a_gp_commitment_has_none(make: Any) -> None:
    pool_id, owner = make.pool()
    with make.uow_factory() as uow:
        assert pools.gp_investors(uow, pool_id) == set()
        assert manager.dashboard(owner, uow, pool_id).gp_committed == 0


def test_the_admins_commitments_export_says_which_commitment_is_the_gps(make: Any) -> None:
    pool = with_gp(make)
    rows = [
        r
        for r in export(make.user("admin"), make.uow_factory, "commitments")
        if r["pool_id"] == str(pool.pool_id)
    ]
    assert {(r["investor_id"], r["gp_commitment"], r["amount_accepted"]) for r in rows} == {
        (str(pool.manager.user_id), "true", "10000.00"),
        *((str(p.user_id), "false", "45000.00") for p in pool.investors),
    }
