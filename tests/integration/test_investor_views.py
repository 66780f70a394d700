"""The investor's read models (core.views.investor) against the real database, every figure checked
against the ledger read by hand here (raw SQL over the entries with a map of its own, not
core.ledger's): periods and their one date rule, unfunded = commitment - called, multiples and IRR
"n/a", capital account statements (an exit's realized gain, its released marks and the carried
interest on lines of their own), transactions described from the facts they booked, statements as
CSV, the waiting investor's standing, the seeded demo month by month, and the refusal of another
investor's ids. History is written through the typed commands and the operation engine, each act
on its own day (core.clock.travel)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from core import clock, operations
from core.errors import NotFound, PermissionDenied, ValidationError
from core.fundmath import multiples, xirr
from core.permissions import Actor
from core.services import calls, corrections, distributions, fees, investments, payments, pools
from core.views import investor
from db.models import CallItem, CapitalCall, Operation, User
from tests import approving
from tests.conftest import Factory

D = Decimal
TODAY = date.today()
START = TODAY - timedelta(days=500)
INCEPTION = investor.period_for("inception")

# --- the ledger read by hand -------------------------------------------------------------------------

# Written here on purpose, apart from core.ledger.accounts: line -> (journal kind, account, the side
# that adds to it, how it moves NAV).
BY_HAND = {
    "commitment": ("commitment", "commitment", "C", 0),
    "called": ("capital_call", "receivable", "D", 0),
    "contributions": ("payment", "capital", "C", 1),
    "distributions": ("distribution", "capital", "D", -1),
    "management_fees": ("management_fee", "capital", "D", -1),
    "realized_gain": ("exit", "capital", "C", 1),
    "unrealized_gain": ("valuation", "capital", "C", 1),
    "carried_interest": ("carry", "capital", "D", -1),
}


def by_hand(
    uow_factory: Callable[[], Any],
    investor_id: int,
    *,
    pool_id: int | None = None,
    since: date = date(1900, 1, 1),
    until: date = TODAY,
) -> dict[str, Any]:
    """One investor's lines (in one pool or all), their NAV and dated cash flows, from the entries."""
    with uow_factory() as uow:
        rows = uow.session.execute(
            text(
                """SELECT j.kind, e.account, e.side, j.effective_date, sum(e.amount)
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.investor_id = :i AND j.effective_date BETWEEN :since AND :until
                      AND (CAST(:pool AS bigint) IS NULL OR e.pool_id = :pool)
                    GROUP BY j.kind, e.account, e.side, j.effective_date"""
            ),
            {"i": investor_id, "since": since, "until": until, "pool": pool_id},
        ).all()
    lines = dict.fromkeys(BY_HAND, D(0))
    flows: dict[date, D] = {}
    for kind, account, side, day, amount in rows:
        for line, (k, a, adds, _) in BY_HAND.items():
            if (kind, account) == (k, a):
                signed = amount if side == adds else -amount
                lines[line] += signed
                if line in ("contributions", "distributions"):
                    flows[day] = flows.get(day, D(0)) + (signed if line == "distributions" else -signed)
    nav = sum((lines[line] * sign for line, (*_, sign) in BY_HAND.items()), D(0))
    return {**lines, "nav": nav, "flows": sorted(flows.items())}


# --- a fund with history, through the typed commands ------------------------------------------------------


def act(make: Factory, on: date, preview: Any, submit: Any, actor: Actor, pool_id: int, request: dict) -> Any:
    """Preview and submit a request on a given day, then process it as a worker would."""
    with clock.travel(on), make.uow_factory() as uow:
        status = submit(actor, uow, preview(actor, uow, pool_id, request).command)
    with clock.travel(on):
        outcome = operations.process(str(status.id), make.uow_factory)
    assert outcome == "done", status
    return status


