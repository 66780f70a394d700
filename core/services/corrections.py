"""Corrections: a mis-posted payment, fee, fund expense, valuation, investment, exit or distribution is reversed.

The ledger is never edited: each journal the operation posted gets a mirror-image journal (same
kind, so every line nets out on every surface), dated the day of the correction and carrying the
reason. The fact it booked is marked reversed in the same transaction, so the item it paid is open
again, the holding it sold is held again. A correction is a durable operation, audited like any.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update

from core import clock
from core.domain import clean_text
from core.errors import InvalidState, NotFound
from core.formatting import money
from core.ledger import posting as ledger
from core.operations import OperationStatus, submit
from core.operations.kind import Kind
from core.permissions import ADMIN, Actor, require_manager_of
from core.services import calls
from core.services.audit import audits_refused_reads
from core.services.pools import load_pool
from core.uow import UnitOfWork
from core.vocabulary import ExpenseCategory
from core.vocabulary import OperationStatus as Status
from db.models import (
    CallItem,
    Distribution,
    Exit,
    FeeCharge,
    FundExpense,
    Investment,
    Journal,
    Mark,
    Operation,
    Payment,
    Pool,
)

KIND = "reversal"
# The operation kinds a correction reverses, and the table of the fact each one booked.
FACTS: dict[str, Any] = {
    "payment": Payment,
    "management_fee": FeeCharge,
    "fund_expense": FundExpense,
    "valuation": Mark,
    "investment": Investment,
    "exit": Exit,
    "distribution": Distribution,
}
LABELS = {
    "payment": "Payment",
    "management_fee": "Management fee",
    "fund_expense": "Fund expense",
    "valuation": "Valuation",
    "investment": "Investment",
    "exit": "Exit",
    "distribution": "Distribution",
}


@dataclass(frozen=True)
class Reverse:
    """The command: reverse everything one operation posted, for a reason."""

    pool_id: int
    operation_id: uuid.UUID
    reason: str

    def payload(self) -> dict[str, Any]:
        return {"operation_id": str(self.operation_id), "reason": self.reason}


@dataclass(frozen=True)
class Correctable:
    """A posted fact a correction can reverse, described in the users' words."""

    operation_id: uuid.UUID
    kind: str
    on: date
    description: str
    amount: Decimal
    currency: str
    blocked_by: str | None  # why it cannot be reversed now (a later fact depends on it), or None

    @property
    def label(self) -> str:
        return LABELS[self.kind]


def _may_correct(actor: Actor, uow: UnitOfWork, pool: Pool) -> None:
    if actor.role != ADMIN:
        require_manager_of(actor, uow, pool)


# Every posted fact not reversed: (kind, operation, day, amount, whose or what, its detail, the
# company it concerns); describe() turns a row into words.
_FACTS_SQL = text(
    """SELECT 'payment', p.operation_id, p.paid_on, p.amount, u.name, c.number::text || '|' || p.reference,
              NULL::bigint
         FROM payments p JOIN users u ON u.id = p.investor_id
         JOIN call_items i ON i.id = p.call_item_id JOIN capital_calls c ON c.id = i.call_id
        WHERE p.pool_id = :pool AND p.reversed_on IS NULL
       UNION ALL
       SELECT 'management_fee', f.operation_id, f.period_end, f.total, f.period_start::text, f.period_end::text, NULL
         FROM fee_charges f WHERE f.pool_id = :pool AND f.reversed_on IS NULL
       UNION ALL
       SELECT 'fund_expense', x.operation_id, x.incurred_on, x.amount, x.category, x.memo, NULL
         FROM fund_expenses x WHERE x.pool_id = :pool AND x.reversed_on IS NULL
       UNION ALL
       SELECT 'valuation', m.operation_id, m.marked_on, m.change, co.name, m.value::text, m.company_id
         FROM marks m JOIN portfolio_companies co ON co.id = m.company_id
        WHERE m.pool_id = :pool AND m.reversed_on IS NULL
       UNION ALL
       SELECT 'investment', v.operation_id, v.invested_on, v.amount, co.name, NULL, v.company_id
         FROM investments v JOIN portfolio_companies co ON co.id = v.company_id
        WHERE v.pool_id = :pool AND v.reversed_on IS NULL
       UNION ALL
       SELECT 'exit', x.operation_id, x.exited_on, x.proceeds, co.name, NULL, x.company_id
         FROM exits x JOIN portfolio_companies co ON co.id = x.company_id
        WHERE x.pool_id = :pool AND x.reversed_on IS NULL
       UNION ALL
       SELECT 'distribution', d.operation_id, d.distributed_on, d.proceeds, d.memo, NULL, NULL
         FROM distributions d WHERE d.pool_id = :pool AND d.reversed_on IS NULL
       ORDER BY 3 DESC, 1"""
)


def _words(kind: str, amount: Decimal, subject: str, detail: str | None, currency: str) -> str:
    """A fact in the users' words, money in the one format (core.formatting)."""
    if kind == "payment":
        number, _, reference = (detail or "").partition("|")
        wire = f", wire {reference}" if reference else ""
        return f"{money(amount, currency)} from {subject}, capital call {number}{wire}"
    if kind == "management_fee":
        return f"{money(amount, currency)} for {subject} to {detail}"
    if kind == "fund_expense":
        return f"{money(amount, currency)} of {ExpenseCategory(subject).label.lower()} costs" + (
            f": {detail}" if detail else ""
        )
    if kind == "valuation":
        return (
            f"{subject} valued at {money(Decimal(detail or 0), currency)} ({money(amount, currency)} change)"
        )
    if kind == "investment":
        return f"{money(amount, currency)} in {subject}"
    if kind == "exit":
        return f"{subject} sold for {money(amount, currency)}"
    return f"{money(amount, currency)}: {subject}"


