"""Claude Code's gateway protocol, rule by rule, against the running service (docs/gateway-contract.md).

Each test is named for the rule of the contract it proves; the fake upstream plays each provider.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import httpx
import pytest

from router.store.db import Database
from router.store.keys import revoke_key
from tests.e2e.conftest import Routed
from tests.fakes import Fail, Reply
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}

# Each provider's own wording of "the prompt does not fit", with the counts it reports.
OVERFLOW = {
    "openai": (
        "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "131072 tokens. Please reduce the length of the messages.",
        (131072, 128000),
    ),
    "azure": (
        "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "131072 tokens. Please reduce the length of the messages.",
        (131072, 128000),
    ),
    "gemini": (
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        (1200000, 1048576),
    ),
    "anthropic": ("prompt is too long: 210000 tokens > 200000 maximum", (210000, 200000)),
}


@pytest.fixture
def live_router(start_router: Callable[..., LiveRouter]) -> LiveRouter:
    """These rules are not about timeouts: a roomy first-byte wait keeps them steady on a busy machine."""
    return start_router(upstream_first_byte_timeout=15.0)


OPENAI_ONLY = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""


def _post(router: LiveRouter, key: str, body: dict[str, Any]) -> httpx.Response:
    with router.http() as http:
        return http.post("/v1/messages", json=body, headers={"x-api-key": key})


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert body["type"] == "error"
    return response.status_code, body["error"]["type"], body["error"]["message"]


# ---- context overflow in Anthropic's words -----------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_context_overflow_is_a_400_saying_prompt_is_too_long_with_the_counts(
    routed: Routed, stream: bool
) -> None:
    wording, (tokens, window) = OVERFLOW[routed.case.kind]
    routed.router.upstream.script(Fail(400, wording), model=routed.case.upstream_model)

    response = _post(routed.router, routed.key, {**ASK, "stream": stream})

    assert _error(response) == (
        400,
        "invalid_request_error",
        f"prompt is too long: {tokens} tokens > {window} maximum",
    )


def test_context_overflow_without_counts_still_says_prompt_is_too_long_with_numbers(
    live_router: LiveRouter,
) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "olga")
    # A provider that says only that it does not fit (LiteLLM's exception chain around it).
    live_router.upstream.script(
        Fail(400, "litellm.ContextWindowExceededError: litellm.BadRequestError: context_length_exceeded"),
        model="gpt-4.1",
    )

    status, kind, message = _error(_post(live_router, key, ASK))

    assert (status, kind) == (400, "invalid_request_error")
    # Our estimate of the prompt against the target's known window (LiteLLM's model map for gpt-4.1).
    found = re.fullmatch(r"prompt is too long: (\d+) tokens > (\d+) maximum", message)
    assert found is not None, message
    assert int(found.group(1)) > int(found.group(2)) >= 1_000_000


def test_context_overflow_moves_to_a_larger_window_before_answering(live_router: LiveRouter) -> None:
    live_router.apply(
        """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
chains:
  - {name: grow, targets: [oai/gpt-4o-mini, oai/gpt-4.1]}
rules:
  - {match: "*", chain: grow}
"""
    )
    key = live_router.key("acme", "pia")
    wording, _ = OVERFLOW["openai"]
    live_router.upstream.script(Fail(400, wording), model="gpt-4o-mini")
    live_router.upstream.script(Reply(text="fits here"), model="gpt-4.1")

    response = _post(live_router, key, ASK)

    assert response.status_code == 200 and response.json()["content"][0]["text"] == "fits here"
    assert [r.model for r in live_router.upstream.requests] == ["gpt-4o-mini", "gpt-4.1"]


def test_anthropics_own_400_wording_reaches_the_client_word_for_word(live_router: LiveRouter) -> None:
    """Claude Code's recovery matches Anthropic's wording (here: strip thinking blocks and retry)."""
    live_router.apply(ANTHROPIC_ONLY)
    key = live_router.key("acme", "quinn")
    wording = "messages.1.content.0: Invalid `signature` in `thinking` block"
    live_router.upstream.script(Fail(400, wording), model="claude-sonnet-4-5")

    assert _error(_post(live_router, key, ASK)) == (400, "invalid_request_error", wording)


# ---- errors and retries as the client reads them ------------------------------------------------------


def test_revoked_key_gets_401_with_x_should_retry_false(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "rita")
    assert _post(live_router, key, ASK).status_code == 200

    async def revoke() -> None:
        db = Database(live_router.settings.database_url)
        try:
            async with db.transaction() as session:
                await revoke_key(session, key[:12], actor="test")
        finally:
            await db.dispose()

    run_async(revoke())
    live_router.wait_for_config()

    response = _post(live_router, key, ASK)
    assert _error(response)[:2] == (401, "authentication_error")
    assert response.headers["x-should-retry"] == "false"


def test_expired_key_gets_401_with_x_should_retry_false(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "sam", expires=timedelta(seconds=1))
    time.sleep(1.2)

    response = _post(live_router, key, ASK)

    assert _error(response)[:2] == (401, "authentication_error")
    assert response.headers["x-should-retry"] == "false"


def test_upstream_529_stays_529_overloaded_error(live_router: LiveRouter) -> None:
    live_router.apply(
        """
