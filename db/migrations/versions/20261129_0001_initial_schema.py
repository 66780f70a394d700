"""initial schema, with the database-enforced ledger rules

Revision ID: 0001
Revises:
Create Date: 2026-11-29 23:02:34.466602+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_RULES = """
CREATE FUNCTION ledger_check_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry_count integer;
    unbalanced record;
BEGIN
    SELECT count(*) INTO entry_count FROM entries WHERE journal_id = NEW.id;
    IF entry_count < 2 THEN
        RAISE EXCEPTION 'journal % has % entries; a journal needs at least two', NEW.id, entry_count
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency, sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS difference
      INTO unbalanced
      FROM entries WHERE journal_id = NEW.id
     GROUP BY currency
    HAVING sum(CASE side WHEN 'D' THEN amount ELSE -amount END) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % does not balance in %: debits minus credits = %',
            NEW.id, unbalanced.currency, unbalanced.difference
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

-- Once per journal, at commit: a journal of 100,000 entries is summed once, not once per entry.
CREATE CONSTRAINT TRIGGER journals_balanced AFTER INSERT ON journals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_journal_balanced();

CREATE FUNCTION ledger_check_journal_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT journal_id FROM new_entries) AS added
          JOIN journals ON journals.id = added.journal_id
         WHERE journals.txid <> pg_current_xact_id()::text::bigint
    ) THEN
        RAISE EXCEPTION 'entries may only be added to a journal by the transaction that creates it'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER entries_journal_open AFTER INSERT ON entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_journal_open();

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused; post a reversing journal instead',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER journals_append_only BEFORE UPDATE OR DELETE ON journals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER journals_no_truncate BEFORE TRUNCATE ON journals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""

