"""The investor's pages through the real app (AppTest from Home.py) on the real database.

Read-only checks run on the demo data (core.seed.seed_demo, seeded once into this run's database)
and compare what the pages show with figures read from the ledger by hand here. Tests that write
(commit, pay) use investors of their own, so they do not disturb the demo investor.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import bcrypt
import pandas as pd
import pytest
from sqlalchemy import func, select, text
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.scriptrunner import RerunData
from streamlit.testing.v1 import AppTest, local_script_runner

from app import investor_ui as ui
from core import bootstrap, operations
from core.fundmath import multiples, xirr
from core.services import investor, pools, users
from db.models import CallItem, CapitalCall, Commitment, User
from tests.conftest import Factory

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"  # the Factory's default
TIMEOUT = 60
TODAY = date.today()


@pytest.fixture(scope="module", autouse=True)
def fast_bcrypt() -> Iterator[None]:
    """Real bcrypt at its lowest cost (the app runs in this process, so it verifies these hashes too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        yield


@pytest.fixture(scope="module")
def demo(fast_bcrypt: None) -> dict[str, int]:
    """The demo data, seeded once per test database (another module may have seeded it already)."""
    from core.seed import seed_demo

    with bootstrap.unit_of_work() as uow:
        found = dict(
            uow.session.execute(select(User.username, User.id).where(User.username == "investor")).all()
        )
    if not found:
        seed_demo(bootstrap.unit_of_work)
    with bootstrap.unit_of_work() as uow:
        ids = dict(uow.session.execute(select(User.username, User.id)).all())
        ids.update(
            {f"pool:{name}": pid for name, pid in uow.session.execute(text("SELECT name, id FROM pools"))}
        )
    return ids


@pytest.fixture(scope="module")
def make(fast_bcrypt: None) -> Factory:
    return Factory(bootstrap.unit_of_work)


def log_in(username: str, password: str) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at = at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at: AppTest, *columns: str) -> Any:
    """The first st.dataframe on the page having these columns (a key is kept only when selectable)."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element
    raise AssertionError(f"no table with columns {columns}")


def frame(at: AppTest, *columns: str) -> Any:
    """The data of the first table having these columns."""
    return table(at, *columns).value


def formats(element: Any) -> dict[str, str]:
    """Each configured column's st.column_config number/date format, by column."""
    config = json.loads(element.proto.columns)
    return {
        name: c["type_config"]["format"] for name, c in config.items() if "format" in c.get("type_config", {})
    }


def highlighted_rows(element: Any) -> set[int]:
    """The rows a pandas Styler gave a background colour (the CSS Streamlit sends with the table)."""
    rows: set[int] = set()
    for selectors, declarations in re.findall(r"([^{}]+)\{([^}]*)\}", element.proto.arrow_data.styler.styles):
        if "background-color" in declarations:
            rows |= {int(row) for row in re.findall(r"_row(\d+)_col", selectors)}
    return rows


