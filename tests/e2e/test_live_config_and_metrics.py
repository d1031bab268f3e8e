"""Changes are live on the next request in every replica; operators read /metrics with a token."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.fakes import Reply
from tests.fixtures.app import LiveRouter

BEFORE = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""
AFTER = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*sonnet*", target: oai/gpt-4.1-mini}
  - {match: "*", target: oai/gpt-4.1}
"""
ASK = {"model": "claude-sonnet-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def test_config_applied_while_running_routes_the_next_request_in_every_replica(
    start_router: Callable[..., LiveRouter],
) -> None:
    first = start_router()
    second = start_router()
    first.apply(BEFORE)
    key = first.key("acme", "alice")
    second.wait_for_config()
    for replica in (first, second):
        replica.client(key).messages.create(**ASK)  # type: ignore[call-overload]
    assert [r.model for r in first.upstream.requests] == ["gpt-4.1", "gpt-4.1"]

    first.upstream.reset()
    first.apply(AFTER)  # written by a third party (like the CLI): both replicas learn by polling
    started = time.monotonic()
    second.wait_for_config()
    assert time.monotonic() - started < 2.0
    for replica in (first, second):
        replica.client(key).messages.create(**ASK)  # type: ignore[call-overload]
    assert [r.model for r in first.upstream.requests] == ["gpt-4.1-mini", "gpt-4.1-mini"]


def test_metrics_need_the_token_and_count_requests_by_tenant_and_target(
    start_router: Callable[..., LiveRouter],
) -> None:
    router = start_router(metrics_token="metrics-token-123")
    router.apply(BEFORE)
    key = router.key("acme", "alice")
    router.upstream.script(Reply(text="hello", input_tokens=10, output_tokens=3))
    router.client(key).messages.create(**ASK)  # type: ignore[call-overload]
    with router.http() as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
        response = http.get("/metrics", headers={"authorization": "Bearer metrics-token-123"})
    assert response.status_code == 200
    text = response.text
    assert 'router_requests_total{outcome="ok",target="oai/gpt-4.1",tenant="acme"}' in text
    assert "router_request_duration_seconds_bucket" in text
    assert key not in text and key[:12] not in text  # keys are never labels
