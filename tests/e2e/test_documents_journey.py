"""The Documents journeys in Chromium against the running app (Streamlit + a worker, demo data).

1. The worker has rendered the demo's capital call notices (mail is off: they are kept in the app);
   the investor opens Documents, sees the unread notices, chooses one and downloads it. The PDF holds
   the investor's figures as the ledger has them; the download is audited and marks it read.
2. The manager issues a capital call and sees who was notified: each investor, first being prepared,
   then kept in the app once the worker has rendered the notices; one is reissued with a note.
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select, text

from app.webapp import PAGES
from core.permissions import Actor
from core.services import pools
from core.uow import UnitOfWork
from db.models import AuditLog, CallItem, CapitalCall, Notice, Pool, User
from db.session import engine_for
from tests.conftest import Factory
from tests.e2e.conftest import choose, log_in, open_select
from tests.workers import wait_until

pytestmark = pytest.mark.e2e
DOCUMENTS = "pages/investor_documents.py"


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def uow(database_url: str) -> UnitOfWork:
    return UnitOfWork(engine_for(database_url))


def growth_call_3(database_url: str) -> tuple[int, Decimal, Decimal, Decimal]:
    """The demo investor's notice of Growth SPV 2024's third call (unpaid in the demo), with the item's
    amount and, by hand from the entries, their commitment and capital called as of the call date."""
    with uow(database_url) as unit:
        notice_id, due, call_date, pool_id, investor_id = unit.session.execute(
            select(Notice.id, CallItem.amount_due, CapitalCall.call_date, Pool.id, User.id)
            .join(CallItem, CallItem.id == Notice.call_item_id)
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .join(Pool, Pool.id == CapitalCall.pool_id)
            .join(User, User.id == Notice.investor_id)
            .where(
                Pool.name == "Growth SPV 2024",
                CapitalCall.number == 3,
                User.username == "investor",
                Notice.kind == "capital_call",
            )
        ).one()
        committed, called = (
            unit.session.execute(
                text(
                    """SELECT coalesce(sum(CASE e.side WHEN :side THEN e.amount ELSE -e.amount END), 0)
                         FROM entries e JOIN journals j ON j.id = e.journal_id
                        WHERE e.pool_id = :pool AND e.investor_id = :investor AND j.kind = :kind
                          AND e.account = :account AND j.effective_date <= :day"""
                ),
                {"pool": pool_id, "investor": investor_id, "day": call_date, **where},
            ).scalar_one()
            for where in (
                {"kind": "commitment", "account": "commitment", "side": "C"},
                {"kind": "capital_call", "account": "receivable", "side": "D"},
            )
        )
    return notice_id, due, committed, called


def test_the_investor_opens_documents_and_downloads_their_notice(  # noqa: ANN001
    page, app_url: str, app_env: dict[str, str], tmp_path: Path
) -> None:
    assert DOCUMENTS in [spec.path for spec in PAGES["investor"]], (
        'add PageSpec("pages/investor_documents.py", "Documents", ":material/folder_open:") to '
        'app.webapp.PAGES["investor"]'
    )
    database_url = app_env["DATABASE_URL"]
    notice_id, due, committed, called = growth_call_3(database_url)

    def rendered() -> bool:  # by the app's worker, from the outbox the demo's calls wrote
        with uow(database_url) as unit:
            return unit.session.get(Notice, notice_id).status == "in_app"

    wait_until(rendered, 120, what="the demo's notices to be rendered by the app's worker")
    page.set_default_timeout(90_000)
    log_in(page, app_url, "investor")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Documents").click()
    page.get_by_role("heading", name="Documents", level=1).wait_for()
    expect(page.get_by_role("heading", name=re.compile(r"^Inbox, [0-9]+ unread notices?$"))).to_be_visible()

    open_select(page, "Notice to open")
    page.get_by_role(
        "option", name=re.compile(r"^● Capital call notice: capital call 3 · Growth SPV 2024 · ")
    ).click()
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download the notice (PDF)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".pdf" and "Growth SPV 2024" in path.name
    shown = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)
    assert "Capital call notice" in shown and "Ivy Investor" in shown
    assert f"Total due ${due:,.2f}" in shown
    assert f"Commitment ${committed:,.2f} ${committed:,.2f}" in shown
    assert f"Capital called to date ${called - due:,.2f} ${called:,.2f}" in shown
    assert f"Unfunded commitment ${committed - called + due:,.2f} ${committed - called:,.2f}" in shown

    with uow(database_url) as unit:
        notice = unit.session.get(Notice, notice_id)
        audited = (
            unit.session.execute(
                select(AuditLog.object_id)
                .join(User, User.id == AuditLog.actor_id)
                .where(
                    User.username == "investor",
                    AuditLog.action == "document.download",
                    AuditLog.outcome == "ok",
                )
            )
            .scalars()
            .all()
        )
        read, document_id = notice.read_at, notice.document_id
    assert read is not None and str(document_id) in audited
    # The next look at the page no longer marks it new.
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Portfolio").click()
    page.get_by_role("heading", name="Portfolio", level=1).wait_for()
    nav.get_by_role("link", name="Documents").click()
    page.get_by_role("heading", name="Documents", level=1).wait_for()
    open_select(page, "Notice to open")
    expect(
        page.get_by_role(
            "option", name=re.compile(r"^Capital call notice: capital call 3 · Growth SPV 2024 · ")
        )
    ).to_be_visible()


def closed_pool_of_the_demo_manager(database_url: str, name: str) -> list[str]:
    """A pool of the demo manager's, closed with two new investors' commitments (not the demo
    investors: their pages stay as the other journeys expect them); the investors' names."""
    with uow(database_url) as unit:
        manager_id = unit.session.execute(select(User.id).where(User.username == "manager")).scalar_one()
    manager = Actor(manager_id, "fund_manager", "manager")
    make = Factory(lambda: uow(database_url))
    pool_id, _ = make.pool(manager, name=name)
    investors = [make.commitment(pool_id, amount=a, accept_as=manager)[1] for a in ("100000", "300000")]
    with uow(database_url) as unit:
        pools.close_pool(manager, unit, pool_id)
    return sorted(f"Test {person.username}" for person in investors)


