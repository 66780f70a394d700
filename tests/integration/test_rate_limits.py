"""Rate limits in Redis: operation submissions per actor, login attempts per account and per source.

Real Redis and PostgreSQL. The suite runs with generous limits (tests/conftest.py); each test here
sets real ones through the environment, as a deployment would, and re-reads the settings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import redis
from sqlalchemy import func, select
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from app.webapp import login_message
from core import bootstrap, operations
from core.permissions import Actor
from core.ratelimit import Limit, RateLimited, RateLimiter
from core.services import pools, users
from db.models import AuditLog, Operation, User

ROOT = Path(__file__).resolve().parents[2]
TRY_AGAIN = re.compile(r"try again in (\d+) seconds")


@pytest.fixture
def limits(environment: Callable[..., None]) -> Callable[..., None]:
    """Limits as settings (OPERATION_RATE_LIMIT=3, ...), re-read; put back after the test."""
    return environment


@pytest.fixture
def call_pool(make: Any) -> tuple[int, Actor]:
    """A closed pool with one accepted commitment: capital calls can be submitted to it."""
    pool_id, manager = make.pool(hard_cap="2000000")
    make.commitment(pool_id, amount="100000", accept_as=manager)
    with make.uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    return pool_id, manager


def call_payload(tag: str) -> dict[str, str]:
    return {
        "percent": "1",
        "purpose": f"call {tag}",
        "due_date": (date.today() + timedelta(days=14)).isoformat(),
    }


def submit_call(make: Any, manager: Actor, pool_id: int, key: str) -> operations.OperationStatus:
    """A small capital call: recorded as an operation row (not processed: no worker needed)."""
    with make.uow_factory() as uow:
        return operations.submit(
            manager, uow, pool_id, "capital_call", call_payload(key), idempotency_key=key
        )


def operations_of(make: Any, pool_id: int) -> int:
    with make.uow_factory() as uow:
        return uow.session.execute(
            select(func.count()).select_from(Operation).where(Operation.pool_id == pool_id)
        ).scalar_one()


def refusals(make: Any, action: str, object_id: str) -> list[str]:
    with make.uow_factory() as uow:
        return list(
            uow.session.execute(
                select(AuditLog.reason).where(
                    AuditLog.action == action, AuditLog.object_id == object_id, AuditLog.outcome == "refused"
                )
            ).scalars()
        )


# --- operation submissions ---------------------------------------------------------------------------


def test_a_burst_over_the_limit_is_refused_with_the_wait_and_writes_nothing(make, call_pool, limits):
    pool_id, manager = call_pool
    limits(OPERATION_RATE_LIMIT=3)
    bootstrap.resources().limiter.clear(
        bootstrap.resources().limiter.operations_limit(), str(manager.user_id)
    )

    first = [submit_call(make, manager, pool_id, f"burst-{pool_id}-{n}") for n in range(3)]
    assert len({status.id for status in first}) == 3 and operations_of(make, pool_id) == 3

    with pytest.raises(RateLimited) as refused:
        submit_call(make, manager, pool_id, f"burst-{pool_id}-3")
    wait = TRY_AGAIN.search(refused.value.message)
    assert wait is not None and 1 <= int(wait.group(1)) <= 60
    assert operations_of(make, pool_id) == 3  # nothing written
    assert any(TRY_AGAIN.search(reason or "") for reason in refusals(make, "operation.submit", str(pool_id)))

    # A replay of a request already made is not a new submission: the first operation comes back.
    again = submit_call(make, manager, pool_id, f"burst-{pool_id}-0")
    assert again.id == first[0].id and operations_of(make, pool_id) == 3


def test_under_the_limit_every_submission_passes_and_actors_have_their_own_limits(make, limits):
    limits(OPERATION_RATE_LIMIT=2)
    pools_and_managers = []
    for _ in range(2):
        pool_id, manager = make.pool(hard_cap="2000000")
        make.commitment(pool_id, amount="100000", accept_as=manager)
        with make.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
        bootstrap.resources().limiter.clear(
            bootstrap.resources().limiter.operations_limit(), str(manager.user_id)
        )
        pools_and_managers.append((pool_id, manager))
    for pool_id, manager in pools_and_managers:  # each manager uses their whole limit, no more
        for n in range(2):
            submit_call(make, manager, pool_id, f"own-{pool_id}-{n}")
        assert operations_of(make, pool_id) == 2
    # The system actor (seeding, the CLI) is not a person and is not limited.
    for _ in range(5):
        bootstrap.resources().limiter.check_submission(Actor.system())


CHILD = textwrap.dedent(
    """
    import json, sys
    from datetime import date, timedelta
    from core import bootstrap, operations
    from core.errors import DomainError
    from core.permissions import Actor

    user_id, pool_id, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    manager = Actor(user_id, "fund_manager", "child")
    outcomes = []
    for n in range(3):
        try:
            with bootstrap.unit_of_work() as uow:
                operations.submit(
                    manager, uow, pool_id, "capital_call",
                    {"percent": "1", "purpose": f"child {tag} {n}",
                     "due_date": (date.today() + timedelta(days=14)).isoformat()},
                    idempotency_key=f"child-{pool_id}-{tag}-{n}",
                )
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.message)
    print(json.dumps(outcomes))
    """
)


def test_two_processes_share_one_limit(make, call_pool, limits):
    """Two OS processes (two app replicas) against the same Redis and database: one limit between them."""
    pool_id, manager = call_pool
    limits(OPERATION_RATE_LIMIT=4)
    bootstrap.resources().limiter.clear(
        bootstrap.resources().limiter.operations_limit(), str(manager.user_id)
    )
    env = {**os.environ, "OPERATION_RATE_LIMIT": "4"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(manager.user_id), str(pool_id), tag],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    outcomes: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outcomes += json.loads(out.strip().splitlines()[-1])
    assert outcomes.count("ok") == 4
    limited = [o for o in outcomes if o != "ok"]
    assert len(limited) == 2 and all(TRY_AGAIN.search(o) for o in limited)
    assert operations_of(make, pool_id) == 4


def test_with_redis_down_the_limit_falls_back_to_this_process(limits):
    """An unreachable Redis (a closed port, nothing listening) does not block: each process keeps
    counting in memory with the same limit, and logs a warning."""
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    limit = Limit("fallback-test", 2, 60)
    subject = f"s-{os.getpid()}-{id(dead)}"
    assert RateLimiter(dead).hit(limit, subject) == 0
    assert RateLimiter(dead).hit(limit, subject) == 0
    assert 1 <= RateLimiter(dead).hit(limit, subject) <= 60


# --- logins ------------------------------------------------------------------------------------------


def login_refusals(make: Any, username: str) -> list[str]:
    return [r for r in refusals(make, "login", username) if TRY_AGAIN.search(r or "")]


def test_login_attempts_per_account_are_limited_whatever_the_source(make, uow_factory, limits):
    limits(LOGIN_RATE_LIMIT_ACCOUNT=3, LOGIN_RATE_LIMIT_SOURCE=100)
    user = make.user("investor")
    account, _ = bootstrap.resources().limiter.login_limits()
    bootstrap.resources().limiter.clear(account, user.username)
    for n in range(3):  # three failed logins, from three addresses
        with uow_factory() as uow:
            bootstrap.resources().limiter.check_login(uow, user.username, f"198.51.100.{n}")
        bootstrap.resources().limiter.record_login_failure(user.username, f"198.51.100.{n}")
    with uow_factory() as uow, pytest.raises(RateLimited) as refused:
        bootstrap.resources().limiter.check_login(
            uow, user.username.upper(), "198.51.100.99"
        )  # the same account
    assert TRY_AGAIN.search(refused.value.message)
    assert login_refusals(make, user.username)
    # Another account is not affected.
    other = make.user("investor")
    bootstrap.resources().limiter.clear(account, other.username)
    with uow_factory() as uow:
        bootstrap.resources().limiter.check_login(uow, other.username, "198.51.100.1")


def test_login_attempts_per_source_are_limited_across_usernames(make, uow_factory, limits):
    limits(LOGIN_RATE_LIMIT_ACCOUNT=100, LOGIN_RATE_LIMIT_SOURCE=3)
    _, source_limit = bootstrap.resources().limiter.login_limits()
    source = f"203.0.113.{os.getpid() % 250}"
    bootstrap.resources().limiter.clear(source_limit, source)
    for n in range(3):  # spraying: a different (even unknown) username each time, each failing
        with uow_factory() as uow:
            bootstrap.resources().limiter.check_login(uow, f"nobody-{n}-{os.getpid()}", source)
        bootstrap.resources().limiter.record_login_failure(f"nobody-{n}-{os.getpid()}", source)
    with uow_factory() as uow, pytest.raises(RateLimited):
        bootstrap.resources().limiter.check_login(uow, f"nobody-3-{os.getpid()}", source)
    assert login_refusals(make, f"nobody-3-{os.getpid()}")
    bootstrap.resources().limiter.clear(source_limit, "203.0.113.251")
    with uow_factory() as uow:  # another address is not affected
        bootstrap.resources().limiter.check_login(uow, f"nobody-4-{os.getpid()}", "203.0.113.251")


@pytest.fixture
def app_like_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in tests/app/test_login_navigation.py: fast real bcrypt, and Streamlit's page mode as a
    running server has it after its first st.navigation call."""
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )
    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def test_the_login_page_says_when_to_try_again_and_checks_no_password_meanwhile(
    make, limits, app_like_a_server
):
    limits(LOGIN_RATE_LIMIT_ACCOUNT=2, LOGIN_RATE_LIMIT_SOURCE=100, LOCKOUT_FAILURES=50)
    user = make.user("investor")
    bootstrap.resources().limiter.clear(bootstrap.resources().limiter.login_limits()[0], user.username)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()

    def attempt(password: str) -> list[str]:
        at.text_input[0].input(user.username)
        at.text_input[1].input(password)
        at.button[0].click().run()
        return [e.value for e in at.error]

    for _ in range(2):
        assert attempt("wrong-password-1") == [login_message(limited=None, failed=True)]
    shown = attempt("correct-horse-battery")  # even the right password waits: it is not checked
    assert len(shown) == 1 and TRY_AGAIN.search(shown[0]) and "Too many login attempts" in shown[0]
    with make.uow_factory() as uow:
        failed = uow.session.execute(select(User.failed_logins).where(User.id == user.user_id)).scalar_one()
    assert failed == 2  # the refused attempt never reached the password check or the lockout count
    assert login_refusals(make, user.username)
