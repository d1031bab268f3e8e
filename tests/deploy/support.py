"""Helpers the deployment tests share: a free port, the router's environment, waiting for a URL to answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def clean_env(**overrides: str) -> dict[str, str]:
    """The test's environment without any ROUTER_* setting (a new user's shell), plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTER_", "OTEL_"))}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.update(overrides)
    return env


def wait_until_answers(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> httpx.Response:
    """Poll `url` until it answers 200; fail early (with the process's output) if the process dies."""
    deadline = time.monotonic() + seconds
    last: str = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise AssertionError(
                f"the process exited with {process.returncode} before {url} answered:\n{out}"
            )
        try:
            response = httpx.get(url, timeout=2)
        except httpx.HTTPError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text[:200]}"
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {seconds}s: {last}")


def stop(process: subprocess.Popen[bytes], seconds: float = 20) -> str:
    """SIGTERM, wait, and the process's combined output."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read().decode(errors="replace") if process.stdout else ""


SECRET = "test-secret-key-for-the-router"
CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "sk-openai-provider-credential"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""


def configure(db_url: str, upstream_url: str, config: str = CONFIG) -> str:
    """Apply `config` to the database (as `router config apply` does) and issue a key; the key."""
    from router.store.config_file import apply_config_text
    from router.store.crypto import CredentialCipher
    from router.store.db import Database
    from router.store.keys import create_key
    from router.store.tenants import create_tenant
    from tests.fixtures.db import run_async

    async def run() -> str:
        db = Database(db_url)
        try:
            async with db.transaction() as session:
                await apply_config_text(
                    session,
                    config,
                    env={"UPSTREAM": upstream_url},
                    cipher=CredentialCipher(SECRET),
                    actor="test",
                )
                await create_tenant(session, "acme", actor="test")
                _, plaintext = await create_key(session, "acme", "tester")
                return plaintext
        finally:
            await db.dispose()

    return run_async(run())


def serve(db_url: str, port: int, cwd: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """`router serve` as its own process (signals reach it as they would in production)."""
    return subprocess.Popen(
        [sys.executable, "-m", "router", "serve", "--port", str(port), *args],
        cwd=cwd,
        env=clean_env(ROUTER_DATABASE_URL=db_url, ROUTER_SECRET_KEY=SECRET, PYTHONPATH=str(ROOT), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
