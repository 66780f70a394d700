"""Capital calls: a percentage of commitments or an amount, split pro rata to commitment.

One validation, check(), serves the preview a manager reads and the capital_call operation that
posts it, so the preview is exactly what is posted: the command carries the pool's version, and a
pool that changed since the preview (a commitment accepted, another call issued) is refused with
a request to preview again. A call whose total is above the pool's call approval threshold is
drafted by one manager and approved by another or an admin (core.services.approvals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text

from core import clock
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import Collector, InvalidState, Stale, ValidationError
from core.formatting import count, money
from core.fundmath import allocate
from core.ledger import Account, JournalKind, Line, Side, read_model
from core.ledger import posting as ledger
from core.money import minor_unit, parse_amount, quantize, to_decimal
from core.operations import OperationStatus, submit
from core.operations.kind import Kind, batch_size
from core.permissions import Actor, require_manager_of
from core.services import approvals, notices
from core.services.audit import audits_refused_reads
from core.services.pools import load_pool
from core.uow import UnitOfWork
from core.vocabulary import CallStatus, CommitmentStatus
from db.models import CallItem, CapitalCall, Commitment, Operation, Pool

KIND = "capital_call"
ZERO = Decimal(0)
NOTICE_BUSINESS_DAYS = 10  # ILPA Principles: at least ten business days between notice and due date


def default_due_date(call_date: date) -> date:
    """Ten business days (Monday to Friday) after the call date."""
    due, counted = call_date, 0
    while counted < NOTICE_BUSINESS_DAYS:
        due += timedelta(days=1)
        counted += due.weekday() < 5
    return due


@dataclass(frozen=True)
class IssueCall:
    """The command: one capital call, as previewed, ready to post."""

    pool_id: int
    total: Decimal
    percent: Decimal | None  # of commitments, as the manager gave it (25 = 25%); None for an amount
    purpose: str
    call_date: date
    due_date: date
    pool_version: int

    def payload(self) -> dict[str, Any]:
        """The request check() reads back to this very command (while the pool is unchanged)."""
        asked = {"percent": str(self.percent)} if self.percent is not None else {"amount": str(self.total)}
        return {
            **asked,
            "total": str(self.total),
            "purpose": self.purpose,
            "call_date": self.call_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "pool_version": self.pool_version,
        }


def _bases(uow: UnitOfWork, pool: Pool, upto: int | None = None) -> dict[int, read_model.Position]:
    """Each investor's commitment and capital called: what a call is allocated on (whole ledger)."""
    return read_model.positions(
        uow.session, as_of=None, pool_id=pool.id, upto_journal=upto, lines=(Line.COMMITMENT, Line.CALLED)
    )


def _last_commitment_day(uow: UnitOfWork, pool: Pool) -> date | None:
    m = read_model.movements(as_of=None, pool_id=pool.id, lines=(Line.COMMITMENT,))
    return uow.session.execute(select(func.max(m.c.day))).scalar_one()


