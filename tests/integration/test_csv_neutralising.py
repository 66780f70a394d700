"""Every CSV the product produces is formula-injection safe, and its numbers stay numbers.

Hostile names (a pool, an investor, a call purpose, a payment reference, a company) go through the
real services into the investor's statement and transaction history, the manager's call notice and
the analyst's chart downloads; each file is read back as a spreadsheet would read it.
"""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app import charts
from core import clock, csvsafe, operations
from core.csvsafe import FORMULA_STARTS
from core.permissions import Actor
from core.services import calls, platform
from core.views import investor, manager
from db.models import CapitalCall, User
from tests.platform_seed import History

POOL_NAME = '=HYPERLINK("https://evil.example","Statement")'
INVESTOR_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"
PURPOSE = "+cmd|' /C notepad'!A0"
REFERENCE = "-2+3+cmd|' /C calc'!A0"


def rows_of(text: str | bytes) -> list[list[str]]:
    data = text.decode() if isinstance(text, bytes) else text
    return list(csv.reader(io.StringIO(data)))


def assert_safe(rows: list[list[str]]) -> None:
    """No cell a spreadsheet would evaluate: text starting = + - @ tab CR is quoted; a cell that
    starts with - must be a plain number (a negative amount), never a formula."""
    for row in rows:
        for value in row:
            if value[:1] in FORMULA_STARTS:
                assert value[:1] == "-", f"unneutralised cell {value!r}"
                try:
                    Decimal(value)
                except InvalidOperation:
                    raise AssertionError(f"a formula passed as a number: {value!r}") from None


def numbers_in(rows: list[list[str]]) -> list[Decimal]:
    found = []
    for row in rows[1:]:
        for value in row:
            with contextlib.suppress(InvalidOperation):
                found.append(Decimal(value))
    return found


def hostile_pool(make: Any) -> tuple[int, Actor, Actor, int]:
    """A pool with a formula for a name, an investor with one, a call with one for a purpose, paid
    with one for a wire reference: each through the services."""
    start = date.today() - timedelta(days=20)
    with clock.travel(start):
        pool_id, boss = make.pool(name=POOL_NAME, hard_cap="2000000")
    holder = make.user("investor")
    with make.uow_factory() as uow:  # the investor's display name is hostile too
        uow.session.get(User, holder.user_id).name = INVESTOR_NAME
        uow.commit()
    with clock.travel(start + timedelta(days=1)):
        make.commitment(pool_id, holder, amount="100000", accept_as=boss)
    fund = History(make.uow_factory, boss, pool_id)
    fund.close(start + timedelta(days=2))
    with clock.travel(start + timedelta(days=3)), make.uow_factory() as uow:
        status = calls.issue(
            boss, uow, calls.preview(boss, uow, pool_id, {"percent": "25", "purpose": PURPOSE}).command
        )
    with clock.travel(start + timedelta(days=3)):
        assert operations.process(str(status.id), make.uow_factory) == "done"
    [item] = fund.items()
    fund.pay(item, start + timedelta(days=4), reference=REFERENCE)
    with make.uow_factory() as uow:
        call_id = uow.session.execute(
            select(CapitalCall.id).where(CapitalCall.pool_id == pool_id)
        ).scalar_one()
    return pool_id, boss, holder, call_id


def test_statement_and_transaction_history_csvs_are_neutralised(make):
    pool_id, _, holder, _ = hostile_pool(make)
    period = investor.period_for("inception")
    with make.uow_factory() as uow:
        account = investor.capital_account_csv(holder, uow, period, pool_id)
    with make.uow_factory() as uow:
        history = investor.transactions_csv(holder, uow, period, pool_id)
    for text in (account, history):
        rows = rows_of(text)
        assert len(rows) > 1
        assert_safe(rows)
    cells = {value for row in rows_of(account) + rows_of(history) for value in row}
    assert "'" + POOL_NAME in cells and POOL_NAME not in cells
    assert "'" + REFERENCE in cells or any(c.startswith("'" + REFERENCE) for c in cells)
    # Numbers stay numbers: the paid call is 25,000.00 in and a negative outflow somewhere.
    amounts = numbers_in(rows_of(history))
    assert Decimal("25000.00") in {abs(a) for a in amounts}


def test_the_call_notice_csv_is_neutralised(make):
    pool_id, boss, holder, call_id = hostile_pool(make)
    with make.uow_factory() as uow:
        notice = manager.call_notice_csv(boss, uow, call_id)
    rows = rows_of(notice)
    assert_safe(rows)
    header, line = rows[0], rows[1]
    record = dict(zip(header, line, strict=True))
    assert record["pool"] == "'" + POOL_NAME
    assert record["purpose"] == "'" + PURPOSE
    assert record["investor_name"] == "'" + INVESTOR_NAME
    assert Decimal(record["amount_due"]) == Decimal("25000.00")  # a number, not quoted text
    assert Decimal(record["outstanding"]) == 0


def test_chart_data_csvs_are_neutralised_and_numbers_stay_numbers(make):
    pool_id, _, _, _ = hostile_pool(make)
    analyst = make.user("analyst")
    with make.uow_factory() as uow:
        data = platform.explorer(analyst, uow)
        months = platform.explorer_flows(analyst, uow)
        curves = platform.compare_pools(analyst, uow, [pool_id])
    currency = next(p.currency for p in data.pools if p.pool_id == pool_id)
    frames = [
        charts.pools_frame(data),
        charts.vintages_frame(data),
        charts.flows_frame(months, currency),
        charts.curves_frame(curves),
        charts.multiples_frame(curves),
    ]
    for frame in frames:
        rows = rows_of(csvsafe.frame_to_csv(frame))
        assert len(rows) >= 2
        assert_safe(rows)
    pools_rows = rows_of(csvsafe.frame_to_csv(frames[0]))
    record = next(dict(zip(pools_rows[0], r, strict=True)) for r in pools_rows[1:] if r[0] == "'" + POOL_NAME)
    assert record["Paid-in"] == "25000.00" and record["Committed"] == "100000.00"


def test_one_neutraliser_numbers_stay_numbers_text_is_quoted():
    out = rows_of(
        csvsafe.csv_text(
            ["=header", "n"],
            [[Decimal("-125.50"), -3], ["-125.50", 1.5], [Decimal("1E+3"), None], ["\tx", "plain"]],
        )
    )
    assert out == [
        ["'=header", "n"],
        ["-125.50", "-3"],  # numbers untouched, negative or not
        ["'-125.50", "1.5"],  # text that merely looks like a number is still text
        ["1000", ""],  # a Decimal in plain notation; None is empty
        ["'\tx", "plain"],
    ]
    assert manager.csv_text is csvsafe.csv_text  # the manager's call notice uses the same rule
