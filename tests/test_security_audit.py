"""The audit chain: appends, verification, tampering directly in the database, signed heads,
concurrent writers — on SQLite and PostgreSQL, through `khoyte audit …`."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from khoyte.cli import app as cli
from khoyte.security import audit
from khoyte.store.db import make_engine, migrate, session_factory, session_scope

runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url=url)
    migrate(engine)

    def reset() -> None:  # one PostgreSQL database per session: leave an empty, sound log
        with engine.begin() as c:
            c.execute(text("DELETE FROM sec_audit_log"))
            c.execute(text(f"UPDATE sec_audit_head SET seq = 0, hash = '{audit.GENESIS}'"))

    if request.param == "postgresql":
        reset()
    monkeypatch.setenv("KHOYTE_DATABASE_URL", url)
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path))
    yield session_factory(engine)
    if request.param == "postgresql":
        reset()  # the tampering tests leave the chain broken on purpose
    engine.dispose()


def _fill(factory: sessionmaker[Session], n: int = 6) -> None:
    for i in range(n):
        with session_scope(factory) as s:
            audit.record(
                s, f"user:u{i}", "record.view", f"record:{i}", "success", "10.0.0.1",
                reason="khám bệnh", details={"facility": "01001", "password": "hunter2"},
            )  # fmt: skip


def _verify() -> tuple[int, str]:
    res = runner.invoke(cli, ["audit", "verify"])
    return res.exit_code, res.output


def test_intact_chain_verifies_and_redacts_secrets(db: sessionmaker[Session]) -> None:
    _fill(db)
    code, out = _verify()
    assert code == 0, out
    assert "6" in out
    with session_scope(db) as s:
        rows, total = audit.search(s, audit.AuditFilter(action="record.view"))
    assert total == 6
    assert all(json.loads(r.details)["password"] == "[redacted]" for r in rows)
    assert [r.seq for r in rows] == [6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        ("UPDATE sec_audit_log SET target = 'record:999' WHERE seq = 3", 3),
        ("UPDATE sec_audit_log SET outcome = 'denied' WHERE seq = 1", 1),
        ("DELETE FROM sec_audit_log WHERE seq = 4", 4),
        ("DELETE FROM sec_audit_log WHERE seq = 6", 6),  # the newest: caught by the head
        # insert in the middle: shift 4.. up by one and put a forged entry at 4
        (
            "UPDATE sec_audit_log SET seq = seq + 1000 WHERE seq >= 4;"
            "UPDATE sec_audit_log SET seq = seq - 999 WHERE seq >= 1000;"
            "INSERT INTO sec_audit_log (seq, at, actor, action, target, outcome, ip, reason,"
            " details, prev_hash, hash) SELECT 4, at, 'user:evil', action, target, outcome, ip,"
            " reason, details, hash, hash FROM sec_audit_log WHERE seq = 3",
            4,
        ),
        # append a forged entry at the end (the head row was not updated)
        (
            "INSERT INTO sec_audit_log (seq, at, actor, action, target, outcome, ip, reason,"
            " details, prev_hash, hash) SELECT 7, at, actor, action, target, outcome, ip,"
            " reason, details, hash, hash FROM sec_audit_log WHERE seq = 6",
            7,
        ),
        # reorder: swap the contents of entries 2 and 5 by swapping their numbers
        (
            "UPDATE sec_audit_log SET seq = 100 WHERE seq = 2;"
            "UPDATE sec_audit_log SET seq = 2 WHERE seq = 5;"
            "UPDATE sec_audit_log SET seq = 5 WHERE seq = 100",
            2,
        ),
    ],
    ids=["edit", "edit-first", "delete", "delete-newest", "insert", "append", "reorder"],
)
def test_tampering_is_caught_and_named(db: sessionmaker[Session], tamper: str, broken: int) -> None:
    _fill(db)
    assert _verify()[0] == 0
    with db() as s:
        for stmt in tamper.split(";"):
            s.execute(text(stmt))
        s.commit()
    code, out = _verify()
    assert code == 1, out
    assert f"#{broken}:" in out, out


def test_rewritten_trail_is_caught_by_signed_head(
    db: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KHOYTE_AUDIT_SIGNING_KEY", "k" * 40)
    _fill(db, 4)
    res = runner.invoke(cli, ["audit", "export-head", "--sign"])
    assert res.exit_code == 0, res.output
    head = json.loads(res.stdout)
    assert head["seq"] == 4
    assert head["algorithm"] == "HMAC-SHA256"
    path = tmp_path / "head.json"
    path.write_text(json.dumps(head))
    _fill(db, 2)
    assert runner.invoke(cli, ["audit", "verify", "--head", str(path)]).exit_code == 0

    # A forged signature is refused.
    path.write_text(json.dumps({**head, "hash": "f" * 64}))
    assert runner.invoke(cli, ["audit", "verify", "--head", str(path)]).exit_code == 1

    # Rewrite the whole chain consistently (recomputing every hash): only the anchor sees it.
    path.write_text(json.dumps(head))
    with db() as s:
        rows = s.execute(text("SELECT seq, at, actor, action, target, outcome, ip, reason,"
                              " details FROM sec_audit_log ORDER BY seq")).all()  # fmt: skip
        prev = audit.GENESIS
        for r in rows:
            fields = dict(r._mapping)
            if fields["seq"] == 2:
                fields["actor"] = "user:someone-else"
            h = audit.entry_hash(prev, fields)
            s.execute(
                text("UPDATE sec_audit_log SET actor=:a, prev_hash=:p, hash=:h WHERE seq=:s"),
                {"a": fields["actor"], "p": prev, "h": h, "s": fields["seq"]},
            )
            prev = h
        s.execute(text("UPDATE sec_audit_head SET hash = :h"), {"h": prev})
        s.commit()
    assert _verify()[0] == 0  # self-consistent …
    res = runner.invoke(cli, ["audit", "verify", "--head", str(path)])
    assert res.exit_code == 1
    assert "#4:" in res.output


def test_concurrent_writers_keep_one_chain(db: sessionmaker[Session]) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(15):
                with session_scope(db) as s:
                    audit.record(s, f"user:w{k}", "test", f"t:{i}", "success", "")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with session_scope(db) as s:
        verdict = audit.verify(s)
    assert verdict.ok, verdict.message()
    assert verdict.entries == 60


def test_rolled_back_change_leaves_no_entry(db: sessionmaker[Session]) -> None:
    _fill(db, 2)

    def failing_change() -> None:
        with session_scope(db) as s:
            audit.record(s, "user:x", "user.create", "user:y", "success", "")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    with session_scope(db) as s:
        verdict = audit.verify(s)
    assert verdict.ok
    assert verdict.entries == 2


_WRITER = """
import sys
from khoyte.security import audit
from khoyte.store.db import make_engine, session_factory, session_scope
factory = session_factory(make_engine(url=sys.argv[1]))
for i in range(int(sys.argv[2])):
    with session_scope(factory) as s:
        audit.record(s, "process:" + sys.argv[3], "test", "t:%d" % i, "success", "")
"""


@pytest.mark.slow  # several processes append at once: about a minute
def test_several_processes_keep_one_chain(db: sessionmaker[Session]) -> None:
    """Like several server processes on one database: each appends, none waits for the other."""
    import subprocess
    import sys

    url = str(db.kw["bind"].url.render_as_string(hide_password=False))
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, "25", str(k)]) for k in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0]
    with session_scope(db) as s:
        verdict = audit.verify(s)
        actors = Counter(a for (a,) in s.execute(text("SELECT actor FROM sec_audit_log")).all())
    assert verdict.ok, verdict.message()
    assert verdict.entries == 75
    assert actors == {f"process:{k}": 25 for k in range(3)}