def _blocked(kind: str, on: date, company: int | None, facts: list[tuple[Any, ...]]) -> str | None:
    """A company's facts are undone latest first: a purchase while marks or an exit stand on the
    holding, a mark while a later mark or an exit does."""
    if company is None or kind not in ("investment", "valuation"):
        return None
    later = [
        f
        for f in facts
        if f[6] == company
        and (f[0] == "exit" or (f[0] == "valuation" and (kind == "investment" or f[2] > on)))
    ]
    if not later:
        return None
    names = ", ".join(f"{LABELS[f[0]].lower()} of {f[2]}" for f in later[:3])
    return f"reverse the {names} first"


@audits_refused_reads
def correctable(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[Correctable]:
    """Every posted fact of the pool that has not been reversed, newest first."""
    pool = load_pool(uow, pool_id)
    _may_correct(actor, uow, pool)
    facts = [tuple(row) for row in uow.session.execute(_FACTS_SQL, {"pool": pool.id})]
    return [
        Correctable(
            op_id,
            kind,
            on,
            _words(kind, amount, subject, detail, pool.currency),
            amount,
            pool.currency,
            _blocked(kind, on, company, facts),
        )
        for kind, op_id, on, amount, subject, detail, company in facts
    ]


def check(actor: Actor, uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> Reverse:
    _may_correct(actor, uow, pool)
    try:
        target = uuid.UUID(str(request.get("operation_id")))
    except ValueError:
        raise NotFound("no such posting to correct") from None
    reason = clean_text(request.get("reason", ""), "reason", max_length=200)
    found = next((c for c in correctable(actor, uow, pool.id) if c.operation_id == target), None)
    if found is None:
        op = uow.session.get(Operation, target)
        if op is None or op.pool_id != pool.id or op.kind not in FACTS:
            raise NotFound("no such posting to correct in this pool")
        if op.status != Status.DONE:
            raise InvalidState(
                f"this {LABELS[op.kind].lower()} was not posted ({op.status}); there is nothing to reverse"
            )
        raise InvalidState(f"this {LABELS[op.kind].lower()} was reversed already")
    if found.blocked_by:
        raise InvalidState(f"{found.label} of {found.description} cannot be reversed yet: {found.blocked_by}")
    return Reverse(pool.id, target, reason)


@dataclass(frozen=True)
class CorrectionPreview:
    """What a correction will reverse, for the person to confirm."""

    correctable: Correctable
    command: Reverse

    @property
    def description(self) -> str:
        return f"{self.correctable.label} of {self.correctable.description}"


@audits_refused_reads
def preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> CorrectionPreview:
    pool = load_pool(uow, pool_id)
    command = check(actor, uow, pool, request)
    found = next(
        (c for c in correctable(actor, uow, pool.id) if c.operation_id == command.operation_id), None
    )
    if found is None:  # reversed, or being reversed, since the form was filled (a second click, a tab)
        raise InvalidState("this posting is no longer open to correction: it has been reversed meanwhile")
    return CorrectionPreview(found, command)


def reverse(actor: Actor, uow: UnitOfWork, command: Reverse) -> OperationStatus:
    """Submit the correction; the same request twice is the same operation."""
    return submit(actor, uow, command.pool_id, KIND, command.payload(), queue=uow.queue)


class ReversePosting(Kind):
    name = KIND

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        return check(actor, uow, pool, payload).payload(), 1

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        if actor.role != ADMIN:
            require_manager_of(actor, uow, pool)
        command = check(actor, uow, pool, op.payload)
        target = uow.session.get(Operation, command.operation_id)
        if target is None:
            raise NotFound("no such posting to correct")
        today = clock.today()
        journals = uow.session.execute(
            select(Journal.id)
            .where(Journal.operation_id == target.id, Journal.reverses_id.is_(None))
            .order_by(Journal.id)
        ).scalars()
        for journal_id in journals:
            ledger.reverse(
                uow.session,
                journal_id,
                idempotency_key=f"reversal:{journal_id}",
                effective_date=today,
                memo=f"Reversed: {command.reason}",
                actor_id=actor.user_id,
            )
        fact = FACTS[target.kind]
        uow.session.execute(
            update(fact)
            .where(fact.operation_id == target.id, fact.reversed_on.is_(None))
            .values(reversed_on=today, reversed_by=op.id)
        )
        if target.kind == "payment":
            self._reopen(uow, target)
        uow.session.execute(update(Pool).where(Pool.id == pool.id).values(version=Pool.version + 1))
        return 1

    def _reopen(self, uow: UnitOfWork, target: Operation) -> None:
        """The paid item owes the amount again, and its call is no longer paid."""
        payment = uow.session.execute(select(Payment).where(Payment.operation_id == target.id)).scalar_one()
        item = uow.session.execute(
            select(CallItem).where(CallItem.id == payment.call_item_id).with_for_update()
        ).scalar_one()
        item.amount_paid -= payment.amount
        item.status = "open" if item.amount_paid == 0 else "partially_paid"
        item.version += 1
        calls.refresh_statuses(uow, {item.call_id})

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"reversed": op.payload["operation_id"]}


def describe(uow: UnitOfWork, pool_id: int, operation_id: uuid.UUID) -> str:
    """A posted fact in a sentence, for confirmations and messages."""
    pool = load_pool(uow, pool_id)
    for kind, op_id, _, amount, subject, detail, _ in uow.session.execute(_FACTS_SQL, {"pool": pool_id}):
        if op_id == operation_id:
            return f"{LABELS[kind]} of {_words(kind, amount, subject, detail, pool.currency)}"
    raise NotFound("no such posting")
