"""The manager's services on real PostgreSQL: previews equal postings, figures come from the ledger,
and no manager reaches another manager's pool by any id."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from core import operations, positions
from core.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from core.fundmath import scale_down
from core.permissions import Actor
from core.services import commitments, manager, pools
from core.services.users import create_user
from core.verify import verify
from db.models import CallItem, CapitalCall, Commitment, Journal, Operation
from tests.conftest import Factory

DUE = (date.today() + timedelta(days=14)).isoformat()


@pytest.fixture(autouse=True, scope="module")
def fast_bcrypt() -> Any:
    """Real bcrypt at the lowest cost: these tests make many users."""
    import bcrypt

    from core.services import users

    original = users.hash_password
    users.hash_password = lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    yield
    users.hash_password = original


def run(make: Factory, actor: Actor, pool_id: int, kind: str, payload: dict[str, Any]) -> Any:
    with make.uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload)
    operations.process(str(status.id), make.uow_factory)
    with make.uow_factory() as uow:
        final = operations.operation_status(actor, uow, status.id)
    assert final.status == "done", final.error
    return final


def svc(make: Factory, fn: Any, actor: Actor, *args: Any, **kwargs: Any) -> Any:
    with make.uow_factory() as uow:
        return fn(actor, uow, *args, **kwargs)


def closed_pool(make: Factory, amounts: tuple[str, ...] = ("100000", "200000", "300000.33")) -> tuple:
    pool_id, boss = make.pool(hard_cap="2000000")
    investors = [make.commitment(pool_id, amount=a, accept_as=boss)[1] for a in amounts]
    with make.uow_factory() as uow:
        pools.close_pool(boss, uow, pool_id)
    return pool_id, boss, investors


def pay_everything(make: Factory, boss: Actor, pool_id: int) -> None:
    with make.uow_factory() as uow:
        items = uow.session.execute(
            select(CallItem.id, CallItem.amount_due - CallItem.amount_paid)
            .join(CapitalCall)
            .where(CapitalCall.pool_id == pool_id, CallItem.status != "paid")
        ).all()
    for item_id, due in items:
        run(make, boss, pool_id, "payment", {"call_item_id": item_id, "amount": str(due), "reference": "W"})


@pytest.fixture(scope="module")
def history() -> dict[str, Any]:
    """A closed pool that called, was paid, invested, marked up and exited: cash to distribute."""
    from core import bootstrap

    make = Factory(bootstrap.unit_of_work)
    pool_id, boss, investors = closed_pool(make)
    run(make, boss, pool_id, "capital_call", {"percent": "50", "purpose": "invest", "due_date": DUE})
    pay_everything(make, boss, pool_id)
    run(make, boss, pool_id, "investment", {"action": "buy", "company": "Acme", "amount": "250000"})
    run(make, boss, pool_id, "investment", {"action": "buy", "company": "Beta", "amount": "20000"})
    run(make, boss, pool_id, "valuation", {"value": "420000", "note": "Series B mark-up"})
    run(
        make,
        boss,
        pool_id,
        "investment",
        {"action": "exit", "company": "Acme", "amount": "400000", "cost": "250000"},
    )
    return {"make": make, "pool_id": pool_id, "manager": boss, "investors": investors}


# --- capital calls ----------------------------------------------------------------------------------


@pytest.mark.parametrize("request_", [{"percent": "33.33"}, {"amount": "123456.79"}])
def test_call_preview_sums_exactly_and_is_what_gets_posted(make: Factory, request_: dict[str, str]) -> None:
    pool_id, boss, investors = closed_pool(make)
    preview = svc(
        make, manager.call_preview, boss, pool_id, {**request_, "purpose": "Series A", "due_date": DUE}
    )
    assert sum(line.amount for line in preview.lines) == preview.total
    assert {line.investor_id for line in preview.lines} == {i.user_id for i in investors}
    if "percent" in request_:
        assert preview.total == Decimal("199980.11")  # 33.33% of 600,000.33, half up to the cent
    run(make, boss, pool_id, "capital_call", preview.payload)
    with make.uow_factory() as uow:
        posted = dict(
            uow.session.execute(
                select(CallItem.investor_id, CallItem.amount_due)
                .join(CapitalCall)
                .where(CapitalCall.pool_id == pool_id)
            ).all()
        )
        assert verify(uow.session).ok
    assert posted == {line.investor_id: line.amount for line in preview.lines}


def test_call_preview_refuses_what_submission_refuses_and_writes_nothing(make: Factory) -> None:
    pool_id, boss, _ = closed_pool(make)
    open_id, _ = make.pool(boss)
    cases = [
        ({"percent": "10", "amount": "5", "purpose": "x", "due_date": DUE}, "percent"),
        ({"percent": "", "amount": "", "purpose": "x", "due_date": DUE}, "percent"),
        ({"percent": "120", "purpose": "x", "due_date": DUE}, "percent"),
        ({"amount": "600000.34", "purpose": "x", "due_date": DUE}, "amount"),
        ({"amount": "12.345", "purpose": "x", "due_date": DUE}, "amount"),
        ({"percent": "10", "purpose": "", "due_date": DUE}, "purpose"),
        ({"percent": "10", "purpose": "<b>x</b>", "due_date": DUE}, "purpose"),
        ({"percent": "10", "purpose": "x", "due_date": "soon"}, "due_date"),
        ({"percent": "10", "purpose": "x", "due_date": DUE, "call_date": "2999-01-01"}, "call_date"),
        ({"percent": "10", "purpose": "x", "due_date": "2000-01-01"}, "due_date"),
    ]
    for request_, field in cases:
        with pytest.raises(ValidationError) as refused:
            svc(make, manager.call_preview, boss, pool_id, request_)
        assert refused.value.field == field, (request_, refused.value.message)
    with pytest.raises(InvalidState, match="closed pool"):
        svc(make, manager.call_preview, boss, open_id, {"percent": "10", "purpose": "x", "due_date": DUE})
    with make.uow_factory() as uow:
        assert (
            uow.session.execute(
                select(func.count()).select_from(CapitalCall).where(CapitalCall.pool_id == pool_id)
            ).scalar_one()
            == 0
        )


def test_call_book_shows_paid_and_outstanding_per_call_and_per_investor(make: Factory) -> None:
    pool_id, boss, investors = closed_pool(make)
    run(make, boss, pool_id, "capital_call", {"amount": "60000", "purpose": "first", "due_date": DUE})
    run(make, boss, pool_id, "capital_call", {"percent": "10", "purpose": "second", "due_date": DUE})
    book = svc(make, manager.call_book, boss, pool_id)
    assert [c.purpose for c in book.calls] == ["second", "first"]
    first = book.calls[1]
    items = svc(make, manager.call_items, boss, first.id)
    assert len(items) == 3 and sum(i.amount_due for i in items) == first.amount == Decimal("60000.00")
    item = next(i for i in items if i.investor_id == investors[2].user_id)
    run(make, boss, pool_id, "payment", {"call_item_id": item.id, "amount": "1000.01", "reference": "W1"})
    book = svc(make, manager.call_book, boss, pool_id)
    first = next(c for c in book.calls if c.purpose == "first")
    assert first.paid == Decimal("1000.01") and first.outstanding == Decimal("60000") - Decimal("1000.01")
    assert first.items == 3 and first.items_paid == 0
    balances = svc(make, manager.investor_balances, boss, pool_id)
    balance = {b.investor_id: b for b in balances}[investors[2].user_id]
    assert balance.paid_in == Decimal("1000.01")
    assert balance.outstanding == balance.called - Decimal("1000.01")
    assert book.outstanding == sum(b.outstanding for b in balances)
    assert [b.outstanding for b in balances] == sorted((b.outstanding for b in balances), reverse=True)
    assert book.called == sum(c.amount for c in book.calls)
    assert book.paid_in + book.outstanding == book.called


def test_call_notice_csv_neutralises_formulas(make: Factory) -> None:
    pool_id, boss = make.pool(hard_cap="2000000", name="-Sneaky Pool")
    with make.uow_factory() as uow:
        evil_id, _ = create_user(
            Actor.system(),
            uow,
            f"evil{pool_id}",
            name='=HYPERLINK("http://x")',
            email="e@example.com",
            role="investor",
            password="correct-horse-battery",
            kyc_status="approved",
            accreditation="accredited",
        )
    evil = Actor(evil_id, "investor", f"evil{pool_id}")
    make.commitment(pool_id, investor=evil, amount="100000", accept_as=boss)
    make.commitment(pool_id, amount="50000", accept_as=boss)
    with make.uow_factory() as uow:
        pools.close_pool(boss, uow, pool_id)
    run(make, boss, pool_id, "capital_call", {"percent": "10", "purpose": "@SUM(A1) fees", "due_date": DUE})
    [call] = svc(make, manager.call_book, boss, pool_id).calls
    rows = list(csv.DictReader(io.StringIO(svc(make, manager.call_notice_csv, boss, call.id))))
    assert len(rows) == 2
    assert {r["pool"] for r in rows} == {"'-Sneaky Pool"}
    assert {r["purpose"] for r in rows} == {"'@SUM(A1) fees"}
    assert '\'=HYPERLINK("http://x")' in {r["investor_name"] for r in rows}
    assert sum(Decimal(r["amount_due"]) for r in rows) == call.amount == Decimal("15000.00")
    assert all(Decimal(r["outstanding"]) == Decimal(r["amount_due"]) for r in rows)
    assert manager.neutralise("\tx") == "'\tx" and manager.neutralise("\rx") == "'\rx"
    assert manager.neutralise("+1") == "'+1" and manager.neutralise("plain") == "plain"
    assert manager.neutralise(Decimal("-5")) == Decimal("-5")


# --- commitments ------------------------------------------------------------------------------------


def test_scale_down_preview_matches_fund_maths_and_confirming_posts_it(make: Factory) -> None:
    pool_id, boss = make.pool(
        target_size="1000000", hard_cap="1000000", min_ticket="10000", max_ticket="500000"
    )
    make.commitment(pool_id, amount="400000", accept_as=boss)
    pending = {make.commitment(pool_id, amount=a)[0]: Decimal(a) for a in ("300000", "300000", "200000.01")}
    with make.uow_factory() as uow:
        operations_before = uow.session.execute(select(func.count()).select_from(Operation)).scalar_one()
    plan = svc(make, manager.scale_down_plan, boss, pool_id)
    expected = scale_down(pending, Decimal("600000"), Decimal("10000"), Decimal("0.01"))
    assert {row.commitment_id: row.proposed for row in plan.rows} == expected
    assert plan.proposed == sum(expected.values()) == Decimal("600000.00") and not plan.fits
    assert plan.room == Decimal("600000.00")
    with make.uow_factory() as uow:  # the preview wrote nothing
        assert (
            uow.session.execute(select(func.count()).select_from(Operation)).scalar_one() == operations_before
        )
    assert all(c.status == "pending" for c in svc(make, manager.commitment_book, boss, pool_id).pending)
    run(make, boss, pool_id, "settle_commitment", plan.payload)
    book = svc(make, manager.commitment_book, boss, pool_id)
    assert not book.pending and book.room == 0 and book.accepted == Decimal("1000000.00")
    decided = dict(zip(book.decided.ids, book.decided.accepted, strict=True))
    accepted = {i: decided[i] for i in pending}
    assert accepted == expected
    with make.uow_factory() as uow:
        assert verify(uow.session).ok


def test_scale_down_leaves_out_requests_under_the_minimum_ticket(make: Factory) -> None:
    pool_id, boss = make.pool(
        target_size="1000000", hard_cap="1000000", min_ticket="50000", max_ticket="900000"
    )
    big = make.commitment(pool_id, amount="200000")[0]
    small = make.commitment(pool_id, amount="60000")[0]
    make.commitment(pool_id, amount="850000", accept_as=boss)
    plan = svc(make, manager.scale_down_plan, boss, pool_id)
    proposed = {row.commitment_id: row.proposed for row in plan.rows}
    assert proposed[small] == 0 and proposed[big] == Decimal("150000.00")
    assert [row.commitment_id for row in plan.left_out] == [small]
    assert plan.payload == {"commitments": [{"id": big, "amount": "150000.00"}]}


def test_scale_down_with_room_for_everyone_accepts_in_full(make: Factory) -> None:
    pool_id, boss = make.pool()
    ids = [make.commitment(pool_id, amount=a)[0] for a in ("10000", "25000.50")]
    plan = svc(make, manager.scale_down_plan, boss, pool_id)
    assert plan.fits and [r.proposed for r in plan.rows] == [Decimal("10000.00"), Decimal("25000.50")]
    run(make, boss, pool_id, "settle_commitment", plan.payload)
    with make.uow_factory() as uow:
        statuses = uow.session.execute(select(Commitment.status).where(Commitment.id.in_(ids))).scalars()
        assert set(statuses) == {"accepted"}
    with pytest.raises(InvalidState, match="no pending"):
        svc(make, manager.scale_down_plan, boss, pool_id)


def test_commitment_book_lists_pending_and_decided(make: Factory) -> None:
    pool_id, boss = make.pool()
    accepted, _ = make.commitment(pool_id, amount="20000", accept_as=boss)
    rejected, _ = make.commitment(pool_id, amount="30000")
    waiting, investor = make.commitment(pool_id, amount="40000")
    with make.uow_factory() as uow:
        commitments.reject_commitment(boss, uow, rejected)
    book = svc(make, manager.commitment_book, boss, pool_id)
    assert [c.id for c in book.pending] == [waiting]
    assert (
        book.pending[0].investor_name == f"Test {investor.username}"
        and book.pending[0].kyc_status == "approved"
    )
    assert dict(zip(book.decided.ids, book.decided.statuses, strict=True)) == {
        accepted: "accepted",
        rejected: "rejected",
    }
    assert book.accepted == Decimal("20000.00") and book.pending_total == Decimal("40000.00")
    assert book.room == Decimal("1480000.00") and book.investors == 1


# --- distributions, portfolio, dashboard ------------------------------------------------------------


def test_distribution_preview_per_tier_and_investor_is_what_gets_posted(history: dict[str, Any]) -> None:
    make, pool_id, boss = history["make"], history["pool_id"], history["manager"]
    with make.uow_factory() as uow:
        cash = positions.pool_books(uow.session, pool_id).cash
        before = positions.investor_positions(uow.session, pool_id)
    proceeds = (cash - Decimal("0.07")).quantize(Decimal("0.01"))
    preview = svc(
        make, manager.distribution_preview, boss, pool_id, {"proceeds": str(proceeds), "memo": "Acme exit"}
    )
    assert preview.proceeds == proceeds
    assert sum(line.share for line in preview.lines) == proceeds
    assert all(line.lp + line.gp == line.share for line in preview.lines)
    assert preview.lp_total + preview.gp_total == proceeds
    assert sum(t.total for t in preview.tiers) == proceeds
    assert [t.tier for t in preview.tiers] == ["return_of_capital", "preferred_return", "catch_up", "split"]
    assert preview.gp_total > 0, "a profitable exit pays carry"
    run(make, boss, pool_id, "distribution", preview.payload)
    with make.uow_factory() as uow:
        after = positions.investor_positions(uow.session, pool_id)
        assert verify(uow.session).ok
    for line in preview.lines:
        assert after[line.investor_id].distributed - before[line.investor_id].distributed == line.lp
        assert after[line.investor_id].carry - before[line.investor_id].carry == line.gp
    [past] = svc(make, manager.distributions, boss, pool_id)
    assert (past.lp, past.gp, past.memo) == (preview.lp_total, preview.gp_total, "Acme exit")


def test_distribution_preview_refusals_name_the_field(history: dict[str, Any]) -> None:
    make, pool_id, boss = history["make"], history["pool_id"], history["manager"]
    for request_, field in [
        ({"proceeds": "abc"}, "proceeds"),
        ({"proceeds": "-5"}, "proceeds"),
        ({"proceeds": "0.001"}, "proceeds"),
        ({"proceeds": "999999999"}, "proceeds"),
        ({"proceeds": "0.01", "date": "2999-01-01"}, "date"),
        ({"proceeds": "0.01", "memo": "a\nb"}, "memo"),
    ]:
        with pytest.raises(ValidationError) as refused:
            svc(make, manager.distribution_preview, boss, pool_id, request_)
        assert refused.value.field == field


def test_portfolio_companies_marks_and_nav_history_come_from_the_ledger(history: dict[str, Any]) -> None:
    make, pool_id, boss = history["make"], history["pool_id"], history["manager"]
    view = svc(make, manager.portfolio, boss, pool_id)
    companies = {c.company: c for c in view.companies}
    assert set(companies) == {"Acme", "Beta"}
    assert companies["Acme"].invested == Decimal("250000") and companies["Acme"].cost_held == 0
    assert companies["Acme"].realized_gain == Decimal("150000")
    assert companies["Beta"].cost_held == Decimal("20000")
    assert [(m.value, m.note) for m in view.marks] == [(Decimal("420000"), "Series B mark-up")]
    with make.uow_factory() as uow:
        total = positions.pool_total(uow.session, pool_id)
        books = positions.pool_books(uow.session, pool_id)
    last = view.history[-1]
    assert (last.nav, last.paid_in, last.cash) == (total.nav, total.paid_in, books.cash)
    assert last.portfolio_value == books.portfolio_value == view.portfolio_value
    assert view.nav == total.nav


def test_dashboard_series_concentration_and_returns(history: dict[str, Any]) -> None:
    make, pool_id, boss = history["make"], history["pool_id"], history["manager"]
    board = svc(make, manager.dashboard, boss, pool_id)
    again = svc(make, manager.dashboard, boss, pool_id)  # from the cache, rebuilt with dates
    assert again == board
    with make.uow_factory() as uow:
        total = positions.pool_total(uow.session, pool_id)
    last = board.series[-1]
    assert (last.committed, last.called, last.paid_in, last.nav) == (
        total.committed,
        total.called,
        total.paid_in,
        total.nav,
    )
    assert all(isinstance(p.on, date) for p in board.series)
    assert board.investors == 3 and len(board.top) == 3
    assert board.top_share(10) == 1
    assert board.top[0].committed == Decimal("300000.33")
    assert board.top_share(1) == Decimal("300000.33") / Decimal("600000.33")
    assert board.tvpi is not None and board.tvpi > 1
    summaries = {p.id: p for p in svc(make, manager.my_pools, boss)}
    assert summaries[pool_id].tvpi == board.tvpi and summaries[pool_id].paid_in == total.paid_in


def test_my_pools_and_versions_cover_only_the_managers_own_pools(make: Factory) -> None:
    boss = make.user("fund_manager")
    mine = {make.pool(boss, status=s)[0] for s in ("draft", "open", "closed")}
    other, _ = make.pool()
    summaries = svc(make, manager.my_pools, boss)
    assert {p.id for p in summaries} == mine and other not in {p.id for p in summaries}
    assert set(svc(make, manager.pool_versions, boss)) == mine
    draft = next(p for p in summaries if p.status == "draft")
    assert draft.accepted == 0 and draft.irr is None and draft.tvpi is None


def test_moving_an_open_pools_close_date_bumps_its_version(make: Factory) -> None:
    """Live views (My pools, an investor's pool page) re-read a pool only when its version moves."""
    boss = make.user("fund_manager")
    pool_id, _ = make.pool(boss)
    current = {f: getattr(svc(make, pools.get_pool, boss, pool_id), f) for f in pools.TERM_FIELDS}
    before = svc(make, manager.pool_versions, boss)[pool_id]
    later = date.today() + timedelta(days=321)
    svc(make, pools.update_pool_terms, boss, pool_id, {**current, "close_date": later.isoformat()})
    moved = svc(make, manager.pool_versions, boss)[pool_id]
    assert moved == before + 1
    assert svc(make, pools.pool_version, boss, pool_id) == moved
    assert {p.id: p.close_date for p in svc(make, manager.my_pools, boss)}[pool_id] == later
    # Saving the same date again changes nothing, so nothing is refreshed; a refusal moves nothing either.
    svc(make, pools.update_pool_terms, boss, pool_id, {**current, "close_date": later.isoformat()})
    with pytest.raises(InvalidState):
        svc(make, pools.update_pool_terms, boss, pool_id, {**current, "name": "Renamed", "close_date": later})
    assert svc(make, manager.pool_versions, boss)[pool_id] == moved


def test_editing_a_drafts_terms_bumps_its_version(make: Factory) -> None:
    boss = make.user("fund_manager")
    pool_id, _ = make.pool(boss, status="draft")
    before = svc(make, manager.pool_versions, boss)[pool_id]
    svc(make, pools.update_pool_terms, boss, pool_id, Factory.terms(name="Renamed draft"))
    assert svc(make, manager.pool_versions, boss)[pool_id] == before + 1
    assert svc(make, pools.get_pool, boss, pool_id).name == "Renamed draft"


# --- permissions ------------------------------------------------------------------------------------

POOL_SERVICES = [
    (manager.managed_pool, ()),
    (manager.commitment_book, ()),
    (manager.scale_down_plan, ()),
    (manager.call_preview, ({"percent": "10", "purpose": "x", "due_date": DUE},)),
    (manager.call_book, ()),
    (manager.investor_balances, ()),
    (manager.portfolio, ()),
    (manager.portfolio_companies, ()),
    (manager.nav_history, ()),
    (manager.distribution_preview, ({"proceeds": "1"},)),
    (manager.distributions, ()),
    (manager.dashboard, ()),
]


def test_no_manager_reaches_another_managers_pool_by_any_id(make: Factory, history: dict[str, Any]) -> None:
    pool_id, owner = history["pool_id"], history["manager"]
    intruder = make.user("fund_manager")
    others = [
        intruder,
        make.user("investor"),
        make.user("analyst"),
        make.user("admin"),
        history["investors"][0],
    ]
    with make.uow_factory() as uow:
        call_id = (
            uow.session.execute(select(CapitalCall.id).where(CapitalCall.pool_id == pool_id))
            .scalars()
            .first()
        )
        journals = uow.session.execute(select(func.count()).select_from(Journal)).scalar_one()
    for actor in others:
        for service, args in POOL_SERVICES:
            with pytest.raises(PermissionDenied):
                svc(make, service, actor, pool_id, *args)
        for service in (manager.call_items, manager.call_notice_csv):
            with pytest.raises(PermissionDenied):
                svc(make, service, actor, call_id)
    assert pool_id not in svc(make, manager.pool_versions, intruder)
    assert pool_id not in {p.id for p in svc(make, manager.my_pools, intruder)}
    for actor in others[1:]:
        for service in (manager.pool_versions, manager.my_pools):
            with pytest.raises(PermissionDenied):
                svc(make, service, actor)
    # Ids that do not exist, or are not ids at all, are refused without a crash.
    for bad in (10**12, "1 OR 1=1", None, True):
        with pytest.raises(NotFound):
            svc(make, manager.dashboard, owner, bad)
        with pytest.raises(NotFound):
            svc(make, manager.call_items, owner, bad)
    with make.uow_factory() as uow:
        assert uow.session.execute(select(func.count()).select_from(Journal)).scalar_one() == journals
