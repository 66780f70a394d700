"""`make run`: one command that brings up the whole demo and takes it down again on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from core import runtime, seed
from core.settings import ROOT, settings
from db.migrate import upgrade


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def launch(port: int = 8501) -> int:
    # Ctrl-C, or a TERM from a process manager: either way take everything down in order.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    database_url, redis_url = runtime.database_url(), runtime.redis_url()
    upgrade(database_url)
    with runtime.unit_of_work() as uow:
        empty = seed.is_empty(uow)
    if empty:
        seed.seed_demo(runtime.unit_of_work)
    # Children reach the same servers, embedded or not, through the environment.
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "APP_ENV": settings().environment,
    }
    children = [
        subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env),
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
        ),
    ]
    print(f"\n  Investment Pools is running at http://localhost:{port}\n")
    print("  Demo logins (username / password):")
    for username, password, role, *_ in seed.DEMO_USERS:
        print(f"    {role:<13} {username:<10} / {password}")
    print("\n  Ctrl-C stops the app, the worker and any embedded servers.\n", flush=True)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0
