"""Pure ASGI middleware: security headers, CSRF, and the route guard (defence in depth behind
the start-up check that every route declares ``requires(...)``)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import cookie_parser
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles

from khoyte.access import Permission, current_asgi_scope
from khoyte.errors import ApiError, error_body

Scope_ = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope_, Receive, Send], Awaitable[None]]

log = logging.getLogger("khoyte.security")

SESSION_COOKIE = "khoyte_session"
CSRF_COOKIE = "khoyte_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MAX_FORM_BYTES = 1024 * 1024

# img-src adds data: only: Swagger UI (/docs) draws its icons as inline SVG data URIs; an image
# cannot run script, and scripts stay 'self' only.
CSP = (
    "default-src 'self'; script-src 'self'; img-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def header(scope: Scope_, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


def cookies(scope: Scope_) -> dict[str, str]:
    """The request's cookies exactly as the application sees them (``Request.cookies``: the
    same parser, every ``Cookie`` header in order, the last value of a name winning).

    One parser for the CSRF check, the no-store decision and the session lookup: a stricter
    parser here (``http.cookies.SimpleCookie`` gives up on a leading ``version=1`` or on
    ``junk="abc``) let such a cookie hide the session from the CSRF check while the route still
    signed the request in with it (finding F1)."""
    jar: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        if k == b"cookie":
            jar.update(cookie_parser(v.decode("latin-1")))
    return jar


def csrf_token(secret: str, base: str) -> str:
    """The synchronizer token: bound to the session (or, before sign-in, to the CSRF cookie)."""
    return hmac.new(secret.encode(), f"csrf|{base}".encode(), hashlib.sha256).hexdigest()


def csrf_base(jar: dict[str, str]) -> str | None:
    return jar.get(SESSION_COOKIE) or jar.get(CSRF_COOKIE)


async def _send_error(send: Send, err: ApiError) -> None:
    body = json.dumps(error_body(err), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": err.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp, production: bool) -> None:
        self.app, self.production = app, production

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        private = header(scope, b"authorization") is not None or bool(cookies(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                hdrs = list(message.get("headers", []))
                present = {k.lower() for k, _ in hdrs}
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ]
                if https or self.production:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                if private:
                    extra.append((b"cache-control", b"no-store"))
                hdrs += [(k, v) for k, v in extra if k not in present]
                message["headers"] = hdrs
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfProtect:
    """Unsafe requests that carry the session cookie (an ambient browser credential) and no
    ``Authorization`` header need the synchronizer token, in the ``X-CSRF-Token`` header or the
    ``csrf_token`` field of an urlencoded form. (The sign-in form, sent before there is a
    session, is checked by its handler against the pre-session CSRF cookie.)"""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app, self.secret = app, secret

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        jar = cookies(scope)
        base = jar.get(SESSION_COOKIE)
        if header(scope, b"authorization") is not None or base is None:
            await self.app(scope, receive, send)
            return
        expected = csrf_token(self.secret, base)
        given = header(scope, b"x-csrf-token")
        ctype = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if given is None and ctype == "application/x-www-form-urlencoded":
            body, receive, too_big = await _buffer(receive)
            if too_big:
                await _send_error(send, ApiError(413))
                return
            try:
                form = parse_qs(body.decode("utf-8"), max_num_fields=200)
            except (UnicodeDecodeError, ValueError):
                form = {}
            values = form.get(CSRF_FIELD)
            given = values[0] if values else None
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("csrf token missing or wrong: %s %s", scope["method"], scope["path"])
            await _send_error(
                send,
                ApiError(
                    403,
                    "csrf_failed",
                    "Phiên biểu mẫu đã hết hạn hoặc không hợp lệ; hãy tải lại trang và thử lại.",
                    "The form's security token is missing or wrong; reload the page and retry.",
                ),
            )
            return
        await self.app(scope, receive, send)


class SignInGate:
    """Answers 429 to ``POST /api/v1/auth/token`` from an address the sign-in limiter already
    refuses, before the body is read or the request reaches a thread (finding F8: a flood from
    one address should cost the process as little as possible; nothing is written per
    attempt), after a short wait that paces a client waiting for each answer. Other
    addresses, and every other route, pass untouched."""

    PATHS = frozenset({"/api/v1/auth/token"})

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app, self.fastapi_app = app, fastapi_app

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.PATHS:
            st = getattr(self.fastapi_app.state, "security", None)
            client = scope.get("client")
            ip = client[0] if client else ""
            if st is not None and st.limiter.known_refused(ip, st.clock()):
                if st.limiter.refuse_delay > 0:  # slows a flooder down at no cost to us
                    await asyncio.sleep(st.limiter.refuse_delay)
                await _send_error(
                    send,
                    ApiError(
                        429,
                        message_vi="Quá nhiều lần đăng nhập sai từ địa chỉ này; hãy thử lại sau.",
                        message_en="Too many failed sign-ins from this address; retry later.",
                    ),
                )
                return
        await self.app(scope, receive, send)


async def _buffer(receive: Receive) -> tuple[bytes, Receive, bool]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", receive, True
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay, False


# --- the route guard -------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteInfo:
    """One route of the application as served (prefixes of included routers applied)."""

    path: str
    methods: frozenset[str]
    permission: Permission | None
    builtin: bool  # FastAPI's schema/docs pages, static-file mounts
    context: Any = field(compare=False, repr=False)

    @property
    def guarded(self) -> bool:
        return self.builtin or self.permission is not None


def _permission(dependant: Any) -> Permission | None:
    stack = list(getattr(dependant, "dependencies", []) or [])
    while stack:
        dep = stack.pop()
        perm = getattr(dep.call, "permission", None)
        if isinstance(perm, Permission):
            return perm
        stack.extend(dep.dependencies)
    return None


_TABLES: dict[int, tuple[tuple[int, ...], list[RouteInfo]]] = {}


def route_table(app: FastAPI) -> list[RouteInfo]:
    """Cached per application until its list of routes changes."""
    key = tuple(id(r) for r in app.router.routes)
    cached = _TABLES.get(id(app))
    if cached is not None and cached[0] == key:
        return cached[1]
    table = _route_table(app)
    _TABLES[id(app)] = (key, table)
    return table


def _route_table(app: FastAPI) -> list[RouteInfo]:
    builtin_paths = {
        app.openapi_url,
        app.docs_url,
        app.redoc_url,
        app.swagger_ui_oauth2_redirect_url,
    } - {None}
    out = []
    for rc in iter_route_contexts(app.router.routes):
        original = rc.original_route
        path = str(rc.path or getattr(original, "path", ""))
        methods = frozenset(rc.methods or ())
        if isinstance(original, APIRoute):
            perm = _permission(getattr(rc, "dependant", None) or original.dependant)
            out.append(RouteInfo(path, methods, perm, False, rc))
        elif isinstance(original, Mount):
            out.append(RouteInfo(path, methods, None, isinstance(original.app, StaticFiles), rc))
        elif isinstance(original, Route):
            out.append(RouteInfo(path, methods, None, path in builtin_paths, rc))
        else:  # websockets and anything else: never classified
            out.append(RouteInfo(path, methods, None, False, rc))
    return out


def unguarded(app: FastAPI) -> list[str]:
    return [
        f"{','.join(sorted(r.methods))} {r.path}".strip() for r in route_table(app) if not r.guarded
    ]


class RouteGuard:
    """Refuses any request that reaches a route declaring no permission (for routes added after
    start-up), and makes the request visible to helpers through ``current_asgi_scope``."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app, self.fastapi_app = app, fastapi_app

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in route_table(self.fastapi_app):
                match, _ = route.context.matches(scope)
                if match is Match.FULL:
                    if not route.guarded:
                        log.error("refused: route without requires(): %s", scope["path"])
                        await _send_error(send, ApiError(403))
                        return
                    break
        elif scope["type"] == "websocket":  # no websocket is classified: refuse all
            await send({"type": "websocket.close", "code": 1008})
            return
        token = current_asgi_scope.set(scope)  # type: ignore[arg-type]
        try:
            await self.app(scope, receive, send)
        finally:
            current_asgi_scope.reset(token)
