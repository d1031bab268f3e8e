"""Anthropic Messages request -> OpenAI chat-completions request body (a plain dict).

What cannot be expressed for a non-Anthropic target is dropped on purpose: cache_control, thinking
blocks and their signatures (meaningless to another model), server tools the target lacks. What the
target cannot read at all (a PDF for a model without file input) is a client error, said clearly.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from router.translate.quirks import Quirks, ServerToolMapper
from router.translate.thinking import reasoning_effort_for
from router.wire.content import (
    Base64DocumentSource,
    Base64ImageSource,
    ContentBlock,
    ContentDocumentSource,
    DocumentBlock,
    ImageBlock,
    ImageSource,
    TextBlock,
    TextDocumentSource,
    ToolResultBlock,
    ToolUseBlock,
    UrlDocumentSource,
    UrlImageSource,
)
from router.wire.errors import InvalidRequestError
from router.wire.requests import (
    MessagesRequest,
    Tool,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
)

__all__ = ["to_openai_request"]

_encode_json = msgspec.json.Encoder().encode
_EMPTY_SCHEMA: Final[dict[str, Any]] = {"type": "object", "properties": {}}

Part = dict[str, Any]
OpenAIMessage = dict[str, Any]


def to_openai_request(
    req: MessagesRequest,
    *,
    model: str,
    quirks: Quirks,
    max_tokens_cap: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAI chat-completions body for `req`, sent to `model` on a target with `quirks`.

    `overrides` (from a routing rule) may hold "max_tokens" (another cap), "temperature" and
    "reasoning_effort", which replace the computed values. Stop sequences are not sent (see below).
    """
    overrides = overrides or {}
    body: dict[str, Any] = {"model": model, "messages": _messages(req, quirks)}

    max_tokens = req.max_tokens
    for cap in (max_tokens_cap, overrides.get("max_tokens")):
        if isinstance(cap, int) and cap > 0:
            max_tokens = min(max_tokens, cap)
    body["max_tokens"] = max_tokens

    temperature = overrides.get("temperature", req.temperature)
    if temperature is not None:
        body["temperature"] = temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None and quirks.supports_top_k:
        body["top_k"] = req.top_k
    # No "stop": these targets could not say which sequence matched, so the router finds stop sequences
    # in the generated text itself (translate/stop_sequences.py) and stops reading there.

    tools = _tools(req.tools, quirks) if req.tools else []
    if tools:
        body["tools"] = tools
        _tool_choice(req, quirks, body)

    if quirks.supports_user and req.metadata is not None and req.metadata.user_id:
        body["user"] = req.metadata.user_id[: quirks.max_user_length]

    if req.stream:
        body["stream"] = True
        if quirks.supports_stream_options:
            body["stream_options"] = {"include_usage": True}

    effort = reasoning_effort_for(req) if quirks.supports_reasoning_effort else None
    effort = overrides.get("reasoning_effort") or effort
    if effort:
        body["reasoning_effort"] = effort
    return body


# ---- messages --------------------------------------------------------------------------------------


def _messages(req: MessagesRequest, quirks: Quirks) -> list[OpenAIMessage]:
    out: list[OpenAIMessage] = []
    if req.system:
        system = req.system if isinstance(req.system, str) else _join_text(req.system)
        if system:
            out.append({"role": "system", "content": system})
    for message in req.messages:
        if message.role == "user":
            _user(message.content, quirks, out)
        elif message.role == "assistant":
            _assistant(message.content, out)
        else:
            text = message.content if isinstance(message.content, str) else _join_text(message.content)
            role = "system" if quirks.supports_mid_conversation_system else "user"
            out.append({"role": role, "content": text})
    return out


def _join_text(blocks: Sequence[ContentBlock]) -> str:
    return "\n\n".join(b.text for b in blocks if isinstance(b, TextBlock) and b.text)


def _user(content: str | list[ContentBlock], quirks: Quirks, out: list[OpenAIMessage]) -> None:
    if isinstance(content, str):
        out.append({"role": "user", "content": content})
        return
    parts: list[Part] = []
    tool_attachments: list[Part] = []
    for block in content:
        if isinstance(block, TextBlock):
            if block.text:
                parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block.source))
        elif isinstance(block, DocumentBlock):
            parts.extend(_document_parts(block, quirks))
        elif isinstance(block, ToolResultBlock):
            # Tool messages go out at once, so they directly follow the assistant's tool_calls
            # message as OpenAI requires; this turn's own text comes after them.
            out.append(_tool_message(block, quirks, tool_attachments))
        # thinking / tool_use / server-tool blocks cannot appear in a user turn for another model.
    parts = tool_attachments + parts
    if parts:
        out.append({"role": "user", "content": _user_content(parts, quirks)})


def _user_content(parts: list[Part], quirks: Quirks) -> str | list[Part]:
    if all(p["type"] == "text" for p in parts):
        if len(parts) == 1:
            return str(parts[0]["text"])
        if quirks.flatten_text_parts:
            return "\n\n".join(p["text"] for p in parts)
    return parts