providers:
  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "${ANTHROPIC_API_KEY}"}
rules:
  - {match: "*", target: ant/claude-sonnet-4-5}
"""
    )
    key = live_router.key("acme", "tom")
    live_router.upstream.script(Fail(529, "Overloaded"), model="claude-sonnet-4-5")

    response = _post(live_router, key, ASK)

    assert _error(response)[:2] == (529, "overloaded_error")
    assert response.headers["x-should-retry"] == "true"


def test_upstream_501_is_not_supported_with_x_should_retry_false(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "uma")
    live_router.upstream.script(Fail(501, "not implemented here"), model="gpt-4.1")

    response = _post(live_router, key, ASK)

    assert _error(response)[:2] == (501, "not_supported")
    assert response.headers["x-should-retry"] == "false"


def test_spent_member_budget_is_429_billing_error_saying_when_it_resets(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "vera", budget_usd=0.0001)
    live_router.upstream.script(
        Reply(text="pricey", input_tokens=100_000, output_tokens=1000), model="gpt-4.1"
    )
    assert _post(live_router, key, ASK).status_code == 200

    deadline = time.monotonic() + 5
    while (response := _post(live_router, key, ASK)).status_code == 200:
        assert time.monotonic() < deadline, "the budget never tripped"
        time.sleep(0.1)

    status, kind, message = _error(response)
    assert (status, kind) == (429, "billing_error")
    headers = response.headers
    assert headers["x-should-retry"] == "false"
    reset = int(headers["anthropic-ratelimit-unified-reset"])
    assert int(headers["retry-after"]) > 0 and abs(reset - time.time() - int(headers["retry-after"])) <= 2
    assert headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert headers["anthropic-ratelimit-unified-overage-reset"] == str(reset)
    assert headers["anthropic-ratelimit-unified-overage-utilization"] == "1"
    assert headers["anthropic-ratelimit-unified-overage-period"] == "monthly"
    # Left off so that the client prints our sentence, which says when and what to do.
    assert "anthropic-ratelimit-unified-representative-claim" not in headers
    assert "anthropic-ratelimit-unified-overage-status" not in headers
    assert "resets" in message and "admin" in message


def test_sdk_does_not_retry_a_billing_error(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "wes", budget_usd=0.0001)
    live_router.upstream.script(
        Reply(text="pricey", input_tokens=100_000, output_tokens=1000), model="gpt-4.1"
    )
    client = live_router.client(key)
    client.messages.create(**ASK)
    deadline = time.monotonic() + 5
    while _post(live_router, key, ASK).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    before = len(live_router.upstream.requests)
    retrying = anthropic.Anthropic(api_key=key, base_url=live_router.base_url, max_retries=3)

    started = time.monotonic()
    with pytest.raises(anthropic.RateLimitError):
        retrying.messages.create(**ASK)

    # x-should-retry: false wins over the SDK's own "429 is retryable" (and retry-after's month-long wait).
    assert time.monotonic() - started < 30
    assert len(live_router.upstream.requests) == before


# ---- pass-through ----------------------------------------------------------------------------------

ANTHROPIC_ONLY = """
providers:
  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "${ANTHROPIC_API_KEY}"}
rules:
  - {match: "*", target: ant/claude-sonnet-4-5}
