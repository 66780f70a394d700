"""What an investor sees: one portfolio across every pool, their calls, pools open to them, statements.

Every function takes (actor, uow, ...) and checks, on the very investor, pool or call item it was
asked about, that the actor may see it: an investor sees only their own figures, whatever id a
URL or the session state carries (PermissionDenied otherwise). Figures come from the ledger (one
grouped query per question) and core.fundmath, and the statement CSV files are built from the
same results as the screen, so the portal and the files cannot disagree.

Periods: movements dated before a period's start make its opening balances; movements from start
to end inclusive are the period's (the capital account statement's convention). NAV, commitment,
unfunded and outstanding calls are as of the end. For a period that starts after inception the
NAV at its start counts as capital paid in on its first day (the horizon convention), so paid-in
basis, multiples, IRR and the J-curve all follow the range; since inception that NAV is zero.
Unfunded commitment = commitment - contributions to date (ILPA), as on the capital account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, get_args, get_origin, get_type_hints

from sqlalchemy import func, select, text

from core import clock, positions
from core.csvsafe import csv_text
from core.domain import check_ticket, is_eligible
from core.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from core.fundmath import CapitalAccount, capital_account, multiples, xirr
from core.money import parse_amount, quantize
from core.permissions import (
    FUND_MANAGER,
    INVESTOR,
    PLATFORM_READERS,
    Actor,
    may_read_investor_position,
    require_read_investor_position,
    require_role,
)
from core.services.audit import audits_refused_reads
from core.services.commitments import accepted_total
from core.services.pools import Fundraising, PoolView, fundraising, visible_pool
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, Commitment, Pool, User

ZERO = Decimal(0)
INCEPTION = date(1900, 1, 1)  # "since inception": before any pool could have existed
RANGES = {
    "inception": "Since inception",
    "ytd": "Year to date",
    "last_12_months": "Last 12 months",
    "custom": "Custom range",
}
CACHE_VERSION = 1  # bump when the cached shapes below change


# --- periods ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """start..end inclusive; start INCEPTION means since inception."""

    start: date
    end: date

    @property
    def since_inception(self) -> bool:
        return self.start <= INCEPTION

    @property
    def label(self) -> str:
        if self.since_inception:
            return f"since inception to {self.end:%d %b %Y}"
        return f"{self.start:%d %b %Y} to {self.end:%d %b %Y}"


def period_for(
    choice: str, *, on: date | None = None, start: date | None = None, end: date | None = None
) -> Period:
    """The date range a range control stands for, ending today (or `end` for a custom range)."""
    now = on or clock.today()
    if choice == "inception":
        return Period(INCEPTION, now)
    if choice == "ytd":
        return Period(date(now.year, 1, 1), now)
    if choice == "last_12_months":
        try:
            year_ago = now.replace(year=now.year - 1)
        except ValueError:  # 29 February
            year_ago = now.replace(year=now.year - 1, day=28)
        return Period(year_ago + timedelta(days=1), now)
    if choice != "custom":
        raise ValidationError("range", f"must be one of {', '.join(RANGES)}")
    if not isinstance(start, date) or not isinstance(end, date):
        raise ValidationError("range", "a custom range needs a start and an end date")
    if end < start:
        raise ValidationError("range", "the end must not be before the start")
    if end > now:
        raise ValidationError("range", "the end cannot be in the future")
    return Period(max(start, INCEPTION), end)


def _check_period(period: object) -> Period:
    if not isinstance(period, Period):
        raise ValidationError("range", "is not a date range")
    if period.end < period.start:
        raise ValidationError("range", "the end must not be before the start")
    return period


# --- who may see whom ------------------------------------------------------------------------------


def _subject(actor: Actor, investor_id: object) -> int:
    """The investor a request is about: an investor is always themselves."""
    if investor_id is None:
        if actor.role == INVESTOR and actor.user_id is not None:
            return actor.user_id
        raise ValidationError("investor_id", "is required")
    if not isinstance(investor_id, int) or isinstance(investor_id, bool):
        raise ValidationError("investor_id", "must be an integer")
    if actor.role == INVESTOR and investor_id != actor.user_id:
        raise PermissionDenied("you may only see your own investments")
    if not (actor.is_system or actor.role in (INVESTOR, FUND_MANAGER, *PLATFORM_READERS)):
        raise PermissionDenied("you may not see investor positions")
    return investor_id


def _pool_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("pool_id", "must be an integer")
    return value


@dataclass(frozen=True)
class _PoolMeta:
    id: int
    name: str
    strategy: str
    status: str
    currency: str
    version: int
    manager_id: int


def _pools_of(
    uow: UnitOfWork, actor: Actor, investor_id: int, *, visible_only: bool = False
) -> list[_PoolMeta]:
    """The pools the investor ever committed to (any status), each checked for this actor: one the
    actor may not see is refused, or, with visible_only (pickers), left out."""
    query = (
        select(Pool.id, Pool.name, Pool.strategy, Pool.status, Pool.currency, Pool.version, Pool.manager_id)
        .where(Pool.id.in_(select(Commitment.pool_id).where(Commitment.investor_id == investor_id)))
        .order_by(Pool.name, Pool.id)
    )
    metas = [_PoolMeta(*row) for row in uow.session.execute(query)]
    if visible_only:
        return [m for m in metas if may_read_investor_position(actor, investor_id, m.manager_id)]
    for meta in metas:
        require_read_investor_position(actor, investor_id, meta.manager_id)
    return metas


# --- reading the ledger ----------------------------------------------------------------------------

# One pass over one investor's entries (credit-positive, with their journal's day and kind),
# aggregated three ways in the database so that only a few thousand rows reach Python:
# - "pool":  per pool, the balances at the end, the NAV before the start, the period's fees;
# - "flow":  per pool and day of the period, contributions and distributions (the IRR's dated flows);
# - "month": per currency and month of the period, contributions, distributions and the NAV's change.
# Accounts and signs as in core.ledger's booking table (and core.positions).
_FIGURES = text(
    """WITH m AS MATERIALIZED (
           SELECT e.pool_id, j.effective_date AS day, j.kind, e.account,
                  CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END AS credit
             FROM entries e JOIN journals j ON j.id = e.journal_id
            WHERE e.investor_id = :investor
              AND e.account IN ('commitment', 'receivable', 'capital')
              AND j.effective_date <= :until
              AND (CAST(:pool AS bigint) IS NULL OR e.pool_id = :pool))
       SELECT 'pool' AS part, pool_id, NULL::text AS currency, NULL::date AS day,
              coalesce(sum(credit) FILTER (WHERE account = 'commitment'), 0),
              -coalesce(sum(credit) FILTER (WHERE account = 'receivable' AND kind = 'capital_call'), 0),
              -coalesce(sum(credit) FILTER (WHERE account = 'receivable'), 0),
              coalesce(sum(credit) FILTER (WHERE account = 'capital'), 0),
              coalesce(sum(credit) FILTER (WHERE account = 'capital' AND kind = 'payment'), 0),
              coalesce(sum(credit) FILTER (WHERE account = 'capital' AND day < :start), 0),
              -coalesce(sum(credit) FILTER (WHERE account = 'capital' AND kind = 'management_fee'
                                               AND day >= :start), 0)
         FROM m GROUP BY pool_id
       UNION ALL
       SELECT 'flow', pool_id, NULL, day,
              coalesce(sum(credit) FILTER (WHERE kind = 'payment'), 0),
              -coalesce(sum(credit) FILTER (WHERE kind = 'distribution'), 0),
              NULL, NULL, NULL, NULL, NULL
         FROM m WHERE account = 'capital' AND kind IN ('payment', 'distribution') AND day >= :start
        GROUP BY pool_id, day
       UNION ALL
       SELECT 'month', NULL, p.currency, (date_trunc('month', m.day::timestamp) + interval '1 month - 1 day')::date,
              coalesce(sum(m.credit) FILTER (WHERE m.kind = 'payment'), 0),
              -coalesce(sum(m.credit) FILTER (WHERE m.kind = 'distribution'), 0),
              sum(m.credit), NULL, NULL, NULL, NULL
         FROM m JOIN pools p ON p.id = m.pool_id
        WHERE m.account = 'capital' AND m.day >= :start
        GROUP BY p.currency, date_trunc('month', m.day::timestamp)"""
)


def _money(amount: Decimal, currency: str) -> Decimal:
    """At the currency's minor unit. Exact: every ledger amount is already on that grid."""
    return quantize(amount, currency)


