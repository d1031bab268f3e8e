"""Database faults: unreachable when the service starts, and connections killed while requests flow."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.app import create_app
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter, ServerThread, router_settings
from tests.fixtures.db import _pg_execute, run_async
from tests.hardening.conftest import CHAIN_CONFIG
from tests.hardening.support import ASK, assert_error_body, closed_port, wait_for_usage


class SilentServer:
    """Accepts TCP connections and never says a word (a database behind a black-holing firewall)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def _serve(url: str) -> tuple[ServerThread, float]:
    started = time.monotonic()
    server = ServerThread(create_app(router_settings(url, shutdown_grace_seconds=1.0), configure_logs=False))
    server.start()
    return server, time.monotonic() - started


def _check_degraded(server: ServerThread) -> None:
    with httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(12.0)) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False and ready.json()["database"] is False
        for method, path, body in (
            ("POST", "/v1/messages", ASK),
            ("POST", "/v1/messages", {**ASK, "stream": True}),
            ("POST", "/v1/messages/count_tokens", {"model": ASK["model"], "messages": ASK["messages"]}),
            ("GET", "/v1/models", None),
        ):
            started = time.monotonic()
            response = http.request(method, path, json=body, headers={"x-api-key": "sk-rt-anything"})
            error = assert_error_body(response)
            assert response.status_code >= 500, (path, response.status_code)
            assert "database" in error["message"] or "configuration" in error["message"]
            assert time.monotonic() - started < 2, path


def test_database_refusing_connections_at_start_leaves_a_live_but_unready_service() -> None:
    server, took = _serve(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/router")
    try:
        assert took < 10
        _check_degraded(server)
    finally:
        server.stop()


def test_database_that_never_answers_at_start_does_not_hold_the_service_back(
    silent_server: SilentServer,
) -> None:
    server, took = _serve(f"postgresql+asyncpg://postgres@127.0.0.1:{silent_server.port}/router")
    try:
        # A black-holed database must not keep the port closed for the connect timeouts of start-up.
        assert took < 8, f"the service took {took:.1f}s to listen"
        _check_degraded(server)
    finally:
        server.stop()


def test_database_that_comes_back_is_picked_up_without_a_restart(
    sqlite_template: Path, tmp_path: Path
) -> None:
    later = tmp_path / "not-yet"
    server, _ = _serve(f"sqlite+aiosqlite:///{later / 'router.db'}")
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert http.get("/readyz").status_code == 503
            later.mkdir()
            shutil.copyfile(sqlite_template, later / "router.db")
            deadline = time.monotonic() + 5
            while http.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the service did not notice its database came back"
                time.sleep(0.1)
            # Serving again: a key is now a key (401 for a wrong one, not "no configuration").
            response = http.post("/v1/messages", json=ASK, headers={"x-api-key": "sk-rt-wrong"})
            assert assert_error_body(response, 401)["type"] == "authentication_error"
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_connections_killed_under_load_lose_no_request_and_no_usage(live_router: LiveRouter) -> None:
    router = live_router
    router.apply(CHAIN_CONFIG.format(dead_port=closed_port()))
    router.upstream.set_default(Reply(text="served while the database was flapping", chunk_size=8))
    plain = router.key("acme", "alice")
    # A budget makes admission read month-to-date spend from the database on the request path.
    budgeted = router.key("acme", "bob", budget_usd=1000.0)
    stop = threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal kills
        statement = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        while not stop.is_set():
            run_async(_pg_execute(router.settings.database_url, statement))
            kills += 1
            time.sleep(0.15)

    def one(index: int) -> int:
        key = budgeted if index % 2 else plain
        body: dict[str, Any] = {**ASK, "stream": index % 3 == 0}
        with httpx.Client(base_url=router.base_url, timeout=20) as http:
            response = http.post("/v1/messages", json=body, headers={"x-api-key": key})
            if body["stream"]:
                assert response.text.rstrip().endswith('data: {"type":"message_stop"}'), response.text[-200:]
            return response.status_code

    total = 48
    murderer = threading.Thread(target=killer, daemon=True)
    murderer.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(one, range(total)))
            time.sleep(0.5)  # let the killer interrupt the usage writer as well
    finally:
        stop.set()
        murderer.join(10)
    assert kills >= 3
    assert statuses == [200] * total
    records = wait_for_usage(router.settings.database_url, total, within=20)
    assert len({r.request_id for r in records}) == total
    assert len(records) == total
    assert {r.outcome for r in records} == {"ok"}
