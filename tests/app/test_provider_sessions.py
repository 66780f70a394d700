"""Provider sign-in, invites and idle sessions through the real app (AppTest from Home.py).

AppTest seeds st.user from `at.user` as Streamlit does from the provider's identity cookie, so a
provider session is an AppTest whose user is {"is_logged_in": True, "email": ..., ...}; the
provider round trip itself (st.login, the cookie, st.logout) is driven in Chromium by
tests/e2e/test_oidc.py. OIDC is configured by the OIDC_* variables, as in production.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from app.webapp import PAGES
from core import settings as settings_module
from core.permissions import Actor
from core.services import users

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"  # the Factory's default
TIMEOUT = 60
PROVIDER = "Example ID"
SIGN_IN = f"Sign in with {PROVIDER}"
EXPIRED = "signed out after"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


@pytest.fixture(autouse=True)
def server_after_first_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a running server has it (see tests/app/test_login_navigation.py)."""
    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings_module.settings.cache_clear()


@pytest.fixture
def oidc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """OIDC configured through the environment. Nothing here talks to the provider: the
    metadata URL is only read by Streamlit's login route, which AppTest does not run."""
    from streamlit.runtime.secrets import secrets_singleton

    configure(
        monkeypatch,
        OIDC_CLIENT_ID="investment-pools",
        OIDC_CLIENT_SECRET=secrets.token_urlsafe(16),
        OIDC_SERVER_METADATA_URL="http://127.0.0.1:9/.well-known/openid-configuration",
        OIDC_REDIRECT_URI="http://127.0.0.1:8501/oauth2callback",
        OIDC_PROVIDER_NAME=PROVIDER,
    )
    yield
    monkeypatch.undo()
    settings_module.settings.cache_clear()
    # The app installed an [auth] section in this process's Streamlit secrets; take it out again.
    secrets_singleton._programmatic_secrets = None
    secrets_singleton._reset()


def app(user: dict[str, Any] | None = None) -> AppTest:
    """A new session of the app; `user` is what the provider's cookie would hold."""
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT)
    if user is not None:
        at.user = user
    return at.run()


def provider_user(email: str, *, verified: object = True, iat: float | None = None) -> dict[str, Any]:
    return {
        "is_logged_in": True,
        "email": email,
        "email_verified": verified,
        "name": "Someone",
        "sub": secrets.token_hex(8),
        "iat": int(iat if iat is not None else time.time()),
    }


def log_in(username: str, password: str = PASSWORD) -> AppTest:
    at = app()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return [b for b in at.button if b.label == "Login"][0].click().run()


def reload(at: AppTest) -> AppTest:
    """The next request of the same session, through the router."""
    at._page_hash = at._finished_page_script_hash = ""
    return at.run()


def actor(at: AppTest) -> Actor | None:
    try:
        return at.session_state["actor"]
    except KeyError:
        return None


def registered(at: AppTest) -> list[str]:
    paths = [info.get("script_path") for info in at._registered_pages.values()]
    return [Path(str(p)).resolve().relative_to(ROOT).as_posix() for p in paths if p]


def role_pages(at: AppTest) -> list[str]:
    return [p for p in registered(at) if p.startswith("pages/")]


def buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def shown(markdown: str) -> str:
    """The text a message shows: user text in it is markdown-escaped (app.textsafe.md)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def warnings_(at: AppTest) -> list[str]:
    return [shown(w.value) for w in at.warning]


def audit_rows(uow_factory: Any, action: str, object_id: object) -> list[tuple[Any, ...]]:
    with uow_factory() as uow:
        return [
            tuple(r)
            for r in uow.session.execute(
                text("SELECT actor_id, outcome, reason FROM audit_log WHERE action = :a AND object_id = :o"),
                {"a": action, "o": str(object_id)},
            )
        ]


def invite(make: Any, uow_factory: Any, role: str, email: str | None = None) -> users.UserView:
    admin = make.user("admin")
    with uow_factory() as uow:
        return users.invite_user(admin, uow, email or f"p.{secrets.token_hex(4)}@example.org", role=role)


def set_last_seen(uow_factory: Any, user_id: int, ago: timedelta) -> None:
    with uow_factory() as uow:
        users.record_activity(uow, user_id, datetime.now(UTC) - ago)


# --- the login page shows both ways in ------------------------------------------------------------


def test_without_oidc_settings_only_the_local_form_shows() -> None:
    at = app()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert not [b for b in buttons(at) if b.startswith("Sign in with")]


def test_with_oidc_settings_the_provider_button_shows_beside_the_form(oidc: None) -> None:
    at = app()
    assert not at.exception
    assert SIGN_IN in buttons(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert "Login" in buttons(at)


# --- provider sessions: matched by verified email, roles from the database --------------------------


@pytest.mark.parametrize("role", list(PAGES))
def test_an_invited_user_signs_in_through_the_provider_with_their_role(
    oidc: None, make: Any, uow_factory: Any, role: str
) -> None:
    person = invite(make, uow_factory, role)
    at = app(provider_user(person.email.upper()))  # the provider's spelling of the address
    assert not at.exception, at.exception
    assert actor(at) == Actor(person.id, role, person.username)
    assert role_pages(at) == [spec.path for spec in PAGES[role]]
    assert any(person.username in shown(c.value) for c in at.sidebar.caption)
    assert audit_rows(uow_factory, "login.provider", person.id) == [(person.id, "ok", None)]
    reload(at)  # the next interaction: still signed in, audited once
    assert actor(at) == Actor(person.id, role, person.username)
    assert audit_rows(uow_factory, "login.provider", person.id) == [(person.id, "ok", None)]


def test_an_uninvited_email_is_refused_and_audited(oidc: None, uow_factory: Any) -> None:
    email = f"stranger.{secrets.token_hex(4)}@example.org"
    at = app(provider_user(email))
    assert not at.exception
    assert actor(at) is None and role_pages(at) == []
    assert any(f"no active account for {email}" in e and "invite" in e for e in errors(at)), errors(at)
    assert f"Sign out of {PROVIDER}" in buttons(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"], "the local form stays"
    at.run()
    assert actor(at) is None
    [(actor_id, outcome, reason)] = audit_rows(uow_factory, "login.provider", email)
    assert (actor_id, outcome) == (None, "refused") and email in reason


def test_an_unverified_email_is_refused_even_for_an_invited_user(
    oidc: None, make: Any, uow_factory: Any
) -> None:
    person = invite(make, uow_factory, "admin")
    at = app(provider_user(person.email, verified=False))
    assert actor(at) is None and role_pages(at) == []
    assert any("has not verified" in e for e in errors(at)), errors(at)
    assert [r[1] for r in audit_rows(uow_factory, "login.provider", person.email)] == ["refused"]


def test_a_provider_session_is_ignored_when_oidc_is_not_configured(make: Any, uow_factory: Any) -> None:
    person = invite(make, uow_factory, "admin")
    at = app(provider_user(person.email))
    assert actor(at) is None and role_pages(at) == []


def test_a_role_change_reaches_a_provider_session_on_its_next_interaction(
    oidc: None, make: Any, uow_factory: Any
) -> None:
    person = invite(make, uow_factory, "investor")
    admin = make.user("admin")
    at = app(provider_user(person.email))
    assert role_pages(at) == [spec.path for spec in PAGES["investor"]]
    with uow_factory() as uow:
        users.set_role(admin, uow, person.id, "analyst")
    reload(at)
    assert not at.exception
    assert actor(at) == Actor(person.id, "analyst", person.username)
    assert role_pages(at) == [spec.path for spec in PAGES["analyst"]]
    assert [t.value for t in at.title] == ["Explorer"]


def test_a_deactivation_reaches_a_provider_session_on_its_next_interaction(
    oidc: None, make: Any, uow_factory: Any
) -> None:
    person = invite(make, uow_factory, "fund_manager")
    admin = make.user("admin")
    at = app(provider_user(person.email))
    assert actor(at) is not None
    with uow_factory() as uow:
        users.set_active(admin, uow, person.id, False)
    reload(at)
    assert actor(at) is None and role_pages(at) == []
    assert "My pools" not in [t.value for t in at.title]
    assert any("no active account" in e for e in errors(at)), errors(at)


def test_logging_out_of_a_provider_session_ends_it(oidc: None, make: Any, uow_factory: Any) -> None:
    person = invite(make, uow_factory, "analyst")
    at = app(provider_user(person.email))
    assert actor(at) is not None
    [logout] = [b for b in at.sidebar.button if b.label == "Log out"]
    at = logout.click().run()
    assert not at.exception
    assert at.user.get("is_logged_in") is False, "st.logout() cleared the provider identity"
    assert actor(at) is None
    # The run stops there so that the browser follows st.logout()'s redirect to the provider; it
    # comes back to the app's login page (AppTest does not redirect: the next run shows it).
    at = at.run()
    assert not at.exception
    assert actor(at) is None and role_pages(at) == []
    assert SIGN_IN in buttons(at)


# --- the admin's invite form ------------------------------------------------------------------------


def test_an_admin_invites_through_the_users_page_and_the_invitee_signs_in(
    oidc: None, make: Any, uow_factory: Any
) -> None:
    admin = make.user("admin")
    at = log_in(admin.username)
    email = f"New.Manager.{secrets.token_hex(3)}@Example.org"
    at.text_input(key="invite-email").input(email)
    at.text_input(key="invite-name").input("Nia Manager")
    at.selectbox(key="invite-role").select("fund_manager")
    at = [b for b in at.button if b.label == "Invite"][0].click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any(f"Invited {email} as fund manager" in shown(s.value) for s in at.success)

    # The same address again, in another case: refused on the page, audited.
    at.text_input(key="invite-email").input(email.lower())
    at.selectbox(key="invite-role").select("admin")
    at = [b for b in at.button if b.label == "Invite"][0].click().run()
    assert errors(at) == ["Email already belongs to a user"]
    assert [r[1] for r in audit_rows(uow_factory, "user.invite", email.lower())] == ["refused"]

    theirs = app(provider_user(email.lower()))
    assert actor(theirs) is not None and actor(theirs).role == "fund_manager"
    assert role_pages(theirs) == [spec.path for spec in PAGES["fund_manager"]]


def test_only_admins_reach_the_invite_form(make: Any) -> None:
    at = log_in(make.user("fund_manager").username)
    at.switch_page("pages/manager_pools.py").run()
    assert not [t for t in at.text_input if t.key == "invite-email"]


# --- idle sessions ----------------------------------------------------------------------------------


def test_an_idle_local_session_is_signed_out_on_its_next_interaction(make: Any, uow_factory: Any) -> None:
    person = make.user("investor")
    at = log_in(person.username)
    assert actor(at) is not None
    at.session_state["_last_seen"] = time.time() - 29 * 60  # idle, but under the default 30 minutes
    reload(at)
    assert actor(at) is not None and not warnings_(at)
    at.session_state["_last_seen"] = time.time() - 31 * 60
    reload(at)
    assert not at.exception
    assert actor(at) is None and role_pages(at) == []
    assert any(EXPIRED in w and "30 minutes" in w for w in warnings_(at)), warnings_(at)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [r[1] for r in audit_rows(uow_factory, "session.expired", person.user_id)] == ["ok"]
    reload(at)  # still signed out, and audited once
    assert actor(at) is None
    assert len(audit_rows(uow_factory, "session.expired", person.user_id)) == 1

    at = log_in(person.username)  # signing in again starts a new clock
    assert actor(at) is not None and not warnings_(at)


def test_the_idle_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    configure(monkeypatch, SESSION_IDLE_MINUTES="2")
    try:
        person = make.user("analyst")
        at = log_in(person.username)
        at.session_state["_last_seen"] = time.time() - 100
        reload(at)
        assert actor(at) is not None
        at.session_state["_last_seen"] = time.time() - 130
        reload(at)
        assert actor(at) is None
        assert any("2 minutes" in w for w in warnings_(at)), warnings_(at)
    finally:
        monkeypatch.undo()
        settings_module.settings.cache_clear()


def test_an_idle_provider_session_is_signed_out_and_may_sign_in_again(
    oidc: None, make: Any, uow_factory: Any
) -> None:
    person = invite(make, uow_factory, "investor")
    at = app(provider_user(person.email))
    assert actor(at) is not None
    at.session_state["_last_seen"] = time.time() - 31 * 60
    reload(at)
    assert actor(at) is None and role_pages(at) == []
    assert any(EXPIRED in w for w in warnings_(at)), warnings_(at)
    assert SIGN_IN in buttons(at), "a fresh sign-in through the provider is offered"
    reload(at)
    assert actor(at) is None, "the provider's cookie alone does not bring the session back"


def test_a_new_session_continues_the_idle_clock_from_the_database(
    oidc: None, make: Any, uow_factory: Any
) -> None:
    """A reload or new tab (the provider's cookie still there) does not reset the clock; a fresh
    sign-in at the provider does."""
    person = invite(make, uow_factory, "analyst")
    long_ago = time.time() - 3 * 3600
    set_last_seen(uow_factory, person.id, timedelta(minutes=45))
    at = app(provider_user(person.email, iat=long_ago))
    assert actor(at) is None
    assert any(EXPIRED in w for w in warnings_(at)), warnings_(at)
    assert audit_rows(uow_factory, "login.provider", person.id) == []

    set_last_seen(uow_factory, person.id, timedelta(minutes=10))
    at = app(provider_user(person.email, iat=long_ago))
    assert actor(at) is not None, "active ten minutes ago (in another tab, say): still signed in"

    set_last_seen(uow_factory, person.id, timedelta(hours=2))
    at = app(provider_user(person.email))  # signed in at the provider just now
    assert actor(at) is not None
