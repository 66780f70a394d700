"""The app starts as `make run` starts it, and a person can log in and out."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def test_investor_logs_in_and_out(page, app_url):
    log_in(page, app_url, "investor")
    expect(page.get_by_role("heading", name="Portfolio")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Login")).to_be_visible()
    expect(page.get_by_role("heading", name="Portfolio")).to_have_count(0)


def test_wrong_password_is_refused(page, app_url):
    page.goto(app_url)
    page.get_by_role("textbox", name="Username").fill("analyst")
    page.get_by_role("textbox", name="Password").fill("not-the-password")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_text("Username or password is incorrect")).to_be_visible()
    expect(page.get_by_text("Signed in as analyst")).to_have_count(0)