DROP_LEDGER_RULES = """
DROP TRIGGER IF EXISTS entries_no_truncate ON entries;
DROP TRIGGER IF EXISTS entries_append_only ON entries;
DROP TRIGGER IF EXISTS journals_no_truncate ON journals;
DROP TRIGGER IF EXISTS journals_append_only ON journals;
DROP TRIGGER IF EXISTS entries_journal_open ON entries;
DROP TRIGGER IF EXISTS journals_balanced ON journals;
DROP FUNCTION IF EXISTS ledger_refuse_change();
DROP FUNCTION IF EXISTS ledger_check_journal_open();
DROP FUNCTION IF EXISTS ledger_check_journal_balanced();
"""


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("kyc_status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("accreditation", sa.String(length=30), server_default="none", nullable=False),
        sa.Column("password_hash", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "must_change_password",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "accreditation IN ('none', 'accredited', 'qualified_purchaser')",
            name=op.f("ck_users_accreditation"),
        ),
        sa.CheckConstraint(
            "kyc_status IN ('pending', 'approved', 'rejected', 'expired')",
            name=op.f("ck_users_kyc_status"),
        ),
        sa.CheckConstraint(
            "role IN ('investor', 'fund_manager', 'analyst', 'admin')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint("failed_logins >= 0", name=op.f("ck_users_failed_logins")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("outcome", sa.String(length=10), server_default="ok", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("outcome IN ('ok', 'refused')", name=op.f("ck_audit_log_outcome")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"], unique=False)
    op.create_table(
        "pools",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("manager_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("strategy", sa.String(length=60), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("target_size", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("hard_cap", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("min_ticket", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("max_ticket", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("management_fee_rate", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column(
            "management_fee_basis",
            sa.String(length=30),
            server_default="committed_then_invested",
            nullable=False,
        ),
        sa.Column(
            "management_fee_step_down_rate",
            sa.Numeric(precision=9, scale=6),
            nullable=True,
        ),
        sa.Column("investment_period_end", sa.Date(), nullable=True),
        sa.Column("carry_rate", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("hurdle_rate", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("catch_up_rate", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("close_date", sa.Date(), nullable=False),
        sa.Column(
            "min_accreditation",
            sa.String(length=30),
            server_default="accredited",
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "management_fee_basis IN ('committed_then_invested', 'committed', 'invested')",
            name=op.f("ck_pools_fee_basis"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'closed', 'investing', 'wound_down')",
            name=op.f("ck_pools_status"),
        ),
        sa.CheckConstraint("carry_rate BETWEEN 0 AND 1", name=op.f("ck_pools_carry_rate")),
        sa.CheckConstraint("catch_up_rate BETWEEN 0 AND 1", name=op.f("ck_pools_catch_up_rate")),
        sa.CheckConstraint("hurdle_rate BETWEEN 0 AND 1", name=op.f("ck_pools_hurdle_rate")),
        sa.CheckConstraint("management_fee_rate BETWEEN 0 AND 1", name=op.f("ck_pools_fee_rate")),
        sa.CheckConstraint("min_ticket > 0 AND max_ticket >= min_ticket", name=op.f("ck_pools_tickets")),
        sa.CheckConstraint("target_size > 0 AND hard_cap >= target_size", name=op.f("ck_pools_sizes")),
        sa.CheckConstraint("version >= 0", name=op.f("ck_pools_version")),
        sa.ForeignKeyConstraint(["manager_id"], ["users.id"], name=op.f("fk_pools_manager_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
    )
    op.create_index("ix_pools_manager_id_status", "pools", ["manager_id", "status"], unique=False)
    op.create_table(
        "capital_calls",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("percent", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("call_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="issuing", nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('issuing', 'issued', 'cancelled')",
            name=op.f("ck_capital_calls_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_capital_calls_amount")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_capital_calls_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capital_calls")),
    )
    op.create_index(op.f("ix_capital_calls_pool_id"), "capital_calls", ["pool_id"], unique=False)
    op.create_table(
        "commitments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("investor_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_requested", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("amount_accepted", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status <> 'accepted' OR amount_accepted IS NOT NULL",
            name=op.f("ck_commitments_accepted_amount"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'withdrawn')",
            name=op.f("ck_commitments_status"),
        ),
        sa.CheckConstraint(
            "amount_accepted IS NULL OR (amount_accepted > 0 AND amount_accepted <= amount_requested)",
            name=op.f("ck_commitments_amount_accepted"),
        ),
        sa.CheckConstraint("amount_requested > 0", name=op.f("ck_commitments_amount_requested")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_commitments_decided_by_users")),
        sa.ForeignKeyConstraint(["investor_id"], ["users.id"], name=op.f("fk_commitments_investor_id_users")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_commitments_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
    )
    op.create_index("ix_commitments_investor_id", "commitments", ["investor_id"], unique=False)
    op.create_index(op.f("ix_commitments_pool_id"), "commitments", ["pool_id"], unique=False)
    op.create_index(
        "uq_commitments_live",
        "commitments",
        ["pool_id", "investor_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'accepted')"),
    )
    op.create_table(
        "journals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("memo", sa.String(length=500), server_default="", nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("operation_id", sa.UUID(), nullable=True),
        sa.Column("reverses_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "posted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("pg_current_xact_id()::text::bigint"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_journals_actor_id_users")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_journals_pool_id_pools")),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["journals.id"],
            name=op.f("fk_journals_reverses_id_journals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journals")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_journals_idempotency_key")),
    )
    op.create_index("ix_journals_pool_id_id", "journals", ["pool_id", "id"], unique=False)
    op.create_table(
        "operations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("progress_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_operations_status"),
        ),
        sa.CheckConstraint(
            "progress_done >= 0 AND progress_done <= progress_total",
            name=op.f("ck_operations_progress"),
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_operations_actor_id_users")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_operations_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_operations_idempotency_key")),
    )
    op.create_index(op.f("ix_operations_pool_id"), "operations", ["pool_id"], unique=False)
    op.create_index(
        "ix_operations_status_updated_at",
        "operations",
        ["status", "updated_at"],
        unique=False,
    )
    op.create_table(
        "call_items",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("commitment_id", sa.BigInteger(), nullable=False),
        sa.Column("investor_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_due", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column(
            "amount_paid",
            sa.Numeric(precision=20, scale=4),
            server_default="0",
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), server_default="open", nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'partially_paid', 'paid', 'cancelled')",
            name=op.f("ck_call_items_status"),
        ),
        sa.CheckConstraint("amount_due > 0", name=op.f("ck_call_items_amount_due")),
        sa.CheckConstraint(
            "amount_paid >= 0 AND amount_paid <= amount_due",
            name=op.f("ck_call_items_amount_paid"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["capital_calls.id"],
            name=op.f("fk_call_items_call_id_capital_calls"),
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("fk_call_items_commitment_id_commitments"),
        ),
        sa.ForeignKeyConstraint(["investor_id"], ["users.id"], name=op.f("fk_call_items_investor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_items")),
    )
    op.create_index(
        "ix_call_items_investor_id_status",
        "call_items",
        ["investor_id", "status"],
        unique=False,
    )
    op.create_index(
        "uq_call_items_call_id_investor_id",
        "call_items",
        ["call_id", "investor_id"],
        unique=True,
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("investor_id", sa.BigInteger(), nullable=True),
        sa.Column("account", sa.String(length=30), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("side", sa.String(length=1), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.CheckConstraint(
            "(investor_id IS NULL) = (account IN ('cash', 'investments', 'unrealized', 'call_clearing', 'fee_income'))",
            name=op.f("ck_entries_account_owner"),
        ),
        sa.CheckConstraint(
            "account IN ('cash', 'investments', 'unrealized', 'call_clearing', 'fee_income', 'commitment', 'commitment_memo', 'receivable', 'capital')",
            name=op.f("ck_entries_account"),
        ),
        sa.CheckConstraint("side IN ('D', 'C')", name=op.f("ck_entries_side")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_entries_amount")),
        sa.ForeignKeyConstraint(["journal_id"], ["journals.id"], name=op.f("fk_entries_journal_id_journals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
    )
    op.create_index("ix_entries_investor_id", "entries", ["investor_id"], unique=False)
    op.create_index("ix_entries_journal_id", "entries", ["journal_id"], unique=False)
    op.create_index(
        "ix_entries_pool_id_investor_id_account",
        "entries",
        ["pool_id", "investor_id", "account"],
        unique=False,
    )
    op.execute(LEDGER_RULES)


def downgrade() -> None:
    op.execute(DROP_LEDGER_RULES)
    op.drop_index("ix_entries_pool_id_investor_id_account", table_name="entries")
    op.drop_index("ix_entries_journal_id", table_name="entries")
    op.drop_index("ix_entries_investor_id", table_name="entries")
    op.drop_table("entries")
    op.drop_index("uq_call_items_call_id_investor_id", table_name="call_items")
    op.drop_index("ix_call_items_investor_id_status", table_name="call_items")
    op.drop_table("call_items")
    op.drop_index("ix_operations_status_updated_at", table_name="operations")
    op.drop_index(op.f("ix_operations_pool_id"), table_name="operations")
    op.drop_table("operations")
    op.drop_index("ix_journals_pool_id_id", table_name="journals")
    op.drop_table("journals")
    op.drop_index(
        "uq_commitments_live",
        table_name="commitments",
        postgresql_where=sa.text("status IN ('pending', 'accepted')"),
    )
    op.drop_index(op.f("ix_commitments_pool_id"), table_name="commitments")
    op.drop_index("ix_commitments_investor_id", table_name="commitments")
    op.drop_table("commitments")
    op.drop_index(op.f("ix_capital_calls_pool_id"), table_name="capital_calls")
    op.drop_table("capital_calls")
    op.drop_index("ix_pools_manager_id_status", table_name="pools")
    op.drop_table("pools")
    op.drop_index("ix_audit_log_object", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("users")
