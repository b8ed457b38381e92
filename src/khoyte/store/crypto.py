"""Direct identifiers encrypted at rest in the operational store (Decree 13/2023, issue 14).

What identifies a patient is written to the store only as AES-256-GCM ciphertext (authenticated:
a changed byte, or a value moved to another column, fails to open):

- ``gw_submission.receipt`` and ``gw_finding.value`` (receipts and findings quote values):
  the whole text, through the column type :class:`SealedText`;
- ``gw_record_version.record``: the values of identifying fields (:func:`khoyte.standards.
  personal.is_identifying`: names, CCCD, card, address, phone, birth date, free text) move into
  one ciphertext per record (``"sealed"``), their places left ``null``: dates, codes and amounts
  stay readable to the data-quality queries' SQL (:func:`seal_record`, :meth:`Keyring.unseal`);
- ``ps_record`` (the person index): the identity as one ciphertext (:class:`SealedJSON`), and
  keyed **blind indexes** (HMAC-SHA256, :meth:`Keyring.blind`) of the lookup keys (CCCD, BHXH,
  phone, date of birth, family + given name) so that deterministic and online linking still
  find candidates by equality.

A ciphertext is ``<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``; the key id says which key of
the :class:`Keyring` opens it, so keys rotate (``khoyte keys rotate``: a new key, every value
re-encrypted and every blind index recomputed with it, the old keys kept to read backups).
The keys come from ``KHOYTE_STORE_KEYS`` (``k1:<64 hex>,k2:<64 hex>``, the last one
encrypts), else from ``DATA_DIR/store.keys`` (created once, owner-only, one ``id hex`` a line).
Content hashes (``content_sha``) and receipts' identity are computed on the plaintext before
sealing, so idempotency and receipts do not change.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from khoyte.config import Settings
from khoyte.standards.personal import is_identifying

KEY_FILE = "store.keys"
RECORD_LABEL = "gw_record_version.record"


class StoreKeyError(RuntimeError):
    """The store's key is missing or wrong: nothing identifying can be read without it."""


