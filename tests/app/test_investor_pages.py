"""The investor's pages through the real app (AppTest from Home.py) on the real database.

Read-only checks run on the demo data (core.seed.seed_demo, seeded once into this run's database)
and compare what the pages show with figures read from the entries by hand here. Tests that write
(commit, withdraw, pay) use investors of their own, so they do not disturb the demo investor.
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
from typing import Any

import bcrypt
import pandas as pd
import pytest
from sqlalchemy import func, select, text
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.scriptrunner import RerunData
from streamlit.testing.v1 import AppTest, local_script_runner

from app import format
from app import investor_ui as ui
from app.textsafe import md
from core import bootstrap, clock, operations
from core.fundmath import multiples, xirr
from core.permissions import Actor
from core.services import calls, payments, pools, users
from db.models import CallItem, CapitalCall, Commitment, Payment, User
from tests.app.manager_support import button, errors, logged_in, question
from tests.conftest import Factory

PASSWORD = "correct-horse-battery"  # the Factory's default
TODAY = date.today()
PAY = "pay-0"  # the payment form's widget keys on a fresh session (app.webapp.form_key)


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
        seeded = uow.session.execute(select(User.id).where(User.username == "investor")).first()
    if seeded is None:
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


def demo_investor() -> AppTest:
    return logged_in("investor", "investor-demo")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at: AppTest, *columns: str) -> Any:
    """The first st.dataframe on the page having these columns."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element
    raise AssertionError(f"no table with columns {columns}")


def frame(at: AppTest, *columns: str) -> Any:
    return table(at, *columns).value


def config(element: Any) -> dict[str, Any]:
    """Each column's st.column_config, by column."""
    return json.loads(element.proto.columns)


def formats(element: Any) -> dict[str, str]:
    return {
        name: c["type_config"]["format"]
        for name, c in config(element).items()
        if "format" in c.get("type_config", {})
    }


def highlighted_rows(element: Any) -> set[int]:
    """The rows a pandas Styler gave a background colour (the CSS Streamlit sends with the table)."""
    rows: set[int] = set()
    for selectors, declarations in re.findall(r"([^{}]+)\{([^}]*)\}", element.proto.arrow_data.styler.styles):
        if "background-color" in declarations:
            rows |= {int(row) for row in re.findall(r"_row(\d+)_col", selectors)}
    return rows


def charts(at: AppTest) -> list[dict[str, Any]]:
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


# Written here on purpose, apart from core.ledger: line -> (journal kind, account, side that adds).
BY_HAND = {
    "committed": ("commitment", "commitment", "C"),
    "called": ("capital_call", "receivable", "D"),
    "paid_in": ("payment", "capital", "C"),
    "distributed": ("distribution", "capital", "D"),
    "fees": ("management_fee", "capital", "D"),
}


def ledger(
    investor_id: int, *, since: date = date(1900, 1, 1), until: date = TODAY, pool_id: int | None = None
) -> dict[str, Any]:
    """The investor's figures read from the entries by hand, independently of the read model."""
    with bootstrap.unit_of_work() as uow:
        rows = uow.session.execute(
            text(
                """SELECT j.kind, e.account, e.side, j.effective_date, sum(e.amount)
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.investor_id = :i AND j.effective_date BETWEEN :since AND :until
                      AND (CAST(:pool AS bigint) IS NULL OR e.pool_id = :pool)
                    GROUP BY j.kind, e.account, e.side, j.effective_date"""
            ),
            {"i": investor_id, "since": since, "until": until, "pool": pool_id},
        ).all()
    zero = Decimal(0)
    figures: dict[str, Any] = dict.fromkeys(BY_HAND, zero)
    nav, flows = zero, []
    for kind, account, side, day, value in rows:
        for name, (k, a, adds) in BY_HAND.items():
            if (kind, account) == (k, a):
                figures[name] += value if side == adds else -value
        if account == "capital":
            credit = value if side == "C" else -value
            nav += credit
            if kind in ("payment", "distribution"):
                flows.append((day, -credit))
    figures.update(nav=nav, flows=sorted(flows), outstanding=figures["called"] - figures["paid_in"])
    figures["unfunded"] = figures["committed"] - figures["called"]
    return figures


# --- the demo investor -------------------------------------------------------------------------------


