"""Winding a pool down: the carry true-up, posted as journals, and the pool's last status.

A pool winds down once everything it held is sold or written off and its net assets are paid out.
Then its carry is final: carry due is what the whole pool's waterfall gives the GP over its life
(core.services.distributions.wind_up with nothing left to distribute), and the GP keeps
min(carry received, carry due) (core.fundmath.carry.clawback, escrow applied first):
- escrow the clawback does not need is released to the GP: Dr carry_escrow / Cr cash;
- escrow applied to the clawback goes back to the investors: Dr carry_escrow / Cr capital(i) on the
  carried-interest line, then paid out to them: Dr capital(i) / Cr cash (a distribution);
- the rest of the clawback the GP owes out of its own pocket: Dr clawback_due / Cr capital(i).
Each investor's part is pro rata to the carry they bore (core.fundmath.carry.true_up, exact).

preview() and the operation compute the same true-up from the same ledger, so the manager confirms
exactly what is posted; a pool that changed since the preview is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from core import clock
from core.errors import InvalidState, Stale
from core.formatting import money
from core.fundmath import clawback, true_up
from core.fundmath.carry import Clawback
from core.ledger import Account, JournalKind, Line, read_model
from core.ledger import posting as ledger
from core.money import minor_unit
from core.operations import OperationStatus, submit
from core.operations.kind import Kind
from core.permissions import Actor, require_manager_of
from core.services.audit import audits_refused_reads
from core.services.distributions import wind_up
from core.services.pools import load_pool
from core.uow import UnitOfWork
from core.vocabulary import PoolStatus
from db.models import Pool
from db.models import WindDown as WoundDown

KIND = "wind_down"
ZERO = Decimal(0)
WINDS_DOWN = (PoolStatus.CLOSED, PoolStatus.INVESTING)


@dataclass(frozen=True)
class WindDown:
    """The command: wind the pool down today, as previewed."""

    pool_id: int
    pool_version: int

    def payload(self) -> dict[str, Any]:
        return {"pool_version": self.pool_version}


@dataclass(frozen=True)
class TrueUp:
    """The carry true-up a wind-down posts: the pool's totals and each investor's part."""

    owed: Clawback
    escrow_applied: dict[int, Decimal]
    gp_owes: dict[int, Decimal]
    names: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WindDownPreview:
    pool_name: str
    currency: str
    true_up: TrueUp
    command: WindDown


def check(actor: Actor, uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> WindDown:
    """Whether the pool may wind down now: nothing held, nothing owed to it, net assets paid out."""
    require_manager_of(actor, uow, pool)
    if pool.status not in WINDS_DOWN:
        raise InvalidState(
            f"a pool winds down once it has closed; this one is {pool.status.replace('_', ' ')}"
        )
    version = request.get("pool_version")
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since this wind-down was previewed; preview it again")
    books = read_model.pool_books(uow.session, pool.id, as_of=None)
    total = read_model.total(uow.session, as_of=None, pool_id=pool.id)
    cur = pool.currency
    if books.portfolio_value or books.investments_at_cost:
        raise InvalidState(
            f"the pool still holds {money(books.portfolio_value, cur)} of investments: sell or write them off first"
        )
    if total.outstanding:
        raise InvalidState(f"investors still owe {money(total.outstanding, cur)} on capital calls")
    if books.clawback_due:
        raise InvalidState("this pool's true-up was posted already")
    if books.nav:
        raise InvalidState(
            f"the pool's net assets of {money(books.nav, cur)} must be distributed before it winds down"
        )
    return WindDown(pool.id, pool.version)


def compute(uow: UnitOfWork, pool: Pool, on: date) -> TrueUp:
    """The true-up as of `on`: carry received and in escrow from the ledger, carry due over the
    pool's whole life (nothing left to distribute), split pro rata to the carry each investor bore."""
    nothing = ZERO * minor_unit(pool.currency)
    borne = read_model.positions(uow.session, as_of=None, pool_id=pool.id, lines=(Line.CARRIED_INTEREST,))
    weights = {i: p.carried_interest for i, p in sorted(borne.items()) if p.carried_interest > 0}
    received = sum(weights.values(), nothing)
    due = sum((each.carry_due for each in wind_up(uow, pool, nothing, on).values()), nothing)
    escrow = read_model.pool_books(uow.session, pool.id, as_of=None).carry_in_escrow
    owed = clawback(received, due, escrow, currency=pool.currency)
    if not owed.owed:
        return TrueUp(owed, {}, {})
    split = true_up(owed, weights, currency=pool.currency)
    return TrueUp(owed, split.escrow_applied, split.gp_owes)


