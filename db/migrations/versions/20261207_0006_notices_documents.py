"""notices and the document vault; wire instructions and reminder intervals on pools

- documents: every generated notice and statement and every uploaded pool document, one row per
  version with its content (bytea), SHA-256, author and note. Immutable: UPDATE, DELETE and
  TRUNCATE are refused by triggers; a reissue is the next version of the same series.
- notices: the outbox and the investor's inbox. A row is written in the transaction of what it
  tells of (a capital call's items, a distribution's journals, a quarter's statements); jobs
  render it into the vault and email it; its status, changed under a row lock, says whether it
  was sent. Its indexes are all partial and leave pending notices out, so that a call writing
  thousands pays for their primary key only; notice_batches (one row per statement that wrote
  notices: their id range) is how the renderer and the sweeper find the pending ones.
- pools: wire instructions (bank name, account name, IBAN or account number, SWIFT/BIC or routing
  number, the payment reference pattern) and reminder intervals.

Safe during a rolling deploy: new tables, and new pool columns that are nullable or have constant
defaults (no table rewrite); the previous release never reads or writes any of them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT_KINDS = (
    "kind IN ('capital_call_notice', 'distribution_notice', 'capital_account_statement', 'agreement', "
    "'subscription', 'report', 'other')"
)
NOTICE_KINDS = "kind IN ('capital_call', 'distribution', 'statement', 'reminder', 'overdue')"
NOTICE_STATUSES = "status IN ('pending', 'ready', 'sent', 'failed', 'in_app')"

IMMUTABLE = """
CREATE FUNCTION documents_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'documents are immutable: % is refused; store a new version instead', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER documents_immutable BEFORE UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_refuse_change();
CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION documents_refuse_change();
"""


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("investor_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("series", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(DOCUMENT_KINDS, name=op.f("ck_documents_kind")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_documents_version")),
        sa.CheckConstraint("size > 0", name=op.f("ck_documents_size")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_documents_pool_id_pools")),
        sa.ForeignKeyConstraint(["investor_id"], ["users.id"], name=op.f("fk_documents_investor_id_users")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_documents_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index("uq_documents_series_version", "documents", ["series", "version"], unique=True)
    op.create_index("ix_documents_pool_id_investor_id", "documents", ["pool_id", "investor_id"], unique=False)
    op.create_index("ix_documents_investor_id", "documents", ["investor_id"], unique=False)
    op.execute(IMMUTABLE)

    op.create_table(
        "notice_batches",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_batches")),
        sa.UniqueConstraint("cause", name=op.f("uq_notice_batches_cause")),
    )
    op.create_index(
        "ix_notice_batches_open", "notice_batches", ["id"], postgresql_where=sa.text("rendered_at IS NULL")
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("investor_id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("call_item_id", sa.BigInteger(), nullable=True),
        sa.Column("operation_id", sa.UUID(), nullable=True),
        sa.Column("cutoff_journal", sa.BigInteger(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("reissue_of", sa.BigInteger(), nullable=True),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(NOTICE_KINDS, name=op.f("ck_notices_kind")),
        sa.CheckConstraint(NOTICE_STATUSES, name=op.f("ck_notices_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notices_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    # Partial indexes only: a pending notice (all a call writes) enters none of them.
    op.create_index(
        "uq_notices_key", "notices", ["key"], unique=True, postgresql_where=sa.text("key IS NOT NULL")
    )
    op.create_index(
        "ix_notices_investor_id_created_at",
        "notices",
        ["investor_id", "created_at"],
        postgresql_where=sa.text("status IN ('ready', 'sent', 'failed', 'in_app')"),
    )
    op.create_index(
        "ix_notices_call_id",
        "notices",
        ["call_id"],
        postgresql_where=sa.text("call_id IS NOT NULL AND status <> 'pending'"),
    )
    op.create_index(
        "ix_notices_operation_id",
        "notices",
        ["operation_id"],
        postgresql_where=sa.text("operation_id IS NOT NULL AND status <> 'pending'"),
    )
    op.create_index("ix_notices_ready", "notices", ["id"], postgresql_where=sa.text("status = 'ready'"))
    op.create_index(
        "ix_notices_failed", "notices", ["updated_at"], postgresql_where=sa.text("status = 'failed'")
    )

    op.add_column("pools", sa.Column("wire_bank_name", sa.String(length=140), nullable=True))
    op.add_column("pools", sa.Column("wire_account_name", sa.String(length=140), nullable=True))
    op.add_column("pools", sa.Column("wire_account_number", sa.String(length=34), nullable=True))
    op.add_column("pools", sa.Column("wire_bank_code", sa.String(length=11), nullable=True))
    op.add_column(
        "pools",
        sa.Column(
            "payment_reference_pattern",
            sa.String(length=60),
            server_default="IP{pool}-{investor}-{call}",
            nullable=False,
        ),
    )
    op.add_column(
        "pools",
        sa.Column(
            "reminder_days_before",
            postgresql.ARRAY(sa.SmallInteger()),
            server_default="{7,1}",
            nullable=False,
        ),
    )
    op.add_column(
        "pools", sa.Column("overdue_reminder_days", sa.SmallInteger(), server_default="7", nullable=True)
    )


def downgrade() -> None:
    for column in (
        "overdue_reminder_days",
        "reminder_days_before",
        "payment_reference_pattern",
        "wire_bank_code",
        "wire_account_number",
        "wire_account_name",
        "wire_bank_name",
    ):
        op.drop_column("pools", column)
    op.drop_table("notices")
    op.drop_table("notice_batches")
    op.execute("DROP TABLE documents")  # its triggers refuse TRUNCATE, not DROP
    op.execute("DROP FUNCTION documents_refuse_change()")
