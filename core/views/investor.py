"""What an investor sees: one portfolio across every pool, one pool with its capital account, their
capital calls, the pools open to them, and statements (on screen and as CSV).

Every read takes (actor, uow, ...) and checks, on the very investor, pool or call item it was asked
about, that the actor may see it: an investor sees only their own figures, whatever id a URL or the
session state carries (PermissionDenied otherwise).

Every figure comes from the ledger's one read model (core.ledger.read_model.movements), as of one
day: the end of the chosen period (today for the capital calls page). A journal counts from its
effective date on. Movements before the period's start make its opening balances, those from start
to end inclusive are the period's (the capital account statement's convention). Commitment, called,
unfunded (ILPA: commitment - called), outstanding (called - paid-in) and NAV are as of the end. For
a period that starts after inception the NAV at its start counts as paid in on its first day (the
horizon convention), so the paid-in basis, multiples, IRR and the J-curve follow the range. TVPI,
DPI and RVPI exist only when that basis is above zero and NAV is not negative; an IRR only when the
flows have one (otherwise None, shown as n/a with the reason).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, get_args, get_origin, get_type_hints

from sqlalchemy import and_, case, func, literal, select, text, tuple_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.sqltypes import NullType

from core import clock
from core.csvsafe import csv_text
from core.domain import is_eligible
from core.errors import NotFound, PermissionDenied, ValidationError
from core.formatting import count, money
from core.fundmath import CapitalAccount, capital_account, multiples, xirr_columns
from core.ledger import CAPITAL_LINES, NAV_LINES, JournalKind, Line, read_model
from core.ledger.read_model import Position
from core.money import quantize
from core.permissions import (
    ADMIN,
    FUND_MANAGER,
    INVESTOR,
    PLATFORM_READERS,
    Actor,
    co_managers,
    managers_of,
    may_read_investor_position,
    require_read_investor_position,
    require_role,
)
from core.services import documents as vault
from core.services.audit import audits_refused_reads
from core.services.distributions import wind_up
from core.services.documents import DocumentView
from core.services.pools import Fundraising, PoolView, fundraising, visible_pool
from core.uow import UnitOfWork
from core.vocabulary import (
    Accreditation,
    CallItemStatus,
    CallStatus,
    CommitmentStatus,
    KycStatus,
    PoolStatus,
    label,
)
from db.models import (
    CallItem,
    CapitalCall,
    Commitment,
    Distribution,
    Exit,
    FeeCharge,
    Journal,
    Mark,
    Payment,
    Pool,
    PortfolioCompany,
    User,
)

ZERO = Decimal(0)
INCEPTION = date(1900, 1, 1)  # "since inception": before any pool could have existed
RANGES = {
    "inception": "Since inception",
    "ytd": "Year to date",
    "last_12_months": "Last 12 months",
    "custom": "Custom range",
}
CACHE_VERSION = 2  # bump when the cached shapes below change
SHOWN_CALLS = (CallStatus.ISSUED, CallStatus.PARTIALLY_PAID, CallStatus.PAID)
PAYABLE_ITEMS = (CallItemStatus.OPEN, CallItemStatus.PARTIALLY_PAID)
FLOW_LINES = (Line.CONTRIBUTIONS, Line.DISTRIBUTIONS)  # the investor's cash flows (IRR, cash-flow chart)
# Why a figure shows as n/a (the pages' tooltips).
NO_MULTIPLE = "n/a: nothing was paid in (counting the NAV at the period's start), or the NAV is negative"
NO_IRR = "n/a: these cash flows have no rate of return (nothing paid in, or nothing back yet)"


# --- periods ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """start..end inclusive; start INCEPTION means since inception. Every figure is as of end."""

    start: date
    end: date

    @property
    def since_inception(self) -> bool:
        return self.start <= INCEPTION

    @property
    def as_of(self) -> date:
        return self.end

    @property
    def label(self) -> str:
        if self.since_inception:
            return f"since inception to {self.end.isoformat()}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


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
        raise ValidationError("range", f"must be one of: {', '.join(RANGES.values())}")
    if not isinstance(start, date) or not isinstance(end, date):
        raise ValidationError("range", "needs a start and an end date")
    if end < start:
        raise ValidationError("range", "must not end before it starts")
    if end > now:
        raise ValidationError("range", "must not end after today")
    return Period(max(start, INCEPTION), end)


def _check_period(period: object) -> Period:
    if not isinstance(period, Period):
        raise ValidationError("range", "is not a date range")
    if period.end < period.start:
        raise ValidationError("range", "must not end before it starts")
    return period


# --- who may see whom ------------------------------------------------------------------------------


def _subject(actor: Actor, investor_id: object) -> int:
    """The investor a request is about: an investor is always themselves."""
    if investor_id is None:
        if actor.role == INVESTOR and actor.user_id is not None:
            return actor.user_id
        raise ValidationError("investor_id", "is required")
    if not isinstance(investor_id, int) or isinstance(investor_id, bool):
        raise ValidationError("investor_id", "must be a whole number")
    if actor.role == INVESTOR and investor_id != actor.user_id:
        raise PermissionDenied("you may only see your own investments")
    if not (actor.is_system or actor.role in (INVESTOR, FUND_MANAGER, *PLATFORM_READERS)):
        raise PermissionDenied("you may not see investor positions")
    return investor_id


def _pool_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("pool_id", "must be a whole number")
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
    managers = co_managers(uow, [m.id for m in metas]) if actor.role == FUND_MANAGER else {}
    if visible_only:
        return [
            m
            for m in metas
            if may_read_investor_position(actor, investor_id, {m.manager_id, *managers.get(m.id, ())})
        ]
    for meta in metas:
        require_read_investor_position(actor, investor_id, {meta.manager_id, *managers.get(meta.id, ())})
    return metas


def _meta(pool: Pool) -> _PoolMeta:
    return _PoolMeta(
        pool.id, pool.name, pool.strategy, pool.status, pool.currency, pool.version, pool.manager_id
    )


def _money(amount: Decimal, currency: str) -> Decimal:
    """At the currency's minor unit. Exact: every ledger amount is already on that grid."""
    return quantize(amount, currency)


