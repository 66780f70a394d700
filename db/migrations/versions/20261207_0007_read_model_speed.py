"""the read model reads entries alone: each entry carries its journal's kind and day; pool_days

- entries.kind and entries.day: the journal's kind and effective date, copied onto each of its
  entries as they are posted, so the read model (core.ledger.read_model.movements) never joins the
  journals: an investor's 900,000 movements, or every commitment on the platform, are read from
  the entries and their indexes alone. Entries are append-only, so the copies never go stale;
  the statement trigger entries_journal_open now also refuses an entry whose kind or day is not
  its journal's. A BEFORE INSERT trigger fills both from the journal when a writer leaves them out
  (the previous release during a rolling deploy, hand-written SQL); posting supplies them, so
  bulk postings pay no per-row lookup.
- ledger_line_map: the ledger's vocabulary (core.ledger.accounts.MOVEMENTS) as rows: (journal
  kind, account) -> (line, the side on which an entry adds to it). The database needs it to keep
  pool_days; the code stays its source: a test and `python -m core verify` compare the two, and
  a migration that changes the vocabulary writes its rows here.
- pool_days: (pool, day, line) -> the signed sum of the line's movements that day. Kept by a
  statement trigger on entries (one grouped upsert per posting statement, in key order; postings
  to a pool are serialized by its version bump anyway). Pool-wide figures over time (the analyst's
  explorer, a pool's series) read these rows instead of every entry; `python -m core verify`
  recomputes them from the entries.
- ix_entries_commitments: the commitment entries, covered (an index-only scan), for the
  concentration of commitments per pool across the platform.

During a rolling deploy: the backfill of the copies runs with the append-only trigger disabled
inside this migration's transaction, which holds postings (SHARE ROW EXCLUSIVE) until it commits;
reads go on. The previous release goes on posting afterwards: the fill trigger completes its
entries and the pool_days trigger sums them. The index is built concurrently, after that.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabulary as of this revision, frozen here (a migration never imports the application).
_KINDS = (
    "commitment",
    "capital_call",
    "payment",
    "management_fee",
    "investment",
    "valuation",
    "exit",
    "distribution",
    "carry",
)
_BOOKS = (
    ("cash", "cash", "D"),
    ("investments", "investments_at_cost", "D"),
    ("unrealized", "unrealized_value", "D"),
    ("fee_income", "fees_payable", "C"),
)
LINE_MAP = [
    ("commitment", "commitment", "commitment", "C"),
    ("capital_call", "receivable", "called", "D"),
    ("payment", "capital", "contributions", "C"),
    ("management_fee", "capital", "management_fees", "D"),
    ("valuation", "capital", "unrealized_gain", "C"),
    ("exit", "capital", "realized_gain", "C"),
    ("distribution", "capital", "distributions", "D"),
    ("carry", "capital", "carried_interest", "D"),
    *((kind, account, line, side) for kind in _KINDS for account, line, side in _BOOKS),
]

# The movements of a set of entries (new_entries in the trigger, entries in the backfill) summed
# per pool, day and line, added to pool_days.
_ADD = """
INSERT INTO pool_days (pool_id, day, line, amount)
SELECT e.pool_id, e.day, m.line, sum(CASE WHEN e.side = m.side THEN e.amount ELSE -e.amount END)
  FROM {source} AS e
  JOIN ledger_line_map AS m ON m.kind = e.kind AND m.account = e.account
 GROUP BY e.pool_id, e.day, m.line
 ORDER BY e.pool_id, e.day, m.line
ON CONFLICT (pool_id, day, line) DO UPDATE SET amount = pool_days.amount + excluded.amount
"""

POOL_DAYS = f"""
CREATE FUNCTION ledger_add_pool_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_ADD.format(source="new_entries")};
    RETURN NULL;
