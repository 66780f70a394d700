"""What a fund manager reads about the pools they manage: one read model per screen.

Every figure is the ledger's one read model (core.ledger.read_model) as of a day, today unless
said: a journal counts from its effective date on, here as on every other surface. The facts
behind the figures (commitments, calls and their items, payments, holdings, marks, exits,
distributions) come from their own tables. Every function takes (actor, uow, ...) and refuses,
with PermissionDenied, a pool, call or item the actor does not manage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import BigInteger, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from core import clock
from core.csvsafe import csv_text
from core.domain import not_in_future
from core.errors import InvalidState, NotFound, ValidationError
from core.formatting import money
from core.fundmath import clawback, multiples, scale_down, xirr
from core.ledger import BOOK_LINES, CAPITAL_LINES, NAV_LINES, Line, read_model
from core.ledger.read_model import PoolBooks, Position
from core.money import minor_unit, quantize
from core.permissions import FUND_MANAGER, Actor, managed_by, require_manager_of, require_role
from core.services import corrections, investments, pools
from core.services.audit import audits_refused_reads
from core.services.distributions import wind_up
from core.services.investments import Holding
from core.services.pools import PoolView, load_pool
from core.uow import UnitOfWork
from core.vocabulary import CallItemStatus, CallStatus, CommitmentStatus, ExpenseCategory, PoolStatus, label
from db.models import (
    CallItem,
    CapitalCall,
    Commitment,
    Distribution,
    FundExpense,
    Mark,
    Payment,
    Pool,
    PortfolioCompany,
    User,
)

ZERO = Decimal(0)
T = TypeVar("T")


def _managed(actor: Actor, uow: UnitOfWork, pool_id: object) -> Pool:
    """The pool, if this actor manages it; PermissionDenied otherwise (NotFound for no such id)."""
    require_role(actor, FUND_MANAGER)
    if isinstance(pool_id, bool) or not isinstance(pool_id, int):
        raise NotFound("no such pool")
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    return pool


def _ids(values: Iterable[int]) -> Any:
    """One array parameter, however many ids."""
    return any_(bindparam("ids", sorted(set(values)), ARRAY(BigInteger)))


def _names(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, str]:
    return dict(uow.session.execute(select(User.id, User.name).where(User.id == _ids(ids))).all())


def _load(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a cached dataclass: dates come back from JSON as ISO strings."""
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        value = data[f.name]
        if str(f.type).startswith("date") and isinstance(value, str):
            value = date.fromisoformat(value)
        values[f.name] = value
    return cls(**values)


def _cached(
    uow: UnitOfWork, key: str, pool: Pool, as_of: date, compute: Callable[[], T], load: Callable
) -> T:
    """A figure cached under the pool's ledger version and the day it is as of."""
    return uow.cache.cached(f"manager:{key}:{pool.id}:v{pool.version}:{as_of.isoformat()}", compute, load)


@audits_refused_reads
def managed_pool(actor: Actor, uow: UnitOfWork, pool_id: int) -> PoolView:
    """One pool's terms and status, for its manager only."""
    return PoolView.of(_managed(actor, uow, pool_id))


@audits_refused_reads
def pool_versions(actor: Actor, uow: UnitOfWork) -> dict[int, int]:
    """The version counter of each of this manager's pools: what live pages poll."""
    require_role(actor, FUND_MANAGER)
    rows = uow.session.execute(select(Pool.id, Pool.version).where(managed_by(actor.user_id)))
    return {row.id: row.version for row in rows}


# --- returns ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Returns:
    """Net of fees and carry, for the investors as a whole. None where a figure does not exist:
    multiples need paid-in capital and a NAV that is not negative; an IRR needs a solution."""

    irr: Decimal | None
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None


def _returns(uow: UnitOfWork, pool_id: int, total: Position, as_of: date) -> Returns:
    """The investors' dated flows as docs/figures.md and every other surface take them: each day's
    contributions paid in (negative) and distributions out (positive), NAV as the last value. The
    IRR is n/a only when no rate solves them (a negative NAV does not make it so); the multiples
    also when NAV is negative."""
    if total.paid_in <= 0:
        return Returns(None, None, None, None)
    days = read_model.daily(
        uow.session, as_of=as_of, pool_id=pool_id, lines=(Line.CONTRIBUTIONS, Line.DISTRIBUTIONS)
    )
    flows = [
        flow
        for day, moved in days
        for flow in ((day, -moved[Line.CONTRIBUTIONS]), (day, moved[Line.DISTRIBUTIONS]))
        if flow[1]
    ] + ([(as_of, total.nav)] if total.nav else [])
    if total.nav < 0 or total.distributions < 0:
        return Returns(xirr(flows), None, None, None)
    ratios = multiples(total.paid_in, total.distributions, total.nav)
    return Returns(xirr(flows), ratios.tvpi, ratios.dpi, ratios.rvpi)


