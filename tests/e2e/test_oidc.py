"""Sign-in through an OpenID Connect provider, end to end: Chromium, the app as `make run` starts it
(configured by the OIDC_* variables), and a real OpenID provider on loopback (oidc-provider-mock,
whose login form lets the test pick the identity). The seeded database of the other journeys.

An invited user signs in and lands on their role's pages; an uninvited one, or one whose email the
provider has not verified, is refused; logout ends the session at the app and the provider.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from core.permissions import Actor
from core.services import users
from tests.e2e.conftest import _free_port, running_app
from tests.platform_seed import use_database

pytestmark = pytest.mark.e2e
PROVIDER = "Mock ID"


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[str]:
    """The OpenID provider, in a thread of this process, on loopback."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def provider_identity(provider: str, email: str, *, verified: bool = True) -> str:
    """Register an identity at the provider; the subject is what the login form is given."""
    sub = f"sub-{secrets.token_hex(6)}"
    response = httpx.put(
        f"{provider}/users/{quote(sub)}",
        json={"email": email, "email_verified": verified, "name": "E2E Person"},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    return sub


@pytest.fixture(scope="module")
def oidc_app(app_env: dict[str, str], oidc_provider: str) -> Iterator[str]:
    """Streamlit with sign-in through the provider, on a free port of its own."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **app_env,
        "OIDC_CLIENT_ID": "investment-pools-e2e",
        "OIDC_CLIENT_SECRET": secrets.token_urlsafe(24),
        "OIDC_SERVER_METADATA_URL": f"{oidc_provider}/.well-known/openid-configuration",
        "OIDC_REDIRECT_URI": f"{url}/oauth2callback",
        "OIDC_COOKIE_SECRET": secrets.token_urlsafe(40),
        "OIDC_PROVIDER_NAME": PROVIDER,
    }
    with running_app(env, "e2e-oidc-app.log", worker=False, port=port) as started:
        yield started


@pytest.fixture
def page(browser: Any, oidc_app: str, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    context.close()


def invite(app_env: dict[str, str], email: str, role: str) -> users.UserView:
    """The seeded admin invites the address, through the service, in the app's database."""
    from core import bootstrap

    with use_database(app_env["DATABASE_URL"]):
        with bootstrap.unit_of_work() as uow:
            record = users.login_record(uow, "admin")
            assert record is not None
            admin = Actor(record.id, record.role, record.username)
        with bootstrap.unit_of_work() as uow:
            return users.invite_user(admin, uow, email, role=role, name="E2E Person")


def sign_in_at_provider(page: Any, app_url: str, sub: str) -> None:
    """The login page's provider button, then the provider's form, as a person does."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(app_url)
    provider_form = page.get_by_role("heading", name="Authorize Client")
    # As with the login form (conftest.log_in): a rerun of the login page may swallow the click;
    # a person presses the button again.
    for _ in range(4):
        with contextlib.suppress(PlaywrightTimeout):  # the button is gone: the last click got through
            page.get_by_role("button", name=f"Sign in with {PROVIDER}").click(timeout=10_000)
        try:
            provider_form.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            continue
    provider_form.wait_for()
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_an_invited_user_signs_in_through_the_provider_and_logs_out(
    page: Any, oidc_app: str, oidc_provider: str, app_env: dict[str, str]
) -> None:
    email = f"E2E.Investor.{secrets.token_hex(3)}@Example.org"
    invited = invite(app_env, email, "investor")
    # The provider spells the address in lower case: matched case-insensitively.
    sub = provider_identity(oidc_provider, email.lower())

    sign_in_at_provider(page, oidc_app, sub)
    page.get_by_text(f"Signed in as {invited.username}").wait_for()
    page.get_by_role("heading", name="Portfolio").wait_for()  # the investor's default page
    assert page.url.startswith(oidc_app)
    # Their role's pages and no other's.
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Capital calls").wait_for()
    assert sidebar.get_by_text("Users", exact=True).count() == 0

    page.get_by_role("button", name="Log out").click()
    # The provider's end-session page (RP-initiated logout), then back to the app's login page.
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Login").wait_for()
    page.get_by_role("button", name=f"Sign in with {PROVIDER}").wait_for()
    assert page.get_by_text("Signed in as").count() == 0

    # The session is gone for good: a reload does not bring it back.
    page.goto(oidc_app)
    page.get_by_role("button", name="Login").wait_for()
    assert page.get_by_text("Signed in as").count() == 0


def test_an_uninvited_email_is_refused(page: Any, oidc_app: str, oidc_provider: str) -> None:
    email = f"stranger.{secrets.token_hex(3)}@example.org"
    sub = provider_identity(oidc_provider, email)

    sign_in_at_provider(page, oidc_app, sub)
    page.get_by_text(f"There is no active account for {email}").wait_for()
    assert page.get_by_text("Signed in as").count() == 0
    assert page.get_by_role("heading", name="Portfolio").count() == 0
    # They may leave the provider session and use another account (or the local form).
    page.get_by_role("button", name=f"Sign out of {PROVIDER}").wait_for()
    page.get_by_role("button", name="Login").wait_for()


def test_an_unverified_email_is_refused_even_when_invited(
    page: Any, oidc_app: str, oidc_provider: str, app_env: dict[str, str]
) -> None:
    email = f"unverified.{secrets.token_hex(3)}@example.org"
    invite(app_env, email, "admin")
    sub = provider_identity(oidc_provider, email, verified=False)

    sign_in_at_provider(page, oidc_app, sub)
    page.get_by_text("has not verified the email address").wait_for()
    assert page.get_by_text("Signed in as").count() == 0
