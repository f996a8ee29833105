"""study item asset ids, run progress, ensemble member probabilities, relabel label link

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:28:57
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("progress_note", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.create_check_constraint("ck_run_progress_range", "progress >= 0 AND progress <= 1")

    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("members", sa.JSON(), nullable=True))

    with op.batch_alter_table("relabel_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_relabel_items_label_id", "video_labels", ["label_id"], ["id"])

    with op.batch_alter_table("study_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_asset_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("right_asset_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_study_items_left_asset", "cam_assets", ["left_asset_id"], ["id"])
        batch_op.create_foreign_key("fk_study_items_right_asset", "cam_assets", ["right_asset_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("study_items", schema=None) as batch_op:
        batch_op.drop_constraint("fk_study_items_right_asset", type_="foreignkey")
        batch_op.drop_constraint("fk_study_items_left_asset", type_="foreignkey")
        batch_op.drop_column("right_asset_id")
        batch_op.drop_column("left_asset_id")

    with op.batch_alter_table("relabel_items", schema=None) as batch_op:
        batch_op.drop_constraint("fk_relabel_items_label_id", type_="foreignkey")
        batch_op.drop_column("label_id")

    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("members")

    with op.batch_alter_table("model_runs", schema=None) as batch_op:
        batch_op.drop_constraint("ck_run_progress_range", type_="check")
        batch_op.drop_column("progress_note")
        batch_op.drop_column("progress")
