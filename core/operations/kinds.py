"""What each operation kind checks when submitted and does when processed.

prepare()   runs in the submitting transaction: permission on the very pool or call item, payload
            validation, and the number of work items (progress_total).
run_batch() runs in the worker, in the transaction that records progress: it does the items from
            op.progress_done on and returns the new progress. It re-checks what may have changed
            since submission. Postings are keyed by operation and batch, so a rerun is a no-op.
finish()    runs with the last batch and returns the result shown to the user.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import BigInteger, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from core import ledger, positions
from core.domain import clean_text, parse_date
from core.errors import DomainError, InvalidState, PermissionDenied, ValidationError
from core.fundmath import FeeTerms, WaterfallTerms, allocate, management_fee, waterfall
from core.money import minor_unit, parse_amount, quantize, to_decimal
from core.permissions import Actor, require_pool_manager
from core.services import commitments
from core.services.pools import today
from core.settings import settings
from db.models import CallItem, CapitalCall, Commitment, Operation, Pool
from db.session import UnitOfWork

BATCH = 20_000  # investors per transaction: big enough to be set-based, small enough to commit often
RUNNING_POOLS = ("closed", "investing")
MAX_REQUESTS = 5_000  # requests in one submission (the lines of one bank statement)


T = TypeVar("T")
MALFORMED = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError, IndexError)


def refusal(exc: Exception) -> str | None:
    """The reason a request is refused for good (it would fail the same way on every retry)."""
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, MALFORMED):
        return f"malformed request: {type(exc).__name__}: {exc}"
    return None


def batch_size() -> int:
    """Investors per batch: BATCH, or OPERATION_BATCH_SIZE (tests use small ones to stop a call midway)."""
    return settings().operation_batch_size


def _require_running(pool: Pool, what: str) -> None:
    if pool.status not in RUNNING_POOLS:
        raise InvalidState(f"{what} needs a closed pool; this one is {pool.status}")


def _date(payload: dict[str, Any], field: str, default: date | None = None) -> date:
    value = payload.get(field)
    if value in (None, "") and default is not None:
        return default
    return parse_date(value, field)


def _no_future(when: date, field: str) -> date:
    if when > today():
        raise ValidationError(field, "cannot be in the future")
    return when


def _journal_lines(rows: list[tuple[int, Decimal]], account: str, side: str) -> list[ledger.Line]:
    return [ledger.Line(account, side, amount, investor) for investor, amount in rows if amount != 0]


def each_line(
    payloads: list[dict[str, Any]], check: Callable[[dict[str, Any]], T], lines: Sequence[int] | None
) -> list[T]:
    """check() on every request in order; with `lines` (each request's line in what the user sent:
    several requests, or the lines of a file), a refusal names its line."""
    results = []
    for index, payload in enumerate(payloads):
        try:
            results.append(check(payload))
        except ValidationError as exc:
            if lines is None:
                raise
            raise ValidationError(f"line {lines[index]} {exc.field}", exc.reason) from None
        except DomainError as exc:
            if lines is None:
                raise
            raise type(exc)(f"line {lines[index]}: {exc.message}") from None
    return results


class Kind:
    name = ""
    needs_pool = True  # False for platform-wide work (an export): pool is then None
    grouped = False  # one small batch: many are done in one transaction by operations.drain()

    def prepare(
        self, actor: Actor, uow: UnitOfWork, pool: Pool, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], int]:
        raise NotImplementedError

    def prepare_many(
        self,
        actor: Actor,
        uow: UnitOfWork,
        pool: Pool,
        payloads: list[dict[str, Any]],
        lines: Sequence[int] | None,
    ) -> list[tuple[dict[str, Any], int]]:
        """Several requests at once (the lines of a bank statement); a kind that reads per request
        overrides this to read once for all of them."""
        return each_line(payloads, lambda payload: self.prepare(actor, uow, pool, payload), lines)

    def on_submit(self, uow: UnitOfWork, pool: Pool, operation_id: uuid.UUID, clean: dict[str, Any]) -> None:
        """State that must exist as soon as the request is accepted (e.g. the call in 'issuing')."""

    def run_batch(self, uow: UnitOfWork, op: Operation, pool: Pool, actor: Actor) -> int:
        raise NotImplementedError

    def on_failure(self, uow: UnitOfWork, op: Operation) -> None:
        """Undo what on_submit showed as under way, once the request failed for good."""

    def finish(self, uow: UnitOfWork, op: Operation, pool: Pool) -> dict[str, Any] | None:
        return None

    def run_group(
        self, uow: UnitOfWork, ops: list[Operation], pools: dict[int, Pool], actors: dict[int, Actor]
    ) -> dict[uuid.UUID, str]:
        """Grouped kinds only: every operation's one batch, set-based; the refusal of each one refused."""
        raise NotImplementedError


