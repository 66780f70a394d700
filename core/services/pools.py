"""Pools: created as drafts by their manager, opened, closed; seen only by those allowed.

A form that changes a pool names the version it showed: a pool changed since (opened in another
tab, a commitment accepted) is refused as stale rather than changed on what it no longer is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, or_, select

from core import clock
from core.domain import check_transition, parse_date, validate_pool_terms
from core.errors import InvalidState, NotFound, PermissionDenied, Stale, ValidationError
from core.formatting import money
from core.ledger import Account, JournalKind, Line, read_model
from core.ledger import posting as ledger
from core.money import parse_amount, quantize
from core.permissions import (
    ADMIN,
    FUND_MANAGER,
    INVESTOR,
    PLATFORM_READERS,
    Actor,
    managed_by,
    managers_of,
    require_manager_of,
    require_role,
)
from core.services.audit import audits_refused_reads, records_refusals
from core.uow import UnitOfWork
from core.vocabulary import CommitmentStatus
from db.models import Commitment, Pool, PoolManager, User

TERM_FIELDS = (
    "name",
    "strategy",
    "currency",
    "target_size",
    "hard_cap",
    "gp_commitment",
    "min_ticket",
    "max_ticket",
    "management_fee_rate",
    "management_fee_basis",
    "management_fee_step_down_rate",
    "investment_period_end",
    "carry_rate",
    "hurdle_rate",
    "catch_up_rate",
    "hurdle_accrual",
    "escrow_rate",
    "waterfall_model",
    "recover_prior_losses",
    "close_date",
    "min_accreditation",
)


@dataclass(frozen=True)
class PoolView:
    id: int
    manager_id: int
    name: str
    strategy: str
    currency: str
    target_size: Decimal
    hard_cap: Decimal
    gp_commitment: Decimal
    min_ticket: Decimal
    max_ticket: Decimal
    management_fee_rate: Decimal
    management_fee_basis: str
    management_fee_step_down_rate: Decimal | None
    investment_period_end: date | None
    carry_rate: Decimal
    hurdle_rate: Decimal
    catch_up_rate: Decimal
    hurdle_accrual: str
    escrow_rate: Decimal
    waterfall_model: str
    recover_prior_losses: bool
    close_date: date
    min_accreditation: str
    status: str
    version: int
    opened_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, pool: Pool) -> PoolView:
        return cls(**{f.name: getattr(pool, f.name) for f in fields(cls)})


def _terms_snapshot(pool: Pool) -> dict[str, Any]:
    """The terms for the audit log: values as text (exact decimals), a term not set as null, never "None"."""
    return {name: None if (value := getattr(pool, name)) is None else str(value) for name in TERM_FIELDS}


def _unchanged(pool: Pool, version: int | None) -> None:
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since the page was shown; look at it again. Nothing was changed")


def load_pool(uow: UnitOfWork, pool_id: int, *, lock: bool = False) -> Pool:
    query = select(Pool).where(Pool.id == pool_id)
    # FOR NO KEY UPDATE: rows naming the pool (their foreign keys hold key-share locks on it) do not
    # block it, so a transaction that wrote one and then locks the pool cannot deadlock with another.
    pool = uow.session.execute(query.with_for_update(key_share=True) if lock else query).scalar_one_or_none()
    if pool is None:
        raise NotFound(f"no pool {pool_id}")
    return pool


def require_cash(uow: UnitOfWork, pool: Pool, amount: Decimal, field: str, on: date | None) -> None:
    """An outflow (a distribution, an investment, a fund expense) is paid from the pool's free cash:
    dated `on`, the free cash on its day and today, whichever is less; on=None (a posting checking
    again), today's."""
    if on is None:
        cash = read_model.pool_books(uow.session, pool.id, as_of=None).free_cash
    else:
        cash = read_model.spendable_cash(uow.session, pool.id, on)
    if amount > cash:
        raise ValidationError(
            field,
            f"{money(amount, pool.currency)} is more than the pool's cash of {money(cash, pool.currency)}",
            limit=cash,
        )