"""

CLAUDE_CODE_HEADERS = {
    "x-app": "cli",
    "x-stainless-lang": "js",
    "x-stainless-package-version": "0.99.0",
    "x-stainless-retry-count": "0",
    "x-stainless-some-future-header": "?",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,some-future-beta-2099-01-01",
}


def test_unknown_headers_and_body_fields_never_fail_a_request(routed: Routed) -> None:
    body = {**ASK, "some_future_field": {"x": 1}, "another_one": [1, 2]}
    with routed.router.http() as http:
        response = http.post(
            "/v1/messages", json=body, headers={"x-api-key": routed.key, **CLAUDE_CODE_HEADERS}
        )
    assert response.status_code == 200, response.text


def test_anthropic_targets_get_the_body_and_betas_unchanged(live_router: LiveRouter) -> None:
    live_router.apply(ANTHROPIC_ONLY)
    key = live_router.key("acme", "xena")
    body = {
        **ASK,
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "u-1"},
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "output_config": {"effort": "high"},
        "some_future_field": {"nested": [1, "two", None]},
        "tags": {"project": "router"},
    }
    # A version the router has never heard of still passes as sent.
    headers = {"x-api-key": key, **CLAUDE_CODE_HEADERS, "anthropic-version": "2099-01-01"}
    with live_router.http() as http:
        response = http.post("/v1/messages", json=body, headers=headers)
    assert response.status_code == 200, response.text

    sent = live_router.upstream.requests_for(kind="anthropic")[-1]
    assert sent.headers["anthropic-version"] == "2099-01-01"
    # Only the model may change (it is the target's own name here too, and max_tokens is within caps).
    assert sent.json == {**body, "model": "claude-sonnet-4-5"}
    assert sent.headers["anthropic-beta"] == CLAUDE_CODE_HEADERS["anthropic-beta"]
    assert sent.headers["x-api-key"] == "sk-ant-provider-credential"


def test_anthropic_count_tokens_gets_the_body_unchanged(live_router: LiveRouter) -> None:
    live_router.apply(ANTHROPIC_ONLY)
    key = live_router.key("acme", "xavi")
    body = {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "count me"}],
        "context_management": {"edits": []},
        "some_future_field": True,
    }
    with live_router.http() as http:
        response = http.post(
            "/v1/messages/count_tokens", json=body, headers={"x-api-key": key, **CLAUDE_CODE_HEADERS}
        )
    assert response.status_code == 200, response.text
    sent = live_router.upstream.requests_for(kind="anthropic")[-1]
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.json == body
    assert sent.headers["anthropic-beta"] == CLAUDE_CODE_HEADERS["anthropic-beta"]


# ---- auto mode's safeguards ------------------------------------------------------------------------

SAFEGUARDS = {"auto_mode": {"enabled": True}}
RESULTS = {"auto_mode": {"verdict": "allow"}}
AUTO_BETA = {"anthropic-beta": "claude-code-20250219,auto-mode-safeguards-2099-01-01"}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_safeguards_and_their_results_pass_through_anthropic_targets(
    live_router: LiveRouter, stream: bool
) -> None:
    live_router.apply(ANTHROPIC_ONLY)
    key = live_router.key("acme", "yuri")
    live_router.upstream.script(
        Reply(text="ok", extra={"safeguard_results": RESULTS}), model="claude-sonnet-4-5"
    )
    with live_router.http() as http:
        response = http.post(
            "/v1/messages",
            json={**ASK, "stream": stream, "safeguards": SAFEGUARDS},
            headers={"x-api-key": key, **AUTO_BETA},
        )
    assert response.status_code == 200, response.text

    sent = live_router.upstream.requests_for(kind="anthropic")[-1]
    assert sent.json["safeguards"] == SAFEGUARDS
    assert sent.headers["anthropic-beta"] == AUTO_BETA["anthropic-beta"]
    if stream:
        deltas = [
            json.loads(line[len("data: ") :])
            for line in response.text.splitlines()
            if line.startswith("data: ") and '"message_delta"' in line
        ]
        assert [d["safeguard_results"] for d in deltas] == [RESULTS]
    else:
        assert response.json()["safeguard_results"] == RESULTS


@pytest.mark.parametrize("kind", ["openai", "azure", "gemini"])
def test_safeguards_on_a_target_that_cannot_run_them_is_a_400_naming_safeguards(
    live_router: LiveRouter, kind: str
) -> None:
    from tests.e2e.conftest import CASES

    live_router.apply(CASES[kind].yaml)
    key = live_router.key("acme", "zoe")
    with live_router.http() as http:
        response = http.post(
            "/v1/messages", json={**ASK, "safeguards": SAFEGUARDS}, headers={"x-api-key": key, **AUTO_BETA}
        )

    status, error_type, message = _error(response)
    assert (status, error_type) == (400, "invalid_request_error")
    assert "safeguards" in message
    assert live_router.upstream.requests == []  # refused before any upstream, never silently dropped


def test_safeguards_are_served_by_the_anthropic_targets_of_a_mixed_chain(live_router: LiveRouter) -> None:
    live_router.apply(
        """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: ant, kind: anthropic, api_base: "${UPSTREAM}", api_key: "${ANTHROPIC_API_KEY}"}
