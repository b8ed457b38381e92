"""``khoyte ingest``: many files into the store, in-process or through a running server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from khoyte.errors import ApiError
from khoyte.gateway.intake import IntakeService


def iter_files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.is_file() and x.suffix.lower() == ".xml")
        else:
            yield p


@dataclass
class IngestSummary:
    files: int = 0
    new: int = 0
    duplicates: int = 0
    refused: int = 0
    records: int = 0
    accepted: int = 0
    warnings: int = 0
    rejected: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add_receipt(self, receipt: dict[str, Any], created: bool) -> None:
        self.files += 1
        if not created:
            self.duplicates += 1
            return
        self.new += 1
        c = receipt["counts"]
        self.records += c["records"]
        self.accepted += c["accepted"]
        self.warnings += c["accepted_with_warnings"]
        self.rejected += c["rejected"]

    def add_error(self, path: Path, message: str) -> None:
        self.files += 1
        self.refused += 1
        self.errors.append((str(path), message))


Submitter = Callable[[Path], tuple[dict[str, Any], bool]]


def local_submitter(service: IntakeService, channel: str = "ingest") -> Submitter:
    def submit(path: Path) -> tuple[dict[str, Any], bool]:
        size = path.stat().st_size
        if size > service.settings.max_file_bytes:
            raise ApiError(413, details={"max_bytes": service.settings.max_file_bytes})
        r = service.submit(path.read_bytes(), channel=channel, name=path.name)
        return r.data, r.created

    return submit


def remote_submitter(client: httpx.Client, url: str, token: str) -> Submitter:
    endpoint = url.rstrip("/") + "/api/v1/submissions"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

    def submit(path: Path) -> tuple[dict[str, Any], bool]:
        data = path.read_bytes()
        for attempt in range(6):  # transient answers (429, 503) are retried, as they ask
            resp = client.post(endpoint, content=data, headers=headers)
            if resp.status_code not in (429, 503) or attempt == 5:
                break
            time.sleep(min(float(resp.headers.get("retry-after", "1") or 1), 30.0))
        try:
            body = resp.json()
        except ValueError:
            raise ApiError(resp.status_code, details={"body": resp.text[:200]}) from None
        if resp.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise ApiError(
                resp.status_code,
                err.get("code"),
                err.get("message_vi"),
                err.get("message_en"),
                err.get("details"),
            )
        return body, resp.status_code == 201

    return submit


def ingest(
    paths: list[Path],
    submit: Submitter,
    on_file: Callable[[Path, IngestSummary], None] | None = None,
) -> IngestSummary:
    summary = IngestSummary()
    started = time.perf_counter()
    for path in iter_files(paths):
        try:
            receipt, created = submit(path)
        except ApiError as err:
            summary.add_error(path, f"{err.status} {err.code}: {err.message_vi}")
        except (OSError, httpx.HTTPError) as exc:
            summary.add_error(path, str(exc))
        else:
            summary.add_receipt(receipt, created)
        if on_file is not None:
            on_file(path, summary)
    summary.seconds = time.perf_counter() - started
    return summary
