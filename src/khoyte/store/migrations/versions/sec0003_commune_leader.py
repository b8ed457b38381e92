"""security: the commune leader role (alerts and report requests of their communes, issue 15)

Revision ID: sec0003
Revises: sec0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sec0003"
down_revision = "sec0002"
branch_labels = None
depends_on = None

ROLES = sa.table("sec_roles", sa.column("code"), sa.column("name_vi"), sa.column("name_en"))


def upgrade() -> None:
    op.bulk_insert(
        ROLES,
        [{"code": "commune_leader", "name_vi": "Lãnh đạo xã, phường", "name_en": "Commune leader"}],
    )


def downgrade() -> None:
    op.execute(ROLES.delete().where(ROLES.c.code == "commune_leader"))
