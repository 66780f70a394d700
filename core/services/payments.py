"""Payments against call items: by the investor, by the manager, or the lines of a bank statement.

One validation, check_many(), serves the preview, the bank statement reader and the payment
operation, so what a person confirms is what is posted. A payment names the item it pays and the
version of that item the form showed: an item paid or changed since (in another tab, by another
person) is refused with what changed, never booked to whichever item comes next. A wire reference
already used on another investor's item is refused unless the person confirms it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from core import clock
from core.domain import clean_text, not_in_future, request_date
from core.errors import Collector, InvalidState, NotFound, PermissionDenied, Stale, ValidationError
from core.formatting import money
from core.ledger import Account, JournalKind
from core.ledger import posting as ledger
from core.money import parse_amount
from core.operations import OperationStatus, submit_many
from core.operations.kind import MAX_REQUESTS, Kind, each_line, refusal
from core.permissions import (
    FUND_MANAGER,
    INVESTOR,
    Actor,
    managers_of,
    require_manager_of,
    require_pool_manager,
    require_role,
)
from core.services import calls, notices
from core.services.audit import audits_refused_reads
from core.services.pools import load_pool
from core.uow import UnitOfWork
from core.vocabulary import CallItemStatus, CallStatus
from db.models import CallItem, CapitalCall, Operation, Payment, Pool, User

KIND = "payment"
ZERO = Decimal(0)
PAYABLE_CALLS = (CallStatus.ISSUED, CallStatus.PARTIALLY_PAID)


class ReferenceReused(ValidationError):
    """The reference is already on another investor's payment: refused unless confirmed."""


@dataclass(frozen=True)
class RecordPayment:
    """The command: money received against one call item."""

    pool_id: int
    call_item_id: int
    amount: Decimal
    reference: str
    paid_on: date
    item_version: int | None = None  # the item as the form showed it; None: not checked (statements)
    reuse_reference: bool = False  # the person confirmed a reference seen on another investor's item

    def payload(self) -> dict[str, Any]:
        return {
            "call_item_id": self.call_item_id,
            "amount": str(self.amount),
            "reference": self.reference,
            "paid_on": self.paid_on.isoformat(),
            "item_version": self.item_version,
            "reuse_reference": self.reuse_reference,
        }


@dataclass(frozen=True)
class Item:
    """A call item as a payment sees it: whose, which call, what is left to pay."""

    id: int
    version: int
    pool_id: int
    investor_id: int
    investor_name: str
    email: str
    call_id: int
    call_number: int
    call_date: date
    call_status: str
    status: str
    amount_due: Decimal
    amount_paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.amount_due - self.amount_paid


def _items(uow: UnitOfWork, item_ids: Sequence[object], *, lock: bool = False) -> dict[int, Item]:
    ids = sorted({i for i in item_ids if isinstance(i, int) and not isinstance(i, bool)})
    query = (
        select(
            CallItem.id,
            CallItem.version,
            CapitalCall.pool_id,
            CallItem.investor_id,
            User.name,
            User.email,
            CapitalCall.id,
            CapitalCall.number,
            CapitalCall.call_date,
            CapitalCall.status,
            CallItem.status,
            CallItem.amount_due,
            CallItem.amount_paid,
        )
        .join(CapitalCall, CapitalCall.id == CallItem.call_id)
        .join(User, User.id == CallItem.investor_id)
        .where(CallItem.id == any_(bindparam("ids", ids, ARRAY(BigInteger))))
        .order_by(CallItem.id)  # one lock order for every worker
    )
    rows = uow.session.execute(query.with_for_update(of=CallItem) if lock else query).all()
    return {row[0]: Item(*tuple(row)) for row in rows}


def _may_pay(actor: Actor, managers: frozenset[int], item: Item) -> None:
    """managers: the pool's (managers_of), read once for a whole statement."""
    if not (actor.role == INVESTOR and actor.user_id == item.investor_id):
        require_pool_manager(actor, managers)