@dataclass
class Keyring:
    keys: dict[str, bytes]  # key id -> 32-byte key, in the order they were made
    source: str  # where they came from (said in errors)
    _aead: dict[str, AESGCM] = field(init=False, repr=False)
    _index: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise StoreKeyError(f"no key in {self.source}")
        self._aead = {k: AESGCM(v) for k, v in self.keys.items()}
        self._index = hmac.new(self.keys[self.primary], b"khoyte blind index v1", "sha256").digest()

    @property
    def primary(self) -> str:
        """The key that encrypts (the newest)."""
        return next(reversed(self.keys))

    def seal(self, data: bytes, label: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead[self.primary].encrypt(nonce, data, label.encode())
        return f"{self.primary}:{base64.b64encode(nonce + ct).decode()}"

    def open(self, text: str, label: str) -> bytes:
        kid, sep, body = text.partition(":")
        aead = self._aead.get(kid)
        if not sep or aead is None:
            raise StoreKeyError(
                f"Không giải mã được {label}: khóa {kid!r} không có trong {self.source} / "
                f"cannot decrypt {label}: key {kid!r} is not in {self.source} (restore the "
                "store's key: KHOYTE_STORE_KEYS or DATA_DIR/store.keys)"
            )
        raw = base64.b64decode(body)
        try:
            return aead.decrypt(raw[:12], raw[12:], label.encode())
        except InvalidTag:
            raise StoreKeyError(
                f"Khóa {kid!r} ({self.source}) không mở được {label}: sai khóa hoặc dữ liệu bị "
                f"sửa / key {kid!r} ({self.source}) does not open {label}: wrong key or altered data"
            ) from None

    def blind(self, label: str, value: str | None) -> str | None:
        """A keyed, deterministic index of ``value`` (equal values, equal indexes; nothing to
        read back without the key)."""
        if value is None:
            return None
        return hmac.digest(self._index, f"{label}\x00{value}".encode(), "sha256")[:16].hex()

    # ---- record bodies ------------------------------------------------------------------
    def seal_record(self, body: str) -> str:
        """``body`` (a record's canonical JSON) with its identifying values sealed."""
        # the stdlib reads what orjson would not keep exactly (lone surrogates, integers beyond
        # 64 bits, which orjson reads as floats): this path serves those and key rotation; a
        # new record's body is sealed in one pass (``gateway.batch.make_body``)
        data = json.loads(body)
        self.unseal(data)  # already sealed (a rotation): open with whichever key sealed it
        tables = data.pop("tables")
        return self.seal_tables(data, tables)

    def seal_tables(self, head: dict[str, Any], tables: dict[str, list[dict[str, Any]]]) -> str:
        """A record's JSON (``head``'s fields, then ``tables``, whose values are JSON types)
        with its identifying values null in place and sealed together under ``"sealed"``;
        ``tables`` is not changed."""
        secret: dict[str, dict[str, dict[str, Any]]] = {}
        hidden_tables: dict[str, list[dict[str, Any]]] = {}
        for t, rows in tables.items():
            out = []
            for i, row in enumerate(rows):
                hidden = {c: row[c] for c in _identifying(tuple(row)) if row[c] is not None}
                if hidden:
                    secret.setdefault(t, {})[str(i)] = hidden
                    row = {**row, **dict.fromkeys(hidden)}  # same keys, same order: nulls
                out.append(row)
            hidden_tables[t] = out
        data: dict[str, Any] = {**head, "tables": hidden_tables}
        if secret:
            data["sealed"] = self.seal(_dumps(secret), RECORD_LABEL)
        return _dumps(data).decode()

    def unseal(self, data: dict[str, Any]) -> None:
        """Put a loaded record's sealed values back, in place (``record_from_json``'s hook)."""
        sealed = data.pop("sealed", None)
        if sealed is None:
            return
        secret = orjson.loads(self.open(sealed, RECORD_LABEL))
        tables = data["tables"]
        for t, rows in secret.items():
            for i, values in rows.items():
                tables[t][int(i)].update(values)


@lru_cache(maxsize=1024)
def _identifying(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The identifying columns among a row's (rows of a table share their columns)."""
    return tuple(c for c in columns if is_identifying(c))


def _dumps(data: Any) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError:  # lone surrogates
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


# ---- where keys come from -----------------------------------------------------------------
def parse_keys(text: str, source: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in text.replace(",", "\n").splitlines():
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        kid, _, hexkey = item.replace(":", " ", 1).partition(" ")
        try:
            key = bytes.fromhex(hexkey.strip())
        except ValueError:
            key = b""
        if len(key) != 32 or not kid.isalnum():
            raise StoreKeyError(f"{source}: each key is `id:<64 hex digits>` (got {kid!r})")
        if kid in keys:
            raise StoreKeyError(f"{source}: key id {kid!r} appears twice")
        keys[kid] = key
    return keys


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def load_keyring(settings: Settings, create: bool = True) -> Keyring:
    """From ``KHOYTE_STORE_KEYS``, else ``DATA_DIR/store.keys`` (made with one random key the
    first time, owner-only, like the warehouse's pseudonym key)."""
    if settings.store_keys is not None:
        text = settings.store_keys.get_secret_value()
        return Keyring(parse_keys(text, "KHOYTE_STORE_KEYS"), "KHOYTE_STORE_KEYS")
    path = key_file(settings)
    if not path.exists():
        if not create:
            raise StoreKeyError(f"no store key: {path} is missing and KHOYTE_STORE_KEYS is not set")
        _create_first(path)
    return Keyring(parse_keys(path.read_text(), str(path)), str(path))


def _create_first(path: Path) -> None:
    """The first key, written whole then linked into place: two processes starting on a fresh
    data folder (the server and a command) end up with the same key, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    _append_key(tmp, "k1")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: theirs is the key
    finally:
        tmp.unlink()


def _append_key(path: Path, kid: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(f"{kid} {secrets.token_hex(32)}\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)


def new_key(settings: Settings) -> Keyring:
    """Add a key to ``DATA_DIR/store.keys`` (it becomes the one that encrypts)."""
    if settings.store_keys is not None:
        raise StoreKeyError(
            "Khóa lấy từ KHOYTE_STORE_KEYS: hãy thêm khóa mới vào cuối biến đó / the keys come "
            "from KHOYTE_STORE_KEYS: append the new key there (`khoyte keys new` prints one)"
        )
    ring = load_keyring(settings)
    n = 1 + max(int(k[1:]) for k in ring.keys if k[1:].isdigit())
    _append_key(key_file(settings), f"k{n}")
    return load_keyring(settings)


# ---- which keyring an engine uses ----------------------------------------------------------
_RINGS: weakref.WeakKeyDictionary[Dialect, Keyring | Settings] = weakref.WeakKeyDictionary()


def attach(engine: Engine, ring: Keyring | Settings) -> None:
    """The engine's values are sealed with ``ring`` (a settings object: loaded on first use,
    so engines that never touch identifiers never make a key file)."""
    _RINGS[engine.dialect] = ring


def keyring(bind: Engine | Connection | Session | Dialect) -> Keyring:
    if isinstance(bind, Session):
        bind = bind.get_bind()
    dialect = bind if isinstance(bind, Dialect) else bind.dialect
    ring = _RINGS.get(dialect)
    if not isinstance(ring, Keyring):
        ring = load_keyring(ring or Settings())
        _RINGS[dialect] = ring
    return ring


class SealedText(TypeDecorator[str]):
    """A text column stored as ciphertext (``label`` is bound into it: a value moved to another
    column does not open)."""

    impl = Text
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring(dialect).seal(value.encode(), self.label)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring(dialect).open(value, self.label).decode()


class SealedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object stored as one ciphertext."""

    impl = Text
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring(dialect).seal(_dumps(value), self.label)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        out: dict[str, Any] = orjson.loads(keyring(dialect).open(value, self.label))
        return out


def sealed_columns(tables: Iterable[Any]) -> list[tuple[str, str, str]]:
    """``(table, column, label)`` of every sealed column of ``tables``."""
    out = []
    for t in tables:
        for c in t.columns:
            if isinstance(c.type, SealedText | SealedJSON):
                out.append((t.name, c.name, c.type.label))
    return out