def call_items(make: Factory, pool_id: int, number: int) -> dict[int, Any]:
    """Per investor, their item of the pool's call `number`."""
    with make.uow_factory() as uow:
        rows = uow.session.execute(
            select(
                CallItem.id, CallItem.investor_id, CallItem.amount_due, CallItem.amount_paid, CallItem.version
            )
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .where(CapitalCall.pool_id == pool_id, CapitalCall.number == number)
        ).all()
        return {item.investor_id: item for item in rows}


def pay(make: Factory, payer: Actor, pool_id: int, item: Any, on: date, reference: str) -> Any:
    request = {
        "call_item_id": item.id,
        "item_version": item.version,
        "amount": str(item.amount_due - item.amount_paid),
        "reference": reference,
        "paid_on": on.isoformat(),
    }
    return act(make, on, payments.preview, payments.record, payer, pool_id, request)


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
    """A closed pool with history for investors a (300k) and b (100k): two calls, the second left
    unpaid and overdue by a; an investment, a fee, a mark-up, a distribution. a also has a pending
    commitment to an open pool; c is an investor elsewhere."""
    from core import bootstrap

    make = Factory(bootstrap.unit_of_work)
    with clock.travel(START - timedelta(days=10)):
        pool_id, manager = make.pool(name="Harbor Growth I", hard_cap="2000000", max_ticket="1000000")
        _, a = make.commitment(pool_id, amount="300000", accept_as=manager)
        _, b = make.commitment(pool_id, amount="100000", accept_as=manager)
        with make.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
    first, second = START, START + timedelta(days=200)
    act(make, first, calls.preview, calls.issue, manager, pool_id, {"percent": "50", "purpose": "Acme seed"})
    for investor_id, item in call_items(make, pool_id, 1).items():
        payer = a if investor_id == a.user_id else b
        pay(make, payer, pool_id, item, first + timedelta(days=5), f"WIRE-{investor_id}")
    act(
        make,
        first + timedelta(days=30),
        investments.preview_investment,
        investments.invest,
        manager,
        pool_id,
        {"company": "Acme", "amount": "150000"},
    )
    act(
        make,
        first + timedelta(days=180),
        fees.preview,
        fees.charge,
        manager,
        pool_id,
        {"period_start": first.isoformat(), "period_end": (first + timedelta(days=180)).isoformat()},
    )
    act(
        make,
        second,
        calls.preview,
        calls.issue,
        manager,
        pool_id,
        {"percent": "20", "purpose": "Acme follow-on"},
    )
    pay(make, b, pool_id, call_items(make, pool_id, 2)[b.user_id], second + timedelta(days=3), "-cmd")
    with make.uow_factory() as uow:
        acme = next(h.company_id for h in investments.holdings(uow, pool_id) if h.company == "Acme")
    act(
        make,
        second + timedelta(days=40),
        investments.preview_mark,
        investments.mark,
        manager,
        pool_id,
        {"company_id": acme, "value": "240000", "note": "=mark up"},
    )
    act(
        make,
        second + timedelta(days=60),
        distributions.preview,
        approving.distribute,
        manager,
        pool_id,
        {"proceeds": "30000", "memo": "Dividend"},
    )
    open_pool, _ = make.pool(name='=HYPERLINK("http://x")', min_ticket="10000")
    pending_id, _ = make.commitment(open_pool, investor=a, amount="25000")
    other_pool, other_manager = make.pool()
    _, c = make.commitment(other_pool, amount="50000", accept_as=other_manager)
    return {
        "make": make,
        "uow": make.uow_factory,
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
        "overdue_item": call_items(make, pool_id, 2)[a.user_id].id,
    }


def read(
    uow_factory: Callable[[], Any], view: Callable[..., Any], actor: Actor, *args: Any, **kwargs: Any
) -> Any:
    with uow_factory() as uow:
        return view(actor, uow, *args, **kwargs)


def call(book: dict[str, Any], view: Callable[..., Any], actor: Actor, *args: Any, **kwargs: Any) -> Any:
    return read(book["uow"], view, actor, *args, **kwargs)


