"""request_facts(): the one place a request's facts come from, for the live path and for explanations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.routing.facts import request_facts, sample_request
from router.wire.requests import decode_request


def _decoded(**fields: Any) -> Any:
    body = {"model": "m", "max_tokens": 4096, "messages": [{"role": "user", "content": "hi"}], **fields}
    return decode_request(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("thinking", "on"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, True),
        ({"type": "adaptive"}, True),
        ({"type": "disabled"}, False),
        (None, False),
    ],
)
def test_thinking_is_on_when_enabled_or_adaptive(thinking: dict[str, Any] | None, on: bool) -> None:
    req = _decoded(**({"thinking": thinking} if thinking else {}))
    assert request_facts(req, input_tokens=5, member="a").thinking is on


def test_a_sample_request_has_the_same_facts_as_a_decoded_one() -> None:
    tools = [
        {"name": "Bash", "input_schema": {"type": "object"}},
        {"name": "web_search", "type": "web_search_20250305"},
    ]
    live = request_facts(
        _decoded(stream=True, tools=tools, thinking={"type": "adaptive"}), input_tokens=9, member="alice"
    )
    sample = request_facts(
        sample_request("m", thinking="adaptive", tool_names=["Bash", "web_search_20250305"], stream=True),
        input_tokens=9,
        member="alice",
    )
    assert (live.thinking, live.tools, live.stream, live.member) == (True, True, True, "alice")
    assert {"Bash", "web_search_20250305"} <= live.tool_names
    assert (sample.thinking, sample.tools, sample.stream, sample.member) == (True, True, True, "alice")
    assert {"Bash", "web_search_20250305"} <= sample.tool_names


def test_a_tool_count_without_names_still_means_tools() -> None:
    facts = request_facts(sample_request("m", tools=2), input_tokens=0, member=None)
    assert facts.tools and len(facts.tool_names) == 2


def test_budget_used_pct_compares_the_tightest_budget_use() -> None:
    from router.routing.conditions import condition_errors, mismatch, parse_threshold
    from router.routing.model import Conditions, RequestFacts

    assert parse_threshold(">=80") == (">=", 80.0)
    assert parse_threshold("< 50%") == ("<", 50.0)
    assert parse_threshold(90) == (">=", 90.0)
    assert parse_threshold("most") is None and parse_threshold(True) is None
    assert condition_errors({"budget_used_pct": "lots"})[0][0] == "budget_used_pct"
    rule = Conditions(budget_used_pct=">=80")
    assert mismatch(rule, RequestFacts("m", budget_used_pct=80.0)) is None
    assert mismatch(rule, RequestFacts("m", budget_used_pct=79.9)) == (
        "79.9% of the budget used, rule wants budget_used_pct >=80"
    )
    assert mismatch(rule, RequestFacts("m")) == "no budget, rule wants budget_used_pct >=80"
    assert mismatch(Conditions(budget_used_pct="<50"), RequestFacts("m")) is None