def _month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - timedelta(days=1)


# --- the waiting investor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """Where the investor stands before anything can be shown: KYC, accreditation, whom to ask."""

    kyc_status: str
    accreditation: str
    contacts: list[str]  # the platform's administrators, "Ada Admin (admin@example.com)"
    pending: int  # commitments waiting for a manager

    @property
    def kyc_approved(self) -> bool:
        return self.kyc_status == KycStatus.APPROVED

    @property
    def whom_to_ask(self) -> str:
        return ", ".join(self.contacts) if self.contacts else "the platform's administrator"

    @property
    def kyc_note(self) -> str | None:
        """Why nothing can be committed yet, and what to do about it; None once KYC is approved."""
        if self.kyc_approved:
            return None
        return (
            f"Your identity check (KYC) is {label(self.kyc_status)}. You can commit to a pool once an "
            f"administrator has approved it: contact {self.whom_to_ask} to complete it."
        )


def _standing(uow: UnitOfWork, investor_id: int) -> Standing:
    user = uow.session.get(User, investor_id)
    if user is None:
        raise NotFound("no such investor")
    contacts = [
        f"{name} ({email})"
        for name, email in uow.session.execute(
            select(User.name, User.email).where(User.role == ADMIN, User.active).order_by(User.id).limit(3)
        )
    ]
    pending = uow.session.execute(
        select(func.count()).where(
            Commitment.investor_id == investor_id, Commitment.status == CommitmentStatus.PENDING
        )
    ).scalar_one()
    return Standing(user.kyc_status, user.accreditation, contacts, pending)


# --- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One pool's (or one currency's total) figures for a period.

    paid_in, distributed, fees and expenses (the fund expenses charged) are the period's; the rest
    are as of its end. paid_in_basis is
    what the multiples and IRR divide by: beginning NAV + paid-in (just paid-in since inception).
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
    expenses: Decimal
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
    version: int
    pool_id: int
    pool_name: str
    currency: str
    requested: Decimal
    accepted: Decimal | None
    status: str
    created_at: datetime


def _commitment_lines(
    uow: UnitOfWork, investor_id: int, *, pool_id: int | None = None, statuses: tuple[str, ...] | None = None
) -> list[CommitmentLine]:
    query = (
        select(
            Commitment.id,
            Commitment.version,
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
            version,
            pid,
            name,
            currency,
            _money(requested, currency),
            None if accepted is None else _money(accepted, currency),
            status,
            created,
        )
        for cid, version, pid, name, currency, requested, accepted, status, created in uow.session.execute(
            query
        )
    ]


def _sums(m: Any, lines: Sequence[Line], where: Any = None) -> list[Any]:
    """One summed column per line over a movements() selectable, optionally only where `where` holds."""
    return [
        func.coalesce(
            func.sum(m.c.amount).filter(
                m.c.line == line.value if where is None else and_(m.c.line == line.value, where)
            ),
            0,
        )
        for line in lines
    ]