class SettleCommitments(Kind):
    """Accept many commitments (e.g. all scaled down to fit the hard cap) as one request."""

    name = "settle_commitment"

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        require_pool_manager(actor, pool.manager_id)
        items = payload.get("commitments")
        if not isinstance(items, list) or not items or len(items) > 50_000:
            raise ValidationError("commitments", "must list between 1 and 50,000 commitments")
        clean = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                raise ValidationError("commitments", "each needs an integer id")
            amount = item.get("amount")
            clean.append(
                {
                    "id": item["id"],
                    "amount": None
                    if amount in (None, "")
                    else str(parse_amount(amount, pool.currency, "amount")),
                }
            )
        ids = [c["id"] for c in clean]
        found = (
            uow.session.execute(
                select(Commitment.id).where(
                    Commitment.id.in_(ids), Commitment.pool_id == pool.id, Commitment.status == "pending"
                )
            )
            .scalars()
            .all()
        )
        if len(set(found)) != len(set(ids)) or len(set(ids)) != len(ids):
            raise ValidationError("commitments", "must be distinct pending commitments of this pool")
        return {"commitments": clean}, len(clean)

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        items = op.payload["commitments"][op.progress_done : op.progress_done + 500]
        for item in items:
            commitments.settle(actor, uow, item["id"], item["amount"])
        return op.progress_done + len(items)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"accepted": len(op.payload["commitments"])}


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
        _require_running(pool, "a capital call")
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
        call_date = _no_future(_date(payload, "call_date", today()), "call_date")
        due = _date(payload, "due_date")
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