def _payable(item: Item, amount: Decimal, currency: str, earlier: Decimal = ZERO) -> None:
    """earlier: what other lines of the same submission already pay on this item."""
    if item.call_status not in PAYABLE_CALLS:
        raise InvalidState(f"capital call {item.call_number} is {item.call_status}; it cannot be paid now")
    if item.status == CallItemStatus.CANCELLED:
        raise InvalidState(f"{item.investor_name}'s item of capital call {item.call_number} was cancelled")
    if item.outstanding <= 0:
        raise InvalidState(
            f"{item.investor_name}'s item of capital call {item.call_number} is already paid in full"
        )
    outstanding = item.outstanding - earlier
    if amount > outstanding:
        left = (
            f"the {money(outstanding, currency)} left outstanding after the lines before it"
            if earlier
            else (f"the {money(outstanding, currency)} outstanding")
        )
        raise ValidationError("amount", f"{money(amount, currency)} is more than {left}", limit=outstanding)


def _references_in_use(uow: UnitOfWork, pool: Pool, references: set[str]) -> dict[str, set[int]]:
    """Each reference's call items among this pool's payments, posted or waiting to be."""
    if not references:
        return {}
    rows = uow.session.execute(
        text(
            """SELECT reference, call_item_id FROM payments
                WHERE pool_id = :pool AND reversed_on IS NULL AND reference = ANY(CAST(:refs AS text[]))
               UNION
               SELECT payload->>'reference', (payload->>'call_item_id')::bigint FROM operations
                WHERE pool_id = :pool AND kind = :kind AND status IN ('pending', 'running')
                  AND payload->>'reference' = ANY(CAST(:refs AS text[]))"""
        ),
        {"pool": pool.id, "refs": sorted(references), "kind": KIND},
    )
    used: dict[str, set[int]] = {}
    for reference, item_id in rows:
        used.setdefault(reference, set()).add(item_id)
    return used


def _clean_reference(request: Mapping[str, Any]) -> str | None:
    """The reference as it would be recorded; None when there is none, or it is refused (control
    characters, NUL included, which no query may be handed: each line reports its own refusal)."""
    try:
        return clean_text(request.get("reference", ""), "reference", max_length=100, required=False) or None
    except ValidationError:
        return None


def check_many(
    actor: Actor,
    uow: UnitOfWork,
    pool: Pool,
    requests: Sequence[Mapping[str, Any]],
    lines: Sequence[int] | None = None,
) -> list[RecordPayment]:
    """Every request checked as its operation will be, in order (a later line sees what earlier ones
    pay); with `lines`, a refusal names the line of the file it came from."""
    found = _items(uow, [request.get("call_item_id") for request in requests])
    references = {ref for r in requests if (ref := _clean_reference(r))}
    in_use = _references_in_use(uow, pool, references)
    managers = managers_of(uow, pool)
    earlier: dict[int, Decimal] = {}
    named: dict[str, int] = {}  # reference -> the item a line of this submission pays with it

    def one(request: Mapping[str, Any]) -> RecordPayment:
        item_id = request.get("call_item_id")
        item = found.get(item_id) if isinstance(item_id, int) else None
        if item is None or item.pool_id != pool.id:
            raise ValidationError("call_item_id", "is not one of this pool's call items")
        _may_pay(actor, managers, item)
        version = request.get("item_version")
        if version is not None and version != item.version:
            now = (
                "is paid in full now"
                if item.outstanding <= 0
                else f"has {money(item.outstanding, pool.currency)} outstanding now"
            )
            raise Stale(
                f"{item.investor_name}'s item of capital call {item.call_number} changed since the form "
                f"was shown: it {now}. Nothing was recorded; check it and record again"
            )
        collect = Collector()
        with collect("amount"):
            amount = parse_amount(request.get("amount"), pool.currency, "amount")
            _payable(item, amount, pool.currency, earlier.get(item.id, ZERO))
        with collect("reference"):
            reference = clean_text(request.get("reference", ""), "reference", max_length=100, required=False)
        with collect("paid_on"):
            paid_on = not_in_future(request_date(request, "paid_on", clock.today()), "paid_on")
            if paid_on < item.call_date:
                raise ValidationError(
                    "paid_on", f"must not be before the capital call was made ({item.call_date})"
                )
        if collect.ok("reference") and reference and not request.get("reuse_reference"):
            others = (
                in_use.get(reference, set()) | ({named[reference]} if reference in named else set())
            ) - {item.id}
            if others:
                collect.errors.append(
                    ReferenceReused(
                        "reference",
                        f"{reference!r} is already on another investor's payment in this pool; "
                        "confirm to record it again",
                        items=sorted(others),
                    )
                )
        collect.raise_any()
        earlier[item.id] = earlier.get(item.id, ZERO) + amount
        if reference:
            named.setdefault(reference, item.id)
        return RecordPayment(
            pool.id, item.id, amount, reference, paid_on, version, bool(request.get("reuse_reference"))
        )

    return each_line(list(requests), one, lines)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PaymentPreview:
    investor_name: str
    call_number: int
    currency: str
    outstanding_before: Decimal
    command: RecordPayment

    @property
    def outstanding_after(self) -> Decimal:
        return self.outstanding_before - self.command.amount


