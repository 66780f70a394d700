"""Who may touch what. Every service calls these on the very object it was asked about."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, or_, select

from core.errors import PermissionDenied
from core.vocabulary import Role, values
from db.models import Pool, PoolManager

if TYPE_CHECKING:
    from core.uow import UnitOfWork

INVESTOR = Role.INVESTOR
FUND_MANAGER = Role.FUND_MANAGER
ANALYST = Role.ANALYST
ADMIN = Role.ADMIN
ROLES = values(Role)

# Roles that may read every pool on the platform (never write to it).
PLATFORM_READERS = (ANALYST, ADMIN)


@dataclass(frozen=True)
class Actor:
    """The user a service acts for. user_id None is the system itself (seed, jobs, migrations)."""

    user_id: int | None
    role: str
    username: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, role="system", username="system")

    @property
    def is_system(self) -> bool:
        return self.role == "system"


def require_role(actor: Actor, *roles: str) -> None:
    if actor.is_system:
        return
    if actor.role not in roles:
        raise PermissionDenied(f"a {actor.role.replace('_', ' ')} may not do this")


def _ids(managers: int | Collection[int]) -> Collection[int]:
    return (managers,) if isinstance(managers, int) else managers


def require_pool_manager(actor: Actor, managers: int | Collection[int]) -> None:
    """Only a manager of the pool (its lead manager or a co-manager) moves its money or changes its
    terms. `managers`: the ids managers_of() gives (or the one lead manager)."""
    if actor.is_system:
        return
    if actor.role != FUND_MANAGER or actor.user_id not in _ids(managers):
        raise PermissionDenied("only the pool's manager may do this")


# --- who manages a pool: the one place that decides ---------------------------------------------------


def managers_of(uow: UnitOfWork, pool: Pool) -> frozenset[int]:
    """The users who may act as managers of the pool: its lead manager (pools.manager_id) and every
    co-manager (pool_managers)."""
    co = uow.session.execute(select(PoolManager.user_id).where(PoolManager.pool_id == pool.id)).scalars()
    return frozenset({pool.manager_id, *co})


def co_managers(uow: UnitOfWork, pool_ids: list[int]) -> dict[int, set[int]]:
    """The co-managers of many pools in one query (their lead managers are pools.manager_id)."""
    found: dict[int, set[int]] = {}
    rows = uow.session.execute(
        select(PoolManager.pool_id, PoolManager.user_id).where(PoolManager.pool_id.in_(pool_ids))
    )
    for pool_id, user_id in rows:
        found.setdefault(pool_id, set()).add(user_id)
    return found


def managed_by(user_id: int | None) -> ColumnElement[bool]:
    """SQL: the pool (a row of Pool in the query) has this user as its lead manager or a co-manager."""
    return or_(
        Pool.manager_id == user_id,
        Pool.id.in_(select(PoolManager.pool_id).where(PoolManager.user_id == user_id)),
    )


def is_manager_of(actor: Actor, uow: UnitOfWork, pool: Pool) -> bool:
    return actor.role == FUND_MANAGER and actor.user_id in managers_of(uow, pool)


def require_manager_of(actor: Actor, uow: UnitOfWork, pool: Pool) -> None:
    """May act as a manager of this pool: the lead manager or a co-manager (the system always)."""
    if actor.is_system:
        return
    if actor.role != FUND_MANAGER or actor.user_id not in managers_of(uow, pool):
        raise PermissionDenied("only the pool's manager may do this")


def require_investor_self(actor: Actor, investor_id: int) -> None:
    if actor.is_system:
        return
    if actor.role != INVESTOR or actor.user_id != investor_id:
        raise PermissionDenied("an investor may only act for themselves")


def may_read_investor_position(actor: Actor, investor_id: int, managers: int | Collection[int]) -> bool:
    """An investor sees their own position, the manager their pool's investors, readers all."""
    return (
        actor.is_system
        or actor.role in PLATFORM_READERS
        or (actor.role == INVESTOR and actor.user_id == investor_id)
        or (actor.role == FUND_MANAGER and actor.user_id in _ids(managers))
    )


def require_read_investor_position(actor: Actor, investor_id: int, managers: int | Collection[int]) -> None:
    if not may_read_investor_position(actor, investor_id, managers):
        raise PermissionDenied("you may not see this investor's position")
