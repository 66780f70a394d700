"""`make run` (python -m app run): one command that brings up the whole demo and takes it down again on Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request

from core import bootstrap, runtime, seed
from core.settings import ROOT, settings
from db.migrate import upgrade

log = logging.getLogger("investment_pools")


def quiet_setup() -> None:
    """The set-up (migrating, seeding the demo's operations) speaks only when something goes wrong."""
    for noisy in ("pgserver", "alembic", "investment_pools.operations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def launch(port: int | None = None) -> int:
    """port: --port, else STREAMLIT_SERVER_PORT, else 8501. The worker's and Streamlit's own output
    goes to files under DATA_DIR/logs, so the last thing on the screen is where to go and how to
    sign in, printed once the app answers."""
    port = port or settings().app_port
    # Ctrl-C, or a TERM from a process manager: either way take everything down in order, whenever it
    # comes (while migrating or seeding too), including the embedded servers this process started.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    children: list[subprocess.Popen[bytes]] = []
    status = 0
    try:
        database_url, redis_url = runtime.database_url(), runtime.redis_url()
        upgrade(database_url)
        with bootstrap.unit_of_work() as uow:
            empty = seed.is_empty(uow)
        if empty:
            try:
                seed.seed_demo(bootstrap.unit_of_work)
            except seed.ProductionRefusal as exc:  # start empty: `python -m core createuser` makes the admin
                log.warning("%s; starting with an empty database", exc)
        # Children reach the same servers, embedded or not, through the environment.
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "APP_ENV": settings().environment,
        }
        logs = settings().data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        streamlit = [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port)]
        for name, command in (
            ("worker", [sys.executable, "-m", "core", "worker"]),
            ("app", [*streamlit, "--server.headless", "true"]),
        ):
            with (logs / f"{name}.log").open("ab") as output:
                children.append(
                    subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
                )
        if _answering(port, children):
            print(f"\n  Investment Pools is running at http://localhost:{port}\n")
            print("  Demo logins (username / password):")
            for username, password, role, *_ in seed.DEMO_USERS:
                print(f"    {role:<13} {username:<10} / {password}")
            print(
                f"\n  Logs: {logs}. Ctrl-C stops the app, the worker and any embedded servers.\n", flush=True
            )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        # One of them ended by itself: the demo is broken, so say so and stop the rest.
        ended = next(child for child in children if child.poll() is not None)
        command = [str(part) for part in ended.args] if isinstance(ended.args, list) else [str(ended.args)]
        log.error(
            "%s exited with status %s (see %s); stopping", " ".join(command[2:4]), ended.returncode, logs
        )
        status = 1
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.info("stopping the worker and Streamlit")
        _stop_children(children)
        log.info("stopping the embedded servers")
        bootstrap.stop()
        log.info("stopped")
    return status


def _stop_children(children: list[subprocess.Popen[bytes]], timeout: float = 10) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _answering(port: int, children: list[subprocess.Popen[bytes]], timeout: float = 120) -> bool:
    """Wait until Streamlit answers its health check (or a child has died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(child.poll() is None for child in children):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False
