"""The analyst's app, from Home.py, on a platform of 1,000 pools in a database of its own: every chart
renders (readably: aggregated or top-N, years as years), every table and message reads as people
read it (issue 15), drafts are left out of the totals unless counted, pools compare (and the page
says when it limits the selection), and nothing writes.

AppTest runs the pages in this process, so core.runtime is pointed at that database for the module.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import numpy
import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from app.webapp import PAGES
from core import operations
from core.errors import PermissionDenied
from core.permissions import Actor
from core.services import commitments, exports, health, pools, users
from tests.conftest import _state, _with_database
from tests.platform_seed import seed_platform, unreadable, use_database

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"
TIMEOUT = 120
POOLS = 1000
DRAFTS = POOLS // 25  # the seed makes every 25th pool a draft
NOT_AVAILABLE = "This page is not available to you."


@pytest.fixture(scope="module")
def platform_db() -> Iterator[dict[str, Any]]:
    """1,000 pools in every state, strategy and four currencies, with ten years of ledger history."""
    name = f"ip_test_analyst_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(_state["server"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(_state["server"], name)
    from db.migrate import upgrade

    upgrade(url)
    try:
        with use_database(url), pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
            )
            from core import bootstrap

            with bootstrap.unit_of_work() as uow:
                seed_platform(uow, pools=POOLS, investors=2000)
                uow.commit()
            people = {}
            for role in ("analyst", "admin", "fund_manager", "investor"):
                with bootstrap.unit_of_work() as uow:
                    username = f"{role[:4]}_{secrets.token_hex(3)}"
                    user_id, _ = users.create_user(
                        Actor.system(),
                        uow,
                        username,
                        name=f"The {role}",
                        email=f"{username}@example.com",
                        role=role,
                        password=PASSWORD,
                        kyc_status="approved",
                        accreditation="accredited",
                    )
                people[role] = Actor(user_id, role, username)
            with bootstrap.engine().connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                some = [
                    row[0]
                    for row in conn.exec_driver_sql(
                        "SELECT id FROM pools WHERE status IN ('investing', 'wound_down') ORDER BY id LIMIT 6"
                    )
                ]
                draft = conn.exec_driver_sql(
                    "SELECT id FROM pools WHERE status = 'draft' LIMIT 1"
                ).scalar_one()
                item = conn.exec_driver_sql(
                    "SELECT ci.id FROM call_items ci JOIN capital_calls cc ON cc.id = ci.call_id "
                    f"WHERE cc.pool_id = {some[0]} LIMIT 1"
                ).scalar_one()
            yield {"url": url, "people": people, "pools": some, "draft": draft, "call_item": item}
    finally:
        with psycopg.connect(_state["server"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def log_in(username: str) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    return at.button[0].click().run()


def charts(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(trace: dict[str, Any], key: str) -> list[Any]:
    """A trace's values as a list: plotly sends an array as typed binary data."""
    found = trace[key]
    if isinstance(found, dict) and "bdata" in found:
        return list(numpy.frombuffer(base64.b64decode(found["bdata"]), dtype=numpy.dtype(found["dtype"])))
    return list(found)


def registered(at: AppTest) -> list[str]:
    paths = [info.get("script_path") for info in at._registered_pages.values()]
    return [Path(str(p)).resolve().relative_to(ROOT).as_posix() for p in paths if p]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


TABS = [
    "Performance by vintage",
    "Committed vs target",
    "Fundraising velocity",
    "Capital over time",
    "Concentration",
    "Pools",
]