def _month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - timedelta(days=1)


# --- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One pool's (or one currency's total) figures for a period.

    paid_in, distributed, fees and gains are the period's; the rest are as of its end. paid_in_basis
    is what the multiples and IRR divide by: beginning NAV + paid-in (just paid-in since inception).
    """

    currency: str
    committed: Decimal
    called: Decimal
    outstanding: Decimal
    unfunded: Decimal
    beginning_nav: Decimal
    paid_in: Decimal
    distributed: Decimal
    fees: Decimal
    nav: Decimal
    total_value: Decimal
    paid_in_basis: Decimal
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None
    irr: Decimal | None


@dataclass(frozen=True)
class Holding:
    pool_id: int
    pool_name: str
    strategy: str
    status: str
    figures: Figures


@dataclass(frozen=True)
class MonthPoint:
    """One month of one currency: the month's cash flows and the cumulative J-curve values at its end."""

    currency: str
    on: date
    contributions: Decimal
    distributions: Decimal
    cumulative_paid_in: Decimal
    cumulative_distributions: Decimal
    nav: Decimal
    total_value: Decimal


@dataclass(frozen=True)
class Allocation:
    currency: str
    label: str
    committed: Decimal
    nav: Decimal


@dataclass(frozen=True)
class CommitmentLine:
    """One of the investor's commitments: what they asked for and what was accepted."""

    id: int
    pool_id: int
    pool_name: str
    currency: str
    requested: Decimal
    accepted: Decimal | None
    status: str
    created_at: datetime

    @property
    def amount(self) -> Decimal:
        return self.requested if self.accepted is None else self.accepted