class RecordPayment(Kind):
    """A payment against one call item, by its investor or recorded by the pool's manager."""

    name = "payment"
    grouped = True

    def _items(
        self, uow: UnitOfWork, item_ids: list[object], *, lock: bool
    ) -> dict[int, tuple[CallItem, CapitalCall]]:
        ids = sorted({i for i in item_ids if isinstance(i, int)})
        query = (
            select(CallItem, CapitalCall)
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .where(CallItem.id == any_(bindparam("ids", ids, ARRAY(BigInteger))))
            .order_by(CallItem.id)  # one lock order for every worker
        )
        rows = uow.session.execute(query.with_for_update(of=CallItem) if lock else query).all()
        return {item.id: (item, call) for item, call in rows}

    def _item(
        self, found: dict[int, tuple[CallItem, CapitalCall]], pool: Pool, item_id: object
    ) -> tuple[CallItem, CapitalCall]:
        if not isinstance(item_id, int):
            raise ValidationError("call_item_id", "must be an integer")
        row = found.get(item_id)
        if row is None or row[1].pool_id != pool.id:
            raise ValidationError("call_item_id", "no such call item in this pool")
        return row

    def _check(
        self,
        actor: Actor,
        pool: Pool,
        item: CallItem,
        call: CapitalCall,
        amount: Decimal,
        earlier: Decimal = Decimal(0),
    ) -> None:
        """earlier: what other lines of the same submission already pay on this item."""
        if not (actor.user_id == item.investor_id and actor.role == "investor"):
            require_pool_manager(actor, pool.manager_id)
        if call.status != "issued":
            raise InvalidState(f"this capital call is {call.status}; payments can be made once it is issued")
        if item.status == "cancelled":
            raise InvalidState("this call item was cancelled")
        if item.status == "paid":
            raise InvalidState("this call item is already paid in full")
        outstanding = item.amount_due - item.amount_paid - earlier
        if amount > outstanding:
            raise ValidationError(
                "amount",
                f"{amount:,} is more than the {quantize(outstanding, pool.currency):,} {pool.currency} outstanding",
            )

    def prepare_many(self, actor, uow, pool, payloads, lines):  # noqa: ANN001, ANN201
        found = self._items(uow, [payload.get("call_item_id") for payload in payloads], lock=False)
        earlier: dict[int, Decimal] = {}

        def one(payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
            item_id = payload.get("call_item_id")
            item, call = self._item(found, pool, item_id)
            amount = parse_amount(payload.get("amount"), pool.currency, "amount")
            self._check(actor, pool, item, call, amount, earlier.get(item.id, Decimal(0)))
            reference = clean_text(payload.get("reference", ""), "reference", max_length=100)
            paid_on = _no_future(_date(payload, "paid_on", today()), "paid_on")
            earlier[item.id] = earlier.get(item.id, Decimal(0)) + amount
            return {
                "call_item_id": item.id,
                "amount": str(amount),
                "reference": reference,
                "paid_on": paid_on.isoformat(),
            }, 1

        return each_line(payloads, one, lines)

    def _apply(
        self, found: dict[int, tuple[CallItem, CapitalCall]], op: Operation, pool: Pool, actor: Actor
    ) -> ledger.Posting:
        """Re-check the payment against the locked item, settle the item, and say what to post."""
        item, call = self._item(found, pool, op.payload["call_item_id"])
        amount = Decimal(op.payload["amount"])
        self._check(actor, pool, item, call, amount)
        item.amount_paid += amount
        item.status = "paid" if item.amount_paid == item.amount_due else "partially_paid"
        return ledger.Posting(
            pool_id=pool.id,
            currency=pool.currency,
            kind="payment",
            idempotency_key=f"op:{op.id}",
            effective_date=date.fromisoformat(op.payload["paid_on"]),
            lines=[
                ledger.debit("cash", amount),
                ledger.credit("capital", amount, item.investor_id),
                ledger.debit("call_clearing", amount),
                ledger.credit("receivable", amount, item.investor_id),
            ],
            memo=f"payment for call item {item.id}, ref {op.payload['reference']}",
            actor_id=actor.user_id,
            operation_id=op.id,
        )

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        found = self._items(uow, [op.payload["call_item_id"]], lock=True)
        ledger.post_many(uow.session, [self._apply(found, op, pool, actor)])
        return 1

    def run_group(self, uow, ops, pools, actors):  # noqa: ANN001, ANN201
        found = self._items(uow, [op.payload.get("call_item_id") for op in ops], lock=True)
        postings, refused = [], {}
        for op in ops:  # in the order drain() took them: a later payment sees the earlier ones' effect
            try:
                actor = actors.get(op.actor_id)
                if actor is None:
                    raise PermissionDenied("the user who submitted this operation is no longer active")
                postings.append(self._apply(found, op, pools[op.pool_id], actor))
            except Exception as exc:
                reason = refusal(exc)
                if reason is None:
                    raise
                refused[op.id] = reason
        ledger.post_many(uow.session, postings)
        return refused

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"call_item_id": op.payload["call_item_id"], "amount": op.payload["amount"]}


def _investors_slice(held: dict[int, Any], start: int) -> list[int]:
    return sorted(held)[start : start + batch_size()]


