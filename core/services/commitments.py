"""Commitments: an investor's promise, the manager's decision, and the hard cap that is never crossed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from core import clock
from core.domain import check_ticket, is_eligible
from core.errors import CapacityExceeded, InvalidState, NotFound, PermissionDenied, Stale, ValidationError
from core.formatting import money
from core.ledger import posting as ledger
from core.money import parse_amount, quantize
from core.operations import OperationStatus, submit
from core.operations.kind import Kind
from core.permissions import (
    FUND_MANAGER,
    INVESTOR,
    PLATFORM_READERS,
    Actor,
    managers_of,
    require_investor_self,
    require_manager_of,
    require_read_investor_position,
    require_role,
)
from core.services.audit import audits_refused_reads, records_refusals
from core.services.pools import book_commitment, load_pool
from core.uow import UnitOfWork
from core.vocabulary import CommitmentStatus
from db.models import Commitment, Pool, User


@dataclass(frozen=True)
class CommitmentView:
    id: int
    pool_id: int
    pool_name: str
    currency: str
    investor_id: int
    investor_name: str
    kyc_status: str
    amount_requested: Decimal
    amount_accepted: Decimal | None
    status: str
    created_at: datetime


def accepted_total(uow: UnitOfWork, pool_id: int) -> Decimal:
    total = uow.session.execute(
        select(func.sum(Commitment.amount_accepted)).where(
            Commitment.pool_id == pool_id, Commitment.status == CommitmentStatus.ACCEPTED
        )
    ).scalar_one()
    return total or Decimal(0)


@records_refusals("commitment.submit", "pool")
def submit_commitment(actor: Actor, uow: UnitOfWork, pool_id: int, amount: object) -> int:
    """An eligible investor commits to an open pool within its tickets and remaining capacity."""
    require_role(actor, INVESTOR)
    pool = load_pool(uow, pool_id)
    if pool.status != "open":
        raise InvalidState("this pool is not open for commitments")
    if pool.close_date < clock.today():
        raise InvalidState("this pool's close date has passed")
    investor = uow.session.get(User, actor.user_id)
    if investor is None or not is_eligible(
        investor.kyc_status, investor.accreditation, pool.min_accreditation
    ):
        raise PermissionDenied(
            "you are not eligible for this pool: KYC must be approved and accreditation at least "
            f"{pool.min_accreditation.replace('_', ' ')}"
        )
    value = parse_amount(amount, pool.currency, "amount")
    # NUMERIC(20, 4) reads back as 10000.0000; messages show amounts at the currency's own scale.
    check_ticket(
        value,
        quantize(pool.min_ticket, pool.currency),
        quantize(pool.max_ticket, pool.currency),
        quantize(pool.hard_cap - accepted_total(uow, pool.id), pool.currency),
        pool.currency,
    )
    live = uow.session.execute(
        select(Commitment.id).where(
            Commitment.pool_id == pool.id,
            Commitment.investor_id == actor.user_id,
            Commitment.status.in_(("pending", "accepted")),
        )
    ).first()
    if live:
        raise InvalidState("you already have a live commitment to this pool; withdraw it first if pending")
    commitment = Commitment(
        pool_id=pool.id, investor_id=actor.user_id, amount_requested=value, created_at=clock.now()
    )
    uow.session.add(commitment)
    uow.session.flush()
    ledger.bump_version(uow.session, pool.id)
    uow.audit(actor.user_id, "commitment.submit", "commitment", commitment.id, after={"amount": str(value)})
    uow.commit()
    return commitment.id


def _pending_for_manager(
    actor: Actor, uow: UnitOfWork, commitment_id: int, version: int | None = None
) -> tuple[Commitment, Pool]:
    """Lock the pool first, then the commitment: one order everywhere, so no deadlocks. With the
    version the manager's form showed, a commitment changed since (withdrawn, decided in another
    tab) is refused rather than decided on what it no longer is."""
    found = uow.session.execute(
        select(Commitment.pool_id).where(Commitment.id == commitment_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no commitment {commitment_id}")
    pool = load_pool(uow, found, lock=True)
    require_manager_of(actor, uow, pool)
    commitment = uow.session.execute(
        select(Commitment).where(Commitment.id == commitment_id).with_for_update()
    ).scalar_one()
    if commitment.status != CommitmentStatus.PENDING:
        raise (Stale if version is not None else InvalidState)(
            f"this commitment is {commitment.status} now, no longer pending; nothing was changed"
        )
    if version is not None and version != commitment.version:
        raise Stale("this commitment changed since the page was shown; look at it again")
    return commitment, pool


def settle(
    actor: Actor, uow: UnitOfWork, commitment_id: int, amount: object = None, version: int | None = None
) -> Decimal:
    """Accept in full, or scaled down to `amount`, and book it; the caller commits.

    The pool row lock taken first makes the hard-cap check race-free. Shared by accept_commitment
    and the settle_commitment operation, which settles many in one transaction.
    """
    commitment, pool = _pending_for_manager(actor, uow, commitment_id, version)
    if pool.status not in ("open", "closed"):
        raise InvalidState(f"commitments cannot be accepted while the pool is {pool.status}")
    value = (
        quantize(commitment.amount_requested, pool.currency)
        if amount in (None, "")
        else parse_amount(amount, pool.currency, "amount")
    )
    if value > commitment.amount_requested:
        raise ValidationError("amount", "cannot be above what the investor asked for")
    if value < pool.min_ticket:
        raise ValidationError(
            "amount", f"is below the minimum ticket of {money(pool.min_ticket, pool.currency)}"
        )
    room = quantize(pool.hard_cap - accepted_total(uow, pool.id), pool.currency)
    if value > room:
        raise CapacityExceeded(
            f"accepting {money(value, pool.currency)} would exceed the hard cap; "
            f"{money(max(room, Decimal(0)), pool.currency)} left"
        )
    book_commitment(uow, pool, commitment, value, actor)
    uow.audit(
        actor.user_id,
        "commitment.accept",
        "commitment",
        commitment.id,
        {"status": "pending", "amount_requested": str(commitment.amount_requested)},
        {"status": "accepted", "amount_accepted": str(value)},
    )
    return value


@records_refusals("commitment.accept", "commitment")
def accept_commitment(
    actor: Actor, uow: UnitOfWork, commitment_id: int, amount: object = None, *, version: int | None = None
) -> Decimal:
    value = settle(actor, uow, commitment_id, amount, version)
    uow.commit()
    return value


@records_refusals("commitment.reject", "commitment")
def reject_commitment(
    actor: Actor, uow: UnitOfWork, commitment_id: int, *, version: int | None = None
) -> None:
    commitment, pool = _pending_for_manager(actor, uow, commitment_id, version)
    commitment.status = CommitmentStatus.REJECTED
    commitment.decided_at = clock.now()
    commitment.decided_by = actor.user_id
    commitment.version += 1
    ledger.bump_version(uow.session, pool.id)
    uow.audit(
        actor.user_id,
        "commitment.reject",
        "commitment",
        commitment.id,
        {"status": "pending"},
        {"status": "rejected"},
    )
    uow.commit()


@records_refusals("commitment.withdraw", "commitment")
def withdraw_commitment(actor: Actor, uow: UnitOfWork, commitment_id: int) -> None:
    commitment = uow.session.execute(
        select(Commitment).where(Commitment.id == commitment_id).with_for_update()
    ).scalar_one_or_none()
    if commitment is None:
        raise NotFound(f"no commitment {commitment_id}")
    require_investor_self(actor, commitment.investor_id)
    if commitment.status != "pending":
        raise InvalidState(f"only a pending commitment can be withdrawn; this one is {commitment.status}")
    commitment.status = CommitmentStatus.WITHDRAWN
    commitment.version += 1
    ledger.bump_version(uow.session, commitment.pool_id)
    uow.audit(
        actor.user_id,
        "commitment.withdraw",
        "commitment",
        commitment.id,
        {"status": "pending"},
        {"status": "withdrawn"},
    )
    uow.commit()


def _views(uow: UnitOfWork, query) -> list[CommitmentView]:  # noqa: ANN001 - a Select
    rows = uow.session.execute(
        query.add_columns(Pool.name, Pool.currency, User.name, User.kyc_status)
        .join(Pool, Pool.id == Commitment.pool_id)
        .join(User, User.id == Commitment.investor_id)
        .order_by(Commitment.id)
    )
    return [
        CommitmentView(
            c.id,
            c.pool_id,
            pool_name,
            currency,
            c.investor_id,
            investor_name,
            kyc,
            c.amount_requested,
            c.amount_accepted,
            c.status,
            c.created_at,
        )
        for c, pool_name, currency, investor_name, kyc in rows
    ]


@audits_refused_reads
def get_commitment(actor: Actor, uow: UnitOfWork, commitment_id: int) -> CommitmentView:
    views = _views(uow, select(Commitment).where(Commitment.id == commitment_id))
    if not views:
        raise NotFound(f"no commitment {commitment_id}")
    view = views[0]
    require_read_investor_position(actor, view.investor_id, managers_of(uow, load_pool(uow, view.pool_id)))
    return view


@audits_refused_reads
def list_commitments(
    actor: Actor, uow: UnitOfWork, *, pool_id: int | None = None, status: str | None = None
) -> list[CommitmentView]:
    """A manager lists a pool's commitments, an investor their own, readers any."""
    query = select(Commitment)
    if actor.role == FUND_MANAGER:
        if pool_id is None:
            raise ValidationError("pool_id", "is required")
        require_manager_of(actor, uow, load_pool(uow, pool_id))
    elif actor.role == INVESTOR:
        query = query.where(Commitment.investor_id == actor.user_id)
    elif not (actor.is_system or actor.role in PLATFORM_READERS):
        raise PermissionDenied("you may not list commitments")
    if pool_id is not None:
        query = query.where(Commitment.pool_id == pool_id)
    if status is not None:
        query = query.where(Commitment.status == status)
    return _views(uow, query)