def test_portfolio_shows_the_ledgers_totals(demo: dict[str, int]) -> None:
    at = demo_investor()
    assert [t.value for t in at.title] == ["Portfolio"]
    expected = ledger(demo["investor"])
    shown = metrics(at)
    assert shown["Committed"] == format.money(expected["committed"], "USD") == "$650,000.00"
    assert shown["Paid-in"] == format.money(expected["paid_in"], "USD")
    assert shown["Unfunded"] == format.money(expected["committed"] - expected["called"], "USD")  # ILPA
    assert shown["Distributed"] == format.money(expected["distributed"], "USD")
    assert shown["NAV"] == format.money(expected["nav"], "USD")
    assert shown["Total value"] == format.money(expected["nav"] + expected["distributed"], "USD")
    assert shown["Outstanding calls"] == format.money(expected["outstanding"], "USD") == "$50,000.00"
    ratios = multiples(expected["paid_in"], expected["distributed"], expected["nav"])
    assert shown["TVPI"] == format.multiple(ratios.tvpi) and shown["DPI"] == format.multiple(ratios.dpi)
    assert shown["RVPI"] == format.multiple(ratios.rvpi)
    assert shown["IRR"] == format.percent(xirr([*expected["flows"], (TODAY, expected["nav"])]))
    # One row per pool, numbers kept as numbers (multiples and IRR too, formatted by the column).
    holdings = at.dataframe[0]
    rows = holdings.value.set_index("Pool")
    assert set(rows.index) == {"Growth SPV 2024", "Climate Ventures II"}
    growth = ledger(demo["investor"], pool_id=demo["pool:Growth SPV 2024"])
    assert amount(rows.loc["Growth SPV 2024", "Paid-in"]) == growth["paid_in"]
    assert amount(rows.loc["Growth SPV 2024", "Unfunded"]) == growth["unfunded"] == Decimal("100000")
    assert amount(rows.loc["Climate Ventures II", "Committed"]) == Decimal("150000")
    assert isinstance(rows.loc["Growth SPV 2024", "IRR"], Decimal)
    assert {c: formats(holdings)[c] for c in ("TVPI", "DPI", "RVPI", "IRR", "Paid-in")} == {
        "TVPI": "%.2fx",
        "DPI": "%.2fx",
        "RVPI": "%.2fx",
        "IRR": "percent",
        "Paid-in": "dollar",
    }
    # Internal columns are gone so the table fits (strategy and status are on the pool's page).
    assert list(holdings.value.columns) == [
        "Pool", "Committed", "Paid-in", "Unfunded", "Distributed", "NAV", "TVPI", "DPI", "RVPI", "IRR"
    ]  # fmt: skip
    assert holdings.proto.placeholder == "n/a"
    assert "n/a:" in config(holdings)["IRR"]["help"] and "n/a:" in config(holdings)["TVPI"]["help"]
    assert at.get("plotly_chart"), "the J-curve is drawn"


def test_a_figure_that_does_not_exist_says_n_a_and_why(make: Factory) -> None:
    """An investor with only a commitment: no multiples, no IRR; n/a, with a tooltip saying why."""
    pool_id, manager = make.pool(name="Just Committed Fund")
    _, person = make.commitment(pool_id, amount="50000", accept_as=manager)
    at = logged_in(person.username)
    [metric] = [m for m in at.metric if m.label == "IRR"]
    assert metric.value == "n/a" and metric.proto.help.startswith("n/a: ")
    assert {m.label: m.value for m in at.metric}["TVPI"] == "n/a"
    row = at.dataframe[0].value.iloc[0]
    assert all(pd.isna(row[c]) for c in ("TVPI", "DPI", "RVPI", "IRR"))  # empty cells: the placeholder


def test_the_charts_draw_the_ledgers_figures(demo: dict[str, int]) -> None:
    """Each chart tab draws the ledger's figures: the J-curve ends on the totals, contributions go
    down and distributions up, allocations add up to the NAV (the tabs draw only when open)."""
    expected = ledger(demo["investor"])
    at = demo_investor()
    [j_curve] = charts(at)
    lines = {trace["name"]: trace["y"] for trace in j_curve["data"]}
    assert amount(lines["Paid-in (cumulative)"][-1]) == expected["paid_in"]
    assert amount(lines["Distributions (cumulative)"][-1]) == expected["distributed"]
    assert amount(lines["NAV"][-1]) == expected["nav"]
    [chart] = at.get("plotly_chart")
    assert json.loads(chart.proto.config) == {"displayModeBar": False}  # no toolbar over the legend

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
    for drawn in charts(at):
        assert sum(amount(v) for v in drawn["data"][0]["values"]) == expected["committed"]


def test_a_pool_with_no_nav_draws_no_slice(make: Factory) -> None:
    """Two pools, one with NAV and one with a commitment only: the NAV donuts leave the second out
    and say so, rather than drawing a 0% slice."""
    with clock.travel(TODAY - timedelta(days=30)):
        paid, manager = make.pool(name="Paid Slice Fund")
        _, person = make.commitment(paid, amount="100000", accept_as=manager)
        empty, other_manager = make.pool(name="Empty Slice Fund")
        make.commitment(empty, investor=person, amount="100000", accept_as=other_manager)
        with bootstrap.unit_of_work() as uow:
            pools.close_pool(manager, uow, paid)
    issue_call(manager, paid, 20)
    pay_by_service(person, paid)
    at = logged_in(person.username)
    at.session_state["portfolio-charts"] = "Allocation"
    at.run()
    by_pool = next(c for c in charts(at) if c["layout"]["title"]["text"] == "By pool (NAV, USD)")["data"][0]
    assert by_pool["labels"] == ["Paid Slice Fund"] and all(v > 0 for v in by_pool["values"])
    assert md("Not drawn, with no NAV above zero: Empty Slice Fund.") in texts(at)


def test_every_figure_follows_the_range(demo: dict[str, int]) -> None:
    at = demo_investor()
    at.segmented_control(key=ui.RANGE_KEY).set_value("ytd").run()
    assert not at.exception, at.exception
    start = date(TODAY.year, 1, 1)
    before = ledger(demo["investor"], until=start - timedelta(days=1))
    during = ledger(demo["investor"], since=start)
    shown = metrics(at)
    assert shown["Paid-in"] == format.money(during["paid_in"], "USD")
    assert shown["Distributed"] == format.money(during["distributed"], "USD")
    assert shown["NAV at start"] == format.money(before["nav"], "USD")
    assert shown["NAV"] == format.money(ledger(demo["investor"])["nav"], "USD")
    flows = [(start, -before["nav"])] if before["nav"] else []
    flows += [*during["flows"], (TODAY, ledger(demo["investor"])["nav"])]
    assert shown["IRR"] == format.percent(xirr(flows))
    # The range follows the investor to the next page.
    at.switch_page("pages/investor_pool_detail.py").run()
    assert at.segmented_control(key=ui.RANGE_KEY).value == "ytd"