@audits_refused_reads
def preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> PaymentPreview:
    """What recording this payment would do, checked exactly as recording it checks it."""
    pool = load_pool(uow, pool_id)
    command = check_many(actor, uow, pool, [request])[0]
    item = _items(uow, [command.call_item_id])[command.call_item_id]
    return PaymentPreview(item.investor_name, item.call_number, pool.currency, item.outstanding, command)


def record(actor: Actor, uow: UnitOfWork, command: RecordPayment) -> OperationStatus:
    """Record one payment as a durable operation; the same request twice is the same operation."""
    return record_many(actor, uow, command.pool_id, [command])[0]


def record_many(
    actor: Actor, uow: UnitOfWork, pool_id: int, commands: Sequence[RecordPayment]
) -> list[OperationStatus]:
    """Several payments (a bank statement's lines) in one transaction, each its own operation."""
    return submit_many(actor, uow, pool_id, KIND, [c.payload() for c in commands], queue=uow.queue)


# --- bank statements ---------------------------------------------------------------------------------

STATEMENT_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class StatementLine:
    """One line of a bank statement, matched to the investor's item in the call."""

    line: int
    investor_name: str
    email: str
    command: RecordPayment
    matched_by: str = "email"  # what named the investor: "email", "investor_id" or "reference"


