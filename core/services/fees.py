"""Management fees: a period's fee per investor, per the pool's fee terms (core.fundmath.management_fee).

check() serves the preview and the management_fee operation alike. Each investor is charged on
their commitment (or invested share) as of the period's end, and the fee journal is dated that
day: like every journal it counts from its date on, on every surface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, text

from core.domain import not_in_future, request_date, require_running
from core.errors import Collector, InvalidState, Stale, ValidationError
from core.fundmath import FeeTerms, management_fee
from core.ledger import Account, JournalKind, Line, read_model
from core.ledger import posting as ledger
from core.money import quantize
from core.operations import OperationStatus, submit
from core.operations.kind import Kind, investors_slice
from core.permissions import Actor, require_manager_of
from core.services.audit import audits_refused_reads
from core.services.pools import gp_investors, load_pool
from core.uow import UnitOfWork
from core.vocabulary import FeeBasis
from db.models import FeeCharge, Pool

KIND = "management_fee"
ZERO = Decimal(0)


@dataclass(frozen=True)
class ChargeFee:
    """The command: one period's management fee, charged to every investor of the pool."""

    pool_id: int
    period_start: date
    period_end: date
    pool_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "pool_version": self.pool_version,
        }


def check(actor: Actor, uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> ChargeFee:
    require_manager_of(actor, uow, pool)
    require_running(pool.status, "a management fee")
    version = request.get("pool_version")
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since this fee was previewed; preview it again")
    collect = Collector()
    with collect("period_start"):
        start = not_in_future(request_date(request, "period_start"), "period_start")
        opened = pool.opened_at.date() if pool.opened_at else None
        if opened is not None and start < opened:
            raise ValidationError("period_start", f"must not be before the pool opened ({opened})")
    with collect("period_end"):
        end = request_date(request, "period_end")
    if collect.ok("period_start", "period_end"):
        with collect("period_end"):
            if end <= start:
                raise ValidationError("period_end", "must be after the period start")
            if (end - start).days > 366:
                raise ValidationError("period_end", "must be within a year of the period start")
    collect.raise_any()
    return ChargeFee(pool.id, start, end, pool.version)


def charges(uow: UnitOfWork, pool: Pool, command: ChargeFee, upto: int | None) -> dict[int, Decimal]:
    """Each investor's fee for the period, on their position as of its end (frozen at `upto`)."""
    terms = FeeTerms(
        rate=pool.management_fee_rate,
        basis=FeeBasis(pool.management_fee_basis).value,
        step_down_rate=pool.management_fee_step_down_rate,
        investment_period_end=pool.investment_period_end,
    )
    held = read_model.positions(
        uow.session,
        as_of=command.period_end,
        pool_id=pool.id,
        upto_journal=upto,
        lines=(Line.COMMITMENT, Line.CONTRIBUTIONS),
    )
    invested = read_model.pool_books(
        uow.session, pool.id, as_of=command.period_end, upto_journal=upto
    ).investments_at_cost
    paid = sum((p.contributions for p in held.values()), ZERO)
    gp = gp_investors(uow, pool.id)  # the GP's own commitment pays no fee
    fees = {
        investor: management_fee(
            terms,
            command.period_start,
            command.period_end,
            p.commitment,
            # An investor's invested capital: their paid-in share of what the pool has invested.
            quantize(invested * p.contributions / paid, pool.currency) if paid else ZERO,
            currency=pool.currency,
        )
        for investor, p in held.items()
        if p.commitment > 0 and investor not in gp
    }
    if not fees:
        raise InvalidState("this pool had no accepted commitments by the end of that period")
    return fees


@dataclass(frozen=True)
class FeeLine:
    investor_id: int
    investor_name: str
    fee: Decimal


@dataclass(frozen=True)
class FeePreview:
    pool_name: str
    currency: str
    rate: Decimal
    basis: str
    lines: list[FeeLine]
    command: ChargeFee

    @property
    def total(self) -> Decimal:
        return sum((line.fee for line in self.lines), ZERO)


@audits_refused_reads
def preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> FeePreview:
    pool = load_pool(uow, pool_id)
    command = check(actor, uow, pool, request)
    fees = charges(uow, pool, command, None)
    names: dict[int, str] = dict(
        uow.session.execute(
            text("SELECT id, name FROM users WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": list(fees)}
        ).all()
    )
    lines = [FeeLine(i, names.get(i, "?"), fee) for i, fee in sorted(fees.items()) if fee > 0]
    return FeePreview(
        pool.name, pool.currency, pool.management_fee_rate, pool.management_fee_basis, lines, command
    )


def charge(actor: Actor, uow: UnitOfWork, command: ChargeFee) -> OperationStatus:
    return submit(actor, uow, command.pool_id, KIND, command.payload(), queue=uow.queue)


def _command(pool: Pool, payload: Mapping[str, Any]) -> ChargeFee:
    return ChargeFee(
        pool.id,
        date.fromisoformat(payload["period_start"]),
        date.fromisoformat(payload["period_end"]),
        payload.get("pool_version") or pool.version,
    )


class ChargeManagementFee(Kind):
    """A period's fee per investor on their commitment (or invested share), per the pool's fee terms."""

    name = KIND

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        command = check(actor, uow, pool, payload)
        upto = read_model.last_journal(uow.session, pool.id)
        fees = charges(uow, pool, command, upto)
        return {**command.payload(), "upto_journal": upto}, len(fees)

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_manager_of(actor, uow, pool)
        command = _command(pool, op.payload)
        fees = charges(uow, pool, command, op.payload["upto_journal"])
        if op.progress_done == 0:
            uow.session.execute(
                insert(FeeCharge),
                [
                    {
                        "pool_id": pool.id,
                        "period_start": command.period_start,
                        "period_end": command.period_end,
                        "total": sum(fees.values(), ZERO),
                        "operation_id": op.id,
                    }
                ],
            )
        batch = investors_slice(fees, op.progress_done)
        rows = [(i, fees[i]) for i in batch if fees[i] > 0]
        if rows:
            ledger.post(
                uow.session,
                pool_id=pool.id,
                currency=pool.currency,
                kind=JournalKind.MANAGEMENT_FEE,
                idempotency_key=f"op:{op.id}:{op.progress_done}",
                effective_date=command.period_end,
                lines=[
                    *ledger.legs(ledger.DEBIT, Account.CAPITAL, rows),
                    ledger.credit(Account.FEE_INCOME, sum((f for _, f in rows), ZERO)),
                ],
                memo=f"Management fee {command.period_start} to {command.period_end}",
                actor_id=actor.user_id,
                operation_id=op.id,
            )
        return op.progress_done + len(batch)
