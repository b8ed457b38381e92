"""``khoyte backup DEST`` and ``khoyte restore SRC``: nothing is lost, including by the operator.

A backup folder holds one shared, content-addressed copy of the raw archive and one folder per
snapshot::

    DEST/archive/ab/cd/<sha256>.xml        every archived file, copied once (incremental)
    DEST/archive/packs/ab/<name>.zip       every pack of files (bulk intake), copied whole, once
    DEST/snapshots/<UTC time>/
        store.sqlite3 | store.pgdump       the operational store, one consistent moment
        archive.list                       "<sha256> <size>" of every archived file it vouches for
        audit-head.json                    the audit chain's head in the snapshot (signed if a key is set)
        settings.json                      what is needed to read it: store kind, schema revisions,
                                           retention, fingerprints of the secrets kept outside
        keys/warehouse.key                 the pseudonym key, when it lives in the data folder
        keys/store.keys                    the keys that open the store's identifiers (same)
        MANIFEST.json                      sha256 and size of every part above, written LAST

The store is copied first (SQLite's online backup API; ``pg_dump`` for PostgreSQL, whose
snapshot is a single transaction), then the archive: bytes are archived before their submission
commits, so every submission in the snapshot finds its file. Each file is checked against its
sha256 as it is copied. A snapshot without its manifest was interrupted and is never restored.

Restore checks the manifest, every part and every archived file before touching anything, and
restores only into an empty data folder and an empty database (it never overwrites). Then it
verifies the audit chain against the saved head, checks that every submission has its audit
entry and its archived bytes, and rebuilds the warehouse from the store (the warehouse is
derived data and is never copied).

subprocess runs PostgreSQL's own pg_dump/pg_restore with argument lists, never a shell.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess  # nosec B404
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from khoyte import __version__
from khoyte.config import Settings
from khoyte.gateway.archive import Archive, _fsync_dir, pack_members
from khoyte.store.crypto import KEY_FILE

if TYPE_CHECKING:
    from sqlalchemy import Engine

# SQLAlchemy is imported inside the functions: every ``khoyte`` command (validate too) loads
# this module to register its commands.

FORMAT = 1
MANIFEST = "MANIFEST.json"
_RESTORE_PACK = 32 << 20  # bytes of archived files restored into one pack
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore refused: ``vi`` and ``en`` say what happened and what to do."""

    def __init__(self, vi: str, en: str) -> None:
        self.vi, self.en = vi, en
        super().__init__(f"{vi} / {en}")


@dataclass
class Report:
    snapshot: Path
    submissions: int = 0
    archive_files: int = 0
    archive_copied: int = 0
    audit_seq: int = 0
    warnings: list[str] = field(default_factory=list)


# -- helpers -------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fingerprint(secret: str) -> str | None:
    """A short, one-way mark of a secret: tells whether restore runs with the same one."""
    if not secret:
        return None
    return hashlib.sha256(b"khoyte-fingerprint:" + secret.encode()).hexdigest()[:16]


def _secrets(settings: Settings) -> dict[str, str | None]:
    pseudo = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else ""
    return {
        "KHOYTE_SECRET_KEY": fingerprint(settings.secret_key),
        "KHOYTE_AUDIT_SIGNING_KEY": fingerprint(settings.audit_signing_key),
        "KHOYTE_PSEUDONYM_KEY": fingerprint(pseudo),
        "KHOYTE_STORE_KEYS": fingerprint(
            settings.store_keys.get_secret_value() if settings.store_keys else ""
        ),
    }