@audits_refused_reads
def read_statement(
    actor: Actor, uow: UnitOfWork, call_id: int, data: bytes, *, reuse_references: bool = False
) -> list[StatementLine]:
    """A bank statement of payments received for one call, for the manager to check before
    recording it: CSV with a header naming `email` or `investor_id` (the call notice's columns),
    `amount`, `reference` and `received_on` (required: the day is part of each payment's
    idempotency key, so the same statement uploaded again on another day is the same payments, not
    new ones). A line whose email and investor_id are empty (or a file without those columns) is
    matched by its reference, when the reference is the one the pool's wire instructions give the
    investor (core.services.notices.reference_owner; one naming another capital call is refused);
    a reference naming someone other than the line's email is refused too. Lines count from the
    first payment. Every line is checked as its payment operation will be (check_many), so a
    statement that reads cleanly here is recorded as it is shown; nothing is written.
    """
    require_role(actor, FUND_MANAGER)
    call = uow.session.get(CapitalCall, call_id) if isinstance(call_id, int) else None
    if call is None:
        raise NotFound("no such capital call")
    pool = load_pool(uow, call.pool_id)
    require_manager_of(actor, uow, pool)
    if not isinstance(data, bytes) or not data.strip():
        raise ValidationError("statement", "is empty")
    if len(data) > STATEMENT_MAX_BYTES:
        raise ValidationError("statement", f"is larger than {STATEMENT_MAX_BYTES // 1_000_000} MB")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValidationError("statement", f"is not a readable UTF-8 CSV file ({exc})") from None
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    who = "email" if "email" in columns else "investor_id" if "investor_id" in columns else None
    if not {"amount", "reference", "received_on"} <= columns.keys():
        raise ValidationError(
            "statement",
            "needs a header with email (or investor_id), amount, reference and received_on columns "
            "(email and investor_id may be left out where each reference names its investor)",
        )
    if not 1 <= len(rows) <= MAX_REQUESTS:
        raise ValidationError("statement", f"must list 1 to {MAX_REQUESTS:,} payments")
    item_ids = list(
        uow.session.execute(
            select(CallItem.id).where(CallItem.call_id == call.id).order_by(CallItem.id)
        ).scalars()
    )
    items = _items(uow, item_ids)
    by_key = {(i.email.lower() if who == "email" else str(i.investor_id)): i for i in items.values()}
    by_investor = {i.investor_id: i for i in items.values()}

    def cell(row: dict[str, Any], column: str) -> str:
        value = row.get(columns.get(column, ""), "")
        return value.strip() if isinstance(value, str) else ""

    def owner(line: int, reference: str) -> Item | None:
        """The item of the investor this call's reference names; None when it names nobody."""
        found = notices.reference_owner(uow, pool.id, reference) if reference else None
        if found is None:
            return None
        if found.get("call", call.number) != call.number:
            raise ValidationError(
                f"line {line} reference",
                f"{reference[:80]!r} names capital call {found['call']}, not this one ({call.number})",
            )
        item = by_investor.get(found["investor"])
        if item is None:
            raise ValidationError(
                f"line {line} reference", f"{reference[:80]!r} names an investor who is not in this call"
            )
        return item

    matched = []
    for line, row in enumerate(rows, 1):
        named, reference = (cell(row, who) if who else ""), cell(row, "reference")
        item = by_key.get(named.lower()) if named else None
        if named and item is None:
            raise ValidationError(f"line {line} {who}", f"{named[:80]!r} is not an investor in this call")
        by_reference = owner(line, reference)
        if item is None:
            if by_reference is None:
                raise ValidationError(
                    f"line {line} reference",
                    (f"{reference[:80]!r} names" if reference else "is empty, and the line names")
                    + " no investor: give the line an email (or investor_id), or the reference from "
                    "the investor's wire instructions",
                )
            item = by_reference
        elif by_reference is not None and by_reference.id != item.id:
            raise ValidationError(
                f"line {line} reference",
                f"{reference[:80]!r} names {by_reference.investor_name}, not {item.investor_name}",
            )
        if not cell(row, "received_on"):
            raise ValidationError(f"line {line} received_on", "is required (the day the bank received it)")
        matched.append(
            (
                item,
                {
                    "call_item_id": item.id,
                    "amount": cell(row, "amount"),
                    "reference": cell(row, "reference"),
                    "paid_on": cell(row, "received_on"),
                    "reuse_reference": reuse_references,
                },
                who if named and who else "reference",
            )
        )
    checked = check_many(actor, uow, pool, [request for _, request, _ in matched], range(1, len(matched) + 1))
    return [
        StatementLine(line, item.investor_name, item.email, command, how)
        for line, ((item, _, how), command) in enumerate(zip(matched, checked, strict=True), 1)
    ]


# --- the operation -----------------------------------------------------------------------------------


