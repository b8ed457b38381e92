"""What every real-Chromium test shares: an app served by uvicorn on a free port, one Chromium
per test module (the ``browser`` fixture in ``conftest.py``), and a person's browser context that
collects console errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served on 127.0.0.1 at a free port; yields its base URL, stops it after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started and thread.is_alive():  # a start-up wait, not a timed assertion
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


class Person:
    """One browser context (a person's window), with its console errors and page errors."""

    def __init__(self, browser: Any, width: int = 1920, height: int = 1080) -> None:
        self.ctx = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(
        self, base: str, user: str, *, password: str | None = None, otp: str | None = None
    ) -> None:
        """Through the sign-in page, as a person types it."""
        from tests.security_helpers import PASSWORD

        self.page.goto(f"{base}/login")
        self.page.fill("#username", user)
        self.page.fill("#password", password or PASSWORD)
        if otp is not None:
            self.page.fill("#otp", otp)
        self.page.click("#login-submit")
        self.page.wait_for_url("**/account")

    def fits(self) -> bool:
        """The page itself never scrolls sideways (wide tables scroll in their own box)."""
        return bool(
            self.page.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
        )

    def close(self) -> None:
        self.ctx.close()
