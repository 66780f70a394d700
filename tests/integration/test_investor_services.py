"""Investor services against the real database: every figure checked against the ledger read
independently (raw SQL and core.positions), periods, IRR "n/a", statements as CSV, and the refusal
of another investor's ids."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from core import operations, positions
from core.errors import DomainError, InvalidState, NotFound, PermissionDenied, ValidationError
from core.fundmath import multiples, xirr
from core.permissions import Actor
from core.services import commitments, investor, pools
from db.models import AuditLog, CallItem, CapitalCall, Commitment
from tests.conftest import Factory

TODAY = date.today()
START = TODAY - timedelta(days=500)
CENT = Decimal("0.01")


def run(make: Factory, actor: Actor, pool_id: int, kind: str, **payload: Any) -> Any:
    with make.uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload)
    assert operations.process(str(status.id), make.uow_factory) == "done"
    with make.uow_factory() as uow:
        return operations.operation_status(actor, uow, status.id)


def items(make: Factory, pool_id: int, call_date: date) -> dict[int, tuple[int, Decimal]]:
    with make.uow_factory() as uow:
        rows = uow.session.execute(
            select(CallItem.investor_id, CallItem.id, CallItem.amount_due)
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .where(CapitalCall.pool_id == pool_id, CapitalCall.call_date == call_date)
        ).all()
    return {investor_id: (item_id, due) for investor_id, item_id, due in rows}


@pytest.fixture(scope="module", autouse=True)
def fast_bcrypt() -> Any:
    """Real bcrypt at its lowest cost: these tests make many users and never log them in."""
    import bcrypt

    from core.services import users

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        yield


@pytest.fixture(scope="module")
def book(fast_bcrypt: Any) -> dict[str, Any]:
    """A closed pool with history for investors a (300k) and b (100k): two calls, one left unpaid
    and overdue by a; an investment, a fee, a mark-up, a distribution. a also has a pending
    commitment to an open pool; c is an investor elsewhere."""
    from core import bootstrap

    make = Factory(bootstrap.unit_of_work)
    pool_id, manager = make.pool(hard_cap="2000000", max_ticket="1000000")
    _, a = make.commitment(pool_id, amount="300000", accept_as=manager)
    _, b = make.commitment(pool_id, amount="100000", accept_as=manager)
    with make.uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    first, second = START, START + timedelta(days=200)
    run(
        make,
        manager,
        pool_id,
        "capital_call",
        percent="50",
        purpose="Call 1",
        call_date=first.isoformat(),
        due_date=(first + timedelta(days=14)).isoformat(),
    )
    for investor_id, (item_id, due) in items(make, pool_id, first).items():
        payer = a if investor_id == a.user_id else b
        run(
            make,
            payer,
            pool_id,
            "payment",
            call_item_id=item_id,
            amount=str(due),
            reference=f"WIRE-{investor_id}",
            paid_on=(first + timedelta(days=5)).isoformat(),
        )
    run(
        make,
        manager,
        pool_id,
        "investment",
        action="buy",
        company="Acme",
        amount="150000",
        date=(first + timedelta(days=30)).isoformat(),
    )
    run(
        make,
        manager,
        pool_id,
        "management_fee",
        period_start=first.isoformat(),
        period_end=(first + timedelta(days=180)).isoformat(),
    )
    run(
        make,
        manager,
        pool_id,
        "capital_call",
        percent="20",
        purpose="Call 2",
        call_date=second.isoformat(),
        due_date=(second + timedelta(days=10)).isoformat(),
    )
    b_item, b_due = items(make, pool_id, second)[b.user_id]
    run(
        make,
        b,
        pool_id,
        "payment",
        call_item_id=b_item,
        amount=str(b_due),
        reference="-cmd",
        paid_on=(second + timedelta(days=3)).isoformat(),
    )
    run(
        make,
        manager,
        pool_id,
        "valuation",
        value="240000",
        note="=mark up",
        date=(second + timedelta(days=40)).isoformat(),
    )
    run(
        make,
        manager,
        pool_id,
        "distribution",
        proceeds="30000",
        memo="Dividend",
        date=(second + timedelta(days=60)).isoformat(),
    )
    open_pool, _ = make.pool(name='=HYPERLINK("http://x")', min_ticket="10000")
    pending_id, _ = make.commitment(open_pool, investor=a, amount="25000")
    other_pool, other_manager = make.pool()
    _, c = make.commitment(other_pool, amount="50000", accept_as=other_manager)
    return {
        "make": make,
        "pool": pool_id,
        "manager": manager,
        "a": a,
        "b": b,
        "c": c,
        "first": first,
        "second": second,
        "open_pool": open_pool,
        "pending": pending_id,
        "other_pool": other_pool,
        "overdue_item": items(make, pool_id, second)[a.user_id][0],
    }


def call(book: dict[str, Any], service: Callable[..., Any], actor: Actor, *args: Any, **kwargs: Any) -> Any:
    with book["make"].uow_factory() as uow:
        return service(actor, uow, *args, **kwargs)


def ledger_sums(
    book: dict[str, Any], investor_id: int, *, since: date | None = None, until: date | None = None
) -> dict[str, Decimal]:
    """The ledger read by hand: signed sums per kind/account for one investor, in a date window."""
    with book["make"].uow_factory() as uow:
        rows = uow.session.execute(
            text(
                """SELECT j.kind, e.account, sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.investor_id = :i AND j.effective_date >= :since AND j.effective_date <= :until
                    GROUP BY j.kind, e.account"""
            ),
            {"i": investor_id, "since": since or date(1900, 1, 1), "until": until or TODAY},
        ).all()
    sums = {(kind, account): value for kind, account, value in rows}
    capital = sum((v for (k, acc), v in sums.items() if acc == "capital"), Decimal(0))
    return {
        "committed": sums.get(("commitment", "commitment"), Decimal(0)),
        "paid_in": sums.get(("payment", "capital"), Decimal(0)),
        "distributed": -sums.get(("distribution", "capital"), Decimal(0)),
        "fees": -sums.get(("management_fee", "capital"), Decimal(0)),
        "nav": capital,
        "outstanding": -sum((v for (k, acc), v in sums.items() if acc == "receivable"), Decimal(0)),
    }


def dated_flows(
    book: dict[str, Any], investor_id: int, since: date, until: date
) -> list[tuple[date, Decimal]]:
    with book["make"].uow_factory() as uow:
        rows = uow.session.execute(
            text(
                """SELECT j.effective_date, j.kind, sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.investor_id = :i AND e.account = 'capital' AND j.kind IN ('payment', 'distribution')
                      AND j.effective_date BETWEEN :since AND :until
                    GROUP BY j.effective_date, j.kind ORDER BY 1"""
            ),
            {"i": investor_id, "since": since, "until": until},
        ).all()
    return [(when, -credit) for when, _, credit in rows]


def test_since_inception_totals_match_the_ledger(book: dict[str, Any]) -> None:
    a = book["a"]
    overview = call(book, investor.portfolio_overview, a, investor.period_for("inception"))
    [totals] = overview.totals
    expected = ledger_sums(book, a.user_id)
    assert totals.currency == "USD"
    for name, value in expected.items():
        assert getattr(totals, name) == value, name
    assert totals.paid_in == Decimal("150000.00")  # 50% of 300k; the 20% call is still unpaid
    assert totals.called == Decimal("210000.00")
    assert totals.outstanding == Decimal("60000.00")
    assert totals.unfunded == totals.committed - totals.paid_in
    assert totals.total_value == totals.distributed + totals.nav
    # The same figures by the project's own position reader.
    with book["make"].uow_factory() as uow:
        held = positions.positions_of_investor(uow.session, a.user_id)
    assert sum((p.paid_in for p in held.values()), Decimal(0)) == totals.paid_in
    assert sum((p.nav for p in held.values()), Decimal(0)) == totals.nav
    # IRR and multiples by the fund maths on flows read by hand, NAV as the final flow.
    flows = dated_flows(book, a.user_id, date(1900, 1, 1), TODAY) + [(TODAY, expected["nav"])]
    assert totals.irr == xirr(flows) and totals.irr is not None
    ratios = multiples(expected["paid_in"], expected["distributed"], expected["nav"])
    assert (totals.tvpi, totals.dpi, totals.rvpi) == (ratios.tvpi, ratios.dpi, ratios.rvpi)
    # Per pool: the closed pool's row equals the totals (the open pool has only a pending commitment).
    [holding] = overview.holdings
    assert holding.pool_id == book["pool"] and holding.figures == totals
    assert [p.id for p in overview.pending] == [book["pending"]]


def test_every_figure_follows_a_custom_range(book: dict[str, Any]) -> None:
    a = book["a"]
    start, end = book["second"] - timedelta(days=1), book["second"] + timedelta(days=50)
    period = investor.period_for("custom", start=start, end=end)
    [totals] = call(book, investor.portfolio_overview, a, period).totals
    before = ledger_sums(book, a.user_id, until=start - timedelta(days=1))
    during = ledger_sums(book, a.user_id, since=start, until=end)
    upto = ledger_sums(book, a.user_id, until=end)
    assert totals.beginning_nav == before["nav"] > 0
    assert totals.paid_in == during["paid_in"]
    assert totals.distributed == during["distributed"] == 0  # the distribution comes after the range
    assert totals.fees == during["fees"]
    assert totals.nav == upto["nav"] and totals.committed == upto["committed"]
    assert totals.paid_in_basis == totals.beginning_nav + totals.paid_in
    flows = [(start, -before["nav"]), *dated_flows(book, a.user_id, start, end), (end, upto["nav"])]
    assert totals.irr == xirr(flows)


def test_an_irr_that_cannot_be_computed_is_none_never_zero(book: dict[str, Any]) -> None:
    c = book["c"]  # an accepted commitment and nothing else
    overview = call(book, investor.portfolio_overview, c, investor.period_for("inception"))
    [totals] = overview.totals
    assert totals.committed == Decimal("50000.00") and totals.paid_in == 0
    assert (totals.irr, totals.tvpi, totals.dpi, totals.rvpi) == (None, None, None, None)


def test_j_curve_cash_flows_and_allocation_add_up(book: dict[str, Any]) -> None:
    overview = call(book, investor.portfolio_overview, book["a"], investor.period_for("inception"))
    [totals] = overview.totals
    last = overview.series[-1]
    assert last.on == TODAY
    assert last.cumulative_paid_in == totals.paid_in
    assert last.cumulative_distributions == totals.distributed
    assert last.nav == totals.nav and last.total_value == totals.total_value
    assert sum(p.contributions for p in overview.series) == totals.paid_in
    assert sum(p.distributions for p in overview.series) == totals.distributed
    months = [p.on for p in overview.series]
    assert months == sorted(months) and len(set(months)) == len(months)
    assert sum(x.nav for x in overview.by_pool) == sum(x.nav for x in overview.by_strategy) == totals.nav

    ytd = call(book, investor.portfolio_overview, book["a"], investor.period_for("last_12_months"))
    opening = ytd.series[0]
    assert opening.on == ytd.period.start - timedelta(days=1)
    assert opening.nav == opening.cumulative_paid_in == ytd.totals[0].beginning_nav


def test_cache_follows_postings(book: dict[str, Any]) -> None:
    """The cache key carries the pools' versions: a payment shows at once, no manual refresh."""
    make, b = book["make"], book["b"]
    period = investor.period_for("inception")
    before = call(book, investor.portfolio_overview, b, period).totals[0]
    again = call(book, investor.portfolio_overview, b, period).totals[0]
    assert again == before
    # b pays nothing more (fully paid); a manager marks the pool up instead: b's NAV moves.
    run(make, book["manager"], book["pool"], "valuation", value="260000", note="second mark")
    after = call(book, investor.portfolio_overview, b, period).totals[0]
    assert after.nav > before.nav
    assert after.nav == ledger_sums(book, b.user_id)["nav"]


