"""``khoyte ingest``: many files into the store, in-process or through a running server.

Both ways count alike: a receipt (even of a wholly rejected file: ``rejected_files``) is a file
taken in; a terminal refusal (``TerminalError``: wrong facility, too large…) is ``refused``; a
transient failure (``TransientError``: the store busy, the server overloaded) is ``deferred`` —
nothing was stored, and running the same command again later takes those files in (intake is
idempotent, so files already received are not stored twice)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from khoyte.errors import KhoyteError, TerminalError, TransientError
from khoyte.gateway.bulk import BulkIntake
from khoyte.gateway.intake import KIND_NAMES, IntakeService
from khoyte.standards.reader import DocumentKind, kind_of


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
    deferred: int = 0  # transient failures: run again later
    rejected_files: int = 0  # receipted, but no record accepted
    records: int = 0
    accepted: int = 0
    warnings: int = 0
    rejected: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add_receipt(self, receipt: dict[str, Any], created: bool) -> None:
        self.files += 1
        if receipt.get("status") == "rejected":
            self.rejected_files += 1
        if not created:
            self.duplicates += 1
            return
        self.new += 1
        c = receipt["counts"]
        self.records += c["records"]
        self.accepted += c["accepted"]
        self.warnings += c["accepted_with_warnings"]
        self.rejected += c["rejected"]

    def add_error(self, path: Path, message: str, transient: bool = False) -> None:
        self.files += 1
        if transient:
            self.deferred += 1
        else:
            self.refused += 1
        self.errors.append((str(path), message))


Submitter = Callable[[Path], tuple[dict[str, Any], bool]]


def read_file(path: Path, limit: int) -> bytes:
    """A file's bytes, refused (terminal) when larger than ``limit`` — before reading it."""
    size = path.stat().st_size
    if size > limit:
        raise TerminalError(
            "too_large",
            f"Tệp {path.name} ({size} byte) vượt giới hạn {limit} byte; hãy chia tệp.",
            f"{path.name} ({size} bytes) exceeds the {limit}-byte limit; split the file.",
            {"file": str(path), "size": size, "max_bytes": limit},
        )
    return path.read_bytes()


def local_submitter(service: IntakeService, channel: str = "ingest") -> Submitter:
    def submit(path: Path) -> tuple[dict[str, Any], bool]:
        r = service.submit(
            read_file(path, service.settings.max_file_bytes), channel=channel, name=path.name
        )
        return r.data, r.created

    return submit


def bulk_submitter(
    bulk: BulkIntake, paths: list[Path], channel: str = "ingest", facility: str | None = None
) -> Submitter:
    """The files of ``paths`` (in ``iter_files`` order: the order ``ingest`` asks for them)
    through bulk intake: read in worker processes, stored a group per transaction in order
    (``facility``: the sender declared for every file)."""
    limit = bulk.service.settings.max_file_bytes

    def items() -> Iterator[tuple[bytes, str] | KhoyteError]:
        for path in iter_files(paths):
            try:
                yield read_file(path, limit), path.name
            except KhoyteError as err:
                yield err
            except OSError as exc:
                yield TerminalError(
                    "unreadable",
                    f"Không đọc được tệp {path.name}: {exc}.",
                    f"Cannot read {path.name}: {exc}.",
                    {"file": str(path)},
                )

    outcomes = bulk.submit_many(items(), channel, facility)

    def submit(path: Path) -> tuple[dict[str, Any], bool]:
        outcome = next(outcomes)
        if isinstance(outcome, KhoyteError):
            raise outcome
        return outcome.data, outcome.created

    return submit


def remote_submitter(client: httpx.Client, url: str, token: str) -> Submitter:
    """Each file to the endpoint of its kind, told by its root element: claims to
    ``/api/v1/submissions``, XML0 to ``/api/v1/checkins``, XML12 to ``/api/v1/assessments``
    (a root of none of them goes to ``/submissions``, whose receipt says what is wrong)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

    def submit(path: Path) -> tuple[dict[str, Any], bool]:
        data = path.read_bytes()
        endpoint = url.rstrip("/") + KIND_NAMES[kind_of(data) or DocumentKind.CLAIMS][2]
        for attempt in range(6):  # transient answers (429, 503) are retried, as they ask
            resp = client.post(endpoint, content=data, headers=headers)
            if resp.status_code not in (429, 503) or attempt == 5:
                break
            time.sleep(min(float(resp.headers.get("retry-after", "1") or 1), 30.0))
        try:
            body = resp.json()
        except ValueError:
            body = {"error": {"details": {"body": resp.text[:200]}}}
        if resp.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            found = err.get("details")
            details: dict[str, Any] = found if isinstance(found, dict) else {}
            receipt = details.get("receipt")
            if err.get("code") == "submission_rejected" and isinstance(receipt, dict):
                # receipted, nothing accepted: counted as the local path counts it
                return receipt, not details.get("duplicate", False)
            kind = (
                TransientError
                if resp.status_code in (408, 429) or resp.status_code >= 500
                else TerminalError
            )
            raise kind(
                str(err.get("code") or f"http_{resp.status_code}"),
                str(err.get("message_vi") or f"Máy chủ trả lời {resp.status_code}."),
                str(err.get("message_en") or f"The server answered {resp.status_code}."),
                {"file": str(path), "status": resp.status_code, **details},
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
        except KhoyteError as err:
            transient = isinstance(err, TransientError)
            status = err.details.get("status")  # the server's answer, when over HTTP
            where = f"{status} {err.code}" if status else err.code
            summary.add_error(path, f"{where}: {err.message_vi}", transient)
        except httpx.TransportError as exc:  # the server unreachable: try again later
            summary.add_error(path, str(exc), transient=True)
        except (OSError, httpx.HTTPError) as exc:
            summary.add_error(path, str(exc))
        else:
            summary.add_receipt(receipt, created)
        if on_file is not None:
            on_file(path, summary)
    summary.seconds = time.perf_counter() - started
    return summary