chains:
  - {name: mixed, targets: [oai/gpt-4.1, ant/claude-sonnet-4-5]}
rules:
  - {match: "*", chain: mixed}
"""
    )
    key = live_router.key("acme", "abe")
    live_router.upstream.script(
        Reply(text="ok", extra={"safeguard_results": RESULTS}), model="claude-sonnet-4-5"
    )

    response = _post(live_router, key, {**ASK, "safeguards": SAFEGUARDS})

    assert response.status_code == 200 and response.json()["safeguard_results"] == RESULTS
    assert [r.kind for r in live_router.upstream.requests] == ["anthropic"]
    # Without safeguards the chain's order holds.
    assert _post(live_router, key, ASK).status_code == 200
    assert live_router.upstream.requests[-1].kind == "openai"


# ---- keep-alives --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_silent_stream_gaps_carry_pings(start_router: Callable[..., LiveRouter], kind: str) -> None:
    from tests.e2e.conftest import CASES

    router = start_router(stream_ping_interval=0.2)
    case = CASES[kind]
    router.apply(case.yaml)
    key = router.key("acme", "pip")
    # An upstream that thinks for a while between chunks (0.7 s > the 0.2 s ping interval).
    router.upstream.script(
        Reply(text="slow and steady", chunk_size=8, chunk_delay=0.7), model=case.upstream_model
    )

    with router.http() as http:
        response = http.post("/v1/messages", json={**ASK, "stream": True}, headers={"x-api-key": key})
    events = [line[len("event: ") :] for line in response.text.splitlines() if line.startswith("event: ")]

    assert response.status_code == 200
    first_delta = events.index("content_block_delta")
    # Pings fill the gaps once the stream has started, and only then.
    assert "ping" not in events[: events.index("message_start")]
    assert events[first_delta:].count("ping") >= 2
    assert events[-1] == "message_stop"
    # The SDK reads such a stream as it reads Anthropic's own.
    router.upstream.script(
        Reply(text="slow and steady", chunk_size=8, chunk_delay=0.7), model=case.upstream_model
    )
    with router.client(key).messages.stream(**ASK) as stream:
        assert stream.get_final_message().content[0].text == "slow and steady"  # type: ignore[union-attr]


# ---- model discovery --------------------------------------------------------------------------------


def test_models_lists_anthropic_style_ids_the_callers_rules_route(live_router: LiveRouter) -> None:
    live_router.apply(
        """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "team-alias", target: oai/gpt-4.1}
  - {match: "claude-sonnet-*", target: oai/gpt-4.1}
  - {match: "claude-opus-4-1", target: oai/gpt-4.1}
"""
    )
    key = live_router.key("acme", "mia")

    models = live_router.client(key).models.list()

    ids = [m.id for m in models.data]
    assert set(ids) == {
        "claude-sonnet-5-5",
        "claude-sonnet-4-6",
        "claude-sonnet-4-5",
        "claude-sonnet-4-0",
        "claude-opus-4-1",
    }
    assert all(re.fullmatch(r"claude-[a-z]+-\d+-\d+", i) for i in ids)
    assert {m.id: m.display_name for m in models.data}["claude-sonnet-4-5"] == "Claude Sonnet 4.5"


def test_models_is_a_404_when_no_claude_id_is_routed_so_the_client_keeps_its_own_list(
    live_router: LiveRouter,
) -> None:
    live_router.apply(
        """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "gpt-*", target: oai/gpt-4.1}
