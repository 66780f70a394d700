"""The analyst's pages before there is anything to chart: each empty state says what would fill it,
never an empty chart with axes from -1 to 6 (issue 15). A platform of its own, so "nothing" is
knowable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from streamlit.testing.v1 import AppTest

from core.permissions import Actor
from core.services import users
from tests.conftest import Factory
from tests.platform_seed import unreadable, use_database

ROOT = Path(__file__).parents[2]


@pytest.fixture
def lonely(fresh_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Factory]:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )
    with use_database(fresh_database):
        from core import bootstrap

        yield Factory(bootstrap.unit_of_work)


def page(name: str, analyst: Actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    at.session_state["actor"] = analyst
    at.run()
    assert not at.exception, at.exception
    return at


def infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


def test_an_empty_platform_says_what_would_fill_it(lonely: Factory) -> None:
    analyst = lonely.user("analyst")
    explorer = page("analyst_explorer.py", analyst)
    assert [m.value for m in explorer.metric if m.label == "Pools"] == ["0 pools"]
    assert any(i.startswith("No pool matches these filters") for i in infos(explorer))
    assert not explorer.get("plotly_chart") and unreadable(explorer) == []
    compare = page("analyst_compare.py", analyst)
    assert any(i.startswith("Pick up to 5 pools") for i in infos(compare))


def test_a_platform_still_raising_says_why_each_chart_is_empty(lonely: Factory) -> None:
    analyst = lonely.user("analyst")
    pool_id, manager = lonely.pool(target_size="1000000")
    lonely.commitment(pool_id, amount="100000", accept_as=manager)
    lonely.pool(manager, status="draft")
    at = page("analyst_explorer.py", analyst)
    assert [m.value for m in at.metric if m.label in ("Pools", "Median TVPI", "Median IRR")] == [
        "1 pool",
        "n/a",
        "n/a",
    ]
    expected: dict[str, Any] = {
        "Performance by vintage": "No counted pool has a TVPI or an IRR yet",
        "Fundraising velocity": "No counted pool has reached its target yet",
        "Capital over time": "No capital was called, paid in or distributed in this range",
    }
    for tab, message in expected.items():
        at.session_state["explorer-tab"] = tab
        at.run()
        assert not at.exception
        assert any(i.startswith(message) for i in infos(at)), (tab, infos(at))
        assert not at.get("plotly_chart"), tab
        assert unreadable(at) == [], tab
    at.session_state["explorer-tab"] = "Concentration"
    at.run()
    assert at.get("plotly_chart"), "one investor holds it all: that is concentration too"
    at.session_state["explorer-tab"] = "Pools"
    at.run()
    [table] = at.dataframe
    assert len(table.value) == 1, "the draft is not counted"
    assert table.value["TVPI"].isna().all() and table.proto.placeholder == "n/a"
    assert unreadable(at) == []

    compare = AppTest.from_file(str(ROOT / "pages" / "analyst_compare.py"), default_timeout=60)
    compare.session_state["actor"] = analyst
    compare.run()
    [picker] = compare.multiselect
    picker.set_value([o for o in picker.options if "draft" not in o][:1]).run()
    assert not compare.exception
    assert any("no curve to draw yet" in i for i in infos(compare))
    assert unreadable(compare) == []