# --- the portfolio ------------------------------------------------------------------------------------


def test_since_inception_totals_match_the_ledger(book: dict[str, Any]) -> None:
    a = book["a"]
    overview = call(book, investor.portfolio_overview, a, INCEPTION)
    [totals] = overview.totals
    hand = by_hand(book["uow"], a.user_id)
    assert totals.currency == "USD"
    assert totals.committed == hand["commitment"] == D("300000")
    assert totals.called == hand["called"] == D("210000")  # 50% and 20% of 300k
    assert totals.paid_in == hand["contributions"] == D("150000")  # the 20% call is still unpaid
    assert totals.outstanding == hand["called"] - hand["contributions"] == D("60000")
    assert totals.unfunded == hand["commitment"] - hand["called"] == D("90000")  # ILPA: minus called
    assert totals.distributed == hand["distributions"] > 0
    assert totals.fees == hand["management_fees"] > 0
    assert totals.nav == hand["nav"] and totals.total_value == totals.distributed + totals.nav
    flows = [*hand["flows"], (TODAY, hand["nav"])]
    assert totals.irr == xirr(flows) and totals.irr is not None
    ratios = multiples(hand["contributions"], hand["distributions"], hand["nav"])
    assert (totals.tvpi, totals.dpi, totals.rvpi) == (ratios.tvpi, ratios.dpi, ratios.rvpi)
    # Per pool: the closed pool's row equals the totals (the open pool has only a pending commitment).
    [holding] = overview.holdings
    assert holding.pool_id == book["pool"] and holding.figures == totals
    assert [p.id for p in overview.pending] == [book["pending"]]
    assert overview.standing is None  # read only when there is nothing to show


def test_every_figure_follows_a_custom_range(book: dict[str, Any]) -> None:
    a = book["a"]
    start, end = book["second"] - timedelta(days=1), book["second"] + timedelta(days=50)
    period = investor.period_for("custom", start=start, end=end)
    assert period.as_of == end
    [totals] = call(book, investor.portfolio_overview, a, period).totals
    before = by_hand(book["uow"], a.user_id, until=start - timedelta(days=1))
    during = by_hand(book["uow"], a.user_id, since=start, until=end)
    upto = by_hand(book["uow"], a.user_id, until=end)
    assert totals.beginning_nav == before["nav"] > 0
    assert totals.paid_in == during["contributions"] == 0  # a never paid the second call
    assert totals.distributed == during["distributions"] == 0  # the distribution comes after the range
    assert totals.fees == during["management_fees"]
    assert totals.nav == upto["nav"] and totals.committed == upto["commitment"]
    assert totals.unfunded == upto["commitment"] - upto["called"] == D("90000")
    assert totals.paid_in_basis == totals.beginning_nav + totals.paid_in
    flows = [(start, -before["nav"]), *during["flows"], (end, upto["nav"])]
    assert totals.irr == xirr(flows)
    # The one date rule: the mark on day +40 is in the range's NAV, the distribution on +60 is not.
    assert upto["unrealized_gain"] > 0 and upto["distributions"] == 0


def test_an_irr_or_a_multiple_that_does_not_exist_is_none_never_zero(book: dict[str, Any]) -> None:
    c = book["c"]  # an accepted commitment and nothing else
    [totals] = call(book, investor.portfolio_overview, c, INCEPTION).totals
    assert totals.committed == D("50000.00") and totals.paid_in == 0 and totals.unfunded == D("50000.00")
    assert (totals.irr, totals.tvpi, totals.dpi, totals.rvpi) == (None, None, None, None)
    # A range in which nothing was paid in and nothing held at its start: no basis, no multiples.
    early = investor.period_for("custom", start=START - timedelta(days=30), end=START - timedelta(days=1))
    [before] = call(book, investor.portfolio_overview, book["a"], early).totals
    assert before.paid_in_basis == 0 and before.committed == D("300000")
    assert (before.tvpi, before.irr) == (None, None)


