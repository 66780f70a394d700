"""The ops command line as an operator runs it: separate processes against a database of the test's own;
and `verify`'s checks one by one, each shown to fail on the tampering it exists to catch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import psycopg
import pytest

from core import verify
from core.ledger import read_model
from core.uow import UnitOfWork
from db.session import make_engine
from tests.conftest import copied_database

ROOT = Path(__file__).resolve().parents[2]


def cli(database_url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": os.environ["REDIS_URL"]}
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def failing_checks(output: str) -> list[str]:
    return re.findall(r"^\s*FAIL (.+)$", output, re.MULTILINE)


def test_seed_then_verify_passes_and_a_tampered_ledger_fails(fresh_database: str) -> None:
    seeded = ok(cli(fresh_database, "seed"))
    assert "demo data seeded" in seeded and "investor" in seeded

    report = ok(cli(fresh_database, "verify"))
    assert "ledger verified: OK" in report
    assert failing_checks(report) == []
    assert re.search(r"journals: [1-9]", report), report  # the demo has ledger history to check

    again = cli(fresh_database, "seed")
    assert again.returncode == 1 and "refusing to seed the demo twice" in again.stderr

    # Tamper the way only a superuser could: switch off the balance rule, book money from nowhere.
    with psycopg.connect(fresh_database) as conn:
        pool_id = conn.execute("SELECT id FROM pools WHERE status = 'open' ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("ALTER TABLE journals DISABLE TRIGGER journals_balanced")
        journal_id = conn.execute(
            "INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date) "
            "VALUES ('tampered:1', %s, 'investment', 'money from nowhere', current_date) RETURNING id",
            (pool_id,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO entries (journal_id, pool_id, account, currency, side, amount) VALUES "
            "(%s, %s, 'cash', 'USD', 'D', 1000000), (%s, %s, 'investments', 'USD', 'C', 1)",
            (journal_id, pool_id, journal_id, pool_id),
        )
        conn.execute("ALTER TABLE journals ENABLE TRIGGER journals_balanced")
        conn.commit()
        # The rule is back on for everyone else.
        assert (
            conn.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'journals_balanced'").fetchone()[0]
            == "O"
        )

    result = cli(fresh_database, "verify")
    assert result.returncode == 1, result.stdout
    assert "ledger verified: VIOLATIONS FOUND" in result.stdout
    assert "ledger verified: OK" not in result.stdout
    assert failing_checks(result.stdout) == [
        verify.BALANCED,
        "each pool's books balance",
        "holdings equal the investments at cost and unrealized value lines",
        verify.BOOKS,
    ]
    # The offending journal is named, with its currency and the difference.
    assert re.search(rf"\({journal_id}, 'USD', Decimal\('999999\.0+'\)\)", result.stdout), result.stdout

    # commitments is not append-only: a direct edit makes it disagree with the books, and verify says so.
    with psycopg.connect(fresh_database) as conn:
        commitment_id = conn.execute(
            "UPDATE commitments SET amount_accepted = amount_accepted - 1 "
            "WHERE id = (SELECT min(id) FROM commitments WHERE status = 'accepted') RETURNING id"
        ).fetchone()[0]
        conn.commit()
    result = cli(fresh_database, "verify")
    assert result.returncode == 1
    assert "accepted commitments equal the commitment line" in failing_checks(result.stdout)
    assert len(failing_checks(result.stdout)) == 5
    assert commitment_id

    # call items carry no per-row foreign keys to commitments and users (migration 0003): verify
    # is what notices an item moved to someone else's name.
    with psycopg.connect(fresh_database) as conn:
        moved = conn.execute(
            "UPDATE call_items SET investor_id = (SELECT min(id) FROM users WHERE role = 'admin') "
            "WHERE id = (SELECT min(id) FROM call_items) RETURNING id"
        ).fetchone()
        conn.commit()
    assert moved, "the demo seed issues capital calls"
    result = cli(fresh_database, "verify")
    assert result.returncode == 1
    failing = failing_checks(result.stdout)
    assert "call items name a commitment of their pool and its investor" in failing
    assert "call items due equal what the issued calls booked" in failing, "booked to one, due from another"
    assert f"({moved[0]}, " in result.stdout

    # Nor do entries carry a foreign key to their journal (migration 0004; the statement trigger
    # refuses such rows): with that trigger off, a balanced pair of orphans is what verify notices.
    with psycopg.connect(fresh_database) as conn:
        conn.execute("ALTER TABLE entries DISABLE TRIGGER entries_journal_open")
        orphan = conn.execute(
            "INSERT INTO entries (journal_id, pool_id, account, currency, side, amount, kind, day) "
            "SELECT max(j.id) + 1000, %s, a.account, 'USD', a.side, 5, 'investment', current_date FROM journals j, "
            "(VALUES ('cash', 'D'), ('investments', 'C')) AS a(account, side) GROUP BY a.account, a.side "
            "RETURNING id",
            (pool_id,),
        ).fetchall()
        conn.execute("ALTER TABLE entries ENABLE TRIGGER entries_journal_open")
        conn.commit()
    result = cli(fresh_database, "verify")
    assert result.returncode == 1
    assert "entries belong to their journal's pool" in failing_checks(result.stdout)
    assert (
        f"({orphan[0][0]}, {pool_id}, None)" in result.stdout
        or f"({orphan[1][0]}, {pool_id}, None)" in result.stdout
    )


def test_scale_seed_then_verify(fresh_database: str) -> None:
    seeded = ok(cli(fresh_database, "seed", "--investors", "2000", "--pools", "20"))
    assert "seeded 2,000 investors and 20 pools" in seeded
    with psycopg.connect(fresh_database) as conn:
        investors = conn.execute("SELECT count(*) FROM users WHERE role = 'investor'").fetchone()[0]
        open_pools = conn.execute("SELECT count(*) FROM pools WHERE status = 'open'").fetchone()[0]
        accepted = conn.execute("SELECT count(*) FROM commitments WHERE status = 'accepted'").fetchone()[0]
    assert (investors, open_pools) == (2000, 20)
    assert accepted > 2000
    report = ok(cli(fresh_database, "verify"))
    assert "ledger verified: OK" in report
    assert "users: 2,001" in report  # 2,000 investors and one scale manager


def test_verify_builds_every_investors_statement_and_one_tampered_capital_account_fails(
    fresh_database: str,
) -> None:
    """Not a sample: one position far past the first 5,000 booked outside the statement's lines fails verify."""
    ok(cli(fresh_database, "seed", "--investors", "3000", "--pools", "20"))
    with psycopg.connect(fresh_database) as conn:
        positions = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT pool_id, investor_id FROM entries "
            "WHERE investor_id IS NOT NULL) p"
        ).fetchone()[0]
    assert positions > 5000
    report = ok(cli(fresh_database, "verify"))
    assert "ledger verified: OK" in report
    assert f"capital accounts checked: {positions:,} of {positions:,} investor positions\n" in report

    # A balanced journal, so every balance rule holds, of a kind no statement line knows: capital
    # credited to the very last investor position by hand. Only the statement check can notice.
    with psycopg.connect(fresh_database) as conn:
        pool_id, investor_id = conn.execute(
            "SELECT pool_id, investor_id FROM entries WHERE investor_id IS NOT NULL "
            "ORDER BY pool_id DESC, investor_id DESC LIMIT 1"
        ).fetchone()
        rank = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT pool_id, investor_id FROM entries "
            "WHERE investor_id IS NOT NULL) p WHERE (pool_id, investor_id) <= (%s, %s)",
            (pool_id, investor_id),
        ).fetchone()[0]
        assert rank == positions > 5000  # beyond what the old 5,000-position sample read
        journal_id = conn.execute(
            "INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date) "
            "VALUES ('tampered:capital', %s, 'adjustment', 'by hand', current_date) RETURNING id",
            (pool_id,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount) VALUES "
            "(%s, %s, NULL, 'cash', 'USD', 'D', 250), (%s, %s, %s, 'capital', 'USD', 'C', 250)",
            (journal_id, pool_id, journal_id, pool_id, investor_id),
        )
        conn.commit()

    result = cli(fresh_database, "verify")
    assert result.returncode == 1, result.stdout
    # A journal kind no line reads: the pool's books (its cash) and the investor's statement (its
    # capital) disagree with the read model; every figure the read model gives still agrees.
    assert failing_checks(result.stdout) == [verify.BOOKS, verify.STATEMENTS]
    # The position is named: ledger capital 250, the statement's NAV 0.
    assert re.search(
        rf"\({pool_id}, {investor_id}, Decimal\('250\.0+'\), Decimal\('0\.?0*'\)", result.stdout
    ), result.stdout
    assert "ledger verified: VIOLATIONS FOUND" in result.stdout

    # A sample is an explicit choice, and the summary says how much it read.
    sampled = cli(fresh_database, "verify", "--sample", "100")
    assert (
        f"capital accounts checked: 100 of {positions:,} investor positions (a random sample)"
        in sampled.stdout
    )
    refused = cli(fresh_database, "verify", "--sample", "0")
    assert refused.returncode == 2 and "--sample: must be at least 1" in refused.stderr