@audits_refused_reads
def returns(actor: Actor, uow: UnitOfWork, pool_id: int) -> Returns:
    """Net IRR and multiples as of today."""
    pool, today = _managed(actor, uow, pool_id), clock.today()

    def compute() -> Returns:
        return _returns(uow, pool.id, read_model.total(uow.session, as_of=today, pool_id=pool.id), today)

    return _cached(uow, "returns", pool, today, compute, lambda d: Returns(**d))


# --- my pools ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSummary:
    id: int
    name: str
    strategy: str
    status: str
    currency: str
    target_size: Decimal
    hard_cap: Decimal
    close_date: date
    committed: Decimal
    pending: Decimal
    investors: int
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal
    distributed: Decimal
    nav: Decimal
    irr: Decimal | None
    tvpi: Decimal | None
    version: int

    @property
    def raised(self) -> int:
        """Whole percent of the hard cap committed, for a progress bar (0-100)."""
        return max(0, min(int(self.committed * 100 / self.hard_cap), 100)) if self.hard_cap else 0


def _investors(uow: UnitOfWork, pool_id: int, held: dict[int, Position]) -> int:
    """Those with a commitment; the GP's own commitment is not an investor's."""
    gp = pools.gp_investors(uow, pool_id)
    return sum(1 for i, p in held.items() if p.commitment > 0 and i not in gp)


def _summary(uow: UnitOfWork, pool: Pool, today: date) -> PoolSummary:
    def compute() -> PoolSummary:
        held = read_model.positions(uow.session, as_of=today, pool_id=pool.id)
        total = sum(held.values(), Position())
        pending, _ = pools.pending(uow, pool.id)
        figures = _returns(uow, pool.id, total, today)
        return PoolSummary(
            pool.id,
            pool.name,
            pool.strategy,
            pool.status,
            pool.currency,
            pool.target_size,
            pool.hard_cap,
            pool.close_date,
            total.commitment,
            quantize(pending, pool.currency),
            _investors(uow, pool.id, held),
            total.called,
            total.paid_in,
            total.outstanding,
            total.distributions,
            total.nav,
            figures.irr,
            figures.tvpi,
            pool.version,
        )

    return _cached(uow, "summary", pool, today, compute, lambda data: _load(PoolSummary, data))


@audits_refused_reads
def my_pools(actor: Actor, uow: UnitOfWork) -> list[PoolSummary]:
    """Every pool this manager runs, newest first (an order no action changes), with fundraising,
    capital and returns figures as of today."""
    require_role(actor, FUND_MANAGER)
    mine = uow.session.execute(
        select(Pool).where(managed_by(actor.user_id)).order_by(Pool.id.desc())
    ).scalars()
    today = clock.today()
    return [_summary(uow, pool, today) for pool in mine]


# --- commitments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingCommitment:
    id: int
    version: int
    investor_id: int
    investor_name: str
    kyc_status: str
    amount_requested: Decimal
    submitted_on: date


@dataclass(frozen=True)
class Decided:
    """Decided commitments as columns: thousands of rows without a Python object per row."""

    investor_names: list[str]
    requested: list[Decimal]
    accepted: list[Decimal | None]
    statuses: list[str]
    commitment_ids: list[int]

    def __len__(self) -> int:
        return len(self.commitment_ids)


@dataclass(frozen=True)
class CommitmentBook:
    pool: PoolView
    committed: Decimal  # accepted, as booked in the ledger
    pending_total: Decimal
    room: Decimal  # left under the hard cap
    investors: int
    pending: list[PendingCommitment]
    decided: Decided


def _commitment_rows(uow: UnitOfWork, pool: Pool) -> Sequence[Any]:
    return uow.session.execute(
        select(
            Commitment.id,
            Commitment.version,
            Commitment.investor_id,
            User.name,
            User.kyc_status,
            Commitment.amount_requested,
            Commitment.amount_accepted,
            Commitment.status,
            Commitment.created_at,
        )
        .join(User, User.id == Commitment.investor_id)
        .where(Commitment.pool_id == pool.id)
        .order_by(Commitment.id)
    ).all()


@audits_refused_reads
def commitment_book(actor: Actor, uow: UnitOfWork, pool_id: int) -> CommitmentBook:
    """A pool's commitments for review: the pending ones with their versions, the decided as columns."""
    pool, today = _managed(actor, uow, pool_id), clock.today()
    currency = pool.currency
    rows = _commitment_rows(uow, pool)
    pending = [
        PendingCommitment(
            r.id,
            r.version,
            r.investor_id,
            r.name,
            r.kyc_status,
            quantize(r.amount_requested, currency),
            r.created_at.date(),
        )
        for r in rows
        if r.status == CommitmentStatus.PENDING
    ]
    decided = [r for r in rows if r.status != CommitmentStatus.PENDING]
    held = read_model.positions(uow.session, as_of=today, pool_id=pool.id, lines=(Line.COMMITMENT,))
    committed = sum((p.commitment for p in held.values()), ZERO)
    return CommitmentBook(
        PoolView.of(pool),
        committed,
        sum((c.amount_requested for c in pending), ZERO),
        max(pool.hard_cap - committed, ZERO),
        _investors(uow, pool.id, held),
        pending,
        Decided(
            [r.name for r in decided],
            [quantize(r.amount_requested, currency) for r in decided],
            [None if r.amount_accepted is None else quantize(r.amount_accepted, currency) for r in decided],
            [str(r.status) for r in decided],
            [r.id for r in decided],
        ),
    )


