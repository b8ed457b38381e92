"""The per-address sign-in limit: atomic in the database, with a small in-memory front.

Findings F3 and F8 of the 2026-12 security test: the old limit counted one row per attempt,
read the count before checking the password and wrote two rows for every refusal, so parallel
guesses overran it and a flood filled the store and slowed intake.

Now:
- A guess is *reserved* before its password is checked: one atomic upsert of the counter of
  (address, bucket) that succeeds only while the address is under its budget
  (``INSERT … ON CONFLICT DO UPDATE … WHERE failures < budget RETURNING failures``; SQLite and
  PostgreSQL both serialise it on the row). Parallel guesses cannot all pass: at most
  ``login_ip_max_failures`` are evaluated per window. A successful sign-in gives its
  reservation back, so people behind one address who know their password do not use it up.
- The window (``login_lockout_minutes``) is counted in ``BUCKETS`` buckets: one row per
  (address, bucket), old rows pruned, so the table stays small whatever the traffic.
- A refused address is remembered in memory for ``RECHECK_SECONDS``: further attempts from it
  are refused without touching the database (no write lock taken, intake undisturbed), by the
  gate in front of the application (``middleware.SignInGate``) after ``refuse_delay``; their
  number is added to the bucket's ``refused`` counter in batches, and one audit entry
  (``login.rate_limited``) is written per address and bucket.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from khoyte.security import audit
from khoyte.security.models import LoginThrottle
from khoyte.store.db import session_scope

BUCKETS = 5  # the window is counted in this many buckets (3 minutes each for 15 minutes)
RECHECK_SECONDS = 30  # how long a refused address is refused from memory alone
FLUSH_EVERY = 1000  # refused attempts counted in memory before they are written anyway
CAPACITY = 10_000  # addresses remembered at most (a spray of addresses cannot grow memory)

_T = cast(Table, LoginThrottle.__table__)


@dataclass(frozen=True)
class Reservation:
    ip: str
    bucket: int
    count: int  # failures in the window, this attempt included


@dataclass
class _Refused:
    recheck_at: datetime
    pending: int = 0  # refused attempts not yet written


def _upsert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


REFUSE_DELAY = 1.0  # seconds the gate waits before a 429 to an already-refused address


class AddressLimiter:
    def __init__(
        self, max_failures: int, window_minutes: int, refuse_delay: float = REFUSE_DELAY
    ) -> None:
        self.max_failures = max_failures
        # A client that waits for each answer before its next guess (most flooders) then sends
        # one guess a second per connection: the wait costs the process nothing (the event
        # loop sleeps), the flood's requests stop crowding out intake.
        self.refuse_delay = refuse_delay
        self.bucket_seconds = max(1, window_minutes * 60 // BUCKETS)
        self._refused: dict[str, _Refused] = {}
        self._lock = threading.Lock()

    def _bucket(self, now: datetime) -> int:
        return int(now.timestamp()) // self.bucket_seconds

    def reserve(self, factory: sessionmaker[Session], ip: str, now: datetime) -> Reservation | None:
        """A reservation for one guess from ``ip`` (committed), or None: refused (429)."""
        with self._lock:
            known = self._refused.get(ip)
            if known is not None and now < known.recheck_at:
                known.pending += 1
                if known.pending < FLUSH_EVERY:
                    return None
                pending, known.pending = known.pending, 0
            else:
                pending = known.pending if known is not None else 0
                self._refused.pop(ip, None)
                known = None
        bucket = self._bucket(now)
        if known is not None:  # a full batch of refusals from memory: one write
            with session_scope(factory) as s:
                self._add_refused(s, ip, bucket, pending, now)
            return None
        with session_scope(factory) as s:
            earlier = s.scalar(
                select(func.coalesce(func.sum(_T.c.failures), 0)).where(
                    _T.c.ip == ip, _T.c.bucket > bucket - BUCKETS, _T.c.bucket < bucket
                )
            )
            budget = self.max_failures - int(earlier or 0)
            count = None
            if budget > 0:
                ins = _upsert(s)(_T).values(ip=ip, bucket=bucket, failures=1, refused=0)
                stmt = ins.on_conflict_do_update(
                    index_elements=[_T.c.ip, _T.c.bucket],
                    set_={"failures": _T.c.failures + 1},
                    where=_T.c.failures < budget,
                ).returning(_T.c.failures)
                count = s.execute(stmt).scalar_one_or_none()
            if count is not None:
                if count == 1:  # the first row of a bucket: forget buckets out of every window
                    s.execute(delete(_T).where(_T.c.bucket <= bucket - BUCKETS))
                if pending:
                    self._add_refused(s, ip, bucket, pending, now)
                return Reservation(ip, bucket, int(earlier or 0) + count)
            self._add_refused(s, ip, bucket, pending + 1, now)
        self._remember(ip, now)
        return None

    def known_refused(self, ip: str, now: datetime) -> bool:
        """Refused from memory alone (counted, nothing written)? False: ask ``reserve``. For the
        front gate, which answers before the request is parsed or reaches a thread."""
        with self._lock:
            known = self._refused.get(ip)
            if known is None or now >= known.recheck_at or known.pending + 1 >= FLUSH_EVERY:
                return False
            known.pending += 1
            return True

    def release(self, session: Session, r: Reservation) -> None:
        """Give a successful sign-in's reservation back (in the caller's transaction)."""
        session.execute(
            update(_T)
            .where(_T.c.ip == r.ip, _T.c.bucket == r.bucket, _T.c.failures > 0)
            .values(failures=_T.c.failures - 1)
        )

    def _add_refused(self, s: Session, ip: str, bucket: int, n: int, now: datetime) -> None:
        ins = _upsert(s)(_T).values(ip=ip, bucket=bucket, failures=0, refused=n)
        total = s.execute(
            ins.on_conflict_do_update(
                index_elements=[_T.c.ip, _T.c.bucket], set_={"refused": _T.c.refused + n}
            ).returning(_T.c.refused)
        ).scalar_one()
        if total == n:  # the first refusals of this address in this bucket: one entry
            audit.record(
                s, "anonymous", "login.rate_limited", f"address:{ip}", "denied", ip,
                details={
                    "limit": self.max_failures,
                    "bucket_start": (
                        datetime.fromtimestamp(bucket * self.bucket_seconds, now.tzinfo)
                    ).isoformat(),
                },
            )  # fmt: skip

    def _remember(self, ip: str, now: datetime) -> None:
        with self._lock:
            if len(self._refused) >= CAPACITY:
                live = {k: v for k, v in self._refused.items() if v.recheck_at > now}
                if len(live) >= CAPACITY:  # keep the newest half
                    live = dict(list(live.items())[CAPACITY // 2 :])
                self._refused = live
            self._refused[ip] = _Refused(now + timedelta(seconds=RECHECK_SECONDS))
