"""Investments and marks: buying into companies, exits, and the marks that value them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core import clock, positions
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import InvalidState, ValidationError
from core.fundmath import allocate
from core.ledger import Account
from core.ledger import posting as ledger
from core.money import minor_unit, parse_amount
from core.operations.kind import Kind, investors_slice
from core.permissions import require_pool_manager
from core.uow import UnitOfWork
from db.models import Pool


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
        require_running(pool.status, "an investment")
        action = payload.get("action", "buy")
        if action not in ("buy", "exit"):
            raise ValidationError("action", "must be buy or exit")
        amount = parse_amount(payload.get("amount"), pool.currency, "amount")
        cost = parse_amount(payload.get("cost"), pool.currency, "cost") if action == "exit" else amount
        self._check(uow, pool, action, amount, cost)
        company = clean_text(payload.get("company", ""), "company", max_length=120)
        on = not_in_future(request_date(payload, "date", clock.today()), "date")
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
                    ledger.Leg(
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
        require_running(pool.status, "a valuation")
        value = parse_amount(payload.get("value"), pool.currency, "value", allow_zero=True)
        books = positions.pool_books(uow.session, pool.id)
        delta = value - books.portfolio_value
        upto = positions.last_journal(uow.session, pool.id)
        parts = gains_allocation(uow, pool, delta, upto)
        on = not_in_future(request_date(payload, "date", clock.today()), "date")
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
        batch = investors_slice(parts, op.progress_done)
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
                    *ledger.legs(ledger.CREDIT if gain else ledger.DEBIT, Account.CAPITAL, rows),
                    ledger.Leg(
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
