"""`make run` (python -m app run): one command that brings up the whole demo and takes it down again on Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from core import bootstrap, runtime, seed
from core.settings import ROOT, settings
from db.migrate import upgrade

log = logging.getLogger("investment_pools")


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def launch(port: int | None = None) -> int:
    port = port or 8501
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
        children.append(subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env))
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    "Home.py",
                    "--server.port",
                    str(port),
                    "--server.headless",
                    "true",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        print(f"\n  Investment Pools is running at http://localhost:{port}\n")
        print("  Demo logins (username / password):")
        for username, password, role, *_ in seed.DEMO_USERS:
            print(f"    {role:<13} {username:<10} / {password}")
        print("\n  Ctrl-C stops the app, the worker and any embedded servers.\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        # One of them ended by itself: the demo is broken, so say so and stop the rest.
        ended = next(child for child in children if child.poll() is not None)
        command = [str(part) for part in ended.args] if isinstance(ended.args, list) else [str(ended.args)]
        log.error("%s exited with status %s; stopping", " ".join(command[2:4]), ended.returncode)
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