def charts(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures drawn on the page."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def amount(value: Any) -> Decimal:
    """A number from a table or a chart back as an exact amount (cents)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def texts(at: AppTest) -> str:
    """Everything written on the page, for "is this message there" checks."""
    parts = [
        e.value
        for kind in ("error", "warning", "info", "success", "caption", "markdown")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def ledger(investor_id: int, *, since: date = date(1900, 1, 1), until: date = TODAY) -> dict[str, Any]:
    """The investor's figures read from the entries by hand, independently of the services."""
    with bootstrap.unit_of_work() as uow:
        rows = uow.session.execute(
            text(
                """SELECT j.kind, e.account, j.effective_date,
                          sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.investor_id = :i AND j.effective_date BETWEEN :since AND :until
                    GROUP BY j.kind, e.account, j.effective_date"""
            ),
            {"i": investor_id, "since": since, "until": until},
        ).all()
    zero = Decimal(0)
    figures = {
        "committed": sum((v for k, a, _, v in rows if a == "commitment"), zero),
        "paid_in": sum((v for k, a, _, v in rows if (k, a) == ("payment", "capital")), zero),
        "distributed": -sum((v for k, a, _, v in rows if (k, a) == ("distribution", "capital")), zero),
        "fees": -sum((v for k, a, _, v in rows if (k, a) == ("management_fee", "capital")), zero),
        "nav": sum((v for k, a, _, v in rows if a == "capital"), zero),
        "outstanding": -sum((v for k, a, _, v in rows if a == "receivable"), zero),
    }
    figures["flows"] = sorted(
        (when, -v) for k, a, when, v in rows if a == "capital" and k in ("payment", "distribution")
    )
    return figures


# --- the demo investor -------------------------------------------------------------------------------


def test_portfolio_shows_the_ledgers_totals(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    assert [t.value for t in at.title] == ["Portfolio"]
    expected = ledger(demo["investor"])
    shown = metrics(at)
    assert shown["Committed"] == ui.money(expected["committed"], "USD") == "$650,000.00"
    assert shown["Paid-in"] == ui.money(expected["paid_in"], "USD")
    assert shown["Unfunded"] == ui.money(expected["committed"] - expected["paid_in"], "USD")
    assert shown["Distributed"] == ui.money(expected["distributed"], "USD")
    assert shown["NAV"] == ui.money(expected["nav"], "USD")
    assert shown["Total value"] == ui.money(expected["nav"] + expected["distributed"], "USD")
    assert shown["Outstanding calls"] == ui.money(expected["outstanding"], "USD") == "$150,000.00"
    ratios = multiples(expected["paid_in"], expected["distributed"], expected["nav"])
    assert shown["TVPI"] == ui.multiple(ratios.tvpi) and shown["DPI"] == ui.multiple(ratios.dpi)
    assert shown["RVPI"] == ui.multiple(ratios.rvpi)
    assert shown["IRR"] == ui.percent(xirr([*expected["flows"], (TODAY, expected["nav"])]))
    # One row per pool, numbers kept as numbers (multiples and IRR too, formatted by the column).
    holdings = at.dataframe[0]
    rows = holdings.value.set_index("Pool")
    assert set(rows.index) == {"Growth SPV 2024", "Climate Ventures II"}
    assert Decimal(str(rows.loc["Growth SPV 2024", "Paid-in"])) == expected["paid_in"]
    assert Decimal(str(rows.loc["Climate Ventures II", "Committed"])) == Decimal("150000")
    assert rows.loc["Growth SPV 2024", "Status"] == "investing"
    # Climate Ventures II holds only a commitment, so Growth SPV 2024's ratios are the totals'.
    growth = rows.loc["Growth SPV 2024"]
    assert (growth["TVPI"], growth["DPI"], growth["RVPI"]) == (ratios.tvpi, ratios.dpi, ratios.rvpi)
    assert isinstance(growth["IRR"], Decimal)
    assert ui.percent(growth["IRR"]) == shown["IRR"]
    assert {c: formats(holdings)[c] for c in ("TVPI", "DPI", "RVPI", "IRR", "Paid-in")} == {
        "TVPI": "%.2fx",
        "DPI": "%.2fx",
        "RVPI": "%.2fx",
        "IRR": "percent",
        "Paid-in": "dollar",
    }
    # A pool with nothing paid in has no IRR or multiples: empty cells, shown as "n/a" (never 0%).
    climate = rows.loc["Climate Ventures II"]
    assert all(pd.isna(climate[c]) for c in ("TVPI", "DPI", "RVPI", "IRR"))
    assert holdings.proto.placeholder == ui.NOT_AVAILABLE == "n/a"
    assert at.get("plotly_chart"), "the J-curve is drawn"
    # ... and its headline IRR, on its own page, says so in words.
    at.query_params["pool"] = str(demo["pool:Climate Ventures II"])
    at.switch_page("pages/investor_pool_detail.py").run()
    assert metrics(at)["IRR"] == metrics(at)["TVPI"] == "n/a"


def test_the_charts_draw_the_ledgers_figures(demo: dict[str, int]) -> None:
    """Each chart tab draws the ledger's figures: the J-curve ends on the totals, contributions go
    down and distributions up, allocations add up to the NAV (the tabs draw only when open)."""
    expected = ledger(demo["investor"])
    at = log_in("investor", "investor-demo")
    [j_curve] = charts(at)
    lines = {trace["name"]: trace["y"] for trace in j_curve["data"]}
    assert amount(lines["Paid-in (cumulative)"][-1]) == expected["paid_in"]
    assert amount(lines["Distributions (cumulative)"][-1]) == expected["distributed"]
    assert amount(lines["NAV"][-1]) == expected["nav"]

    at.session_state["portfolio-charts"] = "Cash flows by month"  # what a click on the tab does
    at.run()
    assert not at.exception, at.exception
    [flows] = charts(at)
    bars = {trace["name"]: trace["y"] for trace in flows["data"]}
    assert all(y <= 0 for y in bars["Contributions"]) and all(y >= 0 for y in bars["Distributions"])
    assert -sum(amount(y) for y in bars["Contributions"]) == expected["paid_in"] > 0
    assert sum(amount(y) for y in bars["Distributions"]) == expected["distributed"] > 0

    at.session_state["portfolio-charts"] = "Allocation"
    at.run()
    assert not at.exception, at.exception
    pies = {chart["layout"]["title"]["text"]: chart["data"][0] for chart in charts(at)}
    assert set(pies) == {"By pool (NAV, USD)", "By strategy (NAV, USD)"}
    for pie in pies.values():
        assert sum(amount(v) for v in pie["values"]) == expected["nav"]
    at.segmented_control(key="allocation-measure").set_value("Commitment").run()
    for chart in charts(at):
        assert sum(amount(v) for v in chart["data"][0]["values"]) == expected["committed"]


def test_every_figure_follows_the_range(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    at.segmented_control(key=ui.RANGE_KEY).set_value("ytd").run()
    assert not at.exception, at.exception
    start = date(TODAY.year, 1, 1)
    before = ledger(demo["investor"], until=start - timedelta(days=1))
    during = ledger(demo["investor"], since=start)
    shown = metrics(at)
    assert shown["Paid-in"] == ui.money(during["paid_in"], "USD")
    assert shown["Distributed"] == ui.money(during["distributed"], "USD")
    assert shown["NAV at start"] == ui.money(before["nav"], "USD")
    assert shown["NAV"] == ui.money(ledger(demo["investor"])["nav"], "USD")
    flows = [(start, -before["nav"])] if before["nav"] else []
    flows += [*during["flows"], (TODAY, ledger(demo["investor"])["nav"])]
    assert shown["IRR"] == ui.percent(xirr(flows))
    # The range follows the investor to the next page.
    at.switch_page("pages/investor_pool_detail.py").run()
    assert at.segmented_control(key=ui.RANGE_KEY).value == "ytd"


def shows_the_ledger_for(at: AppTest, investor_id: int, start: date, end: date) -> None:
    """The metrics and the Growth SPV 2024 row are the ledger's for start..end."""
    assert not at.exception, at.exception
    before = ledger(investor_id, until=start - timedelta(days=1))
    during = ledger(investor_id, since=start, until=end)
    shown = metrics(at)
    assert shown["Paid-in"] == ui.money(during["paid_in"], "USD")
    assert shown["Distributed"] == ui.money(during["distributed"], "USD")
    assert shown["NAV at start"] == ui.money(before["nav"], "USD")
    assert shown["NAV"] == ui.money(ledger(investor_id, until=end)["nav"], "USD")
    growth = frame(at, "Pool", "Paid-in").set_index("Pool").loc["Growth SPV 2024"]
    assert Decimal(str(growth["Paid-in"])) == during["paid_in"]
    assert Decimal(str(growth["Distributed"])) == during["distributed"]


def test_last_12_months_and_a_custom_range_drive_the_page(demo: dict[str, int]) -> None:
    """The other two ranges through the page's own controls; each window is chosen so that a
    figure differs from since inception, so a range that was ignored would show."""
    whole = ledger(demo["investor"])
    at = log_in("investor", "investor-demo")

    at.segmented_control(key=ui.RANGE_KEY).set_value("last_12_months").run()
    start = investor.period_for("last_12_months").start
    assert ledger(demo["investor"], since=start)["paid_in"] != whole["paid_in"]
    shows_the_ledger_for(at, demo["investor"], start, TODAY)

    at.segmented_control(key=ui.RANGE_KEY).set_value("custom").run()
    assert not at.exception, at.exception
    dates = at.date_input(key=ui.DATES_KEY)
    dates.set_value((TODAY - timedelta(days=540),)).run()  # only the first day picked so far
    assert "Pick the last day of the range too." in [i.value for i in at.info]
    assert not at.metric
    start, end = TODAY - timedelta(days=540), TODAY - timedelta(days=400)  # the demo's first call, paid
    at.date_input(key=ui.DATES_KEY).set_value((start, end)).run()
    window = ledger(demo["investor"], since=start, until=end)
    assert window["paid_in"] > 0 and window["distributed"] != whole["distributed"]
    shows_the_ledger_for(at, demo["investor"], start, end)
    assert f"Figures {start:%d %b %Y} to {end:%d %b %Y}." in texts(at)


def test_pool_detail_shows_the_capital_account_and_every_transaction(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    at.query_params["pool"] = str(demo["pool:Growth SPV 2024"])
    at.switch_page("pages/investor_pool_detail.py").run()
    assert not at.exception, at.exception
    assert "Growth SPV 2024" in [h.value for h in at.header]
    expected = ledger(demo["investor"])
    account = frame(at, "Line", "Amount").set_index("Line")["Amount"]
    assert Decimal(str(account["Ending NAV"])) == expected["nav"]
    assert Decimal(str(account["Contributions"])) == expected["paid_in"]
    assert Decimal(str(account["Ending unfunded commitment"])) == Decimal("300000")
    transactions = frame(at, "Journal", "Reference")
    paid = transactions[transactions["Type"] == "Contribution"]
    assert list(paid["Reference"].str.startswith("WIRE-")) == [True]
    assert set(transactions["Type"]) >= {
        "Commitment",
        "Capital call",
        "Contribution",
        "Management fee",
        "Valuation gain/(loss)",
        "Distribution",
    }
    calls = frame(at, "Call", "Due date")
    assert list(calls["Status"]) == ["paid", "open"]
    assert "No documents have been shared for this pool yet." in texts(at)


def outstanding_calls(investor_id: int) -> Decimal:
    """What the investor still owes on issued calls, summed from the call items by hand."""
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            text(
                """SELECT coalesce(sum(ci.amount_due - ci.amount_paid), 0)
                     FROM call_items ci JOIN capital_calls cc ON cc.id = ci.call_id
                    WHERE ci.investor_id = :i AND cc.status = 'issued'
                      AND ci.status IN ('open', 'partially_paid')"""
            ),
            {"i": investor_id},
        ).scalar_one()


def open_pool_figures() -> dict[str, list[dict[str, Decimal]]]:
    """Every open pool's terms and accepted commitments, by name, summed from the tables by hand.
    Other tests in the run's shared database may open pools under the same name: a name maps to
    the figures of every open pool so named."""
    with bootstrap.unit_of_work() as uow:
        rows = uow.session.execute(
            text(
                """SELECT p.name, p.hard_cap, p.management_fee_rate, p.carry_rate, p.hurdle_rate,
                          coalesce(sum(c.amount_accepted) FILTER (WHERE c.status = 'accepted'), 0)
                     FROM pools p LEFT JOIN commitments c ON c.pool_id = p.id
                    WHERE p.status = 'open'
                    GROUP BY p.id"""
            )
        ).all()
    figures: dict[str, list[dict[str, Decimal]]] = {}
    for name, cap, fee, carry, hurdle, accepted in rows:
        figures.setdefault(name, []).append(
            {"hard_cap": cap, "Fee": fee, "Carry": carry, "Hurdle": hurdle, "committed": accepted}
        )
    return figures


def test_capital_calls_statements_and_open_pools_render(demo: dict[str, int]) -> None:
    at = log_in("investor", "investor-demo")
    at.switch_page("pages/investor_capital_calls.py").run()
    assert not at.exception, at.exception
    shown = metrics(at)
    owed = outstanding_calls(demo["investor"])
    assert owed > 0
    assert shown["Outstanding (USD)"] == ui.money(owed, "USD")
    assert shown["Outstanding (USD)"] == ui.money(ledger(demo["investor"])["outstanding"], "USD")
    assert shown["Paid-in to date (USD)"] == ui.money(ledger(demo["investor"])["paid_in"], "USD")
    items = table(at, "Call", "Due in (days)")
    assert list(items.value["Call"]) == ["Call 2: follow-on and fees"]
    assert list(items.value["Status"]) == ["open"]
    assert highlighted_rows(items) == set(), "an item not yet due is not highlighted"
    assert sum(Decimal(str(v)) for v in items.value["Outstanding"]) == owed
    assert [b.label for b in at.button if b.label == "Record payment"]

    at.switch_page("pages/investor_statements.py").run()
    assert not at.exception, at.exception
    assert [d.label for d in at.get("download_button")] == [
        "Capital account statement (CSV)",
        "Transaction history (CSV)",
    ]
    account = frame(at, "Pool", "Line", "Amount")
    growth = account[account["Pool"] == "Growth SPV 2024"].set_index("Line")["Amount"]
    assert Decimal(str(growth["Ending NAV"])) == ledger(demo["investor"])["nav"]

    at.switch_page("pages/investor_open_pools.py").run()
    assert not at.exception, at.exception
    pools_table = table(at, "Raised", "Room")
    listed = pools_table.value.set_index("Pool")
    assert "Seed Fund I" in listed.index and "Growth SPV 2024" not in listed.index
    assert listed.loc["Climate Ventures II", "You"] == "accepted"
    # Committed and room per pool, and the terms, against the tables read by hand.
    expected = open_pool_figures()
    for name, row in listed.iterrows():
        shown_figures = {
            "committed": Decimal(str(row["Committed"])),
            "room": Decimal(str(row["Room"])),
            **{term: Decimal(str(row[term])) for term in ("Fee", "Carry", "Hurdle")},
        }
        assert shown_figures in [
            {
                "committed": pool["committed"],
                "room": pool["hard_cap"] - pool["committed"],
                **{term: pool[term] for term in ("Fee", "Carry", "Hurdle")},
            }
            for pool in expected[name]
        ], name
    [seed_fund] = expected["Seed Fund I"]
    assert seed_fund["committed"] > 0  # so Committed and Room are not trivially 0 and the cap
    assert {c: formats(pools_table)[c] for c in ("Fee", "Carry", "Hurdle", "Room")} == {
        "Fee": "percent",
        "Carry": "percent",
        "Hurdle": "percent",
        "Room": "dollar",
    }


@pytest.fixture
def csv_builds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the calls of the two CSV builders (which still build the real files)."""
    counts = {"capital_account_csv": 0, "transactions_csv": 0}
    for name in counts:

        def counted(
            *args: Any, _name: str = name, _real: Any = getattr(investor, name), **kwargs: Any
        ) -> Any:
            counts[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(investor, name, counted)
    return counts


@pytest.fixture
def deferred_files(monkeypatch: pytest.MonkeyPatch) -> dict[str, MediaFileManager]:
    """The media file manager each deferred download was registered with, by its file id: what a
    click on a download button asks the server to run (AppTest makes a manager per run)."""
    managers: dict[str, MediaFileManager] = {}
    real = MediaFileManager.add_deferred

    def add_deferred(self: MediaFileManager, *args: Any, **kwargs: Any) -> str:
        file_id = real(self, *args, **kwargs)
        managers[file_id] = self
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return managers


def download(button: Any, managers: dict[str, MediaFileManager]) -> list[dict[str, str]]:
    """What the browser gets when the button is clicked: Streamlit runs the deferred builder then."""
    file_id = button.proto.deferred_file_id
    manager = managers[file_id]
    url = manager.execute_deferred(file_id)
    content = manager._storage.get_file(url.rsplit("/", 1)[-1]).content
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_statement_files_are_built_only_when_downloaded(
    demo: dict[str, int], csv_builds: dict[str, int], deferred_files: dict[str, MediaFileManager]
) -> None:
    at = log_in("investor", "investor-demo")
    at.switch_page("pages/investor_statements.py").run()
    assert not at.exception, at.exception
    at.run()  # a rerun (any widget change) builds nothing either
    buttons = {b.label: b for b in at.get("download_button")}
    assert set(buttons) == {"Capital account statement (CSV)", "Transaction history (CSV)"}
    assert csv_builds == {"capital_account_csv": 0, "transactions_csv": 0}, "nothing built on render"
    for button in buttons.values():  # the page hands Streamlit a builder, not a file
        assert button.proto.deferred_file_id and not button.proto.url

    account = download(buttons["Capital account statement (CSV)"], deferred_files)
    assert csv_builds == {"capital_account_csv": 1, "transactions_csv": 0}
    on_screen = frame(at, "Pool", "Line", "Amount")
    assert [(r["Pool"], r["Line"], Decimal(r["Amount"])) for r in account] == [
        (pool, line, Decimal(str(value)))
        for pool, line, value in on_screen[["Pool", "Line", "Amount"]].values
    ]
    growth = {r["Line"]: Decimal(r["Amount"]) for r in account if r["Pool"] == "Growth SPV 2024"}
    assert growth["Ending NAV"] == ledger(demo["investor"])["nav"]

    history = download(buttons["Transaction history (CSV)"], deferred_files)
    assert csv_builds == {"capital_account_csv": 1, "transactions_csv": 1}
    on_screen = frame(at, "Journal", "NAV effect")
    assert [
        (int(r["Journal"]), r["Type"], Decimal(r["Amount"]), Decimal(r["NAV effect"])) for r in history
    ] == [
        (int(journal), kind, Decimal(str(value)), Decimal(str(effect)))
        for journal, kind, value, effect in on_screen[["Journal", "Type", "Amount", "NAV effect"]].values
    ]
    assert len(history) > 5


def run_fragment(at: AppTest, key: str) -> AppTest:
    """One timed rerun of a fragment, as the browser requests it every run_every seconds: only the
    fragment's function runs, not the page (AppTest.run() alone always runs the whole page)."""
    [fragment_id] = at._fragment_storage.resolve_target(key)
    scoped = functools.partial(RerunData, fragment_id_queue=[fragment_id], is_fragment_scoped_rerun=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(local_script_runner, "RerunData", scoped)
        at.run()
    assert not at.exception, at.exception
    return at


def raised(pool_id: int) -> tuple[Decimal, Decimal, int]:
    """Accepted and pending commitments and the investor count, summed from the table by hand."""
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            text(
                """SELECT coalesce(sum(amount_accepted) FILTER (WHERE status = 'accepted'), 0),
                          coalesce(sum(amount_requested) FILTER (WHERE status = 'pending'), 0),
                          count(*) FILTER (WHERE status = 'accepted')
                     FROM commitments WHERE pool_id = :p"""
            ),
            {"p": pool_id},
        ).one()


def bar_text(at: AppTest) -> str:
    [bar] = at.get("progress")
    return bar.proto.text


def test_fundraising_progress_is_live_while_the_page_is_open(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open pool's progress is a fragment polling the pool's version: another investor's
    commitment shows in it without the page being run again, and nothing is re-read until it moves."""
    pool_id, manager = make.pool(target_size="1000000", hard_cap="1500000")
    make.commitment(pool_id, amount="100000", accept_as=manager)
    person = make.user("investor")
    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-pool").set_value(pool_id).run()
    assert not at.exception, at.exception
    assert bar_text(at).startswith("$100,000.00 committed of a $1,000,000.00 target · 1 investors")

    reads: list[int] = []
    real = pools.fundraising
    monkeypatch.setattr(pools, "fundraising", lambda *args: reads.append(args[2]) or real(*args))
    run_fragment(at, ui.LIVE_FUNDRAISING)
    assert not at.title, "only the fragment ran, not the page"
    assert bar_text(at).startswith("$100,000.00 committed") and reads == [], "no change: nothing re-read"

    # Another investor commits and is accepted while the page stays open; a third one asks.
    make.commitment(pool_id, amount="250000", accept_as=manager)
    make.commitment(pool_id, amount="40000")
    accepted, pending, investors = raised(pool_id)
    assert (accepted, pending, investors) == (Decimal("350000"), Decimal("40000"), 2)
    run_fragment(at, ui.LIVE_FUNDRAISING)
    assert not at.title, "only the fragment ran, not the page"
    assert reads == [pool_id]
    assert bar_text(at) == (
        f"{ui.money(accepted, 'USD')} committed of a $1,000,000.00 target · {investors} investors · "
        f"{ui.money(pending, 'USD')} pending · room under the hard cap {ui.money(Decimal('1500000') - accepted, 'USD')}"
    )
    run_fragment(at, ui.LIVE_FUNDRAISING)
    assert reads == [pool_id], "read once per change of the version"
    assert bar_text(at).startswith("$350,000.00 committed")


# --- writing: investors of the tests' own -------------------------------------------------------------


@pytest.fixture(scope="module")
def nearly_full(make: Factory) -> int:
    """An open pool, tickets 10,000 to 500,000, with 300,000 left under its hard cap."""
    pool_id, manager = make.pool(
        name="Nearly Full Fund", hard_cap="1500000", min_ticket="10000", max_ticket="500000"
    )
    for amount in ("500000", "500000", "200000"):
        make.commitment(pool_id, amount=amount, accept_as=manager)
    return pool_id


def commitments_of(investor_id: int) -> int:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(func.count()).select_from(Commitment).where(Commitment.investor_id == investor_id)
        ).scalar_one()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("5000", "amount: is below the minimum ticket of 10,000.00"),
        ("600000", "amount: is above the maximum ticket of 500,000.00"),
        ("400000", "amount: is above the remaining capacity of 300,000.00"),
        ("ten thousand", "amount: is not a number"),
        ("-20000", "amount: must be greater than zero"),
    ],
)
def test_the_commit_form_refuses_and_writes_nothing(
    make: Factory, nearly_full: int, amount: str, message: str
) -> None:
    person = make.user("investor")
    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-pool").set_value(nearly_full).run()
    at.text_input(key="commit-amount").input(amount)
    at = next(b for b in at.button if b.label == "Commit").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [message]
    assert commitments_of(person.user_id) == 0
    assert not at.success


def test_commit_then_withdraw(make: Factory, nearly_full: int) -> None:
    person = make.user("investor")
    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-pool").set_value(nearly_full).run()
    at.text_input(key="commit-amount").input("250,000")
    at = next(b for b in at.button if b.label == "Commit").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert "Commitment of $250,000.00 to Nearly Full Fund submitted" in at.success[0].value
    assert "**Nearly Full Fund**: $250,000.00 requested" in texts(at)
    assert commitments_of(person.user_id) == 1
    at = at.button(key=next(b.key for b in at.button if b.label == "Withdraw")).click().run()
    assert at.success[0].value == "Commitment withdrawn."
    assert "Nearly Full Fund" not in texts(at).split("My pending commitments")[-1]


def called_pool(make: Factory, *due_in_days: int, name: str | None = None) -> tuple[int, Any]:
    """A closed pool with one investor (100,000) and a 25% capital call per due date given (days
    from today; negative: overdue), each issued by the call operation."""
    pool_id, manager = make.pool(**({"name": name} if name else {}))
    _, person = make.commitment(pool_id, amount="100000", accept_as=manager)
    with bootstrap.unit_of_work() as uow:
        pools.close_pool(manager, uow, pool_id)
    for number, days in enumerate(due_in_days, start=1):
        with bootstrap.unit_of_work() as uow:
            status = operations.submit(
                manager,
                uow,
                pool_id,
                "capital_call",
                {
                    "percent": "25",
                    "purpose": "Late call" if days < 0 else f"Call {number}",
                    "call_date": (TODAY - timedelta(days=30 - number)).isoformat(),
                    "due_date": (TODAY + timedelta(days=days)).isoformat(),
                },
            )
        assert operations.process(str(status.id), bootstrap.unit_of_work) == "done"
    return pool_id, person


def test_only_overdue_items_are_highlighted(make: Factory) -> None:
    _, person = called_pool(make, 20, -10)
    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_capital_calls.py").run()
    assert not at.exception, at.exception
    items = table(at, "Call", "Due in (days)")
    assert list(items.value["Status"]) == ["overdue", "open"]  # soonest due first
    assert list(items.value["Due in (days)"]) == [-10, 20]
    assert highlighted_rows(items) == {0}
    assert "1 call item(s) past their due date" in at.error[0].value
    assert metrics(at)["Overdue (USD)"] == "$25,000.00"


def test_the_payment_form_follows_the_item_picked(make: Factory) -> None:
    _, person = called_pool(make, 20, 40)
    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_capital_calls.py").run()
    first, second = at.selectbox(key="pay-choice").options
    assert "Call 1" in first and "Call 2" in second
    at.selectbox(key="pay-choice").select_index(1).run()
    for _ in range(2):  # and it stays picked
        assert not at.exception, at.exception
        assert at.selectbox(key="pay-choice").index == 1
        assert at.session_state[ui.PAY_ITEM_KEY] == at.selectbox(key="pay-choice").value
        at.run()


def test_paying_a_call_shows_progress_then_the_new_paid_in(make: Factory) -> None:
    """Record payment submits a payment operation; once a worker posts it the page reruns by itself
    and every figure shows it (the worker is played here by operations.process in-process)."""
    pool_id, person = called_pool(make, -10, name="Calls Fund")

    at = log_in(person.username, PASSWORD)
    at.switch_page("pages/investor_capital_calls.py").run()
    assert "1 call item(s) past their due date" in at.error[0].value
    items = table(at, "Call", "Due in (days)")
    assert list(items.value["Status"]) == ["overdue"]
    assert highlighted_rows(items) == {0}
    at.text_input(key="pay-amount").input("25000.00")
    at.text_input(key="pay-reference").input("WIRE-777")
    at = next(b for b in at.button if b.label == "Record payment").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if "past their due date" not in e.value] == []
    following = at.session_state["_following"]["pay"]
    assert at.get("progress"), "the operation's progress is shown"

    assert operations.process(following, bootstrap.unit_of_work) == "done"
    at.run()  # the progress fragment sees it done and reruns the whole page once
    assert not at.exception, at.exception
    assert "Payment posted" in " ".join(s.value for s in at.success)
    assert metrics(at)["Paid-in to date (USD)"] == "$25,000.00"
    assert metrics(at)["Outstanding (USD)"] == "$0.00"
    with bootstrap.unit_of_work() as uow:
        status = uow.session.execute(
            select(CallItem.status).join(CapitalCall).where(CapitalCall.pool_id == pool_id)
        ).scalar_one()
    assert status == "paid"
    at.switch_page("pages/investor_portfolio.py").run()
    assert metrics(at)["Paid-in"] == "$25,000.00"


def test_an_investor_with_nothing_sees_an_empty_portfolio(make: Factory) -> None:
    person = make.user("investor")
    at = log_in(person.username, PASSWORD)
    assert "You have no investments yet" in texts(at)
    for page in (
        "investor_pool_detail",
        "investor_capital_calls",
        "investor_statements",
        "investor_open_pools",
    ):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
