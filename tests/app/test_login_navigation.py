"""Login, lockout and role navigation through the real app (AppTest from Home.py) on the real database.

AppTest does not draw st.navigation's sidebar menu; the pages a run registered with st.navigation
are read from AppTest's page registry (the same one switch_page() resolves against).

Streamlit keeps one process-wide flag, PagesManager.uses_pages_directory: True at start-up because
a pages/ folder exists (the old "every file in pages/ is a page" mode), False for good once any
session calls st.navigation. AppTest resets it before every run, so every rerun after login would
run the page file straight from pages/ and never Home.py (no router, no logout button). The
`server_after_first_navigation` fixture keeps it False, as a running server has it; the start-up
state is covered on its own by test_a_fresh_server_shows_no_pages_before_login.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from app.webapp import PAGES
from core.permissions import Actor
from core.services import users

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"  # the Factory's default
# One message for an unknown username, a wrong password and a locked account alike: which one it
# was would tell a stranger that the account exists (issue 15).
REFUSED = "Username or password is incorrect, or the account is locked after too many failed logins"
NOT_AVAILABLE = "This page is not available to you."
DEFAULT_TITLE = {role: next(s.title for s in specs if s.default) for role, specs in PAGES.items()}
TIMEOUT = 30


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real bcrypt at the lowest cost (the app runs in this process, so it verifies these hashes too)."""
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


@pytest.fixture(autouse=True)
def server_after_first_navigation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.name == "test_a_fresh_server_shows_no_pages_before_login":
        return
    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def app() -> AppTest:
    """A brand new session of the app: nothing carried over but what the database holds."""
    return AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def registered_pages(at: AppTest) -> list[str]:
    """Script paths of the pages st.navigation was given, relative to the app root, in order."""
    paths = [info.get("script_path") for info in at._registered_pages.values()]
    return [Path(str(p)).resolve().relative_to(ROOT).as_posix() for p in paths if p]


def logged_in_as(at: AppTest) -> Actor | None:
    try:
        return at.session_state["actor"]
    except KeyError:
        return None


def user_row(uow_factory: Any, user_id: int) -> dict[str, Any]:
    with uow_factory() as uow:
        return dict(
            uow.session.execute(
                text("SELECT failed_logins, locked_until FROM users WHERE id = :id"), {"id": user_id}
            )
            .mappings()
            .one()
        )


def role_pages(at: AppTest) -> list[str]:
    return [p for p in registered_pages(at) if p.startswith("pages/")]


def test_the_login_form_comes_first_and_shows_no_pages() -> None:
    at = app()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert role_pages(at) == []
    assert logged_in_as(at) is None
    assert not [b for b in at.sidebar.button if b.label == "Log out"]


def test_a_fresh_server_shows_no_pages_before_login() -> None:
    """Home.py calls st.navigation with only the hidden login page before anyone logs in, so a
    fresh server never falls back to listing the files in pages/."""
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert role_pages(at) == []


@pytest.mark.parametrize("role", list(PAGES))
def test_each_role_gets_exactly_its_pages(make: Any, role: str) -> None:
    person = make.user(role)
    at = log_in(app(), person.username, PASSWORD)
    assert not at.exception, at.exception
    assert errors(at) == []
    assert logged_in_as(at) == Actor(person.user_id, role, person.username)
    assert role_pages(at) == [spec.path for spec in PAGES[role]]
    # The role's default page rendered, and no page of any other role is registered.
    assert DEFAULT_TITLE[role] in titles(at)
    others = {spec.path for r, specs in PAGES.items() if r != role for spec in specs}
    assert not others & set(registered_pages(at))
    assert any(person.username in c.value for c in at.sidebar.caption)

    # A rerun (any click) keeps the session logged in without the form.
    at.run()
    assert logged_in_as(at) is not None
    assert "Password" not in [t.label for t in at.text_input]


def test_ten_successful_logins_in_five_minutes_are_not_throttled(make: Any, environment: Any) -> None:
    """Only failures count against the login limits: a person signing in again and again is fine."""
    environment(LOGIN_RATE_LIMIT_ACCOUNT="3", LOGIN_RATE_LIMIT_SOURCE="3")
    person = make.user("investor")
    for _ in range(10):
        at = log_in(app(), person.username, PASSWORD)
        assert errors(at) == [] and logged_in_as(at) is not None
    for attempt in range(3):
        at = log_in(app(), person.username, f"wrong-{attempt}")
        assert any(REFUSED in e for e in errors(at))
    at = log_in(app(), person.username, PASSWORD)  # three failures: now the limit holds
    assert logged_in_as(at) is None and any("try again in" in e for e in errors(at)), errors(at)


