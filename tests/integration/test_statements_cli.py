"""`python -m core statements`: the scheduler's entry point for quarterly capital account statements
(a Kubernetes CronJob or cron runs it a few days after each quarter ends)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core import clock
from core.__main__ import main
from core.services import notices, pools
from db.models import Notice
from tests.conftest import Factory


def statements_of(uow_factory: Callable[[], Any], pool_id: int) -> list[tuple[int, date, date]]:
    with uow_factory() as uow:
        return [
            tuple(row)  # type: ignore[misc]
            for row in uow.session.execute(
                select(Notice.investor_id, Notice.period_start, Notice.period_end)
                .where(Notice.pool_id == pool_id, Notice.kind == "statement")
                .order_by(Notice.investor_id)
            )
        ]


def test_statements_issues_the_last_ended_quarter_once_per_investor(
    make: Factory, uow_factory: Callable[[], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    this_quarter, _ = notices.quarter_of(clock.today())
    last_start, last_end = notices.quarter_of(this_quarter - timedelta(days=1))
    with clock.travel(last_start + timedelta(days=5)):
        pool_id, manager = make.pool()
        investors = [make.commitment(pool_id, amount=a, accept_as=manager)[1] for a in ("100000", "250000")]
        with uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
        late_pool, _ = make.pool()  # open: no statements for a pool still raising

    assert main(["statements"]) == 0
    assert "statement(s) written" in capsys.readouterr().out
    expected = sorted((person.user_id, last_start, last_end) for person in investors)
    assert statements_of(uow_factory, pool_id) == expected
    assert statements_of(uow_factory, late_pool) == []

    # Run again (a retried pod, a manual run): nothing is issued twice.
    assert main(["statements", "--quarter-end", last_end.isoformat()]) == 0
    assert statements_of(uow_factory, pool_id) == expected


def test_statements_refuses_a_day_that_ends_no_quarter(capsys: pytest.CaptureFixture[str]) -> None:
    _, last_end = notices.quarter_of(notices.quarter_of(clock.today())[0] - timedelta(days=1))
    assert main(["statements", "--quarter-end", (last_end - timedelta(days=1)).isoformat()]) == 2
    assert "Quarter must be the last day of a quarter" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["statements", "--quarter-end", "31/03/2026"])
    assert refused.value.code == 2
    assert "must be a date as YYYY-MM-DD" in capsys.readouterr().err
