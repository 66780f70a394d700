"""Refusals are part of the audit trail too: who tried what, and why it was refused."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from core.errors import DomainError
from core.permissions import Actor
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
