"""sign-in by a provider and idle sessions: users.last_seen_at, an index on lower(email)

Safe during a rolling deploy: a nullable column with no default (no table rewrite) and a new
index; code of the previous release neither reads nor writes either. The index is built in the
migration's transaction (the users table is small and lock_timeout bounds the wait): CREATE
INDEX CONCURRENTLY would wait on the snapshot of another replica queued on the migration lock.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_users_email_lower", table_name="users")
    op.drop_column("users", "last_seen_at")
