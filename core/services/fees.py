"""Management fees: a period's fee per investor, per the pool's fee terms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from core import positions
from core.domain import not_in_future, request_date, require_running
from core.errors import InvalidState, ValidationError
from core.fundmath import FeeTerms, management_fee
from core.ledger import Account
from core.ledger import posting as ledger
from core.money import quantize
from core.operations.kind import Kind, investors_slice
from core.permissions import require_pool_manager
from core.uow import UnitOfWork
from db.models import Pool


class ChargeManagementFee(Kind):
    """A period's fee per investor on their commitment (or invested share), per the pool's fee terms."""

    name = "management_fee"

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        require_running(pool.status, "a management fee")
        start, end = request_date(payload, "period_start"), request_date(payload, "period_end")
        if end <= start:
            raise ValidationError("period_end", "must be after the period start")
        if (end - start).days > 366:
            raise ValidationError("period_end", "a fee period is at most one year")
        not_in_future(start, "period_start")
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
        batch = investors_slice(fees, op.progress_done)
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
                    *ledger.legs(ledger.DEBIT, Account.CAPITAL, rows),
                    ledger.credit("fee_income", sum((f for _, f in rows), Decimal(0))),
                ],
                memo=f"management fee {op.payload['period_start']} to {op.payload['period_end']}",
                actor_id=actor.user_id,
                operation_id=op.id,
            )
        return op.progress_done + len(batch)
