"""The Anthropic Messages API request as msgspec Structs, decoded straight from bytes: the request, its
tools, tool choice and thinking config, and the checks decoding adds. Messages and their content blocks
are in content.py.

Unknown fields are ignored everywhere (msgspec's default), so newer clients never break us. Content
blocks and tool choice / thinking config are tagged unions on `"type"`. Fields we do not interpret but
must not lose for native Anthropic targets are kept raw (`Any`); the native path forwards the raw body.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from router.wire.content import (
    ContentDocumentSource,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UrlDocumentSource,
    UrlImageSource,
    WireStruct,
)
from router.wire.errors import InvalidRequestError

__all__ = [
    "CountTokensRequest",
    "MessagesRequest",
    "Metadata",
    "ThinkingAdaptive",
    "ThinkingConfig",
    "ThinkingDisabled",
    "ThinkingEnabled",
    "Tool",
    "ToolChoice",
    "ToolChoiceAny",
    "ToolChoiceAuto",
    "ToolChoiceNone",
    "ToolChoiceTool",
    "decode_count_tokens_request",
    "decode_request",
]

_T = TypeVar("_T")


# ---- tools -----------------------------------------------------------------------------------------


class Tool(WireStruct):
    """A client tool (name + input_schema) or a server tool (`type` like "web_search_20250305").

    Server tools carry extra fields (max_uses, allowed_domains, display sizes...) that are not kept
    here: only the raw body forwarded to an Anthropic target needs them.
    """

    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None
    cache_control: dict[str, Any] | None = None

    @property
    def is_server_tool(self) -> bool:
        return self.type is not None and self.type != "custom"


class ToolChoiceAuto(WireStruct, tag="auto", tag_field="type"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(WireStruct, tag="any", tag_field="type"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(WireStruct, tag="tool", tag_field="type"):
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(WireStruct, tag="none", tag_field="type"):
    pass


ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone


class ThinkingEnabled(WireStruct, tag="enabled", tag_field="type"):
    budget_tokens: int


class ThinkingDisabled(WireStruct, tag="disabled", tag_field="type"):
    pass


class ThinkingAdaptive(WireStruct, tag="adaptive", tag_field="type"):
    pass


ThinkingConfig = ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive


class Metadata(WireStruct):
    user_id: str | None = None


# ---- requests --------------------------------------------------------------------------------------

# A model name is bounded where it enters: usage rows, metrics and logs carry it, so no client may send a
# megabyte of it or control characters (NUL is refused by PostgreSQL text). Real names are under 100.
MODEL_NAME_MAX = 256
ModelName = Annotated[str, msgspec.Meta(max_length=MODEL_NAME_MAX, pattern="^[^\\x00-\\x1f\\x7f]*$")]


class CountTokensRequest(WireStruct):
    """Body of POST /v1/messages/count_tokens (a Messages request without max_tokens / stream)."""

    model: ModelName
    messages: list[Message]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    output_config: dict[str, Any] | None = None
    # Not interpreted by the translation; kept so nothing the client sent is silently reshaped.
    context_management: Any | None = None
    mcp_servers: Any | None = None


class MessagesRequest(WireStruct):
    """Body of POST /v1/messages."""

    model: ModelName
    max_tokens: int
    messages: list[Message]
    system: str | list[TextBlock] | None = None
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    metadata: Metadata | None = None
    # Claude Code sends {"effort": "low" | "medium" | "high" | "max"}.
    output_config: dict[str, Any] | None = None
    # Pass-through fields: meaningful only to Anthropic targets, kept raw.
    context_management: Any | None = None
    service_tier: Any | None = None
    container: Any | None = None
    mcp_servers: Any | None = None
    # Claude Code's auto mode asks the upstream to run its safety check; only Anthropic targets can.
    safeguards: Any | None = None

    @property
    def effort(self) -> str | None:
        """`output_config.effort` when it is a string, else None."""
        if self.output_config is None:
            return None
        value = self.output_config.get("effort")
        return value if isinstance(value, str) else None


# ---- decoding --------------------------------------------------------------------------------------

_MESSAGES_DECODER = msgspec.json.Decoder(MessagesRequest)
_COUNT_TOKENS_DECODER = msgspec.json.Decoder(CountTokensRequest)
_MISSING_FIELD = re.compile(r"^Object missing required field `([^`]+)`$")
_AT_PATH = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)
_INDEX = re.compile(r"\[(\d+)\]")


def decode_request(body: bytes) -> MessagesRequest:
    """Decode and validate a Messages request body; `InvalidRequestError` names the offending field."""
    req = _decode(_MESSAGES_DECODER, body)
    _check_common(req.messages, req.thinking)
    if req.max_tokens < 1:
        raise InvalidRequestError("max_tokens: Input should be greater than or equal to 1")
    _check_range("temperature", req.temperature, 0.0, 1.0)
    _check_range("top_p", req.top_p, 0.0, 1.0)
    if req.top_k is not None and req.top_k < 0:
        raise InvalidRequestError("top_k: Input should be greater than or equal to 0")
    if isinstance(req.thinking, ThinkingEnabled) and req.thinking.budget_tokens >= req.max_tokens:
        raise InvalidRequestError(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
            "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
        )
    return req


def decode_count_tokens_request(body: bytes) -> CountTokensRequest:
    """Decode and validate a count_tokens request body."""
    req = _decode(_COUNT_TOKENS_DECODER, body)
    _check_common(req.messages, req.thinking)
    return req


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidRequestError(_readable(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidRequestError("The request body is not valid JSON: it is not UTF-8") from None
    except RecursionError:
        # msgspec decodes nested values recursively: a body of 100,000 nested arrays is an attack, not a 500.
        raise InvalidRequestError("The request body is nested too deeply") from None


def _readable(msgspec_message: str) -> str:
    """Turn msgspec's "<problem> - at `$.messages[0].content`" into "messages.0.content: <problem>"."""
    problem, path = msgspec_message, ""
    at = _AT_PATH.match(msgspec_message)
    if at:
        problem, raw_path = at.group(1), at.group(2)
        path = _INDEX.sub(r".\1", raw_path).lstrip(".")
    missing = _MISSING_FIELD.match(problem)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        problem = "Field required"
    if problem.startswith("Expected `str` matching regex '^[^"):
        problem = "must not contain control characters"
    return f"{path}: {problem}" if path else problem


