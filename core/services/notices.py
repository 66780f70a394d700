"""Notices: what a fund sends its investors, from the ledger, as PDF and email, exactly once.

What exists: a capital call notice per investor when a call is issued, a distribution notice per
investor when a distribution is posted, a quarterly capital account statement per investor and
pool when a manager (or a scheduled job) issues a quarter, and reminders before a call item's due
date and once it is overdue, at the intervals the pool sets.

How it travels (shared/DESIGN.md, Asynchronous work 6):
1. The outbox. A notice is a row written in the transaction of what it tells of: the call's last
   batch writes one per call item, the distribution's last batch one per investor it paid (each
   by one INSERT ... SELECT, so a call over thousands of investors pays one statement for them).
   Its key makes it exist once however often that transaction is retried.
2. Rendering (jobs.notices.render_notices): batches of pending notices, locked FOR UPDATE SKIP
   LOCKED, become documents in the vault (core.services.documents) with figures read from the
   ledger's read model as of the notice's date, and turn ready (or in_app when mail is off).
3. Sending (jobs.notices.send_notice, one RQ job per notice with RQ's Retry and backoff): the job
   locks the row; only a ready row is sent, and it is marked sent in the transaction that held the
   lock while the mail server accepted it. A failed try counts in the row and waits its backoff;
   after the last one the notice is failed, shown on the operations health page, and can be sent
   round again. The sweeper re-enqueues what a killed worker or a flushed Redis lost.

Every figure comes from core.ledger.read_model as of the notice's day, so a notice equals the
investor's portal to the cent: the call's date for a call notice, the distribution's date (and its
frozen ledger, for the waterfall) for a distribution notice, the quarter's end for a statement.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Select,
    String,
    and_,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from core import clock, mail
from core.documents import render_email, render_pdf
from core.domain import (
    call_purpose,
    check_account_number,
    check_bank_code,
    check_reference_pattern,
    clean_text,
    parse_payment_reference,
    payment_reference,
)
from core.errors import Collector, InvalidState, NotFound, PermissionDenied, Stale, ValidationError
from core.fundmath import capital_account
from core.ledger import CAPITAL_LINES, Line, read_model
from core.logs import mask_secrets
from core.money import quantize, to_decimal
from core.operations import is_transient
from core.permissions import (
    ADMIN,
    INVESTOR,
    Actor,
    is_manager_of,
    require_manager_of,
    require_role,
)
from core.services import documents
from core.services.audit import audits_refused_reads, records_refusals
from core.services.pools import load_pool
from core.settings import settings
from core.uow import UnitOfWork
from core.vocabulary import (
    CallPurpose,
    DocumentKind,
    FeeBasis,
    NoticeKind,
    NoticeStatus,
    label,
)
from db.models import (
    CallItem,
    CapitalCall,
    Distribution,
    Document,
    FeeCharge,
    Journal,
    Notice,
    NoticeBatch,
    Operation,
    Pool,
    User,
)

log = logging.getLogger("investment_pools.notices")
ZERO = Decimal(0)
RENDER_JOB = "jobs.notices.render_notices"
SEND_JOB = "jobs.notices.send_notice"
# Notices per render transaction: an operation waiting for the worker waits for at most one batch
# (jobs.notices), some 0.4 s at 5 (20 made it wait 1.5 s, 3 s and more on a busy machine, for a
# throughput only some 5% higher); a killed worker redoes at most this many.
RENDER_BATCH = 5
RENDER_SHARE = 400  # notices per render job triggered (a PDF takes some 50-100 ms to render)
RENDER_JOBS = 8  # at most this many render jobs for one cause: a worker each
SHOWN = (NoticeStatus.READY, NoticeStatus.SENT, NoticeStatus.FAILED, NoticeStatus.IN_APP)  # rendered
KIND_LABELS = {
    NoticeKind.CAPITAL_CALL: "Capital call notice",
    NoticeKind.DISTRIBUTION: "Distribution notice",
    NoticeKind.STATEMENT: "Capital account statement",
    NoticeKind.REMINDER: "Payment reminder",
    NoticeKind.OVERDUE: "Overdue payment",
}
DOCUMENT_KINDS = {
    NoticeKind.CAPITAL_CALL: DocumentKind.CAPITAL_CALL_NOTICE,
    NoticeKind.DISTRIBUTION: DocumentKind.DISTRIBUTION_NOTICE,
    NoticeKind.STATEMENT: DocumentKind.CAPITAL_ACCOUNT_STATEMENT,
}
REISSUABLE = tuple(DOCUMENT_KINDS)
PURPOSE_LABELS = {
    CallPurpose.INVESTMENTS: "Investments",
    CallPurpose.MANAGEMENT_FEES: "Management fees",
    CallPurpose.FUND_EXPENSES: "Fund expenses",
}
BASIS_LABELS = {
    FeeBasis.COMMITTED_THEN_INVESTED: "committed capital during the investment period, invested capital after it",
    FeeBasis.COMMITTED: "committed capital",
    FeeBasis.INVESTED: "invested capital",
}


# --- wire instructions and reminder intervals, per pool ---------------------------------------------


@dataclass(frozen=True)
class Wire:
    """Where an investor wires a payment, and the reference that names them."""

    bank_name: str
    account_name: str
    account_number: str
    bank_code: str
    reference: str

    @property
    def complete(self) -> bool:
        return bool(self.bank_name and self.account_name and self.account_number and self.bank_code)


@dataclass(frozen=True)
class WireInstructions:
    pool_id: int
    pool_name: str
    currency: str
    bank_name: str
    account_name: str
    account_number: str  # an IBAN (compact) or an account number
    bank_code: str  # a SWIFT/BIC or a routing number
    reference_pattern: str
    version: int  # the pool's: a form carries it, and a pool changed since is refused as stale

    @property
    def complete(self) -> bool:
        return bool(self.bank_name and self.account_name and self.account_number and self.bank_code)

    def for_investor(self, investor_id: int, call_number: int | None = None) -> Wire:
        return Wire(
            self.bank_name,
            self.account_name,
            self.account_number,
            self.bank_code,
            payment_reference(
                self.reference_pattern, pool_id=self.pool_id, investor_id=investor_id, call_number=call_number
            ),
        )

    @classmethod
    def of(cls, pool: Pool) -> WireInstructions:
        return cls(
            pool.id,
            pool.name,
            pool.currency,
            pool.wire_bank_name or "",
            pool.wire_account_name or "",
            pool.wire_account_number or "",
            pool.wire_bank_code or "",
            pool.payment_reference_pattern,
            pool.version,
        )


def _may_read_pool_notices(actor: Actor, uow: UnitOfWork, pool: Pool) -> None:
    """The pool's manager, an admin, or an investor in the pool."""
    if actor.is_system or actor.role == ADMIN:
        return
    if is_manager_of(actor, uow, pool):
        return
    if actor.role == INVESTOR and documents.is_member(uow, pool.id, actor.user_id):
        return
    raise PermissionDenied("you may not see this pool's wire instructions")


@audits_refused_reads
def wire_instructions(actor: Actor, uow: UnitOfWork, pool_id: int) -> WireInstructions:
    """The pool's wire instructions, for its manager (the form) and its investors (to pay)."""
    pool = load_pool(uow, pool_id)
    _may_read_pool_notices(actor, uow, pool)
    return WireInstructions.of(pool)


def _unchanged(pool: Pool, version: int | None) -> None:
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since the page was shown; look at it again. Nothing was changed")


@records_refusals("pool.wire_instructions", "pool")
def set_wire_instructions(
    actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any], *, version: int | None = None
) -> WireInstructions:
    """The manager sets where investors wire to: bank_name, account_name, account_number (an IBAN,
    whose check digits must match, or another account number), bank_code (a SWIFT/BIC or a 9-digit
    routing number) and reference_pattern (with {investor}, optionally {pool} and {call}). Every
    problem is reported at once; the form carries the pool's version."""
    pool = load_pool(uow, pool_id, lock=True)
    require_manager_of(actor, uow, pool)
    _unchanged(pool, version)
    before = _wire_snapshot(pool)
    collect = Collector()
    values: dict[str, str] = {}
    for name in ("bank_name", "account_name"):
        with collect(name):
            values[name] = clean_text(request.get(name, ""), name, max_length=140)
    with collect("account_number"):
        values["account_number"] = check_account_number(request.get("account_number", ""))
    with collect("bank_code"):
        values["bank_code"] = check_bank_code(request.get("bank_code", ""))
    with collect("reference_pattern"):
        values["reference_pattern"] = check_reference_pattern(
            request.get("reference_pattern") or pool.payment_reference_pattern
        )
    collect.raise_any()
    pool.wire_bank_name = values["bank_name"]
    pool.wire_account_name = values["account_name"]
    pool.wire_account_number = values["account_number"]
    pool.wire_bank_code = values["bank_code"]
    pool.payment_reference_pattern = values["reference_pattern"]
    after = _wire_snapshot(pool)
    if after != before:
        pool.version += 1
    uow.audit(actor.user_id, "pool.wire_instructions", "pool", pool.id, before, after)
    uow.commit()
    return WireInstructions.of(pool)


