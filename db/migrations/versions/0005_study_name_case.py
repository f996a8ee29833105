"""study names unique regardless of letter case: two admins creating "Pilot" and "pilot" at once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_studies_lower_name"
CLASHES = sa.text(
    "SELECT id, name FROM studies WHERE lower(name) IN "
    "(SELECT lower(name) FROM studies GROUP BY lower(name) HAVING count(*) > 1) "
    "ORDER BY lower(name), id"
)


def upgrade() -> None:
    # Studies hold experts' work under the names they know: the administrator renames, never the upgrade.
    # A ValueError, like the services' refusals: the command line prints its message, not a traceback.
    clashes = op.get_bind().execute(CLASHES).all()
    if clashes:
        listed = ", ".join(f"{name!r} (id {study_id})" for study_id, name in clashes)
        raise ValueError(
            f"Study names must differ in more than letter case, but these do not: {listed}. Rename all but "
            "one study of each group, e.g. UPDATE studies SET name = 'Pilot 2' WHERE id = 2, then upgrade again."
        )
    op.create_index(INDEX, "studies", [sa.text("lower(name)")], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="studies")
