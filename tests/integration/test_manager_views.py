"""The manager's read models (core.views.manager) on real PostgreSQL and Redis: every figure equals
an independent sum of the journal entries as of the same day (a journal counts from its date on),
facts come from their own tables, statuses and overdue items follow the payments, and no manager
reaches another manager's pool, call or item by any id."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from app.manager_ui import accept_plan
from core import clock
from core.errors import InvalidState, NotFound, PermissionDenied, Stale, ValidationError
from core.fundmath import scale_down
from core.permissions import Actor
from core.services import calls, commitments, corrections, pools
from core.services.users import create_user
from core.views import manager
from db.models import Journal
from tests.app.manager_support import Fund, done, journal_figures, post

D = Decimal


@pytest.fixture(autouse=True, scope="module")
def fast_bcrypt() -> Any:
    """Real bcrypt at the lowest cost: these tests make many users."""
    import bcrypt

    from core.services import users

    original = users.hash_password
    users.hash_password = lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    yield
    users.hash_password = original


def view(fund_or_make: Any, fn: Any, actor: Actor, *args: Any) -> Any:
    uow_factory = fund_or_make.uow if isinstance(fund_or_make, Fund) else fund_or_make.uow_factory
    with uow_factory() as uow:
        return fn(actor, uow, *args)


def see(fund: Fund, fn: Any, *args: Any) -> Any:
    return view(fund, fn, fund.manager, *args)


# --- capital calls ------------------------------------------------------------------------------------


def test_the_call_book_names_calls_follows_their_status_and_shows_what_is_overdue(make: Any) -> None:
    fund = Fund(make, age=100)
    fund.call("10", fund.day(10), purpose="First", due_date=fund.day(20).isoformat())
    fund.call("20", fund.day(95), purpose="Second")
    first = {i.investor_id: i for i in fund.items(1)}
    a, b, c = fund.investors
    fund.pay(first[a.user_id], fund.day(15))
    fund.pay(first[b.user_id], fund.day(16), amount=D("5000"))
    book = see(fund, manager.call_book, fund.pool_id)
    assert [(x.name, x.status) for x in book.calls] == [
        ("Capital call 2 (Second)", "issued"),
        ("Capital call 1 (First)", "partially_paid"),
    ]
    older = book.calls[1]
    assert (older.items, older.items_paid, older.paid, older.outstanding) == (3, 1, D("15000"), D("45000"))
    assert (older.overdue_items, older.overdue) == (2, D("45000"))  # due on day 20, unpaid since
    assert book.calls[0].overdue_items == 0  # due ten business days after day 95: not yet
    fig = journal_figures(fund.uow, fund.pool_id, as_of=clock.today())
    assert (book.called, book.paid_in, book.outstanding) == (
        fig["called"],
        fig["contributions"],
        fig["outstanding"],
    )
    assert book.overdue == D("45000")

    items = see(fund, manager.call_items, older.id)
    by_investor = {i.investor_id: i for i in items.items}
    assert by_investor[a.user_id].shown_status == "Paid" and not by_investor[a.user_id].overdue
    assert by_investor[b.user_id].shown_status == "Overdue" and by_investor[b.user_id].outstanding == D(
        "15000"
    )
    assert {i.investor_id for i in items.payable} == {b.user_id, c.user_id}
    assert {i.investor_id for i in items.overdue} == {b.user_id, c.user_id}
    # Everyone pays: the call is paid, and nothing is payable or overdue on it any more.
    fund.pay(fund.items(1)[1], fund.day(90))
    fund.pay(fund.items(1)[2], fund.day(90))
    paid = see(fund, manager.call_items, older.id)
    assert paid.call.status == "paid" and paid.payable == [] and paid.overdue == []

    balances = {x.investor_id: x for x in see(fund, manager.investor_balances, fund.pool_id)}
    for investor in fund.investors:
        mine = journal_figures(fund.uow, fund.pool_id, investor_id=investor.user_id)
        row = balances[investor.user_id]
        assert (row.commitment, row.called, row.paid_in, row.outstanding) == (
            mine["commitment"],
            mine["called"],
            mine["contributions"],
            mine["outstanding"],
        )
        assert row.unfunded == mine["commitment"] - mine["called"]  # ILPA: not commitment - paid-in
    ordered = see(fund, manager.investor_balances, fund.pool_id)
    assert [x.outstanding for x in ordered] == sorted((x.outstanding for x in ordered), reverse=True)


def test_the_call_notice_csv_neutralises_formulas_and_formats_figures(make: Any) -> None:
    start = clock.today() - timedelta(days=30)
    with clock.travel(start):
        pool_id, boss = make.pool(name="-Sneaky Pool", hard_cap="2000000")
        with make.uow_factory() as uow:
            evil_id, _ = create_user(
                Actor.system(),
                uow,
                f"evil{pool_id}",
                name='=HYPERLINK("http://x")',
                email=f"evil{pool_id}@example.com",
                role="investor",
                password="correct-horse-battery",
                kyc_status="approved",
                accreditation="accredited",
            )
        make.commitment(pool_id, investor=Actor(evil_id, "investor"), amount="100000", accept_as=boss)
        make.commitment(pool_id, amount="50000", accept_as=boss)
        with make.uow_factory() as uow:
            pools.close_pool(boss, uow, pool_id)
    called_on = start + timedelta(days=25)
    post(
        make.uow_factory,
        called_on,
        calls.preview,
        calls.issue,
        boss,
        pool_id,
        {"percent": "10", "purpose": "@SUM(A1) fees"},
    )
    [call] = view(make, manager.call_book, boss, pool_id).calls
    rows = list(csv.DictReader(io.StringIO(view(make, manager.call_notice_csv, boss, call.id))))
    assert len(rows) == 2 and {r["pool"] for r in rows} == {"'-Sneaky Pool"}
    assert {r["purpose"] for r in rows} == {"'@SUM(A1) fees"}
    assert '\'=HYPERLINK("http://x")' in {r["investor_name"] for r in rows}
    assert {(r["call"], r["call_date"], r["status"], r["currency"]) for r in rows} == {
        ("1", called_on.isoformat(), "open", "USD")
    }
    assert sorted(r["amount_due"] for r in rows) == ["10000.00", "5000.00"]
    assert sum(D(r["outstanding"]) for r in rows) == call.amount == D("15000.00")


# --- commitments --------------------------------------------------------------------------------------


def test_the_commitment_book_and_a_scale_down_plan_posted_as_shown(make: Any) -> None:
    pool_id, boss = make.pool(
        target_size="1000000", hard_cap="1000000", min_ticket="10000", max_ticket="500000"
    )
    make.commitment(pool_id, amount="400000", accept_as=boss)
    rejected, _ = make.commitment(pool_id, amount="20000")
    with make.uow_factory() as uow:
        commitments.reject_commitment(boss, uow, rejected)
    pending = {make.commitment(pool_id, amount=a)[0]: D(a) for a in ("300000", "300000", "200000.01")}
    book = view(make, manager.commitment_book, boss, pool_id)
    assert [c.id for c in book.pending] == list(pending) and all(c.version == 0 for c in book.pending)
    assert (book.committed, book.pending_total, book.room, book.investors) == (
        D("400000"),
        D("800000.01"),
        D("600000"),
        1,
    )
    assert sorted(book.decided.statuses) == ["accepted", "rejected"]
    plan = view(make, manager.scale_down_plan, boss, pool_id)
    expected = scale_down(pending, D("600000"), D("10000"), D("0.01"))
    assert {r.commitment_id: r.proposed for r in plan.rows} == expected
    assert plan.proposed == D("600000.00") and not plan.fits and plan.left_out == []

    # A plan made before the pool changed is refused as stale; the plan as it stands is posted as shown.
    late, _ = make.commitment(pool_id, amount="10000")
    with make.uow_factory() as uow, pytest.raises(Stale):
        pools.require_unchanged(boss, uow, pool_id, plan.pool_version)
    with make.uow_factory() as uow:
        commitments.reject_commitment(boss, uow, late)
    plan = view(make, manager.scale_down_plan, boss, pool_id)
    with make.uow_factory() as uow:
        status = accept_plan(boss, uow, plan)
    done(make.uow_factory, status)
    book = view(make, manager.commitment_book, boss, pool_id)
    assert not book.pending and book.room == 0 and book.committed == D("1000000")
    assert journal_figures(make.uow_factory, pool_id)["commitment"] == D("1000000")
    with pytest.raises(InvalidState, match="no pending"):
        view(make, manager.scale_down_plan, boss, pool_id)


# --- portfolio, the date rule, returns ----------------------------------------------------------------


def test_after_an_exit_nav_is_cash_plus_the_remaining_holdings_at_their_marks(make: Any) -> None:
    fund = Fund(make, age=300)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    fund.invest(fund.day(20), "Acme", "200000")
    fund.invest(fund.day(21), "Beta", "50000")
    fund.mark(fund.day(100), "Acme", "1020000", "Series C")
    fund.mark(fund.day(101), "Beta", "80000", "Series A")
    fund.exit(fund.day(200), "Acme", "900000")  # below its last mark: NAV falls by 120,000
    portfolio = see(fund, manager.portfolio, fund.pool_id)
    fig = journal_figures(fund.uow, fund.pool_id, as_of=clock.today())
    books = portfolio.books
    assert (books.cash, books.investments_at_cost, books.unrealized_value) == (
        fig["cash"],
        fig["investments"],
        fig["unrealized"],
    )
    assert books.cash == D("300000") - D("250000") + D("900000")
    assert books.portfolio_value == D("80000") == sum((h.value for h in portfolio.holdings), D(0))
    assert books.nav == books.cash + books.portfolio_value == fig["nav"]
    assert portfolio.realized == fig["realized_gain"] == D("700000")
    held = {h.company: h for h in portfolio.holdings}
    assert held["Acme"].realized_gain == D("700000") and not held["Acme"].held
    assert [h.name for h in portfolio.held] == ["Beta"]
    assert [(m.company, m.value) for m in portfolio.marks] == [("Beta", D("80000")), ("Acme", D("1020000"))]
    last = portfolio.history[-1]
    assert (last.on, last.nav, last.cash, last.portfolio_value) == (
        fund.day(200),
        books.nav,
        books.cash,
        D("80000"),
    )
    before_exit = next(p for p in portfolio.history if p.on == fund.day(101))
    assert before_exit.nav == books.nav + D("120000")


def test_a_future_dated_fee_counts_from_its_date_on_every_manager_surface(make: Any) -> None:
    fund = Fund(make, age=100)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    end = clock.today() + timedelta(days=30)
    fund.fee(fund.day(1), end, on=clock.today())
    charged = journal_figures(fund.uow, fund.pool_id)["management_fees"]
    assert (
        charged > 0 and journal_figures(fund.uow, fund.pool_id, as_of=clock.today())["management_fees"] == 0
    )
    board = see(fund, manager.dashboard, fund.pool_id)
    summary = next(p for p in see(fund, manager.my_pools) if p.id == fund.pool_id)
    portfolio = see(fund, manager.portfolio, fund.pool_id)
    assert board.fees == 0 and board.nav == summary.nav == portfolio.books.nav == D("300000")
    assert portfolio.books.fees_payable == 0 and portfolio.history[-1].on <= clock.today()
    assert all(p.on <= clock.today() for p in board.series)
    with clock.travel(end):
        board = see(fund, manager.dashboard, fund.pool_id)
        portfolio = see(fund, manager.portfolio, fund.pool_id)
    assert board.fees == charged and board.nav == portfolio.books.nav == D("300000") - charged
    assert portfolio.history[-1].on == end


def test_returns_exist_only_with_paid_in_capital_and_a_nav_that_is_not_negative(make: Any) -> None:
    fund = Fund(make, age=400)
    assert see(fund, manager.returns, fund.pool_id) == manager.Returns(None, None, None, None)
    fund.call("1", fund.day(10))
    fund.pay_call(1, fund.day(12))  # 6,000 paid in
    fund.fee(fund.day(1), fund.day(366))  # 2% of 600,000 committed: the capital accounts go negative
    assert journal_figures(fund.uow, fund.pool_id)["nav"] < 0
    assert see(fund, manager.returns, fund.pool_id) == manager.Returns(None, None, None, None)
    board = see(fund, manager.dashboard, fund.pool_id)
    assert (board.irr, board.tvpi, board.dpi, board.rvpi) == (None, None, None, None)

    healthy = Fund(make, age=400)
    healthy.call("50", healthy.day(10))
    healthy.pay_call(1, healthy.day(12))
    healthy.invest(healthy.day(20), "Acme", "200000")
    healthy.mark(healthy.day(200), "Acme", "400000")
    healthy.distribute(healthy.day(300), "50000")
    figures = see(healthy, manager.returns, healthy.pool_id)
    fig = journal_figures(healthy.uow, healthy.pool_id)
    assert figures.dpi is not None and figures.rvpi is not None
    assert figures.tvpi == figures.dpi + figures.rvpi
    assert abs(figures.tvpi - (fig["distributions"] + fig["nav"]) / fig["contributions"]) < D("1e-9")
    assert figures.irr is not None and figures.irr > 0


def test_the_dashboard_series_concentration_and_cache(make: Any) -> None:
    fund = Fund(make, age=300)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    fund.distribute(fund.day(200), "30000")
    board = see(fund, manager.dashboard, fund.pool_id)
    assert see(fund, manager.dashboard, fund.pool_id) == board  # from the cache, dates rebuilt
    fig = journal_figures(fund.uow, fund.pool_id, as_of=clock.today())
    last = board.series[-1]
    assert (last.committed, last.called, last.paid_in, last.distributed, last.nav) == (
        fig["commitment"],
        fig["called"],
        fig["contributions"],
        fig["distributions"],
        fig["nav"],
    )
    first = board.series[0]
    assert first.on == fund.start and first.committed == D("600000") and first.called == 0
    assert (board.committed, board.unfunded, board.carry) == (
        D("600000"),
        D("300000"),
        fig["carried_interest"],
    )
    assert board.investors == 3 and [t.commitment for t in board.top] == [
        D("300000"),
        D("200000"),
        D("100000"),
    ]
    assert board.top_share(1) == D("0.5") and board.top_share(10) == 1


def test_my_pools_keep_one_order_and_cover_only_the_managers_own(make: Any) -> None:
    boss = make.user("fund_manager")
    mine = [make.pool(boss, status=s)[0] for s in ("closed", "open", "draft")]
    other, _ = make.pool()
    summaries = view(make, manager.my_pools, boss)
    assert [p.id for p in summaries] == sorted(mine, reverse=True)
    assert set(view(make, manager.pool_versions, boss)) == set(mine)
    draft = next(p for p in summaries if p.status == "draft")
    assert (draft.committed, draft.irr, draft.tvpi) == (0, None, None)
    with make.uow_factory() as uow:
        pools.open_pool(boss, uow, mine[2])
    assert [p.id for p in view(make, manager.my_pools, boss)] == [p.id for p in summaries]
    assert other not in {p.id for p in summaries}


# --- pools: what the confirmations say, and stale forms ----------------------------------------------


def test_lifecycle_figures_and_transitions_bound_to_the_version_shown(make: Any) -> None:
    pool_id, boss = make.pool(name="Harbor Fund")
    make.commitment(pool_id, amount="120000", accept_as=boss)
    make.commitment(pool_id, amount="30000")
    state = view(make, pools.lifecycle, boss, pool_id)
    assert (state.name, state.committed, state.investors, state.pending, state.pending_amount) == (
        "Harbor Fund",
        D("120000"),
        1,
        1,
        D("30000"),
    )
    make.commitment(pool_id, amount="40000")  # the pool moves on after the question was asked
    with make.uow_factory() as uow, pytest.raises(Stale, match="changed since the page was shown"):
        pools.close_pool(boss, uow, pool_id, version=state.version)
    with make.uow_factory() as uow:
        current = {f: getattr(pools.get_pool(boss, uow, pool_id), f) for f in pools.TERM_FIELDS}
    with make.uow_factory() as uow, pytest.raises(ValidationError) as refused:
        pools.update_pool_terms(boss, uow, pool_id, {**current, "close_date": clock.today()})
    assert refused.value.field == "close_date" and refused.value.message == "Close date must be in the future"
    fresh = view(make, pools.lifecycle, boss, pool_id)
    with make.uow_factory() as uow:
        pools.close_pool(boss, uow, pool_id, version=fresh.version)
        assert pools.load_pool(uow, pool_id).status == "closed"


# --- corrections and distributions keep what was reversed, and why ------------------------------------


def test_reversed_facts_stay_listed_with_their_reason(make: Any) -> None:
    fund = Fund(make, age=200)
    fund.call("50", fund.day(10))
    fund.pay_call(1, fund.day(12))
    given = fund.distribute(fund.day(100), "60000", "Early proceeds")
    fund.act(
        clock.today(),
        corrections.preview,
        corrections.reverse,
        {"operation_id": str(given.id), "reason": "Sent twice"},
    )
    listed = see(fund, manager.corrections_of, fund.pool_id)
    assert [(r.label, r.description, r.reason, r.reversed_on) for r in listed.reversed] == [
        ("Distribution", "Early proceeds", "Sent twice", clock.today())
    ]
    assert given.id not in {c.operation_id for c in listed.correctable}
    [past] = see(fund, manager.distributions, fund.pool_id)
    assert (past.memo, past.reversed_on, past.reason) == ("Early proceeds", clock.today(), "Sent twice")
    assert journal_figures(fund.uow, fund.pool_id)["distributions"] == 0


# --- permissions --------------------------------------------------------------------------------------

POOL_VIEWS = [
    manager.managed_pool,
    manager.commitment_book,
    manager.scale_down_plan,
    manager.call_book,
    manager.investor_balances,
    manager.portfolio,
    manager.distributions,
    manager.corrections_of,
    manager.dashboard,
    manager.returns,
]
CALL_VIEWS = [manager.call_items, manager.call_payments, manager.call_notice_csv]


def test_no_manager_reaches_another_managers_pool_by_any_id(make: Any) -> None:
    fund = Fund(make, age=30)
    fund.call("10", fund.day(5))
    [call] = see(fund, manager.call_book, fund.pool_id).calls
    others = [make.user("fund_manager"), make.user("investor"), make.user("analyst"), make.user("admin")]
    others.append(fund.investors[0])
    with make.uow_factory() as uow:
        journals = uow.session.execute(select(func.count()).select_from(Journal)).scalar_one()
    for actor in others:
        for fn in POOL_VIEWS:
            with pytest.raises(PermissionDenied):
                view(make, fn, actor, fund.pool_id)
        for fn in CALL_VIEWS:
            with pytest.raises(PermissionDenied):
                view(make, fn, actor, call.id)
    assert fund.pool_id not in view(make, manager.pool_versions, others[0])
    for actor in others[1:]:
        for fn in (manager.pool_versions, manager.my_pools):
            with pytest.raises(PermissionDenied):
                view(make, fn, actor)
    for bad in (10**12, "1 OR 1=1", None, True):
        with pytest.raises(NotFound):
            see(fund, manager.dashboard, bad)
        with pytest.raises(NotFound):
            see(fund, manager.call_items, bad)
    with make.uow_factory() as uow:
        assert uow.session.execute(select(func.count()).select_from(Journal)).scalar_one() == journals