def shows_the_ledger_for(at: AppTest, investor_id: int, growth_id: int, start: date, end: date) -> None:
    """The metrics and the Growth SPV 2024 row are the ledger's for start..end."""
    assert not at.exception, at.exception
    before = ledger(investor_id, until=start - timedelta(days=1))
    during = ledger(investor_id, since=start, until=end)
    upto = ledger(investor_id, until=end)
    shown = metrics(at)
    assert shown["Paid-in"] == format.money(during["paid_in"], "USD")
    assert shown["Distributed"] == format.money(during["distributed"], "USD")
    assert shown["NAV at start"] == format.money(before["nav"], "USD")
    assert shown["NAV"] == format.money(upto["nav"], "USD")
    assert shown["Unfunded"] == format.money(upto["unfunded"], "USD")
    growth = frame(at, "Pool", "Paid-in").set_index("Pool").loc["Growth SPV 2024"]
    in_growth = ledger(investor_id, since=start, until=end, pool_id=growth_id)
    assert amount(growth["Paid-in"]) == in_growth["paid_in"]
    assert amount(growth["Distributed"]) == in_growth["distributed"]


def test_last_12_months_and_a_custom_range_drive_the_page(demo: dict[str, int]) -> None:
    """The other two ranges through the page's own controls; each window is chosen so that a
    figure differs from since inception, so a range that was ignored would show."""
    whole = ledger(demo["investor"])
    at = demo_investor()

    at.segmented_control(key=ui.RANGE_KEY).set_value("last_12_months").run()
    start = TODAY.replace(year=TODAY.year - 1) + timedelta(days=1)
    assert ledger(demo["investor"], since=start)["paid_in"] != whole["paid_in"]
    shows_the_ledger_for(at, demo["investor"], demo["pool:Growth SPV 2024"], start, TODAY)

    at.segmented_control(key=ui.RANGE_KEY).set_value("custom").run()
    assert not at.exception, at.exception
    at.date_input(key=ui.DATES_KEY).set_value((TODAY - timedelta(days=845),)).run()  # the first day only
    assert "Pick the last day of the range too." in [i.value for i in at.info]
    assert not at.metric
    start, end = TODAY - timedelta(days=845), TODAY - timedelta(days=700)  # the demo's first call, paid
    at.date_input(key=ui.DATES_KEY).set_value((start, end)).run()
    window = ledger(demo["investor"], since=start, until=end)
    assert window["paid_in"] > 0 and window["distributed"] != whole["distributed"]
    shows_the_ledger_for(at, demo["investor"], demo["pool:Growth SPV 2024"], start, end)
    assert f"Figures {start.isoformat()} to {end.isoformat()}." in texts(at)


def test_pool_detail_shows_the_capital_account_and_every_transaction(demo: dict[str, int]) -> None:
    at = demo_investor()
    growth_id = demo["pool:Growth SPV 2024"]
    at.query_params["pool"] = str(growth_id)
    at.switch_page("pages/investor_pool_detail.py").run()
    assert not at.exception, at.exception
    assert "Growth SPV 2024" in [h.value for h in at.header]
    expected = ledger(demo["investor"], pool_id=growth_id)
    account = frame(at, "Line", "Amount").set_index("Line")["Amount"]
    assert amount(account["Commitment"]) == expected["committed"] == Decimal("500000")
    assert amount(account["Ending NAV"]) == expected["nav"]
    assert amount(account["Contributions"]) == expected["paid_in"]
    assert amount(account["Distributions"]) == -expected["distributed"]
    assert amount(account["Management fees"]) == -expected["fees"]
    assert amount(account["Unfunded commitment, ending"]) == expected["unfunded"] == Decimal("100000")
    for line in ("Realized gain/(loss)", "Change in unrealized gain/(loss)", "Carried interest"):
        assert line in account.index
    assert amount(account["Carried interest"]) < 0  # the demo's second distribution paid carry
    transactions = frame(at, "Type", "Description")
    assert list(transactions.columns) == ["Date", "Type", "Description", "Amount", "NAV effect"]
    described = list(transactions["Description"])
    assert "Capital call 3 (Beacon Health follow-on)" in described
    paid = transactions[transactions["Type"] == "Contributions"]
    assert all(
        # (other tests of this folder may pay the demo's open call 3 with references of their own)
        re.fullmatch(r"Capital call \d+ \(.+\), paid by wire \S.*", d)
        for d in paid["Description"]
    )
    assert not any(re.search(r"\bJ\d+\b|call item|journal", d, re.I) for d in described)
    assert set(transactions["Type"]) >= {
        "Commitment",
        "Capital called",
        "Contributions",
        "Management fees",
        "Change in unrealized gain/(loss)",
        "Realized gain/(loss)",
        "Distributions",
        "Carried interest",
    }
    calls_table = frame(at, "Capital call", "Due date")
    assert list(calls_table["Status"]) == ["Paid", "Paid", "Open"]
    assert list(calls_table["Due"])[:2] == ["Paid", "Paid"]  # never a negative count of days
    assert re.fullmatch(r"Due (today|in \d+ days?)", list(calls_table["Due"])[2])
    # Its documents: none shared on the bare demo, or what other tests of this folder shared since.
    assert "No documents have been shared for this pool yet." in texts(at) or any(
        "Document" in d.value.columns for d in at.dataframe
    )