def _check_common(messages: list[Message], thinking: ThinkingConfig | None) -> None:
    if not messages:
        raise InvalidRequestError("messages: at least one message is required")
    for index, message in enumerate(messages):
        if isinstance(message.content, list):
            _check_urls(message.content, f"messages.{index}.content")
            _check_tool_results(messages, index)
    if isinstance(thinking, ThinkingEnabled) and thinking.budget_tokens < 1024:
        raise InvalidRequestError(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        )


def _check_tool_results(messages: list[Message], index: int) -> None:
    """Every tool_result answers a tool_use of the message just before it, as Anthropic's API requires (and
    as every other provider's tool-call pairing needs: LiteLLM raised it as a 500 before)."""
    content = messages[index].content
    assert isinstance(content, list)
    results = [(i, b.tool_use_id) for i, b in enumerate(content) if isinstance(b, ToolResultBlock)]
    if not results:
        return
    previous = messages[index - 1].content if index > 0 and messages[index - 1].role == "assistant" else ()
    calls = {b.id for b in previous if isinstance(b, ToolUseBlock)} if isinstance(previous, list) else set()
    for block_index, tool_use_id in results:
        if tool_use_id not in calls:
            raise InvalidRequestError(
                f"messages.{index}.content.{block_index}: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {tool_use_id}. Each `tool_result` block must have a corresponding `tool_use` "
                "block in the previous message."
            )


# A URL naming a scheme other than these is refused: the router (or LiteLLM, for targets that need the
# bytes) may fetch image and document URLs, and file:// or any other scheme must never reach a fetcher.
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_WEB_SCHEMES = frozenset({"http", "https"})


_URL_WIDTH = 8192


def _is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host, no whitespace or control characters, of a sane length: what a
    fetcher (ours or LiteLLM's) can use; anything else used to surface as a 500 from deep inside LiteLLM."""
    if len(url) > _URL_WIDTH or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return False
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in _WEB_SCHEMES and bool(host)


def _check_urls(blocks: list[Any], path: str) -> None:
    for index, block in enumerate(blocks):
        where = f"{path}.{index}"
        source = getattr(block, "source", None)
        if isinstance(source, (UrlImageSource, UrlDocumentSource)):
            scheme = _URL_SCHEME.match(source.url)
            if scheme is not None and scheme.group(1).lower() not in _WEB_SCHEMES:
                raise InvalidRequestError(f"{where}.source.url: only http:// and https:// URLs are accepted")
            if not _is_web_url(source.url):
                raise InvalidRequestError(f"{where}.source.url: not a valid http(s) URL")
        elif isinstance(source, ContentDocumentSource) and isinstance(source.content, list):
            _check_urls(source.content, f"{where}.source.content")
        if isinstance(block, ToolResultBlock) and isinstance(block.content, list):
            _check_urls(block.content, f"{where}.content")


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if value < low:
        raise InvalidRequestError(f"{name}: Input should be greater than or equal to {low:g}")
    if value > high:
        raise InvalidRequestError(f"{name}: Input should be less than or equal to {high:g}")
