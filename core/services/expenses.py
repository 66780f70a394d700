"""Fund expenses: formation, legal, administration and bank fees the pool pays out of its cash.

An expense is the pool's, so every investor bears it pro rata to their commitment as of its day
(core.fundmath.expenses.fund_expense_shares: the shares sum to the expense exactly). It is booked
as a fund_expense journal (core.ledger): each capital account is charged its share on the Fund
expenses line and the pool's cash pays the whole. The capital that paid it stays contributed
capital, so the waterfall returns it before any carry, as funds' agreements say.

check() serves the preview and the operation alike, so what is previewed is what gets posted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, text

from core import clock
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import Collector, InvalidState, Stale, ValidationError
from core.fundmath.expenses import fund_expense_shares
from core.ledger import Account, JournalKind, Line, read_model
from core.ledger import posting as ledger
from core.money import parse_amount
from core.operations import OperationStatus, submit
from core.operations.kind import Kind, investors_slice
from core.permissions import Actor, require_manager_of
from core.services.audit import audits_refused_reads
from core.services.pools import load_pool, require_cash
from core.uow import UnitOfWork
from core.vocabulary import ExpenseCategory
from db.models import FundExpense, Pool

KIND = "fund_expense"
ZERO = Decimal(0)


@dataclass(frozen=True)
class RecordExpense:
    """The command: an expense the pool paid on a day, charged to every investor."""

    pool_id: int
    category: ExpenseCategory
    incurred_on: date
    amount: Decimal
    memo: str
    pool_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "date": self.incurred_on.isoformat(),
            "amount": str(self.amount),
            "memo": self.memo,
            "pool_version": self.pool_version,
        }

    @property
    def description(self) -> str:
        return f"{self.category.label}: {self.memo}" if self.memo else self.category.label


def check(actor: Actor, uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> RecordExpense:
    """Every field of the request, all errors at once, for a manager of this very pool."""
    require_manager_of(actor, uow, pool)
    require_running(pool.status, "a fund expense")
    version = request.get("pool_version")
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since this expense was previewed; preview it again")
    collect = Collector()
    with collect("category"):
        try:
            category = ExpenseCategory(str(request.get("category", "")))
        except ValueError:
            names = ", ".join(c.label.lower() for c in ExpenseCategory)
            raise ValidationError("category", f"must be one of {names}") from None
    with collect("date"):
        on = not_in_future(request_date(request, "date", clock.today()), "date")
        opened = pool.opened_at.date() if pool.opened_at else None
        if opened is not None and on < opened:
            raise ValidationError("date", f"must not be before the pool opened ({opened})")
    with collect("amount"):
        amount = parse_amount(request.get("amount"), pool.currency, "amount")
        if collect.ok("date"):
            require_cash(uow, pool, amount, "amount", on)
    with collect("memo"):
        memo = clean_text(request.get("memo", "") or "", "memo", max_length=200, required=False)
    collect.raise_any()
    return RecordExpense(pool.id, category, on, amount, memo, pool.version)


def shares(uow: UnitOfWork, pool: Pool, command: RecordExpense, upto: int | None) -> dict[int, Decimal]:
    """Each investor's share, pro rata to their commitment on the expense's day (frozen at `upto`)."""
    held = read_model.positions(
        uow.session, as_of=command.incurred_on, pool_id=pool.id, upto_journal=upto, lines=(Line.COMMITMENT,)
    )
    commitments = {i: p.commitment for i, p in sorted(held.items()) if p.commitment > 0}
    if not commitments:
        raise InvalidState("this pool had no accepted commitments on that day to charge the expense to")
    return fund_expense_shares(command.amount, commitments, currency=pool.currency)


@dataclass(frozen=True)
class ExpenseLine:
    investor_id: int
    investor_name: str
    commitment: Decimal
    share: Decimal


@dataclass(frozen=True)
class ExpensePreview:
    pool_name: str
    currency: str
    lines: list[ExpenseLine]
    command: RecordExpense


@audits_refused_reads
def preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> ExpensePreview:
    """Who bears how much of the expense, checked as posting checks it."""
    pool = load_pool(uow, pool_id)
    command = check(actor, uow, pool, request)
    split = shares(uow, pool, command, None)
    held = read_model.positions(
        uow.session, as_of=command.incurred_on, pool_id=pool.id, lines=(Line.COMMITMENT,)
    )
    names: dict[int, str] = dict(
        uow.session.execute(
            text("SELECT id, name FROM users WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": list(split)}
        ).all()
    )
    lines = [ExpenseLine(i, names.get(i, "?"), held[i].commitment, share) for i, share in split.items()]
    return ExpensePreview(pool.name, pool.currency, lines, command)


def record(actor: Actor, uow: UnitOfWork, command: RecordExpense) -> OperationStatus:
    """Submit the expense; the same request twice is the same operation."""
    return submit(actor, uow, command.pool_id, KIND, command.payload(), queue=uow.queue)


class ChargeFundExpense(Kind):
    """The expense paid from cash and charged to every investor's capital account, in batches."""

    name = KIND

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        command = check(actor, uow, pool, payload)
        upto = read_model.last_journal(uow.session, pool.id)
        return {**command.payload(), "upto_journal": upto}, len(shares(uow, pool, command, upto))

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_manager_of(actor, uow, pool)
        p = op.payload
        command = RecordExpense(
            pool.id,
            ExpenseCategory(p["category"]),
            date.fromisoformat(p["date"]),
            Decimal(p["amount"]),
            p["memo"],
            p["pool_version"],
        )
        if op.progress_done == 0:
            require_cash(uow, pool, command.amount, "amount", None)
            uow.session.execute(
                insert(FundExpense),
                [
                    {
                        "pool_id": pool.id,
                        "category": command.category.value,
                        "incurred_on": command.incurred_on,
                        "amount": command.amount,
                        "memo": command.memo,
                        "operation_id": op.id,
                    }
                ],
            )
        split = shares(uow, pool, command, p["upto_journal"])
        batch = investors_slice(split, op.progress_done)
        rows = [(i, split[i]) for i in batch if split[i] > 0]
        if rows:
            ledger.post(
                uow.session,
                pool_id=pool.id,
                currency=pool.currency,
                kind=JournalKind.FUND_EXPENSE,
                idempotency_key=f"op:{op.id}:{op.progress_done}",
                effective_date=command.incurred_on,
                lines=[
                    *ledger.legs(ledger.DEBIT, Account.CAPITAL, rows),
                    ledger.credit(Account.CASH, sum((a for _, a in rows), ZERO)),
                ],
                memo=f"Fund expense: {command.description}",
                actor_id=actor.user_id,
                operation_id=op.id,
            )
        return op.progress_done + len(batch)