def test_capital_calls_statements_and_open_pools_render(demo: dict[str, int]) -> None:
    at = demo_investor()
    at.switch_page("pages/investor_capital_calls.py").run()
    assert not at.exception, at.exception
    shown = metrics(at)
    expected = ledger(demo["investor"])
    assert shown["Outstanding (USD)"] == format.money(expected["outstanding"], "USD") == "$50,000.00"
    assert shown["Paid-in to date (USD)"] == format.money(expected["paid_in"], "USD")
    [overdue] = [m for m in at.metric if m.label == "Overdue (USD)"]
    assert (overdue.value, overdue.delta) == ("$0.00", "0 items")
    items = table(at, "Capital call", "Due")
    assert list(items.value["Capital call"]) == ["Capital call 3 (Beacon Health follow-on)"]
    assert list(items.value["Status"]) == ["Open"]
    assert highlighted_rows(items) == set(), "an item not yet due is not highlighted"
    due = list(items.value["Due date"])[0]
    assert at.selectbox(key=f"{PAY}-item").options == [
        f"Growth SPV 2024 · Capital call 3 (Beacon Health follow-on) · due {due.isoformat()}"
    ]
    assert at.selectbox(key=f"{PAY}-item").value is None, "nothing is chosen for the investor"
    assert at.text_input(key=f"{PAY}-amount").value == "" and at.button(key=f"{PAY}-confirm-ask").disabled

    at.switch_page("pages/investor_statements.py").run()
    assert not at.exception, at.exception
    assert [d.label for d in at.get("download_button")] == [
        "Capital account statement (CSV)",
        "Transaction history (CSV)",
    ]
    account = frame(at, "Pool", "Line", "Amount")
    growth = account[account["Pool"] == "Growth SPV 2024"].set_index("Line")["Amount"]
    assert (
        amount(growth["Ending NAV"]) == ledger(demo["investor"], pool_id=demo["pool:Growth SPV 2024"])["nav"]
    )

    at.switch_page("pages/investor_open_pools.py").run()
    assert not at.exception, at.exception
    listed = table(at, "Raised", "Room").value.set_index("Pool")
    assert "Seed Fund I" in listed.index and "Growth SPV 2024" not in listed.index
    with bootstrap.unit_of_work() as uow:
        cap, target, accepted = uow.session.execute(
            text(
                """SELECT p.hard_cap, p.target_size,
                          coalesce(sum(c.amount_accepted) FILTER (WHERE c.status = 'accepted'), 0)
                     FROM pools p LEFT JOIN commitments c ON c.pool_id = p.id
                    WHERE p.id = :p GROUP BY p.id"""
            ),
            {"p": demo["pool:Seed Fund I"]},
        ).one()
    seed_fund = listed.loc["Seed Fund I"]
    assert accepted > 0 and Decimal(str(seed_fund["Raised"])).quantize(Decimal("0.0001")) == (
        accepted / target
    ).quantize(Decimal("0.0001"))
    assert amount(seed_fund["Room"]) == cap - accepted


@pytest.fixture
def deferred_files(monkeypatch: pytest.MonkeyPatch) -> dict[str, MediaFileManager]:
    """The media file manager each deferred download was registered with, by its file id."""
    managers: dict[str, MediaFileManager] = {}
    real = MediaFileManager.add_deferred

    def add_deferred(self: MediaFileManager, *args: Any, **kwargs: Any) -> str:
        file_id = real(self, *args, **kwargs)
        managers[file_id] = self
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return managers


