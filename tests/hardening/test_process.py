"""The process: SIGTERM under load drains in-flight streams and the usage queue; replicas follow each other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from router.store.keys import key_prefix
from tests.fakes import Reply
from tests.fakes.upstream import FakeUpstream
from tests.fixtures.app import LiveRouter
from tests.hardening.support import (
    ASK,
    AdminHttp,
    assert_error_body,
    closed_port,
    create_admin_user,
    object_ids,
    parse_sse,
    usage_records,
)

VENV_BIN = Path(sys.executable).parent
SERVE_CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
tenants:
  - {name: acme}
"""


class RouterProcess:
    """`router serve` as a real subprocess in its own working directory."""

    def __init__(self, workdir: Path, upstream: FakeUpstream) -> None:
        self.workdir = workdir
        self.upstream = upstream
        self.port = closed_port()
        self.env = {
            **os.environ,
            "ROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'router.db'}",
            "ROUTER_SECRET_KEY": "hardening-process-secret",
            "ROUTER_SHUTDOWN_GRACE_SECONDS": "15",
            # Long enough that usage from the streams is still queued when SIGTERM comes: the drain must write it.
            "ROUTER_USAGE_FLUSH_INTERVAL": "2",
            "ROUTER_LOG_LEVEL": "INFO",
            "UPSTREAM": upstream.base_url,
            "OPENAI_API_KEY": "sk-process-provider-credential",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "serve.log"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(VENV_BIN / "router"), *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "router"), "serve", "--port", str(self.port)],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120  # start-up, and LiteLLM loading (readiness waits for it)
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "router serve did not become ready:\n" + self.log.read_text()
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def router_process(tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[RouterProcess]:
    process = RouterProcess(tmp_path, fake_upstream)
    yield process
    process.stop()


def test_sigterm_drains_in_flight_streams_and_the_usage_queue(router_process: RouterProcess) -> None:
    (router_process.workdir / "router.yaml").write_text(SERVE_CONFIG)
    router_process.cli("db", "upgrade")
    router_process.cli("config", "apply", "router.yaml")
    key = (
        router_process.cli("key", "create", "--tenant", "acme", "--member", "alice").strip().splitlines()[-1]
    )
    router_process.start()
    upstream_text = "".join(f"piece{i:02d} " for i in range(40))  # 320 characters
    # 8-character chunks 60 ms apart: each stream takes about 2.5 seconds.
    router_process.upstream.set_default(Reply(text=upstream_text, chunk_size=8, chunk_delay=0.06))
    streams = 4
    results: list[bytes | BaseException] = [b""] * streams
    first_bytes = threading.Barrier(streams + 1, timeout=20)

    def client(index: int) -> None:
        try:
            with (
                httpx.Client(base_url=router_process.base_url, timeout=30) as http,
                http.stream(
                    "POST", "/v1/messages", json={**ASK, "stream": True}, headers={"x-api-key": key}
                ) as response,
            ):
                pieces = response.iter_raw()
                received = next(pieces)
                first_bytes.wait()
                for piece in pieces:
                    received += piece
                results[index] = received
        except BaseException as exc:  # reported below, with the server's log
            results[index] = exc
            first_bytes.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    first_bytes.wait()  # every stream has begun
    assert router_process.proc is not None
    signalled = time.monotonic()
    router_process.proc.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    code = router_process.proc.wait(30)
    took = time.monotonic() - signalled
    log = router_process.log.read_text()
    # uvicorn re-raises the signal it caught once shutdown is complete, so the exit status says SIGTERM.
    assert code in (0, -signal.SIGTERM), log
    assert "Application shutdown complete" in log
    assert took < 15, log
    for received in results:
        assert isinstance(received, bytes), f"{received!r}\n{log}"
        sse = parse_sse(received)
        sse.assert_complete()
        assert sse.text() == upstream_text
    # Nothing new is accepted once it is gone.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{router_process.base_url}/healthz", timeout=2)
    records = usage_records(router_process.env["ROUTER_DATABASE_URL"])
    assert len(records) == streams, log
    assert {r.outcome for r in records} == {"ok"}
    assert all(r.output_tokens > 0 for r in records)


# ---- a second replica ----------------------------------------------------------------------------------

REPLICA_CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "claude-sonnet-*", target: oai/gpt-4.1}
"""


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """Seconds until `check()` held; fails after `seconds`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds}s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_second_replica_follows_changes_made_through_the_first_within_two_seconds(
    start_router: Callable[..., LiveRouter],
) -> None:
    first = start_router()
    # The second replica polls at the production default (once a second).
    second = start_router(config_poll_interval=1.0)
    first.apply(REPLICA_CONFIG)
    second.wait_for_config()
    key = first.key("acme", "alice")
    second.wait_for_config()
    create_admin_user(first.settings.database_url)

    def status(router: LiveRouter, model: str, api_key: str = key) -> int:
        with router.http() as http:
            body = {**ASK, "model": model}
            return http.post("/v1/messages", json=body, headers={"x-api-key": api_key}).status_code

    assert status(second, "claude-sonnet-4-5") == 200
    assert status(second, "claude-opus-4-5") == 404
    with AdminHttp(first.base_url) as admin:
        admin.sign_in()
        admin.get("/admin/rules/")
        created = admin.post(
            "/admin/rules/global", {"match": "claude-opus-*", "target": "oai/gpt-4.1", "enabled": "on"}
        )
        assert created.status_code == 200, created.text[:500]
        assert status(first, "claude-opus-4-5") == 200  # at once in the process that saved
        _within(2.0, lambda: status(second, "claude-opus-4-5") == 200)

        ids = object_ids(first.settings.database_url)
        tenant_id, key_id = ids["tenant:acme"], ids[f"key:{key_prefix(key)}"]
        admin.get(f"/admin/tenants/{tenant_id}")
        revoked = admin.post(f"/admin/tenants/{tenant_id}/keys/{key_id}/revoke")
        assert revoked.status_code == 303, revoked.text[:500]
        # The second replica knew the key from its snapshot: only a rebuild can withdraw it.
        _within(2.0, lambda: status(second, "claude-sonnet-4-5") == 401)
    with second.http() as http:
        response = http.post("/v1/messages", json=ASK, headers={"x-api-key": key})
    assert_error_body(response, 401)
