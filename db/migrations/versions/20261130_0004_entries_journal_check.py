"""entries: the journal-open trigger also proves each entry's journal exists; drop the per-row key

The statement trigger entries_journal_open already joined every inserted entry to its journal to
check that the journal was created by the inserting transaction; it now also refuses an entry whose
journal does not exist. Journals can be neither deleted nor truncated (append-only triggers), so an
entry's journal can never go away afterwards, and the foreign key's per-row lookup, the largest part
of posting 100,000 entries after writing them, checks nothing the trigger does not.
`python -m core verify` also checks that every entry's journal exists.

Safe during a rolling deploy: the function is replaced atomically and the previous release writes
the same rows; dropping a constraint takes a brief lock and rewrites nothing. Downgrade restores the
old function and the key (NOT VALID, then VALIDATE, so the check does not hold the lock while it scans).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "fk_entries_journal_id_journals"

CHECK = """
CREATE OR REPLACE FUNCTION ledger_check_journal_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT journal_id FROM new_entries) AS added
          LEFT JOIN journals ON journals.id = added.journal_id
         WHERE journals.id IS NULL OR journals.txid <> pg_current_xact_id()::text::bigint
    ) THEN
        RAISE EXCEPTION 'entries may only be added to an existing journal, by the transaction that creates it'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
"""

PREVIOUS = """
CREATE OR REPLACE FUNCTION ledger_check_journal_open() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""


def upgrade() -> None:
    op.execute(CHECK)
    op.drop_constraint(KEY, "entries", type_="foreignkey")


def downgrade() -> None:
    op.execute(
        f"ALTER TABLE entries ADD CONSTRAINT {KEY} FOREIGN KEY (journal_id) REFERENCES journals (id) NOT VALID"
    )
    op.execute(f"ALTER TABLE entries VALIDATE CONSTRAINT {KEY}")
    op.execute(PREVIOUS)