def download(button_: Any, managers: dict[str, MediaFileManager]) -> list[dict[str, str]]:
    """What the browser gets when the button is clicked: Streamlit runs the deferred builder then."""
    file_id = button_.proto.deferred_file_id
    manager = managers[file_id]
    url = manager.execute_deferred(file_id)
    content = manager._storage.get_file(url.rsplit("/", 1)[-1]).content
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_statement_files_hold_what_the_page_shows(
    demo: dict[str, int], deferred_files: dict[str, MediaFileManager], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.views import investor

    built = {"capital_account_csv": 0, "transactions_csv": 0}

    def counted(name: str, real: Any) -> Any:
        def build(*args: Any, **kwargs: Any) -> Any:
            built[name] += 1
            return real(*args, **kwargs)

        return build

    for name in built:
        monkeypatch.setattr(investor, name, counted(name, getattr(investor, name)))
    at = demo_investor()
    at.switch_page("pages/investor_statements.py").run()
    at.run()  # a rerun (any widget change) builds nothing either
    assert not at.exception, at.exception
    buttons = {b.label: b for b in at.get("download_button")}
    assert built == {"capital_account_csv": 0, "transactions_csv": 0}, "nothing built on render"

    account = download(buttons["Capital account statement (CSV)"], deferred_files)
    on_screen = frame(at, "Pool", "Line", "Amount")
    assert [(r["Pool"], r["Line"], Decimal(r["Amount"])) for r in account] == [
        (pool, line, amount(value)) for pool, line, value in on_screen[["Pool", "Line", "Amount"]].values
    ]
    history = download(buttons["Transaction history (CSV)"], deferred_files)
    assert built == {"capital_account_csv": 1, "transactions_csv": 1}
    assert (
        "Journal" not in history[0]
        and history[0]["Date"] == date.fromisoformat(history[0]["Date"]).isoformat()
    )
    on_screen = frame(at, "Type", "Description", "NAV effect")
    assert [
        (r["Type"], r["Description"], Decimal(r["Amount"]), Decimal(r["NAV effect"])) for r in history
    ] == [
        (kind, what, amount(value), amount(effect))
        for kind, what, value, effect in on_screen[["Type", "Description", "Amount", "NAV effect"]].values
    ]
    assert len(history) > 10


def run_fragment(at: AppTest, key: str) -> AppTest:
    """One timed rerun of a fragment, as the browser requests it every run_every seconds."""
    [fragment_id] = at._fragment_storage.resolve_target(key)
    scoped = functools.partial(RerunData, fragment_id_queue=[fragment_id], is_fragment_scoped_rerun=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(local_script_runner, "RerunData", scoped)
        at.run()
    assert not at.exception, at.exception
    return at


def bar_text(at: AppTest) -> str:
    [bar] = at.get("progress")
    return bar.proto.text


def test_fundraising_progress_is_live_while_the_page_is_open(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_id, manager = make.pool(target_size="1000000", hard_cap="1500000")
    make.commitment(pool_id, amount="100000", accept_as=manager)
    person = make.user("investor")
    at = logged_in(person.username)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-0-pool").set_value(pool_id).run()
    assert not at.exception, at.exception
    assert bar_text(at).startswith(md("$100,000.00 committed of a $1,000,000.00 target · 1 investor · "))

    reads: list[int] = []
    real = pools.fundraising
    monkeypatch.setattr(pools, "fundraising", lambda *args: reads.append(args[2]) or real(*args))
    run_fragment(at, ui.LIVE_FUNDRAISING)
    assert not at.title, "only the fragment ran, not the page"
    assert reads == [], "no change: nothing re-read"

    make.commitment(pool_id, amount="250000", accept_as=manager)
    make.commitment(pool_id, amount="40000")
    run_fragment(at, ui.LIVE_FUNDRAISING)
    assert reads == [pool_id]
    assert bar_text(at) == md(
        "$350,000.00 committed of a $1,000,000.00 target · 2 investors · $40,000.00 pending · "
        "room under the hard cap $1,150,000.00"
    )


# --- commitments: investors of the tests' own -----------------------------------------------------------


@pytest.fixture(scope="module")
def nearly_full(make: Factory) -> int:
    """An open pool, tickets 10,000 to 500,000, with 300,000 left under its hard cap."""
    pool_id, manager = make.pool(
        name="Nearly Full Fund", hard_cap="1500000", min_ticket="10000", max_ticket="500000"
    )
    for value in ("500000", "500000", "200000"):
        make.commitment(pool_id, amount=value, accept_as=manager)
    return pool_id


def commitments_of(investor_id: int) -> int:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(func.count()).select_from(Commitment).where(Commitment.investor_id == investor_id)
        ).scalar_one()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("5000", "Amount is below the minimum ticket of $10,000.00"),
        ("600000", "Amount is above the maximum ticket of $500,000.00"),
        ("400000", "Amount is above the room left under the hard cap, $300,000.00"),
        ("ten thousand", "Amount is not a number"),
        ("-20000", "Amount must be greater than zero"),
    ],
)
def test_the_commit_form_refuses_in_the_users_words_and_writes_nothing(
    make: Factory, nearly_full: int, typed: str, message: str
) -> None:
    person = make.user("investor")
    at = logged_in(person.username)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-0-pool").set_value(nearly_full).run()
    at.text_input(key="commit-0-amount").input(typed)
    at = button(at, "Commit").click().run()
    assert not at.exception, at.exception
    [shown] = errors(at)
    assert shown.startswith(md(message)) and not re.match(r"^[a-z_]+:", shown)  # no field code
    assert commitments_of(person.user_id) == 0 and not at.success


def test_commit_then_withdraw_after_a_question(make: Factory, nearly_full: int) -> None:
    person = make.user("investor")
    at = logged_in(person.username)
    at.switch_page("pages/investor_open_pools.py").run()
    at.selectbox(key="commit-0-pool").set_value(nearly_full).run()
    at.text_input(key="commit-0-amount").input("250000")
    at = button(at, "Commit").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert [s.value for s in at.success] == [
        md("Commitment of $250,000.00 to Nearly Full Fund submitted; the manager will review it.")
    ]
    assert at.selectbox(key="commit-1-pool").value is None, "the form starts empty again"
    assert "requested on" in texts(at) and commitments_of(person.user_id) == 1
    [ask] = [b.key for b in at.button if b.key and b.key.startswith("withdraw-")]
    line_id = ask.split("-")[1]
    asked = question(at, f"withdraw-{line_id}")
    assert "Withdraw your commitment of Nearly Full Fund: \\$250,000.00?" in asked
    with bootstrap.unit_of_work() as uow:
        assert uow.session.get(Commitment, int(line_id)).status == "pending", "a question changes nothing"
    confirm_only = at.button(key=f"withdraw-{line_id}-yes").click().run()
    assert [s.value for s in confirm_only.success] == [
        md("Your commitment of Nearly Full Fund: $250,000.00 was withdrawn.")
    ]
    with bootstrap.unit_of_work() as uow:
        assert uow.session.get(Commitment, int(line_id)).status == "withdrawn"
    assert "requested on" not in texts(confirm_only)


# --- paying a call item: the form bound to the item ----------------------------------------------------