def test_createuser_then_read_back(fresh_database: str) -> None:
    out = ok(
        cli(
            fresh_database,
            "createuser",
            "Ops.Person",
            "--role",
            "admin",
            "--email",
            "ops@example.com",
            "--name",
            "Ops Person",
            "--password",
            "an-ops-password",
            "--kyc",
            "approved",
        )
    )
    match = re.search(r"created user Ops\.Person \(id (\d+)\)", out)
    assert match, out
    assert "temporary password" not in out
    with psycopg.connect(fresh_database) as conn:
        row = conn.execute(
            "SELECT username, name, email, role, kyc_status, accreditation, active, password_hash, "
            "must_change_password FROM users WHERE id = %s",
            (int(match.group(1)),),
        ).fetchone()
        audit = conn.execute(
            "SELECT actor_id, action, outcome FROM audit_log WHERE object_id = %s", (match.group(1),)
        ).fetchall()
    username, name, email, role, kyc, accreditation, active, password_hash, must_change = row
    assert (username, name, email, role, kyc, accreditation, active, must_change) == (
        "ops.person",
        "Ops Person",
        "ops@example.com",
        "admin",
        "approved",
        "none",
        True,
        False,
    )
    assert bcrypt.checkpw(b"an-ops-password", password_hash.encode())
    assert audit == [(None, "user.create", "ok")]  # done by the system, on the record


