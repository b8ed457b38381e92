"""`khoyte validate`: exit status, JSON Lines shape, folders, text output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import record
from tests.xmlkit import one

pytestmark = pytest.mark.slow  # runs `khoyte` in a subprocess per case: over a minute


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "khoyte.cli", "validate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_exit_status_and_json_lines(tmp_path: Path) -> None:
    good = tmp_path / "a" / "good.xml"
    good.parent.mkdir()
    good.write_bytes(one(record("LK1")))
    bad_rec = record("LK2")
    bad_rec.episode.values["GIOI_TINH"] = "7"
    bad = tmp_path / "a" / "bad.xml"
    bad.write_bytes(one(bad_rec))
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"not xml at all")

    assert run(str(good)).returncode == 0
    assert run("--profile", "payer", str(good), str(bad)).returncode == 1
    # the hub profile (the default) counts the visit and flags the code
    hub = run("--format", "json", str(bad))
    assert hub.returncode == 0, hub.stdout
    doc = json.loads(hub.stdout)
    assert doc["profile"] == "hub"
    assert doc["records"][0]["status"] == "accepted_with_warnings"
    assert [(f["code"], f["severity"]) for f in doc["records"][0]["findings"]] == [
        ("XML1.GIOI_TINH.CODE", "warning")
    ]
    r = run("--profile", "payer", "--format", "json", str(tmp_path / "a"), str(junk))
    assert r.returncode == 2
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [Path(x["file"]).name for x in lines] == ["bad.xml", "good.xml", "junk.xml"]
    for obj in lines:
        assert set(obj) >= {"file", "standard", "facility", "status", "findings", "records"}
    b = lines[0]
    assert b["status"] == "rejected"
    assert b["standard"] == "QD130"
    assert b["facility"] == "82001"
    rec = b["records"][0]
    assert rec["ma_lk"] == "LK2"
    assert rec["tables"][:3] == ["XML1", "XML2", "XML3"]
    assert rec["status"] == "rejected"
    f = rec["findings"][0]
    assert set(f) == {
        "code",
        "severity",
        "table",
        "stt",
        "field",
        "value",
        "message_vi",
        "message_en",
        "convention",
    }
    assert (f["code"], f["table"], f["field"], f["value"]) == (
        "XML1.GIOI_TINH.CODE",
        "XML1",
        "GIOI_TINH",
        "7",
    )
    assert lines[2]["status"] == "rejected"
    assert lines[2]["findings"][0]["code"] == "FILE.CONTENT.NOT_XML"


def test_text_output_is_vietnamese_first(tmp_path: Path) -> None:
    rec = record("LK3")
    rec.episode.values["MA_BENH_CHINH"] = "XYZ"
    path = tmp_path / "x.xml"
    path.write_bytes(one(rec))
    r = run("--profile", "payer", str(path))
    assert r.returncode == 1
    assert "từ chối" in r.stdout
    assert "MA_BENH_CHINH" in r.stdout
    assert "LK3" in r.stdout
    r_en = run("--english", "--profile", "payer", str(path))
    assert "is not a well-formed ICD-10 code" in r_en.stdout


def test_missing_path(tmp_path: Path) -> None:
    assert run(str(tmp_path / "nope.xml")).returncode == 2


def test_hub_rejects_only_what_cannot_be_placed(tmp_path: Path) -> None:
    rec = record("LK4")
    rec.episode.values["MA_LOAI_KCB"] = None  # no visit type: the visit cannot be counted
    path = tmp_path / "x.xml"
    path.write_bytes(one(rec))
    r = run("--format", "json", str(path))
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    errors = [f["code"] for f in doc["records"][0]["findings"] if f["severity"] == "error"]
    assert errors == ["XML1.MA_LOAI_KCB.REQUIRED"]


def test_unknown_profile_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_bytes(one(record("LK5")))
    r = run("--profile", "nope", str(path))
    assert r.returncode == 2
    assert "nope" in r.stderr