def test_j_curve_cash_flows_and_allocation_add_up(book: dict[str, Any]) -> None:
    overview = call(book, investor.portfolio_overview, book["a"], INCEPTION)
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
    # Month by month the NAV is the ledger's as of that month's end.
    for point in overview.series[:-1]:
        assert point.nav == by_hand(book["uow"], book["a"].user_id, until=point.on)["nav"], point.on

    last_year = call(book, investor.portfolio_overview, book["a"], investor.period_for("last_12_months"))
    opening = last_year.series[0]
    assert opening.on == last_year.period.start - timedelta(days=1)
    assert opening.nav == opening.cumulative_paid_in == last_year.totals[0].beginning_nav


def test_cache_follows_postings(book: dict[str, Any]) -> None:
    """The cache key carries the pools' versions: a posting shows at once, no manual refresh."""
    b = book["b"]
    before = call(book, investor.portfolio_overview, b, INCEPTION).totals[0]
    assert call(book, investor.portfolio_overview, b, INCEPTION).totals[0] == before
    with book["uow"]() as uow:
        acme = investments.holdings(uow, book["pool"])[0].company_id
    act(
        book["make"],
        TODAY,
        investments.preview_mark,
        investments.mark,
        book["manager"],
        book["pool"],
        {"company_id": acme, "value": "260000", "note": "second mark"},
    )
    after = call(book, investor.portfolio_overview, b, INCEPTION).totals[0]
    assert after.nav > before.nav
    assert after.nav == by_hand(book["uow"], b.user_id)["nav"]


# --- one pool, its capital account and transactions ----------------------------------------------------


def test_pool_detail_capital_account_and_transactions(book: dict[str, Any]) -> None:
    a = book["a"]
    detail = call(book, investor.pool_detail, a, book["pool"], INCEPTION)
    hand = by_hand(book["uow"], a.user_id, pool_id=book["pool"])
    account = detail.capital_account
    assert account.commitment == hand["commitment"]
    assert account.ending_nav == detail.figures.nav == hand["nav"]
    assert account.contributions == detail.figures.paid_in == hand["contributions"]
    assert account.ending_unfunded == detail.figures.unfunded == hand["commitment"] - hand["called"]
    assert (account.management_fees, account.unrealized_gain) == (
        hand["management_fees"],
        hand["unrealized_gain"],
    )
    lines = dict(account.lines())
    assert list(lines) == [
        "Commitment",
        "Beginning NAV",
        "Contributions",
        "Distributions",
        "Management fees",
        "Fund expenses",
        "Realized gain/(loss)",
        "Change in unrealized gain/(loss)",
        "Carried interest",
        "Ending NAV",
        "Unfunded commitment, beginning",
        "Unfunded commitment, ending",
    ]
    assert lines["Distributions"] == -hand["distributions"] < 0  # an outflow, negative on the page
    # Transactions: described from the facts, the wire reference from the payments table, no ids.
    described = [(t.label, t.description) for t in detail.transactions]
    assert described[0] == ("Commitment", "Commitment accepted")
    assert ("Capital called", "Capital call 1 (Acme seed)") in described
    assert ("Capital called", "Capital call 2 (Acme follow-on)") in described
    paid = [t for t in detail.transactions if t.line == "contributions"]
    assert [(t.description, t.reference, t.on) for t in paid] == [
        (
            f"Capital call 1 (Acme seed), paid by wire WIRE-{a.user_id}",
            f"WIRE-{a.user_id}",
            book["first"] + timedelta(days=5),
        )
    ]
    assert any(t.description.startswith("Management fee for ") for t in detail.transactions)
    assert any(t.description == "Acme valued at $240,000.00 (=mark up)" for t in detail.transactions)
    assert any(t.description == "Distribution: Dividend" for t in detail.transactions)
    assert not any(re.search(r"\bitem\b|\bJ\d+\b|journal", t.description, re.I) for t in detail.transactions)
    assert sum(t.nav_effect for t in detail.transactions) == account.ending_nav
    assert [i.status for i in detail.call_items] == ["paid", "open"]
    assert detail.fundraising.accepted == D("400000")
    assert [c.status for c in detail.commitments] == ["accepted"]
    # pool_id None opens the first of their pools; a period narrows the transactions.
    assert call(book, investor.pool_detail, a, None, INCEPTION).pool.id in {book["pool"], book["open_pool"]}
    narrow = investor.period_for("custom", start=book["second"], end=book["second"])
    assert [
        t.description for t in call(book, investor.pool_detail, a, book["pool"], narrow).transactions
    ] == ["Capital call 2 (Acme follow-on)"]


