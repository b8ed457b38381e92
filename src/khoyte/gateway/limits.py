"""Request limits: body size (counted while streaming), receive deadline, per-credential rate."""

from __future__ import annotations

import asyncio
import threading
import time

from fastapi import Request

from khoyte.errors import ApiError

# Routes whose bodies are files: they get ``max_body_bytes``; every other body is held to
# ``max_request_body_bytes`` by ``khoyte.web.bodylimit``.
LARGE_BODY_PATHS = (
    "/api/v1/submissions",
    "/api/v1/checkins",
    "/api/v1/assessments",
    "/api/v1/aggregate/uploads",
    "/api/v1/dataValueSets",
)


def body_timeout(timeout: float) -> ApiError:
    return ApiError(
        408,
        "request_timeout",
        f"Không nhận đủ dữ liệu trong {timeout:g} giây; hãy gửi lại.",
        f"The body did not arrive within {timeout:g} seconds; send it again.",
        {"timeout_seconds": timeout},
    )


def too_large(limit: int) -> ApiError:
    mb = limit / (1024 * 1024)
    return ApiError(
        413,
        "too_large",
        f"Dữ liệu gửi lên vượt quá giới hạn {mb:g} MB; hãy chia tệp thành nhiều lần gửi.",
        f"The body exceeds the {mb:g} MB limit; split the file into several submissions.",
        {"max_bytes": limit},
    )


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` (never held whole in
    memory beyond that) and with 408 when it does not arrive within ``timeout`` seconds
    (a slow-loris sender)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.strip().isascii() and declared.strip().isdigit()):
            raise ApiError(400, "bad_content_length", details={"content_length": declared[:40]})
        if int(declared) > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + timeout
    stream = request.stream().__aiter__()
    while True:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            chunk = await asyncio.wait_for(stream.__anext__(), remaining)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise body_timeout(timeout) from None
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # lets request.form() parse what was already read
    return body


class RateLimiter:
    """A token bucket per credential: ``per_minute`` sustained, the same number as burst."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(per_minute, 1))
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def check(self, key: str) -> float:
        """0 when allowed; else how many seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self.lock:
            tokens, at = self.buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
