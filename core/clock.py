"""The one clock. Every "today" and "now" a service, a job or a page uses comes from here.

Dates are UTC days, the same on every replica. travel() moves the clock inside a block, for
this thread of execution only: the demo seed replays two years of a fund's history through the
real services, each act on its own day, and tests pin a day to check what a figure is "as of" it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time

_moment: ContextVar[datetime | None] = ContextVar("clock_moment", default=None)


def now() -> datetime:
    """The current moment, timezone-aware (UTC)."""
    return _moment.get() or datetime.now(UTC)


def today() -> date:
    return now().date()


@contextmanager
def travel(to: date | datetime) -> Iterator[None]:
    """Everything inside the block happens at `to` (a day means noon UTC of that day)."""
    moment = to if isinstance(to, datetime) else datetime.combine(to, time(12), UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    token = _moment.set(moment)
    try:
        yield
    finally:
        _moment.reset(token)