def test_capital_calls_say_when_an_item_is_due_or_overdue(book: dict[str, Any]) -> None:
    calls_ = call(book, investor.capital_calls, book["a"])
    [item] = calls_.open
    days = (TODAY - item.due_date).days
    assert item.id == book["overdue_item"] and item.overdue and days > 0
    assert (item.status_label, item.due) == ("Overdue", f"Overdue by {days:,} days")
    assert item.title == "Capital call 2 (Acme follow-on)" and item.outstanding == D("60000.00")
    [summary] = calls_.summary
    assert summary.overdue_items == 1 and summary.overdue == summary.outstanding == item.outstanding
    assert summary.outstanding == by_hand(book["uow"], book["a"].user_id)["called"] - D("150000")
    assert summary.paid_in_to_date == D("150000.00")
    [settled] = calls_.settled
    assert (settled.status, settled.due, settled.status_label) == (
        "paid",
        "Paid",
        "Paid",
    )  # never a negative count
    b_calls = call(book, investor.capital_calls, book["b"])
    assert b_calls.open == [] and b_calls.standing is None and len(b_calls.settled) == 2
    assert call(book, investor.call_item, book["a"], item.id) == item


def test_open_pools_and_the_waiting_investor(book: dict[str, Any]) -> None:
    make = book["make"]
    qp_pool, _ = make.pool(name="Qualified Only Fund", min_accreditation="qualified_purchaser")
    view = call(book, investor.open_pools, book["a"])
    ids = {p.pool.id for p in view.pools}
    assert book["open_pool"] in ids and qp_pool not in ids and book["pool"] not in ids
    assert "Qualified Only Fund" in [p.name for p in view.locked]
    note = view.accreditation_note
    assert note is not None and "Qualified Only Fund" in note and "qualified purchaser" in note
    assert "yours is accredited" in note and view.standing.kyc_note is None
    mine = next(p for p in view.pools if p.pool.id == book["open_pool"])
    assert mine.my_commitment is not None and mine.my_commitment.status == "pending" and not mine.may_commit
    assert [p.id for p in view.pending] == [book["pending"]]

    waiting = make.user("investor", kyc="pending", accreditation="none")
    blocked = call(book, investor.open_pools, waiting)
    assert blocked.pools == [] and not blocked.standing.kyc_approved
    with book["uow"]() as uow:
        admins = uow.session.execute(
            select(User.name, User.email).where(User.role == "admin", User.active).order_by(User.id).limit(3)
        ).all()
    note = blocked.standing.kyc_note
    assert note is not None and "(KYC) is pending" in note
    for name, email in admins:
        assert f"{name} ({email})" in note
    empty = call(book, investor.portfolio_overview, waiting, INCEPTION)
    assert empty.empty and empty.standing is not None and empty.standing.kyc_note == note
    assert call(book, investor.capital_calls, waiting).standing.kyc_note == note


def parse(text_: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text_)))