@audits_refused_reads
def preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> WindDownPreview:
    """What winding the pool down today posts, checked as the operation checks it."""
    pool = load_pool(uow, pool_id)
    command = check(actor, uow, pool, request)
    found = compute(uow, pool, clock.today())
    people = sorted({*found.escrow_applied, *found.gp_owes})
    names: dict[int, str] = dict(
        uow.session.execute(
            text("SELECT id, name FROM users WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": people}
        ).all()
    )
    return WindDownPreview(
        pool.name, pool.currency, TrueUp(found.owed, found.escrow_applied, found.gp_owes, names), command
    )


def wind_down(actor: Actor, uow: UnitOfWork, command: WindDown) -> OperationStatus:
    """Submit the wind-down; the same request twice is the same operation."""
    return submit(actor, uow, command.pool_id, KIND, command.payload(), queue=uow.queue)


class WindDownPool(Kind):
    """The true-up's journals and the pool's last status, in one transaction."""

    name = KIND

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        return check(actor, uow, pool, payload).payload(), 1

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        check(actor, uow, pool, {})
        on = clock.today()
        found = compute(uow, pool, on)
        owed = found.owed

        def post(key: str, kind: JournalKind, lines: list[ledger.Leg], memo: str) -> None:
            ledger.post(
                uow.session,
                pool_id=pool.id,
                currency=pool.currency,
                kind=kind,
                idempotency_key=f"op:{op.id}:{key}",
                effective_date=on,
                lines=lines,
                memo=memo,
                actor_id=actor.user_id,
                operation_id=op.id,
            )

        if owed.escrow_released:
            released = owed.escrow_released
            post(
                "released",
                JournalKind.CARRY,
                [ledger.debit(Account.CARRY_ESCROW, released), ledger.credit(Account.CASH, released)],
                "Wind-down: carry escrow released to the GP",
            )
        applied = [(i, a) for i, a in found.escrow_applied.items() if a > 0]
        if applied:
            total = sum((a for _, a in applied), ZERO)
            post(
                "applied",
                JournalKind.CARRY,
                [
                    ledger.debit(Account.CARRY_ESCROW, total),
                    *ledger.legs(ledger.CREDIT, Account.CAPITAL, applied),
                ],
                "Wind-down: carry escrow applied to the clawback",
            )
            post(
                "returned",
                JournalKind.DISTRIBUTION,
                [*ledger.legs(ledger.DEBIT, Account.CAPITAL, applied), ledger.credit(Account.CASH, total)],
                "Wind-down: clawback paid from the carry escrow",
            )
        owes = [(i, a) for i, a in found.gp_owes.items() if a > 0]
        if owes:
            post(
                "clawback",
                JournalKind.CARRY,
                [
                    ledger.debit(Account.CLAWBACK_DUE, sum((a for _, a in owes), ZERO)),
                    *ledger.legs(ledger.CREDIT, Account.CAPITAL, owes),
                ],
                "Wind-down: clawback due from the GP",
            )
        uow.session.add(
            WoundDown(
                pool_id=pool.id,
                operation_id=op.id,
                wound_down_on=on,
                carry_received=owed.carry_received,
                carry_due=owed.carry_due,
                escrow_released=owed.escrow_released,
                escrow_applied=owed.escrow_applied,
                clawback_due=owed.exposure,
            )
        )
        before = pool.status
        pool.status = PoolStatus.WOUND_DOWN.value
        pool.version += 1
        uow.audit(
            actor.user_id,
            "pool.wound_down",
            "pool",
            pool.id,
            {"status": before},
            {
                "status": pool.status,
                "carry_received": str(owed.carry_received),
                "carry_due": str(owed.carry_due),
                "escrow_released": str(owed.escrow_released),
                "escrow_applied": str(owed.escrow_applied),
                "clawback_due": str(owed.exposure),
            },
        )
        return 1

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"status": PoolStatus.WOUND_DOWN.value}
