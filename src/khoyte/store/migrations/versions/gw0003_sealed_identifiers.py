"""gateway: identifiers encrypted at rest (receipts, finding values, record bodies)

Revision ID: gw0003
Revises: gw0002
Create Date: 2026-12-07

Issue 14 (Decree 13/2023): what a store already holds is sealed with the store's key
(``khoyte.store.crypto``); the columns stay text. On a large store this rewrites every record
version once; afterwards ``khoyte keys rotate`` (SQLite: it also runs VACUUM, so no old plaintext
page stays in the file).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from khoyte.store.crypto import keyring
from khoyte.store.sealing import seal_gateway

revision = "gw0003"
down_revision = "gw0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.scalar(sa.text("SELECT 1 FROM gw_submission LIMIT 1")) is not None:
        seal_gateway(conn, keyring(conn), plaintext=True)  # (an empty store needs no key yet)


def downgrade() -> None:
    raise NotImplementedError("identifiers stay encrypted: restore a backup taken before gw0003")