def test_statement_csv_holds_exactly_the_statement_and_is_neutralised(book: dict[str, Any]) -> None:
    a, b = book["a"], book["b"]
    result = call(book, investor.statement, b, INCEPTION)
    accounts = parse(call(book, investor.capital_account_csv, b, INCEPTION))
    assert [tuple(r.values()) for r in accounts] == [
        tuple(format(v, "f") if isinstance(v, Decimal) else str(v) for v in row)
        for row in investor.capital_account_rows(result)
    ]
    ending = next(r for r in accounts if r["Line"] == "Ending NAV")
    assert Decimal(ending["Amount"]) == by_hand(book["uow"], b.user_id)["nav"]
    assert next(r for r in accounts if r["Line"] == "Distributions")["Amount"].startswith("-")  # a number
    history = parse(call(book, investor.transactions_csv, b, INCEPTION))
    assert list(history[0]) == list(investor.TRANSACTION_HEADER) and "Journal" not in history[0]
    assert len(history) == len(investor.transaction_rows(result))
    paid = [r for r in history if r["Type"] == "Contributions"]
    assert {r["Reference"] for r in paid} == {f"WIRE-{b.user_id}", "'-cmd"}  # a formula start is quoted
    assert any(r["Description"] == "Acme valued at $240,000.00 (=mark up)" for r in history)
    assert sum(Decimal(r["Amount"]) for r in paid) == by_hand(book["uow"], b.user_id)["contributions"]
    # a's statement names the open pool "=HYPERLINK(...)": quoted in the file too.
    names = {r["Pool"] for r in parse(call(book, investor.capital_account_csv, a, INCEPTION))}
    assert '\'=HYPERLINK("http://x")' in names
    one = call(book, investor.statement, a, INCEPTION, book["pool"])
    assert [p.pool_id for p in one.pools] == [book["pool"]]


def test_another_investors_ids_are_refused(book: dict[str, Any]) -> None:
    a, b, c = book["a"], book["b"], book["c"]
    period = INCEPTION
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
    for view, actor, args, kwargs in refused:
        with pytest.raises(PermissionDenied):
            call(book, view, actor, *args, **kwargs)
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
    assert (custom.start, custom.end, custom.as_of) == (
        date(2023, 1, 1),
        date(2023, 12, 31),
        date(2023, 12, 31),
    )
    assert custom.label == "2023-01-01 to 2023-12-31"
    for kwargs in (
        {"start": date(2024, 2, 1), "end": date(2024, 1, 1)},
        {"start": date(2024, 1, 1), "end": date(2024, 3, 1)},
        {"start": None, "end": None},
    ):
        with pytest.raises(ValidationError) as refused:
            investor.period_for("custom", on=on, **kwargs)
        assert refused.value.message.startswith("Range ")
    with pytest.raises(ValidationError):
        investor.period_for("forever", on=on)


# --- an exit, then the statement ------------------------------------------------------------------------