@dataclass
class _Book:
    """The sums of one pool, or of one currency's pools together: the capital account as of the
    period's end, the period's NAV lines, and the period's dated cash flows (paid in negative) as
    two lists, a day for every amount, as the ledger statement returns them (never paired up: a
    fund of funds has hundreds of thousands)."""

    end: Position = field(default_factory=Position)
    period: Position = field(default_factory=Position)
    days: list[date] = field(default_factory=list)
    cash: list[Decimal] = field(default_factory=list)

    @classmethod
    def total(cls, books: Sequence[_Book], cash_flows: dict[date, Decimal]) -> _Book:
        """Many pools' books as one: each line summed once; their cash flows are `cash_flows`,
        already summed per day by the ledger statement (the same IRR from thousands of flows rather
        than millions)."""

        def summed(positions: list[Position]) -> Position:
            return Position(
                *(sum((getattr(p, line.value) for p in positions), ZERO) for line in CAPITAL_LINES)
            )

        days = sorted(cash_flows)
        return cls(
            summed([b.end for b in books]),
            summed([b.period for b in books]),
            days,
            [cash_flows[d] for d in days],
        )

    def figures(self, currency: str, period: Period) -> Figures:
        """The fund maths on the sums: IRR from dated flows with the NAV at the start paid in on its
        first day and the NAV at the end as the last flow."""
        nav = self.end.nav
        beginning = nav - self.period.nav
        days, cash = list(self.days), list(self.cash)
        if beginning:
            days.append(period.start)
            cash.append(-beginning)
        if nav:
            days.append(period.end)
            cash.append(nav)
        paid_in, distributed = self.period.contributions, self.period.distributions
        basis = beginning + paid_in
        ratios = multiples(basis, distributed, nav) if basis > 0 and nav >= 0 and distributed >= 0 else None

        def m(value: Decimal) -> Decimal:
            return _money(value, currency)

        return Figures(
            currency=currency,
            committed=m(self.end.commitment),
            called=m(self.end.called),
            outstanding=m(self.end.outstanding),
            unfunded=m(self.end.unfunded),
            beginning_nav=m(beginning),
            paid_in=m(paid_in),
            distributed=m(distributed),
            fees=m(self.period.management_fees),
            expenses=m(self.period.fund_expenses),
            nav=m(nav),
            total_value=m(distributed + nav),
            paid_in_basis=m(basis),
            tvpi=ratios.tvpi if ratios else None,
            dpi=ratios.dpi if ratios else None,
            rvpi=ratios.rvpi if ratios else None,
            irr=xirr_columns(days, cash),
        )


# One pass over up to a million movements: hash in memory, skip JIT compilation (it costs more than it
# saves on a one-pass scan), and join in the order movements() writes (entries, their journals, then
# the line map): left to itself the planner may join the line map first and hash three times the rows.
# For this one statement: set before it, reset after it (the rest of the transaction plans as usual).
_ONE_PASS = {"work_mem": "64MB", "jit": "off", "join_collapse_limit": "1"}


def _ledger_rows(
    uow: UnitOfWork, investor_id: int, period: Period, currencies: dict[int, str], pool_id: int | None = None
) -> tuple[dict[int, _Book], dict[str, dict[date, Position]], dict[str, dict[date, Decimal]]]:
    """One statement, one pass over the investor's movements as of the period's end, grouped two
    ways at once (grouping sets): per pool the capital account, the period's NAV lines and its dated
    cash flows; per currency and day of the period the NAV lines, summed here into months (the
    J-curve: date_trunc on each of a million rows cost more than folding a few hundred days), and
    the day's net cash flow (the total's IRR)."""
    m = read_model.movements(
        as_of=period.as_of, investor_id=investor_id, pool_id=pool_id, lines=CAPITAL_LINES
    )
    in_period = m.c.day >= period.start
    is_flow = and_(in_period, m.c.line.in_([line.value for line in FLOW_LINES]))
    cash = case((m.c.line == Line.DISTRIBUTIONS.value, m.c.amount), else_=-m.c.amount)  # paid in < 0
    day = case((in_period, m.c.day))
    by_currency: dict[str, list[int]] = defaultdict(list)
    for pid, currency in currencies.items():
        by_currency[currency].append(pid)
    # The day's currency, from the pool (a pool has one); none needed for one currency.
    currency_key = (
        [case(*((m.c.pool_id.in_(ids), literal(c)) for c, ids in sorted(by_currency.items())))]
        if len(by_currency) > 1
        else []
    )
    # Since inception the period's lines are the whole account's: not summed twice.
    period_sums = [] if period.since_inception else _sums(m, NAV_LINES, in_period)
    per_pool = func.grouping(m.c.pool_id) == 0
    query = select(
        func.grouping(m.c.pool_id),
        m.c.pool_id,
        day,
        *currency_key,
        *_sums(m, CAPITAL_LINES),
        *period_sums,
        # The arrays as the driver gives them (lists of dates and Decimals), no per-item processing;
        # a pool's only: a day's would carry every flow of the period to the client once more.
        case((per_pool, func.array_agg(m.c.day, type_=NullType).filter(is_flow))),
        case((per_pool, func.array_agg(cash, type_=NullType).filter(is_flow))),
    ).group_by(func.grouping_sets(tuple_(m.c.pool_id), tuple_(*currency_key, day)))
    for name, value in _ONE_PASS.items():
        uow.session.execute(text(f"SET LOCAL {name} = '{value}'"))
    rows = uow.session.execute(query).all()
    for name in _ONE_PASS:
        uow.session.execute(text(f"RESET {name}"))
    books: dict[int, _Book] = {}
    months: dict[str, dict[date, Position]] = defaultdict(dict)
    cash_flows: dict[str, dict[date, Decimal]] = defaultdict(dict)
    only = next(iter(by_currency), "")
    lines = len(CAPITAL_LINES)
    for row in rows:
        daily, pid, on = row[0], row[1], row[2]
        currency = row[3] if currency_key else only
        values = row[3 + len(currency_key) : -2]
        end = Position(*values[:lines])
        nav_lines = values[lines:] if period_sums else [getattr(end, line.value) for line in NAV_LINES]
        during = Position(**dict(zip((line.value for line in NAV_LINES), nav_lines, strict=True)))
        if not daily:
            books[pid] = _Book(end, during, row[-2] or [], row[-1] or [])
        elif on is not None:  # the rest: movements before the period
            month = months[currency]
            at = _month_end(on)
            month[at] = month[at] + during if at in month else during
            net = during.distributions - during.contributions
            if net:
                cash_flows[currency][on] = net
    return books, months, cash_flows


