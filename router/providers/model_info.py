"""Model limits and prices from LiteLLM's model map, looked up once per snapshot build (never per request).

The map is read from the JSON file LiteLLM ships, without importing LiteLLM (seconds and ~170 MB), so that
the first routing snapshot is ready long before LiteLLM is; with ROUTER_LITELLM_REMOTE_COST_MAP the map is
LiteLLM's own (fetched by it at import).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import msgspec.structs

from router.providers import runtime
from router.providers.kinds import kind_info
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


COST_MAP_FILE = "model_prices_and_context_window_backup.json"


class _Entry(msgspec.Struct):
    """The fields we read of one cost-map entry; decoding skips the rest without building it."""

    max_input_tokens: Any = None
    max_output_tokens: Any = None
    max_tokens: Any = None
    input_cost_per_token: Any = None
    output_cost_per_token: Any = None
    cache_read_input_token_cost: Any = None
    cache_creation_input_token_cost: Any = None


@functools.cache
def _shipped_cost_map() -> Mapping[str, Any]:
    """LiteLLM's packaged cost map (only the fields we read), located without importing the package."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    try:
        raw = (Path(spec.origin).parent / COST_MAP_FILE).read_bytes()
        entries = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except (OSError, msgspec.DecodeError):
        return {}
    out: dict[str, Any] = {}
    for name, value in entries.items():
        try:
            out[name] = msgspec.json.decode(value, type=_Entry)
        except msgspec.DecodeError:  # not an object (the file's documentation entry may be anything)
            continue
    return out


def _cost_map() -> Mapping[str, Any]:
    if runtime.remote_cost_map() or runtime.loaded():
        # LiteLLM's own map once it is in (fetched, when opted in): one copy in memory, not two.
        _shipped_cost_map.cache_clear()
        cost = runtime.litellm().model_cost
        return cost if isinstance(cost, Mapping) else {}
    return _shipped_cost_map()


def _lookup(kind: str, model: str) -> Mapping[str, Any] | None:
    """The map's entry under the spellings LiteLLM uses: `kind/model`, `provider/model`, then `model`."""
    cost = _cost_map()
    provider = kind_info(kind).litellm_provider
    for name in dict.fromkeys((f"{kind}/{model}", f"{provider}/{model}", model)):
        info = cost.get(name)
        if isinstance(info, _Entry):
            return msgspec.structs.asdict(info)
        if isinstance(info, Mapping):
            return info
    return None


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
