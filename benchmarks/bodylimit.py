"""What an anonymous oversized body costs the server (security test 2026-12, F2), measured in the
same run against a baseline: the same application with the general body limit raised above the
body's size (the behaviour before ``khoyte.web.bodylimit``).

Printed per case: bytes the application pulled from the client, Python peak memory
(``tracemalloc``) while answering, the status, and the ratio limited / baseline.

    python -m benchmarks.bodylimit [--mb 50] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024


async def _post(app: Any, size: int) -> tuple[int, int]:
    pulled = 0
    status = 0

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username":"a","password":"'
        for _ in range(size // CHUNK):
            yield b"A" * CHUNK
        yield b'"}'

    it = chunks().__aiter__()

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        try:
            chunk = await it.__anext__()
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/v1/auth/token", "raw_path": b"/api/v1/auth/token",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("bench", 80), "headers": [(b"content-type", b"application/json")]}  # fmt: skip
    await app(scope, receive, send)
    return pulled, status


def _case(tmp: Path, size: int, limit: int) -> tuple[int, int, int, float]:
    from khoyte.config import Settings
    from khoyte.web.app import create_app

    app = create_app(
        Settings(data_dir=tmp, max_request_body_bytes=limit, warehouse_refresh_seconds=0)
    )
    tracemalloc.start()
    t = time.perf_counter()
    pulled, status = asyncio.run(_post(app, size))
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return pulled, peak, status, seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    size = (8 if args.quick else args.mb) * 1024 * 1024
    with tempfile.TemporaryDirectory() as d:
        base = _case(Path(d) / "base", size, limit=size * 2)
        lim = _case(Path(d) / "lim", size, limit=64 * 1024)
    print(f"anonymous POST /api/v1/auth/token, body {size / 1048576:.0f} MiB")
    print(f"{'case':<28}{'pulled MiB':>12}{'peak MiB':>10}{'status':>8}{'seconds':>9}")
    for name, (pulled, peak, status, sec) in (("baseline (no 64 KiB limit)", base),
                                              ("bodylimit (64 KiB)", lim)):  # fmt: skip
        print(f"{name:<28}{pulled / 1048576:>12.2f}{peak / 1048576:>10.1f}{status:>8}{sec:>9.2f}")
    print(
        f"ratio limited/baseline: pulled {lim[0] / base[0]:.4f}, peak memory {lim[1] / base[1]:.4f}"
    )


if __name__ == "__main__":
    main()
