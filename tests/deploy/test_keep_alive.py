"""Idle client connections stay open for `ROUTER_KEEP_ALIVE_SECONDS`: longer than a load balancer's idle
timeout by default, so the balancer closes them first and never sends a request on one the router is closing."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.deploy.support import free_port, serve, stop, wait_until_answers
from tests.fixtures.db import _sqlite_copy

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: router\r\n\r\n"


def _ask(sock: socket.socket) -> bytes:
    """One request on this connection; the whole response (head and Content-Length body) read off it."""
    sock.settimeout(10)
    sock.sendall(REQUEST)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_idle_connections_outlive_a_load_balancers_idle_timeout_and_close_after_the_setting(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db_url = _sqlite_copy(sqlite_template, tmp_path)
    (tmp_path / "default").mkdir()
    (tmp_path / "short").mkdir()
    default_port, short_port = free_port(), free_port()
    default = serve(db_url, default_port, tmp_path / "default")
    short = serve(db_url, short_port, tmp_path / "short", ROUTER_KEEP_ALIVE_SECONDS="1")
    try:
        wait_until_answers(f"http://127.0.0.1:{default_port}/healthz", default)
        wait_until_answers(f"http://127.0.0.1:{short_port}/healthz", short)
        with (
            socket.create_connection(("127.0.0.1", default_port)) as kept,
            socket.create_connection(("127.0.0.1", short_port)) as dropped,
        ):
            assert _ask(kept).startswith(b"HTTP/1.1 200")
            assert _ask(dropped).startswith(b"HTTP/1.1 200")
            # Past uvicorn's own 5 s default: the default connection is still open and still answers.
            time.sleep(6)
            assert _closed_by_server(dropped)
            assert not _closed_by_server(kept)
            assert _ask(kept).startswith(b"HTTP/1.1 200")
    finally:
        stop(default)
        stop(short)
