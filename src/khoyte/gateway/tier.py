"""The intake tier's processes, each with its own listening socket (``SO_REUSEPORT``).

``uvicorn --workers N`` binds one socket and lets every worker accept from it: whichever worker
is waiting in ``accept`` first takes the connection. Facility systems keep their connections
open (keep-alive), so an early imbalance lasts: measured with 50 clients and two workers, one
process held 41 connections and the other 9 — one process's GIL served four fifths of the load
while the other idled, and the tail latency was that process's queue. Here every process binds
the same address with ``SO_REUSEPORT`` and the kernel spreads new connections across the
sockets by a hash of each connection (Linux). A process that dies is started again; SIGTERM or
SIGINT stops them all, each finishing its in-flight submissions (uvicorn's graceful shutdown).

Where the kernel does not balance ``SO_REUSEPORT`` (not Linux), uvicorn's own workers run.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("khoyte.gateway.tier")

APP = "khoyte.web.app:create_intake_app"


def balanced() -> bool:
    """Whether the kernel spreads connections over ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listen(host: str, port: int) -> socket.socket:
    """A listening socket of its own on ``host:port``, shared by address with the tier's other
    processes (``SO_REUSEPORT``)."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sock = listen(host, port)
    config = uvicorn.Config(APP, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def run(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """``workers`` processes serving the intake app on ``host:port`` until SIGTERM/SIGINT."""
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, never a fork with threads
    stopping = False

    def start() -> BaseProcess:
        proc = ctx.Process(target=_worker, args=(host, port, options), daemon=False)
        proc.start()
        return proc

    def stop(_sig: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    procs = [start() for _ in range(workers)]
    log.info(
        "intake tier: %d processes on %s:%d, each with its own socket (SO_REUSEPORT)",
        workers,
        host,
        port,
    )
    try:
        while not stopping:
            wait([p.sentinel for p in procs], timeout=0.5)
            for i, proc in enumerate(procs):
                if proc.exitcode is not None and not stopping:
                    log.warning(
                        "tiến trình tiếp nhận %s dừng (mã %s), khởi động lại / intake process "
                        "%s exited (code %s); starting another",
                        proc.pid,
                        proc.exitcode,
                        proc.pid,
                        proc.exitcode,
                    )
                    time.sleep(0.5)  # a process that cannot start must not spin
                    procs[i] = start()
    finally:
        for proc in procs:
            if proc.exitcode is None:
                proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests first
        for proc in procs:
            proc.join(timeout=options.get("timeout_graceful_shutdown", 30) + 5)
            if proc.exitcode is None:
                proc.kill()
                proc.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
