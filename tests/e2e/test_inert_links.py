"""User text that looks like a link stays text in Chromium: a pool named with a bare URL, a "www."
address and a markdown link, shown on the demo manager's pages of that pool (the
card on My pools and its close question, the pool form's title, Commitments, Capital calls,
Dashboard). Streamlit's markdown turns bare URLs and www. addresses into live links after it has
parsed the text (GFM autolink literals work on the unescaped text), so backslash escapes alone
do not stop them; whatever the app does instead, the browser must draw no link to the address."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.permissions import Actor
from core.services import commitments, pools
from core.uow import UnitOfWork
from db.models import User
from db.session import engine_for
from tests.conftest import Factory
from tests.e2e.conftest import log_in, settled

pytestmark = pytest.mark.e2e

EVIL = 'a[href*="evil.example" i]'
INVISIBLE = "\u2060\u200b\u200c\u200d"  # what the page may put between characters to keep text inert


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def uow(database_url: str) -> UnitOfWork:
    return UnitOfWork(engine_for(database_url))


def actor(database_url: str, username: str, role: str) -> Actor:
    with uow(database_url) as unit:
        return Actor(
            unit.session.execute(select(User.id).where(User.username == username)).scalar_one(),
            role,
            username,
        )


def linky_pool(database_url: str) -> tuple[int, str]:
    """An open pool of the demo manager's, named with every kind of link text, with one accepted and
    one pending commitment (so the investors' names and the figures show too)."""
    name = (
        f"Pay https://evil.example/pay or www.evil.example "
        f"[Pay here](https://evil.example) HTTP://EVIL.EXAMPLE/X {secrets.token_hex(3)}"
    )
    manager = actor(database_url, "manager", "fund_manager")
    with uow(database_url) as unit:
        pool_id = pools.create_pool(manager, unit, Factory.terms(name=name, max_ticket="500000"))
    with uow(database_url) as unit:
        pools.open_pool(manager, unit, pool_id)
    for username, amount in (("investor2", "200000"), ("investor3", "100000")):
        with uow(database_url) as unit:
            commitment = commitments.submit_commitment(
                actor(database_url, username, "investor"), unit, pool_id, amount
            )
        if username == "investor2":
            with uow(database_url) as unit:
                commitments.accept_commitment(manager, unit, commitment)
    return pool_id, name


def shown_text(page) -> str:  # noqa: ANN001
    """What the main area reads as: its text and the values its inputs show (the pool picker)."""
    main = page.get_by_test_id("stMain")
    values = main.evaluate("m => Array.from(m.querySelectorAll('input')).map(i => i.value).join('\\n')")
    return f"{main.inner_text()}\n{values}".translate({ord(c): None for c in INVISIBLE})


def assert_inert(page, name: str, where: str) -> None:  # noqa: ANN001
    """The name is on the page, in full and as typed, and no link to its addresses exists."""
    settled(page)
    deadline = time.monotonic() + 60
    while name not in shown_text(page):  # a page may rerun once more as it settles
        assert time.monotonic() < deadline, f"{where}: the pool's name is not shown as typed"
        time.sleep(0.5)
    links = page.locator(EVIL)
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert not hrefs, f"{where}: live links {hrefs}"


def test_a_pool_named_with_links_shows_no_link_on_its_pages(
    page, app_url: str, app_env: dict[str, str]
) -> None:  # noqa: ANN001
    pool_id, name = linky_pool(app_env["DATABASE_URL"])
    log_in(page, app_url, "manager")
    page.get_by_role("heading", name="My pools", level=1).wait_for()
    assert_inert(page, name, "My pools")

    # The close question names the pool in markdown.
    page.locator(f".st-key-close-{pool_id}-ask button").click()
    expect(page.get_by_role("button", name="Yes, close it")).to_be_visible()
    assert_inert(page, name, "the close question")
    page.locator(f".st-key-close-{pool_id}-no button").click()
    settled(page)

    # The card's buttons (keyed by the pool's id) lead to the pool's other pages.
    for key, heading in (("pages-manager_commitments-py", "Commitments"), ("dash", "Pool dashboard")):
        page.get_by_role("heading", name="My pools", level=1).wait_for()
        page.locator(f".st-key-{key}-{pool_id} button").click()
        page.get_by_role("heading", name=heading, level=1).wait_for()
        assert_inert(page, name, heading)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="My pools").click()

    page.get_by_role("heading", name="My pools", level=1).wait_for()
    page.locator(f".st-key-date-{pool_id} button").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit")
    assert_inert(page, name, "the pool form")
