"""pool_days: each pool's lines summed per day, kept by the database as entries are posted

- ledger_line_map: the ledger's vocabulary (core.ledger.accounts.MOVEMENTS) as rows: (journal
  kind, account) -> (line, the side on which an entry adds to it). The database needs it to keep
  pool_days; the code stays its source: a test and `python -m core verify` compare the two, and
  a migration that changes the vocabulary writes its rows here.
- pool_days: (pool, day, line) -> the signed sum of the line's movements that day, the day being
  the journal's effective date. Kept by a statement trigger on entries (one grouped upsert per
  posting statement, rows in key order so concurrent postings lock them in one order). Pool-wide
  figures over time (the analyst's explorer) read these rows instead of every entry;
  `python -m core verify` recomputes them from the entries.
- ix_entries_commitments: the commitment entries, covered (an index-only scan), for the
  concentration of commitments per pool across the platform.

Safe during a rolling deploy: new tables and a new trigger; the previous release goes on posting
and the trigger keeps the sums for it too. The backfill holds a SHARE lock on entries (postings
wait, reads go on) so that no posting falls between the trigger and the backfill; the index is
built concurrently, after that transaction.

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
SELECT e.pool_id, j.effective_date, m.line,
       sum(CASE WHEN e.side = m.side THEN e.amount ELSE -e.amount END)
  FROM {source} AS e
  JOIN journals AS j ON j.id = e.journal_id
  JOIN ledger_line_map AS m ON m.kind = j.kind AND m.account = e.account
 GROUP BY e.pool_id, j.effective_date, m.line
 ORDER BY e.pool_id, j.effective_date, m.line
ON CONFLICT (pool_id, day, line) DO UPDATE SET amount = pool_days.amount + excluded.amount
"""

TRIGGER = f"""
CREATE FUNCTION ledger_add_pool_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_ADD.format(source="new_entries")};
    RETURN NULL;
END $$;
CREATE TRIGGER entries_pool_days AFTER INSERT ON entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_add_pool_days();
"""


def upgrade() -> None:
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
    op.execute("LOCK TABLE entries IN SHARE MODE")
    op.execute(TRIGGER)
    op.execute(_ADD.format(source="entries"))
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_entries_commitments"),
            "entries",
            ["pool_id", "investor_id"],
            postgresql_include=["journal_id", "side", "amount"],
            postgresql_where=sa.text("account = 'commitment'"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_entries_commitments"), table_name="entries")
    op.execute("DROP TRIGGER entries_pool_days ON entries")
    op.execute("DROP FUNCTION ledger_add_pool_days()")
    op.drop_table("pool_days")
    op.drop_table("ledger_line_map")