def may_see_pool(uow: UnitOfWork, actor: Actor, pool: Pool) -> bool:
    """Readers see all; a manager their own; an investor open pools and pools they committed to."""
    if actor.is_system or actor.role in PLATFORM_READERS:
        return True
    if actor.role == FUND_MANAGER:
        return actor.user_id in managers_of(uow, pool)
    if actor.role == INVESTOR:
        if pool.status == "open":
            return True
        return bool(
            uow.session.execute(
                select(exists().where(Commitment.pool_id == pool.id, Commitment.investor_id == actor.user_id))
            ).scalar()
        )
    return False


def visible_pool(uow: UnitOfWork, actor: Actor, pool_id: int, *, lock: bool = False) -> Pool:
    pool = load_pool(uow, pool_id, lock=lock)
    if not may_see_pool(uow, actor, pool):
        raise PermissionDenied("you may not see this pool")
    return pool


@records_refusals("pool.create", "pool")
def create_pool(actor: Actor, uow: UnitOfWork, terms: dict[str, Any]) -> int:
    """A manager drafts a pool; terms are validated field by field before anything is written."""
    require_role(actor, FUND_MANAGER)
    valid = validate_pool_terms(terms, clock.today())
    pool = Pool(manager_id=actor.user_id, status="draft", **valid.as_dict())
    uow.session.add(pool)
    uow.session.flush()
    uow.audit(actor.user_id, "pool.create", "pool", pool.id, after=_terms_snapshot(pool))
    uow.commit()
    return pool.id


@records_refusals("pool.update_terms", "pool")
def update_pool_terms(
    actor: Actor, uow: UnitOfWork, pool_id: int, terms: dict[str, Any], *, version: int | None = None
) -> None:
    """Every term while draft; once open, only the close date may move."""
    pool = load_pool(uow, pool_id, lock=True)
    require_manager_of(actor, uow, pool)
    _unchanged(pool, version)
    before = _terms_snapshot(pool)
    if pool.status == "draft":
        valid = validate_pool_terms(terms, clock.today())
        for name, value in valid.as_dict().items():
            setattr(pool, name, value)
    elif pool.status == "open":
        changed = {
            k for k, v in terms.items() if k in TERM_FIELDS and (None if v is None else str(v)) != before[k]
        }
        if changed - {"close_date"}:
            raise InvalidState("only the close date can change once the pool is open")
        close_date = parse_date(terms.get("close_date", pool.close_date), "close_date")
        if close_date <= clock.today():
            raise ValidationError("close_date", "must be in the future")
        pool.close_date = close_date
    else:
        raise InvalidState(f"a {pool.status} pool's terms can no longer change")
    after = _terms_snapshot(pool)
    if after != before:  # tell caches and live pages (My pools, an investor's pool page) it changed
        pool.version += 1
    uow.audit(actor.user_id, "pool.update_terms", "pool", pool.id, before, after)
    uow.commit()


def book_commitment(
    uow: UnitOfWork, pool: Pool, commitment: Commitment, value: Decimal, actor: Actor
) -> None:
    """Accept a commitment at `value` and book it to the ledger, today."""
    commitment.status = CommitmentStatus.ACCEPTED
    commitment.amount_accepted = value
    commitment.decided_at = clock.now()
    commitment.decided_by = actor.user_id
    commitment.version += 1
    ledger.post(
        uow.session,
        pool_id=pool.id,
        currency=pool.currency,
        kind=JournalKind.COMMITMENT,
        idempotency_key=f"commitment:{commitment.id}",
        effective_date=clock.today(),
        lines=[
            ledger.debit(Account.COMMITMENT_MEMO, value, commitment.investor_id),
            ledger.credit(Account.COMMITMENT, value, commitment.investor_id),
        ],
        memo=(
            "GP commitment"
            if commitment.gp
            else "Commitment accepted"
            if value == commitment.amount_requested
            else "Commitment accepted, scaled down"
        ),
        actor_id=actor.user_id,
    )


