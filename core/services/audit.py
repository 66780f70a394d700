"""Refusals are part of the audit trail too: who tried what, and why it was refused."""

from __future__ import annotations

import functools
import inspect
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from core.domain import clean_text
from core.errors import Conflict, DomainError, PermissionDenied
from core.permissions import ADMIN, Actor, require_role
from core.uow import UnitOfWork
from core.vocabulary import label
from db.models import AuditLog, Operation, Pool, User

P = ParamSpec("P")
R = TypeVar("R")


# A unique index that two requests can race for, and what the loser is told: the checks before
# the insert see no duplicate, so the database is the one that notices.
CONFLICTS = {
    "uq_commitments_live": "this investor already has a live commitment to this pool (it was recorded a moment ago)",
    "uq_users_username": "that username is already taken",
    "uq_users_email_lower": "a user with that email address already exists",
    "uq_operations_idempotency_key": "this request was already recorded a moment ago",
    "uq_journals_idempotency_key": "this was already posted a moment ago",
    "uq_portfolio_companies_pool_id_name": "this pool already has a company of that name",
    "uq_pool_managers_pool_id_user_id": "this user already manages the pool (added a moment ago)",
}


def conflict_of(exc: IntegrityError) -> Conflict | None:
    """The domain's words for a unique index a concurrent duplicate ran into (None: not one of ours)."""
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    return Conflict(CONFLICTS[name]) if name in CONFLICTS else None


def records_refusals(action: str, object_type: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a writing service: a DomainError rolls back, is written to the audit log, and propagates.
    A concurrent duplicate the database caught (CONFLICTS) becomes a Conflict the same way.

    The object id is the service's first argument after (actor, uow), when it has one.
    """

    def wrap(service: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(service)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            actor: Actor = args[0]  # type: ignore[assignment]
            uow: UnitOfWork = args[1]  # type: ignore[assignment]
            object_id: Any = args[2] if len(args) > 2 and isinstance(args[2], (int, str)) else None
            try:
                return service(*args, **kwargs)
            except DomainError as exc:
                uow.rollback()
                uow.record_refusal(actor.user_id, action, object_type, object_id, exc.message)
                raise
            except IntegrityError as exc:
                conflict = conflict_of(exc)
                if conflict is None:
                    raise
                uow.rollback()
                uow.record_refusal(actor.user_id, action, object_type, object_id, conflict.message)
                raise conflict from exc

        return run

    return wrap


# The object a read names, by the parameter that names it: the first one given is audited.
_READ_OBJECTS = {
    "pool_id": "pool",
    "commitment_id": "commitment",
    "call_id": "capital_call",
    "item_id": "call_item",
    "operation_id": "operation",
    "user_id": "user",
    "investor_id": "investor",
}


def audits_refused_reads(service: Callable[P, R]) -> Callable[P, R]:
    """Wrap a reading service: a PermissionDenied (someone asking for what is not theirs) is written
    to the audit log as action "read.<module>.<service>", then propagates.

    Other refusals (bad input, no such id) are not recorded: nothing was at stake. A refusal is
    recorded once, by the innermost wrapped service, however many wrapped reads it passes through.
    """
    action = f"read.{service.__module__.rsplit('.', 1)[-1]}.{service.__name__}"[:60]
    signature = inspect.signature(service)

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(*args, **kwargs)
        except PermissionDenied as exc:
            if not getattr(exc, "recorded", False):
                actor: Actor = args[0]  # type: ignore[assignment]
                uow: UnitOfWork = args[1]  # type: ignore[assignment]
                named = signature.bind_partial(*args, **kwargs).arguments
                object_type, object_id = "-", None
                for parameter, kind in _READ_OBJECTS.items():
                    value = named.get(parameter)
                    if isinstance(value, (int, str, uuid.UUID)) and not isinstance(value, bool):
                        object_type, object_id = kind, value
                        break
                uow.record_refusal(actor.user_id, action, object_type, object_id, exc.message)
                exc.recorded = True  # type: ignore[attr-defined]
            raise

    return run


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
    object_name: str | None = None  # a user's username, a pool's name, an operation's kind

    @property
    def what(self) -> str:
        """The object in words: "User ivy", "Pool Harbor Fund", "Payment operation", "Commitment 6"."""
        kind = label(self.object_type).capitalize() if self.object_type != "-" else ""
        if self.object_type == "operation":
            return f"{label(self.object_name).capitalize()} operation" if self.object_name else "An operation"
        if self.object_name:
            return f"{kind} {self.object_name}"
        if self.object_id and not _UUID.fullmatch(self.object_id):
            return f"{kind} {self.object_id}".strip()
        return kind


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def fields_text(fields: dict[str, Any] | None) -> str:
    """A before or after record as people read it: "Amount: 10000.00 · Reference: W1". Internal ids
    of operations (UUIDs) are left out; nested values are written as JSON; nothing is "None"."""
    if not fields:
        return ""
    parts = []
    for key, value in fields.items():
        if isinstance(value, str) and _UUID.fullmatch(value):
            continue
        if value is None or value == "":
            shown = "none"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, (dict, list)):
            shown = fields_json(value)
        else:
            shown = str(value)
        parts.append(f"{_name(key)}: {shown}")
    return " · ".join(parts)


_ACRONYMS = {"kyc": "KYC", "id": "ID", "nav": "NAV", "irr": "IRR", "gp": "GP", "lp": "LP"}


def _name(key: str) -> str:
    """A field's code as words: kyc_status -> KYC status, call_item_id -> Call item ID."""
    words = [_ACRONYMS.get(word, word) for word in label(key).split(" ")]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def fields_json(fields: Any) -> str:
    """A before or after record as JSON (the CSV's form, the same as the audit log export's)."""
    return "" if fields is None else json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)


@audits_refused_reads
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
    """Newest first; an admin's view of who changed what (who: part of a username, or "system"),
    with each object's name where it has one.

    The text filters are typed by hand: bounded, single-line text (a NUL cannot even be sent to
    PostgreSQL), refused with the filter named otherwise.
    """
    require_role(actor, ADMIN)
    action, who, object_type, object_id = (
        clean_text(value, name, max_length=200, required=False)
        for name, value in (
            ("action", action),
            ("who", who),
            ("object_type", object_type),
            ("object_id", object_id),
        )
    )
    target = aliased(User)
    name = func.coalesce(target.username, Pool.name, Operation.kind)
    query = (
        select(AuditLog, User.username, name)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .outerjoin(
            target, and_(AuditLog.object_type == "user", cast(target.id, String) == AuditLog.object_id)
        )
        .outerjoin(Pool, and_(AuditLog.object_type == "pool", cast(Pool.id, String) == AuditLog.object_id))
        .outerjoin(
            Operation,
            and_(AuditLog.object_type == "operation", cast(Operation.id, String) == AuditLog.object_id),
        )
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
            object_name,
        )
        for row, username, object_name in uow.session.execute(query)
    ]
