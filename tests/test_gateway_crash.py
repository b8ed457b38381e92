"""Crash safety: ``khoyte serve`` is SIGKILLed 20 times at random moments while clients stream
submissions. Afterwards every receipted submission is fully stored (its receipt, versions,
findings and archived bytes), none is stored twice, none half-stored, none without its audit
entry, and re-sending the files that never got a receipt completes the set."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from khoyte.gateway.intake import IntakeService, ensure_schema, submissions_without_audit
from khoyte.gateway.models import FindingRow, RecordHead, RecordVersionRow, Submission
from tests.gateway_helpers import (  # noqa: F401  (fixture)
    FAC_A,
    Server,
    claim,
    claims,
    db_url_fixture,
    register_facilities,
    settings_for,
)

KILLS = 20
N = 800  # pairs of files: more than the stream gets through between the kills (it got through
# 600 files once the intake got faster)


def _files() -> list[bytes]:
    out = []
    for i in range(N):
        out.append(claims([f"K{i}A", f"K{i}B"]))
        out.append(claim(f"K{i}A", day=2 + i % 20))  # a second version of K{i}A
    return out


# minutes each (about 200 s on SQLite, 150 s on PostgreSQL): out of `make test-fast`
@pytest.mark.slow
def test_sigkill_during_a_stream_of_submissions(tmp_path: Path, db_url: str | None) -> None:
    settings = settings_for(tmp_path, db_url)
    svc = IntakeService(settings)
    ensure_schema(svc.engine)
    token = register_facilities(svc)[FAC_A]
    files = _files()
    receipts: dict[int, dict[str, object]] = {}
    lock = threading.Lock()
    failures: list[str] = []  # any answer but a receipt, from a live server
    rng = random.Random(20261123)
    server = Server(settings.data_dir, db_url, KHOYTE_RATE_LIMIT_PER_MINUTE="0")  # 1,600 files
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

    def client(stop: threading.Event, order: list[int]) -> None:
        with httpx.Client(timeout=30) as http:
            for i in order:
                if stop.is_set():
                    return
                with lock:
                    if i in receipts:
                        continue
                try:
                    r = http.post(
                        server.url + "/api/v1/submissions", content=files[i], headers=headers
                    )
                except httpx.HTTPError:
                    return  # the server died under us: this file has no receipt
                with lock:
                    if r.status_code in (200, 201):
                        receipts[i] = r.json()
                    else:
                        failures.append(f"{i}: {r.status_code} {r.text[:200]}")

    for round_ in range(KILLS):
        server.start()
        stop = threading.Event()
        pending = [i for i in range(len(files)) if i not in receipts]
        threads = [
            threading.Thread(target=client, args=(stop, rng.sample(pending, len(pending))))
            for _ in range(3)
        ]
        before = len(receipts)
        for t in threads:
            t.start()
        if round_ % 2 == 0:
            # every other kill lands after this round's first receipt, so that on a slow,
            # loaded machine (start-up alone can take seconds) some kills are mid-stream
            deadline = time.monotonic() + 60
            while len(receipts) == before and time.monotonic() < deadline:
                time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.8))
        server.kill()  # SIGKILL: no shutdown handler runs
        stop.set()
        for t in threads:
            t.join()

    got_before = dict(receipts)
    assert failures == []
    assert 0 < len(got_before) < len(files), "the kills should land mid-stream"
    # restart, re-send everything: unreceipted files complete the set, receipted ones come back
    server.start()
    try:

        def resend(part: list[int]) -> None:
            with httpx.Client(timeout=60) as http:
                for i in part:
                    r = http.post(
                        server.url + "/api/v1/submissions", content=files[i], headers=headers
                    )
                    with lock:
                        if r.status_code not in (200, 201):
                            failures.append(f"{i}: {r.status_code} {r.text[:200]}")
                        elif i in got_before and (
                            r.status_code != 200 or r.json() != got_before[i]
                        ):
                            failures.append(f"{i}: a receipted submission changed")
                        else:
                            final[i] = r.json()

        final: dict[int, dict[str, object]] = {}
        everything = list(range(len(files)))
        workers = [threading.Thread(target=resend, args=(everything[k::4],)) for k in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        server.stop()
    assert failures == []
    assert len(final) == len(files)
    receipts = final

    with svc.sessions() as s:
        subs = {x.sha256: x for x in s.scalars(select(Submission))}
        versions = s.scalars(select(RecordVersionRow)).all()
        heads = s.scalars(select(RecordHead)).all()
        nfind = Counter(
            dict(
                s.execute(
                    select(FindingRow.submission_id, func.count()).group_by(
                        FindingRow.submission_id
                    )
                ).all()
            )  # type: ignore[arg-type]
        )
    # none twice: one submission per distinct file; fully stored: receipt as sent, bytes archived
    assert len(subs) == len({hashlib.sha256(f).hexdigest() for f in files})
    for i, data in enumerate(files):
        sha = hashlib.sha256(data).hexdigest()
        assert json.loads(subs[sha].receipt) == receipts[i]
        assert svc.archive.get(sha) == data
    # none half-stored: every version a receipt names exists, belongs to it, and nothing else does
    by_id = {v.id: v for v in versions}
    named = set()
    for r in receipts.values():
        expected_findings = len(r["findings"])  # type: ignore[arg-type]
        for rec in r["records"]:  # type: ignore[attr-defined]
            expected_findings += len(rec["findings"])
            v = by_id[rec["version_id"]]
            assert (v.ma_lk, v.version) == (rec["ma_lk"], rec["version"])
            if rec["change"] != "unchanged":
                assert v.submission_id == r["id"]
                named.add(v.id)
        assert nfind.get(r["id"], 0) == expected_findings  # type: ignore[call-overload]
    assert named == set(by_id)
    # versions of each record are 1..n without gaps, and the head points at the last
    per_key: dict[tuple[str, str], list[int]] = {}
    for v in versions:
        per_key.setdefault((v.facility, v.ma_lk), []).append(v.version)
    for key, nums in per_key.items():
        assert sorted(nums) == list(range(1, len(nums) + 1)), key
    assert {(h.facility, h.ma_lk): h.latest_version for h in heads} == {
        k: len(n) for k, n in per_key.items()
    }
    assert len(versions) == N * 3  # K{i}A twice (different content), K{i}B once
    # and every stored submission has its audit entry (F16: written in the same transaction)
    with svc.engine.connect() as conn:
        assert submissions_without_audit(conn) == []
    svc.engine.dispose()
