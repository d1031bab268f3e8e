"""Alerts through the running service: two replicas on one database, real requests spending a tenant's
budget and failing at a target, a signed webhook on loopback told once per threshold, error rate and
cool-down; and a webhook that fails before it answers is retried."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from router.alerts.message import verify
from tests.fakes import Fail, Reply
from tests.fakes.webhook import WebhookReceiver, webhook
from tests.fixtures.app import LiveRouter

__all__ = ["webhook"]

FAST = {
    "alert_interval": 0.2,
    "alert_budget_interval": 0.2,
    "alert_retry_seconds": 0.3,
    "cooldown_seconds": 30.0,
}

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
prices:
  - {target: oai/gpt-4.1, input_per_mtok: 10.0, output_per_mtok: 0.0}
rules:
  - {match: "claude-haiku-*", target: oai/gpt-4.1-mini}
  - {match: "*", target: oai/gpt-4.1}
tenants:
  - {name: acme, limits: {budget_usd: 0.05}}
  - {name: beta, limits: {budget_usd: 0.05}}
alerts:
  - {name: spend, webhook: "${HOOK}/spend/T0/hook-token", watch: budget, thresholds: [50, 80, 100],
     tenants: [acme], secret: "${HOOK_SECRET}"}
  - {name: errors, webhook: "${HOOK}/errors", watch: error_rate, thresholds: [50], targets: ["oai/*"],
     min_requests: 3}
  - {name: cooled, webhook: "${HOOK}/cooled", watch: cooldown}
"""

ASK: dict[str, Any] = {"max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def test_two_replicas_alert_once_per_threshold_on_real_spend_errors_and_cooldown(
    start_router: Callable[..., LiveRouter], webhook: WebhookReceiver
) -> None:
    first = start_router(**FAST)
    second = start_router(**FAST)
    first.apply(CONFIG, HOOK=webhook.base_url, HOOK_SECRET="hmac-shared-secret")
    second.wait_for_config()
    # Every answer costs 1000 input tokens: $0.01 at $10/Mtok, 20 % of the $0.05 budget.
    first.upstream.set_default(Reply(text="ok", input_tokens=1000, output_tokens=1))
    acme = [first.client(first.key("acme", "ann")), second.client(second.key("acme", "bob"))]
    beta = first.client(first.key("beta", "cy"))

    def spend_to(wanted: int) -> list[float]:
        """One request (on alternating replicas) and then, when a threshold is due, its delivery."""
        acme[wanted % 2].messages.create(model="claude-sonnet-4-5", **ASK)
        beta.messages.create(model="claude-sonnet-4-5", **ASK)  # beta is not watched
        return [r.json["alert"]["threshold"] for r in webhook.wait_for(wanted) if r.path.startswith("/spend")]

    acme[0].messages.create(model="claude-sonnet-4-5", **ASK)  # 20 %
    acme[1].messages.create(model="claude-sonnet-4-5", **ASK)  # 40 %
    time.sleep(1.0)
    assert webhook.received == []
    assert spend_to(1) == [50.0]  # 60 %
    assert spend_to(2) == [50.0, 80.0]  # 80 %
    assert spend_to(3) == [50.0, 80.0, 100.0]  # 100 %
    time.sleep(1.5)  # more rounds of both replicas' evaluators: nothing fires twice
    spend = [r for r in webhook.received if r.path.startswith("/spend")]
    assert [r.json["alert"]["threshold"] for r in spend] == [50.0, 80.0, 100.0]
    for got in spend:
        assert got.path == "/spend/T0/hook-token"
        assert got.json["alert"]["subject"] == "tenant:acme:month"
        assert verify(
            "hmac-shared-secret",
            got.headers["x-router-timestamp"],
            got.headers["x-router-signature"],
            got.body,
        )
    assert (
        "tenant acme has used 100% of its month budget this month ($0.05 of $0.05)" in spend[2].json["text"]
    )

    # A target failing three times in a row: its error rate (3 of 3) and its cool-down are told once each.
    first.upstream.script(Fail(500), Fail(500), Fail(500), model="gpt-4.1-mini")
    haiku = first.client(first.key("beta", "dee"))
    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError):
            haiku.messages.create(model="claude-haiku-4-5", **ASK)
    webhook.wait_for(5)
    time.sleep(1.0)
    others = sorted(
        (r.path, r.json["alert"]["subject"], r.json["alert"]["value"]) for r in webhook.received[3:]
    )
    assert others == [
        ("/cooled", "target:oai/gpt-4.1-mini", 100.0),
        ("/errors", "target:oai/gpt-4.1-mini", 100.0),
    ]


def test_a_webhook_failing_at_first_is_retried_until_it_takes_the_message(
    start_router: Callable[..., LiveRouter], webhook: WebhookReceiver
) -> None:
    live = start_router(**FAST)
    live.apply(CONFIG, HOOK=webhook.base_url, HOOK_SECRET="hmac-shared-secret")
    live.upstream.set_default(Reply(text="ok", input_tokens=3000, output_tokens=1))
    webhook.answer(500, 502)
    live.client(live.key("acme", "ann")).messages.create(model="claude-sonnet-4-5", **ASK)  # 60 %
    (got,) = webhook.wait_for(1)
    assert [r.status for r in webhook.received] == [500, 502, 200]
    assert len({r.body for r in webhook.received}) == 1
    assert got.json["alert"]["threshold"] == 50.0


def test_a_refused_provider_credential_counts_in_the_error_rate_but_cools_nothing(
    start_router: Callable[..., LiveRouter], webhook: WebhookReceiver
) -> None:
    live = start_router(**FAST)
    live.apply(CONFIG, HOOK=webhook.base_url, HOOK_SECRET="hmac-shared-secret")
    live.upstream.script(Fail(401, "invalid api key"), Fail(401), Fail(401), model="gpt-4.1-mini")
    client = live.client(live.key("beta", "dee"))
    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError):
            client.messages.create(model="claude-haiku-4-5", **ASK)
    (got,) = webhook.wait_for(1)
    time.sleep(1.0)
    assert [r.path for r in webhook.received] == ["/errors"]
    assert got.json["alert"]["details"] == {"attempts": 3, "failures": 3, "window_minutes": 5}