def test_every_chart_renders_readably_over_a_thousand_pools(platform_db: dict[str, Any]) -> None:
    at = log_in(platform_db["people"]["analyst"].username)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Explorer"]
    assert not at.error
    counted = POOLS - DRAFTS
    assert metric(at, "Pools") == f"{counted:,} pools", "drafts are left out of the totals by default"
    assert any(
        c.value.startswith(
            f"Counting {counted:,} pools: open, closed, investing, wound down ({DRAFTS} drafts left out)"
        )
        for c in at.caption
    ), [c.value for c in at.caption]
    assert metric(at, "Median TVPI").endswith("x") and metric(at, "Median IRR").endswith("%")
    assert [t.label for t in at.tabs] == TABS
    drawn: dict[str, dict[str, Any]] = {}
    for tab in TABS:
        at.session_state["explorer-tab"] = tab  # what a click on the tab does
        at.run()
        assert not at.exception and not at.error, (tab, at.exception)
        assert unreadable(at) == [], tab
        figures = charts(at)
        assert len(figures) == (0 if tab == "Pools" else 1), "only the open tab's chart is built"
        assert len(at.get("download_button")) == 1, (
            "every chart's data (and the pool table) can be downloaded"
        )
        if figures:
            drawn[figures[0]["layout"]["title"]["text"].split(" ")[0]] = figures[0]
    assert sorted(drawn) == ["Capital", "Committed", "Concentration:", "Days", "TVPI"]

    scatter = drawn["TVPI"]
    points = sum(
        len(values(trace, "x")) for trace in scatter["data"] if trace.get("name") != "median of the vintage"
    )
    assert 0 < points <= counted
    assert len({trace["name"] for trace in scatter["data"]}) <= 9, "one colour per strategy, plus the median"
    years = scatter["layout"]["xaxis"]
    assert years["tickvals"] == sorted(years["tickvals"]) and all(
        isinstance(y, int) for y in years["tickvals"]
    )
    assert years["ticktext"] == [str(y) for y in years["tickvals"]], "whole years: 2025, never 2,025.002"
    [median] = [trace for trace in scatter["data"] if trace.get("name") == "median of the vintage"]
    assert set(values(median, "x")) <= set(years["tickvals"]), "each median sits on its vintage's pools"
    histogram = drawn["Committed"]
    assert sum(len(values(trace, "x")) for trace in histogram["data"]) == counted, (
        "every counted pool, in bins"
    )
    concentration = drawn["Concentration:"]
    assert all(len(values(trace, "y")) <= 20 for trace in concentration["data"]), (
        "top-N keeps 1,000 pools readable"
    )
    assert all(trace["type"] == "box" for trace in drawn["Days"]["data"])
    assert drawn["Days"]["layout"]["xaxis"]["ticktext"] == [
        str(y) for y in drawn["Days"]["layout"]["xaxis"]["tickvals"]
    ]
    flows = drawn["Capital"]
    assert "per month (USD)" in flows["layout"]["title"]["text"], "the busiest currency first"
    assert "yaxis2" not in flows["layout"], "one axis for bars and the cumulative line"
    table = at.dataframe[0].value
    assert 0 < len(table) < counted and at.radio(key="pools-currency").value == "USD", (
        "one currency per table"
    )
    assert len(table.columns) <= 12, "a table the page can show without scrolling sideways"
    at.session_state["pools-view"] = "Capital account"
    at.run()
    table = at.dataframe[0].value
    assert {
        "Realized gain/(loss)",
        "Change in unrealized gain/(loss)",
        "Carried interest",
        "NAV",
    } <= set(table.columns), "each ILPA line in a column of its own"
    at.session_state["pools-view"] = "Calls"
    at.run()
    assert "Unfunded" in set(at.dataframe[0].value.columns), "what is still unfunded, beside the calls"
    assert unreadable(at) == []

    at.session_state["explorer-tab"] = "Performance by vintage"
    at.run()
    at.radio(key="perf-metric").set_value("IRR").run()
    assert not at.exception
    [irr] = charts(at)
    assert irr["layout"]["title"]["text"].startswith("IRR") and irr["layout"]["yaxis"]["tickformat"] == ".0%"


def test_drafts_are_counted_only_when_asked(platform_db: dict[str, Any]) -> None:
    at = log_in(platform_db["people"]["analyst"].username)
    [status] = [m for m in at.multiselect if m.label == "Status"]
    assert "draft" not in status.options
    [drafts] = [t for t in at.toggle if t.label == "Count draft pools"]
    drafts.set_value(True).run()
    assert not at.exception
    assert metric(at, "Pools") == f"{POOLS:,} pools"
    [status] = [m for m in at.multiselect if m.label == "Status"]
    assert "draft" in status.options
    assert any(c.value.startswith(f"Counting {POOLS:,} pools: draft, open") for c in at.caption)