def test_pool_detail_capital_account_and_transactions(book: dict[str, Any]) -> None:
    a = book["a"]
    detail = call(book, investor.pool_detail, a, book["pool"], investor.period_for("inception"))
    account = detail.capital_account
    assert account.ending_nav == detail.figures.nav == ledger_sums(book, a.user_id)["nav"]
    assert account.contributions == detail.figures.paid_in
    assert account.ending_unfunded == detail.figures.unfunded
    kinds = [t.label for t in detail.transactions]
    assert kinds.count("Capital call") == 2 and kinds.count("Contribution") == 1
    payment = next(t for t in detail.transactions if t.label == "Contribution")
    assert payment.reference == f"WIRE-{a.user_id}" and payment.on == book["first"] + timedelta(days=5)
    assert sum(t.nav_effect for t in detail.transactions) == account.ending_nav
    assert [i.status for i in detail.call_items] == ["paid", "open"]
    assert detail.fundraising.accepted == Decimal("400000")
    assert [c.status for c in detail.commitments] == ["accepted"]
    # pool_id None opens the first of their pools; a period narrows the transactions.
    assert call(book, investor.pool_detail, a, None, investor.period_for("inception")).pool.id in {
        book["pool"],
        book["open_pool"],
    }
    narrow = investor.period_for("custom", start=book["second"], end=book["second"])
    assert [t.label for t in call(book, investor.pool_detail, a, book["pool"], narrow).transactions] == [
        "Capital call"
    ]


