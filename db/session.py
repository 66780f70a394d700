"""Engines and the unit of work: rollback is the default, commit is explicit."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.models import AuditLog


def sqlalchemy_url(url: str) -> str:
    """Accept plain postgresql:// URLs (as pgserver, Heroku and friends give them) and use psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def make_engine(url: str, **kwargs: Any) -> Engine:
    # pre_ping and recycle let app and workers survive a database restart without help.
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": 10}
    options.update(kwargs)
    return create_engine(sqlalchemy_url(url), **options)


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def _storable(value: str) -> str:
    """Text from a refused request as PostgreSQL can store it: a NUL (which text columns refuse)
    and the other control characters are written as \\xNN, so the refusal is recorded, not lost."""
    return "".join(f"\\x{ord(ch):02x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in value)


class UnitOfWork:
    """One transaction. Leaving the block without commit() rolls back."""

    def __init__(self, engine: Engine) -> None:
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self.engine = engine
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        self.session: Session = self._factory()
        self._after_commit = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def rollback(self) -> None:
        self.session.rollback()
        self._after_commit = []

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run once the transaction is durable (enqueue a job, drop a cache key); dropped on rollback."""
        self._after_commit.append(hook)

    def audit(
        self,
        actor_id: int | None,
        action: str,
        object_type: str,
        object_id: object,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self.audit_many(actor_id, action, object_type, [(object_id, before, after)])

    def audit_many(
        self,
        actor_id: int | None,
        action: str,
        object_type: str,
        changes: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]],
    ) -> None:
        """Audit rows of one action, (object id, before, after) each, in one statement whatever
        their number (a bank statement's payments): arrays keep the SQL text the same."""
        self.session.execute(
            text(
                """INSERT INTO audit_log (actor_id, action, object_type, object_id, before, after)
                   SELECT :actor, :action, :object_type, change_id.object_id,
                          nullif(change.value -> 0, 'null'), nullif(change.value -> 1, 'null')
                     FROM unnest(CAST(:object_ids AS text[])) WITH ORDINALITY AS change_id(object_id, n)
                     JOIN jsonb_array_elements(CAST(:changes AS jsonb)) WITH ORDINALITY AS change(value, n)
                       ON change.n = change_id.n"""
            ),
            {
                "actor": actor_id,
                "action": action,
                "object_type": object_type,
                "object_ids": [None if object_id is None else str(object_id) for object_id, _, _ in changes],
                # One JSON document of [before, after] pairs: no per-element array quoting.
                "changes": json.dumps([[before, after] for _, before, after in changes]),
            },
        )

    def record_refusal(
        self, actor_id: int | None, action: str, object_type: str, object_id: object, reason: str
    ) -> None:
        """Refusals are written in their own transaction: the refused one is rolled back."""
        with Session(self.engine) as session:
            session.add(
                AuditLog(
                    actor_id=actor_id,
                    action=action,
                    object_type=object_type,
                    object_id=None if object_id is None else _storable(str(object_id)[:64]),
                    outcome="refused",
                    reason=_storable(reason[:2000]),
                )
            )
            session.commit()