def test_createuser_without_a_password_prints_a_working_temporary_one(fresh_database: str) -> None:
    out = ok(
        cli(fresh_database, "createuser", "temp.person", "--role", "investor", "--email", "t@example.com")
    )
    temporary = re.search(r"temporary password: (\S+)", out)
    assert temporary, out
    with psycopg.connect(fresh_database) as conn:
        password_hash, must_change = conn.execute(
            "SELECT password_hash, must_change_password FROM users WHERE username = 'temp.person'"
        ).fetchone()
    assert bcrypt.checkpw(temporary.group(1).encode(), password_hash.encode())
    assert must_change is True


def test_createuser_refuses_bad_input_and_taken_usernames_with_a_clear_message(fresh_database: str) -> None:
    bad = cli(
        fresh_database,
        "createuser",
        "good.name",
        "--role",
        "investor",
        "--email",
        "nope",
        "--password",
        "long-enough-pw",
    )
    assert bad.returncode == 2
    assert "Email is not an email address" in bad.stderr, "the field's label, no field code"
    assert "Traceback" not in bad.stderr
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0

    base = ["dup.user", "--role", "analyst", "--email", "d@example.com", "--password", "long-enough-pw"]
    ok(cli(fresh_database, "createuser", *base))
    again = cli(fresh_database, "createuser", *base)
    assert again.returncode == 2
    assert "Username is already taken" in again.stderr
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 1


# --- each check of verify fails on the tampering it exists to catch ------------------------------------


@pytest.fixture
def demo(template: Any) -> Iterator[dict[str, Any]]:
    """The demo seeded by the command line (it verifies clean; seeded once, copied for each test),
    and the means to tamper with it."""
    seeded = template("demo", lambda url: ok(cli(url, "seed")))
    for database in copied_database(seeded):
        yield from _tampering(database)


