"""The one table: which path serves a provider kind, and what that path needs to know about it.

Nothing else in the package branches on a provider name. A kind not listed here goes through
`litellm.acompletion` as "<kind>/<model>", so every LiteLLM provider string works without code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["KINDS", "KindInfo", "Path", "api_base_for", "kind_info"]

Path = Literal["openai_wire", "anthropic", "litellm"]


@dataclass(frozen=True, slots=True)
class KindInfo:
    path: Path
    # LiteLLM's provider name: whose parameter knowledge (and model map) applies.
    litellm_provider: str
    # Base URL when the provider spec has none (None: the admin must set one).
    default_base: str | None = None
    # How the credential travels on our own session: "bearer" (Authorization), "api-key" (Azure),
    # "x-api-key" (Anthropic).
    auth: Literal["bearer", "api-key", "x-api-key"] = "bearer"
    # Azure: /openai/deployments/{deployment}/chat/completions?api-version=...
    deployment_url: bool = False
    # LiteLLM path: the provider takes Anthropic's `thinking={"type":"enabled","budget_tokens":N}`
    # (so the client's budget survives) rather than a coarse reasoning_effort.
    thinking_budget: bool = False
    # The API version path the upstream's URLs start with, added to a base URL given without one
    # (Gemini: "https://generativelanguage.googleapis.com" means ".../v1beta").
    version_path: str | None = None


_OPENAI_COMPATIBLE: Final = KindInfo("openai_wire", "openai")

KINDS: Final[dict[str, KindInfo]] = {
    "openai": KindInfo("openai_wire", "openai", default_base="https://api.openai.com/v1"),
    "azure": KindInfo("openai_wire", "azure", auth="api-key", deployment_url=True),
    "openai_compatible": _OPENAI_COMPATIBLE,
    "openai-compatible": _OPENAI_COMPATIBLE,
    "custom_openai": _OPENAI_COMPATIBLE,
    "deepseek": KindInfo("openai_wire", "deepseek", default_base="https://api.deepseek.com/v1"),
    "anthropic": KindInfo(
        "anthropic", "anthropic", default_base="https://api.anthropic.com", auth="x-api-key"
    ),
    "gemini": KindInfo("litellm", "gemini", thinking_budget=True, version_path="/v1beta"),
    "vertex_ai": KindInfo("litellm", "vertex_ai", thinking_budget=True),
    "bedrock": KindInfo("litellm", "bedrock", thinking_budget=True),
}


def kind_info(kind: str) -> KindInfo:
    """The table entry for `kind`; unknown kinds are LiteLLM providers of that name."""
    info = KINDS.get(kind)
    if info is not None:
        return info
    return KindInfo("litellm", kind)


# A path that already ends in an API version: /v1, /v1beta, /v1alpha, /v2beta3 (optionally then /models).
_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")


def api_base_for(kind: str, api_base: str | None) -> str | None:
    """The base URL to call for `kind`: as given, with the kind's version path added when it has none.

    Operators paste either a provider's host or its versioned base; both must work, neither doubled.
    """
    version = kind_info(kind).version_path
    if api_base is None or version is None:
        return api_base
    base = api_base.rstrip("/")
    if base.endswith("/models"):
        base = base[: -len("/models")]
    return base if _VERSIONED.search(base) else base + version