"""
    )
    key = live_router.key("acme", "ned")
    with live_router.http() as http:
        response = http.get("/v1/models", headers={"x-api-key": key})
    assert _error(response)[:2] == (404, "not_found_error")
    assert "x-should-retry" not in response.headers


# ---- usage notices -----------------------------------------------------------------------------------

UNIFIED = "anthropic-ratelimit-unified-"


def _unified(response: httpx.Response) -> dict[str, str]:
    return {k[len(UNIFIED) :]: v for k, v in response.headers.items() if k.startswith(UNIFIED)}


def _spend_until(router: LiveRouter, key: str, floor: float) -> httpx.Response:
    """Ask until the usage headers show at least `floor` (spend is counted just after each answer)."""
    deadline = time.monotonic() + 10
    while True:
        response = _post(router, key, ASK)
        assert response.status_code == 200, response.text
        if float(_unified(response).get("overage-utilization", "0")) >= floor:
            return response
        assert time.monotonic() < deadline, _unified(response)
        time.sleep(0.1)


def _next_month_start() -> int:
    from router.usage.limit_rules import next_month_start

    return int(next_month_start(time.time()).timestamp())


def test_capped_member_gets_unified_usage_headers_on_each_success(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    # gpt-4.1's output is $8 per million tokens (LiteLLM's cost map): each answer below spends $8.
    key = live_router.key("acme", "cap", budget_usd=10.0)
    live_router.upstream.set_default(Reply(text="costly", output_tokens=1_000_000, input_tokens=10))

    fresh = _unified(_post(live_router, key, ASK))
    assert fresh == {
        "status": "allowed",
        "representative-claim": "overage",
        "overage-status": "allowed",
        "overage-utilization": "0.00",
        "reset": str(_next_month_start()),
        "overage-reset": str(_next_month_start()),
    }

    warned = _unified(_spend_until(live_router, key, 0.75))
    assert warned["status"] == warned["overage-status"] == "allowed_warning"
    assert warned["overage-utilization"] == "0.80"
    assert warned["overage-surpassed-threshold"] == "0.75"


def test_usage_headers_pass_95_percent_and_never_show_1_while_allowed(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "cap95", budget_usd=8.3)
    live_router.upstream.set_default(Reply(text="costly", output_tokens=1_000_000, input_tokens=10))
    _post(live_router, key, ASK)

    nearly = _unified(_spend_until(live_router, key, 0.95))

    assert (nearly["overage-utilization"], nearly["overage-surpassed-threshold"]) == ("0.96", "0.95")


def test_uncapped_caller_gets_no_usage_headers_and_no_upstream_ratelimit_headers(routed: Routed) -> None:
    response = _post(routed.router, routed.key, ASK)
    assert response.status_code == 200
    assert not [h for h in response.headers if h.startswith("anthropic-ratelimit")]


def test_usage_endpoint_answers_the_cap_in_cents_matching_the_headers(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "dollars", budget_usd=10.0)
    # One $8 answer, then answers that cost next to nothing while we wait for the headers to show it.
    live_router.upstream.script(
        Reply(text="costly", output_tokens=1_000_000, input_tokens=10), model="gpt-4.1"
    )
    live_router.upstream.set_default(Reply(text="cheap", output_tokens=1, input_tokens=1))
    _post(live_router, key, ASK)
    headers = _unified(_spend_until(live_router, key, 0.75))

    with live_router.http() as http:
        response = http.get("/api/oauth/usage", headers={"authorization": f"Bearer {key}"})

    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["extra_usage"] == {
        "is_enabled": True,
        "monthly_limit": 1000,
        "used_credits": 800,
        "utilization": 80,
        "currency": "USD",
    }
    [row] = body["limits"]
    assert row["kind"] == "spend" and row["group"] == "monthly" and row["is_active"] is True
    assert row["percent"] == round(float(headers["overage-utilization"]) * 100)
    assert row["severity"] == "warning"
    # The same instant as the reset header, to the second.
    resets = datetime.strptime(row["resets_at"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
    assert int(resets.timestamp()) == int(headers["overage-reset"])


def test_usage_endpoint_for_an_uncapped_caller_lists_no_limits_and_its_spend(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    key = live_router.key("acme", "free")
    live_router.upstream.script(
        Reply(text="costly", output_tokens=1_000_000, input_tokens=10), model="gpt-4.1"
    )
    assert _post(live_router, key, ASK).status_code == 200

    deadline = time.monotonic() + 10
    while True:
        with live_router.http() as http:
            body = http.get("/api/oauth/usage", headers={"x-api-key": key}).json()
        if body["extra_usage"]["used_credits"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert body["limits"] == []
    usage = body["extra_usage"]
    assert (usage["monthly_limit"], usage["utilization"]) == (None, None)
    assert usage["used_credits"] == usage["daily"]["used_credits"] == usage["weekly"]["used_credits"] == 800
    assert usage["daily"]["limit"] is None and usage["weekly"]["utilization"] is None


def test_usage_endpoint_refuses_an_unknown_credential(live_router: LiveRouter) -> None:
    live_router.apply(OPENAI_ONLY)
    with live_router.http() as http:
        response = http.get("/api/oauth/usage", headers={"authorization": "Bearer sk-rt-nope"})
    assert _error(response)[:2] == (401, "authentication_error")