def test_an_exit_then_the_statement_shows_realized_unrealized_and_carry_as_the_entries_do(
    fast_bcrypt: Any,
) -> None:
    """Bought at 400,000, marked to 900,000, sold for 1,300,000, proceeds distributed with carried
    interest: the capital account's realized gain, change in unrealized gain and carried interest
    (and NAV) equal a recomputation from the journal entries, for the year and since inception."""
    from core import bootstrap

    make = Factory(bootstrap.unit_of_work)
    day0 = TODAY - timedelta(days=400)
    with clock.travel(day0):
        pool_id, manager = make.pool(name="Exit Fund", hard_cap="2000000", max_ticket="1000000")
        _, x = make.commitment(pool_id, amount="600000", accept_as=manager)
        _, y = make.commitment(pool_id, amount="400000", accept_as=manager)
        with make.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
    act(
        make,
        day0 + timedelta(days=5),
        calls.preview,
        calls.issue,
        manager,
        pool_id,
        {"percent": "50", "purpose": "Beacon"},
    )
    for investor_id, item in call_items(make, pool_id, 1).items():
        pay(
            make,
            x if investor_id == x.user_id else y,
            pool_id,
            item,
            day0 + timedelta(days=10),
            f"W{investor_id}",
        )
    act(
        make,
        day0 + timedelta(days=20),
        investments.preview_investment,
        investments.invest,
        manager,
        pool_id,
        {"company": "Beacon", "amount": "400000"},
    )
    with make.uow_factory() as uow:
        beacon = investments.holdings(uow, pool_id)[0].company_id
    act(
        make,
        day0 + timedelta(days=100),
        investments.preview_mark,
        investments.mark,
        manager,
        pool_id,
        {"company_id": beacon, "value": "900000", "note": "Series B"},
    )
    year_start = TODAY - timedelta(days=200)
    act(
        make,
        TODAY - timedelta(days=150),
        investments.preview_exit,
        investments.exit_holding,
        manager,
        pool_id,
        {"company_id": beacon, "proceeds": "1300000"},
    )
    act(
        make,
        TODAY - timedelta(days=100),
        distributions.preview,
        approving.distribute,
        manager,
        pool_id,
        {"proceeds": "1200000", "memo": "Beacon sale"},
    )
    period = investor.period_for("custom", start=year_start, end=TODAY)
    for who in (x, y):
        for window in (period, INCEPTION):
            [pool] = read(make.uow_factory, investor.statement, who, window, pool_id).pools
            account = pool.capital_account
            during = by_hand(make.uow_factory, who.user_id, pool_id=pool_id, since=window.start)
            before = by_hand(
                make.uow_factory, who.user_id, pool_id=pool_id, until=window.start - timedelta(days=1)
            )
            whole = by_hand(make.uow_factory, who.user_id, pool_id=pool_id)
            assert account.realized_gain == during["realized_gain"] > 0, window
            assert account.unrealized_gain == during["unrealized_gain"]
            assert account.carried_interest == during["carried_interest"] > 0
            assert account.distributions == during["distributions"] > 0
            assert account.beginning_nav == before["nav"] and account.ending_nav == whole["nav"]
            lines = dict(account.lines())
            assert lines["Carried interest"] == -during["carried_interest"]
            assert lines["Realized gain/(loss)"] == during["realized_gain"]
            assert lines["Change in unrealized gain/(loss)"] == during["unrealized_gain"]
            # The exit's released marks are a change in unrealized gain, not a realized one.
            if window == period:
                assert during["unrealized_gain"] < 0
            described = [t.description for t in pool.transactions]
            assert "Exit from Beacon for $1,300,000.00" in described
            assert "Beacon: its valuation released on exit" in described
            assert "Carried interest on the distribution Beacon sale" in described
    # Realized gain split pro rata to paid-in (60/40), as the entries hold it.
    assert by_hand(make.uow_factory, x.user_id, pool_id=pool_id)["realized_gain"] == D("540000.00")


def test_a_corrected_payment_shows_on_the_statement_with_its_reason(book: dict[str, Any]) -> None:
    """A payment keyed at the wrong amount and reversed: both journals show, the reversal named
    after what it reverses and why, and the contributions net out to the ledger's."""
    make, manager, pool_id = book["make"], book["manager"], book["pool"]
    item = call_items(make, pool_id, 2)[book["a"].user_id]
    on = TODAY - timedelta(days=2)
    request = {
        "call_item_id": item.id,
        "item_version": item.version,
        "amount": "1000",
        "reference": "WIRE-HALF",
        "paid_on": on.isoformat(),
    }
    wrong = act(make, on, payments.preview, payments.record, manager, pool_id, request)
    act(
        make,
        TODAY - timedelta(days=1),
        corrections.preview,
        corrections.reverse,
        manager,
        pool_id,
        {"operation_id": wrong.id, "reason": "Keyed at the wrong amount"},
    )
    [pool] = call(book, investor.statement, book["a"], INCEPTION, pool_id).pools
    described = [(t.description, t.amount) for t in pool.transactions if t.line == "contributions"]
    assert ("Capital call 2 (Acme follow-on), paid by wire WIRE-HALF", D("1000.00")) in described
    assert (
        "Capital call 2 (Acme follow-on), paid by wire WIRE-HALF, reversed: Keyed at the wrong amount",
        D("-1000.00"),
    ) in described
    assert (
        pool.capital_account.contributions
        == by_hand(book["uow"], book["a"].user_id, pool_id=pool_id)["contributions"]
    )
    with book["uow"]() as uow:
        assert uow.session.get(Operation, wrong.id).status == "done"
    assert call(book, investor.call_item, book["a"], item.id).outstanding == D("60000.00")  # open again


