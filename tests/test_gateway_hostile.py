"""Hostile and wrong input against a real ``khoyte serve`` process: every case gets a clear 4xx
and the server stays healthy."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from khoyte.gateway.intake import IntakeService, ensure_schema
from tests.gateway_helpers import FAC_A, FAC_B, Server, claim, register_facilities, settings_for
from tests.test_hostile import CASES as READER_CASES

LIMIT = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    data = tmp_path_factory.mktemp("hostile") / "data"
    settings = settings_for(data.parent, None)
    svc = IntakeService(settings)
    ensure_schema(svc.engine)
    tokens = register_facilities(svc)
    svc.engine.dispose()
    srv = Server(settings.data_dir, None, KHOYTE_REQUEST_TIMEOUT="3")
    srv.start()
    yield srv, tokens
    srv.stop()


def _healthy(srv: Server) -> None:
    assert httpx.get(srv.url + "/healthz", timeout=10).status_code == 200
    assert httpx.get(srv.url + "/readyz", timeout=10).status_code == 200


def _post(
    srv: Server, token: str | None, body: bytes, ctype: str = "application/xml"
) -> httpx.Response:
    headers = {"Content-Type": ctype}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(srv.url + "/api/v1/submissions", content=body, headers=headers, timeout=60)


@pytest.mark.parametrize("name", sorted(READER_CASES))
def test_reader_hostile_cases_get_a_4xx(name: str, server: tuple[Server, dict[str, str]]) -> None:
    srv, tokens = server
    build, expected = READER_CASES[name]
    resp = _post(srv, tokens[FAC_A], build())
    if name in HUB_COUNTS:
        # The hub profile counts the visit (its XML1 is whole) and names the table it lost.
        assert resp.status_code == 201, resp.text
        receipt = resp.json()
        assert receipt["profile"] == "hub"
        assert receipt["records"][0]["status"] == "accepted_with_warnings"
        warned = {f["code"]: f["severity"] for r in receipt["records"] for f in r["findings"]}
        assert warned.get(expected) == "warning", warned
        _healthy(srv)
        return
    assert 400 <= resp.status_code < 500, resp.text
    err = resp.json()["error"]
    assert err["code"] == "submission_rejected"
    receipt = err["details"]["receipt"]
    codes = {f["code"] for f in receipt["findings"]}
    codes |= {f["code"] for r in receipt["records"] for f in r["findings"]}
    assert expected in codes
    _healthy(srv)


# A broken secondary table (not XML1, not hostile): under the hub profile the record is counted.
HUB_COUNTS = {"inner_deep_nesting", "inner_utf16", "invalid_base64", "unknown_loaihoso"}


def test_wrong_input_and_credentials(server: tuple[Server, dict[str, str]]) -> None:
    srv, tokens = server
    assert _post(srv, tokens[FAC_A], claim("LKH1"), "text/plain").status_code == 415
    assert _post(srv, tokens[FAC_A], claim("LKH2", facility=FAC_B)).status_code == 403
    assert _post(srv, None, claim("LKH3")).status_code == 401
    assert _post(srv, "khy_" + "x" * 43, claim("LKH4")).status_code == 401
    assert _post(srv, tokens[FAC_A], claim("LKH5")).status_code == 201
    _healthy(srv)


def test_a_51_mb_body_is_refused(server: tuple[Server, dict[str, str]]) -> None:
    srv, tokens = server
    big = b" " * (51 * 1024 * 1024)
    resp = _post(srv, tokens[FAC_A], big)
    assert resp.status_code == 413
    assert resp.json()["error"]["details"]["max_bytes"] == LIMIT

    # without Content-Length (chunked): counted while streaming, refused at the limit
    def chunks() -> Iterator[bytes]:
        block = b" " * (1024 * 1024)
        for _ in range(51):
            yield block

    streamed = httpx.post(
        srv.url + "/api/v1/submissions",
        content=chunks(),
        headers={"Authorization": f"Bearer {tokens[FAC_A]}", "Content-Type": "application/xml"},
        timeout=60,
    )
    assert streamed.status_code == 413
    _healthy(srv)


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    return data


def test_slow_loris_body_is_cut_off(server: tuple[Server, dict[str, str]]) -> None:
    srv, tokens = server
    sock = socket.create_connection(("127.0.0.1", srv.port))
    head = (
        f"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens[FAC_A]}"
        "\r\nContent-Type: application/xml\r\nContent-Length: 100000\r\n\r\n"
    )
    sock.sendall(head.encode())
    started = time.monotonic()
    answer = b""
    sock.setblocking(False)
    while time.monotonic() - started < 30:  # drip one byte a second; the server gives up
        try:
            sock.sendall(b"<")
        except OSError:
            break
        try:
            answer += sock.recv(65536)
            if answer:
                break
        except BlockingIOError:
            pass
        time.sleep(1)
    sock.setblocking(True)
    answer += _read_response(sock) if b"\r\n\r\n" not in answer else b""
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"request_timeout"' in answer
    _healthy(srv)


@pytest.mark.slow  # a thousand connections at once: a load test
def test_a_thousand_concurrent_connections(server: tuple[Server, dict[str, str]]) -> None:
    srv, tokens = server
    # 300 idle half-open connections hold sockets while 1000 requests arrive at once
    idle = []
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\n")
        idle.append(s)

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:

            async def one(i: int) -> int:
                headers = {"Content-Type": "application/xml"}
                if i % 2:
                    headers["Authorization"] = "Bearer khy_wrong"
                r = await client.post(
                    srv.url + "/api/v1/submissions", content=b"<x/>", headers=headers
                )
                return r.status_code

            return await asyncio.gather(*(one(i) for i in range(1000)))

    codes = asyncio.run(burst())
    assert set(codes) == {401}
    _healthy(srv)
    assert _post(srv, tokens[FAC_A], claim("LKC1000")).status_code == 201
    for s in idle:
        s.close()
    _healthy(srv)


def test_ingest_into_a_running_server(
    server: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from khoyte.cli import app

    srv, tokens = server
    (tmp_path / "a.xml").write_bytes(claim("LKI1"))
    (tmp_path / "b.xml").write_bytes(claim("LKI2"))
    (tmp_path / "other.xml").write_bytes(claim("LKI3", facility=FAC_B))  # not this credential's
    runner = CliRunner()
    args = ["ingest", str(tmp_path), "--url", srv.url, "--token", tokens[FAC_A]]
    first = runner.invoke(app, args)
    assert first.exit_code == 1, first.output  # one file refused
    assert "2 mới (new)" in first.stderr
    assert "403 wrong_facility" in first.stderr
    again = runner.invoke(app, args)
    assert "2 đã nhận trước đó (duplicates)" in again.stderr
