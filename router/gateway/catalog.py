"""GET /v1/models: the model names a key may ask for, in Anthropic's list shape.

Rules match patterns, so the list is: every exact name a rule matches, plus the Claude model names clients
commonly send (Claude Code's defaults among them), each kept only if the resolver routes it for this key.
"""

from __future__ import annotations

from typing import Any

from router.routing.errors import RoutingError
from router.routing.model import KeySpec, RequestFacts, TenantSpec
from router.routing.resolve import Resolver, check_key_model

# Names Claude Code and the SDKs send by default; a name only shows when a rule routes it.
WELL_KNOWN_MODELS: tuple[tuple[str, str], ...] = (
    ("claude-opus-5-5", "Claude Opus 5.5"),
    ("claude-sonnet-5-5", "Claude Sonnet 5.5"),
    ("claude-haiku-5-5", "Claude Haiku 5.5"),
    ("claude-opus-4-5", "Claude Opus 4.5"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5"),
    ("claude-haiku-4-5", "Claude Haiku 4.5"),
    ("claude-opus-4-1", "Claude Opus 4.1"),
    ("claude-opus-4-20250514", "Claude Opus 4"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4"),
    ("claude-3-7-sonnet-latest", "Claude Sonnet 3.7"),
    ("claude-3-5-haiku-latest", "Claude Haiku 3.5"),
)

_CREATED_AT = "2025-01-01T00:00:00Z"


def list_models(resolver: Resolver, key: KeySpec, tenant: TenantSpec) -> dict[str, Any]:
    config = resolver.config
    names: dict[str, str] = {}
    rules = (*config.tenant_rules.get(tenant.id, ()), *config.global_rules)
    for rule in rules:
        if rule.match_kind == "exact":
            names.setdefault(rule.match, rule.match)
    for pattern in key.allowed_models or ():
        if not any(ch in pattern for ch in "*?["):
            names.setdefault(pattern, pattern)
    for model_id, display in WELL_KNOWN_MODELS:
        names.setdefault(model_id, display)
    data = []
    for model_id, display in names.items():
        try:
            check_key_model(key, model_id)
            resolver.resolve(tenant.id, RequestFacts(model=model_id))
        except RoutingError:
            continue
        data.append({"type": "model", "id": model_id, "display_name": display, "created_at": _CREATED_AT})
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