def _commit_gp(actor: Actor, uow: UnitOfWork, pool: Pool) -> None:
    """The GP's own commitment, made by the lead manager as the pool opens: called and paid like
    any other, it pays no carry and no fees (gp_investors)."""
    gp = Commitment(
        pool_id=pool.id,
        investor_id=pool.manager_id,
        gp=True,
        amount_requested=pool.gp_commitment,
        created_at=clock.now(),
    )
    uow.session.add(gp)
    uow.session.flush()
    book_commitment(uow, pool, gp, quantize(pool.gp_commitment, pool.currency), actor)


def gp_investors(uow: UnitOfWork, pool_id: int) -> set[int]:
    """Whose positions in the pool are the GP's own commitment."""
    return set(
        uow.session.execute(
            select(Commitment.investor_id).where(
                Commitment.pool_id == pool_id, Commitment.gp, Commitment.status == CommitmentStatus.ACCEPTED
            )
        ).scalars()
    )


def gp_named(uow: UnitOfWork, pool_id: int, names: dict[int, str]) -> dict[int, str]:
    """Investors' names, the GP's own commitment marked as such: it is on a line of its own."""
    gp = gp_investors(uow, pool_id)
    return {i: f"{name} (GP commitment)" if i in gp else name for i, name in names.items()}


def _transition(actor: Actor, uow: UnitOfWork, pool_id: int, target: str, version: int | None) -> None:
    pool = load_pool(uow, pool_id, lock=True)
    require_manager_of(actor, uow, pool)
    _unchanged(pool, version)
    check_transition(pool.status, target)
    if target == "open":
        # The terms were valid when drafted; the close date may have passed since.
        values = {name: getattr(pool, name) for name in TERM_FIELDS}
        validate_pool_terms(
            {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}, clock.today()
        )
        pool.opened_at = clock.now()
        if pool.gp_commitment > 0:
            _commit_gp(actor, uow, pool)
    if target == "closed":
        pool.closed_at = clock.now()
    before = pool.status
    pool.status = target
    pool.version += 1
    uow.audit(actor.user_id, f"pool.{target}", "pool", pool.id, {"status": before}, {"status": target})
    uow.commit()


@records_refusals("pool.open", "pool")
def open_pool(actor: Actor, uow: UnitOfWork, pool_id: int, *, version: int | None = None) -> None:
    _transition(actor, uow, pool_id, "open", version)


@records_refusals("pool.close", "pool")
def close_pool(actor: Actor, uow: UnitOfWork, pool_id: int, *, version: int | None = None) -> None:
    _transition(actor, uow, pool_id, "closed", version)


@dataclass(frozen=True)
class Lifecycle:
    """What opening or closing a pool means, for the manager to confirm: its state as of today."""

    pool_id: int
    version: int
    name: str
    status: str
    currency: str
    target_size: Decimal
    committed: Decimal  # accepted, as booked in the ledger
    investors: int
    pending: int  # commitments still waiting for a decision
    pending_amount: Decimal


def pending(uow: UnitOfWork, pool_id: int) -> tuple[Decimal, int]:
    """What the pool's pending commitments ask for, and how many there are (not in the ledger yet)."""
    amount, count = uow.session.execute(
        select(func.coalesce(func.sum(Commitment.amount_requested), 0), func.count()).where(
            Commitment.pool_id == pool_id, Commitment.status == CommitmentStatus.PENDING
        )
    ).one()
    return amount, count


@audits_refused_reads
def lifecycle(actor: Actor, uow: UnitOfWork, pool_id: int) -> Lifecycle:
    """The figures an open or close confirmation states, for the pool's manager."""
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    held = read_model.positions(uow.session, as_of=clock.today(), pool_id=pool.id, lines=(Line.COMMITMENT,))
    amount, count = pending(uow, pool.id)
    return Lifecycle(
        pool.id,
        pool.version,
        pool.name,
        pool.status,
        pool.currency,
        pool.target_size,
        sum((p.commitment for p in held.values()), Decimal(0)),
        sum(1 for p in held.values() if p.commitment > 0),
        count,
        amount,
    )


