"""The analyst's app, from Home.py, on a platform of 1,000 pools in a database of its own: every chart
renders (readably: aggregated or top-N), filters work, pools compare, and nothing writes.

AppTest runs the pages in this process, so core.runtime is pointed at that database for the module.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from app.webapp import PAGES
from core import operations
from core.errors import PermissionDenied
from core.permissions import Actor
from core.services import commitments, exports, health, pools, users
from core.services import ledger as ledger_service
from tests.conftest import _state, _with_database
from tests.platform_seed import seed_platform, use_database

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"
TIMEOUT = 120
POOLS = 1000
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


def test_every_chart_renders_over_a_thousand_pools(platform_db: dict[str, Any]) -> None:
    at = log_in(platform_db["people"]["analyst"].username)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Explorer"]
    assert not at.error
    assert metric(at, "Pools") == f"{POOLS:,}"
    assert [t.label for t in at.tabs] == TABS
    drawn: dict[str, dict[str, Any]] = {}
    for tab in TABS:
        at.session_state["explorer-tab"] = tab  # what a click on the tab does
        at.run()
        assert not at.exception and not at.error, (tab, at.exception)
        figures = charts(at)
        assert len(figures) == (0 if tab == "Pools" else 1), "only the open tab's chart is built"
        # Every chart's data (and the pool table) can be downloaded.
        assert len(at.get("download_button")) == 1
        if figures:
            drawn[figures[0]["layout"]["title"]["text"].split(" ")[0]] = figures[0]
    assert sorted(drawn) == ["Capital", "Committed", "Concentration:", "Days", "TVPI"]

    scatter = drawn["TVPI"]
    points = sum(len(trace["x"]) for trace in scatter["data"] if trace.get("name") != "median")
    assert 0 < points <= POOLS
    assert len({trace["name"] for trace in scatter["data"]}) <= 9, "one colour per strategy, plus the median"
    histogram = drawn["Committed"]
    assert sum(len(trace["x"]) for trace in histogram["data"]) == POOLS, "every pool is counted, in bins"
    concentration = drawn["Concentration:"]
    assert all(len(trace["y"]) <= 20 for trace in concentration["data"]), "top-N keeps 1,000 pools readable"
    assert all(trace["type"] == "box" for trace in drawn["Days"]["data"])
    assert "per month (USD)" in drawn["Capital"]["layout"]["title"]["text"], "the busiest currency first"
    assert len(at.dataframe[0].value) == POOLS

    at.session_state["explorer-tab"] = "Performance by vintage"
    at.run()
    at.radio(key="perf-metric").set_value("IRR").run()
    assert not at.exception
    assert [f["layout"]["title"]["text"].split(" ")[0] for f in charts(at)] == ["IRR"]


def test_filters_narrow_the_explorer(platform_db: dict[str, Any]) -> None:
    at = log_in(platform_db["people"]["analyst"].username)
    [strategy] = [m for m in at.multiselect if m.label == "Strategy"]
    strategy.set_value(["venture"]).run()
    assert not at.exception
    assert metric(at, "Pools") == f"{POOLS // 8:,}"
    [currency] = [m for m in at.multiselect if m.label == "Currency"]
    currency.set_value(["EUR"]).run()
    venture_eur = int(metric(at, "Pools").replace(",", ""))
    assert 0 < venture_eur < POOLS // 8
    assert charts(at) and charts(at)[0]["data"]


def test_pools_compare_side_by_side(platform_db: dict[str, Any]) -> None:
    at = log_in(platform_db["people"]["analyst"].username)
    at.switch_page("pages/analyst_compare.py").run()
    assert [t.value for t in at.title] == ["Compare pools"]
    assert not charts(at), "nothing is drawn before pools are picked"
    [picker] = at.multiselect
    options = {int(o.split("#")[1].split(",")[0]): o for o in picker.options}
    picker.set_value([options[p] for p in platform_db["pools"][:5]]).run()
    assert not at.exception, at.exception
    figures = charts(at)
    assert [f["layout"]["title"]["text"].split(":")[0] for f in figures] == [
        "J-curve",
        "Since-inception IRR at each month end",
        "Multiples",
    ]
    assert all(len(f["data"]) >= 5 or f["layout"]["title"]["text"].startswith("Multiples") for f in figures)
    assert len(at.get("download_button")) == 3
    table = at.dataframe[0].value
    assert len(table) == 5 and list(table["pool_id"]) == platform_db["pools"][:5]


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
        (
            ledger_service.post_journal,
            (pool_id,),
            {"kind": "investment", "idempotency_key": "no", "effective_date": None, "lines": []},
        ),
        (ledger_service.reverse_journal, (1,), {"memo": "no", "effective_date": None}),
        (exports.start_export, ("transactions",), {"enqueue": False}),
        (health.retry_operation, ("00000000-0000-0000-0000-000000000000",), {}),
    ] + [
        (operations.submit, (pool_id, kind, {"call_item_id": platform_db["call_item"], "amount": "1"}), {})
        for kind in operations.KINDS
    ]
    for service, args, kwargs in writes:
        with bootstrap.unit_of_work() as uow, pytest.raises(PermissionDenied):
            service(analyst, uow, *args, **kwargs)
