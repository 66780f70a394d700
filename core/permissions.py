"""Who may touch what. Every service calls these on the very object it was asked about."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import PermissionDenied
from core.vocabulary import Role, values

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


def require_pool_manager(actor: Actor, manager_id: int) -> None:
    """Only the pool's own manager moves its money or changes its terms."""
    if actor.is_system:
        return
    if actor.role != FUND_MANAGER or actor.user_id != manager_id:
        raise PermissionDenied("only the pool's manager may do this")


def require_investor_self(actor: Actor, investor_id: int) -> None:
    if actor.is_system:
        return
    if actor.role != INVESTOR or actor.user_id != investor_id:
        raise PermissionDenied("an investor may only act for themselves")


def may_read_investor_position(actor: Actor, investor_id: int, manager_id: int) -> bool:
    """An investor sees their own position, the manager their pool's investors, readers all."""
    return (
        actor.is_system
        or actor.role in PLATFORM_READERS
        or (actor.role == INVESTOR and actor.user_id == investor_id)
        or (actor.role == FUND_MANAGER and actor.user_id == manager_id)
    )


def require_read_investor_position(actor: Actor, investor_id: int, manager_id: int) -> None:
    if not may_read_investor_position(actor, investor_id, manager_id):
        raise PermissionDenied("you may not see this investor's position")
