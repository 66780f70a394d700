"""CSV exports: formula injection neutralised, numbers kept exact, large exports built in batches by
an operation (and rerun safely), a million rows in bounded memory, and admins only."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import select, text

from core import clock, operations
from core.csvsafe import FORMULA_STARTS, neutralise, sql_text
from core.errors import PermissionDenied, ValidationError
from core.ledger.checks import unbalanced_journals
from core.permissions import Actor
from core.services import calls, exports, users
from db.models import AuditLog, Entry, Operation
from tests.platform_seed import History, ledger_figures

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
EVIL_POOL = '=HYPERLINK("http://evil","x")'
EVIL_NOTE = "@SUM(1)"
TODAY = date.today()


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def export(actor: Actor, uow_factory: Any, report: str, **kwargs: Any) -> list[dict[str, str]]:
    with uow_factory() as uow:
        started = exports.start_export(actor, uow, report, enqueue=False, **kwargs)
    assert started.data is not None, "a small export comes back inline"
    return parse(started.data)


def assert_no_formula(rows: list[dict[str, str]]) -> None:
    """Every cell a spreadsheet could run is either a number or starts with the neutralising quote."""
    for row in rows:
        for cell in row.values():
            if cell and cell[0] in FORMULA_STARTS:
                assert cell[0] == "-", f"unneutralised cell {cell!r}"
                D(cell)  # raises unless it is a number, e.g. a loss of -1234.56


@pytest.fixture
def evil_pool(make: Any, uow_factory: Any) -> dict[str, Any]:
    """A pool whose name is a formula, an investor whose name starts with @, a capital call whose
    purpose starts with +, a payment whose wire reference starts with =, and a loss booked by a
    mark whose note starts with @SUM(1): each through the services, on its own day."""
    start = TODAY - timedelta(days=30)
    with clock.travel(start):
        pool_id, manager = make.pool(name=EVIL_POOL, hard_cap="2000000")
    with uow_factory() as uow:
        investor_id, _ = users.create_user(
            Actor.system(),
            uow,
            f"evil{pool_id}",
            name="@Mallory -1+2",
            email=f"evil{pool_id}@example.com",
            role="investor",
            password="correct-horse-battery",
            kyc_status="approved",
            accreditation="accredited",
        )
    investor = Actor(investor_id, "investor", f"evil{pool_id}")
    with clock.travel(start + timedelta(days=1)):
        make.commitment(pool_id, investor, amount="100000.10", accept_as=manager)
    fund = History(uow_factory, manager, pool_id)
    fund.close(start + timedelta(days=2))
    with clock.travel(start + timedelta(days=3)), uow_factory() as uow:
        call = calls.preview(manager, uow, pool_id, {"percent": "25", "purpose": "+1 call"}).command
        status = calls.issue(manager, uow, call)
    with clock.travel(start + timedelta(days=3)):
        assert operations.process(str(status.id), uow_factory) == "done"
    [item] = fund.items()
    fund.pay(item, start + timedelta(days=4), amount=D("25000.03"), reference="=1+1 wire")
    company = fund.invest("Evil Co", "20000", start + timedelta(days=5))
    fund.mark(company, "18765.44", start + timedelta(days=6), note=EVIL_NOTE)
    return {"pool_id": pool_id, "manager": manager, "investor": investor, "fund": fund}


def test_python_and_sql_neutralise_alike(uow_factory: Any) -> None:
    samples = [
        EVIL_POOL,
        EVIL_NOTE,
        "+31 20",
        "-2",
        "\tx",
        "\rx",
        "plain",
        "",
        "'=already",
        " =space first",
        "naïve =",
        "@",
    ]
    with uow_factory() as uow:
        for sample in samples:
            assert uow.session.execute(
                text(f"SELECT {sql_text(':v')}"), {"v": sample}
            ).scalar_one() == neutralise(sample)
        assert uow.session.execute(text(f"SELECT {sql_text('CAST(NULL AS text)')}")).scalar_one() is None
    assert neutralise(D("-12.50")) == D("-12.50") and neutralise(-3) == -3, "numbers stay numbers"
    assert neutralise(EVIL_POOL) == "'" + EVIL_POOL


def test_exports_neutralise_formulas_and_keep_amounts_exact(
    evil_pool: dict[str, Any], make: Any, uow_factory: Any
) -> None:
    admin = make.user("admin")
    pool_id, investor = evil_pool["pool_id"], evil_pool["investor"]

    transactions = [r for r in export(admin, uow_factory, "transactions") if r["pool_id"] == str(pool_id)]
    assert_no_formula(transactions)
    assert {r["pool_name"] for r in transactions} == {"'" + EVIL_POOL}
    memos = {r["memo"] for r in transactions}
    assert any(memo.endswith(EVIL_NOTE) for memo in memos) and any(
        memo.endswith("wire =1+1 wire") for memo in memos
    )
    assert {r["investor_name"] for r in transactions if r["investor_id"]} == {"'@Mallory -1+2"}
    assert {r["investor_id"] for r in transactions if r["investor_id"]} == {str(investor.user_id)}
    # One row per movement of the read model: each line under its ILPA name, the amount signed as
    # it moves that line, at the currency's precision; the same as the entries by hand.
    assert {(r["line"], r["amount"]) for r in transactions} == {
        ("Commitment", "100000.10"),
        ("Capital called", "25000.03"),  # 25% of 100,000.10, half up
        ("Contributions", "25000.03"),
        ("Cash", "25000.03"),
        ("Cash", "-20000.00"),
        ("Investments at cost", "20000.00"),
        ("Unrealized gain/(loss) on investments", "-1234.56"),
        ("Change in unrealized gain/(loss)", "-1234.56"),
    }
    with uow_factory() as uow:
        entries = uow.session.execute(
            text(
                """SELECT count(*) FROM entries e JOIN journals j ON j.id = e.journal_id WHERE e.pool_id = :p
                    AND NOT (e.account IN ('commitment_memo', 'call_clearing')
                             OR (e.account = 'receivable' AND j.kind = 'payment'))"""
            ),
            {"p": pool_id},
        ).scalar_one()
        ids = set(uow.session.execute(select(Entry.id).where(Entry.pool_id == pool_id)).scalars())
    assert len(transactions) == entries == 8 and {int(r["entry_id"]) for r in transactions} <= ids

    [account] = [r for r in export(admin, uow_factory, "capital_accounts") if r["pool_id"] == str(pool_id)]
    assert_no_formula([account])
    assert account["pool_name"] == "'" + EVIL_POOL
    assert account["unrealized_gain"] == "-1234.56", "a loss is a negative number, not neutralised text"
    assert (account["realized_gain"], account["carried_interest"]) == ("0.00", "0.00")
    assert account["commitment"] == "100000.10"
    assert account["contributions"] == account["called_to_date"] == account["paid_in_to_date"] == "25000.03"
    assert account["unfunded"] == "75000.07" and account["outstanding"] == "0.00"
    assert D(account["closing_nav"]) == D("25000.03") - D("1234.56")
    opening, closing = D(account["opening_nav"]), D(account["closing_nav"])
    movements = (
        D(account["contributions"])
        - D(account["distributions"])
        - D(account["management_fees"])
        + D(account["realized_gain"])
        + D(account["unrealized_gain"])
        - D(account["carried_interest"])
    )
    assert opening + movements == closing
    with uow_factory() as uow:
        by_hand = ledger_figures(uow, pool_id, TODAY, investor.user_id)
    assert D(account["closing_nav"]) == by_hand["nav"] and D(account["unfunded"]) == by_hand["unfunded"]
    # A period: the opening NAV is what came before it, the lines only what moved within it.
    [later] = [
        r
        for r in export(admin, uow_factory, "capital_accounts", since=TODAY - timedelta(days=24))
        if r["pool_id"] == str(pool_id)
    ]
    assert later["opening_nav"] == "25000.03" and later["contributions"] == "0.00"
    assert later["unrealized_gain"] == "-1234.56" and later["closing_nav"] == account["closing_nav"]

    commitments = [r for r in export(admin, uow_factory, "commitments") if r["pool_id"] == str(pool_id)]
    assert_no_formula(commitments)
    assert [(r["pool_name"], r["amount_accepted"], r["status"]) for r in commitments] == [
        ("'" + EVIL_POOL, "100000.10", "accepted")
    ]
    items = [r for r in export(admin, uow_factory, "call_items") if r["pool_id"] == str(pool_id)]
    assert_no_formula(items)
    assert [(r["purpose"], r["amount_due"], r["status"]) for r in items] == [("'+1 call", "25000.03", "paid")]

    audit = export(admin, uow_factory, "audit_log", since=TODAY - timedelta(days=40))
    assert_no_formula(audit)
    created = [r for r in audit if r["action"] == "pool.create" and r["object_id"] == str(pool_id)]
    assert len(created) == 1 and json.loads(created[0]["after"])["name"] == EVIL_POOL


def test_amounts_leave_at_their_currencys_precision(make: Any, uow_factory: Any) -> None:
    """A yen pool's amounts have no decimals; a dollar pool's two, in every CSV (issue 15)."""
    admin = make.user("admin")
    yen, manager = make.pool(
        currency="JPY", target_size="100000000", hard_cap="150000000", max_ticket="50000000"
    )
    make.commitment(yen, amount="1234567", accept_as=manager)
    for report in ("transactions", "capital_accounts", "commitments"):
        [row] = [
            r
            for r in export(admin, uow_factory, report)
            if r["pool_id"] == str(yen) and r.get("line", "Commitment") == "Commitment"
        ]
        assert "1234567" in row.values() and not any(v.startswith("1234567.") for v in row.values()), (
            report,
            row,
        )


def test_the_date_range_selects_rows_and_the_file_says_which(make: Any, uow_factory: Any) -> None:
    admin = make.user("admin")
    with clock.travel(TODAY - timedelta(days=500)):
        pool_id, manager = make.pool()
        make.commitment(pool_id, amount="100000", accept_as=manager)
    fund = History(uow_factory, manager, pool_id)
    fund.close(TODAY - timedelta(days=499))
    fund.call("50", TODAY - timedelta(days=498))
    fund.pay_all(TODAY - timedelta(days=497))
    for days in (400, 40, 4):
        fund.invest(f"Co {days}", "100", TODAY - timedelta(days=days))

    def dates(**kwargs: Any) -> list[str]:
        rows = export(admin, uow_factory, "transactions", **kwargs)
        return sorted(
            {
                r["effective_date"]
                for r in rows
                if r["pool_id"] == str(pool_id) and r["journal_kind"] == "investment"
            }
        )

    assert dates() == sorted(str(TODAY - timedelta(days=d)) for d in (400, 40, 4))
    assert dates(since=TODAY - timedelta(days=40)) == sorted(str(TODAY - timedelta(days=d)) for d in (40, 4))
    assert dates(since=TODAY - timedelta(days=41), until=TODAY - timedelta(days=5)) == [
        str(TODAY - timedelta(days=40))
    ]
    with uow_factory() as uow:
        whole = exports.start_export(admin, uow, "transactions", enqueue=False)
        ranged = exports.start_export(
            admin, uow, "transactions", TODAY - timedelta(days=41), TODAY - timedelta(days=5), enqueue=False
        )
    assert whole.file_name == f"transactions_all_to_{TODAY}.csv"
    assert ranged.file_name == f"transactions_{TODAY - timedelta(days=41)}_to_{TODAY - timedelta(days=5)}.csv"
    with uow_factory() as uow, pytest.raises(ValidationError):
        exports.start_export(admin, uow, "transactions", TODAY, TODAY - timedelta(days=1), enqueue=False)
    with uow_factory() as uow, pytest.raises(ValidationError):
        exports.start_export(admin, uow, "passwords", enqueue=False)


@pytest.mark.parametrize("role", ["analyst", "fund_manager", "investor"])
def test_only_admins_export(make: Any, uow_factory: Any, role: str) -> None:
    person = make.user(role)
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        exports.start_export(person, uow, "transactions", enqueue=False)
    with uow_factory() as uow:
        refusal = uow.session.execute(
            select(AuditLog.action, AuditLog.outcome, AuditLog.object_id)
            .where(AuditLog.actor_id == person.user_id)
            .order_by(AuditLog.id.desc())
            .limit(1)
        ).one()
    assert tuple(refusal) == ("export.request", "refused", "transactions")
    for service, args in (
        (exports.export_to, ("transactions", io.BytesIO())),
        (exports.recent_exports, ()),
        (exports.export_file, ("00000000-0000-0000-0000-000000000000",)),
    ):
        with uow_factory() as uow, pytest.raises(PermissionDenied):
            service(person, uow, *args)
    # The operation kind checks the role too, whoever submits it directly.
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        operations.submit(person, uow, None, "export", {"report": "transactions"})


def test_a_large_export_is_an_operation_written_in_batches(
    evil_pool: dict[str, Any], make: Any, uow_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = make.user("admin")
    with uow_factory() as uow:
        expected = io.BytesIO()
        rows = exports.export_to(admin, uow, "transactions", expected)
    monkeypatch.setattr(exports, "BATCH_ROWS", max(rows // 4, 1))
    with uow_factory() as uow:
        started = exports.start_export(admin, uow, "transactions", inline_limit=0, enqueue=False)
    assert started.data is None and started.operation_id is not None and started.rows == rows

    # The first batch commits; then a worker dies after writing the second batch but before committing
    # it: the file holds bytes the database never recorded, and the rerun must overwrite them.
    def one_batch(commit: bool) -> int:
        with uow_factory() as uow:
            op = uow.session.execute(
                select(Operation).where(Operation.id == started.operation_id).with_for_update()
            ).scalar_one()
            op.status, op.progress_done = "running", exports.run_job_batch(admin, uow, op)
            if commit:
                uow.commit()
            return exports._path(started.operation_id).stat().st_size

    committed = one_batch(commit=True)
    assert one_batch(commit=False) > committed > 0

    assert operations.process(str(started.operation_id), uow_factory) == "done"
    with uow_factory() as uow:
        status = operations.operation_status(admin, uow, started.operation_id)
        found = exports.export_file(admin, uow, started.operation_id)
        [listed] = [e for e in exports.recent_exports(admin, uow) if e.operation_id == started.operation_id]
    assert status.progress_done == status.progress_total == rows
    assert status.result["rows"] == rows and found.rows == rows
    assert found.read() == expected.getvalue()
    assert listed.available and listed.status == "done" and listed.fraction == 1.0
    assert operations.process(str(started.operation_id), uow_factory) == "done"  # a second run is a no-op
    assert found.read() == expected.getvalue()
    with uow_factory() as uow:
        actions = (
            uow.session.execute(
                select(AuditLog.action).where(AuditLog.actor_id == admin.user_id).order_by(AuditLog.id)
            )
            .scalars()
            .all()
        )
    assert actions == ["operation.export", "export.download"]


def test_capital_accounts_export_in_batches_matches_the_inline_one(
    evil_pool: dict[str, Any], make: Any, uow_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composite key (pool, investor) cuts batches as well as a single id does."""
    admin = make.user("admin")
    with uow_factory() as uow:
        expected = io.BytesIO()
        exports.export_to(admin, uow, "capital_accounts", expected)
    monkeypatch.setattr(exports, "BATCH_ROWS", 2)
    with uow_factory() as uow:
        started = exports.start_export(admin, uow, "capital_accounts", inline_limit=0, enqueue=False)
    assert operations.process(str(started.operation_id), uow_factory) == "done"
    with uow_factory() as uow:
        assert exports.export_file(admin, uow, started.operation_id).read() == expected.getvalue()