def _wire_snapshot(pool: Pool) -> dict[str, Any]:
    return {
        "bank_name": pool.wire_bank_name,
        "account_name": pool.wire_account_name,
        "account_number": pool.wire_account_number,
        "bank_code": pool.wire_bank_code,
        "reference_pattern": pool.payment_reference_pattern,
    }


@dataclass(frozen=True)
class Reminders:
    pool_id: int
    days_before: tuple[int, ...]  # remind this many days before the due date (largest first)
    overdue_every_days: int | None  # then every so many days while overdue; None: never
    version: int


@audits_refused_reads
def reminders(actor: Actor, uow: UnitOfWork, pool_id: int) -> Reminders:
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    return Reminders(pool.id, tuple(pool.reminder_days_before), pool.overdue_reminder_days, pool.version)


def _days(value: object, field: str, *, upper: int) -> int:
    number = to_decimal(str(value).strip() if isinstance(value, str) else value, field)
    if number != number.to_integral_value() or not 1 <= number <= upper:
        raise ValidationError(field, f"must be whole numbers of days from 1 to {upper}", limit=upper)
    return int(number)


@records_refusals("pool.reminders", "pool")
def set_reminders(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int,
    *,
    days_before: str | Sequence[int],
    overdue_every_days: str | int | None,
    version: int | None = None,
) -> Reminders:
    """When investors are reminded of an open call item: days_before ("7, 1": seven days and one
    day before its due date; empty: never) and overdue_every_days (the day after it falls due,
    then every so many days; empty: never)."""
    pool = load_pool(uow, pool_id, lock=True)
    require_manager_of(actor, uow, pool)
    _unchanged(pool, version)
    collect = Collector()
    parts = (
        [p for p in re.split(r"[,\s]+", days_before) if p] if isinstance(days_before, str) else days_before
    )
    before: list[int] = []
    with collect("days_before"):
        before = sorted({_days(p, "days_before", upper=90) for p in parts}, reverse=True)
        if len(before) > 5:
            raise ValidationError("days_before", "may name at most 5 reminders", limit=5)
    every: int | None = None
    with collect("overdue_every_days"):
        if overdue_every_days not in (None, ""):
            every = _days(overdue_every_days, "overdue_every_days", upper=90)
    collect.raise_any()
    old = {"days_before": list(pool.reminder_days_before), "overdue_every_days": pool.overdue_reminder_days}
    pool.reminder_days_before, pool.overdue_reminder_days = before, every
    new = {"days_before": before, "overdue_every_days": every}
    if new != old:
        pool.version += 1
    uow.audit(actor.user_id, "pool.reminders", "pool", pool.id, old, new)
    uow.commit()
    return Reminders(pool.id, tuple(before), every, pool.version)


@dataclass(frozen=True)
class PaymentInstructions:
    """What an investor needs to pay one call item: the amount, the day, the wire and its reference."""

    call_item_id: int
    call_number: int
    pool_name: str
    currency: str
    outstanding: Decimal
    due_date: date
    wire: Wire  # wire.complete: False until the manager has entered the pool's instructions


@audits_refused_reads
def payment_instructions(actor: Actor, uow: UnitOfWork, item_id: int) -> PaymentInstructions:
    """The wire instructions and this investor's reference for one call item (their own only)."""
    row = uow.session.execute(
        select(CallItem, CapitalCall.number, CapitalCall.due_date, Pool)
        .join(CapitalCall, CapitalCall.id == CallItem.call_id)
        .join(Pool, Pool.id == CapitalCall.pool_id)
        .where(CallItem.id == item_id)
    ).one_or_none()
    if row is None:
        raise NotFound("no such call item")
    item, number, due, pool = row
    if not (
        actor.is_system
        or actor.role == ADMIN
        or actor.user_id == item.investor_id
        or is_manager_of(actor, uow, pool)
    ):
        raise PermissionDenied("this call item is not yours")
    return PaymentInstructions(
        item.id,
        number,
        pool.name,
        pool.currency,
        quantize(item.amount_due - item.amount_paid, pool.currency),
        due,
        WireInstructions.of(pool).for_investor(item.investor_id, number),
    )


def reference_owner(uow: UnitOfWork, pool_id: int, reference: str) -> dict[str, int] | None:
    """Whom a bank statement line's reference names under the pool's pattern ({"investor": 17,
    "call": 2, "pool": 3}); None when it names nobody of this pool. For the statement import."""
    pool = load_pool(uow, pool_id)
    found = parse_payment_reference(pool.payment_reference_pattern, reference)
    if found is None or found.get("pool", pool.id) != pool.id:
        return None
    return found


# --- the outbox: notices written in the transaction of what they tell of -----------------------------