def test_capital_calls_flag_overdue_items(book: dict[str, Any]) -> None:
    calls = call(book, investor.capital_calls, book["a"])
    [item] = calls.open
    assert item.id == book["overdue_item"] and item.overdue and item.days_to_due < 0
    assert item.outstanding == Decimal("60000.00")
    [summary] = calls.summary
    assert summary.overdue_items == 1 and summary.overdue == summary.outstanding == item.outstanding
    assert summary.paid_in_to_date == Decimal("150000.00")
    assert [i.status for i in calls.settled] == ["paid"]
    assert call(book, investor.capital_calls, book["b"]).open == []
    assert call(book, investor.call_item, book["a"], item.id) == item


def test_open_pools_only_those_the_investor_may_join(book: dict[str, Any]) -> None:
    make = book["make"]
    qp_pool, _ = make.pool(min_accreditation="qualified_purchaser")
    view = call(book, investor.open_pools, book["a"])
    ids = {p.pool.id for p in view.pools}
    assert book["open_pool"] in ids and qp_pool not in ids and book["pool"] not in ids
    assert view.not_accredited >= 1 and view.eligible and view.reason is None
    mine = next(p for p in view.pools if p.pool.id == book["open_pool"])
    assert mine.my_commitment is not None and mine.my_commitment.status == "pending" and not mine.may_commit
    assert [p.id for p in view.pending] == [book["pending"]]
    pending_kyc = make.user("investor", kyc="pending", accreditation="none")
    blocked = call(book, investor.open_pools, pending_kyc)
    assert not blocked.eligible and blocked.pools == [] and "KYC" in blocked.reason


