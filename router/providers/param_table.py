"""LiteLLM's parameter knowledge for OpenAI-wire targets, read from a file generated from LiteLLM.

`params.py` asks LiteLLM's `map_openai_params` once per (model, parameter set); importing LiteLLM for that
costs seconds of CPU, so the first answer after start-up would wait for it. `param_table.json` holds the
same answers, generated from the pinned LiteLLM by `param_table_build` (`make param-table`) and checked
against it by a test: for each OpenAI-wire provider (and Azure API version) and each model LiteLLM knows,
what each parameter becomes (renamed, dropped, or a fixed value), and one profile for the names it does
not know. Answers are composed parameter by parameter, which the generator proved equal to LiteLLM's for
every pair of parameters; a request the file cannot answer exactly (an unlisted API version, a name that
LiteLLM treats by pattern, a pair that interacts) returns None, and the caller asks LiteLLM.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Final

__all__ = ["TABLE_FILE", "VALUE_KEYED", "compose", "lookup", "plain_unknown", "plain_unknown_in", "table"]

TABLE_FILE: Final = Path(__file__).with_name("param_table.json")
# Parameters whose *value* can change the mapping (params.py keys plans by their value).
VALUE_KEYED: Final = frozenset(
    {"temperature", "top_p", "reasoning_effort", "tool_choice", "parallel_tool_calls"}
)
_NUMERIC: Final = frozenset({"temperature", "top_p"})

# One output entry of a fragment: [name sent upstream, "from" | "value" | "const", payload]
#   from:  the request's parameter named payload, unchanged (its value never looked at)
#   value: the value of the value-keyed parameter itself
#   const: payload, a fixed value decided by the mapping
Fragment = list[list[Any]]


@functools.cache
def table() -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    return data


def plain_unknown_in(name: str, markers: Iterable[str], known: AbstractSet[str]) -> bool:
    """A model name LiteLLM has no entry for and treats by no name pattern (its 'unknown model' profile).

    Conservative: anything containing one of the markers LiteLLM's classifiers look for (and anything
    with a provider prefix) is not plain, and goes to LiteLLM itself.
    """
    lowered = name.lower()
    if not name or "/" in name or any(marker in lowered for marker in markers):
        return False
    return name not in known


def plain_unknown(name: str) -> bool:
    return plain_unknown_in(name, table()["unknown_markers"], _known_names())


@functools.cache
def _known_names() -> frozenset[str]:
    return frozenset(table()["known_names"])


def _table_key(provider: str, api_version: str | None) -> str | None:
    data = table()
    if provider == "azure":
        version = api_version or ""
        return f"azure@{version}" if version in data["azure_api_versions"] else None
    return provider if provider in data["models"] else None


def _fragment(profile: Mapping[str, Any], name: str, value: Hashable) -> Fragment | None:
    entry = profile["params"].get(name)
    if entry is None:
        return None
    if value is None:
        marker: Fragment | None = entry.get("marker")
        return marker
    values: Mapping[str, Fragment] = entry.get("values", {})
    if name in _NUMERIC:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        for probe, fragment in values.items():
            if float(probe) == float(value):
                return fragment
        default: Fragment | None = entry.get("default")
        return default
    if isinstance(value, bool):
        return values.get("true" if value else "false")
    if isinstance(value, str):
        return values.get(value)
    return None


def lookup(
    provider: str,
    model: str,
    base_model: str | None,
    api_version: str | None,
    key: tuple[tuple[str, Hashable], ...],
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, Any], ...]] | None:
    """(renames, fixed) as `params.plan_for` would learn them from LiteLLM, or None when not in the file."""
    data = table()
    table_key = _table_key(provider, api_version)
    if table_key is None:
        return None
    # Azure decides everything on the deployment's model; the others choose the config by `model` and
    # the parameters by `base_model`: the file holds the common case, where both are one name.
    name = base_model or model if provider == "azure" else model
    if provider != "azure" and base_model not in (None, model):
        return None
    index = data["models"][table_key].get(name)
    if index is None:
        if not plain_unknown(name):
            return None
        index = data["unknown"][table_key]
    return compose(data["profiles"][index], key)


def compose(
    profile: Mapping[str, Any], key: tuple[tuple[str, Hashable], ...]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, Any], ...]] | None:
    """The answer for `key` from one profile's single-parameter answers (None: ask LiteLLM)."""
    names = {n for n, _ in key}
    for first, second in profile["interacting"]:
        if first in names and second in names:
            return None
    renames: list[tuple[str, str]] = []
    fixed: list[tuple[str, Any]] = []
    for name_, value in key:
        fragment = _fragment(profile, name_, value)
        if fragment is None:
            return None
        for out_key, kind, payload in fragment:
            if kind == "from":
                renames.append((payload, out_key))
            elif kind == "value":
                fixed.append((out_key, value))
            else:
                fixed.append((out_key, payload))
    return tuple(sorted(renames, key=_second)), tuple(sorted(fixed, key=_first))


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def _second(pair: tuple[str, str]) -> str:
    return pair[1]