def _commitment_lines(
    uow: UnitOfWork, investor_id: int, *, pool_id: int | None = None, statuses: tuple[str, ...] | None = None
) -> list[CommitmentLine]:
    query = (
        select(
            Commitment.id,
            Pool.id,
            Pool.name,
            Pool.currency,
            Commitment.amount_requested,
            Commitment.amount_accepted,
            Commitment.status,
            Commitment.created_at,
        )
        .join(Pool, Pool.id == Commitment.pool_id)
        .where(Commitment.investor_id == investor_id)
        .order_by(Commitment.id)
    )
    if pool_id is not None:
        query = query.where(Commitment.pool_id == pool_id)
    if statuses is not None:
        query = query.where(Commitment.status.in_(statuses))
    return [
        CommitmentLine(
            cid,
            pid,
            name,
            currency,
            _money(requested, currency),
            None if accepted is None else _money(accepted, currency),
            status,
            created,
        )
        for cid, pid, name, currency, requested, accepted, status, created in uow.session.execute(query)
    ]


@dataclass(frozen=True)
class PortfolioOverview:
    investor_id: int
    period: Period
    totals: list[Figures]  # one per currency: amounts in two currencies are never added
    holdings: list[Holding]
    series: list[MonthPoint]
    by_pool: list[Allocation]
    by_strategy: list[Allocation]
    pending: list[CommitmentLine]

    @property
    def empty(self) -> bool:
        return not self.holdings


class _Book:
    """The sums of one pool, or of one currency's pools together."""

    __slots__ = (
        "beginning_nav",
        "called",
        "committed",
        "distributed",
        "fees",
        "flows",
        "nav",
        "outstanding",
        "paid_in",
        "paid_to_date",
    )

    def __init__(self) -> None:
        self.committed = self.called = self.outstanding = self.nav = self.paid_to_date = ZERO
        self.beginning_nav = self.paid_in = self.distributed = self.fees = ZERO
        self.flows: list[tuple[date, Decimal]] = []  # the period's: contributions negative

    def add(self, other: _Book) -> None:
        for name in self.__slots__:
            if name != "flows":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.flows.extend(other.flows)

    def figures(self, currency: str, period: Period) -> Figures:
        """The fund maths on the sums: IRR from dated flows, NAV as a final flow at the end."""
        flows = list(self.flows)
        if self.beginning_nav:
            flows.insert(0, (period.start, -self.beginning_nav))
        if self.nav:
            flows.append((period.end, self.nav))
        basis = self.beginning_nav + self.paid_in
        ratios = (
            multiples(basis, self.distributed, self.nav)
            if min(basis, self.distributed, self.nav) >= 0
            else None
        )

        def m(value: Decimal) -> Decimal:
            return _money(value, currency)

        return Figures(
            currency=currency,
            committed=m(self.committed),
            called=m(self.called),
            outstanding=m(self.outstanding),
            unfunded=m(self.committed - self.paid_to_date),
            beginning_nav=m(self.beginning_nav),
            paid_in=m(self.paid_in),
            distributed=m(self.distributed),
            fees=m(self.fees),
            nav=m(self.nav),
            total_value=m(self.distributed + self.nav),
            paid_in_basis=m(basis),
            tvpi=ratios.tvpi if ratios else None,
            dpi=ratios.dpi if ratios else None,
            rvpi=ratios.rvpi if ratios else None,
            irr=xirr(flows),
        )


def _series(
    months: dict[str, dict[date, tuple[Decimal, Decimal, Decimal]]],
    period: Period,
    beginning: dict[str, Decimal],
) -> list[MonthPoint]:
    """Month by month: contributions, distributions and the J-curve (NAV + distributions vs paid-in)."""
    points: list[MonthPoint] = []
    last = _month_end(period.end)
    for currency in sorted(set(months) | set(beginning)):
        deltas = months.get(currency, {})
        opening = beginning.get(currency, ZERO)
        paid, distributed, nav = opening, ZERO, opening
        if period.since_inception:
            month = min(deltas, default=last)
        else:
            # The opening point: balances at the end of the day before the period starts.
            month = _month_end(period.start)
            shown, zero = _money(opening, currency), _money(ZERO, currency)
            points.append(
                MonthPoint(currency, period.start - timedelta(days=1), zero, zero, shown, zero, shown, shown)
            )
        while month <= last:
            contrib, dist, nav_delta = deltas.get(month, (ZERO, ZERO, ZERO))
            paid += contrib
            distributed += dist
            nav += nav_delta
            points.append(
                MonthPoint(
                    currency,
                    min(month, period.end),
                    _money(contrib, currency),
                    _money(dist, currency),
                    _money(paid, currency),
                    _money(distributed, currency),
                    _money(nav, currency),
                    _money(nav + distributed, currency),
                )
            )
            month = _month_end(month + timedelta(days=1))
    return points