@audits_refused_reads
def require_unchanged(actor: Actor, uow: UnitOfWork, pool_id: int, version: int) -> None:
    """Refuse an act prepared on a pool that has changed since (a plan, a preview) as stale."""
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    _unchanged(pool, version)


@audits_refused_reads
def get_pool(actor: Actor, uow: UnitOfWork, pool_id: int) -> PoolView:
    return PoolView.of(visible_pool(uow, actor, pool_id))


@audits_refused_reads
def list_pools(actor: Actor, uow: UnitOfWork, status: str | None = None) -> list[PoolView]:
    """The pools this actor may see, newest first."""
    query = select(Pool).order_by(Pool.id.desc())
    if actor.role == FUND_MANAGER:
        query = query.where(managed_by(actor.user_id))
    elif actor.role == INVESTOR:
        mine = select(Commitment.pool_id).where(Commitment.investor_id == actor.user_id)
        query = query.where(or_(Pool.status == "open", Pool.id.in_(mine)))
    elif not (actor.is_system or actor.role in PLATFORM_READERS):
        return []
    if status is not None:
        query = query.where(Pool.status == status)
    return [PoolView.of(pool) for pool in uow.session.execute(query).scalars()]


@dataclass(frozen=True)
class Fundraising:
    pool_id: int
    currency: str
    target_size: Decimal
    hard_cap: Decimal
    accepted: Decimal
    pending: Decimal
    investors: int
    version: int

    @property
    def remaining(self) -> Decimal:
        return max(self.hard_cap - self.accepted, Decimal(0))


@audits_refused_reads
def fundraising(actor: Actor, uow: UnitOfWork, pool_id: int) -> Fundraising:
    pool = visible_pool(uow, actor, pool_id)
    accepted, asked, investors = uow.session.execute(
        select(
            func.coalesce(func.sum(Commitment.amount_accepted).filter(Commitment.status == "accepted"), 0),
            func.coalesce(func.sum(Commitment.amount_requested).filter(Commitment.status == "pending"), 0),
            func.count().filter(Commitment.status == "accepted"),
        ).where(Commitment.pool_id == pool_id)
    ).one()
    return Fundraising(
        pool.id,
        pool.currency,
        pool.target_size,
        pool.hard_cap,
        accepted or Decimal(0),  # coalesced in SQL: the typing cannot know
        asked or Decimal(0),
        investors,
        pool.version,
    )


@audits_refused_reads
def pool_version(actor: Actor, uow: UnitOfWork, pool_id: int) -> int:
    """The cheap "has it changed?" counter that live pages poll."""
    return visible_pool(uow, actor, pool_id).version


# --- a pool's managers: the lead manager and co-managers; the call approval threshold ---------------


@dataclass(frozen=True)
class ManagerView:
    user_id: int
    username: str
    name: str
    lead: bool  # the pool's creator, who adds and removes co-managers
    added_at: datetime | None


@dataclass(frozen=True)
class Managers:
    pool_id: int
    version: int
    managers: list[ManagerView]
    call_approval_threshold: Decimal | None
    may_change: bool  # the actor is the lead manager or an admin


def _require_lead(actor: Actor, pool: Pool) -> None:
    """The lead manager (the pool's creator) or an admin changes who manages a pool."""
    if actor.is_system or actor.role == ADMIN:
        return
    if actor.role != FUND_MANAGER or actor.user_id != pool.manager_id:
        raise PermissionDenied("only the pool's lead manager or an admin may change who manages it")


@audits_refused_reads
def pool_managers(actor: Actor, uow: UnitOfWork, pool_id: int) -> Managers:
    """Who manages the pool (lead first) and above what a capital call needs a second approval."""
    pool = load_pool(uow, pool_id)
    if actor.role != ADMIN:
        require_manager_of(actor, uow, pool)
    rows = uow.session.execute(
        select(User.id, User.username, User.name, PoolManager.added_at)
        .join(PoolManager, PoolManager.user_id == User.id)
        .where(PoolManager.pool_id == pool.id)
        .order_by(User.name, User.id)
    ).all()
    lead = uow.session.execute(select(User.username, User.name).where(User.id == pool.manager_id)).one()
    shown = [ManagerView(pool.manager_id, lead.username, lead.name, True, pool.created_at)]
    shown += [ManagerView(r.id, r.username, r.name, False, r.added_at) for r in rows]
    may_change = actor.is_system or actor.role == ADMIN or actor.user_id == pool.manager_id
    return Managers(pool.id, pool.version, shown, pool.call_approval_threshold, may_change)