def test_filters_narrow_the_explorer(platform_db: dict[str, Any]) -> None:
    at = log_in(platform_db["people"]["analyst"].username)
    [strategy] = [m for m in at.multiselect if m.label == "Strategy"]
    assert "real estate" in strategy.options, "strategies read as words"
    strategy.set_value(["venture"]).run()
    assert not at.exception
    venture = int(metric(at, "Pools").split()[0].replace(",", ""))
    assert 0 < venture <= POOLS // 8
    [currency] = [m for m in at.multiselect if m.label == "Currency"]
    currency.set_value(["EUR"]).run()
    venture_eur = int(metric(at, "Pools").split()[0].replace(",", ""))
    assert 0 < venture_eur < venture
    assert charts(at) and charts(at)[0]["data"]
    assert unreadable(at) == []


def test_pools_compare_side_by_side_and_the_limit_is_said(platform_db: dict[str, Any]) -> None:
    at = log_in(platform_db["people"]["analyst"].username)
    at.switch_page("pages/analyst_compare.py").run()
    assert [t.value for t in at.title] == ["Compare pools"]
    assert not charts(at), "nothing is drawn before pools are picked"
    assert any("Pick up to 5 pools" in i.value for i in at.info)
    [picker] = at.multiselect
    assert not any("#" in o for o in picker.options), "no internal ids in the picker"
    picker.set_value(picker.options[:5]).run()  # what "Select all" does: the first five
    assert not at.exception, at.exception
    assert any("Comparing 5 pools, the most it takes" in c.value for c in at.caption)
    figures = charts(at)
    assert [f["layout"]["title"]["text"].split(":")[0] for f in figures] == [
        "J-curve",
        "Since-inception IRR at each month end",
        "Multiples",
    ]
    assert len(at.get("download_button")) == 4, "the table's CSV and each chart's"
    tables = [t.value for t in at.dataframe]
    assert sum(len(t) for t in tables) == 5
    said = [c.value for c in at.caption if re.fullmatch(r"In [A-Z]{3}:", c.value)]
    assert len(tables) == 1 or len(said) == len(tables), "amounts of one currency per table, each named"
    assert unreadable(at) == []


def test_an_analyst_cannot_reach_a_writing_page(platform_db: dict[str, Any]) -> None:
    analyst = platform_db["people"]["analyst"]
    at = log_in(analyst.username)
    assert registered(at) == [spec.path for spec in PAGES["analyst"]]
    others = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "pages").glob("*.py")
        if not p.name.startswith("analyst_")
    )
    assert others, "there are writing pages to try"
    for page in others:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
        direct = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
        direct.session_state["actor"] = analyst
        direct.run()
        assert not direct.exception, (page, direct.exception)
        assert [e.value for e in direct.error] == [NOT_AVAILABLE], page


def test_an_analyst_cannot_call_a_writing_service(platform_db: dict[str, Any]) -> None:
    from core import bootstrap

    analyst = platform_db["people"]["analyst"]
    pool_id, draft = platform_db["pools"][0], platform_db["draft"]
    investor = platform_db["people"]["investor"]
    writes = [
        (users.create_user, ("x-analyst",), {"name": "X", "email": "x@example.com", "role": "admin"}),
        (users.set_role, (analyst.user_id, "admin"), {}),
        (users.set_kyc_status, (investor.user_id, "rejected"), {}),
        (users.unlock_user, (investor.user_id,), {}),
        (users.set_active, (investor.user_id, False), {}),
        (pools.create_pool, ({"name": "Nope"},), {}),
        (pools.update_pool_terms, (draft, {"name": "Nope"}), {}),
        (pools.open_pool, (draft,), {}),
        (pools.close_pool, (pool_id,), {}),
        (commitments.submit_commitment, (pool_id, "50000"), {}),
        (commitments.accept_commitment, (1,), {}),
        (commitments.reject_commitment, (1,), {}),
        (commitments.withdraw_commitment, (1,), {}),
        (exports.start_export, ("transactions",), {"enqueue": False}),
        (health.retry_operation, ("00000000-0000-0000-0000-000000000000",), {}),
    ] + [
        (operations.submit, (pool_id, kind, {"call_item_id": platform_db["call_item"], "amount": "1"}), {})
        for kind in operations.KINDS
    ]
    for service, args, kwargs in writes:
        with bootstrap.unit_of_work() as uow, pytest.raises(PermissionDenied):
            service(analyst, uow, *args, **kwargs)