def test_the_login_form_has_a_reading_width() -> None:
    at = app()
    assert at.columns and at.text_input, "the form sits in the middle column, not across the window"
    assert [t.label for t in at.columns[1].text_input] == ["Username", "Password"]


def test_wrong_password_shows_an_error_and_counts_in_the_database(make: Any, uow_factory: Any) -> None:
    person = make.user("investor")
    at = log_in(app(), person.username, "wrong-password-1")
    assert any(REFUSED in e for e in errors(at))
    assert logged_in_as(at) is None
    assert role_pages(at) == []
    assert user_row(uow_factory, person.user_id)["failed_logins"] == 1

    wrong_password = errors(at)
    at = log_in(app(), "no-such-user-anywhere", "whatever-password")
    assert errors(at) == wrong_password, "an unknown user is told exactly what a known one is"
    assert logged_in_as(at) is None


def test_five_failures_lock_the_account_across_restarts_until_an_admin_unlocks_it(
    make: Any, uow_factory: Any
) -> None:
    person = make.user("analyst")
    admin = make.user("admin")
    at = app()
    for attempt in range(1, 5):
        at = log_in(at, person.username, f"wrong-password-{attempt}")
        assert any(REFUSED in e for e in errors(at))
        assert user_row(uow_factory, person.user_id)["failed_logins"] == attempt
    at = log_in(at, person.username, "wrong-password-5")
    assert any(REFUSED in e for e in errors(at)), errors(at)  # the same words: the lock is not announced
    locked_until = user_row(uow_factory, person.user_id)["locked_until"]
    assert locked_until is not None
    assert timedelta(minutes=14) < locked_until - datetime.now(UTC) <= timedelta(minutes=15, seconds=5)

    # "Restart the app": a brand new session, the CORRECT password, and still refused.
    at = log_in(app(), person.username, PASSWORD)
    assert logged_in_as(at) is None
    assert role_pages(at) == []
    assert any(REFUSED in e for e in errors(at)), errors(at)
    assert "Explorer" not in titles(at)
    assert user_row(uow_factory, person.user_id)["locked_until"] == locked_until, (
        "a locked attempt must not extend or clear the lock"
    )

    with uow_factory() as uow:
        users.unlock_user(admin, uow, person.user_id)
    at = log_in(app(), person.username, PASSWORD)
    assert errors(at) == []
    assert logged_in_as(at) == Actor(person.user_id, "analyst", person.username)
    assert role_pages(at) == [spec.path for spec in PAGES["analyst"]]
    assert user_row(uow_factory, person.user_id) == {"failed_logins": 0, "locked_until": None}


def test_the_lock_expires_by_itself_after_its_fifteen_minutes(make: Any, uow_factory: Any) -> None:
    person = make.user("investor")
    at = app()
    for attempt in range(5):
        at = log_in(at, person.username, f"wrong-password-{attempt}")
    assert any(REFUSED in e for e in errors(at)), errors(at)
    locked_until = user_row(uow_factory, person.user_id)["locked_until"]
    assert locked_until is not None

    def lock_ends_in(seconds: int) -> None:
        # The fifteen minutes pass in the database, whose clock the lock is measured by.
        with uow_factory() as uow:
            uow.session.execute(
                text("UPDATE users SET locked_until = now() + make_interval(secs => :s) WHERE id = :id"),
                {"s": seconds, "id": person.user_id},
            )
            uow.commit()

    lock_ends_in(60)  # a minute before the end: still locked, with the right password too
    st.cache_resource.clear()  # a restarted app: nothing cached but what the database holds
    at = log_in(app(), person.username, PASSWORD)
    assert logged_in_as(at) is None
    assert any(REFUSED in e for e in errors(at)), errors(at)

    lock_ends_in(-1)  # a second past the end: no admin needed
    st.cache_resource.clear()
    at = log_in(app(), person.username, PASSWORD)
    assert errors(at) == []
    assert logged_in_as(at) == Actor(person.user_id, "investor", person.username)
    assert role_pages(at) == [spec.path for spec in PAGES["investor"]]
    assert user_row(uow_factory, person.user_id) == {"failed_logins": 0, "locked_until": None}

    # After an expired lock the count starts again: one more mistake is one failure, not a new lock.
    at = log_in(app(), person.username, "one-more-mistake")
    assert any(REFUSED in e for e in errors(at))
    assert user_row(uow_factory, person.user_id) == {"failed_logins": 1, "locked_until": None}


