"""Sealing what is already stored: the migrations that turn plaintext identifiers into
ciphertext (``gw0003``, ``ps0002``) and ``khoyte keys rotate`` (every value opened with the key
that sealed it and sealed again with the newest; every blind index recomputed).

Reads and writes raw column text (``sa.table`` with plain types), in chunks of ids, inside the
caller's transaction: the store is never half-sealed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection

from khoyte.store.crypto import Keyring

_CHUNK = 2000
# (table, text column, label) sealed whole
WHOLE = (("gw_submission", "receipt", "gw_submission.receipt"),
         ("gw_finding", "value", "gw_finding.value"))  # fmt: skip
PERSON_LABEL = "ps_record.identity"
# the person index's sealed identity, and the keys looked up by equality (blind indexes)
SEALED = ("ho_ten", "name_norm", "family", "given", "name_key", "dob", "cccd", "bhxh", "card",
          "phone")  # fmt: skip
BLIND = ("cccd", "bhxh", "phone", "dob", "name_key")


def _rewrite(
    conn: Connection, table: str, pk: str, column: str, change: Callable[[str], str]
) -> int:
    t = sa.table(table, sa.column(pk), sa.column(column, sa.Text))
    upd = sa.update(t).where(t.c[pk] == sa.bindparam("b_pk")).values({column: sa.bindparam("b_v")})
    last: Any = None
    n = 0
    while True:
        q = sa.select(t.c[pk], t.c[column]).where(t.c[column].is_not(None))
        if last is not None:
            q = q.where(t.c[pk] > last)
        rows = conn.execute(q.order_by(t.c[pk]).limit(_CHUNK)).all()
        if not rows:
            return n
        conn.execute(upd, [{"b_pk": k, "b_v": change(v)} for k, v in rows])
        n += len(rows)
        last = rows[-1][0]


def seal_gateway(
    conn: Connection,
    ring: Keyring,
    plaintext: bool,
    columns: Iterable[tuple[str, str, str]] = WHOLE,
) -> int:
    """Receipts, finding values (and any other ``columns``: table, column, label; keyed by
    ``id``) and record bodies sealed with ``ring``'s newest key (``plaintext``: they are not
    sealed yet — the migration)."""
    n = 0
    for table, column, label in columns:

        def change(v: str, lb: str = label) -> str:
            return ring.seal(v.encode() if plaintext else ring.open(v, lb), lb)

        n += _rewrite(conn, table, "id", column, change)
    n += _rewrite(conn, "gw_record_version", "id", "record", ring.seal_record)
    return n


def identity_row(values: dict[str, Any], ring: Keyring) -> dict[str, Any]:
    """``identity`` (sealed) and the blind indexes of one person record's identity."""
    ident = {c: values[c] for c in SEALED if values.get(c) is not None}
    row: dict[str, Any] = {f"{c}_bi": ring.blind(c, values.get(c)) for c in BLIND}
    row["identity"] = ring.seal(orjson.dumps(ident), PERSON_LABEL)
    return row


def seal_persons(conn: Connection, ring: Keyring, old_columns: bool) -> int:
    """Every ``ps_record`` row's identity sealed again and its blind indexes recomputed
    (``old_columns``: read from the plaintext columns of ``ps0001`` — the migration)."""
    cols = [*SEALED] if old_columns else ["identity"]
    t = sa.table("ps_record", sa.column("facility"), sa.column("ma_lk"),
                 *(sa.column(c, sa.Text) for c in {*cols, "identity", *(f"{b}_bi" for b in BLIND)}))  # fmt: skip
    rows = conn.execute(sa.select(t.c.facility, t.c.ma_lk, *(t.c[c] for c in cols))).all()
    out = []
    for r in rows:
        if old_columns:
            values = dict(zip(SEALED, r[2:], strict=True))
        else:
            values = orjson.loads(ring.open(r[2], PERSON_LABEL))
        out.append({"b_f": r[0], "b_m": r[1],
                    **{f"b_{k}": v for k, v in identity_row(values, ring).items()}})  # fmt: skip
    if out:
        upd = (
            sa.update(t)
            .where(t.c.facility == sa.bindparam("b_f"), t.c.ma_lk == sa.bindparam("b_m"))
            .values({c: sa.bindparam(f"b_{c}") for c in ("identity", *(f"{b}_bi" for b in BLIND))})
        )
        conn.execute(upd, out)
    return len(out)
