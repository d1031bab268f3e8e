"""GET /v1/models: the Claude model ids a caller's rules route, in Anthropic's list shape.

Claude Code's gateway protocol: list Anthropic-style ids (`claude-{family}-{major}-{minor}`), since the
client's model picker and model-family logic key on that shape; answer 404 when there is nothing to list,
so the client falls back to its built-in list. Claude Code only asks when
`CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY` is set, which a tenant's managed settings can push (`env`).

Rules match patterns, so the candidates are: every exact Anthropic-style name a rule (or the key's
allowlist) names, plus the Claude ids clients commonly send; each is kept only if the resolver routes it
for this caller.
"""

from __future__ import annotations

import re
from typing import Any, Final

from router.routing.errors import RoutingError
from router.routing.model import KeySpec, RequestFacts, TenantSpec
from router.routing.resolve import Resolver, check_key_model

__all__ = ["ANTHROPIC_STYLE_ID", "WELL_KNOWN_MODELS", "display_name", "list_models"]

ANTHROPIC_STYLE_ID: Final = re.compile(r"claude-(?P<family>[a-z]+)-(?P<major>\d{1,2})-(?P<minor>\d{1,2})")

# Ids Claude Code and the SDKs send by default (newest first); an id only shows when a rule routes it.
WELL_KNOWN_MODELS: Final = (
    # The ids Claude Code 2.1.332 itself names (grep of the binary), newest families first.
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-1",
    "claude-opus-4-0",
    "claude-sonnet-4-0",
)

_CREATED_AT = "2025-01-01T00:00:00Z"


def display_name(model_id: str) -> str:
    """`claude-sonnet-4-5` -> `Claude Sonnet 4.5`."""
    found = ANTHROPIC_STYLE_ID.fullmatch(model_id)
    if found is None:
        return model_id
    return f"Claude {found['family'].capitalize()} {found['major']}.{found['minor']}"


def list_models(resolver: Resolver, key: KeySpec, tenant: TenantSpec) -> dict[str, Any] | None:
    """The list, or None when this caller routes no Claude id (the client then uses its own list)."""
    config = resolver.config
    candidates: dict[str, None] = {}
    rules = (*config.tenant_rules.get(tenant.id, ()), *config.global_rules)
    for rule in rules:
        if rule.match_kind == "exact":
            candidates[rule.match] = None
    for pattern in key.allowed_models or ():
        candidates[pattern] = None
    for model_id in WELL_KNOWN_MODELS:
        candidates[model_id] = None
    data = []
    for model_id in candidates:
        if not ANTHROPIC_STYLE_ID.fullmatch(model_id):
            continue
        try:
            check_key_model(key, model_id)
            resolver.resolve(tenant.id, RequestFacts(model=model_id))
        except RoutingError:
            continue
        data.append(
            {
                "type": "model",
                "id": model_id,
                "display_name": display_name(model_id),
                "created_at": _CREATED_AT,
            }
        )
    if not data:
        return None
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