END $$;
CREATE TRIGGER entries_pool_days AFTER INSERT ON entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_add_pool_days();
"""

OPEN = "entries may only be added to an existing journal, by the transaction that creates it"

FILL = f"""
CREATE FUNCTION ledger_entry_from_journal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT kind, effective_date INTO NEW.kind, NEW.day FROM journals WHERE id = NEW.journal_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION '{OPEN}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER entries_from_journal BEFORE INSERT ON entries
    FOR EACH ROW WHEN (NEW.kind IS NULL OR NEW.day IS NULL)
    EXECUTE FUNCTION ledger_entry_from_journal();
"""

CHECK = f"""
CREATE OR REPLACE FUNCTION ledger_check_journal_open() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    problem text;
BEGIN
    SELECT CASE WHEN journals.id IS NULL OR journals.txid <> pg_current_xact_id()::text::bigint
                THEN 'open' ELSE 'copy' END
      INTO problem
      FROM (SELECT DISTINCT journal_id, kind, day FROM new_entries) AS added
      LEFT JOIN journals ON journals.id = added.journal_id
     WHERE journals.id IS NULL OR journals.txid <> pg_current_xact_id()::text::bigint
        OR journals.kind <> added.kind OR journals.effective_date <> added.day
     ORDER BY 1 DESC
     LIMIT 1;
    IF problem = 'open' THEN
        RAISE EXCEPTION '{OPEN}' USING ERRCODE = 'check_violation';
    ELSIF problem = 'copy' THEN
        RAISE EXCEPTION 'an entry''s kind and day must be its journal''s' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
"""

# Migration 0004's function, restored on downgrade.
PREVIOUS_CHECK = f"""
CREATE OR REPLACE FUNCTION ledger_check_journal_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT journal_id FROM new_entries) AS added
          LEFT JOIN journals ON journals.id = added.journal_id
         WHERE journals.id IS NULL OR journals.txid <> pg_current_xact_id()::text::bigint
    ) THEN
        RAISE EXCEPTION '{OPEN}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.add_column("entries", sa.Column("kind", sa.String(length=40), nullable=True))
    op.add_column("entries", sa.Column("day", sa.Date(), nullable=True))
    op.execute(FILL)
    op.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
    op.execute(
        "UPDATE entries SET kind = j.kind, day = j.effective_date FROM journals j "
        "WHERE j.id = entries.journal_id AND entries.kind IS NULL"
    )
    op.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
    op.alter_column("entries", "kind", nullable=False)
    op.alter_column("entries", "day", nullable=False)
    op.execute(CHECK)
    line_map = op.create_table(
        "ledger_line_map",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=30), nullable=False),
        sa.Column("line", sa.String(length=30), nullable=False),
        sa.Column("side", sa.String(length=1), nullable=False),
        sa.CheckConstraint("side IN ('D', 'C')", name=op.f("ck_ledger_line_map_side")),
        sa.PrimaryKeyConstraint("kind", "account", name=op.f("pk_ledger_line_map")),
    )
    op.bulk_insert(
        line_map, [dict(zip(("kind", "account", "line", "side"), row, strict=True)) for row in LINE_MAP]
    )
    op.create_table(
        "pool_days",
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("line", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.PrimaryKeyConstraint("pool_id", "day", "line", name=op.f("pk_pool_days")),
    )
    op.execute(POOL_DAYS)
    op.execute(_ADD.format(source="entries"))
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_entries_commitments"),
            "entries",
            ["pool_id", "investor_id"],
            postgresql_include=["day", "kind", "side", "amount"],
            postgresql_where=sa.text("account = 'commitment'"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_entries_commitments"), table_name="entries")
    op.execute("DROP TRIGGER entries_pool_days ON entries")
    op.execute("DROP FUNCTION ledger_add_pool_days()")
    op.drop_table("pool_days")
    op.drop_table("ledger_line_map")
    op.execute(PREVIOUS_CHECK)
    op.execute("DROP TRIGGER entries_from_journal ON entries")
    op.execute("DROP FUNCTION ledger_entry_from_journal()")
    op.drop_column("entries", "day")
    op.drop_column("entries", "kind")