def issue_call(manager: Actor, pool_id: int, percent: int, due_in: int = 20, called: int = 10) -> None:
    """A capital call of `percent` of commitments, called `called` days ago, due in `due_in` days."""
    request = {
        "percent": str(percent),
        "purpose": f"{percent}% call",
        "call_date": (TODAY - timedelta(days=called)).isoformat(),
        "due_date": (TODAY + timedelta(days=due_in)).isoformat(),
    }
    with bootstrap.unit_of_work() as uow:
        status = calls.issue(manager, uow, calls.preview(manager, uow, pool_id, request).command)
    assert operations.process(str(status.id), bootstrap.unit_of_work) == "done"


def called_pool(make: Factory, *calls_: tuple[int, int], name: str | None = None) -> tuple[int, Any, Any]:
    """A closed pool with one investor (100,000) and a call per (percent, due in days) given."""
    with clock.travel(TODAY - timedelta(days=30)):
        pool_id, manager = make.pool(**({"name": name} if name else {}))
        _, person = make.commitment(pool_id, amount="100000", accept_as=manager)
        with bootstrap.unit_of_work() as uow:
            pools.close_pool(manager, uow, pool_id)
    for number, (percent, due_in) in enumerate(calls_, start=1):
        issue_call(manager, pool_id, percent, due_in, called=20 - number)
    return pool_id, manager, person


def item_rows(pool_id: int) -> list[Any]:
    with bootstrap.unit_of_work() as uow:
        return list(
            uow.session.execute(
                select(
                    CallItem.id,
                    CallItem.investor_id,
                    CallItem.amount_due,
                    CallItem.amount_paid,
                    CallItem.version,
                )
                .join(CapitalCall, CapitalCall.id == CallItem.call_id)
                .where(CapitalCall.pool_id == pool_id)
                .order_by(CapitalCall.number)
            ).all()
        )


def payments_in(pool_id: int) -> list[tuple[int, int, Decimal, str]]:
    """Every payment recorded in the pool: (call item, investor, amount, reference)."""
    with bootstrap.unit_of_work() as uow:
        return [
            tuple(row)
            for row in uow.session.execute(
                select(Payment.call_item_id, Payment.investor_id, Payment.amount, Payment.reference)
                .where(Payment.pool_id == pool_id)
                .order_by(Payment.id)
            )
        ]


def pay_by_service(payer: Actor, pool_id: int, part: Decimal | None = None) -> None:
    """The manager (or the payer) records a payment on the pool's first item, outside the page."""
    item = item_rows(pool_id)[0]
    request = {
        "call_item_id": item.id,
        "item_version": item.version,
        "amount": str(part if part is not None else item.amount_due - item.amount_paid),
        "reference": f"SIDE-{item.id}",
    }
    with bootstrap.unit_of_work() as uow:
        status = payments.record(payer, uow, payments.preview(payer, uow, pool_id, request).command)
    assert operations.process(str(status.id), bootstrap.unit_of_work) == "done"


def choose_item(at: AppTest, item_id: int, key: str = PAY) -> AppTest:
    at.selectbox(key=f"{key}-item").set_value(item_id).run()
    assert not at.exception, at.exception
    return at


def test_overdue_items_are_highlighted_and_counted(make: Factory) -> None:
    _, _, person = called_pool(make, (25, 20), (10, -10))
    at = logged_in(person.username)
    at.switch_page("pages/investor_capital_calls.py").run()
    assert not at.exception, at.exception
    items = table(at, "Capital call", "Due")
    assert list(items.value["Status"]) == ["Overdue", "Open"]  # soonest due first
    assert list(items.value["Due"]) == ["Overdue by 10 days", "Due in 20 days"]
    assert highlighted_rows(items) == {0}
    assert "1 call item past its due date" in at.error[0].value
    assert metrics(at)["Overdue (USD)"] == "$10,000.00"
    [overdue] = [m for m in at.metric if m.label == "Overdue (USD)"]
    assert overdue.delta == "1 item"


def test_choosing_another_item_prefills_its_own_amount(make: Factory) -> None:
    """A 25% and a 10% call: each choice prefills that item's outstanding amount, never the
    previous item's, whatever was typed before."""
    pool_id, _, person = called_pool(make, (25, 20), (10, 40))
    first, second = item_rows(pool_id)
    at = logged_in(person.username)
    at.switch_page("pages/investor_capital_calls.py").run()
    amount = f"{PAY}-amount"
    assert at.text_input(key=amount).value == "", "nothing chosen: no amount to pay yet"
    assert at.button(key=f"{PAY}-confirm-ask").disabled
    choose_item(at, first.id)
    assert at.text_input(key=amount).value == "25000.00"
    at.text_input(key=amount).input("20000").run()
    choose_item(at, second.id)
    assert at.text_input(key=amount).value == "10000.00"  # never the previous item's amount
    choose_item(at, first.id)
    assert at.text_input(key=amount).value == "25000.00"
    assert payments_in(pool_id) == []


