"""persons: the person index's identity encrypted, lookups by keyed blind indexes

Revision ID: ps0002
Revises: ps0001
Create Date: 2026-12-07

Issue 14 (Decree 13/2023): ``ps_record``'s direct identifiers (name, its normal forms, date of
birth, CCCD, BHXH, card, phone) move into one sealed ``identity``; CCCD, BHXH, phone, date of
birth and family + given name are looked up through HMAC blind indexes (``*_bi``). Birth year,
sex and commune stay readable (blocking needs them; none identifies a person alone).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from khoyte.store.crypto import keyring
from khoyte.store.sealing import BLIND, SEALED, seal_persons

revision = "ps0002"
down_revision = "ps0001"
branch_labels = None
depends_on = None

_OLD_INDEXES = ("ix_ps_record_bhxh", "ix_ps_record_cccd", "ix_ps_record_phone",
                "ix_ps_record_dob_sex", "ix_ps_record_name_key_year")  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("ps_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity", sa.Text(), nullable=True))
        for b in BLIND:
            batch_op.add_column(sa.Column(f"{b}_bi", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    if conn.scalar(sa.text("SELECT 1 FROM ps_record LIMIT 1")) is not None:
        seal_persons(conn, keyring(conn), old_columns=True)
    with op.batch_alter_table("ps_record", schema=None) as batch_op:
        for ix in _OLD_INDEXES:
            batch_op.drop_index(ix)
        for c in SEALED:
            batch_op.drop_column(c)
        batch_op.alter_column("identity", existing_type=sa.Text(), nullable=False)
        batch_op.create_index("ix_ps_record_bhxh_bi", ["bhxh_bi"], unique=False)
        batch_op.create_index("ix_ps_record_cccd_bi", ["cccd_bi"], unique=False)
        batch_op.create_index("ix_ps_record_phone_bi", ["phone_bi"], unique=False)
        batch_op.create_index("ix_ps_record_dob_sex", ["dob_bi", "sex"], unique=False)
        batch_op.create_index(
            "ix_ps_record_name_key_year", ["name_key_bi", "birth_year"], unique=False
        )


def downgrade() -> None:
    raise NotImplementedError("identities stay encrypted: restore a backup taken before ps0002")
