"""aggregate: data values and uploads (issue 13)

Revision ID: ag0001
Revises: (none: first revision of the aggregate branch)
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ag0001"
down_revision = None
branch_labels = ("aggregate",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ag_value",
        sa.Column("data_element", sa.String(length=64), nullable=False),
        sa.Column("coc", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("orgunit", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=True),
        sa.Column("stored_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "data_element", "coc", "period", "orgunit", name=op.f("pk_ag_value")
        ),
    )
    op.create_index(op.f("ix_ag_value_upload_id"), "ag_value", ["upload_id"], unique=False)
    op.create_table(
        "ag_upload",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("fmt", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ag_upload")),
    )
    op.create_index(op.f("ix_ag_upload_sha256"), "ag_upload", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_table("ag_upload")
    op.drop_index(op.f("ix_ag_value_upload_id"), table_name="ag_value")
    op.drop_table("ag_value")
