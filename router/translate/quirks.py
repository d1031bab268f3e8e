"""What each kind of target accepts, in one table instead of provider-name branches in the code.

A `Quirks` value is looked up once per target (`quirks_for(kind)`) and handed to the translation.
Model-level differences (e.g. OpenAI reasoning models wanting `max_completion_tokens` and rejecting
`temperature`) are not here: the provider layer's LiteLLM parameter mapping owns those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from router.translate.schema_clean import clean_schema_for_gemini

__all__ = ["QUIRKS_BY_KIND", "Quirks", "ServerToolMapper", "quirks_for"]

# Turns an Anthropic server tool (its decoded fields as a dict) into an OpenAI-shape tool entry, or
# None to drop it. Keyed in `Quirks.server_tools` by the tool type's prefix ("web_search", "bash"...).
ServerToolMapper = Callable[[Mapping[str, Any]], dict[str, Any] | None]

_NO_SERVER_TOOLS: Final[Mapping[str, ServerToolMapper]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Quirks:
    kind: str
    # Can read {"type": "file", "file": {"file_data": "data:application/pdf;base64,..."}} parts.
    supports_pdf: bool = True
    # Can take a document URL as {"type": "file", "file": {"file_id": "<url>"}} (LiteLLM's Gemini path).
    supports_pdf_url: bool = False
    supports_reasoning_effort: bool = True
    supports_parallel_tool_calls: bool = True
    supports_top_k: bool = False
    supports_user: bool = True
    max_user_length: int = 64
    supports_stream_options: bool = True
    # False: role "system" entries inside the conversation become user messages.
    supports_mid_conversation_system: bool = True
    # True: a user message made only of text parts is sent as one string (for servers that reject lists).
    flatten_text_parts: bool = False
    clean_schema: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    # JSON-Schema keys removed from tool schemas (recursively) before `clean_schema` runs.
    tool_schema_unsupported_keys: frozenset[str] = frozenset()
    server_tools: Mapping[str, ServerToolMapper] = field(default_factory=lambda: _NO_SERVER_TOOLS)


_OPENAI: Final = Quirks(kind="openai")

QUIRKS_BY_KIND: Final[Mapping[str, Quirks]] = MappingProxyType(
    {
        "openai": _OPENAI,
        "azure": Quirks(kind="azure"),
        "gemini": Quirks(
            kind="gemini",
            supports_pdf_url=True,
            supports_top_k=True,
            supports_user=False,
            supports_parallel_tool_calls=False,
            clean_schema=clean_schema_for_gemini,
        ),
        # Used only when an Anthropic model is reached through the OpenAI shape (LiteLLM), not natively.
        "anthropic": Quirks(
            kind="anthropic",
            supports_pdf_url=True,
            supports_top_k=True,
            supports_user=False,
        ),
        # Any other LiteLLM provider or OpenAI-compatible server: assume the conservative common subset.
        "default": Quirks(
            kind="default",
            supports_pdf=False,
            supports_reasoning_effort=True,
            supports_user=False,
            supports_stream_options=True,
        ),
    }
)

# LiteLLM provider strings that share another kind's quirks.
_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "vertex_ai": "gemini",
        "vertex_ai_beta": "gemini",
        "google": "gemini",
        "azure_openai": "azure",
        "text-completion-openai": "openai",
    }
)


def quirks_for(kind: str) -> Quirks:
    """The quirks for a provider kind (or LiteLLM provider string); unknown kinds get "default"."""
    found = QUIRKS_BY_KIND.get(kind)
    if found is not None:
        return found
    alias = _ALIASES.get(kind)
    return QUIRKS_BY_KIND[alias] if alias else QUIRKS_BY_KIND["default"]