def check(uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> IssueCall:
    """Every field of a call request, all errors at once; the command if all is well.

    request: "percent" or "amount" (text as typed), "purpose", "call_date" (default today),
    "due_date" (default ten business days later) and "pool_version" (the version previewed; absent
    on a first preview). Whoever asks is checked by the caller."""
    require_running(pool.status, "a capital call")
    version = request.get("pool_version")
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since this call was previewed; preview it again")
    # The pool's totals only (one row, not one per investor): allocation() splits it later.
    totals = read_model.total(uow.session, as_of=None, pool_id=pool.id, lines=(Line.COMMITMENT, Line.CALLED))
    committed, unfunded = totals.commitment, totals.unfunded
    if committed <= 0:
        raise InvalidState("this pool has no accepted commitments to call")
    collect = Collector()
    percent_text, amount_text = request.get("percent"), request.get("amount")
    percent: Decimal | None = None
    total = ZERO
    if (percent_text in (None, "")) == (amount_text in (None, "")):
        if percent_text is None and amount_text == "":  # the form asked for an amount: name that field
            collect.errors.append(ValidationError("amount", "is needed: give the amount to call"))
        elif percent_text in (None, ""):
            collect.errors.append(
                ValidationError("percent", "is needed: give a percentage of commitments, or else an amount")
            )
        else:
            collect.errors.append(
                ValidationError("percent", "and an amount were both given: give one of them")
            )
    elif percent_text not in (None, ""):
        with collect("percent"):
            percent = to_decimal(percent_text, "percent")
            if percent <= 0 or percent > 100:
                raise ValidationError("percent", "must be above 0 and at most 100", limit=100)
            total = quantize(committed * percent / 100, pool.currency)
            if total == 0:
                raise ValidationError(
                    "percent",
                    f"would call {money(total, pool.currency)} of {money(committed, pool.currency)} committed: "
                    "give a larger percentage",
                )
    else:
        with collect("amount"):
            total = parse_amount(amount_text, pool.currency, "amount")
    if collect.ok("percent", "amount") and total > unfunded:
        collect.errors.append(
            ValidationError(
                "amount" if percent is None else "percent",
                f"would call {money(total, pool.currency)}, more than the {money(unfunded, pool.currency)} "
                "of commitments not yet called",
                limit=unfunded,
            )
        )
    with collect("purpose"):
        purpose = clean_text(request.get("purpose", ""), "purpose", max_length=200)
    with collect("call_date"):
        call_date = not_in_future(request_date(request, "call_date", clock.today()), "call_date")
        accepted = _last_commitment_day(uow, pool)
        if accepted is not None and call_date < accepted:
            raise ValidationError(
                "call_date", f"must not be before the last commitment was accepted ({accepted})"
            )
    if collect.ok("call_date"):
        with collect("due_date"):
            due = request_date(request, "due_date", default_due_date(call_date))
            if due < call_date:
                raise ValidationError("due_date", "must not be before the call date")
            if due > call_date + timedelta(days=366):
                raise ValidationError("due_date", "must be within a year of the call date")
    collect.raise_any()
    return IssueCall(pool.id, total, percent, purpose, call_date, due, pool.version)


def allocation(pool: Pool, total: Decimal, bases: Mapping[int, read_model.Position]) -> dict[int, Decimal]:
    """Each investor's part of a call, pro rata to commitment (bases: _bases() at the call's cut-off);
    refused where it exceeds the unfunded part."""
    held = {i: b for i, b in bases.items() if b.commitment > 0}
    if not held:
        raise InvalidState("this pool has no accepted commitments to call")
    parts = allocate(total, {i: b.commitment for i, b in sorted(held.items())}, minor_unit(pool.currency))
    over = [i for i, part in parts.items() if part > held[i].unfunded]
    if over:
        raise ValidationError(
            "amount", f"would call more than the unfunded commitment of {count(len(over), 'investor')}"
        )
    return parts


@dataclass(frozen=True)
class CallLine:
    investor_id: int
    investor_name: str
    commitment: Decimal
    called_before: Decimal
    unfunded_before: Decimal
    amount: Decimal

    @property
    def unfunded_after(self) -> Decimal:
        return self.unfunded_before - self.amount


@dataclass(frozen=True)
class CallPreview:
    pool_name: str
    currency: str
    number: int  # the number this call will have
    lines: list[CallLine]
    command: IssueCall
    needs_approval: bool = False  # above the pool's threshold: drafted for a second manager's approval

    @property
    def total(self) -> Decimal:
        return self.command.total


@audits_refused_reads
def preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> CallPreview:
    """What the call would post, investor by investor: checked exactly as issuing it checks it."""
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    return _preview(uow, pool, request)


def _preview(uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> CallPreview:
    command = check(uow, pool, request)
    bases = _bases(uow, pool)
    parts = allocation(pool, command.total, bases)
    names: dict[int, str] = dict(
        uow.session.execute(
            text("SELECT id, name FROM users WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": list(parts)}
        ).all()
    )
    lines = [
        CallLine(i, names.get(i, "?"), bases[i].commitment, bases[i].called, bases[i].unfunded, amount)
        for i, amount in parts.items()
        if amount > 0
    ]
    return CallPreview(
        pool.name,
        pool.currency,
        _next_number(uow, pool.id),
        lines,
        command,
        approvals.needs_approval(pool, KIND, command.total),
    )


def issue(actor: Actor, uow: UnitOfWork, command: IssueCall) -> OperationStatus:
    """Issue the previewed call: a durable operation that books every investor's receivable. A call
    above the pool's approval threshold is refused: it is drafted for approval instead."""
    return submit(actor, uow, command.pool_id, KIND, command.payload(), queue=uow.queue)


def _to_json(preview: CallPreview) -> dict[str, Any]:
    """The preview as stored with a draft (amounts as exact text), for the approver to see as drafted."""
    return {
        "pool_name": preview.pool_name,
        "currency": preview.currency,
        "number": preview.number,
        "lines": [
            [x.investor_id, str(x.commitment), str(x.called_before), str(x.unfunded_before), str(x.amount)]
            for x in preview.lines
        ],
        "names": {str(x.investor_id): x.investor_name for x in preview.lines},
        "command": {"pool_id": preview.command.pool_id, **preview.command.payload()},
    }


def _from_json(figures: dict[str, Any]) -> CallPreview:
    c = figures["command"]
    command = IssueCall(
        c["pool_id"],
        Decimal(c["total"]),
        Decimal(c["percent"]) if "percent" in c else None,
        c["purpose"],
        date.fromisoformat(c["call_date"]),
        date.fromisoformat(c["due_date"]),
        c["pool_version"],
    )
    names = figures["names"]
    lines = [
        CallLine(i, names.get(str(i), "?"), Decimal(a), Decimal(b), Decimal(u), Decimal(amount))
        for i, a, b, u, amount in figures["lines"]
    ]
    return CallPreview(figures["pool_name"], figures["currency"], figures["number"], lines, command)


approvals.register(
    approvals.Drafting(
        kind=KIND,
        what="capital call",
        preview=_preview,
        to_json=_to_json,
        from_json=_from_json,
        total=lambda preview: preview.total,
        amounts=lambda figures: {int(line[0]): (Decimal(line[4]),) for line in figures["lines"]},
        always=False,
    )
)


def _next_number(uow: UnitOfWork, pool_id: int) -> int:
    return uow.session.execute(
        select(func.coalesce(func.max(CapitalCall.number), 0) + 1).where(CapitalCall.pool_id == pool_id)
    ).scalar_one()


def refresh_statuses(uow: UnitOfWork, call_ids: set[int]) -> None:
    """A call is paid once every item is, partially paid once any payment arrived, issued before;
    recomputed from its items after payments and their reversals (one statement for any number)."""
    if not call_ids:
        return
    uow.session.execute(
        text(
            """UPDATE capital_calls c
                  SET status = s.status, version = c.version + 1
                 FROM (SELECT call_id,
                              CASE WHEN bool_and(status IN ('paid', 'cancelled')) THEN 'paid'
                                   WHEN bool_or(amount_paid > 0) THEN 'partially_paid'
                                   ELSE 'issued' END AS status
                         FROM call_items WHERE call_id = ANY(CAST(:ids AS bigint[])) GROUP BY call_id) s
                WHERE c.id = s.call_id AND c.status IN ('issued', 'partially_paid', 'paid')
                  AND c.status <> s.status"""
        ),
        {"ids": sorted(call_ids)},
    )


class IssueCapitalCall(Kind):
    name = KIND

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        approvals.may_post(uow, actor, pool, KIND, payload)
        command = check(uow, pool, payload)
        approvals.approved_if_needed(pool, KIND, payload, command.total, actor)
        # The per-investor split is the worker's (allocation(), once, at this cut-off); the count is
        # the progress bar's until the worker writes the items and sets the exact one.
        investors = uow.session.scalar(
            select(func.count()).where(
                Commitment.pool_id == pool.id, Commitment.status == CommitmentStatus.ACCEPTED
            )
        )
        approved = {"approval_id": payload["approval_id"]} if "approval_id" in payload else {}
        upto = read_model.last_journal(uow.session, pool.id)
        return {**command.payload(), **approved, "upto_journal": upto}, investors

    def on_submit(self, uow, pool, operation_id, clean):  # noqa: ANN001, ANN201
        approvals.submitted(uow, operation_id, clean)
        # One number each. FOR NO KEY UPDATE: the operation row just written holds a key-share lock
        # on the pool (its foreign key), which FOR UPDATE would wait on: two calls submitted at once
        # each held one and waited for the other's (a deadlock); this lock waits only for a lock like it.
        uow.session.execute(select(Pool.id).where(Pool.id == pool.id).with_for_update(key_share=True))
        uow.session.add(
            CapitalCall(
                pool_id=pool.id,
                number=_next_number(uow, pool.id),
                amount=Decimal(clean["total"]),
                percent=Decimal(clean["percent"]) / 100 if "percent" in clean else None,
                purpose=clean["purpose"],
                call_date=date.fromisoformat(clean["call_date"]),
                due_date=date.fromisoformat(clean["due_date"]),
                status=CallStatus.ISSUING,
                operation_id=operation_id,
            )
        )

    def on_failure(self, uow, op):  # noqa: ANN001, ANN201
        """A call refused in its first batch (an investor's part above their unfunded commitment, a
        manager no longer active) booked nothing and is cancelled, not left 'issuing' for ever. One
        refused after batches were posted stays 'issuing': its receivables are in the ledger, and an
        admin's retry (once the cause is fixed) finishes it."""
        call = self._find_call(uow, op)
        if call is not None and op.progress_done == 0:  # a malformed row written around submit() has none
            call.status = CallStatus.CANCELLED

    def _find_call(self, uow: UnitOfWork, op: Operation) -> CapitalCall | None:
        return uow.session.execute(
            select(CapitalCall).where(CapitalCall.operation_id == op.id)
        ).scalar_one_or_none()

    def _call(self, uow: UnitOfWork, op: Operation) -> CapitalCall:
        call = self._find_call(uow, op)
        if call is None:  # only a row written around submit(): a bug, failed as one
            raise LookupError(f"no capital call for operation {op.id}")
        return call

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        approvals.may_post(uow, actor, pool, KIND, op.payload, op.id)
        call = self._call(uow, op)
        if op.progress_done == 0:  # before anything is posted
            approvals.approved_if_needed(pool, KIND, op.payload, call.amount, actor)
            self._write_items(uow, pool, call, op)
        # This batch's slice of the items, booked straight from call_items: a receivable per
        # investor and the clearing credit for the slice's total.
        ledger.post_query(
            uow.session,
            ledger.Posting(
                pool_id=pool.id,
                currency=pool.currency,
                kind=JournalKind.CAPITAL_CALL,
                idempotency_key=f"op:{op.id}:{op.progress_done}",
                effective_date=call.call_date,
                lines=[],
                memo=f"Capital call {call.number}: {call.purpose}",
                actor_id=actor.user_id,
                operation_id=op.id,
            ),
            """WITH slice AS (SELECT investor_id, amount_due FROM call_items WHERE call_id = :call
                               ORDER BY id OFFSET :done LIMIT :size)
               SELECT investor_id, :receivable, :debit, amount_due FROM slice
               UNION ALL
               SELECT NULL, :clearing, :credit, sum(amount_due) FROM slice HAVING count(*) > 0""",
            {
                "call": call.id,
                "done": op.progress_done,
                "size": batch_size(),
                "receivable": Account.RECEIVABLE.value,
                "clearing": Account.CALL_CLEARING.value,
                "debit": Side.DEBIT.value,
                "credit": Side.CREDIT.value,
            },
        )
        return min(op.progress_done + batch_size(), op.progress_total)

    def _write_items(self, uow: UnitOfWork, pool: Pool, call: CapitalCall, op: Operation) -> None:
        """All call items in one COPY, so every later batch just posts a slice of them."""
        if uow.session.execute(select(CallItem.id).where(CallItem.call_id == call.id).limit(1)).first():
            return
        parts = allocation(pool, call.amount, _bases(uow, pool, op.payload["upto_journal"]))
        approvals.as_approved(uow, op.payload, KIND, {i: (a,) for i, a in parts.items() if a > 0})
        commitment_of = dict(
            uow.session.execute(
                select(Commitment.investor_id, Commitment.id).where(
                    Commitment.pool_id == pool.id, Commitment.status == CommitmentStatus.ACCEPTED
                )
            ).all()
        )
        raw: Any = uow.session.connection().connection.driver_connection  # psycopg's own, for COPY
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "COPY call_items (call_id, commitment_id, investor_id, amount_due) FROM STDIN"
            ) as copy,
        ):
            for investor_id, amount in parts.items():
                if amount > 0:
                    copy.write_row((call.id, commitment_of[investor_id], investor_id, amount))
        op.progress_total = sum(1 for amount in parts.values() if amount > 0)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        call = self._call(uow, op)
        call.status = CallStatus.ISSUED
        call.version += 1
        notices.capital_call_issued(uow, call, author_id=op.actor_id)  # the outbox, in this transaction
        return {
            "call_id": call.id,
            "number": call.number,
            "total": str(call.amount),
            "items": op.progress_total,
        }
