"""Budgets and tpm hold under bursts: each request reserves its worst case (input estimate + max_tokens at the
dearest target's price) before it goes upstream and settles to the real cost after, so 200 concurrent requests
against a limit worth 10 requests get at most 10 + (number of processes) served: on one process, on two
replicas sharing Redis, and on `router serve --workers 2` without Redis. Budgets of every window hold alike:
a key's daily budget beside a roomy monthly one, and a member's daily budget shared by two of their keys."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select

from router.store.budgets import set_key_budget, set_member_budget
from router.store.db import Database
from router.store.keys import create_key
from router.store.tenants import create_tenant
from router.store.usage_models import UsageRecord
from tests.fakes.upstream import FakeUpstream
from tests.fixtures.app import SECRET, LiveRouter
from tests.fixtures.db import run_async
from tests.fixtures.minutes import clear_of_a_minute_boundary

REDIS_URL = "redis://127.0.0.1:6379/0"
BURST = 200
CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""
BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 40,
    "messages": [{"role": "user", "content": "hello"}],
}


async def _burst(base_urls: list[str], key: str | list[str], n: int = BURST) -> list[int]:
    """`n` requests at once, spread over the replicas (and over the keys, when several)."""
    keys = [key] if isinstance(key, str) else key
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{base_urls[i % len(base_urls)]}/v1/messages",
                    json=BODY,
                    headers={"x-api-key": keys[i % len(keys)]},
                )
                for i in range(n)
            )
        )
    return [a.status_code for a in answers]


def _records(database_url: str, key_id: int | None = None) -> list[UsageRecord]:
    async def read() -> list[UsageRecord]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                stmt = select(UsageRecord).order_by(UsageRecord.id)
                return list((await session.scalars(stmt)).all())
        finally:
            await db.dispose()

    return run_async(read())


def _add(
    database_url: str,
    tenant: str,
    member: str,
    *,
    tenant_limits: dict[str, Any],
    budgets: dict[str, float] | None = None,
    member_budgets: dict[str, float] | None = None,
    **key_limits: Any,
) -> str:
    """A tenant and a key of `member`; `budgets`: the key's, by window; `member_budgets`: the member's."""

    async def run() -> str:
        db = Database(database_url)
        try:
            async with db.transaction() as session:
                await create_tenant(session, tenant, actor="test", **tenant_limits)
                key, plaintext = await create_key(session, tenant, member, **key_limits)
                for window, amount in (budgets or {}).items():
                    await set_key_budget(session, key, window, amount)
                for window, amount in (member_budgets or {}).items():
                    await set_member_budget(session, tenant, member, window, amount)
                return plaintext
        finally:
            await db.dispose()

    return run_async(run())


def _another_key(database_url: str, tenant: str, member: str) -> str:
    async def run() -> str:
        db = Database(database_url)
        try:
            async with db.transaction() as session:
                return (await create_key(session, tenant, member))[1]
        finally:
            await db.dispose()

    return run_async(run())


def _calibrate(base_url: str, database_url: str, wait: Callable[[], None]) -> tuple[float, int]:
    """One request's real cost and tokens, from its usage record (every request of the burst is the same)."""
    key = _add(database_url, f"calibrate-{uuid.uuid4().hex[:6]}", "c", tenant_limits={})
    wait()
    assert asyncio.run(_burst([base_url], key, 1)) == [200]
    deadline = time.monotonic() + 15
    while not (rows := [r for r in _records(database_url) if r.outcome == "ok"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    row = rows[-1]
    return row.cost_usd, row.input_tokens + row.output_tokens + row.cache_read_tokens + row.cache_write_tokens


def _check_limits_hold(
    base_urls: list[str], database_url: str, processes: int, wait: Callable[[], None]
) -> None:
    cost, tokens = _calibrate(base_urls[0], database_url, wait)
    assert cost > 0 and tokens > 0
    worth_ten: dict[str, Any] = {"budget_usd": cost * 10}
    daily = {"day": cost * 10, "month": cost * 1000}
    member_key = _add(database_url, "mb", "m", tenant_limits={}, member_budgets={"day": cost * 10})
    cases: dict[str, str | list[str]] = {
        "key budget": _add(database_url, "kb", "m", tenant_limits={}, **worth_ten),
        "tenant budget": _add(database_url, "tb", "m", tenant_limits=worth_ten),
        "key daily budget": _add(database_url, "kd", "m", tenant_limits={}, budgets=daily),
        "member daily budget, two keys": [member_key, _another_key(database_url, "mb", "m")],
        "key tpm": _add(database_url, "kt", "m", tenant_limits={}, tpm=tokens * 10),
        "tenant tpm": _add(database_url, "tt", "m", tenant_limits={"tpm": tokens * 10}),
    }
    wait()
    for name, key in cases.items():
        clear_of_a_minute_boundary(seconds=15)
        started = time.time()
        statuses = asyncio.run(_burst(base_urls, key))
        served = statuses.count(200)
        assert set(statuses) <= {200, 429}, (name, sorted(set(statuses)))
        assert 1 <= served <= 10 + processes, (name, served)
        print(f"{name}: {served} of {len(statuses)} served, {started % 60:.0f}s..{time.time() % 60:.0f}s")


# Six bursts of 200 requests each, every one started early in a fresh UTC minute: longer than the default.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_one_process_serves_at_most_eleven_of_two_hundred(start_router: Callable[..., LiveRouter]) -> None:
    router = start_router(usage_flush_interval=0.05)
    router.apply(CONFIG)
    _check_limits_hold([router.base_url], router.settings.database_url, 1, router.wait_for_config)


@pytest.mark.timeout(300)
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_replicas_on_one_redis_serve_at_most_twelve_of_two_hundred(
    start_router: Callable[..., LiveRouter],
) -> None:
    namespace = f"router-test-{uuid.uuid4().hex[:12]}"
    try:
        replicas = [start_router(redis_url=REDIS_URL, redis_namespace=namespace) for _ in range(2)]
        replicas[0].apply(CONFIG)

        def wait() -> None:
            for replica in replicas:
                replica.wait_for_config()

        _check_limits_hold([r.base_url for r in replicas], replicas[0].settings.database_url, 2, wait)
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()


VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


@pytest.fixture
def two_workers(tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[tuple[str, str]]:
    """`router serve --workers 2` on a SQLite file, no Redis: each worker keeps to half of every limit."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"
    env = {
        **os.environ,
        "ROUTER_DATABASE_URL": database_url,
        "ROUTER_SECRET_KEY": SECRET,
        "ROUTER_USAGE_FLUSH_INTERVAL": "0.05",
        "ROUTER_CONFIG_POLL_INTERVAL": "0.2",
        "ROUTER_LOG_LEVEL": "WARNING",
        "UPSTREAM": fake_upstream.base_url,
        "OPENAI_API_KEY": "sk-provider-credential",
    }
    env.pop("ROUTER_REDIS_URL", None)
    (tmp_path / "config.yaml").write_text(CONFIG)
    for args in (["db", "upgrade"], ["config", "apply", str(tmp_path / "config.yaml")]):
        subprocess.run(
            [str(VENV_BIN / "router"), *args], cwd=tmp_path, env=env, check=True, capture_output=True
        )
    with socket_port() as port:
        pass
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "router"), "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # start-up, and LiteLLM loading (readiness waits for it)
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        yield base_url, database_url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


class socket_port:
    """A free port (bound, then released for the server to take)."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        return port

    def __exit__(self, *_: object) -> None:
        self._sock.close()


@pytest.mark.timeout(300)
def test_two_workers_without_redis_serve_at_most_twelve_of_two_hundred(two_workers: tuple[str, str]) -> None:
    base_url, database_url = two_workers
    # Both workers must have loaded the snapshot with the new keys (they poll every 0.2 s).
    _check_limits_hold([base_url], database_url, 2, lambda: time.sleep(1.5))