def test_paying_asks_first_records_once_on_the_right_item_and_resets_the_form(make: Factory) -> None:
    pool_id, _, person = called_pool(make, (25, 20), (10, 40), name="Right Item Fund")
    first, second = item_rows(pool_id)
    at = logged_in(person.username)
    at.switch_page("pages/investor_capital_calls.py").run()
    choose_item(at, first.id)
    choose_item(at, second.id)  # a changed selection after a prefill
    at.text_input(key=f"{PAY}-reference").input("WIRE-777").run()
    asked = question(at, f"{PAY}-confirm")
    assert asked == md(
        "Record $10,000.00 paid by wire WIRE-777 on Capital call 2 (10% call) of Right Item Fund, "
        f"received {TODAY.isoformat()}? It leaves $0.00 outstanding on this item. A recorded payment cannot "
        "be undone here: only the pool's manager can reverse a wrong one."
    )
    assert payments_in(pool_id) == [], "the question records nothing"
    at.button(key=f"{PAY}-confirm-yes").click().run()
    assert not at.exception and not errors(at), (at.exception, errors(at))
    following = at.session_state["_following"][ui.PAY_FORM]
    assert at.get("progress"), "the operation's progress is shown"
    assert operations.process(following, bootstrap.unit_of_work) == "done"
    at.run()  # the progress fragment sees it done and reruns the whole page once
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [
        md(
            "Payment of $10,000.00 on Capital call 2 (10% call) of Right Item Fund recorded: your paid-in "
            "capital is updated everywhere."
        )
    ]
    # The ledger: one payment, on the item chosen, to this investor.
    assert payments_in(pool_id) == [(second.id, person.user_id, Decimal("10000"), "WIRE-777")]
    # The form is empty again and the paid item is no longer offered.
    chooser = at.selectbox(key="pay-1-item")
    assert chooser.value is None and len(chooser.options) == 1 and "Capital call 1" in chooser.options[0]
    assert at.text_input(key="pay-1-amount").value == at.text_input(key="pay-1-reference").value == ""
    assert at.button(key="pay-1-confirm-ask").disabled
    assert metrics(at)["Paid-in to date (USD)"] == "$10,000.00"
    # A second click after success: the old question is gone, and a rerun records nothing more.
    assert not [b for b in at.button if b.key == f"{PAY}-confirm-yes"]
    at.run()
    assert payments_in(pool_id) == [(second.id, person.user_id, Decimal("10000"), "WIRE-777")]
    paid = [
        d.value
        for d in at.dataframe
        if "Capital call" in d.value.columns and list(d.value["Status"]) == ["Paid"]
    ]
    assert [(list(t["Capital call"]), list(t["Due"])) for t in paid] == [
        (["Capital call 2 (10% call)"], ["Paid"])
    ]


def test_the_same_payment_submitted_twice_is_recorded_once(make: Factory) -> None:
    """Two tabs (or a double click) sending the same previewed payment: one operation, one payment,
    and the second submission is told so."""
    pool_id, _, person = called_pool(make, (25, 20))
    [item] = item_rows(pool_id)
    tabs = [logged_in(person.username), logged_in(person.username)]
    for tab in tabs:
        tab.switch_page("pages/investor_capital_calls.py").run()
        choose_item(tab, item.id)
        tab.text_input(key=f"{PAY}-reference").input("WIRE-TWICE").run()
        question(tab, f"{PAY}-confirm")
    tabs[0].button(key=f"{PAY}-confirm-yes").click().run()
    tabs[1].button(key=f"{PAY}-confirm-yes").click().run()
    assert "This was already recorded, once" in " ".join(i.value for i in tabs[1].info)
    assert (
        tabs[0].session_state["_following"][ui.PAY_FORM] == tabs[1].session_state["_following"][ui.PAY_FORM]
    )
    assert (
        operations.process(tabs[0].session_state["_following"][ui.PAY_FORM], bootstrap.unit_of_work) == "done"
    )
    assert payments_in(pool_id) == [(item.id, person.user_id, Decimal("25000"), "WIRE-TWICE")]


def test_a_stale_item_is_refused_with_the_services_message(make: Factory) -> None:
    """The form shows the item at 25,000 outstanding; meanwhile the manager records 5,000 of it.
    The next step refuses with what changed and records nothing; the form can then be re-read."""
    pool_id, manager, person = called_pool(make, (25, 20))
    [item] = item_rows(pool_id)
    at = logged_in(person.username)
    at.switch_page("pages/investor_capital_calls.py").run()
    choose_item(at, item.id)
    assert at.text_input(key=f"{PAY}-amount").value == "25000.00"
    pay_by_service(manager, pool_id, Decimal("5000"))
    at.button(key=f"{PAY}-confirm-ask").click().run()
    assert not at.exception, at.exception
    [refusal] = errors(at)
    assert "changed since the form was shown" in refusal and "20,000.00" in refusal
    assert "Nothing was recorded" in refusal
    assert not [b for b in at.button if b.key == f"{PAY}-confirm-yes"], "no question about a stale item"
    assert [(p[0], p[2]) for p in payments_in(pool_id)] == [(item.id, Decimal("5000"))]
    button(at, "Show the call item as it is now").click().run()
    assert not errors(at)
    assert at.text_input(key=f"{PAY}-amount").value == "20000.00"


def test_a_vanished_choice_is_dropped_never_replaced_by_another_item(make: Factory) -> None:
    """The chosen item is paid in full elsewhere (the manager records the wire) while the form is
    open: it disappears with a message, and the other open item does not take its place."""
    pool_id, manager, person = called_pool(make, (25, 20), (10, 40))
    first, second = item_rows(pool_id)
    at = logged_in(person.username)
    at.switch_page("pages/investor_capital_calls.py").run()
    choose_item(at, first.id)
    pay_by_service(manager, pool_id)
    at.run()
    assert not at.exception, at.exception
    assert "no longer open" in " ".join(w.value for w in at.warning)
    chooser = at.selectbox(key=f"{PAY}-item")
    assert chooser.value is None and len(chooser.options) == 1, "never replaced by the other item"
    assert at.text_input(key=f"{PAY}-amount").value == "" and at.button(key=f"{PAY}-confirm-ask").disabled
    assert [(p[0], p[1]) for p in payments_in(pool_id)] == [(first.id, person.user_id)]
    assert second.id not in [p[0] for p in payments_in(pool_id)]