class ChargeManagementFee(Kind):
    """A period's fee per investor on their commitment (or invested share), per the pool's fee terms."""

    name = "management_fee"

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        _require_running(pool, "a management fee")
        start, end = _date(payload, "period_start"), _date(payload, "period_end")
        if end <= start:
            raise ValidationError("period_end", "must be after the period start")
        if (end - start).days > 366:
            raise ValidationError("period_end", "a fee period is at most one year")
        _no_future(start, "period_start")
        upto = positions.last_journal(uow.session, pool.id)
        held = {
            i
            for i, p in positions.investor_positions(uow.session, pool.id, upto_journal=upto).items()
            if p.committed > 0
        }
        if not held:
            raise InvalidState("this pool has no accepted commitments to charge")
        return {"period_start": start.isoformat(), "period_end": end.isoformat(), "upto_journal": upto}, len(
            held
        )

    def fees(self, uow: UnitOfWork, pool: Pool, payload: dict[str, Any]) -> dict[int, Decimal]:
        terms = FeeTerms(
            rate=pool.management_fee_rate,
            basis=pool.management_fee_basis,
            step_down_rate=pool.management_fee_step_down_rate,
            investment_period_end=pool.investment_period_end,
        )
        held = positions.investor_positions(uow.session, pool.id, upto_journal=payload["upto_journal"])
        books = positions.pool_books(uow.session, pool.id)
        paid = sum((p.paid_in for p in held.values()), Decimal(0))
        start, end = date.fromisoformat(payload["period_start"]), date.fromisoformat(payload["period_end"])
        return {
            investor: management_fee(
                terms,
                start,
                end,
                p.committed,
                # An investor's invested capital: their paid-in share of what the pool has invested.
                quantize(books.investments * p.paid_in / paid, pool.currency) if paid else Decimal(0),
                currency=pool.currency,
            )
            for investor, p in held.items()
            if p.committed > 0
        }

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        fees = self.fees(uow, pool, op.payload)
        batch = _investors_slice(fees, op.progress_done)
        rows = [(i, fees[i]) for i in batch if fees[i] > 0]
        if rows:
            ledger.post(
                uow.session,
                pool_id=pool.id,
                currency=pool.currency,
                kind="management_fee",
                idempotency_key=f"op:{op.id}:{op.progress_done}",
                effective_date=date.fromisoformat(op.payload["period_end"]),
                lines=[
                    *_journal_lines(rows, "capital", ledger.DEBIT),
                    ledger.credit("fee_income", sum((f for _, f in rows), Decimal(0))),
                ],
                memo=f"management fee {op.payload['period_start']} to {op.payload['period_end']}",
                actor_id=actor.user_id,
                operation_id=op.id,
            )
        return op.progress_done + len(batch)


class RecordInvestment(Kind):
    """Buy into a company with pool cash, or exit (NAV-neutral: marks are booked by valuations)."""

    name = "investment"

    def _check(self, uow: UnitOfWork, pool: Pool, action: str, amount: Decimal, cost: Decimal) -> None:
        books = positions.pool_books(uow.session, pool.id)
        if action == "buy" and amount > books.cash:
            raise ValidationError(
                "amount", f"{amount:,} is more than the pool's cash of {books.cash:,} {pool.currency}"
            )
        if action == "exit" and cost > books.investments:
            raise ValidationError(
                "cost", f"{cost:,} is more than the {books.investments:,} {pool.currency} invested"
            )

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        _require_running(pool, "an investment")
        action = payload.get("action", "buy")
        if action not in ("buy", "exit"):
            raise ValidationError("action", "must be buy or exit")
        amount = parse_amount(payload.get("amount"), pool.currency, "amount")
        cost = parse_amount(payload.get("cost"), pool.currency, "cost") if action == "exit" else amount
        self._check(uow, pool, action, amount, cost)
        company = clean_text(payload.get("company", ""), "company", max_length=120)
        on = _no_future(_date(payload, "date", today()), "date")
        return {
            "action": action,
            "company": company,
            "amount": str(amount),
            "cost": str(cost),
            "date": on.isoformat(),
        }, 1

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        p = op.payload
        amount, cost = Decimal(p["amount"]), Decimal(p["cost"])
        self._check(uow, pool, p["action"], amount, cost)
        if p["action"] == "buy":
            lines = [ledger.debit("investments", amount), ledger.credit("cash", amount)]
        else:
            lines = [ledger.debit("cash", amount), ledger.credit("investments", cost)]
            if amount != cost:
                lines.append(
                    ledger.Line(
                        "unrealized", ledger.CREDIT if amount > cost else ledger.DEBIT, abs(amount - cost)
                    )
                )
        ledger.post(
            uow.session,
            pool_id=pool.id,
            currency=pool.currency,
            kind="investment",
            idempotency_key=f"op:{op.id}",
            effective_date=date.fromisoformat(p["date"]),
            lines=lines,
            memo=f"{p['action']} {p['company']}",
            actor_id=actor.user_id,
            operation_id=op.id,
        )
        if pool.status == "closed":
            pool.status = "investing"
        return 1


