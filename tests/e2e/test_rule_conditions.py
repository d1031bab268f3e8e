"""Every rule condition holds on live traffic exactly as `explain` says it does.

Real requests from the official SDK go through the running service; the fake upstream records which model
received each. For every case the explanation built from the same traits names that same target, so the
live path and `router route explain` / try-it cannot disagree again (both build facts with
`routing.facts.request_facts`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from router.routing.explain import explain, find_tenant_id
from router.routing.facts import ThinkingMode, request_facts, sample_request
from tests.fixtures.app import LiveRouter

RULES = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "think", when: {thinking: true}, target: oai/m-thinking}
  - {match: "think", target: oai/m-plain}
  - {match: "nothink", when: {thinking: false}, target: oai/m-nothinking}
  - {match: "nothink", target: oai/m-plain}
  - {match: "tools", when: {tools: true}, target: oai/m-tools}
  - {match: "tools", when: {tools: false}, target: oai/m-notools}
  - {match: "bash", when: {tool: Bash}, target: oai/m-bash}
  - {match: "bash", target: oai/m-plain}
  - {match: "stream", when: {stream: true}, target: oai/m-stream}
  - {match: "stream", target: oai/m-nostream}
  - {match: "long", when: {min_input_tokens: 2000}, target: oai/m-long}
  - {match: "long", target: oai/m-short}
  - {match: "member", when: {member: "ali*"}, target: oai/m-alice}
  - {match: "member", target: oai/m-plain}
"""

TOOL = {"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}
OTHER_TOOL = {"name": "Read", "description": "read a file", "input_schema": {"type": "object"}}
THINKING: dict[str, dict[str, Any]] = {
    "enabled": {"type": "enabled", "budget_tokens": 2048},
    "adaptive": {"type": "adaptive"},
    "disabled": {"type": "disabled"},
}


@dataclass(frozen=True)
class Case:
    model: str
    upstream: str
    thinking: ThinkingMode | None = None
    tools: tuple[dict[str, Any], ...] = ()
    stream: bool = False
    prompt_chars: int = 20
    member: str = "bob"
    extra: dict[str, Any] = field(default_factory=dict)


CASES = {
    "thinking enabled": Case("think", "m-thinking", thinking="enabled"),
    "thinking enabled, streamed": Case("think", "m-thinking", thinking="enabled", stream=True),
    "thinking adaptive": Case("think", "m-thinking", thinking="adaptive"),
    "thinking disabled": Case("think", "m-plain", thinking="disabled"),
    "thinking absent": Case("think", "m-plain"),
    "thinking false, enabled": Case("nothink", "m-plain", thinking="enabled"),
    "thinking false, absent": Case("nothink", "m-nothinking"),
    "tools present": Case("tools", "m-tools", tools=(OTHER_TOOL,)),
    "tools absent": Case("tools", "m-notools"),
    "named tool present": Case("bash", "m-bash", tools=(OTHER_TOOL, TOOL)),
    "named tool absent": Case("bash", "m-plain", tools=(OTHER_TOOL,)),
    "stream": Case("stream", "m-stream", stream=True),
    "no stream": Case("stream", "m-nostream"),
    "min_input_tokens reached": Case("long", "m-long", prompt_chars=40_000),
    "min_input_tokens not reached": Case("long", "m-short"),
    "member matches": Case("member", "m-alice", member="alice"),
    "member does not match": Case("member", "m-plain", member="bob"),
}


# Conditions do not depend on the database backend: SQLite only, to keep the suite short.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", list(CASES))
def test_each_condition_routes_live_requests_where_explain_says(live_router: LiveRouter, name: str) -> None:
    case = CASES[name]
    live_router.apply(RULES)
    key = live_router.key("acme", case.member)
    body: dict[str, Any] = {
        "model": case.model,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "x " * (case.prompt_chars // 2)}],
    }
    if case.thinking is not None:
        body["thinking"] = THINKING[case.thinking]
    if case.tools:
        body["tools"] = list(case.tools)
    client = live_router.client(key)
    if case.stream:
        with client.messages.stream(**body) as stream:
            stream.get_final_message()
    else:
        client.messages.create(**body)

    received = [r.model for r in live_router.upstream.requests]
    assert received == [case.upstream]

    config = live_router.app.state.snapshots.current
    sample = sample_request(
        case.model,
        thinking=case.thinking,
        tool_names=[t["name"] for t in case.tools],
        stream=case.stream,
    )
    tokens = live_router.app.state.hub.estimate_tokens(json.dumps(body).encode())
    facts = request_facts(sample, input_tokens=tokens, member=case.member)
    explained = explain(config, find_tenant_id(config, "acme"), facts)
    assert explained.targets == (f"oai/{case.upstream}",), explained.to_text()