@dataclass(frozen=True)
class ScaleDownRow:
    commitment_id: int
    investor_name: str
    requested: Decimal
    proposed: Decimal


@dataclass(frozen=True)
class ScaleDownPlan:
    pool_id: int
    currency: str
    room: Decimal
    rows: list[ScaleDownRow]
    pool_version: int

    @property
    def requested(self) -> Decimal:
        return sum((row.requested for row in self.rows), ZERO)

    @property
    def proposed(self) -> Decimal:
        return sum((row.proposed for row in self.rows), ZERO)

    @property
    def fits(self) -> bool:
        return self.requested <= self.room

    @property
    def accepted(self) -> list[ScaleDownRow]:
        return [row for row in self.rows if row.proposed > 0]

    @property
    def left_out(self) -> list[ScaleDownRow]:
        return [row for row in self.rows if row.proposed == 0]


@audits_refused_reads
def scale_down_plan(actor: Actor, uow: UnitOfWork, pool_id: int) -> ScaleDownPlan:
    """Every pending commitment cut pro rata (core.fundmath.scale_down) to fit the room under the
    hard cap; one under the minimum ticket is left out."""
    pool = _managed(actor, uow, pool_id)
    if pool.status not in (PoolStatus.OPEN, PoolStatus.CLOSED):
        raise InvalidState(f"commitments cannot be accepted while the pool is {label(pool.status)}")
    book = commitment_book(actor, uow, pool_id)
    if not book.pending:
        raise InvalidState("there are no pending commitments to accept")
    requests = {c.id: c.amount_requested for c in book.pending}
    proposed = scale_down(requests, book.room, pool.min_ticket, minor_unit(pool.currency))
    rows = [ScaleDownRow(c.id, c.investor_name, requests[c.id], proposed[c.id]) for c in book.pending]
    if not any(row.proposed for row in rows):
        raise InvalidState(
            f"no pending commitment fits: {money(book.room, pool.currency)} is left under the hard cap "
            f"and the minimum ticket is {money(pool.min_ticket, pool.currency)}"
        )
    return ScaleDownPlan(pool.id, pool.currency, book.room, rows, pool.version)


# --- capital calls ----------------------------------------------------------------------------------


def call_name(number: int, purpose: str) -> str:
    """How a call is named to people: Capital call 2 (Q4 follow-on)."""
    return f"Capital call {number} ({purpose})" if purpose else f"Capital call {number}"


@dataclass(frozen=True)
class CallSummary:
    id: int
    version: int
    number: int
    purpose: str
    call_date: date
    due_date: date
    amount: Decimal
    status: str
    items: int
    items_paid: int
    paid: Decimal
    outstanding: Decimal
    overdue_items: int
    overdue: Decimal  # outstanding on items past their due date

    @property
    def name(self) -> str:
        return call_name(self.number, self.purpose)

    @property
    def payable(self) -> bool:
        return self.status in (CallStatus.ISSUED, CallStatus.PARTIALLY_PAID)


@dataclass(frozen=True)
class CallBook:
    pool: PoolView
    as_of: date
    calls: list[CallSummary]
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal

    @property
    def overdue(self) -> Decimal:
        return sum((c.overdue for c in self.calls), ZERO)


def _calls(uow: UnitOfWork, pool: Pool, today: date, call_id: int | None = None) -> list[CallSummary]:
    """The pool's calls (or one), newest first, each with its items' figures as of today."""
    outstanding = CallItem.amount_due - CallItem.amount_paid
    late = (CallItem.status != CallItemStatus.CANCELLED) & (outstanding > 0) & (CapitalCall.due_date < today)
    query = (
        select(
            CapitalCall.id,
            CapitalCall.version,
            CapitalCall.number,
            CapitalCall.purpose,
            CapitalCall.call_date,
            CapitalCall.due_date,
            CapitalCall.amount,
            CapitalCall.status,
            func.count(CallItem.id),
            func.count(CallItem.id).filter(CallItem.status == CallItemStatus.PAID),
            func.coalesce(func.sum(CallItem.amount_paid), 0),
            func.coalesce(func.sum(outstanding).filter(CallItem.status != CallItemStatus.CANCELLED), 0),
            func.count(CallItem.id).filter(late),
            func.coalesce(func.sum(outstanding).filter(late), 0),
        )
        .outerjoin(CallItem, CallItem.call_id == CapitalCall.id)
        .where(CapitalCall.pool_id == pool.id, CapitalCall.status != CallStatus.CANCELLED)
        .group_by(CapitalCall.id)
        .order_by(CapitalCall.number.desc(), CapitalCall.id.desc())
    )
    if call_id is not None:
        query = query.where(CapitalCall.id == call_id)
    cur = pool.currency
    return [
        CallSummary(
            *r[:6],
            quantize(r[6], cur),
            str(r[7]),
            r[8],
            r[9],
            quantize(r[10], cur),
            quantize(r[11], cur),
            r[12],
            quantize(r[13], cur),
        )
        for r in uow.session.execute(query).all()
    ]