def gains_allocation(uow: UnitOfWork, pool: Pool, delta: Decimal, upto: int) -> dict[int, Decimal]:
    """A change in value belongs to the investors pro rata to what they have paid in."""
    held = positions.investor_positions(uow.session, pool.id, upto_journal=upto)
    weights = {i: p.paid_in for i, p in sorted(held.items()) if p.paid_in > 0}
    if not weights:
        raise InvalidState("nobody has paid in yet, so there is no value to mark")
    return allocate(delta, weights, minor_unit(pool.currency))


class RecordValuation(Kind):
    """A new fair value of the whole portfolio; the change is shared among investors."""

    name = "valuation"

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        _require_running(pool, "a valuation")
        value = parse_amount(payload.get("value"), pool.currency, "value", allow_zero=True)
        books = positions.pool_books(uow.session, pool.id)
        delta = value - books.portfolio_value
        upto = positions.last_journal(uow.session, pool.id)
        parts = gains_allocation(uow, pool, delta, upto)
        on = _no_future(_date(payload, "date", today()), "date")
        note = clean_text(payload.get("note", "") or "valuation", "note", max_length=200)
        return {
            "value": str(value),
            "delta": str(delta),
            "date": on.isoformat(),
            "note": note,
            "upto_journal": upto,
        }, len(parts)

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        delta = Decimal(op.payload["delta"])
        parts = gains_allocation(uow, pool, delta, op.payload["upto_journal"])
        batch = _investors_slice(parts, op.progress_done)
        rows = [(i, abs(parts[i])) for i in batch if parts[i] != 0]
        if rows:
            gain = delta > 0
            ledger.post(
                uow.session,
                pool_id=pool.id,
                currency=pool.currency,
                kind="valuation",
                idempotency_key=f"op:{op.id}:{op.progress_done}",
                effective_date=date.fromisoformat(op.payload["date"]),
                lines=[
                    *_journal_lines(rows, "capital", ledger.CREDIT if gain else ledger.DEBIT),
                    ledger.Line(
                        "unrealized",
                        ledger.DEBIT if gain else ledger.CREDIT,
                        sum((a for _, a in rows), Decimal(0)),
                    ),
                ],
                memo=op.payload["note"],
                actor_id=actor.user_id,
                operation_id=op.id,
            )
        return op.progress_done + len(batch)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"value": op.payload["value"], "change": op.payload["delta"]}


@dataclass(frozen=True)
class DistributionPlan:
    """Who gets what: each investor's share of the proceeds, split by the waterfall."""

    shares: dict[int, Decimal]
    lp: dict[int, Decimal]
    gp: dict[int, Decimal]
    tiers: dict[str, tuple[Decimal, Decimal]]


