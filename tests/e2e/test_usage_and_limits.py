"""Usage records and limits, end to end: requests through the service, read back with `router usage`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anthropic
import pytest
import redis
from click.testing import CliRunner

from router.cli import main
from tests.fakes import Fail, Reply
from tests.fixtures.app import SECRET, LiveRouter
from tests.fixtures.minutes import clear_of_a_minute_boundary

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
chains:
  - {name: big, targets: [oai/gpt-4.1, deployment/gpt4o-eu]}
rules:
  - {match: "*", chain: big}
"""

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}


def _usage_json(router: LiveRouter, *args: str) -> list[dict[str, Any]]:
    env = {"ROUTER_DATABASE_URL": router.settings.database_url, "ROUTER_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, ["usage", "--since", "1h", "--format", "json", *args], env=env)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def _wait_for_records(router: LiveRouter, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        rows = _usage_json(router)
        if (rows and rows[0]["requests"] >= count) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


@pytest.fixture
def router(live_router: LiveRouter) -> LiveRouter:
    live_router.apply(CONFIG)
    return live_router


def test_every_request_is_recorded_with_upstream_tokens_costs_and_attempts(router: LiveRouter) -> None:
    client = router.client(router.key("acme", "alice"))
    upstream = router.upstream
    # 3 plain, 3 streamed, 2 of which fail over from OpenAI to the Azure deployment.
    for stream in (False, True):
        upstream.script(
            Reply(text="one", input_tokens=100, output_tokens=10, cached_tokens=20), model="gpt-4.1"
        )
        upstream.script(Fail(500), model="gpt-4.1")
        upstream.script(Reply(text="two", input_tokens=200, output_tokens=20), model="gpt-4o-prod")
        upstream.script(Reply(text="three", input_tokens=300, output_tokens=30), model="gpt-4.1")
        for _ in range(3):
            if stream:
                with client.messages.stream(**ASK) as s:
                    s.get_final_message()
            else:
                client.messages.create(**ASK)
    [total] = _wait_for_records(router, 6)
    assert total["requests"] == 6
    assert total["errors"] == 0
    assert total["input_tokens"] == 2 * (80 + 200 + 300)  # uncached input
    assert total["cache_read_tokens"] == 2 * 20
    assert total["output_tokens"] == 2 * (10 + 20 + 30)
    assert float(total["cost_usd"]) > 0  # exact decimal text

    by_target = {row["name"]: row for row in _usage_json(router, "--by", "target")}
    assert by_target["oai/gpt-4.1"]["requests"] == 4
    assert by_target["deployment/gpt4o-eu"]["requests"] == 2

    records = _records(router)
    failed_over = [r for r in records if len(r["attempts"]) == 2]
    assert len(failed_over) == 2
    for record in failed_over:
        assert [a["target"] for a in record["attempts"]] == ["oai/gpt-4.1", "deployment/gpt4o-eu"]
        assert record["attempts"][0]["status"] == 500
        assert record["target"] == "deployment/gpt4o-eu"
    assert {r["stream"] for r in records} == {True, False}
    assert all(r["member"] == "alice" and r["key_prefix"].startswith("sk-rt-") for r in records)


def _records(router: LiveRouter) -> list[dict[str, Any]]:
    from router.store.db import Database
    from router.store.usage_records import UsageFilters, list_usage_records
    from tests.fixtures.db import run_async

    async def load() -> list[dict[str, Any]]:
        db = Database(router.settings.database_url)
        try:
            async with db.session() as session:
                since = datetime(2000, 1, 1, tzinfo=UTC)
                rows = await list_usage_records(session, UsageFilters(since=since), limit=1000)
                return [
                    {
                        "attempts": r.attempts,
                        "target": r.target,
                        "stream": r.stream,
                        "member": r.member,
                        "key_prefix": r.key_prefix,
                        "status": r.status,
                        "outcome": r.outcome,
                    }
                    for r in rows
                ]
        finally:
            await db.dispose()

    return run_async(load())


def test_rpm_limit_trips_with_429_and_retry_after_before_any_upstream_call(router: LiveRouter) -> None:
    client = router.client(router.key("acme", "bob", rpm=2))
    clear_of_a_minute_boundary()
    client.messages.create(**ASK)
    client.messages.create(**ASK)
    calls = len(router.upstream.requests)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(**ASK)
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert len(router.upstream.requests) == calls
    # The refusal is recorded too, with its status and no tokens.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        refused = [r for r in _records(router) if r["status"] == 429]
        if refused:
            break
        time.sleep(0.2)
    assert refused and refused[0]["outcome"] == "rejected"


def test_budget_limit_trips_after_spending(router: LiveRouter) -> None:
    client = router.client(router.key("acme", "carol", budget_usd=0.0001))
    router.upstream.script(Reply(text="expensive", input_tokens=100_000, output_tokens=1000), model="gpt-4.1")
    client.messages.create(**ASK)
    deadline = time.monotonic() + 5
    while True:
        try:
            client.messages.create(**ASK)
        except anthropic.RateLimitError as exc:
            # The member's own cap: billing_error, never retried (docs/gateway-contract.md).
            assert "budget" in exc.message
            assert exc.body["error"]["type"] == "billing_error"  # type: ignore[index]
            assert exc.response.headers["x-should-retry"] == "false"
            break
        assert time.monotonic() < deadline, "the budget never tripped"
        time.sleep(0.1)


def test_rpm_limit_holds_across_two_replicas_sharing_redis(start_router: Callable[..., LiveRouter]) -> None:
    namespace = f"router-test-{uuid.uuid4().hex[:12]}"
    shared = {"redis_url": "redis://127.0.0.1:6379/0", "redis_namespace": namespace}
    first, second = start_router(**shared), start_router(**shared)
    first.apply(CONFIG)
    key = first.key("acme", "dora", rpm=3)
    second.wait_for_config()
    clear_of_a_minute_boundary()
    answered = []
    for replica in (first, second, first):
        replica.client(key).messages.create(**ASK)
        answered.append(replica.base_url)
    # The fourth request in the minute is refused whichever replica gets it.
    for replica in (second, first):
        with pytest.raises(anthropic.RateLimitError):
            replica.client(key).messages.create(**ASK)
    assert len(answered) == 3
    cleanup = redis.Redis.from_url(shared["redis_url"])
    try:
        for name in cleanup.scan_iter(f"{namespace}:*"):
            cleanup.delete(name)
    finally:
        cleanup.close()
