"""A rule on budget use moves a key to a cheaper target once it crosses the threshold, mid-run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fakes import Reply
from tests.fixtures.app import LiveRouter

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
prices:
  - {target: oai/gpt-4.1, input_per_mtok: 10.0, output_per_mtok: 0.0}
  - {target: oai/gpt-4.1-mini, input_per_mtok: 1.0, output_per_mtok: 0.0}
rules:
  - {match: "*", when: {budget_used_pct: ">=80"}, target: oai/gpt-4.1-mini}
  - {match: "*", target: oai/gpt-4.1}
"""

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("stream", [False, True])
def test_a_key_crossing_80_percent_of_its_budget_moves_to_the_cheaper_target(
    live_router: LiveRouter, stream: bool
) -> None:
    live_router.apply(CONFIG)
    # Every answer costs 1000 input tokens: $0.01 on gpt-4.1, so a $0.05 budget is 80 % used after four.
    live_router.upstream.set_default(Reply(text="ok", input_tokens=1000, output_tokens=1))
    client = live_router.client(live_router.key("acme", "heavy", budget_usd=0.05))
    for _ in range(6):
        if stream:
            with client.messages.stream(**ASK) as events:
                events.get_final_message()
        else:
            client.messages.create(**ASK)
        time.sleep(0.1)  # the spend is counted just after each answer
    assert [r.model for r in live_router.upstream.requests] == ["gpt-4.1"] * 4 + ["gpt-4.1-mini"] * 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_key_without_a_budget_never_matches_a_budget_rule(live_router: LiveRouter) -> None:
    live_router.apply(CONFIG)
    client = live_router.client(live_router.key("acme", "free"))
    for _ in range(3):
        client.messages.create(**ASK)
    assert [r.model for r in live_router.upstream.requests] == ["gpt-4.1"] * 3