@audits_refused_reads
def call_book(actor: Actor, uow: UnitOfWork, pool_id: int) -> CallBook:
    """A pool's capital calls, newest first, with what is paid, outstanding and overdue on each
    (from their items), and the pool's totals from the ledger as of today."""
    pool, today = _managed(actor, uow, pool_id), clock.today()
    total = read_model.total(uow.session, as_of=today, pool_id=pool.id)
    return CallBook(
        PoolView.of(pool), today, _calls(uow, pool, today), total.called, total.paid_in, total.outstanding
    )


@dataclass(frozen=True)
class InvestorBalance:
    investor_id: int
    investor_name: str
    commitment: Decimal
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal
    unfunded: Decimal  # ILPA: commitment - called


@audits_refused_reads
def investor_balances(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[InvestorBalance]:
    """Per investor across all calls, as of today; most owed first."""
    pool = _managed(actor, uow, pool_id)
    held = read_model.positions(
        uow.session,
        as_of=clock.today(),
        pool_id=pool.id,
        lines=(Line.COMMITMENT, Line.CALLED, Line.CONTRIBUTIONS),
    )
    names = pools.gp_named(uow, pool.id, _names(uow, held))
    ordered = sorted(held.items(), key=lambda kv: (-kv[1].outstanding, names.get(kv[0], ""), kv[0]))
    return [
        InvestorBalance(i, names.get(i, ""), p.commitment, p.called, p.paid_in, p.outstanding, p.unfunded)
        for i, p in ordered
        if p.commitment or p.called
    ]


@dataclass(frozen=True)
class CallItemRow:
    id: int
    version: int
    investor_id: int
    investor_name: str
    email: str
    amount_due: Decimal
    amount_paid: Decimal
    status: str
    overdue: bool

    @property
    def outstanding(self) -> Decimal:
        return self.amount_due - self.amount_paid

    @property
    def shown_status(self) -> str:
        """Overdue is not a status of its own: an open or part-paid item past its due date."""
        return "Overdue" if self.overdue else label(self.status).capitalize()


@dataclass(frozen=True)
class CallItems:
    """One call's items, one per investor, with the versions a payment form binds to."""

    call: CallSummary
    currency: str
    items: list[CallItemRow]

    @property
    def payable(self) -> list[CallItemRow]:
        """The items a payment can still be recorded against."""
        if not self.call.payable:
            return []
        return [i for i in self.items if i.outstanding > 0 and i.status != CallItemStatus.CANCELLED]

    @property
    def overdue(self) -> list[CallItemRow]:
        return [i for i in self.items if i.overdue]


def _call(actor: Actor, uow: UnitOfWork, call_id: object) -> tuple[CapitalCall, Pool]:
    require_role(actor, FUND_MANAGER)
    call = None
    if isinstance(call_id, int) and not isinstance(call_id, bool):
        call = uow.session.get(CapitalCall, call_id)
    if call is None:
        raise NotFound("no such capital call")
    return call, _managed(actor, uow, call.pool_id)


@audits_refused_reads
def call_items(actor: Actor, uow: UnitOfWork, call_id: int) -> CallItems:
    """One call's items with what each investor has paid and whether it is overdue today."""
    call, pool = _call(actor, uow, call_id)
    today, cur = clock.today(), pool.currency
    [summary] = _calls(uow, pool, today, call.id)
    rows = uow.session.execute(
        select(
            CallItem.id,
            CallItem.version,
            CallItem.investor_id,
            User.name,
            User.email,
            CallItem.amount_due,
            CallItem.amount_paid,
            CallItem.status,
        )
        .join(User, User.id == CallItem.investor_id)
        .where(CallItem.call_id == call.id)
        .order_by(User.name, CallItem.id)
    ).all()
    items = [
        CallItemRow(
            r.id,
            r.version,
            r.investor_id,
            r.name,
            r.email,
            quantize(r.amount_due, cur),
            quantize(r.amount_paid, cur),
            str(r.status),
            r.status not in (CallItemStatus.PAID, CallItemStatus.CANCELLED)
            and r.amount_due > r.amount_paid
            and call.due_date < today,
        )
        for r in rows
    ]
    return CallItems(summary, cur, items)


@dataclass(frozen=True)
class PaymentRow:
    investor_name: str
    amount: Decimal
    reference: str
    paid_on: date
    reversed_on: date | None
    reason: str | None  # why it was reversed


# The reason a fact was reversed: the memo of the journal that reverses the fact's first journal.
_REASONS = text(
    """SELECT DISTINCT ON (o.operation_id) o.operation_id, r.memo
         FROM journals r JOIN journals o ON o.id = r.reverses_id
        WHERE o.pool_id = :pool AND o.operation_id = ANY(CAST(:ops AS uuid[]))
        ORDER BY o.operation_id, r.id"""
)


def _reasons(uow: UnitOfWork, pool_id: int, operation_ids: Sequence[Any]) -> dict[Any, str]:
    if not operation_ids:
        return {}
    rows = uow.session.execute(_REASONS, {"pool": pool_id, "ops": [str(o) for o in operation_ids]})
    return {op: memo.removeprefix("Reversed: ") for op, memo in rows}


@audits_refused_reads
def call_payments(actor: Actor, uow: UnitOfWork, call_id: int) -> list[PaymentRow]:
    """The payments recorded against one call, newest first, reversed ones with their reason."""
    call, pool = _call(actor, uow, call_id)
    rows = uow.session.execute(
        select(
            Payment.operation_id,
            User.name,
            Payment.amount,
            Payment.reference,
            Payment.paid_on,
            Payment.reversed_on,
        )
        .join(CallItem, CallItem.id == Payment.call_item_id)
        .join(User, User.id == Payment.investor_id)
        .where(CallItem.call_id == call.id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
    ).all()
    reasons = _reasons(uow, pool.id, [r.operation_id for r in rows if r.reversed_on is not None])
    return [
        PaymentRow(
            r.name,
            quantize(r.amount, pool.currency),
            r.reference,
            r.paid_on,
            r.reversed_on,
            reasons.get(r.operation_id),
        )
        for r in rows
    ]


NOTICE_COLUMNS = [
    "pool",
    "call",
    "call_date",
    "due_date",
    "purpose",
    "investor_id",
    "investor_name",
    "email",
    "currency",
    "commitment",
    "amount_due",
    "amount_paid",
    "outstanding",
    "status",
]


@audits_refused_reads
def call_notice_csv(actor: Actor, uow: UnitOfWork, call_id: int) -> str:
    """The call notice as CSV, one row per investor: what is due, by when, and what is paid.

    Amounts at the currency's precision, dates ISO; every cell goes through the one CSV neutraliser
    (core.csvsafe). The email and investor_id columns are what a bank statement names a payer by."""
    call, pool = _call(actor, uow, call_id)
    view = call_items(actor, uow, call.id)
    committed = read_model.positions(
        uow.session, as_of=clock.today(), pool_id=pool.id, lines=(Line.COMMITMENT,)
    )
    return csv_text(
        NOTICE_COLUMNS,
        (
            [
                pool.name,
                call.number,
                call.call_date.isoformat(),
                call.due_date.isoformat(),
                call.purpose,
                item.investor_id,
                item.investor_name,
                item.email,
                pool.currency,
                quantize(committed.get(item.investor_id, Position()).commitment, pool.currency),
                item.amount_due,
                item.amount_paid,
                item.outstanding,
                item.shown_status.lower(),
            ]
            for item in view.items
        ),
    )


# --- portfolio --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkRow:
    company: str
    marked_on: date
    value: Decimal
    change: Decimal
    note: str


@dataclass(frozen=True)
class ExpenseRow:
    incurred_on: date
    category: str  # its label
    amount: Decimal
    memo: str


@dataclass(frozen=True)
class NavPoint:
    on: date
    nav: Decimal
    portfolio_value: Decimal
    cash: Decimal


@dataclass(frozen=True)
class HeldCompany:
    """A holding as a valuation or exit form picks it: by its company's id."""

    id: int
    name: str
    cost: Decimal
    value: Decimal
    last_mark_on: date | None


@dataclass(frozen=True)
class PortfolioView:
    pool: PoolView
    as_of: date
    books: PoolBooks
    realized: Decimal  # every exit's proceeds above its cost, as booked to the investors
    holdings: list[Holding]
    marks: list[MarkRow]
    expenses: list[ExpenseRow]
    history: list[NavPoint]

    @property
    def held(self) -> list[HeldCompany]:
        """The companies still held: what a valuation or an exit can act on."""
        return [
            HeldCompany(h.company_id, h.company, h.cost, h.value, h.last_mark_on)
            for h in self.holdings
            if h.held
        ]


def _marks(uow: UnitOfWork, pool_id: int, today: date) -> list[MarkRow]:
    rows = uow.session.execute(
        select(PortfolioCompany.name, Mark.marked_on, Mark.value, Mark.change, Mark.note)
        .join(PortfolioCompany, PortfolioCompany.id == Mark.company_id)
        .where(Mark.pool_id == pool_id, Mark.marked_on <= today)
        .where(Mark.reversed_on.is_(None) | (Mark.reversed_on > today))
        .order_by(Mark.marked_on.desc(), Mark.id.desc())
    ).all()
    return [MarkRow(*row) for row in rows]


def _expenses(uow: UnitOfWork, pool_id: int, today: date) -> list[ExpenseRow]:
    """The fund expenses standing today (a reversed one is gone from the books, so from here too)."""
    rows = uow.session.execute(
        select(FundExpense.incurred_on, FundExpense.category, FundExpense.amount, FundExpense.memo)
        .where(FundExpense.pool_id == pool_id, FundExpense.incurred_on <= today)
        .where(FundExpense.reversed_on.is_(None) | (FundExpense.reversed_on > today))
        .order_by(FundExpense.incurred_on.desc(), FundExpense.id.desc())
    ).all()
    return [
        ExpenseRow(on, ExpenseCategory(category).label, amount, memo) for on, category, amount, memo in rows
    ]


def nav_history(uow: UnitOfWork, pool_id: int, as_of: date) -> list[NavPoint]:
    """NAV, portfolio value and cash at the end of each day anything was booked, up to as_of: each
    journal counts from its own date."""
    points, books = [], {line: ZERO for line in BOOK_LINES}
    for day, moved in read_model.daily(uow.session, as_of=as_of, pool_id=pool_id, lines=BOOK_LINES):
        for line, amount in moved.items():
            books[line] += amount
        state = PoolBooks(*(books[line] for line in BOOK_LINES))
        points.append(NavPoint(day, state.nav, state.portfolio_value, state.cash))
    return points


@audits_refused_reads
def portfolio(actor: Actor, uow: UnitOfWork, pool_id: int) -> PortfolioView:
    """The pool's books, holdings at their latest marks, marks, and NAV history, as of today."""
    pool, today = _managed(actor, uow, pool_id), clock.today()
    realized = read_model.total(uow.session, as_of=today, pool_id=pool.id).realized_gain
    return PortfolioView(
        PoolView.of(pool),
        today,
        read_model.pool_books(uow.session, pool.id, as_of=today),
        realized,
        investments.holdings(uow, pool.id, as_of=today),
        _marks(uow, pool.id, today),
        _expenses(uow, pool.id, today),
        nav_history(uow, pool.id, today),
    )


# --- distributions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PastDistribution:
    distributed_on: date
    memo: str
    proceeds: Decimal
    lp: Decimal
    gp: Decimal
    reversed_on: date | None
    reason: str | None
    id: int = 0  # the distribution's: who was notified of it (core.services.notices.notified)
    deal: str | None = None  # the deal it paid out, in a deal-by-deal pool


@audits_refused_reads
def distributions(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[PastDistribution]:
    """Distributions made so far, newest first: the investors' part and the carried interest;
    reversed ones stay listed with when and why."""
    pool = _managed(actor, uow, pool_id)
    rows = (
        uow.session.execute(
            select(Distribution)
            .where(Distribution.pool_id == pool.id)
            .order_by(Distribution.distributed_on.desc(), Distribution.id.desc())
        )
        .scalars()
        .all()
    )
    reasons = _reasons(uow, pool.id, [d.operation_id for d in rows if d.reversed_on is not None])
    deals = dict(
        uow.session.execute(
            select(PortfolioCompany.id, PortfolioCompany.name).where(PortfolioCompany.pool_id == pool.id)
        ).all()
    )
    cur = pool.currency
    return [
        PastDistribution(
            d.distributed_on,
            d.memo,
            quantize(d.proceeds, cur),
            quantize(d.lp_total, cur),
            quantize(d.gp_total, cur),
            d.reversed_on,
            reasons.get(d.operation_id),
            d.id,
            None if d.company_id is None else deals.get(d.company_id),
        )
        for d in rows
    ]


# --- corrections ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reversed:
    """A fact that was corrected: what it was, and when and why it was reversed."""

    label: str
    on: date
    description: str
    amount: Decimal
    reversed_on: date
    reason: str


_REVERSED = text(
    """SELECT kind, operation_id, on_day, amount, description, reversed_on FROM (
         SELECT 'payment' AS kind, p.operation_id, p.paid_on AS on_day, p.amount,
                u.name || ', capital call ' || c.number
                       || coalesce(' (wire ' || nullif(p.reference, '') || ')', '') AS description,
                p.reversed_on
           FROM payments p JOIN users u ON u.id = p.investor_id
           JOIN call_items i ON i.id = p.call_item_id JOIN capital_calls c ON c.id = i.call_id
          WHERE p.pool_id = :pool AND p.reversed_on IS NOT NULL
         UNION ALL
         SELECT 'management_fee', f.operation_id, f.period_end, f.total,
                'for ' || f.period_start || ' to ' || f.period_end, f.reversed_on
           FROM fee_charges f WHERE f.pool_id = :pool AND f.reversed_on IS NOT NULL
         UNION ALL
         SELECT 'valuation', m.operation_id, m.marked_on, m.change,
                co.name || coalesce(' (' || nullif(m.note, '') || ')', ''), m.reversed_on
           FROM marks m JOIN portfolio_companies co ON co.id = m.company_id
          WHERE m.pool_id = :pool AND m.reversed_on IS NOT NULL
         UNION ALL
         SELECT 'investment', v.operation_id, v.invested_on, v.amount, co.name, v.reversed_on
           FROM investments v JOIN portfolio_companies co ON co.id = v.company_id
          WHERE v.pool_id = :pool AND v.reversed_on IS NOT NULL
         UNION ALL
         SELECT 'exit', x.operation_id, x.exited_on, x.proceeds, co.name, x.reversed_on
           FROM exits x JOIN portfolio_companies co ON co.id = x.company_id
          WHERE x.pool_id = :pool AND x.reversed_on IS NOT NULL
         UNION ALL
         SELECT 'distribution', d.operation_id, d.distributed_on, d.proceeds, d.memo, d.reversed_on
           FROM distributions d WHERE d.pool_id = :pool AND d.reversed_on IS NOT NULL) facts
        ORDER BY reversed_on DESC, on_day DESC"""
)


@dataclass(frozen=True)
class CorrectionsView:
    pool: PoolView
    correctable: list[corrections.Correctable]
    reversed: list[Reversed]


@audits_refused_reads
def corrections_of(actor: Actor, uow: UnitOfWork, pool_id: int) -> CorrectionsView:
    """What the manager can still reverse (newest first, blocked ones saying why), and what was."""
    pool = _managed(actor, uow, pool_id)
    rows = uow.session.execute(_REVERSED, {"pool": pool.id}).all()
    reasons = _reasons(uow, pool.id, [r.operation_id for r in rows])
    done = [
        Reversed(
            corrections.LABELS[r.kind],
            r.on_day,
            r.description,
            quantize(r.amount, pool.currency),
            r.reversed_on,
            reasons.get(r.operation_id, ""),
        )
        for r in rows
    ]
    return CorrectionsView(PoolView.of(pool), corrections.correctable(actor, uow, pool.id), done)


# --- dashboard --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    on: date
    committed: Decimal
    called: Decimal
    paid_in: Decimal
    distributed: Decimal
    nav: Decimal


@dataclass(frozen=True)
class InvestorShare:
    investor_name: str
    commitment: Decimal
    share: Decimal  # of all commitments, as a fraction


@dataclass(frozen=True)
class Dashboard:
    pool_id: int
    name: str
    status: str
    currency: str
    version: int
    as_of: date
    target_size: Decimal
    hard_cap: Decimal
    committed: Decimal
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal
    unfunded: Decimal
    distributed: Decimal
    carry: Decimal
    fees: Decimal
    expenses: Decimal
    nav: Decimal
    cash: Decimal
    investors: int
    irr: Decimal | None
    tvpi: Decimal | None
    dpi: Decimal | None
    rvpi: Decimal | None
    series: list[SeriesPoint]
    top: list[InvestorShare]
    gp_committed: Decimal = ZERO  # of `committed`, the GP's own commitment (no carry, no fees)

    def top_share(self, n: int) -> Decimal:
        """The n largest investors' share of commitments, as a fraction."""
        return sum((row.share for row in self.top[:n]), ZERO)


_SERIES_LINES = (Line.COMMITMENT, Line.CALLED, *NAV_LINES)


def series(uow: UnitOfWork, pool_id: int, as_of: date) -> list[SeriesPoint]:
    """Committed, called, paid-in, distributed and NAV at the end of each day anything was booked,
    up to as_of: each journal counts from its own date."""
    running, points = Position(), []
    for day, moved in read_model.daily(uow.session, as_of=as_of, pool_id=pool_id, lines=_SERIES_LINES):
        running += Position(**{line.value: moved.get(line, ZERO) for line in CAPITAL_LINES})
        points.append(
            SeriesPoint(
                day, running.commitment, running.called, running.paid_in, running.distributions, running.nav
            )
        )
    return points


def _top(uow: UnitOfWork, held: dict[int, Position], limit: int) -> list[InvestorShare]:
    committed = {i: p.commitment for i, p in held.items() if p.commitment > 0}
    total = sum(committed.values(), ZERO)
    if not total:
        return []
    largest = sorted(committed.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    names = _names(uow, [i for i, _ in largest])
    return [InvestorShare(names.get(i, ""), amount, amount / total) for i, amount in largest]


def _load_dashboard(data: dict[str, Any]) -> Dashboard:
    board = _load(Dashboard, data)
    return Dashboard(
        **{
            **{f.name: getattr(board, f.name) for f in fields(Dashboard)},
            "series": [_load(SeriesPoint, point) for point in data["series"]],
            "top": [InvestorShare(**row) for row in data["top"]],
        }
    )


@audits_refused_reads
def dashboard(actor: Actor, uow: UnitOfWork, pool_id: int, top: int = 10) -> Dashboard:
    """Headline figures, capital over time and investor concentration, as of today; cached by the
    pool's version and the day."""
    pool, today = _managed(actor, uow, pool_id), clock.today()
    top = max(1, min(int(top), 50))

    def compute() -> Dashboard:
        held = read_model.positions(uow.session, as_of=today, pool_id=pool.id)
        total = sum(held.values(), Position())
        figures = _returns(uow, pool.id, total, today)
        gp = pools.gp_investors(uow, pool.id)
        return Dashboard(
            pool.id,
            pool.name,
            pool.status,
            pool.currency,
            pool.version,
            today,
            pool.target_size,
            pool.hard_cap,
            total.commitment,
            total.called,
            total.paid_in,
            total.outstanding,
            total.unfunded,
            total.distributions,
            total.carried_interest,
            total.management_fees,
            total.fund_expenses,
            total.nav,
            read_model.pool_books(uow.session, pool.id, as_of=today).cash,
            _investors(uow, pool.id, held),
            figures.irr,
            figures.tvpi,
            figures.dpi,
            figures.rvpi,
            series(uow, pool.id, today),
            _top(uow, held, top),
            sum((held[i].commitment for i in gp if i in held), ZERO),
        )

    return _cached(uow, f"dashboard:top{top}", pool, today, compute, _load_dashboard)


# --- carried interest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CarryStatement:
    """The GP's carried interest in one pool as of a day (docs/figures.md, "Carry statement").

    None where a figure does not exist: accrued carry and carry due before any capital is paid in,
    the clawback exposure before any distribution (no carry has been paid that could be clawed back).
    """

    pool_id: int
    name: str
    currency: str
    as_of: date
    carry_rate: Decimal
    hurdle_rate: Decimal
    catch_up_rate: Decimal
    hurdle_accrual: str
    escrow_rate: Decimal
    waterfall_model: str  # carry paid on the whole fund, or deal by deal (core.vocabulary.WaterfallModel)
    paid_in: Decimal  # the investors' contributions: the capital the waterfall returns first
    distributed: Decimal  # to the investors, carry not included
    wind_up_proceeds: Decimal  # NAV (never below zero): what selling every holding at its mark pays out
    carry_received: Decimal  # the ledger's carried-interest line
    carry_in_escrow: Decimal  # the part of carry received the pool still holds (the ledger's line)
    accrued_carry: Decimal | None
    carry_due: Decimal | None
    clawback_exposure: Decimal | None

    @property
    def escrow_held(self) -> bool:
        """Whether the pool's terms hold any carry in escrow."""
        return self.escrow_rate > 0 or self.carry_in_escrow > 0


def _carry_statement(uow: UnitOfWork, pool: Pool, as_of: date) -> CarryStatement:
    """NAV as the proceeds of winding up on as_of, through the waterfall as a distribution of them
    would go (core.services.distributions.wind_up); carry received from the ledger's line."""
    total = read_model.total(uow.session, as_of=as_of, pool_id=pool.id)
    books = read_model.pool_books(uow.session, pool.id, as_of=as_of)
    proceeds = quantize(max(books.nav, ZERO), pool.currency)
    received = quantize(total.carried_interest, pool.currency)
    escrow = quantize(books.carry_in_escrow, pool.currency)
    nothing = ZERO * minor_unit(pool.currency)
    accrued = due = exposure = None
    if total.paid_in > 0:
        due = sum((each.carry_due for each in wind_up(uow, pool, proceeds, as_of).values()), nothing)
        owed = clawback(received, due, escrow, currency=pool.currency)
        accrued = max(due - received, nothing)
        if total.distributions or received:
            exposure = owed.exposure
    return CarryStatement(
        pool.id,
        pool.name,
        pool.currency,
        as_of,
        pool.carry_rate,
        pool.hurdle_rate,
        pool.catch_up_rate,
        pool.hurdle_accrual,
        pool.escrow_rate,
        pool.waterfall_model,
        quantize(total.paid_in, pool.currency),
        quantize(total.distributions, pool.currency),
        proceeds,
        received,
        escrow,
        accrued,
        due,
        exposure,
    )


@audits_refused_reads
def carry_statement(actor: Actor, uow: UnitOfWork, pool_id: int, on: date | None = None) -> CarryStatement:
    """The GP's carry statement as of `on` (today by default): carry received, in escrow, accrued
    (as if every holding were sold at its latest mark), carry due on the whole pool's profit and
    the clawback exposure, under the pool's terms; cached by the pool's version and the day."""
    pool = _managed(actor, uow, pool_id)
    if on is None:
        as_of = clock.today()
    elif isinstance(on, date):
        as_of = not_in_future(on, "on")
    else:
        raise ValidationError("on", "must be a date")
    return _cached(
        uow,
        "carry",
        pool,
        as_of,
        lambda: _carry_statement(uow, pool, as_of),
        lambda d: _load(CarryStatement, d),
    )
