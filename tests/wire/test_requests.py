"""Decoding Messages requests: every block kind, tolerance for unknown fields, readable errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router.wire.content import (
    Base64DocumentSource,
    Base64ImageSource,
    ContentDocumentSource,
    DocumentBlock,
    FileSource,
    ImageBlock,
    RedactedThinkingBlock,
    ServerToolUseBlock,
    TextBlock,
    TextDocumentSource,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UrlDocumentSource,
    UrlImageSource,
    WebSearchToolResultBlock,
)
from router.wire.errors import InvalidRequestError
from router.wire.requests import (
    ThinkingAdaptive,
    ThinkingDisabled,
    ThinkingEnabled,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    decode_count_tokens_request,
    decode_request,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "claude_code_request.json"


def body(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    base.update(fields)
    return json.dumps(base).encode()


def user_blocks(*blocks: dict[str, Any]) -> bytes:
    return body(messages=[{"role": "user", "content": list(blocks)}])


def test_claude_code_request_fixture_decodes_with_every_part() -> None:
    raw = FIXTURE.read_bytes()
    assert len(raw) > 50_000
    req = decode_request(raw)

    assert req.stream is True and req.max_tokens == 32000
    assert req.thinking == ThinkingEnabled(budget_tokens=31999)
    assert req.metadata is not None and json.loads(req.metadata.user_id or "")["session_id"]
    assert isinstance(req.system, list) and req.system[0].cache_control == {"type": "ephemeral"}
    assert req.context_management == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    assert req.tools is not None
    names = {t.name for t in req.tools}
    assert {"Bash", "Read", "Write", "Edit", "Glob", "Grep", "Task", "TodoWrite", "WebFetch"} <= names
    assert {"NotebookEdit", "MultiEdit", "web_search"} <= names
    server = [t for t in req.tools if t.is_server_tool]
    assert [(t.type, t.input_schema) for t in server] == [("web_search_20250305", None)]
    assert [m.role for m in req.messages].count("system") == 1
    kinds = {type(b) for m in req.messages if isinstance(m.content, list) for b in m.content}
    assert {TextBlock, ThinkingBlock, ToolUseBlock, ToolResultBlock, ImageBlock} <= kinds


def test_unknown_top_level_and_nested_fields_are_ignored() -> None:
    req = decode_request(
        body(
            brand_new_option={"x": 1},
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "a", "future": True}], "extra": 1}
            ],
        )
    )
    assert req.messages[0].content == [TextBlock(text="a")]


def test_pass_through_fields_are_kept_raw() -> None:
    req = decode_request(
        body(service_tier="auto", container="c_1", mcp_servers=[{"type": "url", "url": "https://x"}])
    )
    assert (req.service_tier, req.container) == ("auto", "c_1")
    assert req.mcp_servers == [{"type": "url", "url": "https://x"}]


def test_string_system_and_output_config_effort() -> None:
    req = decode_request(
        body(system="be brief", output_config={"effort": "max"}, thinking={"type": "adaptive"})
    )
    assert req.system == "be brief"
    assert req.effort == "max"
    assert isinstance(req.thinking, ThinkingAdaptive)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}, "citations": None},
            TextBlock(text="a", cache_control={"type": "ephemeral"}),
        ),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
            ImageBlock(source=Base64ImageSource(media_type="image/png", data="AAA")),
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            ImageBlock(source=UrlImageSource(url="https://x/y.png")),
        ),
        (
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
            ImageBlock(source=FileSource(file_id="file_1")),
        ),
        (
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                "title": "T",
                "context": "C",
            },
            DocumentBlock(
                source=Base64DocumentSource(media_type="application/pdf", data="JVBE"), title="T", context="C"
            ),
        ),
        (
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
            DocumentBlock(source=TextDocumentSource(data="plain")),
        ),
        (
            {"type": "document", "source": {"type": "url", "url": "https://x/d.pdf"}},
            DocumentBlock(source=UrlDocumentSource(url="https://x/d.pdf")),
        ),
        (
            {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "c"}]}},
            DocumentBlock(source=ContentDocumentSource(content=[TextBlock(text="c")])),
        ),
        (
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "is_error": True,
                "content": [
                    {"type": "text", "text": "t"},
                    {"type": "image", "source": {"type": "url", "url": "https://x/u.png"}},
                ],
            },
            ToolResultBlock(
                tool_use_id="toolu_1",
                is_error=True,
                content=[TextBlock(text="t"), ImageBlock(source=UrlImageSource(url="https://x/u.png"))],
            ),
        ),
        ({"type": "tool_result", "tool_use_id": "toolu_2"}, ToolResultBlock(tool_use_id="toolu_2")),
    ],
)
def test_user_content_block_kinds_decode(block: dict[str, Any], expected: object) -> None:
    if block["type"] == "tool_result":
        # A tool result answers a tool call of the assistant message before it.
        call = {"type": "tool_use", "id": block["tool_use_id"], "name": "t", "input": {}}
        messages = [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [block]},
        ]
        assert decode_request(body(messages=messages)).messages[2].content == [expected]
        return
    req = decode_request(user_blocks(block))
    assert req.messages[0].content == [expected]


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            ToolUseBlock(id="toolu_1", name="Bash", input={"command": "ls"}),
        ),
        (
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            ThinkingBlock(thinking="hmm", signature="sig"),
        ),
        ({"type": "redacted_thinking", "data": "opaque"}, RedactedThinkingBlock(data="opaque")),
        (
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
            ServerToolUseBlock(id="srvtoolu_1", name="web_search", input={"query": "q"}),
        ),
        (
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [
                    {"type": "web_search_result", "url": "https://a", "title": "A", "encrypted_content": "E"}
                ],
            },
            WebSearchToolResultBlock(
                tool_use_id="srvtoolu_1",
                content=[
                    {"type": "web_search_result", "url": "https://a", "title": "A", "encrypted_content": "E"}
                ],
            ),
        ),
    ],
)
def test_assistant_content_block_kinds_decode(block: dict[str, Any], expected: object) -> None:
    req = decode_request(
        body(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": [block]}])
    )
    assert req.messages[1].content == [expected]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoiceAuto()),
        ({"type": "any", "disable_parallel_tool_use": True}, ToolChoiceAny(disable_parallel_tool_use=True)),
        ({"type": "tool", "name": "Bash"}, ToolChoiceTool(name="Bash")),
        ({"type": "none"}, ToolChoiceNone()),
    ],
)
def test_tool_choice_variants_decode(choice: dict[str, Any], expected: object) -> None:
    assert decode_request(body(tool_choice=choice)).tool_choice == expected


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, ThinkingEnabled(budget_tokens=2048)),
        ({"type": "disabled"}, ThinkingDisabled()),
        ({"type": "adaptive"}, ThinkingAdaptive()),
    ],
)
def test_thinking_variants_decode(thinking: dict[str, Any], expected: object) -> None:
    assert decode_request(body(max_tokens=4096, thinking=thinking)).thinking == expected


def test_server_tools_decode_without_input_schema() -> None:
    req = decode_request(
        body(
            tools=[
                {"type": "bash_20250124", "name": "bash"},
                {"type": "text_editor_20250429", "name": "str_replace_based_edit_tool"},
                {"type": "custom", "name": "Mine", "input_schema": {"type": "object"}},
            ]
        )
    )
    assert req.tools is not None
    assert [t.is_server_tool for t in req.tools] == [True, True, False]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"model":"m","messages":[{"role":"user","content":"a"}]}', "max_tokens: Field required"),
        (
            body(messages=[{"role": "user", "content": 5}]),
            "messages.0.content: Expected `str | array`, got `int`",
        ),
        (body(messages=[{"role": "bot", "content": "a"}]), "messages.0.role: Invalid enum value 'bot'"),
        (user_blocks({"type": "text"}), "messages.0.content.0.text: Field required"),
        (user_blocks({"type": "video"}), "messages.0.content.0.type: Invalid value 'video'"),
        (body(max_tokens="10"), "max_tokens: Expected `int`, got `str`"),
        (body(tool_choice={"type": "tool"}), "tool_choice.name: Field required"),
        (body(tools=[{"description": "no name"}]), "tools.0.name: Field required"),
        (b"[]", "Expected `object`, got `array`"),
    ],
)
def test_decode_errors_name_the_offending_field(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decode_request(raw)
    assert caught.value.message == message
    assert (caught.value.status, caught.value.error_type) == (400, "invalid_request_error")


def test_malformed_json_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        decode_request(b'{"model": ')


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
        (body(messages=[]), "messages: at least one message is required"),
        (body(temperature=1.5), "temperature: Input should be less than or equal to 1"),
        (body(temperature=-0.1), "temperature: Input should be greater than or equal to 0"),
        (body(top_p=2), "top_p: Input should be less than or equal to 1"),
        (body(top_k=-1), "top_k: Input should be greater than or equal to 0"),
        (body(thinking={"type": "enabled", "budget_tokens": 500}), "budget_tokens: Input should be greater"),
        (
            body(max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 2000}),
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
    ],
)
def test_semantic_limits_anthropic_enforces_are_enforced(raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decode_request(raw)
    assert fragment in caught.value.message


def test_count_tokens_request_needs_no_max_tokens() -> None:
    req = decode_count_tokens_request(
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"name":"t","input_schema":{}}],'
        b'"stream":true}'
    )
    assert req.model == "m" and req.tools is not None and req.tools[0].name == "t"
    assert not hasattr(req, "max_tokens")


def test_count_tokens_request_is_validated_too() -> None:
    with pytest.raises(InvalidRequestError, match="messages: at least one message is required"):
        decode_count_tokens_request(b'{"model":"m","messages":[]}')
    with pytest.raises(InvalidRequestError, match="model: Field required"):
        decode_count_tokens_request(b'{"messages":[{"role":"user","content":"a"}]}')


def test_a_tool_result_must_answer_a_tool_use_of_the_previous_message() -> None:
    orphan = {"type": "tool_result", "tool_use_id": "toolu_gone", "content": "x"}
    with pytest.raises(
        InvalidRequestError, match=r"messages\.0\.content\.0: unexpected `tool_use_id`.*toolu_gone"
    ):
        decode_request(user_blocks(orphan))


@pytest.mark.parametrize("url", ["u", "https://", "http://a b/c.png", "https://[::1", "http:///x.png"])
def test_an_image_url_must_be_an_absolute_web_url(url: str) -> None:
    image = {"type": "image", "source": {"type": "url", "url": url}}
    with pytest.raises(InvalidRequestError, match=r"source\.url"):
        decode_request(user_blocks(image))
