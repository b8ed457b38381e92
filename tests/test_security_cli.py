"""`khoyte user …` against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from khoyte.cli import app as cli
from khoyte.config import Settings
from khoyte.security import service
from khoyte.store.db import make_engine, session_factory, session_scope

runner = CliRunner()
PW = "Sông-Hồng-2025!"


@pytest.fixture(autouse=True)
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KHOYTE_DATABASE_URL", raising=False)
    return tmp_path


def _users() -> list[dict[str, object]]:
    res = runner.invoke(cli, ["user", "list", "--json"])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_add_list_disable_reset() -> None:
    res = runner.invoke(
        cli,
        ["user", "add", "nv01", "--role", "facility_staff", "--scope", "facility:01001",
         "--scope", "facility:01002", "--password-stdin"],
        input=PW + "\n",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _users() == [
        {"username": "nv01", "active": True, "roles": ["facility_staff"],
         "scopes": ["facility:01001", "facility:01002"], "totp": False}
    ]  # fmt: skip
    engine = make_engine(Settings())
    with session_scope(session_factory(engine)) as s:
        user = service.get_user(s, "nv01")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PW not in user.password_hash
    assert runner.invoke(cli, ["user", "disable", "nv01"]).exit_code == 0
    assert _users()[0]["active"] is False
    res = runner.invoke(cli, ["user", "reset", "nv01", "--password-stdin"], input="Mới-Hơn-2026!\n")
    assert res.exit_code == 0, res.output
    with session_scope(session_factory(engine)) as s:
        user = service.get_user(s, "nv01")
        assert user is not None
        assert service.verify_password(user.password_hash, "Mới-Hơn-2026!")
    # every change is in the audit trail, and the chain holds
    res = runner.invoke(cli, ["audit", "verify"])
    assert res.exit_code == 0
    assert "3" in res.output


def test_admin_gets_totp_and_bad_input_is_refused() -> None:
    res = runner.invoke(
        cli, ["user", "add", "qt", "--role", "it_admin", "--scope", "province", "--password-stdin"],
        input=PW + "\n",
    )  # fmt: skip
    assert res.exit_code == 0
    assert "otpauth://totp/" in res.output
    bad = [
        (["--role", "god"], "unknown_role"),
        (["--role", "auditor", "--scope", "district:7"], "invalid_scope"),
    ]
    for extra, code in bad:
        args = ["user", "add", "x", "--password-stdin", *extra]
        if "--scope" not in extra:
            args += ["--scope", "province"]
        res = runner.invoke(cli, args, input=PW + "\n")
        assert res.exit_code == 2
        assert code in res.output
    res = runner.invoke(
        cli, ["user", "add", "y", "--role", "auditor", "--scope", "province", "--password-stdin"],
        input="short\n",
    )  # fmt: skip
    assert res.exit_code == 2
    assert "weak_password" in res.output
    res = runner.invoke(
        cli, ["user", "add", "qt", "--role", "auditor", "--scope", "province", "--password-stdin"],
        input=PW + "\n",
    )  # fmt: skip
    assert res.exit_code == 2
    assert [u["username"] for u in _users()] == ["qt"]
