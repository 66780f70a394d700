"""Helpers for the fund manager's AppTest suites: log in through Home.py, find widgets, run a real worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import psutil
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import AppTest, local_script_runner

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"  # the Factory's default
TIMEOUT = 30


def logged_in(username: str, password: str = PASSWORD) -> AppTest:
    """A new session of the whole app, logged in through the login form."""
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def goto(at: AppTest, page: str, **state: Any) -> AppTest:
    """Switch to a page, with session state set first (e.g. the chosen pool)."""
    for name, value in state.items():
        at.session_state[name] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def successes(at: AppTest) -> list[str]:
    return [s.value for s in at.success]


def button(at: AppTest, label: str) -> Any:
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r} among {[b.label for b in at.button]}"
    return found[0]


def page_text(at: AppTest) -> str:
    """Everything the page wrote as text (titles, markdown, captions, metrics, messages, progress)."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(getattr(e, "proto", "")) for e in at.get("progress")]
    parts += [str(o) for s in at.selectbox for o in s.options]
    return "\n".join(parts)


def rerun_until(at: AppTest, done: Callable[[AppTest], bool], timeout: float = 30, what: str = "") -> AppTest:
    """Rerun the page (as the live fragment would) until done(at) holds."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; errors {errors(at)}; text:\n{page_text(at)}")
        time.sleep(0.3)


def run_recording_live_fragments(at: AppTest) -> dict[str, float]:
    """A full run of the page; returns the fragments it asked the browser to rerun on a timer
    (st.fragment(run_every=...)): fragment id -> seconds between reruns."""
    sent: list[Any] = []
    parse = local_script_runner.parse_tree_from_messages

    def keep(messages: list[Any]) -> Any:
        sent.extend(messages)
        return parse(messages)

    with mock.patch.object(local_script_runner, "parse_tree_from_messages", keep):
        at.run()
    assert not at.exception, at.exception
    return {m.auto_rerun.fragment_id: m.auto_rerun.interval for m in sent if m.HasField("auto_rerun")}


def tick_fragments(at: AppTest, fragment_ids: list[str]) -> AppTest:
    """What the browser does when a run_every timer fires: rerun only these fragments, not the page.

    The elements of this run are the fragments' alone (the page around them did not run); the
    page hash and page list are kept, so a later at.run() is the same page's full run again."""
    page, pages = at._finished_page_script_hash, at._registered_pages
    auto_rerun = partial(RerunData, fragment_id_queue=list(fragment_ids), is_auto_rerun=True)
    with mock.patch.object(local_script_runner, "RerunData", auto_rerun):
        at.run()
    at._finished_page_script_hash, at._registered_pages = page, pages
    assert not at.exception, at.exception
    return at


@contextlib.contextmanager
def deferred_downloads() -> Iterator[dict[str, Callable[[], Any]]]:
    """The data callables of st.download_button(data=callable) registered while inside, by the
    deferred file id the button carries (what the browser asks for when the button is clicked)."""
    registered: dict[str, Callable[[], Any]] = {}
    add = MediaFileManager.add_deferred

    def keep(self: MediaFileManager, data: Callable[[], Any], *args: Any, **kwargs: Any) -> str:
        file_id = add(self, data, *args, **kwargs)
        registered[file_id] = data
        return file_id

    with mock.patch.object(MediaFileManager, "add_deferred", keep):
        yield registered


@contextlib.contextmanager
def real_worker() -> Iterator[subprocess.Popen[bytes]]:
    """`python -m core worker` on this run's database, Redis and queue; always stopped, horses included."""
    log = Path(tempfile.mkdtemp(prefix="ip-manager-worker-")) / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "worker"],
            cwd=ROOT,
            env={**os.environ, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_PENDING_AFTER_SECONDS": "2"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        for child in children:  # RQ's work horses live in process groups of their own
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