def _series(
    months: dict[str, dict[date, Position]], period: Period, beginning: dict[str, Decimal]
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
            delta = deltas.get(month, Position())
            paid += delta.contributions
            distributed += delta.distributions
            nav += delta.nav
            points.append(
                MonthPoint(
                    currency,
                    min(month, period.end),
                    _money(delta.contributions, currency),
                    _money(delta.distributions, currency),
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
    """Every figure of the period per pool, per currency and per month, from one ledger statement."""
    books, months, cash_flows = _ledger_rows(
        uow, investor_id, period, {m.id: m.currency for m in metas}, pool_id
    )
    per_currency: dict[str, list[_Book]] = defaultdict(list)
    holdings = []
    for meta in metas:  # in name order; a pool without movements (a pending commitment) is no holding
        book = books.get(meta.id)
        if book is None:
            continue
        per_currency[meta.currency].append(book)
        holdings.append(
            Holding(meta.id, meta.name, meta.strategy, meta.status, book.figures(meta.currency, period))
        )
    total_figures = [
        _Book.total(per_currency[c], cash_flows.get(c, {})).figures(c, period) for c in sorted(per_currency)
    ]
    beginning = {f.currency: f.beginning_nav for f in total_figures}
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
        Allocation(currency, label(strategy), values[0], values[1])
        for (currency, strategy), values in sorted(grouped.items())
    ]
    return by_pool, by_strategy


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
    standing: Standing | None = None  # read only when there is nothing to show: why, and what next

    @property
    def empty(self) -> bool:
        return not self.holdings


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
            _commitment_lines(uow, investor, statuses=(CommitmentStatus.PENDING,)),
        )

    computed: list[PortfolioOverview] = []

    def plain() -> dict[str, Any]:
        """What the cache stores: the overview as JSON-ready data (thousands of rows, quickly)."""
        computed.append(compute())
        return _plain(computed[0])

    data = uow.cache.cached(key, plain, lambda cached: cached)
    overview = computed[0] if computed else _load(PortfolioOverview, data)
    if overview.empty:
        return replace(overview, standing=_standing(uow, investor))
    return overview


# --- transactions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    """One journal as it moved one line of the investor's capital account, described in the
    glossary's words. amount is positive as the line is labelled (a reversal negative); nav_effect
    is its signed effect on the capital account (NAV); reference is the wire's, for payments."""

    on: date
    pool_id: int
    pool_name: str
    currency: str
    line: str
    description: str
    reference: str
    amount: Decimal
    nav_effect: Decimal

    @property
    def label(self) -> str:
        return Line(self.line).label


def _transactions(
    uow: UnitOfWork, investor_id: int, period: Period, metas: Sequence[_PoolMeta], pool_id: int | None = None
) -> list[Transaction]:
    """The period's movements of the investor, one row per journal and line, each described from
    the fact it booked (payments, calls, fees, marks, exits, distributions), never from ids."""
    named = {m.id: m for m in metas}
    moves = read_model.movements(
        as_of=period.as_of, since=period.start, investor_id=investor_id, pool_id=pool_id, lines=CAPITAL_LINES
    )
    per_journal = (
        select(
            moves.c.journal_id,
            moves.c.pool_id,
            moves.c.line,
            moves.c.day,
            func.sum(moves.c.amount).label("amount"),
        )
        .group_by(moves.c.journal_id, moves.c.pool_id, moves.c.line, moves.c.day)
        .subquery("t")
    )
    original = aliased(Journal, name="original")
    source = func.coalesce(original.operation_id, Journal.operation_id)  # a reversal: what it reverses
    paid_call = aliased(CapitalCall, name="paid_call")
    rows = uow.session.execute(
        select(
            per_journal.c.day,
            per_journal.c.pool_id,
            per_journal.c.line,
            per_journal.c.amount,
            Journal.kind,
            Journal.memo,
            Journal.reverses_id,
            original.memo,
            func.coalesce(paid_call.number, CapitalCall.number),
            func.coalesce(paid_call.purpose, CapitalCall.purpose),
            Payment.reference,
            FeeCharge.period_start,
            FeeCharge.period_end,
            PortfolioCompany.name,
            Mark.value,
            Mark.note,
            Exit.proceeds,
            Distribution.memo,
        )
        .join(Journal, Journal.id == per_journal.c.journal_id)
        .outerjoin(original, original.id == Journal.reverses_id)
        .outerjoin(Payment, Payment.operation_id == source)
        .outerjoin(CallItem, CallItem.id == Payment.call_item_id)
        .outerjoin(paid_call, paid_call.id == CallItem.call_id)
        .outerjoin(
            CapitalCall, and_(CapitalCall.operation_id == source, Journal.kind == JournalKind.CAPITAL_CALL)
        )
        .outerjoin(FeeCharge, FeeCharge.operation_id == source)
        .outerjoin(Mark, Mark.operation_id == source)
        .outerjoin(Exit, Exit.operation_id == source)
        .outerjoin(PortfolioCompany, PortfolioCompany.id == func.coalesce(Mark.company_id, Exit.company_id))
        .outerjoin(Distribution, Distribution.operation_id == source)
        .order_by(per_journal.c.day, per_journal.c.journal_id, per_journal.c.line)
    )
    result = []
    for row in rows:
        on, pid, line, amount, kind, memo, reverses, original_memo, *facts = row
        meta = named.get(pid)
        if meta is None:
            continue
        number, purpose, reference, *_ = facts
        what = _describe(
            kind, original_memo if reverses else memo, meta.currency, number, purpose, reference, *facts[3:]
        )
        if reverses:
            what = f"{what}, reversed: {memo.removeprefix('Reversed: ')}"
        sign = Line(line).nav_sign
        result.append(
            Transaction(
                on,
                pid,
                meta.name,
                meta.currency,
                line,
                what,
                reference or "",
                _money(amount, meta.currency),
                _money(sign * amount, meta.currency),
            )
        )
    return result


def _describe(
    kind: str,
    memo: str,
    currency: str,
    number: int | None,
    purpose: str | None,
    reference: str | None,
    fee_start: date | None,
    fee_end: date | None,
    company: str | None,
    mark: Decimal | None,
    note: str | None,
    proceeds: Decimal | None,
    distribution: str | None,
) -> str:
    """A journal in the glossary's words, from the facts it booked."""
    call = f"Capital call {number} ({purpose})" if number is not None else "Capital call"
    if kind == JournalKind.CAPITAL_CALL:
        return call
    if kind == JournalKind.PAYMENT:
        return f"{call}, paid by wire {reference}" if reference else f"{call}, paid"
    if kind == JournalKind.MANAGEMENT_FEE and fee_start is not None and fee_end is not None:
        return f"Management fee for {fee_start.isoformat()} to {fee_end.isoformat()}"
    if kind == JournalKind.VALUATION and company is not None:
        if mark is None:  # the release of an exited holding's marks
            return f"{company}: its valuation released on exit"
        return f"{company} valued at {money(mark, currency)}" + (f" ({note})" if note else "")
    if kind == JournalKind.EXIT and company is not None and proceeds is not None:
        return f"Exit from {company} for {money(proceeds, currency)}"
    if kind == JournalKind.DISTRIBUTION and distribution is not None:
        return f"Distribution: {distribution}"
    if kind == JournalKind.CARRY and distribution is not None:
        return f"Carried interest on the distribution {distribution}"
    return memo or label(kind).capitalize()


# --- capital calls -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallItemView:
    """One call item of the investor's, with what the payment form binds to: its id and version."""

    id: int
    version: int
    call_id: int
    call_number: int
    pool_id: int
    pool_name: str
    currency: str
    purpose: str
    call_date: date
    due_date: date
    amount_due: Decimal
    amount_paid: Decimal
    outstanding: Decimal
    status: str  # the item's: open, partially_paid, paid, cancelled
    call_status: str
    days_to_due: int  # from today; negative: days overdue

    @property
    def payable(self) -> bool:
        return self.status in PAYABLE_ITEMS and self.outstanding > 0

    @property
    def overdue(self) -> bool:
        return self.payable and self.days_to_due < 0

    @property
    def title(self) -> str:
        """How the glossary names it: "Capital call 3 (Beacon Health follow-on)"."""
        return f"Capital call {self.call_number} ({self.purpose})"

    @property
    def status_label(self) -> str:
        return "Overdue" if self.overdue else label(self.status).capitalize()

    @property
    def due(self) -> str:
        """Paid, Cancelled, Overdue by 3 days, Due today, Due in 4 days: never a negative count."""
        if not self.payable:
            return label(self.status).capitalize()
        if self.days_to_due < 0:
            return f"Overdue by {count(-self.days_to_due, 'day')}"
        if self.days_to_due == 0:
            return "Due today"
        return f"Due in {count(self.days_to_due, 'day')}"


def _call_items(
    uow: UnitOfWork, investor_id: int, *, pool_id: int | None = None, item_id: int | None = None
) -> list[CallItemView]:
    now = clock.today()
    query = (
        select(
            CallItem.id,
            CallItem.version,
            CapitalCall.id,
            CapitalCall.number,
            CapitalCall.pool_id,
            Pool.name,
            Pool.currency,
            CapitalCall.purpose,
            CapitalCall.call_date,
            CapitalCall.due_date,
            CallItem.amount_due,
            CallItem.amount_paid,
            CallItem.status,
            CapitalCall.status,
        )
        .join(CapitalCall, CapitalCall.id == CallItem.call_id)
        .join(Pool, Pool.id == CapitalCall.pool_id)
        .where(CallItem.investor_id == investor_id, CapitalCall.status.in_(SHOWN_CALLS))
        .order_by(CapitalCall.due_date, CallItem.id)
    )
    if pool_id is not None:
        query = query.where(CapitalCall.pool_id == pool_id)
    if item_id is not None:
        query = query.where(CallItem.id == item_id)
    views = []
    for row in uow.session.execute(query):
        (
            iid,
            version,
            call_id,
            number,
            pid,
            name,
            currency,
            purpose,
            called_on,
            due_on,
            due,
            paid,
            status,
            call_status,
        ) = row
        views.append(
            CallItemView(
                iid,
                version,
                call_id,
                number,
                pid,
                name,
                currency,
                purpose,
                called_on,
                due_on,
                _money(due, currency),
                _money(paid, currency),
                _money(due - paid, currency),
                status,
                call_status,
                (due_on - now).days,
            )
        )
    return views


@dataclass(frozen=True)
class CallSummary:
    currency: str
    outstanding: Decimal  # ILPA: called - paid-in, as of today
    overdue: Decimal
    overdue_items: int
    paid_in_to_date: Decimal


@dataclass(frozen=True)
class CapitalCalls:
    open: list[CallItemView]  # payable, soonest due first
    settled: list[CallItemView]  # paid or cancelled, latest due first
    summary: list[CallSummary]  # one per currency
    standing: Standing | None = None  # read only when there is no call item at all: why, what next


@audits_refused_reads
def capital_calls(actor: Actor, uow: UnitOfWork, investor_id: int | None = None) -> CapitalCalls:
    """The investor's call items (open ones with due dates and overdue flags) and, per currency,
    what is outstanding and paid in to date by the ledger, as of today."""
    investor = _subject(actor, investor_id)
    metas = _pools_of(uow, actor, investor)
    items = _call_items(uow, investor)
    currency_of = {m.id: m.currency for m in metas}
    held = read_model.positions(
        uow.session,
        as_of=clock.today(),
        by="pool",
        investor_id=investor,
        lines=(Line.CALLED, Line.CONTRIBUTIONS),
    )
    totals: dict[str, Position] = {}
    for pool_id, position in held.items():
        currency = currency_of[pool_id]
        totals[currency] = totals.get(currency, Position()) + position
    overdue: dict[str, list[Decimal]] = {}
    for item in items:
        if item.overdue:
            slot = overdue.setdefault(item.currency, [ZERO, ZERO])
            slot[0] += item.outstanding
            slot[1] += 1
    summary = [
        CallSummary(
            c,
            _money(totals.get(c, Position()).outstanding, c),
            _money(overdue.get(c, [ZERO])[0], c),
            int(overdue.get(c, [ZERO, ZERO])[1]),
            _money(totals.get(c, Position()).paid_in, c),
        )
        for c in sorted(set(totals) | set(overdue))
    ]
    result = CapitalCalls(
        open=[i for i in items if i.payable],
        settled=sorted((i for i in items if not i.payable), key=lambda i: (i.due_date, i.id), reverse=True),
        summary=summary,
    )
    if not items:
        return replace(result, standing=_standing(uow, investor))
    return result


# --- one pool --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolChoice:
    id: int
    name: str
    status: str


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
    # The pool's shared documents and the investor's own (notices, statements), latest versions.
    documents: list[DocumentView] = field(default_factory=list)
    # ILPA "accrued incentive allocation", a memo: their share of the GP's accrued carried interest
    # as of the period's end (docs/figures.md). Not a movement, not in the capital account's NAV.
    # None: nothing paid in yet.
    accrued_carry: Decimal | None = None


def _accrued_carry(uow: UnitOfWork, pool: Pool, investor_id: int, as_of: date) -> Decimal | None:
    """The carry the GP would still take from this investor's account if every holding were sold at
    its latest mark on as_of: as the manager's carry statement computes it, for one investor."""
    nav = quantize(max(read_model.pool_books(uow.session, pool.id, as_of=as_of).nav, ZERO), pool.currency)
    mine = wind_up(uow, pool, nav, as_of, investors=(investor_id,)).get(investor_id)
    if mine is None:
        return None
    return quantize(max(mine.carry_due - mine.carry_received, ZERO), pool.currency)


def _capital_accounts(
    uow: UnitOfWork, investor_id: int, period: Period, metas: Sequence[_PoolMeta], pool_id: int | None = None
) -> dict[int, CapitalAccount]:
    """Each pool's capital account statement for the period, from the lines summed on each side of
    its start (one grouped statement), at the currency's minor unit."""
    m = read_model.movements(
        as_of=period.as_of, investor_id=investor_id, pool_id=pool_id, lines=CAPITAL_LINES
    )
    before = (m.c.day < period.start).label("before")
    rows = uow.session.execute(
        select(m.c.pool_id, before, m.c.line, func.sum(m.c.amount)).group_by(m.c.pool_id, before, m.c.line)
    ).all()
    movements: dict[int, list[tuple[date, str, Decimal]]] = defaultdict(list)
    opening = period.start - timedelta(days=1)
    for pid, earlier, line, amount in rows:
        movements[pid].append((opening if earlier else period.end, line, amount))
    accounts = {}
    for meta in metas:
        accounts[meta.id] = capital_account(movements.get(meta.id, []), period.start, period.end).in_currency(
            meta.currency
        )
    return accounts


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
    choices = [PoolChoice(m.id, m.name, m.status) for m in _pools_of(uow, actor, investor, visible_only=True)]
    if pool_id is None:
        if not choices:
            raise NotFound("you have no pools yet")
        pool_id = choices[0].id
    pool = visible_pool(uow, actor, _pool_id(pool_id))
    require_read_investor_position(actor, investor, managers_of(uow, pool))
    metas = [_meta(pool)]
    _, holdings, _ = _compute(uow, investor, metas, period, pool.id)
    return PoolDetail(
        pool=PoolView.of(pool),
        fundraising=fundraising(actor, uow, pool.id),
        period=period,
        figures=holdings[0].figures if holdings else None,
        capital_account=_capital_accounts(uow, investor, period, metas, pool.id)[pool.id],
        transactions=_transactions(uow, investor, period, metas, pool.id),
        call_items=_call_items(uow, investor, pool_id=pool.id),
        commitments=_commitment_lines(uow, investor, pool_id=pool.id),
        choices=choices,
        documents=vault.visible(actor, uow, pool_id=pool.id, investor_id=investor),
        accrued_carry=_accrued_carry(uow, pool, investor, period.as_of),
    )


@audits_refused_reads
def call_item(actor: Actor, uow: UnitOfWork, item_id: int) -> CallItemView:
    """One call item; another investor's item is refused, not shown."""
    if not isinstance(item_id, int) or isinstance(item_id, bool):
        raise ValidationError("call_item_id", "must be a whole number")
    row = uow.session.execute(
        select(CallItem.investor_id, Pool)
        .join(CapitalCall, CapitalCall.id == CallItem.call_id)
        .join(Pool, Pool.id == CapitalCall.pool_id)
        .where(CallItem.id == item_id)
    ).one_or_none()
    if row is None:
        raise NotFound("no such call item")
    if actor.role == INVESTOR and row.investor_id != actor.user_id:
        raise PermissionDenied("this call item is not yours")
    require_read_investor_position(actor, row.investor_id, managers_of(uow, row.Pool))
    views = _call_items(uow, row.investor_id, item_id=item_id)
    if not views:
        raise NotFound("this capital call is not issued yet")
    return views[0]


# --- open pools ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenPool:
    pool: PoolView
    fundraising: Fundraising
    remaining: Decimal  # room under the hard cap
    largest_ticket: Decimal  # min(max ticket, remaining): the most a commitment may be now
    my_commitment: CommitmentLine | None  # their live (pending or accepted) commitment

    @property
    def id(self) -> int:
        return self.pool.id

    @property
    def may_commit(self) -> bool:
        return self.my_commitment is None and self.largest_ticket >= self.pool.min_ticket


@dataclass(frozen=True)
class LockedPool:
    """An open pool that asks for a higher accreditation than the investor's."""

    name: str
    min_accreditation: str


@dataclass(frozen=True)
class OpenPools:
    standing: Standing
    pools: list[OpenPool]  # open to them; none while their KYC is not approved
    locked: list[LockedPool]  # open, but asking for a higher accreditation
    pending: list[CommitmentLine]

    @property
    def accreditation_note(self) -> str | None:
        """Which pools would open to them with a higher accreditation, and whom to ask."""
        if not self.locked:
            return None
        wanted = sorted({p.min_accreditation for p in self.locked}, key=lambda a: Accreditation(a).rank)
        names = ", ".join(p.name for p in self.locked[:5]) + (" and more" if len(self.locked) > 5 else "")
        return (
            f"{count(len(self.locked), 'more open pool')} ({names}) "
            f"{'asks' if len(self.locked) == 1 else 'ask'} for {' or '.join(label(a) for a in wanted)} "
            f"accreditation; yours is {label(self.standing.accreditation)}. If you qualify, contact "
            f"{self.standing.whom_to_ask} to have it updated, and they open to you."
        )


@audits_refused_reads
def open_pools(actor: Actor, uow: UnitOfWork) -> OpenPools:
    """Open pools this investor may join (KYC approved, accreditation high enough, before close)."""
    require_role(actor, INVESTOR)
    investor = _subject(actor, None)
    standing = _standing(uow, investor)
    candidates = (
        uow.session.execute(
            select(Pool)
            .where(Pool.status == PoolStatus.OPEN, Pool.close_date >= clock.today())
            .order_by(Pool.close_date, Pool.id)
        )
        .scalars()
        .all()
    )
    lines = _commitment_lines(uow, investor, statuses=(CommitmentStatus.PENDING, CommitmentStatus.ACCEPTED))
    live = {line.pool_id: line for line in lines}
    eligible = [p for p in candidates if is_eligible("approved", standing.accreditation, p.min_accreditation)]
    raised = _raised(uow, [p.id for p in eligible])
    shown: list[OpenPool] = []
    for pool in eligible if standing.kyc_approved else []:
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
    eligible_ids = {p.id for p in eligible}
    locked = [LockedPool(p.name, p.min_accreditation) for p in candidates if p.id not in eligible_ids]
    return OpenPools(
        standing=standing,
        pools=shown,
        locked=locked,
        pending=[line for line in lines if line.status == CommitmentStatus.PENDING],
    )


def _raised(uow: UnitOfWork, pool_ids: list[int]) -> dict[int, tuple[Decimal, Decimal, int]]:
    """Accepted, pending and investor count of many pools in one grouped query (as fundraising())."""
    if not pool_ids:
        return {}
    rows: Any = uow.session.execute(
        select(
            Commitment.pool_id,
            func.coalesce(
                func.sum(Commitment.amount_accepted).filter(Commitment.status == CommitmentStatus.ACCEPTED), 0
            ),
            func.coalesce(
                func.sum(Commitment.amount_requested).filter(Commitment.status == CommitmentStatus.PENDING), 0
            ),
            func.count().filter(Commitment.status == CommitmentStatus.ACCEPTED),
        )
        .where(Commitment.pool_id.in_(pool_ids))
        .group_by(Commitment.pool_id)
    )
    return {pool_id: (accepted, pending, investors) for pool_id, accepted, pending, investors in rows}


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
    choices = [PoolChoice(m.id, m.name, m.status) for m in metas]
    if pool_id is not None:
        pool = visible_pool(uow, actor, _pool_id(pool_id))
        require_read_investor_position(actor, investor, managers_of(uow, pool))
        metas = [m for m in metas if m.id == pool.id]
    name = uow.session.execute(select(User.name).where(User.id == investor)).scalar_one_or_none() or ""
    transactions = _transactions(uow, investor, period, metas, pool_id)
    accounts = _capital_accounts(uow, investor, period, metas, pool_id)
    by_pool: dict[int, list[Transaction]] = defaultdict(list)
    for t in transactions:
        by_pool[t.pool_id].append(t)
    pools = [PoolStatement(m.id, m.name, m.currency, accounts[m.id], by_pool[m.id]) for m in metas]
    return Statement(investor, name, period, pools, choices)


CAPITAL_ACCOUNT_HEADER = ("Pool", "Currency", "Period start", "Period end", "Line", "Amount")
TRANSACTION_HEADER = ("Date", "Pool", "Currency", "Type", "Description", "Reference", "Amount", "NAV effect")


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


def _plain(value: Any) -> Any:
    """A dataclass as nested dicts and lists, for the cache (dataclasses.asdict deep-copies every
    value, ten times slower on a portfolio of thousands of pools)."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(item) for name, item in vars(value).items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _load(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a cached dataclass from its JSON form (dates come back as ISO strings)."""
    return _loader(cls)(data)


@cache
def _loader(cls: type) -> Callable[[Any], Any]:
    """A converter per field, worked out once per class: a warm page rebuilds thousands of rows."""
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