def _tampering(fresh_database: str) -> Iterator[dict[str, Any]]:
    """The means to tamper with the demo in this database."""
    engine = make_engine(fresh_database, pool_size=1)

    def failing() -> tuple[set[str], dict[str, list[tuple]]]:
        with UnitOfWork(engine) as uow:
            report = verify.verify(uow.session)
        return set(report.violations), report.violations

    def sql(statement: str, params: tuple = ()) -> Any:
        with psycopg.connect(fresh_database) as conn:
            found = conn.execute(statement, params)
            row = found.fetchone() if found.description else None
            conn.commit()
        return row

    def journal(kind: str, day: str, legs: list[tuple[int | None, str, str]], amount: int = 1) -> int:
        """A balanced journal booked by hand (legs: investor, account, side), as a superuser could."""
        pool_id, investor_id = demo_position()
        with psycopg.connect(fresh_database) as conn:
            journal_id = conn.execute(
                "INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date) "
                "VALUES (%s, %s, %s, 'by hand', %s) RETURNING id",
                (f"tampered:{kind}:{day}", pool_id, kind, day),
            ).fetchone()[0]
            for investor, account, side in legs:
                conn.execute(
                    "INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount) "
                    "SELECT %s, %s, %s, %s, currency, %s, %s FROM pools WHERE id = %s",
                    (journal_id, pool_id, investor_id if investor else None, account, side, amount, pool_id),
                )
            conn.commit()
        return journal_id

    def demo_position() -> tuple[int, int]:
        """The first investor position with contributions (a paid call) in the demo."""
        return sql(
            "SELECT p.pool_id, p.investor_id FROM payments p WHERE p.reversed_on IS NULL ORDER BY p.id LIMIT 1"
        )

    def unbook(journal_id: int) -> None:
        """Take a hand-booked journal out again: the append-only triggers off for that moment only."""
        with psycopg.connect(fresh_database) as conn:
            conn.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
            conn.execute("ALTER TABLE journals DISABLE TRIGGER journals_append_only")
            conn.execute("DELETE FROM entries WHERE journal_id = %s", (journal_id,))
            conn.execute("DELETE FROM journals WHERE id = %s", (journal_id,))
            conn.execute("ALTER TABLE journals ENABLE TRIGGER journals_append_only")
            conn.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
            conn.commit()

    try:
        assert failing()[0] == set(), "the demo verifies clean"
        yield {
            "failing": failing,
            "sql": sql,
            "journal": journal,
            "unbook": unbook,
            "position": demo_position,
        }
    finally:
        engine.dispose()