@pytest.fixture(scope="module")
def nearly_full(book: dict[str, Any]) -> tuple[int, Actor]:
    """A pool (tickets 10,000 to 500,000) with 300,000 of room left, and an investor not in it."""
    make = book["make"]
    pool_id, manager = make.pool(hard_cap="1500000", max_ticket="500000", min_ticket="10000")
    for amount in ("500000", "500000", "200000"):
        make.commitment(pool_id, amount=amount, accept_as=manager)
    return pool_id, make.user("investor")


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("5000", "below the minimum ticket"),
        ("600000", "above the maximum ticket"),
        ("400000", "above the remaining capacity"),
        ("lots", "not a number"),
        ("-20000", "greater than zero"),
        ("", "required"),
        ("10000.001", "decimal places"),
    ],
)
def test_check_commitment_refuses_and_writes_nothing(
    book: dict[str, Any], nearly_full: tuple[int, Actor], amount: str, error: str
) -> None:
    make = book["make"]
    pool_id, someone = nearly_full
    with make.uow_factory() as uow:
        counts = (
            uow.session.execute(select(func.count()).select_from(Commitment)).scalar_one(),
            uow.session.execute(select(func.count()).select_from(AuditLog)).scalar_one(),
        )
    with pytest.raises(DomainError, match=error):
        call(book, investor.check_commitment, someone, pool_id, amount)
    with make.uow_factory() as uow:
        assert counts == (
            uow.session.execute(select(func.count()).select_from(Commitment)).scalar_one(),
            uow.session.execute(select(func.count()).select_from(AuditLog)).scalar_one(),
        )
    assert call(book, investor.check_commitment, someone, pool_id, "300000") == Decimal("300000.00")


def test_check_commitment_mirrors_the_service_on_state(book: dict[str, Any]) -> None:
    with pytest.raises(InvalidState, match="live commitment"):
        call(book, investor.check_commitment, book["a"], book["open_pool"], "20000")
    with pytest.raises(PermissionDenied):
        call(book, investor.check_commitment, book["c"], book["pool"], "20000")  # closed and not theirs
    with pytest.raises(PermissionDenied, match="not eligible"):
        call(
            book,
            investor.check_commitment,
            book["make"].user("investor", kyc="pending"),
            book["open_pool"],
            "20000",
        )
    # What check_commitment accepts, submit_commitment accepts.
    newcomer = book["make"].user("investor")
    assert call(book, investor.check_commitment, newcomer, book["open_pool"], "20000") == Decimal("20000.00")
    assert call(book, commitments.submit_commitment, newcomer, book["open_pool"], "20000")


def parse(text_: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text_)))