MEASURE = textwrap.dedent(
    """
    import json, sys, time
    from core import bootstrap, operations
    from core.permissions import Actor
    from core.services import exports
    from sqlalchemy import text

    with bootstrap.unit_of_work() as uow:
        admin_id = uow.session.execute(text("SELECT id FROM users WHERE role = 'admin'")).scalar_one()
    admin = Actor(admin_id, "admin", "bulk-admin")

    def memory(field):
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, i.e. from the (large) pytest parent
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        return int(status[field].split()[0]) * 1024

    before = memory("VmHWM")
    started = time.perf_counter()
    with bootstrap.unit_of_work() as uow:
        job = exports.start_export(admin, uow, "transactions", enqueue=False)
    outcome = operations.process(str(job.operation_id), bootstrap.unit_of_work)
    seconds = time.perf_counter() - started
    lines = 0
    with open(exports._path(job.operation_id), "rb") as f:
        for _ in f:
            lines += 1
    size = exports._path(job.operation_id).stat().st_size
    peak = memory("VmHWM")
    exports._path(job.operation_id).unlink()  # 150 MB of test output
    print(json.dumps({"outcome": outcome, "rows": job.rows, "lines": lines, "size": size,
                      "peak": peak, "growth": peak - before, "seconds": seconds}))
    """
)


@pytest.mark.slow
def test_a_million_row_export_stays_in_bounded_memory(fresh_database: str) -> None:
    from core.uow import UnitOfWork
    from db.session import make_engine
    from tests.platform_seed import seed_entries

    engine = make_engine(fresh_database, pool_size=1)
    try:
        with UnitOfWork(engine) as uow:
            seed_entries(uow, total=1_000_000)
            uow.commit()
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            assert conn.execute(text("SELECT count(*) FROM entries")).scalar_one() == 1_000_000
            assert not unbalanced_journals(conn, limit=1)
    finally:
        engine.dispose()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": fresh_database},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "done"
    assert result["rows"] == 1_000_000 and result["lines"] == 1_000_001  # and the header
    # the file is ~150 MB; an export that held it in memory would grow by that much
    assert result["size"] > 100 * 1024 * 1024
    assert result["growth"] < 64 * 1024 * 1024, f"memory grew by {result['growth'] / 1e6:.0f} MB"
    assert result["peak"] < 300 * 1024 * 1024, f"peak memory {result['peak'] / 1e6:.0f} MB"