# --- the waiting investor -----------------------------------------------------------------------------


def test_an_investor_waiting_for_kyc_is_told_why_and_whom_to_contact(
    make: Factory, demo: dict[str, int]
) -> None:
    make.pool(name="Open To The Approved Fund")
    person = make.user("investor", kyc="pending", accreditation="none")
    with bootstrap.unit_of_work() as uow:
        admin = uow.session.execute(
            select(User.name, User.email).where(User.role == "admin", User.active).order_by(User.id)
        ).first()
    contact = f"{admin.name} ({admin.email})"
    at = logged_in(person.username)
    [info] = at.info
    assert info.value.startswith("You have no investments yet. ") and "(KYC) is pending" in info.value
    assert md(contact) in info.value and "Open pools" not in info.value  # not told to browse in vain

    at.switch_page("pages/investor_open_pools.py").run()
    assert not at.exception, at.exception
    [warning] = at.warning
    assert warning.value.startswith("No pool is listed for you yet.") and md(contact) in warning.value
    assert not at.dataframe

    at.switch_page("pages/investor_capital_calls.py").run()
    [info] = at.info
    assert info.value.startswith("No capital calls yet.") and "(KYC) is pending" in info.value
    assert "every capital call to you is paid" not in texts(at)


def test_an_investor_below_a_pools_accreditation_is_told_which_pools_would_open(make: Factory) -> None:
    make.pool(name="Qualified Purchasers Fund", min_accreditation="qualified_purchaser")
    person = make.user("investor", accreditation="accredited")
    at = logged_in(person.username)
    at.switch_page("pages/investor_open_pools.py").run()
    notes = " ".join(i.value for i in at.info)
    assert "Qualified Purchasers Fund" in notes and "qualified purchaser accreditation" in notes
    assert "yours is accredited" in notes


def test_an_approved_investor_with_nothing_is_pointed_to_open_pools(make: Factory) -> None:
    person = make.user("investor")
    at = logged_in(person.username)
    assert "You have no investments yet. Browse **Open pools** in the menu to commit to one." in texts(at)
    at.switch_page("pages/investor_capital_calls.py").run()
    assert "A capital call comes once a manager has accepted your commitment" in texts(at)
    for page in ("investor_pool_detail", "investor_statements", "investor_open_pools"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)


# --- user text is inert --------------------------------------------------------------------------------

HOSTILE = "[Claim your refund](https://evil.example) **now** www.evil.example"


def markdown_texts(at: AppTest) -> list[str]:
    """Every string the page rendered as markdown (headers, captions, messages, bars, questions)."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
    found = [str(e.value) for kind in kinds for e in at.get(kind)]
    return found + [bar.proto.text for bar in at.get("progress")]


def inert(at: AppTest) -> None:
    assert not at.exception, at.exception
    for value in markdown_texts(at):
        assert not re.search(r"(?<!\\)\]\(", value), value  # a link's "](" only escaped
        assert "https://" not in value and "www.evil" not in value, value  # no autolink either
        assert "**now**" not in value, value


def test_a_pool_or_purpose_written_as_a_link_stays_text_on_every_investor_page(make: Factory) -> None:
    """Names and purposes users typed, written as markdown links, bold and bare URLs, render as the
    characters themselves wherever the investor reads them."""
    with clock.travel(TODAY - timedelta(days=30)):
        pool_id, manager = make.pool(name=HOSTILE[:100])
        _, person = make.commitment(pool_id, amount="100000", accept_as=manager)
        with bootstrap.unit_of_work() as uow:
            pools.close_pool(manager, uow, pool_id)
    request = {"percent": "10", "purpose": HOSTILE, "due_date": (TODAY + timedelta(days=9)).isoformat()}
    with bootstrap.unit_of_work() as uow:
        status = calls.issue(manager, uow, calls.preview(manager, uow, pool_id, request).command)
    assert operations.process(str(status.id), bootstrap.unit_of_work) == "done"
    make.pool(name=f"QP {HOSTILE}"[:100], min_accreditation="qualified_purchaser")
    pending_pool, _ = make.pool(name=f"Pending {HOSTILE}"[:100])
    make.commitment(pending_pool, investor=person, amount="20000")

    at = logged_in(person.username)
    inert(at)
    assert list(at.dataframe[0].value["Pool"]) == [HOSTILE[:100]]  # a table shows text as text
    at.query_params["pool"] = str(pool_id)
    at.switch_page("pages/investor_pool_detail.py").run()
    inert(at)
    assert md(HOSTILE[:100]) in [h.value for h in at.header]
    at.switch_page("pages/investor_open_pools.py").run()
    inert(at)
    assert any("QP" in value for value in markdown_texts(at)), "the locked pool is named, as text"
    at.switch_page("pages/investor_capital_calls.py").run()
    [item] = item_rows(pool_id)
    choose_item(at, item.id)
    at.text_input(key=f"{PAY}-reference").input("[wire](https://evil.example)").run()
    question(at, f"{PAY}-confirm")
    inert(at)
    at.switch_page("pages/investor_statements.py").run()
    inert(at)