# --- the seeded demo, month by month ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(fast_bcrypt: Any) -> dict[str, int]:
    """The demo data, seeded once per test database (another module may have seeded it already)."""
    from core import bootstrap
    from core.seed import seed_demo

    with bootstrap.unit_of_work() as uow:
        if uow.session.execute(select(User.id).where(User.username == "investor")).first() is None:
            seed_demo(bootstrap.unit_of_work)
    with bootstrap.unit_of_work() as uow:
        return dict(
            uow.session.execute(
                select(User.username, User.id).where(
                    User.username.in_(("investor", "investor2", "investor3", "investor4"))
                )
            ).all()
        )


def month_ends(first: date, last: date) -> list[date]:
    ends = []
    day = first
    while True:
        following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        end = following - timedelta(days=1)
        if end >= last:
            return ends
        ends.append(end)
        day = following


def test_the_seeded_demo_never_shows_negative_unfunded_nor_a_movement_before_its_commitment(
    demo: dict[str, int],
) -> None:
    from core import bootstrap

    with bootstrap.unit_of_work() as uow:
        first = uow.session.execute(text("SELECT min(effective_date) FROM journals")).scalar_one()
    periods = [investor.period_for(choice) for choice in ("inception", "ytd", "last_12_months")]
    periods += [investor.Period(investor.INCEPTION, end) for end in month_ends(first, TODAY)]
    assert len(periods) > 24  # two and a half years of month ends
    checked = 0
    for username, investor_id in sorted(demo.items()):
        me = Actor(investor_id, "investor", username)
        for period in periods:
            with bootstrap.unit_of_work() as uow:
                overview = investor.portfolio_overview(me, uow, period)
                statement = investor.statement(me, uow, period)
            for figures in [*overview.totals, *(h.figures for h in overview.holdings)]:
                assert figures.unfunded >= 0, (username, period, figures)
                assert figures.committed >= figures.called >= figures.paid_in or not period.since_inception
            for pool in statement.pools:
                account = pool.capital_account
                assert account.beginning_unfunded >= 0 and account.ending_unfunded >= 0, (username, period)
                if pool.transactions and period.since_inception:
                    committed = pool.transactions[0]
                    assert committed.line == "commitment", (username, pool.pool_name, committed)
                    assert all(t.on >= committed.on for t in pool.transactions), (username, pool.pool_name)
                    checked += 1
    assert checked > 0
    # The demo investor's story: Growth SPV 2024 with an open third call, Climate Ventures II.
    me = Actor(demo["investor"], "investor", "investor")
    with bootstrap.unit_of_work() as uow:
        overview = investor.portfolio_overview(me, uow, INCEPTION)
        calls_ = investor.capital_calls(me, uow)
    assert {h.pool_name for h in overview.holdings} == {"Growth SPV 2024", "Climate Ventures II"}
    assert [i.title for i in calls_.open] == ["Capital call 3 (Beacon Health follow-on)"]
    waiting = Actor(demo["investor4"], "investor", "investor4")
    with bootstrap.unit_of_work() as uow:
        assert investor.portfolio_overview(waiting, uow, INCEPTION).standing.kyc_note  # type: ignore[union-attr]