def _is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump/pg_restore, and the password in the environment (never on the
    command line, where every user of the machine could read it)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _server_major(engine: Engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def pg_tool(name: str, server_major: int) -> str:
    """``pg_dump``/``pg_restore`` of the server's major version (Debian keeps each version in
    /usr/lib/postgresql/N/bin); a newer one also reads an older server, an older one cannot."""
    found: dict[int, str] = {}
    for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}"):
        m = re.search(r"/postgresql/(\d+)/bin/", path)
        if m:
            found[int(m.group(1))] = path
    on_path = shutil.which(name)
    if on_path:
        # a fixed program found on PATH, a fixed argument, no shell
        out = subprocess.run([on_path, "--version"], capture_output=True, text=True, check=False)  # nosec B603
        m = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
        if m:
            found.setdefault(int(m.group(1)), on_path)
    usable = sorted(v for v in found if v >= server_major)
    if not usable:
        have = ", ".join(f"{v}" for v in sorted(found)) or "không có / none"
        raise BackupError(
            f"Không có {name} phiên bản ≥ {server_major} (máy chủ PostgreSQL {server_major}; "
            f"đang có: {have}). Hãy cài postgresql-client-{server_major}.",
            f"No {name} of version ≥ {server_major} (the PostgreSQL server is {server_major}; "
            f"found: {have}). Install postgresql-client-{server_major}.",
        )
    return found[usable[0]]


def _copy_pack(pack: Path, root: Path, shared: Archive) -> tuple[list[str], list[str], bool]:
    """A pack of ``root``'s archive copied whole into ``shared`` (unless there already, same
    size), each member checked against its sha256 first: (``"<sha256> <size>"`` lines,
    damaged members, whether it was copied)."""
    try:
        members = pack_members(pack)
    except (OSError, zipfile.BadZipFile):
        return [], [str(pack)], False
    have = shared.root / pack.relative_to(root)
    if have.exists() and have.stat().st_size == pack.stat().st_size:
        return [f"{m.sha256} {m.size}" for m in members], [], False
    with zipfile.ZipFile(pack) as z:  # opened once for all its members
        damaged = [f"{pack}:{m.sha256}.xml" for m in members
                   if hashlib.sha256(z.read(f"{m.sha256}.xml")).hexdigest() != m.sha256]  # fmt: skip
    if damaged:
        return [], damaged, False
    have.parent.mkdir(parents=True, exist_ok=True)
    part = have.with_name(f".{have.name}.part")
    shutil.copyfile(pack, part)
    _fsync_file(part)
    os.replace(part, have)
    _fsync_dir(have.parent)
    return [f"{m.sha256} {m.size}" for m in members], [], True


def _store_facts(engine: Engine, signing_key: str) -> dict[str, Any]:
    """What the snapshot holds, read from the snapshot itself (SQLite) or the live store
    (PostgreSQL, before the dump: the chain only grows, so the dump holds this head)."""
    from sqlalchemy import func, select, text
    from sqlalchemy.orm import Session

    from khoyte.gateway.intake import submissions_without_audit
    from khoyte.gateway.models import Submission
    from khoyte.security import audit

    with Session(engine) as s:
        head = audit.head(s)
        if signing_key:
            head["algorithm"] = "HMAC-SHA256"
            head["signature"] = audit.sign(head, signing_key)
        verdict = audit.verify(s)
        n = int(s.scalar(select(func.count()).select_from(Submission)) or 0)
        shas = set(s.scalars(select(Submission.sha256)))
        revisions = sorted(s.scalars(text("SELECT version_num FROM alembic_version")))
    with engine.connect() as conn:
        unaudited = submissions_without_audit(conn)
    return {
        "head": head,
        "chain_ok": verdict.ok,
        "chain": verdict.message(),
        "submissions": n,
        "shas": shas,
        "revisions": revisions,
        "unaudited": unaudited,
    }


# -- backup --------------------------------------------------------------------------------------


