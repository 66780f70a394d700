"""Payments against call items: by the investor, by the manager, or a bank statement's lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from core import clock
from core.domain import clean_text, not_in_future, request_date
from core.errors import InvalidState, PermissionDenied, ValidationError
from core.ledger import posting as ledger
from core.money import parse_amount, quantize
from core.operations.kind import Kind, each_line, refusal
from core.permissions import Actor, require_pool_manager
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, Operation, Pool


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
            paid_on = not_in_future(request_date(payload, "paid_on", clock.today()), "paid_on")
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
