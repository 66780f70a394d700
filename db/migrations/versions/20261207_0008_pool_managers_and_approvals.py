"""pool managers and approvals: a second person approves distributions and large capital calls

- pool_managers: the co-managers of a pool (who added them, when). The pool's creator
  (pools.manager_id) stays its lead manager and counts as a manager without a row here.
- pools.call_approval_threshold: a capital call whose total is above it needs a second manager's
  approval; NULL (the default) never.
- approvals: a distribution or capital call drafted by one manager and awaiting another (or an
  admin): the request as drafted, the preview's figures, the pool version and the journal
  high-water mark the preview was computed at; drafted -> approved (with the posting's operation
  id) / rejected / withdrawn, by whom and when.

Safe during a rolling deploy: new tables and a nullable pool column (no table rewrite); the
previous release never reads or writes any of them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pool_managers",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_pool_managers_pool_id_pools")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pool_managers_user_id_users")),
        sa.ForeignKeyConstraint(["added_by"], ["users.id"], name=op.f("fk_pool_managers_added_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_managers")),
    )
    op.create_index("uq_pool_managers_pool_id_user_id", "pool_managers", ["pool_id", "user_id"], unique=True)
    op.create_index(op.f("ix_pool_managers_user_id"), "pool_managers", ["user_id"], unique=False)
    op.add_column(
        "pools", sa.Column("call_approval_threshold", sa.Numeric(precision=20, scale=4), nullable=True)
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("pool_version", sa.BigInteger(), nullable=False),
        sa.Column("upto_journal", sa.BigInteger(), nullable=True),
        sa.Column("drafted_by", sa.BigInteger(), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="drafted", nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=True),
        sa.CheckConstraint("kind IN ('distribution', 'capital_call')", name=op.f("ck_approvals_kind")),
        sa.CheckConstraint(
            "status IN ('drafted', 'approved', 'rejected', 'withdrawn')", name=op.f("ck_approvals_status")
        ),
        sa.CheckConstraint("status = 'drafted' OR decided_by IS NOT NULL", name=op.f("ck_approvals_decided")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_approvals_pool_id_pools")),
        sa.ForeignKeyConstraint(["drafted_by"], ["users.id"], name=op.f("fk_approvals_drafted_by_users")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_approvals_decided_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_approvals_operation_id")),
    )
    op.create_index("ix_approvals_pool_id_status", "approvals", ["pool_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_table("approvals")
    op.drop_column("pools", "call_approval_threshold")
    op.drop_table("pool_managers")
