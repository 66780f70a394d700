"""fund expenses: a journal kind and line of their own, and the expenses as rows

- ledger_line_map: the fund_expense journal kind (Dr capital(i) / Cr cash): its capital entries
  feed the capital account's fund_expenses line, its cash entry the pool's cash like every kind.
- fund_expenses: each expense the pool paid (category, day, amount, memo), written in its
  journal's transaction and marked reversed by a correction, as the other facts are.

Safe during a rolling deploy: a new table and new rows in the map; the previous release never
posts the kind, and its read model (the map in its code) never meets one until it is replaced.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rows as of this revision, frozen here (a migration never imports the application).
LINE_MAP = [
    ("fund_expense", "capital", "fund_expenses", "D"),
    ("fund_expense", "cash", "cash", "D"),
    ("fund_expense", "investments", "investments_at_cost", "D"),
    ("fund_expense", "unrealized", "unrealized_value", "D"),
    ("fund_expense", "fee_income", "fees_payable", "C"),
]
CATEGORIES = "category IN ('formation', 'legal', 'administration', 'bank_fees', 'other')"


def upgrade() -> None:
    line_map = sa.table(
        "ledger_line_map",
        sa.column("kind", sa.String),
        sa.column("account", sa.String),
        sa.column("line", sa.String),
        sa.column("side", sa.String),
    )
    op.bulk_insert(
        line_map, [dict(zip(("kind", "account", "line", "side"), row, strict=True)) for row in LINE_MAP]
    )
    op.create_table(
        "fund_expenses",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("memo", sa.String(length=200), server_default="", nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("reversed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(CATEGORIES, name=op.f("ck_fund_expenses_category")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_fund_expenses_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_expenses")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_fund_expenses_operation_id")),
    )
    op.create_index(op.f("ix_fund_expenses_pool_id"), "fund_expenses", ["pool_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_fund_expenses_pool_id"), table_name="fund_expenses")
    op.drop_table("fund_expenses")
    op.execute("DELETE FROM ledger_line_map WHERE kind = 'fund_expense'")