def test_a_successful_login_resets_the_failure_count(make: Any, uow_factory: Any) -> None:
    person = make.user("investor")
    at = app()
    for attempt in range(4):
        at = log_in(at, person.username, f"nope-{attempt}-password")
    assert user_row(uow_factory, person.user_id)["failed_logins"] == 4
    at = log_in(app(), person.username, PASSWORD)
    assert logged_in_as(at) is not None
    assert user_row(uow_factory, person.user_id)["failed_logins"] == 0


def test_logout(make: Any) -> None:
    person = make.user("fund_manager")
    at = log_in(app(), person.username, PASSWORD)
    assert logged_in_as(at) is not None
    [logout] = [b for b in at.sidebar.button if b.label == "Log out"]
    at = logout.click().run()
    assert not at.exception
    assert logged_in_as(at) is None
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert "My pools" not in titles(at)
    assert role_pages(at) == []


def test_a_deactivated_user_is_signed_out_on_the_next_run(make: Any, uow_factory: Any) -> None:
    person = make.user("investor")
    admin = make.user("admin")
    at = log_in(app(), person.username, PASSWORD)
    assert logged_in_as(at) is not None
    with uow_factory() as uow:
        users.set_active(admin, uow, person.user_id, False)
    at.run()
    assert logged_in_as(at) is None
    assert "Portfolio" not in titles(at)


def test_an_investor_cannot_switch_to_an_admin_page(make: Any) -> None:
    person = make.user("investor")
    at = log_in(app(), person.username, PASSWORD)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin_users.py")
    # A hand-typed URL: request the admin page by the hash its URL path would have.
    at._page_hash = calc_hash("admin_users")
    at.run()
    assert not at.exception
    assert "Users" not in titles(at)
    assert "Audit log" not in titles(at)
    assert logged_in_as(at).role == "investor"
    # A page of their own is reachable the same way.
    at.switch_page("pages/investor_open_pools.py").run()
    assert "Open pools" in titles(at)


@pytest.mark.parametrize(
    ("page", "allowed", "title"),
    [
        ("pages/admin_users.py", "admin", "Users"),
        ("pages/admin_audit.py", "admin", "Audit log"),
        ("pages/manager_pools.py", "fund_manager", "My pools"),
        ("pages/analyst_explorer.py", "analyst", "Explorer"),
        ("pages/investor_open_pools.py", "investor", "Open pools"),
    ],
)
def test_each_page_checks_the_role_itself(make: Any, page: str, allowed: str, title: str) -> None:
    for role in PAGES:
        actor = make.user(role)
        at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
        at.session_state["actor"] = actor
        at.run()
        if role == allowed:
            # The control case: the page gets past its role check. What it shows next is the
            # page's own business (and its own tests'), so only the check is asserted here.
            assert title in titles(at)
            assert NOT_AVAILABLE not in errors(at)
        else:
            assert not at.exception, (role, at.exception)
            assert errors(at) == [NOT_AVAILABLE], (page, role)
            assert title not in titles(at)
    # Nobody logged in at all.
    at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()
    assert errors(at) == [NOT_AVAILABLE]


def test_the_re_login_cookie_can_be_turned_off(make: Any, environment: Any, monkeypatch: Any) -> None:
    """COOKIE_EXPIRY_DAYS=0 (docs/security.md): a valid re-login cookie is neither written nor honoured."""
    import streamlit_authenticator.models.cookie_model as cookie_model

    person = make.user("investor")
    honoured = {"username": person.username, "exp_date": datetime.now(UTC).timestamp() + 3600}
    monkeypatch.setattr(cookie_model.CookieModel, "get_cookie", lambda self: honoured)
    at = app()
    assert logged_in_as(at) == Actor(person.user_id, "investor", person.username)  # cookie on: signed in
    environment(COOKIE_EXPIRY_DAYS="0")
    at = app()
    assert logged_in_as(at) is None and "Password" in [t.label for t in at.text_input]