def _compute(
    uow: UnitOfWork, investor_id: int, metas: list[_PoolMeta], period: Period, pool_id: int | None = None
) -> tuple[list[Figures], list[Holding], list[MonthPoint]]:
    """Every figure of the period per pool, per currency and per month, from one ledger query."""
    rows = uow.session.execute(
        _FIGURES, {"investor": investor_id, "until": period.end, "start": period.start, "pool": pool_id}
    ).all()
    books: dict[int, _Book] = {}
    months: dict[str, dict[date, tuple[Decimal, Decimal, Decimal]]] = {}
    for part, pid, currency, day, a, b, c, d, e, f, g in rows:
        if part == "pool":
            book = books.setdefault(pid, _Book())
            book.committed, book.called, book.outstanding, book.nav = a, b, c, d
            book.paid_to_date, book.beginning_nav, book.fees = e, f, g
        elif part == "flow":
            book = books.setdefault(pid, _Book())
            if a:
                book.paid_in += a
                book.flows.append((day, -a))
            if b:
                book.distributed += b
                book.flows.append((day, b))
        else:
            months.setdefault(currency, {})[day] = (a, b, c)
    totals: dict[str, _Book] = {}
    holdings = []
    for meta in metas:  # in name order; a pool without entries (a pending commitment) is no holding
        book = books.get(meta.id)
        if book is None:
            continue
        book.flows.sort()
        totals.setdefault(meta.currency, _Book()).add(book)
        holdings.append(
            Holding(meta.id, meta.name, meta.strategy, meta.status, book.figures(meta.currency, period))
        )
    total_figures = [totals[c].figures(c, period) for c in sorted(totals)]
    beginning = {c: book.beginning_nav for c, book in totals.items()}
    return total_figures, holdings, _series(months, period, beginning)


def _allocations(holdings: list[Holding]) -> tuple[list[Allocation], list[Allocation]]:
    by_pool = [
        Allocation(h.figures.currency, h.pool_name, h.figures.committed, h.figures.nav) for h in holdings
    ]
    grouped: dict[tuple[str, str], list[Decimal]] = {}
    for h in holdings:
        slot = grouped.setdefault((h.figures.currency, h.strategy), [ZERO, ZERO])
        slot[0] += h.figures.committed
        slot[1] += h.figures.nav
    by_strategy = [
        Allocation(currency, strategy.replace("_", " "), values[0], values[1])
        for (currency, strategy), values in sorted(grouped.items())
    ]
    return by_pool, by_strategy


@audits_refused_reads
def portfolio_overview(
    actor: Actor, uow: UnitOfWork, period: Period, investor_id: int | None = None
) -> PortfolioOverview:
    """Everything the portfolio page shows, for one date range, cached under the pools' versions.

    The key carries the version of every pool the investor committed to, so any posting or
    commitment change in one of them makes a fresh computation; a Redis outage just computes.
    """
    investor = _subject(actor, investor_id)
    period = _check_period(period)
    metas = _pools_of(uow, actor, investor)
    versions = ",".join(f"{m.id}:{m.version}" for m in metas)
    digest = hashlib.sha1(versions.encode()).hexdigest()  # noqa: S324 - a cache key, not a secret
    key = f"investor:overview:v{CACHE_VERSION}:{investor}:{period.start}:{period.end}:{digest}"

    def compute() -> PortfolioOverview:
        totals, holdings, series = _compute(uow, investor, metas, period) if metas else ([], [], [])
        by_pool, by_strategy = _allocations(holdings)
        return PortfolioOverview(
            investor,
            period,
            totals,
            holdings,
            series,
            by_pool,
            by_strategy,
            _commitment_lines(uow, investor, statuses=("pending",)),
        )

    return uow.cache.cached(key, compute, lambda data: _load(PortfolioOverview, data))


# --- one pool --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    """One journal as it touched the investor. amount is positive as labelled (a reversal is
    negative); nav_effect is its signed effect on the investor's capital account (NAV)."""

    on: date
    journal_id: int
    pool_id: int
    pool_name: str
    currency: str
    kind: str
    label: str
    description: str
    reference: str
    amount: Decimal
    nav_effect: Decimal