@audits_refused_reads
def manager_candidates(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[ManagerView]:
    """The active fund managers who could be added as co-managers (not managing it already)."""
    pool = load_pool(uow, pool_id)
    _require_lead(actor, pool)
    rows = uow.session.execute(
        select(User.id, User.username, User.name)
        .where(
            User.role == FUND_MANAGER,
            User.active.is_(True),
            User.id != pool.manager_id,
            User.id.not_in(select(PoolManager.user_id).where(PoolManager.pool_id == pool.id)),
        )
        .order_by(User.name, User.id)
    ).all()
    return [ManagerView(r.id, r.username, r.name, False, None) for r in rows]


@records_refusals("pool.add_manager", "pool")
def add_manager(actor: Actor, uow: UnitOfWork, pool_id: int, user_id: int) -> None:
    """The lead manager (or an admin) makes another active fund manager a co-manager of the pool."""
    pool = load_pool(uow, pool_id, lock=True)
    _require_lead(actor, pool)
    user = uow.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.role != FUND_MANAGER or not user.active:
        raise ValidationError("user_id", "must be an active fund manager")
    if user.id in managers_of(uow, pool):
        raise InvalidState(f"{user.name} already manages {pool.name}")
    uow.session.add(PoolManager(pool_id=pool.id, user_id=user.id, added_by=actor.user_id))
    uow.audit(
        actor.user_id,
        "pool.add_manager",
        "pool",
        pool.id,
        after={"user_id": user.id, "username": user.username},
    )
    uow.commit()


@records_refusals("pool.remove_manager", "pool")
def remove_manager(actor: Actor, uow: UnitOfWork, pool_id: int, user_id: int) -> None:
    """The lead manager (or an admin) removes a co-manager; the lead manager cannot be removed."""
    pool = load_pool(uow, pool_id, lock=True)
    _require_lead(actor, pool)
    if user_id == pool.manager_id:
        raise InvalidState("the lead manager cannot be removed from the pool")
    row = (
        uow.session.execute(
            select(PoolManager).where(PoolManager.pool_id == pool.id, PoolManager.user_id == user_id)
        ).scalar_one_or_none()
        if isinstance(user_id, int)
        else None
    )
    if row is None:
        raise NotFound("this user is not a co-manager of the pool")
    uow.session.delete(row)
    uow.audit(actor.user_id, "pool.remove_manager", "pool", pool.id, before={"user_id": user_id})
    uow.commit()


@records_refusals("pool.call_approval_threshold", "pool")
def set_call_approval_threshold(
    actor: Actor, uow: UnitOfWork, pool_id: int, threshold: str | None, *, version: int | None = None
) -> None:
    """Capital calls above this total need a second manager's approval; empty: never. The lead
    manager or an admin sets it, so a co-manager cannot lift it to call alone."""
    pool = load_pool(uow, pool_id, lock=True)
    _require_lead(actor, pool)
    _unchanged(pool, version)
    text_ = "" if threshold is None else str(threshold).strip()
    value = (
        None
        if text_ == ""
        else parse_amount(text_, pool.currency, "call_approval_threshold", allow_zero=True)
    )
    before = None if pool.call_approval_threshold is None else str(pool.call_approval_threshold)
    if value != pool.call_approval_threshold:
        pool.call_approval_threshold = value
        pool.version += 1
        uow.audit(
            actor.user_id,
            "pool.call_approval_threshold",
            "pool",
            pool.id,
            {"call_approval_threshold": before},
            {"call_approval_threshold": None if value is None else str(value)},
        )
    uow.commit()