def _enqueue_render_after_commit(uow: UnitOfWork, notices: int = 1) -> None:
    """Once committed, trigger rendering: a job per RENDER_SHARE notices (at most RENDER_JOBS), so
    that as many workers share a large call's notices (their batches are locked SKIP LOCKED)."""
    queue = uow.queue
    if queue is not None:
        jobs = max(1, min(RENDER_JOBS, -(-notices // RENDER_SHARE)))
        uow.after_commit(lambda: enqueue_render(queue, jobs=jobs))


def _write(uow: UnitOfWork, cause: str, columns: list[str], rows: Any, *, keyed: bool = False) -> int:
    """Write notices by one INSERT ... SELECT (rows: a select of `columns`) and, in the same
    statement, their batch (the range of their ids, named by its cause, which exists once); keyed
    notices written before are skipped. Triggers their rendering after commit; returns how many."""
    insert = pg_insert(Notice).from_select(columns, rows)
    if keyed:
        insert = insert.on_conflict_do_nothing(index_elements=["key"], index_where=Notice.key.is_not(None))
    written = insert.returning(Notice.id).cte("written")
    size = uow.session.execute(
        pg_insert(NoticeBatch)
        .from_select(
            ["cause", "first_id", "last_id", "size"],
            select(literal(cause), func.min(written.c.id), func.max(written.c.id), func.count())
            .select_from(written)
            .having(func.count() > 0),
        )
        .returning(NoticeBatch.size)
    ).scalar()
    if size:
        _enqueue_render_after_commit(uow, size)
    return size or 0


def capital_call_issued(uow: UnitOfWork, call: CapitalCall, *, author_id: int | None) -> None:
    """The call's last batch: one notice per call item, by one INSERT ... SELECT from call_items."""
    _write(
        uow,
        f"capital_call:{call.id}",
        ["kind", "pool_id", "investor_id", "call_id", "call_item_id", "amount", "author_id"],
        select(
            literal(NoticeKind.CAPITAL_CALL.value),
            literal(call.pool_id, BigInteger),
            CallItem.investor_id,
            CallItem.call_id,
            CallItem.id,
            CallItem.amount_due,
            literal(author_id, BigInteger),
        ).where(CallItem.call_id == call.id),
    )


def _operation_lines(
    operation_id: Any, lines: Sequence[Line], investors: Sequence[int] | None = None, **where: Any
) -> Any:
    """Each investor's lines booked by one operation's journals (of these investors), from the read model."""
    m = read_model.movements(lines=lines, **where)
    query = (
        select(m.c.investor_id, *read_model.line_sums(m, lines))
        .join(Journal, Journal.id == m.c.journal_id)
        .where(Journal.operation_id == operation_id)
        .group_by(m.c.investor_id)
    )
    return query if investors is None else query.where(m.c.investor_id.in_(investors))


def distribution_posted(uow: UnitOfWork, op: Operation, pool: Pool) -> None:
    """The distribution's last batch: one notice per investor it paid, by one INSERT ... SELECT over
    the read model's lines of its journals; the ledger it was planned on is kept with each."""
    paid = _operation_lines(
        op.id, (Line.DISTRIBUTIONS, Line.CARRIED_INTEREST), as_of=None, pool_id=pool.id
    ).subquery()
    _write(
        uow,
        f"distribution:{op.id}",
        ["kind", "pool_id", "investor_id", "operation_id", "cutoff_journal", "amount", "author_id"],
        select(
            literal(NoticeKind.DISTRIBUTION.value),
            literal(pool.id, BigInteger),
            paid.c.investor_id,
            literal(op.id),
            literal(op.payload.get("upto_journal"), BigInteger),
            paid.c[Line.DISTRIBUTIONS.value],
            literal(op.actor_id, BigInteger),
        ).where(or_(paid.c[Line.DISTRIBUTIONS.value] != 0, paid.c[Line.CARRIED_INTEREST.value] != 0)),
    )


def quarter_of(day: date) -> tuple[date, date]:
    """The calendar quarter a day falls in: its first and last day."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = (date(day.year + (first_month == 10), (first_month + 3) % 12 or 12, 1)) - timedelta(days=1)
    return start, end


def quarter_label(end: date) -> str:
    return f"Q{(end.month - 1) // 3 + 1} {end.year}"


@records_refusals("notice.statements", "pool")
def issue_statements(actor: Actor, uow: UnitOfWork, pool_id: int, quarter_end: date) -> int:
    """Issue the quarter's capital account statements of a pool: one notice per investor with a
    commitment by the quarter's end (a quarter issued before is not issued twice: see reissue).
    Returns how many were written now."""
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    if not isinstance(quarter_end, date) or quarter_of(quarter_end)[1] != quarter_end:
        raise ValidationError("quarter_end", "must be the last day of a quarter (31 March, 30 June, ...)")
    if quarter_end >= clock.today():
        raise ValidationError("quarter_end", "must be a quarter that has ended")
    start, _ = quarter_of(quarter_end)
    m = read_model.movements(as_of=quarter_end, pool_id=pool.id, lines=(Line.COMMITMENT,))
    held = select(m.c.investor_id).group_by(m.c.investor_id).having(func.sum(m.c.amount) > 0).subquery()
    written = _write(
        uow,
        f"statements:{pool.id}:{quarter_end.isoformat()}:{uuid.uuid4().hex}",
        ["key", "kind", "pool_id", "investor_id", "period_start", "period_end", "author_id"],
        select(
            literal(f"statement:{pool.id}:{quarter_end.isoformat()}:") + cast(held.c.investor_id, String),
            literal(NoticeKind.STATEMENT.value),
            literal(pool.id, BigInteger),
            held.c.investor_id,
            literal(start, Date),
            literal(quarter_end, Date),
            literal(actor.user_id, BigInteger),
        ),
        keyed=True,
    )
    uow.audit(
        actor.user_id,
        "notice.statements",
        "pool",
        pool.id,
        after={"quarter_end": quarter_end.isoformat(), "statements": written},
    )
    uow.commit()
    return written


DUE_REMINDERS = """
WITH open_items AS (
    SELECT i.id AS item_id, i.call_id, i.investor_id, c.pool_id, c.call_date, c.due_date,
           i.amount_due - i.amount_paid AS outstanding, p.reminder_days_before, p.overdue_reminder_days
      FROM call_items i
      JOIN capital_calls c ON c.id = i.call_id
      JOIN pools p ON p.id = c.pool_id
     WHERE i.status IN ('open', 'partially_paid') AND c.status IN ('issued', 'partially_paid')
       AND c.call_date < :today AND i.amount_due > i.amount_paid
       -- Reminders follow a call's notices: calls from before notices existed get none.
       AND EXISTS (SELECT 1 FROM notice_batches b WHERE b.cause = 'capital_call:' || c.id)
), due AS (
    -- Before the due date: the nearest reminder day reached, if the call was issued before it.
    SELECT o.*, 'reminder' AS kind,
           (SELECT min(d) FROM unnest(o.reminder_days_before) d
             WHERE o.due_date - :today <= d AND d < o.due_date - o.call_date) AS slot
      FROM open_items o WHERE o.due_date > :today
    UNION ALL
    -- Overdue: the day after the due date, then every overdue_reminder_days.
    SELECT o.*, 'overdue', (:today - o.due_date - 1) / o.overdue_reminder_days
      FROM open_items o WHERE o.due_date < :today AND o.overdue_reminder_days > 0
)
SELECT kind || ':' || item_id || ':' || slot, kind, pool_id, investor_id, call_id, item_id, outstanding
  FROM due WHERE slot IS NOT NULL
"""
REMINDER_COLUMNS = ["key", "kind", "pool_id", "investor_id", "call_id", "call_item_id", "amount"]


def remind(uow: UnitOfWork, today: date) -> int:
    """Write the reminders due today, set-based, each at most once (its key names the item and the
    reminder day); the caller commits. The sweeper calls this now and then."""
    rows = text(DUE_REMINDERS).bindparams(today=today).columns(*(column(name) for name in REMINDER_COLUMNS))
    return _write(
        uow, f"reminders:{today.isoformat()}:{uuid.uuid4().hex}", REMINDER_COLUMNS, rows, keyed=True
    )


# --- what each notice says: its figures from the ledger's read model -------------------------------


@dataclass(frozen=True)
class Party:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class PoolFacts:
    id: int
    name: str
    currency: str


@dataclass(frozen=True)
class FeeChargeLine:
    period_start: date
    period_end: date
    days: int
    amount: Decimal  # this investor's fee for the period, from the ledger


@dataclass(frozen=True)
class FeeCalculation:
    """How the management fee in a fee call was worked out: the terms and the charges to date."""

    rate: Decimal
    basis: str
    step_down_rate: Decimal | None
    investment_period_end: date | None
    charges: list[FeeChargeLine]

    @property
    def total(self) -> Decimal:
        return sum((c.amount for c in self.charges), ZERO)


@dataclass(frozen=True)
class CallNotice:
    """The ILPA capital call template's fields for one investor, as of the call date."""

    investor: Party
    pool: PoolFacts
    number: int
    call_date: date
    due_date: date
    purpose: str
    lines: list[tuple[str, Decimal]]  # the amount by purpose: investments, management fees, fund expenses
    total: Decimal
    commitment: Decimal
    called_before: Decimal
    called_after: Decimal
    unfunded_before: Decimal
    unfunded_after: Decimal
    wire: Wire
    fees: FeeCalculation | None
    note: str = ""

    @property
    def percent_of_commitment(self) -> Decimal | None:
        return self.total / self.commitment if self.commitment else None


@dataclass(frozen=True)
class TierLine:
    label: str
    lp: Decimal
    gp: Decimal

    @property
    def total(self) -> Decimal:
        return self.lp + self.gp


@dataclass(frozen=True)
class DistributionNotice:
    investor: Party
    pool: PoolFacts
    distributed_on: date
    memo: str
    proceeds: Decimal  # the pool's whole distribution
    share: Decimal  # this investor's share of it, before carried interest
    tiers: list[TierLine]
    distributed: Decimal  # to the investor (the ledger's distributions line)
    carried_interest: Decimal  # withheld for the GP (the ledger's carried interest line)
    contributions_to_date: Decimal
    distributions_to_date: Decimal
    note: str = ""


@dataclass(frozen=True)
class StatementRow:
    label: str
    quarter: Decimal
    year_to_date: Decimal
    inception: Decimal


@dataclass(frozen=True)
class Statement:
    investor: Party
    pool: PoolFacts
    period_start: date
    period_end: date
    quarter: str
    year_start: date
    rows: list[StatementRow]
    note: str = ""


@dataclass
class _Rendered:
    notice: Notice
    document: documents.NewDocument | None = None
    document_id: int | None = None  # an existing document (a reminder attaches the call's notice)
    template: str = ""
    figures: Any = None


def _parties(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, Party]:
    rows = uow.session.execute(select(User.id, User.name, User.email).where(User.id.in_(set(ids))))
    return {row.id: Party(row.id, row.name, row.email) for row in rows}


def _lines_for(
    uow: UnitOfWork, investors: Sequence[int], lines: Sequence[Line], **where: Any
) -> dict[int, read_model.Position]:
    """Positions of a batch of investors (only the lines asked for), from the read model."""
    m = read_model.movements(lines=lines, **where)
    query = read_model.select_positions(m, [m.c.investor_id], lines).where(m.c.investor_id.in_(investors))
    return {
        row[0]: read_model.Position(**dict(zip((line.value for line in lines), row[1:], strict=True)))
        for row in uow.session.execute(query)
    }


def series(notice: Notice) -> str:
    """The document a notice is a version of: a reissue renders the next version of the same one."""
    if notice.kind == NoticeKind.CAPITAL_CALL:
        return f"capital_call:{notice.call_id}:{notice.investor_id}"
    if notice.kind == NoticeKind.DISTRIBUTION:
        return f"distribution:{notice.operation_id}:{notice.investor_id}"
    return f"statement:{notice.pool_id}:{notice.period_end}:{notice.investor_id}"


def _rendered(
    uow: UnitOfWork, notice: Notice, template: str, figures: Any, *, title: str, filename: str
) -> _Rendered:
    """The notice's PDF from pdf/<template>.html and its figures, as the next version of its series."""
    content = render_pdf(template, {"notice": figures, "kind": notice.kind}, title=title)
    document = documents.NewDocument(
        notice.pool_id,
        notice.investor_id,
        DOCUMENT_KINDS[NoticeKind(notice.kind)],
        series(notice),
        title,
        documents.safe_filename(filename, ".pdf"),
        "application/pdf",
        content,
        notice.author_id,
        notice.note,
    )
    return _Rendered(notice, document, template=template, figures=figures)


def _fee_calculation(
    uow: UnitOfWork, pool: Pool, call: CapitalCall, investors: Sequence[int]
) -> dict[int, FeeCalculation]:
    """For a fee call: each investor's management fee charges up to the call date, from the ledger."""
    charges = list(
        uow.session.execute(
            select(FeeCharge)
            .where(
                FeeCharge.pool_id == pool.id,
                FeeCharge.period_end <= call.call_date,
                or_(FeeCharge.reversed_on.is_(None), FeeCharge.reversed_on > call.call_date),
            )
            .order_by(FeeCharge.period_start)
        ).scalars()
    )
    fees: dict[tuple[Any, int], Decimal] = {}
    if charges:
        m = read_model.movements(as_of=call.call_date, pool_id=pool.id, lines=(Line.MANAGEMENT_FEES,))
        rows = uow.session.execute(
            select(Journal.operation_id, m.c.investor_id, func.sum(m.c.amount))
            .join(Journal, Journal.id == m.c.journal_id)
            .where(
                Journal.operation_id.in_([c.operation_id for c in charges]), m.c.investor_id.in_(investors)
            )
            .group_by(Journal.operation_id, m.c.investor_id)
        )
        fees = {(operation_id, investor): amount for operation_id, investor, amount in rows}
    return {
        investor: FeeCalculation(
            pool.management_fee_rate,
            BASIS_LABELS.get(FeeBasis(pool.management_fee_basis), label(pool.management_fee_basis)),
            pool.management_fee_step_down_rate,
            pool.investment_period_end,
            [
                FeeChargeLine(
                    c.period_start,
                    c.period_end,
                    (c.period_end - c.period_start).days,
                    quantize(fees.get((c.operation_id, investor), ZERO), pool.currency),
                )
                for c in charges
            ],
        )
        for investor in investors
    }


def _call_notices(uow: UnitOfWork, batch: list[Notice], people: dict[int, Party]) -> list[_Rendered]:
    rendered = []
    by_call: dict[int, list[Notice]] = defaultdict(list)
    for notice in batch:
        by_call[notice.call_id or 0].append(notice)
    for call_id, notices in by_call.items():
        call = uow.session.get_one(CapitalCall, call_id)
        pool = uow.session.get_one(Pool, call.pool_id)
        investors = [n.investor_id for n in notices]
        after = _lines_for(
            uow, investors, (Line.COMMITMENT, Line.CALLED), as_of=call.call_date, pool_id=pool.id
        )
        this_call = {
            row[0]: row[1]
            for row in uow.session.execute(
                _operation_lines(
                    call.operation_id, (Line.CALLED,), investors, as_of=call.call_date, pool_id=pool.id
                )
            )
        }
        purpose = call_purpose(call.purpose)
        fees = _fee_calculation(uow, pool, call, investors) if purpose is CallPurpose.MANAGEMENT_FEES else {}
        wire = WireInstructions.of(pool)
        facts = PoolFacts(pool.id, pool.name, pool.currency)
        for notice in notices:
            position = after.get(notice.investor_id, read_model.Position())
            called = this_call.get(notice.investor_id, ZERO)
            if called != notice.amount:
                raise InvalidState(
                    f"capital call {call.number}'s item for investor {notice.investor_id} is not in the ledger as written"
                )

            figures = CallNotice(
                investor=people[notice.investor_id],
                pool=facts,
                number=call.number,
                call_date=call.call_date,
                due_date=call.due_date,
                purpose=call.purpose,
                lines=[
                    (text_, quantize(called, pool.currency) if p is purpose else ZERO)
                    for p, text_ in PURPOSE_LABELS.items()
                ],
                total=quantize(called, pool.currency),
                commitment=quantize(position.commitment, pool.currency),
                called_before=quantize(position.called - called, pool.currency),
                called_after=quantize(position.called, pool.currency),
                unfunded_before=quantize(position.unfunded + called, pool.currency),
                unfunded_after=quantize(position.unfunded, pool.currency),
                wire=wire.for_investor(notice.investor_id, call.number),
                fees=fees.get(notice.investor_id),
                note=notice.note,
            )
            rendered.append(
                _rendered(
                    uow,
                    notice,
                    "capital_call",
                    figures,
                    title=f"Capital call {call.number} notice: {pool.name}",
                    filename=f"{pool.name} capital call {call.number}",
                )
            )
    return rendered


def _distribution_notices(uow: UnitOfWork, batch: list[Notice], people: dict[int, Party]) -> list[_Rendered]:
    # Imported here: core.services.distributions imports this module for its outbox hook.
    from core.services import distributions

    rendered = []
    by_operation: dict[Any, list[Notice]] = defaultdict(list)
    for notice in batch:
        by_operation[notice.operation_id].append(notice)
    for operation_id, notices in by_operation.items():
        paid_out = uow.session.execute(
            select(Distribution).where(Distribution.operation_id == operation_id)
        ).scalar_one()
        pool = uow.session.get_one(Pool, paid_out.pool_id)
        on = paid_out.distributed_on
        investors = [n.investor_id for n in notices]
        booked = {
            row[0]: (row[1], row[2])
            for row in uow.session.execute(
                _operation_lines(
                    operation_id,
                    (Line.DISTRIBUTIONS, Line.CARRIED_INTEREST),
                    investors,
                    as_of=on,
                    pool_id=pool.id,
                )
            )
        }
        to_date = _lines_for(
            uow, investors, (Line.CONTRIBUTIONS, Line.DISTRIBUTIONS), as_of=on, pool_id=pool.id
        )
        facts = PoolFacts(pool.id, pool.name, pool.currency)
        for notice in notices:
            investor = notice.investor_id
            paid, carry = booked.get(investor, (ZERO, ZERO))
            # The waterfall as it was run for the posting (same proceeds, day and frozen ledger):
            # its split must be the ledger's to the cent, or the notice would not be the books'.
            split = distributions.plan(
                uow,
                pool,
                paid_out.proceeds,
                on,
                notice.cutoff_journal,
                only=[investor],
                deal=paid_out.company_id,
            )
            if (split.lp.get(investor), split.gp.get(investor)) != (paid, carry):
                raise InvalidState(
                    f"the distribution's waterfall for investor {investor} differs from the ledger"
                )
            position = to_date.get(investor, read_model.Position())
            figures = DistributionNotice(
                investor=people[investor],
                pool=facts,
                distributed_on=on,
                memo=paid_out.memo,
                proceeds=quantize(paid_out.proceeds, pool.currency),
                share=quantize(split.shares[investor], pool.currency),
                tiers=[
                    TierLine(text_, *split.tiers.get(name, (ZERO, ZERO)))
                    for name, text_ in distributions.TIER_LABELS.items()
                ],
                distributed=quantize(paid, pool.currency),
                carried_interest=quantize(carry, pool.currency),
                contributions_to_date=quantize(position.contributions, pool.currency),
                distributions_to_date=quantize(position.distributions, pool.currency),
                note=notice.note,
            )
            rendered.append(
                _rendered(
                    uow,
                    notice,
                    "distribution",
                    figures,
                    title=f"Distribution notice {on.isoformat()}: {pool.name}",
                    filename=f"{pool.name} distribution {on.isoformat()}",
                )
            )
    return rendered


SINCE_INCEPTION = date(1900, 1, 1)  # before any pool existed: the "since inception" column's start


def _statements(uow: UnitOfWork, batch: list[Notice], people: dict[int, Party]) -> list[_Rendered]:
    rendered = []
    groups: dict[tuple[int, date], list[Notice]] = defaultdict(list)
    for notice in batch:
        groups[(notice.pool_id, notice.period_end or date.min)].append(notice)
    for (pool_id, end), notices in groups.items():
        pool = uow.session.get_one(Pool, pool_id)
        start = notices[0].period_start or quarter_of(end)[0]
        year_start = date(end.year, 1, 1)
        m = read_model.movements(as_of=end, pool_id=pool.id, lines=CAPITAL_LINES)
        flows: dict[int, list[tuple[date, str, Decimal]]] = defaultdict(list)
        for investor, day, line, amount in uow.session.execute(
            select(m.c.investor_id, m.c.day, m.c.line, func.sum(m.c.amount))
            .where(m.c.investor_id.in_([n.investor_id for n in notices]))
            .group_by(m.c.investor_id, m.c.day, m.c.line)
        ):
            flows[investor].append((day, line, amount))
        facts = PoolFacts(pool.id, pool.name, pool.currency)
        for notice in notices:
            # The same statement function the portal's statements use, for each column's period.
            columns = [
                capital_account(flows[notice.investor_id], since, end).lines()
                for since in (start, year_start, SINCE_INCEPTION)
            ]
            rows = [
                StatementRow(text_, *(quantize(column[i][1], pool.currency) for column in columns))
                for i, (text_, _) in enumerate(columns[0])
            ]
            figures = Statement(
                people[notice.investor_id],
                facts,
                start,
                end,
                quarter_label(end),
                year_start,
                rows,
                notice.note,
            )
            rendered.append(
                _rendered(
                    uow,
                    notice,
                    "statement",
                    figures,
                    title=f"Capital account statement {quarter_label(end)}: {pool.name}",
                    filename=f"{pool.name} statement {quarter_label(end)}",
                )
            )
    return rendered


def notice_figures(uow: UnitOfWork, notice_id: int) -> tuple[str, Any]:
    """What a notice says, built as rendering builds it (nothing stored): its template's name and
    its figures; ("", None) for a reminder, which has no document of its own."""
    notice = uow.session.get_one(Notice, notice_id)
    [built] = BUILDERS[notice.kind](uow, [notice], _parties(uow, [notice.investor_id]))
    return built.template, built.figures


def _call_notice_documents(uow: UnitOfWork, notices: list[Notice]) -> dict[tuple[int, int], int]:
    """The latest capital call notice document of each (call, investor): what a reminder attaches."""
    series = {f"capital_call:{n.call_id}:{n.investor_id}": (n.call_id or 0, n.investor_id) for n in notices}
    rows = uow.session.execute(
        select(Document.series, func.max(Document.id))
        .where(Document.series.in_(series))
        .group_by(Document.series)
    )
    return {series[name]: document_id for name, document_id in rows}


def _reminders(uow: UnitOfWork, batch: list[Notice], people: dict[int, Party]) -> list[_Rendered]:
    attached = _call_notice_documents(uow, batch)
    return [_Rendered(n, document_id=attached.get((n.call_id or 0, n.investor_id))) for n in batch]


BUILDERS: dict[str, Callable[[UnitOfWork, list[Notice], dict[int, Party]], list[_Rendered]]] = {
    NoticeKind.CAPITAL_CALL: _call_notices,
    NoticeKind.DISTRIBUTION: _distribution_notices,
    NoticeKind.STATEMENT: _statements,
    NoticeKind.REMINDER: _reminders,
    NoticeKind.OVERDUE: _reminders,
}


def _build(
    uow: UnitOfWork, kind: str, notices: list[Notice], people: dict[int, Party]
) -> tuple[list[_Rendered], dict[int, str]]:
    """Build a kind's notices together; if that fails, one by one, so that only the culprits fail
    (with their reason, shown on the health page), never the whole batch for ever."""
    try:
        with uow.session.begin_nested():
            return BUILDERS[kind](uow, notices, people), {}
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(notices) == 1:
            return [], {notices[0].id: f"could not be rendered: {type(exc).__name__}: {str(exc)[:400]}"}
    rendered: list[_Rendered] = []
    refused: dict[int, str] = {}
    for notice in notices:
        done, failed = _build(uow, kind, [notice], people)
        rendered += done
        refused.update(failed)
    return rendered, refused


def _store(uow: UnitOfWork, rendered: list[_Rendered]) -> None:
    """Put the documents rendered so far and not stored yet in the vault."""
    waiting = [r for r in rendered if r.document is not None and r.document_id is None]
    for r, document_id in zip(
        waiting, documents.store(uow, [r.document for r in waiting if r.document]), strict=True
    ):
        r.document_id = document_id


def _pending(uow: UnitOfWork, limit: int) -> list[Notice]:
    """Up to `limit` pending notices of the open batches, locked (SKIP LOCKED: workers share the
    work). A batch with none pending left is closed, in the caller's transaction."""
    batches = uow.session.execute(
        select(NoticeBatch).where(NoticeBatch.rendered_at.is_(None)).order_by(NoticeBatch.id).limit(100)
    ).scalars()
    for batch in batches:
        waiting = and_(
            Notice.id.between(batch.first_id, batch.last_id), Notice.status == NoticeStatus.PENDING
        )
        found = list(
            uow.session.execute(
                select(Notice)
                .where(waiting)
                .order_by(Notice.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if found:
            return found
        if uow.session.execute(select(Notice.id).where(waiting).limit(1)).first() is None:
            batch.rendered_at = func.now()  # none left; those another worker holds keep it open
    return []


@dataclass(frozen=True)
class RenderedBatch:
    count: int  # notices taken (rendered, or failed to render)
    ready: list[int]  # of them, those to send now


def render_pending(uow: UnitOfWork, *, limit: int = RENDER_BATCH) -> RenderedBatch:
    """One batch of pending notices, locked (SKIP LOCKED: workers share the work): each rendered
    into the vault and made ready to send, or in_app when mail is off. The caller commits (also
    when none was found: batches found done are closed), then enqueues the ready ones."""
    batch = _pending(uow, limit)
    if not batch:
        return RenderedBatch(0, [])
    people = _parties(uow, {n.investor_id for n in batch})
    rendered: list[_Rendered] = []
    refused: dict[int, str] = {}
    # Documents first: stored before the reminders look for the call notices they attach.
    kinds = sorted({n.kind for n in batch}, key=lambda kind: (kind not in DOCUMENT_KINDS, kind))
    for kind in kinds:
        if kind not in DOCUMENT_KINDS:
            _store(uow, rendered)
        done, failed = _build(uow, kind, [n for n in batch if n.kind == kind], people)
        rendered += done
        refused.update(failed)
    _store(uow, rendered)
    mail_on = mail.enabled()
    now: Any = uow.session.scalar(select(func.now()))  # one value for every row: one batched UPDATE
    ready = []
    for r in rendered:
        notice = r.notice
        notice.document_id = r.document_id
        notice.recipient = people[notice.investor_id].email or None
        notice.status = NoticeStatus.READY if mail_on and notice.recipient else NoticeStatus.IN_APP
        notice.updated_at = now
        if notice.status == NoticeStatus.READY:
            ready.append(notice.id)
    for notice in batch:
        if notice.id in refused:
            notice.status, notice.last_error, notice.updated_at = NoticeStatus.FAILED, refused[notice.id], now
            log.warning("notice %s could not be rendered: %s", notice.id, refused[notice.id])
    return RenderedBatch(len(batch), ready)


# --- sending ------------------------------------------------------------------------------------------


class SendLater(Exception):
    """This try failed; the notice waits `wait` seconds for the next (RQ's Retry, or the sweeper)."""

    def __init__(self, reason: str, wait: int) -> None:
        super().__init__(f"{reason}; next try in {wait} s")
        self.wait = wait


@dataclass(frozen=True)
class MessageFacts:
    """What an email's template may say: the notice's facts, short of the attached document's."""

    kind: str
    title: str
    investor: Party
    pool: PoolFacts
    amount: Decimal | None
    note: str
    call_number: int | None = None
    call_date: date | None = None
    due_date: date | None = None
    outstanding: Decimal | None = None
    days: int | None = None
    distributed_on: date | None = None
    memo: str = ""
    quarter: str = ""
    period_start: date | None = None
    period_end: date | None = None
    wire: Wire | None = None
    attached: bool = False


def _title(kind: str, number: int | None, on: date | None, end: date | None) -> str:
    if kind in (NoticeKind.CAPITAL_CALL, NoticeKind.REMINDER, NoticeKind.OVERDUE):
        return f"{KIND_LABELS[NoticeKind(kind)]}: capital call {number}"
    if kind == NoticeKind.DISTRIBUTION:
        return f"Distribution notice {on.isoformat() if on else ''}".strip()
    return f"Capital account statement {quarter_label(end) if end else ''}".strip()


def _facts(uow: UnitOfWork, notice: Notice) -> MessageFacts:
    pool = uow.session.get_one(Pool, notice.pool_id)
    person = _parties(uow, [notice.investor_id])[notice.investor_id]
    facts = PoolFacts(pool.id, pool.name, pool.currency)
    common: dict[str, Any] = {
        "kind": notice.kind,
        "investor": person,
        "pool": facts,
        "amount": None if notice.amount is None else quantize(notice.amount, pool.currency),
        "note": notice.note,
        "attached": notice.document_id is not None,
    }
    if notice.call_id is not None:
        call = uow.session.get_one(CapitalCall, notice.call_id)
        item = uow.session.get(CallItem, notice.call_item_id) if notice.call_item_id else None
        outstanding = quantize(item.amount_due - item.amount_paid, pool.currency) if item else None
        today = clock.today()
        return MessageFacts(
            title=_title(notice.kind, call.number, None, None),
            call_number=call.number,
            call_date=call.call_date,
            due_date=call.due_date,
            outstanding=outstanding,
            days=abs((call.due_date - today).days),
            wire=WireInstructions.of(pool).for_investor(notice.investor_id, call.number),
            **common,
        )
    if notice.operation_id is not None:
        paid_out = uow.session.execute(
            select(Distribution).where(Distribution.operation_id == notice.operation_id)
        ).scalar_one()
        return MessageFacts(
            title=_title(notice.kind, None, paid_out.distributed_on, None),
            distributed_on=paid_out.distributed_on,
            memo=paid_out.memo,
            **common,
        )
    end = notice.period_end
    return MessageFacts(
        title=_title(notice.kind, None, None, end),
        quarter=quarter_label(end) if end else "",
        period_start=notice.period_start,
        period_end=end,
        **common,
    )


def _message(uow: UnitOfWork, notice: Notice) -> Any:
    facts = _facts(uow, notice)
    rendered = render_email(notice.kind, {"notice": facts})
    attachments = []
    if notice.document_id is not None:
        doc = uow.session.get_one(Document, notice.document_id)
        attachments.append(mail.Attachment(doc.filename, doc.content_type, doc.content))
    # Stable for the notice (a resend after a crash is recognisably the same message), unique across
    # databases that may number notices alike.
    digest = hashlib.sha256(
        f"{notice.kind}:{notice.investor_id}:{notice.created_at.isoformat()}".encode()
    ).hexdigest()[:16]
    return mail.message(
        to_name=facts.investor.name,
        to_address=notice.recipient or facts.investor.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        attachments=attachments,
        message_id=f"notice-{notice.id}-{digest}",
    )


def deliver(uow: UnitOfWork, notice_id: int) -> str:
    """Send one ready notice, once: the row is locked while the mail server takes it and marked sent
    in that same transaction; a second job for it finds it locked (busy) or sent. A failed try is
    counted; it raises SendLater while tries remain, and the notice is failed after the last one."""
    notice = uow.session.execute(
        select(Notice).where(Notice.id == notice_id).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if notice is None:
        exists = uow.session.execute(select(Notice.id).where(Notice.id == notice_id)).first()
        return "busy" if exists else "missing"
    if notice.status != NoticeStatus.READY:
        return notice.status
    if not mail.enabled():
        notice.status, notice.updated_at = NoticeStatus.IN_APP, func.now()
        uow.commit()
        return notice.status
    try:
        mail.send(_message(uow, notice))
    except Exception as exc:
        if is_transient(exc):
            raise
        reason = exc.reason if isinstance(exc, mail.SendFailed) else f"{type(exc).__name__}: {str(exc)[:400]}"
        return _failed_try(uow, notice, reason)
    notice.status, notice.sent_at, notice.updated_at = NoticeStatus.SENT, func.now(), func.now()
    notice.attempts += 1
    notice.last_error = notice.next_attempt_at = None
    uow.commit()
    log.info("notice %s (%s) sent to investor %s", notice.id, notice.kind, notice.investor_id)
    return "sent"


def _failed_try(uow: UnitOfWork, notice: Notice, reason: str) -> str:
    waits = settings().mail_retry_seconds
    notice.attempts += 1
    notice.last_error = mask_secrets(reason)[:2000]
    notice.updated_at = func.now()
    if notice.attempts > len(waits):
        notice.status, notice.next_attempt_at = NoticeStatus.FAILED, None
        uow.commit()
        log.warning("notice %s failed after %d tries: %s", notice.id, notice.attempts, reason)
        return notice.status
    wait = waits[notice.attempts - 1]
    notice.next_attempt_at = func.now() + timedelta(seconds=wait)
    uow.commit()
    raise SendLater(reason, wait)


# --- jobs: triggers after commit, and what the sweeper finds lost -----------------------------------


def notices_queue(queue: Any) -> Any:
    """The queue notices are rendered and sent through, named after the operations queue: workers
    listen to both and take operations first (jobs/worker.py), so a call's thousands of notices
    never hold up the next payment or call (on one queue they held it some 20 s per render job)."""
    from rq import Queue

    return Queue(f"{queue.name}-notices", connection=queue.connection)


def enqueue_render(queue: Any, job_id: str | None = None, *, jobs: int = 1) -> None:
    """Trigger render jobs on the notices queue beside `queue` (losing the trigger is harmless: the
    sweeper finds pending notices)."""
    try:
        queue = notices_queue(queue)
        queue.enqueue_many(
            [
                queue.prepare_data(RENDER_JOB, job_id=job_id, timeout=3600, result_ttl=600, failure_ttl=86400)
                for _ in range(jobs if job_id is None else 1)
            ]
        )
    except Exception as exc:  # noqa: BLE001 - Redis down: the rows are durable, the sweeper retries
        log.warning("could not enqueue notice rendering (%s); the sweeper will retry", exc)


def send_job_id(notice_id: int) -> str:
    return f"notice-{notice_id}"


def enqueue_sends(queue: Any, notice_ids: Sequence[int]) -> None:
    """One job per notice on the notices queue beside `queue`, retried with the backoff of
    MAIL_RETRY_SECONDS (RQ's Retry)."""
    from rq import Retry

    if not notice_ids or queue is None:
        return
    waits = list(settings().mail_retry_seconds)
    retry = Retry(max=len(waits), interval=waits) if waits else None
    try:
        queue = notices_queue(queue)
        queue.enqueue_many(
            [
                queue.prepare_data(
                    SEND_JOB,
                    (notice_id,),
                    job_id=send_job_id(notice_id),
                    retry=retry,
                    result_ttl=600,
                    failure_ttl=86400,
                )
                for notice_id in notice_ids
            ]
        )
    except Exception as exc:  # noqa: BLE001
        log.warning("could not enqueue %d notice(s) (%s); the sweeper will retry", len(notice_ids), exc)


@dataclass(frozen=True)
class Lost:
    """What the sweeper may have to trigger again: batches of notices still pending past the grace,
    and ready notices whose next try is due."""

    pending: int  # open batches
    ready: list[int]


def lost(uow: UnitOfWork, *, grace: timedelta, limit: int = 5000) -> Lost:
    now = func.clock_timestamp()
    pending = uow.session.execute(
        select(func.count()).where(NoticeBatch.rendered_at.is_(None), NoticeBatch.created_at < now - grace)
    ).scalar_one()
    ready = list(
        uow.session.execute(
            select(Notice.id)
            .where(
                Notice.status == NoticeStatus.READY,
                func.coalesce(Notice.next_attempt_at, Notice.updated_at + grace) < now,
            )
            .order_by(Notice.id)
            .limit(limit)
        ).scalars()
    )
    return Lost(pending, ready)


# --- the investor's inbox -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    title: str
    pool_id: int
    pool_name: str
    currency: str
    amount: Decimal | None
    status: str
    document_id: int | None
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None
    note: str
    filename: str | None  # of its document

    @property
    def unread(self) -> bool:
        return self.read_at is None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[NoticeKind(self.kind)]

    @property
    def emailed(self) -> bool:
        return self.sent_at is not None


def _subject(actor: Actor, investor_id: int | None) -> int:
    """Whose inbox: an investor's own, always; an admin's choice."""
    if actor.role == INVESTOR:
        if investor_id not in (None, actor.user_id):
            raise PermissionDenied("an investor may only read their own notices")
        return actor.user_id or 0
    require_role(actor, ADMIN)
    if not isinstance(investor_id, int):
        raise ValidationError("investor_id", "is required")
    return investor_id


def _inbox_query() -> Any:
    return (
        select(
            Notice.id,
            Notice.kind,
            Notice.pool_id,
            Pool.name,
            Pool.currency,
            Notice.amount,
            Notice.status,
            Notice.document_id,
            Notice.created_at,
            Notice.sent_at,
            Notice.read_at,
            Notice.note,
            CapitalCall.number,
            Notice.period_end,
            Distribution.distributed_on,
            Document.filename,
        )
        .join(Pool, Pool.id == Notice.pool_id)
        .outerjoin(CapitalCall, CapitalCall.id == Notice.call_id)
        .outerjoin(Distribution, Distribution.operation_id == Notice.operation_id)
        .outerjoin(Document, Document.id == Notice.document_id)
    )


def _items(uow: UnitOfWork, query: Any) -> list[InboxItem]:
    return [
        InboxItem(
            row.id,
            row.kind,
            _title(row.kind, row.number, row.distributed_on, row.period_end),
            row.pool_id,
            row.name,
            row.currency,
            None if row.amount is None else quantize(row.amount, row.currency),
            row.status,
            row.document_id,
            row.created_at,
            row.sent_at,
            row.read_at,
            row.note,
            row.filename,
        )
        for row in uow.session.execute(query)
    ]


@audits_refused_reads
def inbox(
    actor: Actor, uow: UnitOfWork, investor_id: int | None = None, *, limit: int = 500
) -> list[InboxItem]:
    """What was sent to the investor, newest first (rendered notices only), with unread markers."""
    investor = _subject(actor, investor_id)
    query = (
        _inbox_query()
        .where(Notice.investor_id == investor, Notice.status.in_([s.value for s in SHOWN]))
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(min(max(limit, 1), 5000))
    )
    return _items(uow, query)


@audits_refused_reads
def unread_count(actor: Actor, uow: UnitOfWork, investor_id: int | None = None) -> int:
    investor = _subject(actor, investor_id)
    return uow.session.execute(
        select(func.count()).where(
            Notice.investor_id == investor,
            Notice.read_at.is_(None),
            Notice.status.in_([s.value for s in SHOWN]),
        )
    ).scalar_one()


def _own_notice(actor: Actor, uow: UnitOfWork, notice_id: object, action: str) -> Notice:
    """The investor's own notice by id; another's is refused and the refusal audited with the id."""
    if not isinstance(notice_id, int) or isinstance(notice_id, bool):
        raise NotFound("no such notice")
    notice = uow.session.get(Notice, notice_id)
    if notice is None or notice.status not in SHOWN:
        raise NotFound("no such notice")
    if not (
        actor.is_system
        or actor.role == ADMIN
        or (actor.role == INVESTOR and actor.user_id == notice.investor_id)
    ):
        exc = PermissionDenied("this notice is not yours")
        uow.rollback()
        uow.record_refusal(actor.user_id, action, "notice", notice_id, exc.message)
        exc.recorded = True  # type: ignore[attr-defined]
        raise exc
    return notice


def mark_read(actor: Actor, uow: UnitOfWork, notice_id: int) -> None:
    """The investor has seen this notice: its unread marker goes."""
    notice = _own_notice(actor, uow, notice_id, "notice.read")
    if notice.read_at is None and actor.role == INVESTOR:
        notice.read_at = func.now()
        uow.commit()


def open_notice(actor: Actor, uow: UnitOfWork, notice_id: int) -> documents.Download:
    """The notice's document, for a download (audited), and the notice marked read."""
    notice = _own_notice(actor, uow, notice_id, "notice.open")
    if notice.document_id is None:
        raise NotFound("this notice has no document")
    if notice.read_at is None and actor.role == INVESTOR:
        notice.read_at = func.now()
    return documents.download(actor, uow, notice.document_id)  # commits, with its audit row


# --- the manager: who was notified, and when; reissues --------------------------------------------


@dataclass(frozen=True)
class Notified:
    notice_id: int
    kind: str
    investor_id: int
    investor_name: str
    email: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None
    last_error: str | None
    document_id: int | None
    note: str

    @property
    def id(self) -> int:  # what a page's chooser keys a choice by
        return self.notice_id

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[NoticeKind(self.kind)]

    @property
    def reissuable(self) -> bool:
        return self.kind in REISSUABLE

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[NoticeStatus(self.status)]


STATUS_LABELS = {
    NoticeStatus.PENDING: "Being prepared",
    NoticeStatus.READY: "Waiting to be emailed",
    NoticeStatus.SENT: "Emailed",
    NoticeStatus.FAILED: "Failed",
    NoticeStatus.IN_APP: "In the app only",
}


@dataclass(frozen=True)
class NotifiedCounts:
    """How the notices of a call or distribution stand: so many per status (as labelled), so many opened."""

    by_status: dict[str, int]
    read: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def _notices_of(actor: Actor, uow: UnitOfWork, call_id: int | None, distribution_id: int | None) -> Any:
    """The condition that picks the notices of one call or distribution, once the actor may see them
    (the pool's manager and admins)."""
    if (call_id is None) == (distribution_id is None):
        raise TypeError("notified() takes a call_id or a distribution_id")
    if call_id is not None:
        pool_id = uow.session.execute(select(CapitalCall.pool_id).where(CapitalCall.id == call_id)).scalar()
        where = Notice.call_id == call_id
    else:
        found = uow.session.execute(
            select(Distribution.pool_id, Distribution.operation_id).where(Distribution.id == distribution_id)
        ).one_or_none()
        pool_id = found.pool_id if found else None
        where = Notice.operation_id == (found.operation_id if found else None)
    if pool_id is None:
        raise NotFound("no such capital call or distribution")
    if actor.role != ADMIN:
        require_manager_of(actor, uow, load_pool(uow, pool_id))
    return where


def _with_pending(uow: UnitOfWork, query: Select[*tuple[Any, ...]], where: Any) -> Any:
    """query over the notices `where` picks, as a subquery: those past pending through their index,
    plus the pending ones in the open batches (pending notices are in no index but the primary key)."""
    parts = [query.where(where, Notice.status != NoticeStatus.PENDING)]
    waiting = _in_open_batches(uow)
    if waiting is not None:
        parts.append(query.where(where, waiting))
    return union_all(*parts).subquery()


@audits_refused_reads
def notified(
    actor: Actor,
    uow: UnitOfWork,
    *,
    call_id: int | None = None,
    distribution_id: int | None = None,
    search: str = "",
    limit: int | None = None,
) -> list[Notified]:
    """Per investor, every notice a capital call (its notice, reminders, overdue notices) or a
    distribution gave rise to: emailed when, read when, or why it failed; by investor name. Only
    those whose investor's name or email contains `search` (any case), and at most `limit` of them:
    a call to 5,000 investors is looked through, not listed whole on every page run."""
    where = _notices_of(actor, uow, call_id, distribution_id)
    query = select(
        Notice.id,
        Notice.kind,
        Notice.investor_id,
        User.name,
        User.email,
        Notice.status,
        Notice.attempts,
        Notice.created_at,
        Notice.sent_at,
        Notice.read_at,
        Notice.last_error,
        Notice.document_id,
        Notice.note,
    ).join(User, User.id == Notice.investor_id)
    if search.strip():
        wanted = search.strip()
        query = query.where(
            or_(User.name.icontains(wanted, autoescape=True), User.email.icontains(wanted, autoescape=True))
        )
    found = _with_pending(uow, query, where)
    # By code point, as Python sorts: the same order whatever the database's collation.
    rows = uow.session.execute(select(found).order_by(found.c.name.collate("C"), found.c.id).limit(limit))
    return [
        Notified(
            row.id,
            row.kind,
            row.investor_id,
            row.name,
            row.email,
            row.status,
            row.attempts,
            row.created_at,
            row.sent_at,
            row.read_at,
            mask_secrets(row.last_error) if row.last_error else None,
            row.document_id,
            row.note,
        )
        for row in rows
    ]


@audits_refused_reads
def notified_counts(
    actor: Actor, uow: UnitOfWork, *, call_id: int | None = None, distribution_id: int | None = None
) -> NotifiedCounts:
    """How many notices a call or distribution gave rise to, per status, and how many were opened:
    counted by the database, whatever notified() lists of them."""
    where = _notices_of(actor, uow, call_id, distribution_id)
    found = _with_pending(uow, select(Notice.status, Notice.read_at), where)
    rows = uow.session.execute(
        select(found.c.status, func.count(), func.count(found.c.read_at)).group_by(found.c.status)
    ).all()
    return NotifiedCounts(
        {STATUS_LABELS[NoticeStatus(status)]: count for status, count, _ in rows}, sum(r[2] for r in rows)
    )


def _in_open_batches(uow: UnitOfWork) -> Any:
    """The condition that finds pending notices (through the open batches' id ranges: pending
    notices are in no index but the primary key); None when nothing is pending."""
    ranges = uow.session.execute(
        select(NoticeBatch.first_id, NoticeBatch.last_id).where(NoticeBatch.rendered_at.is_(None))
    ).all()
    if not ranges:
        return None
    return and_(
        Notice.status == NoticeStatus.PENDING,
        or_(*(Notice.id.between(first, last) for first, last in ranges)),
    )


def _open_batch(uow: UnitOfWork, cause: str, notice_id: int) -> None:
    """A batch of one notice made pending again (a reissue, a retried rendering), to be rendered."""
    uow.session.add(NoticeBatch(cause=cause, first_id=notice_id, last_id=notice_id, size=1))
    _enqueue_render_after_commit(uow)


@records_refusals("notice.reissue", "notice")
def reissue(actor: Actor, uow: UnitOfWork, notice_id: int, note: str) -> int:
    """The pool's manager reissues a notice or statement (corrected wire instructions, a reversal
    since): it is rendered again from the ledger as the next version of the same document, with the
    note, and sent. Returns the new notice's id."""
    original = uow.session.get(Notice, notice_id)
    if original is None:
        raise NotFound("no such notice")
    require_manager_of(actor, uow, load_pool(uow, original.pool_id))
    if original.kind not in REISSUABLE:
        raise InvalidState("reminders are not reissued; reissue the capital call notice instead")
    note = clean_text(note, "note", max_length=500)
    root = uow.session.get_one(Notice, original.reissue_of) if original.reissue_of else original
    copy = Notice(
        key=f"{series(root)}:reissue:{uuid.uuid4().hex}",
        kind=root.kind,
        pool_id=root.pool_id,
        investor_id=root.investor_id,
        call_id=root.call_id,
        call_item_id=root.call_item_id,
        operation_id=root.operation_id,
        cutoff_journal=root.cutoff_journal,
        period_start=root.period_start,
        period_end=root.period_end,
        amount=root.amount,
        note=note,
        reissue_of=root.id,
        author_id=actor.user_id,
    )
    uow.session.add(copy)
    uow.session.flush()
    _open_batch(uow, f"reissue:{copy.id}", copy.id)
    uow.audit(actor.user_id, "notice.reissue", "notice", copy.id, {"notice_id": root.id}, {"note": note})
    uow.commit()
    return copy.id


# --- the operations health page: mail, deliveries, failures, retries ---------------------------------


@dataclass(frozen=True)
class FailedNotice:
    id: int
    kind: str
    pool_id: int
    pool_name: str
    investor_name: str
    recipient: str | None
    attempts: int
    last_error: str | None
    updated_at: datetime

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[NoticeKind(self.kind)]


@dataclass(frozen=True)
class Delivery:
    mail: mail.MailStatus
    pending: int  # written, not rendered yet
    ready: int  # rendered, waiting to be emailed (or for their next try)
    failed: int
    failures: list[FailedNotice] = field(default_factory=list)  # the latest, with their reasons
    oldest_waiting: datetime | None = None  # the oldest notice still pending or ready


@audits_refused_reads
def delivery(actor: Actor, uow: UnitOfWork, *, failed_limit: int = 50) -> Delivery:
    """For the admin's operations health page: whether mail is on, how many notices wait to be
    rendered or sent, the oldest of them, and the failed ones with their reasons (retry() sends one
    round again). Every count reads a partial index or the open batches, never the whole table."""
    require_role(actor, ADMIN)
    ready, oldest_ready = uow.session.execute(
        select(func.count(), func.min(Notice.created_at)).where(Notice.status == NoticeStatus.READY)
    ).one()
    failed = uow.session.execute(
        select(func.count()).where(Notice.status == NoticeStatus.FAILED)
    ).scalar_one()
    pending, oldest_pending = 0, None
    waiting = _in_open_batches(uow)
    if waiting is not None:
        pending, oldest_pending = uow.session.execute(
            select(func.count(), func.min(Notice.created_at)).where(waiting)
        ).one()
    failures = [
        FailedNotice(
            row.id,
            row.kind,
            row.pool_id,
            row.name,
            row.investor_name,
            row.recipient,
            row.attempts,
            mask_secrets(row.last_error) if row.last_error else None,
            row.updated_at,
        )
        for row in uow.session.execute(
            select(
                Notice.id,
                Notice.kind,
                Notice.pool_id,
                Pool.name,
                User.name.label("investor_name"),
                Notice.recipient,
                Notice.attempts,
                Notice.last_error,
                Notice.updated_at,
            )
            .join(Pool, Pool.id == Notice.pool_id)
            .join(User, User.id == Notice.investor_id)
            .where(Notice.status == NoticeStatus.FAILED)
            .order_by(Notice.updated_at.desc())
            .limit(failed_limit)
        )
    ]
    oldest = min((d for d in (oldest_ready, oldest_pending) if d is not None), default=None)
    return Delivery(mail.status(), pending, ready, failed, failures, oldest)


@records_refusals("notice.retry", "notice")
def retry(actor: Actor, uow: UnitOfWork, notice_id: int) -> None:
    """Send a failed notice round again (an admin, or the pool's manager), with its tries reset: once
    the cause is fixed (the address corrected, the mail server back)."""
    notice = uow.session.execute(
        select(Notice).where(Notice.id == notice_id).with_for_update()
    ).scalar_one_or_none()
    if notice is None:
        raise NotFound("no such notice")
    if actor.role != ADMIN:
        require_manager_of(actor, uow, load_pool(uow, notice.pool_id))
    if notice.status != NoticeStatus.FAILED:
        raise InvalidState(f"only a failed notice can be sent again; this one is {label(notice.status)}")
    # A notice that failed to render is rendered again; one that failed to send is sent again.
    unrendered = notice.document_id is None and notice.kind in DOCUMENT_KINDS
    notice.status = NoticeStatus.PENDING if unrendered else NoticeStatus.READY
    if unrendered:
        _open_batch(uow, f"retry:{notice.id}:{uuid.uuid4().hex}", notice.id)
    recipient = uow.session.execute(select(User.email).where(User.id == notice.investor_id)).scalar_one()
    notice.recipient = recipient
    notice.attempts, notice.next_attempt_at, notice.updated_at = 0, None, func.now()
    uow.audit(
        actor.user_id,
        "notice.retry",
        "notice",
        notice.id,
        {"status": "failed", "error": notice.last_error},
        {"status": notice.status},
    )
    notice.last_error = None
    queue = uow.queue
    if queue is not None and not unrendered:
        uow.after_commit(lambda: enqueue_sends(queue, [notice_id]))
    uow.commit()
