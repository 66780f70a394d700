"""App-side structured logs: a failed login and a lockout are logged as JSON lines that name the
account (actor_id) through core.logs' log_context, the way the app's log handler emits them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from core import logs
from core.services import users


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The handler core.logs.configure installs (context filter + JSON), on a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("investment_pools")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _records(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_failed_logins_and_lockout_carry_the_account_id(make, uow_factory, json_lines):
    person = make.user("investor")
    with uow_factory() as uow:
        assert users.record_login_failure(uow, person.username, max_failures=2, lock_minutes=15) is False
    with uow_factory() as uow:
        assert users.record_login_failure(uow, person.username, max_failures=2, lock_minutes=15) is True

    records = [r for r in _records(json_lines) if r["logger"] == "investment_pools.users"]
    assert [r["level"] for r in records] == ["WARNING", "WARNING"]
    failed, locked = records
    assert failed["actor_id"] == str(person.user_id) and "login failed" in failed["message"]
    assert locked["actor_id"] == str(person.user_id) and "locked for 15 minutes" in locked["message"]
    assert "pool_id" not in failed and "operation_id" not in failed


def test_failed_login_for_an_unknown_name_logs_no_id_and_not_the_name(uow_factory, json_lines):
    typed = "Not-A-Password-In-The-Wrong-Box"
    with uow_factory() as uow:
        assert users.record_login_failure(uow, typed, max_failures=2, lock_minutes=15) is False
    records = [r for r in _records(json_lines) if r["logger"] == "investment_pools.users"]
    assert len(records) == 1 and "actor_id" not in records[0]
    assert typed.lower() not in json_lines.getvalue().lower()
