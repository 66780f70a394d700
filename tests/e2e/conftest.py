"""End-to-end journeys: a real app (Streamlit + an RQ worker) on a seeded database, driven by
Debian's Chromium through Playwright. No browser is downloaded; without /usr/bin/chromium the
journeys are reported as skipped with the reason (`make test` installs it when it can)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import _state, _with_database

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEMO_PASSWORDS = {
    "admin": "admin-demo",
    "manager": "manager-demo",
    "comanager": "comanager-demo",
    "analyst": "analyst-demo",
    "investor": "investor-demo",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_env() -> Iterator[dict[str, str]]:
    """A database of the journeys' own, with the demo data, and the environment to reach it."""
    name = f"ip_e2e_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(_state["server"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": _with_database(_state["server"], name),
        "QUEUE_NAME": f"e2e-{os.getpid()}",
        "SWEEP_PENDING_AFTER_SECONDS": "2",
        "SWEEP_INTERVAL_SECONDS": "2",
    }
    subprocess.run(
        [sys.executable, "-m", "core", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run([sys.executable, "-m", "core", "seed"], env=env, cwd=ROOT, check=True, capture_output=True)
    yield env
    with psycopg.connect(_state["server"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_app(
    env: dict[str, str], log_name: str, *, worker: bool = True, port: int | None = None
) -> Iterator[str]:
    """Streamlit (and one worker, as `make run` starts them) on a free port: its URL once healthy."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    streamlit = [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port)]
    streamlit += ["--server.fileWatcherType", "none"]  # a served app does not reload code under it
    streamlit += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    commands = ([[sys.executable, "-m", "core", "worker"]] if worker else []) + [streamlit]
    log = open(Path(env["DATA_DIR"]) / log_name, "w")  # noqa: SIM115 - closed below
    children = [
        subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        for command in commands
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start; see {log.name}") from None
                time.sleep(0.5)
        yield url
    finally:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def app_url(app_env: dict[str, str]) -> Iterator[str]:
    with running_app(app_env, "e2e-app.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium); end-to-end journeys not run")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url: str, tmp_path: Path) -> Iterator[object]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    context.close()


def settled(page) -> None:  # noqa: ANN001 - a Playwright page
    """The script has finished its run: what is on the page is what this run drew (during a run, a
    redrawn element may stand beside its stale copy for a moment)."""
    page.wait_for_load_state("networkidle")
    page.get_by_test_id("stApp").and_(page.locator('[data-test-script-state="notRunning"]')).wait_for()


def open_select(page, label: str, timeout: float | None = None):  # noqa: ANN001, ANN201 - Playwright objects
    """Open the select box with this label as a person does: scrolled to first, then clicked. (One
    click on a box below the fold scrolls the page as it opens the list, and the scroll closes it.)"""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True)).first
    box.scroll_into_view_if_needed(timeout=timeout)
    box.get_by_role("combobox").click(timeout=timeout)
    return box


def choose(page, label: str, option: Any, tries: int = 3) -> None:  # noqa: ANN001
    """Pick an option (its text or a pattern) in the select box with this label. A list redrawn
    while it is open (a rerun of the page as the worker posts) is opened again, as a person would."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(tries):
        try:
            settled(page)  # the box as this run drew it, not a stale copy about to go
            open_select(page, label, timeout=20_000)  # a box redrawn under the click: found again
            page.get_by_role("option", name=option).click(timeout=20_000)
            return
        except PlaywrightError:  # a timeout, or the box detached as a rerun drew it again
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")


def log_in(page, app_url: str, username: str, password: str | None = None) -> None:  # noqa: ANN001
    """Fill the login form the way a person does and wait for the sidebar greeting. The login page
    may rerun under the click (the cookie component reporting in); the form keeps what was typed,
    so pressing Login again is what a person would do."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(app_url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password or DEMO_PASSWORDS[username])
    signed_in = page.get_by_text(f"Signed in as {username}")
    for _ in range(4):
        with contextlib.suppress(PlaywrightTimeout):  # the form is gone: the last click got through
            page.get_by_role("button", name="Login").click(timeout=10_000)
        try:
            signed_in.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            continue
    signed_in.wait_for()
