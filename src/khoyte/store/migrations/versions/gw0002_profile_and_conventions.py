"""gateway: the judging profile of each submission, the exporter convention of each finding

Revision ID: gw0002
Revises: gw0001
Create Date: 2026-12-07

Issue 11: a finding's severity comes from a profile (``hub`` or ``payer``); the receipt and the
submission row name it. A finding explained by a known exporter convention carries its code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gw0002"
down_revision = "gw0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gw_submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile", sa.String(length=16), nullable=True))
    with op.batch_alter_table("gw_finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("convention", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_gw_finding_convention", ["convention"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gw_finding", schema=None) as batch_op:
        batch_op.drop_index("ix_gw_finding_convention")
        batch_op.drop_column("convention")
    with op.batch_alter_table("gw_submission", schema=None) as batch_op:
        batch_op.drop_column("profile")