def backup(settings: Settings, dest: Path, now: datetime | None = None) -> Report:
    from sqlalchemy import create_engine

    url = settings.effective_database_url()
    now = now or datetime.now(UTC)
    snap = dest / "snapshots" / now.strftime("%Y%m%dT%H%M%S%fZ")
    snap.mkdir(parents=True, exist_ok=False)
    report = Report(snap)
    if _is_pg(url):
        store_part = "store.pgdump"
        # one snapshot for the head, the chain walk and the list of submissions: under READ
        # COMMITTED a writer committing mid-walk looks like a truncated chain
        engine = create_engine(url, isolation_level="REPEATABLE READ")
        try:
            facts = _store_facts(engine, settings.audit_signing_key)
            tool = pg_tool("pg_dump", _server_major(engine))
        finally:
            engine.dispose()
        target, env = _libpq(url)
        # an argument list, no shell: the tool's path, fixed options, our paths, the configured database
        done = subprocess.run(
            [tool, "--format=custom", "--no-owner", "--no-privileges", "--file",
             str(snap / store_part), target],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip  # nosec B603
        if done.returncode != 0:
            raise BackupError(
                f"pg_dump thất bại: {done.stderr.strip()[:500]}",
                f"pg_dump failed: {done.stderr.strip()[:500]}",
            )
        _fsync_file(snap / store_part)
    else:
        store_part = "store.sqlite3"
        if not settings.sqlite_path.exists():
            raise BackupError(
                f"Không có kho vận hành tại {settings.sqlite_path}: kiểm tra KHOYTE_DATA_DIR.",
                f"No operational store at {settings.sqlite_path}: check KHOYTE_DATA_DIR.",
            )
        source = sqlite3.connect(settings.sqlite_path, timeout=60)
        copy = sqlite3.connect(snap / store_part)
        try:
            source.backup(copy)  # one step: one read transaction, one consistent moment
            # a self-contained file (no -wal/-shm beside it); the store turns WAL on again
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
            source.close()
        _fsync_file(snap / store_part)
        engine = create_engine(f"sqlite:///{snap / store_part}")
        try:
            facts = _store_facts(engine, settings.audit_signing_key)
        finally:
            engine.dispose()
    # The archive, after the store: every submission the snapshot holds finds its file.
    shared = Archive(dest / "archive")
    listed: list[str] = []
    damaged: list[str] = []
    archived = Archive(settings.archive_dir)
    for entry in archived.loose():
        sha, path, size = entry.sha256, entry.path, entry.size
        have = shared.path(sha)
        if not (have.exists() and have.stat().st_size == size):
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:
                damaged.append(str(path))
                continue
            shared.put(data, sha)
            report.archive_copied += 1
        listed.append(f"{sha} {size}")
        report.archive_files += 1
    for pack in archived.packs():
        lines, bad, copied = _copy_pack(pack, settings.archive_dir, shared)
        damaged += bad
        report.archive_copied += len(lines) if copied else 0
        listed += lines
        report.archive_files += len(lines)
    in_list = {line[:64] for line in listed}
    missing = sorted(facts["shas"] - in_list)
    if damaged or missing:
        raise BackupError(
            f"Sao lưu dừng lại, chưa hoàn tất (không có {MANIFEST}): {len(damaged)} tệp lưu trữ "
            f"hỏng (nội dung khác sha256: {', '.join(damaged[:5])}), {len(missing)} lần gửi "
            f"thiếu tệp gốc ({', '.join(missing[:5])}). Hãy lấy lại các tệp đó từ bản sao lưu "
            "cũ hơn (DEST/archive) rồi chạy lại.",
            f"Backup stopped, incomplete (no {MANIFEST}): {len(damaged)} archived file(s) "
            f"damaged (content differs from its sha256: {', '.join(damaged[:5])}), "
            f"{len(missing)} submission(s) without their raw file ({', '.join(missing[:5])}). "
            "Recover those files from an older backup (DEST/archive) and run it again.",
        )
    _write_durably(snap / "archive.list", ("\n".join(listed) + "\n").encode())
    _write_durably(snap / "audit-head.json", json.dumps(facts["head"], indent=1).encode())
    for name, in_settings in (("warehouse.key", settings.pseudonym_key),
                              (KEY_FILE, settings.store_keys)):  # fmt: skip
        key = settings.data_dir / name
        if in_settings is None and key.exists():
            (snap / "keys").mkdir(exist_ok=True)
            _write_durably(snap / "keys" / name, key.read_bytes())
            os.chmod(snap / "keys" / name, 0o600)
    settings_doc = {
        "store": "postgresql" if _is_pg(url) else "sqlite",
        "schema_revisions": facts["revisions"],
        "archive_retention_years": settings.archive_retention_years,
        "secrets_outside_the_backup": _secrets(settings),
    }
    _write_durably(snap / "settings.json", json.dumps(settings_doc, indent=1).encode())
    report.submissions, report.audit_seq = facts["submissions"], facts["head"]["seq"]
    if not facts["chain_ok"]:
        report.warnings.append(facts["chain"])
    if facts["unaudited"]:
        report.warnings.append(
            f"{len(facts['unaudited'])} lần gửi không có mục nhật ký / submissions without "
            f"an audit entry: {', '.join(facts['unaudited'][:10])}"
        )
    parts = {
        p.relative_to(snap).as_posix(): {"sha256": _sha256_file(p), "size": p.stat().st_size}
        for p in sorted(snap.rglob("*"))
        if p.is_file()
    }
    manifest = {
        "format": FORMAT,
        "khoyte": __version__,
        "created_at": now.isoformat(timespec="seconds"),
        "store": settings_doc["store"],
        "store_part": store_part,
        "submissions": facts["submissions"],
        "archive": {"files": report.archive_files, "folder": "../../archive"},
        "audit": {
            "seq": facts["head"]["seq"],
            "hash": facts["head"]["hash"],
            "chain_ok": facts["chain_ok"],
            "submissions_without_entry": facts["unaudited"],
        },
        "parts": parts,
    }
    # Last: a snapshot without its manifest is an interrupted one, and restore refuses it.
    _write_durably(snap / MANIFEST, json.dumps(manifest, indent=1).encode())
    return report


# -- restore -------------------------------------------------------------------------------------


def find_snapshot(src: Path) -> Path:
    """``src`` itself if it is a snapshot, else the newest complete snapshot under it."""
    if (src / MANIFEST).exists() or (src / "archive.list").exists():
        return src
    snaps = sorted((src / "snapshots").glob("*")) if (src / "snapshots").is_dir() else []
    complete = [p for p in snaps if (p / MANIFEST).exists()]
    if complete:
        return complete[-1]
    raise BackupError(
        f"Không có bản sao lưu hoàn chỉnh trong {src} (thiếu {MANIFEST}: lần sao lưu bị ngắt "
        "giữa chừng, hoặc đây không phải thư mục sao lưu khoyte). Hãy chọn bản sao lưu khác.",
        f"No complete backup in {src} ({MANIFEST} missing: the backup was interrupted, or this "
        "is not a khoyte backup folder). Choose another backup.",
    )


def verify(snap: Path) -> dict[str, Any]:
    """The manifest, if every part and every archived file is whole; else BackupError."""
    manifest_path = snap / MANIFEST
    if not manifest_path.exists():
        raise BackupError(
            f"Bản sao lưu {snap} chưa hoàn tất (thiếu {MANIFEST}): không khôi phục. Hãy dùng "
            "bản sao lưu khác hoặc chạy lại khoyte backup.",
            f"Backup {snap} is partial ({MANIFEST} missing): not restored. Use another backup "
            "or run khoyte backup again.",
        )
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        parts: dict[str, dict[str, Any]] = manifest["parts"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(
            f"{MANIFEST} của {snap} hỏng ({exc}): không khôi phục.",
            f"{MANIFEST} of {snap} is damaged ({exc}): not restored.",
        ) from exc
    bad = []
    for name, want in sorted(parts.items()):
        p = snap / name
        if not p.is_file():
            bad.append(f"{name} (thiếu / missing)")
        elif p.stat().st_size != want["size"] or _sha256_file(p) != want["sha256"]:
            bad.append(f"{name} (sha256)")
    for needed in (manifest.get("store_part", ""), "archive.list", "audit-head.json"):
        if needed not in parts:
            bad.append(f"{needed or 'store'} (không có trong {MANIFEST} / not in {MANIFEST})")
    if not bad:
        shared = Archive((snap / manifest["archive"]["folder"]).resolve())
        for line in (snap / "archive.list").read_text().split():
            if len(line) != 64:
                continue  # the size column
            try:
                whole = hashlib.sha256(shared.get(line)).hexdigest() == line
            except (OSError, zipfile.BadZipFile, KeyError):
                whole = False
            if not whole:
                bad.append(f"archive: {line}.xml")
    if bad:
        listed = ", ".join(bad[:10]) + (f" … (+{len(bad) - 10})" if len(bad) > 10 else "")
        raise BackupError(
            f"Bản sao lưu {snap} bị hỏng: {len(bad)} phần không khớp sha256 hoặc bị thiếu: "
            f"{listed}. Không khôi phục gì; hãy dùng bản sao lưu khác.",
            f"Backup {snap} is damaged: {len(bad)} part(s) missing or not matching their sha256: "
            f"{listed}. Nothing was restored; use another backup.",
        )
    return manifest


def _refuse_non_empty(settings: Settings, store: str) -> None:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    url = settings.effective_database_url()
    if (store == "postgresql") != _is_pg(url):
        raise BackupError(
            f"Bản sao lưu là của kho {store}, nhưng KHOYTE_DATABASE_URL trỏ tới "
            f"{'PostgreSQL' if _is_pg(url) else 'SQLite'}: hãy đặt cấu hình cùng loại kho.",
            f"The backup is of a {store} store but KHOYTE_DATABASE_URL points to "
            f"{'PostgreSQL' if _is_pg(url) else 'SQLite'}: configure the same kind of store.",
        )
    found = [
        str(p)
        for p in (settings.sqlite_path, settings.duckdb_path, settings.data_dir / "warehouse.key")
        if p.exists()
    ]
    if next(Archive(settings.archive_dir).entries(), None) is not None:
        found.append(str(settings.archive_dir))
    if _is_pg(url):
        engine = create_engine(url)
        try:
            tables = inspect(engine).get_table_names()
        finally:
            engine.dispose()
        if tables:
            found.append(f"{make_url(url).database} ({len(tables)} bảng / tables)")
    if found:
        raise BackupError(
            f"Nơi khôi phục không trống: {', '.join(found)}. Khôi phục chỉ ghi vào thư mục dữ "
            "liệu và cơ sở dữ liệu trống, để không ghi đè gì: hãy chọn KHOYTE_DATA_DIR / "
            "KHOYTE_DATABASE_URL mới (hoặc tự chuyển dữ liệu cũ đi).",
            f"The restore target is not empty: {', '.join(found)}. Restore writes only into an "
            "empty data folder and an empty database, so that nothing is overwritten: choose a "
            "new KHOYTE_DATA_DIR / KHOYTE_DATABASE_URL (or move the old data away yourself).",
        )


def restore(settings: Settings, src: Path, rebuild_warehouse: bool = True) -> Report:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from khoyte.gateway.intake import ensure_schema, submissions_without_audit
    from khoyte.gateway.models import Submission
    from khoyte.security import audit
    from khoyte.store.db import make_engine

    snap = find_snapshot(src)
    manifest = verify(snap)  # everything checked before anything is written
    _refuse_non_empty(settings, manifest["store"])
    report = Report(snap)
    saved = json.loads((snap / "settings.json").read_text())
    for name, mark in saved.get("secrets_outside_the_backup", {}).items():
        now_mark = _secrets(settings).get(name)
        if mark != now_mark:
            report.warnings.append(
                f"{name} khác lúc sao lưu (hãy đặt lại giá trị cũ) / differs from the one in use "
                "at backup time (set the old value)"
            )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url()
    if manifest["store"] == "postgresql":
        engine = create_engine(url)
        try:
            tool = pg_tool("pg_restore", _server_major(engine))
        finally:
            engine.dispose()
        target, env = _libpq(url)
        # an argument list, no shell: the tool's path, fixed options, our paths, the configured database
        done = subprocess.run(
            [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             "--dbname", target, str(snap / manifest["store_part"])],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip  # nosec B603
        if done.returncode != 0:
            raise BackupError(
                f"pg_restore thất bại (không có gì được ghi: một giao dịch): "
                f"{done.stderr.strip()[:500]}",
                f"pg_restore failed (nothing was written: one transaction): "
                f"{done.stderr.strip()[:500]}",
            )
    else:  # copied in chunks (a store can be larger than memory), flushed, then put in place
        part = settings.sqlite_path.with_name(f".{settings.sqlite_path.name}.part")
        shutil.copyfile(snap / manifest["store_part"], part)
        _fsync_file(part)
        os.replace(part, settings.sqlite_path)
        _fsync_dir(settings.data_dir)
    shared = Archive((snap / manifest["archive"]["folder"]).resolve())
    archive = Archive(settings.archive_dir)
    batch: list[bytes] = []  # restored in packs of a few files: one file created for each
    for line in (snap / "archive.list").read_text().split():
        if len(line) == 64:
            data = shared.get(line)
            if hashlib.sha256(data).hexdigest() != line:  # changed since verify(): refuse
                raise BackupError(
                    f"Tệp lưu trữ {line} đổi nội dung trong lúc khôi phục.",
                    f"Archived file {line} changed during the restore.",
                )
            batch.append(data)
            report.archive_files += 1
            if sum(map(len, batch)) >= _RESTORE_PACK:
                archive.put_many(batch)
                batch = []
    archive.put_many(batch)
    for name in ("warehouse.key", KEY_FILE):  # before the store is opened: it needs its key
        key = snap / "keys" / name
        if key.exists():
            _write_durably(settings.data_dir / name, key.read_bytes())
            os.chmod(settings.data_dir / name, 0o600)
    # Prove it: the audit chain up to the saved head, each submission's entry and bytes.
    head = json.loads((snap / "audit-head.json").read_text())
    engine = make_engine(settings)
    try:
        ensure_schema(engine)  # a backup from an older khoyte is brought up to this one
        with Session(engine) as s:
            verdict = audit.verify(s, anchor=head)
            shas = list(s.scalars(select(Submission.sha256)))
        with engine.connect() as conn:
            unaudited = submissions_without_audit(conn)
    finally:
        engine.dispose()
    if not verdict.ok:
        raise BackupError(
            f"Đã khôi phục nhưng nhật ký kiểm toán không khớp đầu chuỗi đã lưu: {verdict.message()}",
            f"Restored, but the audit trail does not match the saved head: {verdict.message()}",
        )
    without_bytes = [sha for sha in shas if not archive.exists(sha)]
    if without_bytes:
        report.warnings.append(
            f"{len(without_bytes)} lần gửi thiếu tệp gốc / submissions without their raw file: "
            + ", ".join(without_bytes[:10])
        )
    if unaudited:
        report.warnings.append(
            f"{len(unaudited)} lần gửi không có mục nhật ký / submissions without an audit "
            "entry: " + ", ".join(unaudited[:10])
        )
    report.submissions, report.audit_seq = len(shas), int(head["seq"])
    if rebuild_warehouse:
        from khoyte.services import build_services

        services = build_services(settings)  # the warehouse with the restored store as source
        try:
            if services.warehouse is not None:
                services.warehouse.rebuild()
        finally:
            services.close()
    return report