def test_statement_csv_holds_exactly_the_statement_and_is_neutralised(book: dict[str, Any]) -> None:
    a, b = book["a"], book["b"]
    period = investor.period_for("inception")
    result = call(book, investor.statement, b, period)
    accounts = parse(call(book, investor.capital_account_csv, b, period))
    assert [tuple(r.values()) for r in accounts] == [
        tuple("" if v is None else format(v, "f") if isinstance(v, Decimal) else str(v) for v in row)
        for row in investor.capital_account_rows(result)
    ]
    ending = next(r for r in accounts if r["Line"] == "Ending NAV")
    assert Decimal(ending["Amount"]) == ledger_sums(book, b.user_id)["nav"]
    assert next(r for r in accounts if r["Line"] == "Distributions")["Amount"].startswith("-")  # a number
    history = parse(call(book, investor.transactions_csv, b, period))
    assert len(history) == len(investor.transaction_rows(result))
    paid = [r for r in history if r["Type"] == "Contribution"]
    assert {r["Reference"] for r in paid} == {f"WIRE-{b.user_id}", "'-cmd"}  # a formula start is quoted
    assert any(r["Description"] == "'=mark up" for r in history)
    assert sum(Decimal(r["Amount"]) for r in paid) == ledger_sums(book, b.user_id)["paid_in"]
    # a's statement names the open pool "=HYPERLINK(...)": quoted in the file too.
    names = {r["Pool"] for r in parse(call(book, investor.capital_account_csv, a, period))}
    assert '\'=HYPERLINK("http://x")' in names
    one = call(book, investor.statement, a, period, book["pool"])
    assert [p.pool_id for p in one.pools] == [book["pool"]]


def test_another_investors_ids_are_refused(book: dict[str, Any]) -> None:
    a, b, c = book["a"], book["b"], book["c"]
    period = investor.period_for("inception")
    refused = [
        (investor.portfolio_overview, c, (period,), {"investor_id": a.user_id}),
        (investor.pool_detail, c, (book["pool"], period), {}),  # a closed pool c is not in
        (investor.pool_detail, c, (book["pool"], period), {"investor_id": a.user_id}),
        (investor.pool_detail, b, (book["pool"], period), {"investor_id": a.user_id}),
        (investor.capital_calls, c, (), {"investor_id": a.user_id}),
        (investor.call_item, b, (book["overdue_item"],), {}),  # same pool, a's item
        (investor.call_item, c, (book["overdue_item"],), {}),
        (investor.statement, c, (period, book["pool"]), {}),
        (investor.statement, b, (period,), {"investor_id": a.user_id}),
        (investor.capital_account_csv, c, (period,), {"investor_id": a.user_id}),
        (investor.transactions_csv, c, (period, book["pool"]), {}),
        (
            investor.portfolio_overview,
            book["make"].user("fund_manager"),
            (period,),
            {"investor_id": a.user_id},
        ),
    ]
    for service, actor, args, kwargs in refused:
        with pytest.raises(PermissionDenied):
            call(book, service, actor, *args, **kwargs)
    with pytest.raises(NotFound):
        call(book, investor.call_item, a, 10**12)
    with pytest.raises(ValidationError):
        call(book, investor.pool_detail, a, "1; DROP TABLE pools", period)
    # The pool's manager sees a's position in that pool, not a's whole portfolio (a is in another
    # manager's pool too); an analyst reads everything.
    with pytest.raises(PermissionDenied):
        call(book, investor.portfolio_overview, book["manager"], period, a.user_id)
    seen = call(book, investor.pool_detail, book["manager"], book["pool"], period, a.user_id)
    mine = call(book, investor.pool_detail, a, book["pool"], period)
    assert seen.figures == mine.figures and seen.capital_account == mine.capital_account
    analyst = book["make"].user("analyst")
    assert (
        call(book, investor.portfolio_overview, analyst, period, a.user_id).totals
        == call(book, investor.portfolio_overview, a, period).totals
    )


def test_period_for() -> None:
    on = date(2024, 2, 29)
    assert investor.period_for("ytd", on=on) == investor.Period(date(2024, 1, 1), on)
    assert investor.period_for("last_12_months", on=on) == investor.Period(date(2023, 3, 1), on)
    assert investor.period_for("inception", on=on).since_inception
    custom = investor.period_for("custom", on=on, start=date(2023, 1, 1), end=date(2023, 12, 31))
    assert (custom.start, custom.end) == (date(2023, 1, 1), date(2023, 12, 31))
    for kwargs in (
        {"start": date(2024, 2, 1), "end": date(2024, 1, 1)},
        {"start": date(2024, 1, 1), "end": date(2024, 3, 1)},
        {"start": None, "end": None},
    ):
        with pytest.raises(ValidationError):
            investor.period_for("custom", on=on, **kwargs)
    with pytest.raises(ValidationError):
        investor.period_for("forever", on=on)
