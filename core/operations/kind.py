"""What the engine asks of an operation kind, and the registry kinds join at start-up.

The engine (core.operations) knows no feature: each concept module (core.services.payments,
core.services.calls, ...) defines its kinds, and the composition root (core.bootstrap) registers
them. A kind's methods:

prepare()   runs in the submitting transaction: permission on the very pool or call item, the
            request's validation (the same the concept's preview runs), and the number of work
            items (progress_total). It returns the clean payload the row stores.
run_batch() runs in the worker, in the transaction that records progress: it does the items from
            op.progress_done on and returns the new progress. It re-checks what may have changed
            since submission. Postings are keyed by operation and batch, so a rerun is a no-op.
finish()    runs with the last batch and returns the result shown to the user.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from decimal import InvalidOperation
from typing import Any, TypeVar

from core.errors import DomainError, ValidationError
from core.permissions import Actor
from core.settings import settings
from core.uow import UnitOfWork
from db.models import Operation, Pool

T = TypeVar("T")
MALFORMED = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError, IndexError)
MAX_REQUESTS = 5_000  # requests in one submission (the lines of one bank statement)


def refusal(exc: Exception) -> str | None:
    """The reason a request is refused for good (it would fail the same way on every retry)."""
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, MALFORMED):
        return f"malformed request: {type(exc).__name__}: {exc}"
    return None


def batch_size() -> int:
    """Investors per transaction of a bulk operation: OPERATION_BATCH_SIZE (tests use small ones
    to stop a call midway)."""
    return settings().operation_batch_size


def investors_slice(held: dict[int, Any], start: int) -> list[int]:
    """The next batch of investors, in id order: the same slices on every run of a batch."""
    return sorted(held)[start : start + batch_size()]


def each_line(
    payloads: list[dict[str, Any]], check: Callable[[dict[str, Any]], T], lines: Sequence[int] | None
) -> list[T]:
    """check() on every request in order; with `lines` (each request's line in what the user sent:
    several requests, or the lines of a file), a refusal names its line."""
    results = []
    for index, payload in enumerate(payloads):
        try:
            results.append(check(payload))
        except ValidationError as exc:
            if lines is None:
                raise
            raise ValidationError(f"line {lines[index]} {exc.field}", exc.reason) from None
        except DomainError as exc:
            if lines is None:
                raise
            raise type(exc)(f"line {lines[index]}: {exc.message}") from None
    return results


class Kind:
    name = ""
    needs_pool = True  # False for platform-wide work (an export): pool is then None
    grouped = False  # one small batch: many are done in one transaction by operations.drain()

    def prepare(
        self, actor: Actor, uow: UnitOfWork, pool: Pool, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], int]:
        raise NotImplementedError

    def prepare_many(
        self,
        actor: Actor,
        uow: UnitOfWork,
        pool: Pool,
        payloads: list[dict[str, Any]],
        lines: Sequence[int] | None,
    ) -> list[tuple[dict[str, Any], int]]:
        """Several requests at once (the lines of a bank statement); a kind that reads per request
        overrides this to read once for all of them."""
        return each_line(payloads, lambda payload: self.prepare(actor, uow, pool, payload), lines)

    def on_submit(self, uow: UnitOfWork, pool: Pool, operation_id: uuid.UUID, clean: dict[str, Any]) -> None:
        """State that must exist as soon as the request is accepted (e.g. the call in 'issuing')."""

    def run_batch(self, uow: UnitOfWork, op: Operation, pool: Pool, actor: Actor) -> int:
        raise NotImplementedError

    def on_failure(self, uow: UnitOfWork, op: Operation) -> None:
        """Undo what on_submit showed as under way, once the request failed for good."""

    def finish(self, uow: UnitOfWork, op: Operation, pool: Pool) -> dict[str, Any] | None:
        return None

    def run_group(
        self, uow: UnitOfWork, ops: list[Operation], pools: dict[int, Pool], actors: dict[int, Actor]
    ) -> dict[uuid.UUID, str]:
        """Grouped kinds only: every operation's one batch, set-based; the refusal of each one refused."""
        raise NotImplementedError


KINDS: dict[str, Kind] = {}


def register(*kinds: Kind) -> None:
    """Called by the composition root for every kind a process handles; registering twice is harmless."""
    for kind in kinds:
        KINDS[kind.name] = kind


def grouped_kinds() -> tuple[str, ...]:
    return tuple(name for name, kind in KINDS.items() if kind.grouped)
