"""Every request body is bounded in size and in time, before anything reads it.

FastAPI reads a JSON or form body whole before a route runs (and before it can authenticate
anyone), so without this a single anonymous ``POST /api/v1/auth/token`` of 200 MB was read into
memory, and a body trickled one byte at a time held a connection for ever (security test
2026-12, F2 and F18). This pure ASGI middleware sits outermost and

- refuses a declared ``Content-Length`` over the route's limit at once (413, nothing read);
- counts the body while it streams in and stops at the limit (413), whatever the route does;
- gives the whole body ``request_timeout`` seconds to arrive (408).

Limits: ``max_request_body_bytes`` for every route, ``max_body_bytes`` for the intake routes
that take files (:data:`khoyte.gateway.limits.LARGE_BODY_PATHS`). Answers are in the one error
shape (``khoyte.errors``), and say what to do.

The file routes also take at most ``intake_parallel_per_credential`` bodies at a time per
credential (the ``Authorization`` header); the others wait their turn *before* their body is
read, so the memory one credential can hold is bounded (a 48 MB base64 body costs ~4× that while
it is decoded and checked: F13).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from fastapi import FastAPI

from khoyte.config import Settings
from khoyte.errors import ApiError, error_body
from khoyte.gateway.limits import LARGE_BODY_PATHS, body_timeout, too_large
from khoyte.surveillance.web import ANSWER_PATH

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bad_length(value: str) -> ApiError:
    return ApiError(
        400,
        "bad_content_length",
        "Tiêu đề Content-Length không hợp lệ; hãy gửi lại với độ dài đúng (số byte).",
        "The Content-Length header is not a number of bytes; send the request again.",
        {"content_length": value[:40]},
    )


async def send_error(send: Send, err: ApiError) -> None:
    body = json.dumps(error_body(err), ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # the security middleware sits inside this one: give our own answers its essentials
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        # the rest of the body was never read: the connection cannot be reused
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        timeout: float,
        large: Mapping[str, int] | None = None,
        parallel: int = 0,
    ) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout
        self.large = dict(large or {})
        self.parallel = parallel  # per credential on the file routes; 0: no limit
        self.slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, scope: Scope) -> AsyncIterator[None]:
        """One of the credential's parallel slots on a file route (waits for a free one)."""
        if self.parallel <= 0 or str(scope.get("path")) not in self.large:
            yield
            return
        auth = (_header(scope, b"authorization") or "").encode("latin-1", "replace")
        key = hashlib.sha256(auth).hexdigest()[:16]  # never keep the credential itself
        sem, users = self.slots.get(key) or (asyncio.Semaphore(self.parallel), 0)
        self.slots[key] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self.slots[key]
            if users <= 1:
                del self.slots[key]
            else:
                self.slots[key] = (sem, users - 1)

    def limit_for(self, scope: Scope) -> int:
        if scope.get("method") in BODY_METHODS:
            return self.large.get(str(scope.get("path", "")), self.limit)
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            text = declared.strip()
            if not (text.isascii() and text.isdigit()):
                await send_error(send, bad_length(declared))
                return
            # The intake routes check the declared size themselves, after authenticating the
            # sender (so the refusal is counted and recorded against the facility).
            if int(text) > limit and str(scope.get("path")) not in self.large:
                await send_error(send, too_large(limit))
                return
        loop = asyncio.get_running_loop()
        deadline: float | None = None  # from the first read (not while waiting for a slot)
        size = 0
        finished = False  # the whole body arrived (or the client went away)
        failure: ApiError | None = None
        started = False
        answered = False

        async def limited_receive() -> Message:
            nonlocal size, finished, failure, deadline
            if finished:
                return await receive()  # e.g. waiting for a disconnect: no deadline
            if failure is not None:
                raise failure
            if deadline is None:
                deadline = loop.time() + self.timeout
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                failure = body_timeout(self.timeout)
                raise failure from None
            if message["type"] != "http.request":
                finished = True
                return message
            size += len(message.get("body", b""))
            if size > limit:
                failure = too_large(limit)
                raise failure
            if not message.get("more_body", False):
                finished = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, answered
            if failure is not None:
                # The body was cut off: whatever the application makes of the exception
                # (a 400 "cannot parse", a 500 …), the answer is ours.
                if not started and not answered:
                    answered = True
                    await send_error(send, failure)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with self.slot(scope):
                await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if failure is None:
                raise
        if failure is not None and not started and not answered:
            await send_error(send, failure)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


def install(app: FastAPI, settings: Settings) -> None:
    """Outermost (added last): no other middleware reads a body before it is bounded."""
    app.add_middleware(
        BodyLimit,
        limit=settings.max_request_body_bytes,
        timeout=settings.request_timeout,
        large={
            **dict.fromkeys(LARGE_BODY_PATHS, settings.max_body_bytes),
            # a unit's answer to a report request: a file (plus the form's few fields)
            ANSWER_PATH: settings.report_max_bytes + 64 * 1024,
        },
        parallel=settings.intake_parallel_per_credential,
    )
