"""study description: free text the administrator writes for the study's experts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # A native DROP COLUMN (SQLite 3.35+): re-creating "studies" the batch way would drop a table that
    # study items and experts still reference, which SQLite refuses while foreign keys are on.
    with op.batch_alter_table("studies", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("description")