def test_a_drift_of_a_definition_in_the_read_model_fails_verify(
    demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unfunded redefined as commitment - paid-in (the drift issue 14 found): every position with
    capital called and not paid, or called at all, disagrees with the recomputation."""
    monkeypatch.setattr(read_model.Position, "unfunded", property(lambda p: p.commitment - p.contributions))
    names, violations = demo["failing"]()
    assert names == {verify.FIGURES}
    assert {row[2] for row in violations[verify.FIGURES]} == {"unfunded"}


def test_a_movement_no_line_reads_fails_the_figures(demo: dict[str, Any]) -> None:
    """A commitment booked under another journal kind: the recomputation (every entry on the
    commitment account) and the read model (commitment journals only) disagree."""
    pool_id, investor_id = demo["position"]()
    journal_id = demo["journal"](
        "payment", "2026-01-02", [(investor_id, "commitment", "C"), (investor_id, "commitment_memo", "D")]
    )
    names, violations = demo["failing"]()
    assert names == {verify.FIGURES, verify.STATEMENTS}
    assert {(row[0], row[1], row[2]) for row in violations[verify.FIGURES]} == {
        (pool_id, investor_id, "commitment"),
        (pool_id, investor_id, "unfunded"),
    }
    demo["unbook"](journal_id)
    assert demo["failing"]()[0] == set()


def test_a_posting_before_its_commitment_fails_verify(demo: dict[str, Any]) -> None:
    pool_id, investor_id = demo["position"]()
    journal_id = demo["journal"](
        "management_fee", "2000-01-03", [(investor_id, "capital", "D"), (None, "fee_income", "C")]
    )
    names, violations = demo["failing"]()
    assert names == {"no posting precedes the commitment it depends on"}
    [row] = violations["no posting precedes the commitment it depends on"]
    assert row[:4] == (pool_id, investor_id, journal_id, "management_fee")
    demo["unbook"](journal_id)


def test_a_receivable_that_is_not_called_less_paid_fails_verify(demo: dict[str, Any]) -> None:
    pool_id, investor_id = demo["position"]()
    journal_id = demo["journal"](
        "adjustment", "2026-01-04", [(investor_id, "receivable", "D"), (None, "call_clearing", "C")], amount=7
    )
    names, violations = demo["failing"]()
    assert names == {verify.RECEIVABLES}
    [row] = violations[verify.RECEIVABLES]
    assert row[:2] == (pool_id, investor_id) and row[2] - row[3] == 7
    demo["unbook"](journal_id)


@pytest.mark.parametrize(
    ("tampering", "undo", "expected"),
    [
        (
            "UPDATE payments SET amount = amount + 1 WHERE id = (SELECT min(id) FROM payments WHERE reversed_on IS NULL)",
            "UPDATE payments SET amount = amount - 1 WHERE id = (SELECT min(id) FROM payments WHERE reversed_on IS NULL)",
            {
                "payments recorded equal the contributions line",
                "call items paid equal the payments recorded against them",
            },
        ),
        (
            "UPDATE call_items SET amount_paid = amount_paid - 1 WHERE id = (SELECT min(id) FROM call_items WHERE amount_paid > 1)",
            "UPDATE call_items SET amount_paid = amount_paid + 1 WHERE id = (SELECT min(id) FROM call_items WHERE amount_paid > 1)",
            {"call items paid equal the payments recorded against them"},
        ),
        (
            "UPDATE marks SET change = change + 1 WHERE id = (SELECT min(id) FROM marks WHERE reversed_on IS NULL)",
            "UPDATE marks SET change = change - 1 WHERE id = (SELECT min(id) FROM marks WHERE reversed_on IS NULL)",
            {"holdings equal the investments at cost and unrealized value lines"},
        ),
        (
            "UPDATE investments SET amount = amount + 1 WHERE id = (SELECT min(id) FROM investments)",
            "UPDATE investments SET amount = amount - 1 WHERE id = (SELECT min(id) FROM investments)",
            {"holdings equal the investments at cost and unrealized value lines"},
        ),
        (
            "UPDATE distributions SET gp_total = gp_total + 1 WHERE id = (SELECT min(id) FROM distributions)",
            "UPDATE distributions SET gp_total = gp_total - 1 WHERE id = (SELECT min(id) FROM distributions)",
            {"distributions recorded equal the distributions and carried interest lines"},
        ),
        (
            "UPDATE distributions SET lp_total = lp_total - 1 WHERE id = (SELECT min(id) FROM distributions)",
            "UPDATE distributions SET lp_total = lp_total + 1 WHERE id = (SELECT min(id) FROM distributions)",
            {"distributions recorded equal the distributions and carried interest lines"},
        ),
        (
            "UPDATE pools SET status = 'draft' WHERE id = (SELECT min(pool_id) FROM journals)",
            "UPDATE pools SET status = 'investing' WHERE id = (SELECT min(pool_id) FROM journals)",
            {"draft pools have no postings"},
        ),
    ],
    ids=["payment", "call item paid", "mark", "investment", "carried interest", "distribution", "draft"],
)
def test_a_fact_that_disagrees_with_its_line_fails_verify(
    demo: dict[str, Any], tampering: str, undo: str, expected: set[str]
) -> None:
    """Facts are tables, not append-only: an edit behind the services' back shows as a difference
    between the fact and the ledger line it stands for."""
    demo["sql"](tampering)
    names, _ = demo["failing"]()
    demo["sql"](undo)
    assert names == expected
    assert demo["failing"]()[0] == set()
