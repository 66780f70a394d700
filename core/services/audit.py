"""Refusals are part of the audit trail too: who tried what, and why it was refused."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select

from core.errors import DomainError
from core.permissions import ADMIN, Actor, require_role
from db.models import AuditLog, User
from db.session import UnitOfWork

P = ParamSpec("P")
R = TypeVar("R")


def records_refusals(action: str, object_type: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a writing service: a DomainError rolls back, is written to the audit log, and propagates.

    The object id is the service's first argument after (actor, uow), when it has one.
    """

    def wrap(service: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(service)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            actor: Actor = args[0]  # type: ignore[assignment]
            uow: UnitOfWork = args[1]  # type: ignore[assignment]
            try:
                return service(*args, **kwargs)
            except DomainError as exc:
                uow.rollback()
                object_id: Any = args[2] if len(args) > 2 and isinstance(args[2], (int, str)) else None
                uow.record_refusal(actor.user_id, action, object_type, object_id, exc.message)
                raise

        return run

    return wrap


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str | None
    action: str
    object_type: str
    object_id: str | None
    outcome: str
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def list_audit(
    actor: Actor,
    uow: UnitOfWork,
    *,
    action: str = "",
    outcome: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 500,
    who: str = "",
    object_type: str = "",
    object_id: str = "",
) -> list[AuditEntry]:
    """Newest first; an admin's view of who changed what (who: part of a username, or "system")."""
    require_role(actor, ADMIN)
    query = (
        select(AuditLog, User.username)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .order_by(AuditLog.id.desc())
        .limit(min(max(limit, 1), 5000))
    )
    if action.strip():
        query = query.where(AuditLog.action.like(f"%{action.strip()}%"))
    if outcome:
        query = query.where(AuditLog.outcome == outcome)
    if who.strip().lower() == "system":
        query = query.where(AuditLog.actor_id.is_(None))
    elif who.strip():
        query = query.where(User.username.like(f"%{who.strip().lower()}%"))
    if object_type.strip():
        query = query.where(AuditLog.object_type == object_type.strip())
    if object_id.strip():
        query = query.where(AuditLog.object_id == object_id.strip())
    if since:
        query = query.where(AuditLog.at >= since)
    if until:
        query = query.where(AuditLog.at < until + timedelta(days=1))
    return [
        AuditEntry(
            row.id,
            row.at,
            username,
            row.action,
            row.object_type,
            row.object_id,
            row.outcome,
            row.reason,
            row.before,
            row.after,
        )
        for row, username in uow.session.execute(query)
    ]
