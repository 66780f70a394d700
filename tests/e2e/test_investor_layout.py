"""Every investor page in Chromium at 1400 and 1024 px wide, on the demo: a screenshot of each is kept
with the test's files (pytest's tmp_path), and at 1400 px no table scrolls sideways, so no column
(RVPI, IRR, Room, NAV effect) is hidden off-screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import log_in, settled

pytestmark = pytest.mark.e2e

PAGES = ("Portfolio", "Pool detail", "Open pools", "Capital calls", "Statements")
# For each table on the page: how far its grid scrolls sideways (0: every column is in view).
OVERFLOW = """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"]')).map(table => {
    const scroller = table.querySelector('.dvn-scroller');
    return scroller === null ? null : scroller.scrollWidth - scroller.clientWidth;
})"""


def visit(page, title: str) -> None:  # noqa: ANN001 - a Playwright page
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    settled(page)


def shoot(page, app_url: str, tmp_path: Path, width: int) -> dict[str, list[int]]:  # noqa: ANN001
    """Visit every investor page at this width, every expander open; a screenshot of each; per page,
    how far each table scrolls sideways."""
    page.set_default_timeout(90_000)
    page.set_viewport_size({"width": width, "height": 1000})
    log_in(page, app_url, "investor")
    scrolls = {}
    for title in PAGES:
        visit(page, title)
        for summary in page.locator('[data-testid="stExpander"] summary').all():
            summary.click()
        tables = page.get_by_test_id("stDataFrame")
        for index in range(tables.count()):
            tables.nth(index).locator(".dvn-scroller").wait_for()
        page.screenshot(path=str(tmp_path / f"investor-{title.lower().replace(' ', '-')}-{width}.png"))
        widths = page.evaluate(OVERFLOW)
        assert widths and None not in widths or not widths, f"{title}: a table without its grid: {widths}"
        scrolls[title] = widths
    return scrolls


def test_no_investor_table_scrolls_sideways_at_1400_px(page, app_url: str, tmp_path: Path) -> None:  # noqa: ANN001
    scrolls = shoot(page, app_url, tmp_path, 1400)
    overflowing = {title: widths for title, widths in scrolls.items() if any(w > 1 for w in widths)}
    assert not overflowing, f"tables scroll sideways at 1400 px: {overflowing} (screenshots in {tmp_path})"
    assert sum(len(widths) for widths in scrolls.values()) >= 8  # every page's tables were measured


def test_every_investor_page_at_1024_px_is_kept_as_a_screenshot(page, app_url: str, tmp_path: Path) -> None:  # noqa: ANN001
    shoot(page, app_url, tmp_path, 1024)
    assert len(list(tmp_path.glob("investor-*-1024.png"))) == len(PAGES)
