"""What an Anthropic request's messages hold, as msgspec Structs: the message, its content blocks (a
tagged union on `"type"`) and their image and document sources. Unknown fields are ignored; fields we do
not interpret but must not lose for native Anthropic targets are kept raw (`Any`).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "Base64DocumentSource",
    "Base64ImageSource",
    "ContentBlock",
    "ContentDocumentSource",
    "DocumentBlock",
    "DocumentSource",
    "FileSource",
    "ImageBlock",
    "ImageSource",
    "Message",
    "RedactedThinkingBlock",
    "ServerToolUseBlock",
    "TextBlock",
    "TextDocumentSource",
    "ThinkingBlock",
    "ToolResultBlock",
    "ToolResultContent",
    "ToolUseBlock",
    "UrlDocumentSource",
    "UrlImageSource",
    "WebSearchToolResultBlock",
    "WireStruct",
]


class WireStruct(msgspec.Struct, omit_defaults=True, kw_only=True, gc=False):
    """The base of every request type. A decoded request is a tree (no cycles), so its nodes need not be
    tracked by the cyclic GC: a Claude Code request has thousands of them, and tracking them made
    collections walk each one."""


# ---- sources ---------------------------------------------------------------------------------------


class Base64ImageSource(WireStruct, tag="base64", tag_field="type"):
    media_type: str
    data: str


class UrlImageSource(WireStruct, tag="url", tag_field="type"):
    url: str


class FileSource(WireStruct, tag="file", tag_field="type"):
    """A reference into Anthropic's Files API: only an Anthropic target can resolve it."""

    file_id: str


ImageSource = Base64ImageSource | UrlImageSource | FileSource


class Base64DocumentSource(WireStruct, tag="base64", tag_field="type"):
    media_type: str
    data: str


class TextDocumentSource(WireStruct, tag="text", tag_field="type"):
    data: str
    media_type: str = "text/plain"


class UrlDocumentSource(WireStruct, tag="url", tag_field="type"):
    url: str


# ---- content blocks --------------------------------------------------------------------------------


class TextBlock(WireStruct, tag="text", tag_field="type"):
    text: str
    cache_control: dict[str, Any] | None = None
    citations: list[Any] | None = None


class ImageBlock(WireStruct, tag="image", tag_field="type"):
    source: ImageSource
    cache_control: dict[str, Any] | None = None


class ContentDocumentSource(WireStruct, tag="content", tag_field="type"):
    content: str | list[TextBlock | ImageBlock]


DocumentSource = (
    Base64DocumentSource | TextDocumentSource | UrlDocumentSource | ContentDocumentSource | FileSource
)


class DocumentBlock(WireStruct, tag="document", tag_field="type"):
    source: DocumentSource
    title: str | None = None
    context: str | None = None
    citations: Any | None = None
    cache_control: dict[str, Any] | None = None


class ToolUseBlock(WireStruct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: dict[str, Any]
    cache_control: dict[str, Any] | None = None


ToolResultContent = TextBlock | ImageBlock | DocumentBlock


class ToolResultBlock(WireStruct, tag="tool_result", tag_field="type"):
    tool_use_id: str
    content: str | list[ToolResultContent] | None = None
    is_error: bool | None = None
    cache_control: dict[str, Any] | None = None


class ThinkingBlock(WireStruct, tag="thinking", tag_field="type"):
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(WireStruct, tag="redacted_thinking", tag_field="type"):
    data: str


class ServerToolUseBlock(WireStruct, tag="server_tool_use", tag_field="type"):
    """A server tool call (e.g. web_search) made by an Anthropic model; kept raw."""

    id: str
    name: str
    input: Any = None
    cache_control: dict[str, Any] | None = None


class WebSearchToolResultBlock(WireStruct, tag="web_search_tool_result", tag_field="type"):
    tool_use_id: str
    content: Any = None
    cache_control: dict[str, Any] | None = None


ContentBlock = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ServerToolUseBlock
    | WebSearchToolResultBlock
)


class Message(WireStruct):
    # "system" is not in Anthropic's public schema, but Claude Code sends such entries in long
    # sessions and Anthropic accepts them, so we do too.
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]
