"""LiteLLM's knowledge of which chat-completions parameters a model takes, learned once and replayed.

Until LiteLLM is loaded (seconds after start-up, in a background thread) the answers come from
`param_table.json`, generated from LiteLLM and tested equal to it; a question the file cannot answer
raises `NeedsLiteLLM`, and the caller waits for LiteLLM and asks again.

`map_openai_params` (max_tokens -> max_completion_tokens for o-series / gpt-5, temperature dropped for
reasoning models, reasoning_effort support, Azure api-version rules) is too slow to run per request,
but its answer depends only on the model, the parameter *names*, and the values of a few parameters
(temperature, top_p, reasoning_effort, tool_choice, parallel_tool_calls). So we ask it once per such key
with marker objects standing in for the other values, and record where each marker came out: a `ParamPlan`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from router.providers import param_table, runtime

__all__ = ["NeedsLiteLLM", "ParamPlan", "map_params", "plan_for", "plan_with_litellm"]

log = logging.getLogger(__name__)

# Never given to the mapper: the request's skeleton, which we set ourselves.
_SKELETON: Final = frozenset({"model", "messages", "stream", "stream_options"})


class NeedsLiteLLM(Exception):
    """The shipped table cannot answer this mapping and LiteLLM is not loaded yet."""


class _Marker:
    """Stands in for a parameter value whose content does not affect the mapping."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


@dataclass(frozen=True, slots=True)
class ParamPlan:
    # (name in our body, name the upstream wants)
    renames: tuple[tuple[str, str], ...]
    # output parameters with a value decided by the mapping (value-keyed inputs, normalized)
    fixed: tuple[tuple[str, Any], ...]

    def apply(self, body: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: body[k] for k in _SKELETON if k in body}
        for src, dst in self.renames:
            out[dst] = body[src]
        for key, value in self.fixed:
            out[key] = value
        return out


def _key_part(name: str, value: Any) -> tuple[str, Hashable]:
    if name in param_table.VALUE_KEYED and isinstance(value, (str, int, float, bool)):
        return (name, value)
    return (name, None)


def map_params(
    body: Mapping[str, Any],
    *,
    litellm_provider: str,
    model: str,
    base_model: str | None,
    api_version: str | None,
) -> dict[str, Any]:
    """`body` (a chat-completions request) with its parameters mapped for this provider and model."""
    key = tuple(sorted(_key_part(k, v) for k, v in body.items() if k not in _SKELETON))
    plan = plan_for(litellm_provider, model, base_model, api_version, key)
    return plan.apply(body)


@lru_cache(maxsize=4096)
def plan_for(
    litellm_provider: str,
    model: str,
    base_model: str | None,
    api_version: str | None,
    key: tuple[tuple[str, Hashable], ...],
) -> ParamPlan:
    """The plan for one (model, parameter set): from the shipped table while LiteLLM is not loaded."""
    if not runtime.loaded():
        found = param_table.lookup(litellm_provider, model, base_model, api_version, key)
        if found is None:
            raise NeedsLiteLLM(f"{litellm_provider}/{model}")
        return ParamPlan(renames=found[0], fixed=found[1])
    return plan_with_litellm(litellm_provider, model, base_model, api_version, key)


def plan_with_litellm(
    litellm_provider: str,
    model: str,
    base_model: str | None,
    api_version: str | None,
    key: tuple[tuple[str, Hashable], ...],
) -> ParamPlan:
    """LiteLLM's answer (imports it); renames ordered by target name, fixed values by name."""
    params: dict[str, Any] = {name: (value if value is not None else _Marker(name)) for name, value in key}
    try:
        mapped = _ask_litellm(litellm_provider, model, base_model, api_version, dict(params))
    except Exception:  # unknown provider config, or a mapper that inspected a marker: send as given
        log.debug(
            "no LiteLLM param mapping for %s/%s; parameters pass unchanged",
            litellm_provider,
            model,
            exc_info=True,
        )
        return ParamPlan(renames=tuple(sorted((name, name) for name, _ in key)), fixed=())
    renames: list[tuple[str, str]] = []
    fixed: list[tuple[str, Any]] = []
    for out_key, value in mapped.items():
        if isinstance(value, _Marker):
            renames.append((value.name, out_key))
        elif out_key not in _SKELETON:
            fixed.append((out_key, value))
    return ParamPlan(
        renames=tuple(sorted(renames, key=lambda pair: pair[1])),
        fixed=tuple(sorted(fixed, key=lambda kv: kv[0])),
    )


def _ask_litellm(
    litellm_provider: str, model: str, base_model: str | None, api_version: str | None, params: dict[str, Any]
) -> dict[str, Any]:
    lm = runtime.litellm()
    provider = lm.LlmProviders(litellm_provider)
    config = lm.ProviderConfigManager.get_provider_chat_config(
        model=model, provider=provider, base_model=base_model if base_model != model else None
    )
    if config is None:
        raise LookupError(f"LiteLLM has no chat config for {litellm_provider}")
    kwargs: dict[str, Any] = {
        "non_default_params": params,
        "optional_params": {},
        "model": base_model or model,
        "drop_params": True,
    }
    if _takes_api_version(type(config)):
        # Azure's mapper decides tool_choice support by api-version.
        kwargs["api_version"] = api_version or ""
    result: dict[str, Any] = config.map_openai_params(**kwargs)
    return result


_TAKES_API_VERSION: dict[type[Any], bool] = {}


def _takes_api_version(config_type: type[Any]) -> bool:
    """Azure's mapper decides tool_choice support by api-version (inspect.signature is slow: once a type)."""
    takes = _TAKES_API_VERSION.get(config_type)
    if takes is None:
        takes = "api_version" in inspect.signature(config_type.map_openai_params).parameters
        _TAKES_API_VERSION[config_type] = takes
    return takes