def test_the_manager_issues_a_call_and_sees_who_was_notified(  # noqa: ANN001
    page, app_url: str, app_env: dict[str, str]
) -> None:
    database_url = app_env["DATABASE_URL"]
    name = f"Notices Fund {secrets.token_hex(3)}"
    investors = closed_pool_of_the_demo_manager(database_url, name)
    page.set_default_timeout(90_000)
    log_in(page, app_url, "manager")
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Capital calls").click()
    page.get_by_role("heading", name="Capital calls", level=1).wait_for()
    choose(page, "Pool", f"{name} (closed)")
    page.get_by_role("textbox", name="Percentage of commitments").fill("10")
    page.get_by_role("textbox", name="Purpose").fill("Series A notices")
    page.get_by_role("button", name="Preview the call").click()
    page.get_by_text(re.compile(r"\$40,000\.00 from 2 investors")).first.wait_for()
    page.get_by_role("button", name="Issue this call", exact=True).click()
    yes, issued = (
        page.get_by_role("button", name="Yes, issue the call"),
        page.get_by_text("Capital call 1 (Series A notices) is issued"),
    )
    yes.click()
    try:
        issued.wait_for(timeout=30_000)
    except PlaywrightTimeout:
        # Still asked half a minute on (a click lost in a rerun on a loaded machine): a person
        # clicks again. The request is its own idempotency key: one call either way (the two
        # notices below, not four, say so).
        if yes.is_visible():
            yes.click()
        issued.wait_for()

    # Who was notified: both investors, as soon as the call is posted; then, once the app's worker
    # has rendered the notices (mail is off here), kept in the app.
    page.get_by_text("Calls and payments", exact=True).click()
    page.get_by_text("Who was notified of Capital call 1 (Series A notices)").wait_for()
    cells = page.get_by_test_id("stDataFrame").locator('td[role="gridcell"]')
    for investor in investors:
        expect(cells.filter(has_text=investor).first).to_be_attached()

    def rendered() -> bool:
        page.get_by_text("By investor", exact=True).click()
        page.get_by_text("Calls and payments", exact=True).click()
        page.get_by_text("Who was notified of Capital call 1 (Series A notices)").wait_for()
        return cells.filter(has_text=re.compile(r"^In the app only$")).count() == 2

    wait_until(rendered, 120, what="the call's notices to show as kept in the app")
    page.get_by_text(re.compile(r"^2 notices: 2 in the app only; 0 opened")).wait_for()
    with uow(database_url) as unit:
        statuses = (
            unit.session.execute(
                select(Notice.status)
                .join(Pool, Pool.id == Notice.pool_id)
                .where(Pool.name == name, Notice.kind == "capital_call")
            )
            .scalars()
            .all()
        )
    assert statuses == ["in_app", "in_app"]

    # Reissue one of them with a note: asked first, then said; the reissue is listed with its note.
    # The expander is opened if it is closed (a rerun may have drawn it again, closed, meanwhile).
    closed = (
        page.get_by_test_id("stExpander")
        .filter(has_text="Reissue a notice")
        .locator("details:not([open]) summary")
    )
    for attempt in range(3):
        if closed.count():
            closed.first.click()
        try:
            choose(page, "Notice", f"{investors[0]}: Capital call notice", tries=1)
            break
        except PlaywrightError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    page.get_by_role("textbox", name="Note").fill("Corrected wire instructions")
    page.get_by_role("textbox", name="Note").press("Enter")
    page.get_by_role("button", name="Reissue", exact=True).click()
    page.get_by_text(f"Reissue the capital call notice to {investors[0]}").wait_for()
    page.get_by_role("button", name="Yes, reissue it").click()
    page.get_by_text("is reissued with your note").wait_for()
    expect(cells.filter(has_text="Corrected wire instructions").first).to_be_attached()