def plan_distribution(
    uow: UnitOfWork, pool: Pool, proceeds: Decimal, on: date, upto: int, only: list[int] | None = None
) -> DistributionPlan:
    """The same computation for the manager's preview and for the posting, so they cannot differ.

    The whole-fund waterfall is applied per investor on their own contributions and distributions
    (equivalent for one investor class), each investor's share of the proceeds being pro rata to
    paid-in capital. `only` limits the waterfall to one batch of investors.
    """
    held = positions.investor_positions(uow.session, pool.id, upto_journal=upto)
    weights = {i: p.paid_in for i, p in sorted(held.items()) if p.paid_in > 0}
    if not weights:
        raise InvalidState("nobody has paid in yet, so there is nothing to distribute to")
    shares = allocate(proceeds, weights, minor_unit(pool.currency))
    flows = positions.dated_capital_flows(uow.session, pool.id, upto)
    terms = WaterfallTerms(
        hurdle_rate=pool.hurdle_rate, catch_up_rate=pool.catch_up_rate, carry_rate=pool.carry_rate
    )
    lp: dict[int, Decimal] = {}
    gp: dict[int, Decimal] = {}
    tiers: dict[str, list[Decimal]] = {}
    for investor in shares if only is None else only:
        share = shares[investor]
        mine = flows.get(investor, {"payment": [], "distribution": [], "carry": []})
        result = waterfall(
            terms,
            mine["payment"],
            mine["distribution"],
            share,
            on,
            prior_gp_distributions=mine["carry"],
            currency=pool.currency,
        )
        lp[investor], gp[investor] = result.lp_total, result.gp_total
        for tier in result.tiers:
            totals = tiers.setdefault(tier.name, [Decimal(0), Decimal(0)])
            totals[0] += tier.lp
            totals[1] += tier.gp
    return DistributionPlan(shares, lp, gp, {name: (v[0], v[1]) for name, v in tiers.items()})


class DistributeProceeds(Kind):
    name = "distribution"

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        _require_running(pool, "a distribution")
        proceeds = parse_amount(payload.get("proceeds"), pool.currency, "proceeds")
        cash = positions.pool_books(uow.session, pool.id).cash
        if proceeds > cash:
            raise ValidationError(
                "proceeds", f"{proceeds:,} is more than the pool's cash of {cash:,} {pool.currency}"
            )
        on = _no_future(_date(payload, "date", today()), "date")
        upto = positions.last_journal(uow.session, pool.id)
        plan = plan_distribution(uow, pool, proceeds, on, upto)
        memo = clean_text(payload.get("memo", "") or "distribution", "memo", max_length=200)
        return {"proceeds": str(proceeds), "date": on.isoformat(), "memo": memo, "upto_journal": upto}, len(
            plan.shares
        )

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        p = op.payload
        on = date.fromisoformat(p["date"])
        if op.progress_done == 0:
            cash = positions.pool_books(uow.session, pool.id).cash
            if Decimal(p["proceeds"]) > cash:
                raise ValidationError("proceeds", f"is more than the pool's cash of {cash:,} {pool.currency}")
        held = positions.investor_positions(uow.session, pool.id, upto_journal=p["upto_journal"])
        batch = _investors_slice({i: x for i, x in held.items() if x.paid_in > 0}, op.progress_done)
        plan = plan_distribution(uow, pool, Decimal(p["proceeds"]), on, p["upto_journal"], only=batch)
        for kind, amounts in (("distribution", plan.lp), ("carry", plan.gp)):
            rows = [(i, amounts[i]) for i in batch if amounts[i] > 0]
            if rows:
                ledger.post(
                    uow.session,
                    pool_id=pool.id,
                    currency=pool.currency,
                    kind=kind,
                    idempotency_key=f"op:{op.id}:{kind}:{op.progress_done}",
                    effective_date=on,
                    lines=[
                        *_journal_lines(rows, "capital", ledger.DEBIT),
                        ledger.credit("cash", sum((a for _, a in rows), Decimal(0))),
                    ],
                    memo=p["memo"] if kind == "distribution" else f"carried interest: {p['memo']}",
                    actor_id=actor.user_id,
                    operation_id=op.id,
                )
        return op.progress_done + len(batch)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"proceeds": op.payload["proceeds"]}


class ExportCsv(Kind):
    """An admin's large CSV export, written in keyset batches to a file (see core.services.exports)."""

    name = "export"
    needs_pool = False

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        from core.services import exports

        return exports.prepare_job(actor, uow, payload)

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        from core.services import exports

        return exports.run_job_batch(actor, uow, op)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        from core.services import exports

        return exports.finish_job(uow, op)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        SettleCommitments(),
        IssueCapitalCall(),
        RecordPayment(),
        ChargeManagementFee(),
        RecordInvestment(),
        RecordValuation(),
        DistributeProceeds(),
        ExportCsv(),
    )
}