def _tool_message(block: ToolResultBlock, quirks: Quirks, attachments: list[Part]) -> OpenAIMessage:
    content = block.content
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        texts: list[str] = []
        media: list[Part] = []
        for item in content:
            if isinstance(item, TextBlock):
                texts.append(item.text)
            elif isinstance(item, ImageBlock):
                media.append(_image_part(item.source))
            else:
                for part in _document_parts(item, quirks):
                    if part["type"] == "text":
                        texts.append(part["text"])
                    else:
                        media.append(part)
        text = "\n".join(texts)
        if media:
            # OpenAI tool messages carry text only: the images follow in a user message.
            label = f"Attachments returned by tool call {block.tool_use_id}:"
            attachments.append({"type": "text", "text": label})
            attachments.extend(media)
            if not text:
                text = f"(the tool returned {len(media)} attachment(s), sent in the next message)"
    if block.is_error:
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": text}


def _assistant(content: str | list[ContentBlock], out: list[OpenAIMessage]) -> None:
    if isinstance(content, str):
        out.append({"role": "assistant", "content": content})
        return
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            calls.append(
                {
                    "id": block.id,
                    "type": "function",
                    "function": {"name": block.name, "arguments": _encode_json(block.input).decode()},
                }
            )
        # thinking / redacted_thinking: signed for Anthropic only, not sendable elsewhere.
    if not texts and not calls:
        return
    message: OpenAIMessage = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    out.append(message)


def _image_part(source: ImageSource) -> Part:
    if isinstance(source, Base64ImageSource):
        url = f"data:{source.media_type};base64,{source.data}"
    elif isinstance(source, UrlImageSource):
        url = source.url
    else:
        raise InvalidRequestError("image: Files API sources (file_id) can only be sent to Anthropic models")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_parts(block: DocumentBlock, quirks: Quirks) -> list[Part]:
    source = block.source
    header = [s for s in (block.title, block.context) if s]
    if isinstance(source, TextDocumentSource):
        return [{"type": "text", "text": "\n\n".join([*header, source.data])}]
    if isinstance(source, ContentDocumentSource):
        if isinstance(source.content, str):
            return [{"type": "text", "text": "\n\n".join([*header, source.content])}]
        parts: list[Part] = [{"type": "text", "text": "\n\n".join(header)}] if header else []
        for item in source.content:
            if isinstance(item, TextBlock):
                parts.append({"type": "text", "text": item.text})
            else:
                parts.append(_image_part(item.source))
        return parts
    if isinstance(source, Base64DocumentSource):
        if source.media_type.startswith("text/"):
            return [{"type": "text", "text": "\n\n".join([*header, _b64_text(source.data)])}]
        if not quirks.supports_pdf:
            raise InvalidRequestError("this model cannot read PDF documents")
        filename = block.title or "document.pdf"
        data_url = f"data:{source.media_type};base64,{source.data}"
        return [{"type": "file", "file": {"filename": filename, "file_data": data_url}}]
    if isinstance(source, UrlDocumentSource):
        if not (quirks.supports_pdf and quirks.supports_pdf_url):
            raise InvalidRequestError(
                "document: URL sources are not supported for this model; send the document as base64"
            )
        return [{"type": "file", "file": {"file_id": source.url, "format": "application/pdf"}}]
    raise InvalidRequestError("document: Files API sources (file_id) can only be sent to Anthropic models")


def _b64_text(data: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        raise InvalidRequestError("document.source.data: not valid base64") from None


# ---- tools -----------------------------------------------------------------------------------------


def _tools(tools: list[Tool], quirks: Quirks) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        if tool.is_server_tool:
            mapper = _server_tool_mapper(tool, quirks)
            mapped = mapper(msgspec.structs.asdict(tool)) if mapper else None
            if mapped is not None:
                out.append(mapped)
            continue
        schema: Mapping[str, Any] = tool.input_schema or _EMPTY_SCHEMA
        if quirks.tool_schema_unsupported_keys:
            schema = _strip_keys(schema, quirks.tool_schema_unsupported_keys)
        if quirks.clean_schema is not None:
            schema = quirks.clean_schema(schema)
        function: dict[str, Any] = {"name": tool.name, "parameters": schema}
        if tool.description:
            function["description"] = tool.description
        out.append({"type": "function", "function": function})
    return out


def _server_tool_mapper(tool: Tool, quirks: Quirks) -> ServerToolMapper | None:
    """Server tool types are "<name>_<yyyymmdd>"; the table is keyed by <name>."""
    if not quirks.server_tools or tool.type is None:
        return None
    name, _, version = tool.type.rpartition("_")
    return quirks.server_tools.get(name if version.isdigit() else tool.type)


def _strip_keys(schema: Any, keys: frozenset[str], *, names: bool = False) -> Any:
    """Drop schema keywords in `keys` at every level; `names` marks a `properties` map, whose keys
    are property names (kept whatever they are called)."""
    if isinstance(schema, Mapping):
        return {
            k: _strip_keys(v, keys, names=(k == "properties" and not names))
            for k, v in schema.items()
            if names or k not in keys
        }
    if isinstance(schema, list):
        return [_strip_keys(v, keys) for v in schema]
    return schema


def _tool_choice(req: MessagesRequest, quirks: Quirks, body: dict[str, Any]) -> None:
    choice = req.tool_choice
    if choice is None:
        return
    if isinstance(choice, ToolChoiceAuto):
        body["tool_choice"] = "auto"
    elif isinstance(choice, ToolChoiceAny):
        body["tool_choice"] = "required"
    elif isinstance(choice, ToolChoiceTool):
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif isinstance(choice, ToolChoiceNone):
        body["tool_choice"] = "none"
        return
    if choice.disable_parallel_tool_use and quirks.supports_parallel_tool_calls:
        body["parallel_tool_calls"] = False