class RecordPaymentKind(Kind):
    """A payment against one call item, posted in a group commit with whatever other payments wait."""

    name = KIND
    grouped = True

    def prepare_many(self, actor, uow, pool, payloads, lines):  # noqa: ANN001, ANN201 - see Kind
        return [(command.payload(), 1) for command in check_many(actor, uow, pool, payloads, lines)]

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        return self.prepare_many(actor, uow, pool, [payload], None)[0]

    def _apply(
        self,
        uow: UnitOfWork,
        found: dict[int, Item],
        op: Operation,
        pool: Pool,
        actor: Actor,
        managers: frozenset[int],
    ) -> tuple[ledger.Posting, dict[str, Any], int]:
        """Re-check the payment against the locked item and settle it; what to post and to record."""
        item = found.get(op.payload["call_item_id"])
        if item is None or item.pool_id != pool.id:
            raise ValidationError("call_item_id", "is not one of this pool's call items")
        _may_pay(actor, managers, item)
        amount = Decimal(op.payload["amount"])
        _payable(item, amount, pool.currency)
        paid = item.amount_paid + amount
        found[item.id] = Item(
            **{
                **item.__dict__,
                "amount_paid": paid,
                "version": item.version + 1,
                "status": CallItemStatus.PAID if paid == item.amount_due else CallItemStatus.PARTIALLY_PAID,
            }
        )
        paid_on = date.fromisoformat(op.payload["paid_on"])
        reference = op.payload.get("reference", "")
        posting = ledger.Posting(
            pool_id=pool.id,
            currency=pool.currency,
            kind=JournalKind.PAYMENT,
            idempotency_key=f"op:{op.id}",
            effective_date=paid_on,
            lines=[
                ledger.debit(Account.CASH, amount),
                ledger.credit(Account.CAPITAL, amount, item.investor_id),
                ledger.debit(Account.CALL_CLEARING, amount),
                ledger.credit(Account.RECEIVABLE, amount, item.investor_id),
            ],
            memo=f"Capital call {item.call_number}" + (f", paid by wire {reference}" if reference else ""),
            actor_id=actor.user_id,
            operation_id=op.id,
        )
        fact = {
            "pool_id": pool.id,
            "call_item_id": item.id,
            "investor_id": item.investor_id,
            "amount": amount,
            "reference": reference,
            "paid_on": paid_on,
            "operation_id": op.id,
        }
        return posting, fact, item.call_id

    def _settle(self, uow: UnitOfWork, found: dict[int, Item], touched: set[int]) -> None:
        """Write the settled items back, one statement for the whole group."""
        rows = [found[i] for i in sorted(touched)]
        uow.session.execute(
            text(
                """UPDATE call_items i SET amount_paid = s.paid, status = s.status, version = s.version
                     FROM unnest(CAST(:ids AS bigint[]), CAST(:paid AS numeric[]), CAST(:statuses AS text[]),
                                 CAST(:versions AS bigint[])) AS s(id, paid, status, version)
                    WHERE i.id = s.id"""
            ),
            {
                "ids": [r.id for r in rows],
                "paid": [r.amount_paid for r in rows],
                "statuses": [str(r.status) for r in rows],
                "versions": [r.version for r in rows],
            },
        )

    def _post(
        self, uow: UnitOfWork, ops: list[Operation], pools: dict[int, Pool], actors: dict[int, Actor]
    ) -> dict:
        found = _items(uow, [op.payload.get("call_item_id") for op in ops], lock=True)
        managers = {pool_id: managers_of(uow, pool) for pool_id, pool in pools.items()}
        postings, facts, calls_touched, refused = [], [], set(), {}
        touched: set[int] = set()
        for op in ops:  # in the order drain() took them: a later payment sees the earlier ones' effect
            try:
                actor = actors.get(op.actor_id)
                if actor is None:
                    raise PermissionDenied("the user who submitted this operation is no longer active")
                posting, fact, call_id = self._apply(
                    uow, found, op, pools[op.pool_id or 0], actor, managers[op.pool_id or 0]
                )
            except Exception as exc:
                reason = refusal(exc)
                if reason is None:
                    raise
                refused[op.id] = reason
                continue
            postings.append(posting)
            facts.append(fact)
            calls_touched.add(call_id)
            touched.add(fact["call_item_id"])
        ledger.post_many(uow.session, postings)
        if facts:
            uow.session.execute(insert(Payment), facts)
            self._settle(uow, found, touched)
            calls.refresh_statuses(uow, calls_touched)
        return refused

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        refused = self._post(uow, [op], {pool.id: pool}, {actor.user_id: actor})
        if refused:
            raise InvalidState(refused[op.id])
        return 1

    def run_group(self, uow, ops, pools, actors):  # noqa: ANN001, ANN201
        return self._post(uow, ops, pools, actors)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"call_item_id": op.payload["call_item_id"], "amount": op.payload["amount"]}


__all__ = [
    "KIND",
    "PaymentPreview",
    "RecordPayment",
    "RecordPaymentKind",
    "ReferenceReused",
    "StatementLine",
    "check_many",
    "preview",
    "read_statement",
    "record",
    "record_many",
]