SETTLE = "settle_commitment"


@dataclass(frozen=True)
class SettleMany:
    """The command: accept many pending commitments at once, each in full (amount None) or scaled
    down to its amount, as the plan the manager saw of the pool at pool_version."""

    pool_id: int
    commitments: tuple[tuple[int, Decimal | None], ...]
    pool_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "commitments": [
                {"id": commitment_id, "amount": None if amount is None else str(amount)}
                for commitment_id, amount in self.commitments
            ],
            "pool_version": self.pool_version,
        }


def settle_many(actor: Actor, uow: UnitOfWork, command: SettleMany) -> OperationStatus:
    """Accept the plan as one durable operation; refused as stale if the pool moved since."""
    return submit(actor, uow, command.pool_id, SETTLE, command.payload(), queue=uow.queue)


class SettleCommitments(Kind):
    """Accept many commitments (e.g. all scaled down to fit the hard cap) as one request."""

    name = SETTLE

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        require_manager_of(actor, uow, pool)
        version = payload.get("pool_version")
        if version is not None and version != pool.version:
            raise Stale(f"{pool.name}'s commitments changed since this plan was made; look at it again")
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
            settle(actor, uow, item["id"], item["amount"])
        return op.progress_done + len(items)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"accepted": len(op.payload["commitments"])}