# (journal kind, account) -> (label, sign that makes the amount positive, moves NAV)
_TRANSACTIONS = {
    ("commitment", "commitment"): ("Commitment", 1, False),
    ("capital_call", "receivable"): ("Capital call", -1, False),
    ("payment", "capital"): ("Contribution", 1, True),
    ("management_fee", "capital"): ("Management fee", -1, True),
    ("valuation", "capital"): ("Valuation gain/(loss)", 1, True),
    ("distribution", "capital"): ("Distribution", -1, True),
    ("carry", "capital"): ("Carried interest", -1, True),
}

_TRANSACTION_ROWS = text(
    """SELECT j.id, j.effective_date, j.kind, j.memo, e.pool_id, e.account,
              o.payload ->> 'reference' AS reference,
              sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
         FROM entries e
         JOIN journals j ON j.id = e.journal_id
         LEFT JOIN operations o ON o.id = j.operation_id
        WHERE e.investor_id = :investor
          AND e.account IN ('commitment', 'receivable', 'capital')
          AND j.effective_date BETWEEN :start AND :end
          AND (CAST(:pool AS bigint) IS NULL OR e.pool_id = :pool)
        GROUP BY j.id, j.effective_date, j.kind, j.memo, e.pool_id, e.account, o.payload ->> 'reference'
        ORDER BY j.effective_date, j.id"""
)


def _transactions(
    uow: UnitOfWork, investor_id: int, period: Period, metas: list[_PoolMeta], pool_id: int | None = None
) -> list[Transaction]:
    named = {m.id: m for m in metas}
    rows = uow.session.execute(
        _TRANSACTION_ROWS,
        {"investor": investor_id, "start": period.start, "end": period.end, "pool": pool_id},
    )
    result = []
    for journal_id, on, kind, memo, pid, account, reference, credit in rows:
        mapped = _TRANSACTIONS.get((kind, account))
        meta = named.get(pid)
        if mapped is None or meta is None:
            continue
        label, sign, moves_nav = mapped
        result.append(
            Transaction(
                on,
                journal_id,
                pid,
                meta.name,
                meta.currency,
                kind,
                label,
                memo or "",
                reference or f"J{journal_id}",
                _money(sign * credit, meta.currency),
                _money(credit if moves_nav else ZERO, meta.currency),
            )
        )
    return result


@dataclass(frozen=True)
class CallItemView:
    id: int
    call_id: int
    pool_id: int
    pool_name: str
    currency: str
    purpose: str
    call_date: date
    due_date: date
    amount_due: Decimal
    amount_paid: Decimal
    outstanding: Decimal
    status: str
    overdue: bool
    days_to_due: int  # negative: days overdue

    @property
    def payable(self) -> bool:
        return self.status in ("open", "partially_paid")


def _call_items(
    uow: UnitOfWork,
    investor_id: int,
    *,
    pool_id: int | None = None,
    item_id: int | None = None,
    on: date | None = None,
) -> list[CallItemView]:
    now = on or clock.today()
    query = (
        select(CallItem, CapitalCall, Pool.name, Pool.currency)
        .join(CapitalCall, CapitalCall.id == CallItem.call_id)
        .join(Pool, Pool.id == CapitalCall.pool_id)
        .where(CallItem.investor_id == investor_id, CapitalCall.status == "issued")
        .order_by(CapitalCall.due_date, CallItem.id)
    )
    if pool_id is not None:
        query = query.where(CapitalCall.pool_id == pool_id)
    if item_id is not None:
        query = query.where(CallItem.id == item_id)
    views = []
    for item, call, pool_name, currency in uow.session.execute(query):
        outstanding = item.amount_due - item.amount_paid
        payable = item.status in ("open", "partially_paid")
        views.append(
            CallItemView(
                item.id,
                call.id,
                call.pool_id,
                pool_name,
                currency,
                call.purpose,
                call.call_date,
                call.due_date,
                _money(item.amount_due, currency),
                _money(item.amount_paid, currency),
                _money(outstanding, currency),
                item.status,
                payable and outstanding > 0 and call.due_date < now,
                (call.due_date - now).days,
            )
        )
    return views


@dataclass(frozen=True)
class PoolChoice:
    pool_id: int
    name: str
    status: str
    currency: str


@dataclass(frozen=True)
class PoolDetail:
    pool: PoolView
    fundraising: Fundraising
    period: Period
    figures: Figures | None  # None: the investor has no position in this pool yet
    capital_account: CapitalAccount
    transactions: list[Transaction]
    call_items: list[CallItemView]
    commitments: list[CommitmentLine]  # every commitment of theirs to this pool, any status
    choices: list[PoolChoice]
    # No document store exists yet; pages show "none" until one does.
    documents: list[str] = field(default_factory=list)


