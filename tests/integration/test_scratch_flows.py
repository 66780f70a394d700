from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from core import clock, operations
from core.ledger import Line, read_model
from core.services import calls, corrections, distributions, fees, investments, payments, pools
from db.models import CallItem, CapitalCall


def process(make, status):
    return operations.process(str(status.id), make.uow_factory)


def test_flow(make):
    start = date.today() - timedelta(days=400)
    with clock.travel(start):
        pool_id, manager = make.pool(hard_cap="2000000")
        investors = []
        for amount in ("100000", "200000", "300000"):
            _, inv = make.commitment(pool_id, amount=amount, accept_as=manager)
            investors.append(inv)
        with make.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
    with clock.travel(start + timedelta(days=10)):
        with make.uow_factory() as uow:
            pv = calls.preview(manager, uow, pool_id, {"percent": "50", "purpose": "first"})
        assert pv.total == Decimal("300000.00")
        with make.uow_factory() as uow:
            st = calls.issue(manager, uow, pv.command)
        assert process(make, st) == "done"
        with make.uow_factory() as uow:
            items = uow.session.execute(select(CallItem.id, CallItem.amount_due, CallItem.version).join(CapitalCall).where(CapitalCall.pool_id == pool_id)).all()
        for item in items:
            with make.uow_factory() as uow:
                p = payments.preview(manager, uow, pool_id, {"call_item_id": item.id, "amount": str(item.amount_due), "reference": f"W{item.id}", "item_version": item.version})
                s = payments.record(manager, uow, p.command)
            assert process(make, s) == "done"
    with clock.travel(start + timedelta(days=20)):
        with make.uow_factory() as uow:
            cmd = investments.check_investment(manager, uow, pools.load_pool(uow, pool_id), {"company": "Acme", "amount": "200000"})
            s = investments.invest(manager, uow, cmd)
        assert process(make, s) == "done", s
    with clock.travel(start + timedelta(days=100)):
        with make.uow_factory() as uow:
            acme = investments.holdings(uow, pool_id)[0]
            pv = investments.preview_mark(manager, uow, pool_id, {"company_id": acme.company_id, "value": "500000"})
            s = investments.mark(manager, uow, pv.command)
        assert process(make, s) == "done"
        with make.uow_factory() as uow:
            fp = fees.preview(manager, uow, pool_id, {"period_start": str(start + timedelta(days=10)), "period_end": str(start + timedelta(days=100))})
            s = fees.charge(manager, uow, fp.command)
        assert process(make, s) == "done"
    with clock.travel(start + timedelta(days=200)):
        with make.uow_factory() as uow:
            pv = investments.preview_exit(manager, uow, pool_id, {"company_id": acme.company_id, "proceeds": "900000"})
            assert pv.nav_change == Decimal("400000")
            s = investments.exit_holding(manager, uow, pv.command)
        assert process(make, s) == "done", operations
        with make.uow_factory() as uow:
            books = read_model.pool_books(uow.session, pool_id, as_of=None)
            total = read_model.total(uow.session, as_of=None, pool_id=pool_id)
            assert books.unrealized_value == 0 and books.investments_at_cost == 0
            assert total.nav == books.nav, (total, books)
            assert total.realized_gain == Decimal("700000") and total.unrealized_gain == 0
        with make.uow_factory() as uow:
            dp = distributions.preview(manager, uow, pool_id, {"proceeds": "500000"})
            s = distributions.distribute(manager, uow, dp.command)
        assert process(make, s) == "done"
        with make.uow_factory() as uow:
            total = read_model.total(uow.session, as_of=None, pool_id=pool_id)
            assert total.carried_interest > 0
            books = read_model.pool_books(uow.session, pool_id, as_of=None)
            assert total.nav == books.nav
    with make.uow_factory() as uow:
        found = corrections.correctable(manager, uow, pool_id)
    kinds = [c.kind for c in found]
    assert "payment" in kinds and "exit" in kinds
    pay = next(c for c in found if c.kind == "payment")
    with make.uow_factory() as uow:
        cmd = corrections.check(manager, uow, pools.load_pool(uow, pool_id), {"operation_id": pay.operation_id, "reason": "wrong investor"})
        s = corrections.reverse(manager, uow, cmd)
    assert process(make, s) == "done"
    with make.uow_factory() as uow:
        total = read_model.total(uow.session, as_of=None, pool_id=pool_id)
        assert total.outstanding == pay.amount
        item = uow.session.execute(select(CallItem).join(CapitalCall).where(CapitalCall.pool_id == pool_id, CallItem.amount_paid < CallItem.amount_due)).scalar_one()
        assert item.status == "open"
        call = uow.session.get(CapitalCall, item.call_id)
        assert call.status == "partially_paid"
