"""Native Anthropic targets: model and max_tokens changes only, synthetic thinking dropped."""

from __future__ import annotations

import copy
from typing import Any

from router.translate.anthropic_native import prepare_native_request, rewrite_model
from router.translate.thinking import is_synthetic_signature, synthetic_signature

SYNTHETIC = {"type": "thinking", "thinking": "from gpt", "signature": synthetic_signature("from gpt")}
REAL = {"type": "thinking", "thinking": "from claude", "signature": "EqQBCkgIBxAB"}


def raw_request(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "alias",
        "max_tokens": 32000,
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "context_management": {"edits": []},
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [REAL, {"type": "tool_use", "id": "toolu_1", "name": "T", "input": {}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
        ],
    }
    base.update(fields)
    return base


def test_model_replaced_and_everything_else_kept() -> None:
    raw = raw_request()
    before = copy.deepcopy(raw)
    body = prepare_native_request(raw, model="claude-sonnet-4-5", max_tokens_cap=None)
    assert raw == before
    assert body == {**before, "model": "claude-sonnet-4-5"}


def test_max_tokens_clamped_and_thinking_budget_kept_below_it() -> None:
    body = prepare_native_request(raw_request(), model="m", max_tokens_cap=8192)
    assert body["max_tokens"] == 8192 and body["thinking"] == {"type": "enabled", "budget_tokens": 8191}
    tiny = prepare_native_request(raw_request(), model="m", max_tokens_cap=1000)
    assert tiny["max_tokens"] == 1000 and "thinking" not in tiny
    override = prepare_native_request(
        raw_request(), model="m", max_tokens_cap=8192, overrides={"max_tokens": 4096, "temperature": 1.0}
    )
    assert (override["max_tokens"], override["temperature"]) == (4096, 1.0)


def test_synthetic_thinking_blocks_are_dropped_real_ones_kept() -> None:
    raw = raw_request()
    raw["messages"].insert(1, {"role": "assistant", "content": [SYNTHETIC, {"type": "text", "text": "a"}]})
    raw["messages"].insert(2, {"role": "user", "content": "more"})
    body = prepare_native_request(raw, model="m", max_tokens_cap=None)
    assert body["messages"][1]["content"] == [{"type": "text", "text": "a"}]
    assert body["messages"][3]["content"][0] == REAL
    assert body["thinking"] == raw["thinking"]
    assert raw["messages"][1]["content"][0] is SYNTHETIC


def test_losing_the_continued_turns_thinking_turns_thinking_off() -> None:
    raw = raw_request()
    raw["messages"][1]["content"][0] = SYNTHETIC
    body = prepare_native_request(raw, model="m", max_tokens_cap=None)
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "T", "input": {}}]
    assert "thinking" not in body


def test_signatures_are_recognisable() -> None:
    assert is_synthetic_signature(synthetic_signature("x"))
    assert synthetic_signature("x") == synthetic_signature("x") != synthetic_signature("y")
    assert not is_synthetic_signature("EqQBCkgIBxAB") and not is_synthetic_signature(None)


def test_rewrite_model_on_messages_and_message_start_only() -> None:
    message = {"type": "message", "model": "claude-sonnet-4-5", "content": []}
    assert rewrite_model(message, "alias") == {"type": "message", "model": "alias", "content": []}
    assert message["model"] == "claude-sonnet-4-5"
    start = {"type": "message_start", "message": {"id": "msg_1", "model": "claude-sonnet-4-5"}}
    assert rewrite_model(start, "alias")["message"] == {"id": "msg_1", "model": "alias"}
    delta = {"type": "content_block_delta", "index": 0}
    assert rewrite_model(delta, "alias") is delta


def test_every_top_level_field_passes_unchanged() -> None:
    raw = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "context_management": {"edits": []},
        "output_config": {"effort": "high"},
        "api_base": "http://evil.example",
        "mock_response": "faked",
        "some_future_field": 1,
    }
    body = prepare_native_request(raw, model="claude-sonnet-4-5-20250929", max_tokens_cap=None)
    # Gateway protocol: body fields pass to the upstream as sent; only the model (and caps) change.
    assert body == {**raw, "model": "claude-sonnet-4-5-20250929"}