@audits_refused_reads
def pool_detail(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int | None,
    period: Period,
    investor_id: int | None = None,
) -> PoolDetail:
    """Terms, fundraising, the investor's capital account for the period and every transaction.

    pool_id None picks the first of the investor's pools. A pool the actor may not see (another
    investor's closed pool, say) is refused, not shown empty.
    """
    investor = _subject(actor, investor_id)
    period = _check_period(period)
    choices = [
        PoolChoice(m.id, m.name, m.status, m.currency)
        for m in _pools_of(uow, actor, investor, visible_only=True)
    ]
    if pool_id is None:
        if not choices:
            raise NotFound("you have no pools yet")
        pool_id = choices[0].pool_id
    pool = visible_pool(uow, actor, _pool_id(pool_id))
    require_read_investor_position(actor, investor, pool.manager_id)
    metas = [
        _PoolMeta(
            pool.id, pool.name, pool.strategy, pool.status, pool.currency, pool.version, pool.manager_id
        )
    ]
    _, holdings, _ = _compute(uow, investor, metas, period, pool.id)
    account = _quantized_account(
        capital_account(positions.investor_flows(uow.session, pool.id, investor), period.start, period.end),
        pool.currency,
    )
    return PoolDetail(
        pool=PoolView.of(pool),
        fundraising=fundraising(actor, uow, pool.id),
        period=period,
        figures=holdings[0].figures if holdings else None,
        capital_account=account,
        transactions=_transactions(uow, investor, period, metas, pool.id),
        call_items=_call_items(uow, investor, pool_id=pool.id),
        commitments=_commitment_lines(uow, investor, pool_id=pool.id),
        choices=choices,
    )


def _quantized_account(account: CapitalAccount, currency: str) -> CapitalAccount:
    """Every amount at the currency's minor unit (exact: ledger amounts are on that grid)."""
    values: dict[str, Any] = {}
    for f in fields(account):
        value = getattr(account, f.name)
        values[f.name] = _money(value, currency) if isinstance(value, Decimal) else value
    values["currency"] = currency
    return CapitalAccount(**values)


# --- capital calls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSummary:
    currency: str
    outstanding: Decimal
    overdue: Decimal
    overdue_items: int
    paid_in_to_date: Decimal


@dataclass(frozen=True)
class CapitalCalls:
    open: list[CallItemView]  # payable, soonest due first
    settled: list[CallItemView]
    summary: list[CallSummary]  # one per currency


@audits_refused_reads
def capital_calls(
    actor: Actor, uow: UnitOfWork, investor_id: int | None = None, *, on: date | None = None
) -> CapitalCalls:
    """The investor's call items: open ones with due dates and overdue flags, and paid-in to date."""
    investor = _subject(actor, investor_id)
    metas = _pools_of(uow, actor, investor)
    items = _call_items(uow, investor, on=on)
    held = positions.positions_of_investor(uow.session, investor)
    summary: dict[str, list[Any]] = {}
    for meta in metas:
        position = held.get(meta.id)
        if position is not None:
            slot = summary.setdefault(meta.currency, [ZERO, ZERO, 0, ZERO])
            slot[3] += position.paid_in
    for item in items:
        if item.payable:
            slot = summary.setdefault(item.currency, [ZERO, ZERO, 0, ZERO])
            slot[0] += item.outstanding
            if item.overdue:
                slot[1] += item.outstanding
                slot[2] += 1
    return CapitalCalls(
        open=[i for i in items if i.payable],
        settled=sorted((i for i in items if not i.payable), key=lambda i: (i.due_date, i.id), reverse=True),
        summary=[
            CallSummary(c, _money(v[0], c), _money(v[1], c), v[2], _money(v[3], c))
            for c, v in sorted(summary.items())
        ],
    )


