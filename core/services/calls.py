"""Capital calls: a percentage of commitments or an amount, split pro rata to commitment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from core import clock, positions
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import InvalidState, ValidationError
from core.fundmath import allocate
from core.ledger import posting as ledger
from core.money import minor_unit, parse_amount, quantize, to_decimal
from core.operations.kind import Kind, batch_size
from core.permissions import require_pool_manager
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, Commitment, Operation, Pool


def call_total(pool: Pool, committed: Decimal, payload: dict[str, Any]) -> Decimal:
    """A call is a percentage of commitments or an amount; either way an exact total in minor units."""
    percent, amount = payload.get("percent"), payload.get("amount")
    if (percent in (None, "")) == (amount in (None, "")):
        raise ValidationError("percent", "give either a percentage of commitments or an amount, not both")
    if percent not in (None, ""):
        pct = to_decimal(percent, "percent")
        if pct <= 0 or pct > 100:
            raise ValidationError("percent", "must be above 0 and at most 100")
        return quantize(committed * pct / 100, pool.currency)
    return parse_amount(amount, pool.currency, "amount")


def _within_unfunded(pool: Pool, total: Decimal, unfunded: Decimal) -> None:
    if total > unfunded:
        raise ValidationError(
            "amount", f"{total:,} is above the unfunded commitments of {unfunded:,} {pool.currency}"
        )


def call_allocation(uow: UnitOfWork, pool: Pool, total: Decimal, upto: int) -> dict[int, Decimal]:
    """Each investor's part of a call, pro rata to commitment; refused where it exceeds the unfunded part."""
    held = {i: b for i, b in positions.call_bases(uow.session, pool.id, upto).items() if b.committed > 0}
    if not held:
        raise InvalidState("this pool has no accepted commitments to call")
    _within_unfunded(pool, total, sum((p.unfunded for p in held.values()), Decimal(0)))
    parts = allocate(total, {i: p.committed for i, p in sorted(held.items())}, minor_unit(pool.currency))
    over = [i for i, part in parts.items() if part > held[i].unfunded]
    if over:
        raise ValidationError(
            "amount", f"would call more than the unfunded commitment of {len(over)} investor(s)"
        )
    return parts


class IssueCapitalCall(Kind):
    name = "capital_call"

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        require_running(pool.status, "a capital call")
        upto = positions.last_journal(uow.session, pool.id)
        book = positions.pool_total(uow.session, pool.id)
        if book.committed <= 0:
            raise InvalidState("this pool has no accepted commitments to call")
        total = call_total(pool, book.committed, payload)
        _within_unfunded(pool, total, book.unfunded)
        # The per-investor split is the worker's (call_allocation, once); the count is the
        # progress bar's until the worker writes the items and sets the exact one.
        investors = uow.session.scalar(
            select(func.count()).where(Commitment.pool_id == pool.id, Commitment.status == "accepted")
        )
        call_date = not_in_future(request_date(payload, "call_date", clock.today()), "call_date")
        due = request_date(payload, "due_date")
        if due < call_date:
            raise ValidationError("due_date", "must not be before the call date")
        clean = {
            "percent": None
            if payload.get("percent") in (None, "")
            else str(to_decimal(payload["percent"], "percent")),
            "total": str(total),
            "purpose": clean_text(payload.get("purpose", ""), "purpose", max_length=200),
            "call_date": call_date.isoformat(),
            "due_date": due.isoformat(),
            "upto_journal": upto,
        }
        return clean, investors

    def on_submit(self, uow, pool, operation_id, clean):  # noqa: ANN001, ANN201
        uow.session.add(
            CapitalCall(
                pool_id=pool.id,
                amount=Decimal(clean["total"]),
                percent=None if clean["percent"] is None else Decimal(clean["percent"]) / 100,
                purpose=clean["purpose"],
                call_date=date.fromisoformat(clean["call_date"]),
                due_date=date.fromisoformat(clean["due_date"]),
                status="issuing",
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
            call.status = "cancelled"

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
        require_pool_manager(actor, pool.manager_id)
        call = self._call(uow, op)
        if op.progress_done == 0:
            self._write_items(uow, pool, call, op)
        # This batch's slice of the items, booked straight from call_items: a receivable per
        # investor and the clearing credit for the slice's total.
        ledger.post_query(
            uow.session,
            ledger.Posting(
                pool_id=pool.id,
                currency=pool.currency,
                kind="capital_call",
                idempotency_key=f"op:{op.id}:{op.progress_done}",
                effective_date=call.call_date,
                lines=[],
                memo=f"capital call {call.id}: {call.purpose}",
                actor_id=actor.user_id,
                operation_id=op.id,
            ),
            """WITH slice AS (SELECT investor_id, amount_due FROM call_items WHERE call_id = :call
                               ORDER BY id OFFSET :done LIMIT :size)
               SELECT investor_id, 'receivable', 'D', amount_due FROM slice
               UNION ALL
               SELECT NULL, 'call_clearing', 'C', sum(amount_due) FROM slice HAVING count(*) > 0""",
            {"call": call.id, "done": op.progress_done, "size": batch_size()},
        )
        return min(op.progress_done + batch_size(), op.progress_total)

    def _write_items(self, uow: UnitOfWork, pool: Pool, call: CapitalCall, op: Operation) -> None:
        """All call items in one COPY, so every later batch just posts a slice of them."""
        if uow.session.execute(select(CallItem.id).where(CallItem.call_id == call.id).limit(1)).first():
            return
        parts = call_allocation(uow, pool, call.amount, op.payload["upto_journal"])
        commitment_of = dict(
            uow.session.execute(
                select(Commitment.investor_id, Commitment.id).where(
                    Commitment.pool_id == pool.id, Commitment.status == "accepted"
                )
            ).all()
        )
        raw = uow.session.connection().connection.driver_connection
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
        call.status = "issued"
        return {"call_id": call.id, "total": str(call.amount), "items": op.progress_total}
