"""A facility's daily share of the raw archive (security test 2026-12, F13).

Every file is archived, unchanged, before it is read and kept for years, junk included; one
leaked credential could fill the disk, and the intake of every facility stops with it. So the
new bytes a facility's credentials add per UTC day are capped (``archive_quota_bytes_per_day``;
0 turns it off). A file already in the archive (a resend) costs nothing. Over the quota the
answer is 429 ``quota_exceeded`` with the numbers and when the quota renews; the refusal is
recorded as an intake event.

The check reads the day's sum before the file is stored, so parallel requests of one facility
can overshoot by what they carry at once (at most the parallel slots × ``max_body_bytes``).
The sum is read from the store at most every ``REREAD_SECONDS`` per facility and process; in
between, the files this process let through are added to it (counted even if they turn out to
be resends: the next reading corrects that). A reading was a sum query on every submission,
≈ 6 % of the server's CPU under load; several processes (the intake tier) can together overshoot
by what the others stored within those seconds.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from khoyte.errors import ApiError
from khoyte.gateway.intake import IntakeService
from khoyte.gateway.models import Submission

REREAD_SECONDS = 5.0


class _Usage:
    """One process's view of the facilities' daily use: (day, read at, bytes) per facility."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, tuple[str, float, int]] = {}


_USAGE: weakref.WeakKeyDictionary[IntakeService, _Usage] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _usage(service: IntakeService) -> _Usage:
    with _LOCK:
        return _USAGE.setdefault(service, _Usage())


def used_today(service: IntakeService, facility: str, now: datetime) -> int:
    """Bytes of the files stored for ``facility`` since the start of the UTC day."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with service.sessions() as s:
        total = s.scalar(
            select(func.coalesce(func.sum(Submission.size), 0)).where(
                Submission.facility == facility, Submission.received_at >= start
            )
        )
    return int(total or 0)


def check(
    service: IntakeService,
    facility: str | None,
    data: bytes,
    limit: int,
    credential_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Raise 429 when storing ``data`` would take ``facility`` over today's quota."""
    if limit <= 0 or facility is None:
        return
    now = now or datetime.now(UTC)
    day = now.astimezone(UTC).date().isoformat()
    usage = _usage(service)
    with usage.lock:
        got = usage.seen.get(facility)
    fresh = got is not None and got[0] == day and time.monotonic() - got[1] < REREAD_SECONDS
    if got is not None and fresh:
        used = got[2]
    else:
        used = used_today(service, facility, now)
        got = (day, time.monotonic(), used)
    if used + len(data) <= limit:
        with usage.lock:  # what this process lets through counts until the next reading
            now_seen = usage.seen.get(facility)
            base = now_seen if now_seen is not None and now_seen[1] >= got[1] else got
            usage.seen[facility] = (base[0], base[1], base[2] + len(data))
        return
    used = used_today(service, facility, now)  # refuse only on a fresh reading
    with usage.lock:
        usage.seen[facility] = (day, time.monotonic(), used)
    if used + len(data) <= limit:
        return
    sha = hashlib.sha256(data).hexdigest()
    if service.receipt_by_sha(sha) is not None:
        return  # already archived: a resend adds nothing
    renew = (now.astimezone(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    wait = max(1, math.ceil((renew - now).total_seconds()))
    mb_used, mb_limit = used / 1048576, limit / 1048576
    service.record_event(
        "quota_exceeded", 429, facility, credential_id, sha,
        {"used_bytes": used, "file_bytes": len(data), "quota_bytes": limit},
    )  # fmt: skip
    raise ApiError(
        429,
        "quota_exceeded",
        f"Cơ sở {facility} đã gửi {mb_used:.1f} MB hôm nay (giới hạn {mb_limit:g} MB/ngày); tệp "
        f"{len(data)} byte không được lưu. Hãy gửi lại sau 0 giờ UTC, hoặc liên hệ Sở Y tế nếu "
        "cần gửi nhiều hơn.",
        f"Facility {facility} has sent {mb_used:.1f} MB today (quota {mb_limit:g} MB a day); the "
        f"{len(data)}-byte file was not stored. Send it again after 00:00 UTC, or ask the "
        "Department of Health for a larger quota.",
        {
            "facility": facility,
            "used_bytes": used,
            "file_bytes": len(data),
            "quota_bytes": limit,
            "renews_at": renew.isoformat(),
            "retry_after_seconds": wait,
        },
        headers={"Retry-After": str(wait)},
    )