@audits_refused_reads
def call_item(actor: Actor, uow: UnitOfWork, item_id: int) -> CallItemView:
    """One call item, for the payment form; another investor's item is refused, not shown."""
    if not isinstance(item_id, int) or isinstance(item_id, bool):
        raise ValidationError("call_item_id", "must be an integer")
    row = uow.session.execute(
        select(CallItem.investor_id, Pool.manager_id)
        .join(CapitalCall, CapitalCall.id == CallItem.call_id)
        .join(Pool, Pool.id == CapitalCall.pool_id)
        .where(CallItem.id == item_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no call item {item_id}")
    if actor.role == INVESTOR and row.investor_id != actor.user_id:
        raise PermissionDenied("this call item is not yours")
    require_read_investor_position(actor, row.investor_id, row.manager_id)
    views = _call_items(uow, row.investor_id, item_id=item_id)
    if not views:
        raise InvalidState("this call is not issued yet")
    return views[0]


# --- open pools and the commit form ------------------------------------------------------------------


@dataclass(frozen=True)
class OpenPool:
    pool: PoolView
    fundraising: Fundraising
    remaining: Decimal  # room under the hard cap
    largest_ticket: Decimal  # min(max ticket, remaining): the most a commitment may be now
    my_commitment: CommitmentLine | None  # their live (pending or accepted) commitment

    @property
    def may_commit(self) -> bool:
        return self.my_commitment is None and self.largest_ticket >= self.pool.min_ticket


@dataclass(frozen=True)
class OpenPools:
    eligible: bool  # KYC approved
    reason: str | None  # why nothing can be joined, in words
    pools: list[OpenPool]
    not_accredited: int  # open pools that ask for a higher accreditation than the investor's
    pending: list[CommitmentLine]


@audits_refused_reads
def open_pools(actor: Actor, uow: UnitOfWork) -> OpenPools:
    """Open pools this investor may join (KYC approved, accreditation high enough, before close)."""
    require_role(actor, INVESTOR)
    investor = _subject(actor, None)
    user = uow.session.get(User, investor)
    if user is None:
        raise NotFound("no such investor")
    now = clock.today()
    candidates = (
        uow.session.execute(
            select(Pool)
            .where(Pool.status == "open", Pool.close_date >= now)
            .order_by(Pool.close_date, Pool.id)
        )
        .scalars()
        .all()
    )
    lines = _commitment_lines(uow, investor, statuses=("pending", "accepted"))
    live = {line.pool_id: line for line in lines}
    eligible = [p for p in candidates if is_eligible("approved", user.accreditation, p.min_accreditation)]
    raised = _raised(uow, [p.id for p in eligible])
    shown: list[OpenPool] = []
    for pool in eligible:
        accepted, pending, investors = raised.get(pool.id, (ZERO, ZERO, 0))
        raising = Fundraising(
            pool.id,
            pool.currency,
            pool.target_size,
            pool.hard_cap,
            accepted,
            pending,
            investors,
            pool.version,
        )
        remaining = _money(raising.remaining, pool.currency)
        shown.append(
            OpenPool(
                PoolView.of(pool),
                raising,
                remaining,
                min(_money(pool.max_ticket, pool.currency), remaining),
                live.get(pool.id),
            )
        )
    not_accredited = len(candidates) - len(eligible)
    kyc_ok = user.kyc_status == "approved"
    reason = None
    if not kyc_ok:
        reason = f"your KYC status is {user.kyc_status}; you can commit once it is approved"
    elif not shown and not_accredited:
        reason = "the open pools ask for a higher accreditation than yours"
    return OpenPools(
        eligible=kyc_ok,
        reason=reason,
        pools=shown if kyc_ok else [],
        not_accredited=not_accredited,
        pending=[line for line in lines if line.status == "pending"],
    )


def _raised(uow: UnitOfWork, pool_ids: list[int]) -> dict[int, tuple[Decimal, Decimal, int]]:
    """Accepted, pending and investor count of many pools in one grouped query (as fundraising())."""
    if not pool_ids:
        return {}
    rows = uow.session.execute(
        select(
            Commitment.pool_id,
            func.coalesce(func.sum(Commitment.amount_accepted).filter(Commitment.status == "accepted"), 0),
            func.coalesce(func.sum(Commitment.amount_requested).filter(Commitment.status == "pending"), 0),
            func.count().filter(Commitment.status == "accepted"),
        )
        .where(Commitment.pool_id.in_(pool_ids))
        .group_by(Commitment.pool_id)
    )
    return {pool_id: (accepted, pending, investors) for pool_id, accepted, pending, investors in rows}


@audits_refused_reads
def check_commitment(actor: Actor, uow: UnitOfWork, pool_id: int, amount: object) -> Decimal:
    """The commit form's check before it submits: the same rules submit_commitment applies again.

    Reads only, so a refused amount writes nothing at all (not even an audit row; a refused role
    or pool is audited like every refused read).
    """
    require_role(actor, INVESTOR)
    investor = _subject(actor, None)
    pool = visible_pool(uow, actor, _pool_id(pool_id))
    if pool.status != "open":
        raise InvalidState("this pool is not open for commitments")
    if pool.close_date < clock.today():
        raise InvalidState("this pool's close date has passed")
    user = uow.session.get(User, investor)
    if user is None or not is_eligible(user.kyc_status, user.accreditation, pool.min_accreditation):
        raise PermissionDenied(
            "you are not eligible for this pool: KYC must be approved and accreditation at least "
            f"{pool.min_accreditation.replace('_', ' ')}"
        )
    value = parse_amount(amount, pool.currency, "amount")
    check_ticket(
        value,
        quantize(pool.min_ticket, pool.currency),
        quantize(pool.max_ticket, pool.currency),
        quantize(pool.hard_cap - accepted_total(uow, pool.id), pool.currency),
        pool.currency,
    )
    live = uow.session.execute(
        select(Commitment.id).where(
            Commitment.pool_id == pool.id,
            Commitment.investor_id == investor,
            Commitment.status.in_(("pending", "accepted")),
        )
    ).first()
    if live:
        raise InvalidState("you already have a live commitment to this pool; withdraw it first if pending")
    return value


# --- statements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolStatement:
    pool_id: int
    pool_name: str
    currency: str
    capital_account: CapitalAccount
    transactions: list[Transaction]


@dataclass(frozen=True)
class Statement:
    investor_id: int
    investor_name: str
    period: Period
    pools: list[PoolStatement]
    choices: list[PoolChoice]


@audits_refused_reads
def statement(
    actor: Actor, uow: UnitOfWork, period: Period, pool_id: int | None = None, investor_id: int | None = None
) -> Statement:
    """Capital account and transactions per pool for a period: the screen and both CSV files."""
    investor = _subject(actor, investor_id)
    period = _check_period(period)
    metas = _pools_of(uow, actor, investor, visible_only=pool_id is not None)
    choices = [PoolChoice(m.id, m.name, m.status, m.currency) for m in metas]
    if pool_id is not None:
        pool = visible_pool(uow, actor, _pool_id(pool_id))
        require_read_investor_position(actor, investor, pool.manager_id)
        metas = [m for m in metas if m.id == pool.id]
    name = uow.session.execute(select(User.name).where(User.id == investor)).scalar_one_or_none() or ""
    transactions = _transactions(uow, investor, period, metas, pool_id)
    pools = []
    for meta in metas:
        account = capital_account(
            positions.investor_flows(uow.session, meta.id, investor), period.start, period.end
        )
        pools.append(
            PoolStatement(
                meta.id,
                meta.name,
                meta.currency,
                _quantized_account(account, meta.currency),
                [t for t in transactions if t.pool_id == meta.id],
            )
        )
    return Statement(investor, name, period, pools, choices)


CAPITAL_ACCOUNT_HEADER = ("Pool", "Currency", "Period start", "Period end", "Line", "Amount")
TRANSACTION_HEADER = (
    "Date",
    "Pool",
    "Currency",
    "Type",
    "Description",
    "Reference",
    "Journal",
    "Amount",
    "NAV effect",
)


def capital_account_rows(result: Statement) -> list[tuple[Any, ...]]:
    """The capital account lines of every pool, as the page's table and the CSV file show them."""
    start = "" if result.period.since_inception else result.period.start.isoformat()
    return [
        (p.pool_name, p.currency, start, result.period.end.isoformat(), line, amount)
        for p in result.pools
        for line, amount in p.capital_account.lines()
    ]


def transaction_rows(result: Statement) -> list[tuple[Any, ...]]:
    return [
        (
            t.on.isoformat(),
            t.pool_name,
            t.currency,
            t.label,
            t.description,
            t.reference,
            t.journal_id,
            t.amount,
            t.nav_effect,
        )
        for p in result.pools
        for t in p.transactions
    ]


@audits_refused_reads
def capital_account_csv(
    actor: Actor, uow: UnitOfWork, period: Period, pool_id: int | None = None, investor_id: int | None = None
) -> str:
    """The capital account statement as CSV, from the same statement() the page shows."""
    return csv_text(
        CAPITAL_ACCOUNT_HEADER, capital_account_rows(statement(actor, uow, period, pool_id, investor_id))
    )


@audits_refused_reads
def transactions_csv(
    actor: Actor, uow: UnitOfWork, period: Period, pool_id: int | None = None, investor_id: int | None = None
) -> str:
    """Every transaction of the period as CSV, from the same statement() the page shows."""
    return csv_text(TRANSACTION_HEADER, transaction_rows(statement(actor, uow, period, pool_id, investor_id)))


# --- cache (de)serialisation -------------------------------------------------------------------------


def _load(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a cached dataclass from its JSON form (dates come back as ISO strings)."""
    return _loader(cls)(data)


@cache
def _loader(cls: type) -> Callable[[Any], Any]:
    """A converter per field, worked out once per class: a warm page rebuilds hundreds of rows."""
    hints = get_type_hints(cls)
    plan = [(f.name, _converter(hints[f.name])) for f in fields(cls)]

    def build(data: dict[str, Any]) -> Any:
        return cls(**{name: data[name] if convert is None else convert(data[name]) for name, convert in plan})

    return build


def _converter(kind: Any) -> Callable[[Any], Any] | None:
    origin = get_origin(kind)
    if origin is list:
        inner = _converter(get_args(kind)[0])
        return None if inner is None else (lambda values: [inner(v) for v in values])
    options = [a for a in get_args(kind) if a is not type(None)] if origin is not None else [kind]
    target = options[0]
    if target is date:
        convert: Callable[[Any], Any] = date.fromisoformat
    elif target is datetime:
        convert = datetime.fromisoformat
    elif is_dataclass(target):
        convert = _loader(target)  # type: ignore[arg-type]
    else:
        return None  # str, int, bool, Decimal (the cache decodes Decimals itself)
    return lambda value: None if value is None else convert(value)
