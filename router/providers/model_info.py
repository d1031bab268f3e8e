"""Model limits and prices from LiteLLM's model map, looked up once per snapshot build (never per request)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router.providers.kinds import kind_info
from router.providers.runtime import litellm
from router.routing.model import Price

__all__ = ["ModelFacts", "describe_model"]


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """Same field names as `router.store.snapshot.ModelFacts` (providers must not import store)."""

    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    price: Price = field(default_factory=Price)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and value > 0 else 0.0


def _lookup(kind: str, model: str) -> Mapping[str, Any] | None:
    lm = litellm()
    provider = kind_info(kind).litellm_provider
    attempts: list[tuple[str, str | None]] = [(f"{kind}/{model}", None), (model, provider), (model, None)]
    if provider != kind:
        attempts.insert(1, (f"{provider}/{model}", None))
    for name, custom_provider in attempts:
        try:
            info = lm.get_model_info(model=name, custom_llm_provider=custom_provider)
        except Exception:  # LiteLLM raises for models it does not know; try the next spelling
            continue
        if isinstance(info, Mapping):
            return info
    cost = lm.model_cost.get(model)
    return cost if isinstance(cost, Mapping) else None


def describe_model(kind: str, model: str) -> ModelFacts:
    """Limits and USD-per-token prices; unknown models get None limits and zero prices."""
    info = _lookup(kind, model)
    if info is None:
        return ModelFacts()
    max_output = _int(info.get("max_output_tokens")) or _int(info.get("max_tokens"))
    return ModelFacts(
        max_input_tokens=_int(info.get("max_input_tokens")),
        max_output_tokens=max_output,
        price=Price(
            input=_float(info.get("input_cost_per_token")),
            output=_float(info.get("output_cost_per_token")),
            cache_read=_float(info.get("cache_read_input_token_cost")),
            cache_write=_float(info.get("cache_creation_input_token_cost")),
        ),
    )
