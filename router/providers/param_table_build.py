"""Generate `param_table.json` from the installed LiteLLM: `python -m router.providers.param_table_build`.

For every OpenAI-wire provider (Azure once per listed API version) and every chat model LiteLLM's map
lists for it, ask LiteLLM's mapper (the same call `params.py` makes) what each parameter becomes, one
parameter at a time, then check the parameter-by-parameter composition against LiteLLM's answer for whole
requests; pairs of parameters whose answers interact are recorded, and the router asks LiteLLM for them.
Models with identical answers share one profile. `tests/providers/test_param_table.py` regenerates the
table and fails if it differs from the file shipped, so it cannot drift from the pinned LiteLLM.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Final

from router.providers import params
from router.providers.extra_params import OPENAI_WIRE_BODY_EXTRAS
from router.providers.kinds import KINDS
from router.providers.param_table import TABLE_FILE, VALUE_KEYED, Fragment, compose, plain_unknown_in
from router.providers.runtime import litellm

__all__ = ["build", "main", "rendered"]

# Every parameter name `build_body` can hand to the mapper (translator output and admin extras).
PARAM_NAMES: Final = tuple(
    sorted(
        {
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "user",
            "reasoning_effort",
        }
        | OPENAI_WIRE_BODY_EXTRAS
    )
)
NUMERIC_PROBES: Final = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0, 1.3, 1.5, 2.0)
STRING_VALUES: Final[Mapping[str, tuple[Hashable, ...]]] = {
    "reasoning_effort": ("none", "minimal", "low", "medium", "high", "xhigh", "max"),
    "tool_choice": ("auto", "required", "none"),
    "parallel_tool_calls": (True, False),
}
# Azure API versions the file answers for ("" = none configured); others are asked of LiteLLM.
AZURE_API_VERSIONS: Final = (
    "",
    "2024-10-21",
    "2025-01-01-preview",
    "2025-04-01-preview",
)
# Substrings LiteLLM's name-based classifiers look for (o-series, GPT-5 family, audio/search/codex
# variants, DeepSeek's reasoner): a name containing one is never given the unknown-model profile.
UNKNOWN_MARKERS: Final = (
    "gpt",
    "o1",
    "o3",
    "o4",
    "o5",
    "o_series",
    "codex",
    "search",
    "audio",
    "realtime",
    "reason",
    "deepseek",
    "chatgpt",
    "davinci",
    "babbage",
    "think",
)
# Names LiteLLM does not know, beside the map's own names made unknown, that must get the default profile.
SAMPLE_UNKNOWN: Final = (
    "bench-model",
    "my-model",
    "llama-3.1-70b-instruct",
    "qwen2.5-coder-32b-instruct",
    "mistral-large-custom",
    "claude-sonnet-4-5-internal",
    "gemini-2.5-pro-proxy",
    "local",
    "m",
)
# Parameters the mappers decide on by value or by model family; pairs among the rest are only renamed.
_MAY_INTERACT: Final = VALUE_KEYED | {"max_tokens"}


def _providers() -> list[str]:
    return sorted({info.litellm_provider for info in KINDS.values() if info.path == "openai_wire"})


def _ask(
    provider: str, model: str, api_version: str | None, key: Iterable[tuple[str, Hashable]]
) -> dict[str, Any]:
    """LiteLLM's answer for one key, as `params.plan_for` would ask it, as a comparable mapping."""
    plan = params.plan_with_litellm(provider, model, model, api_version, tuple(sorted(key)))
    return {"renames": sorted(plan.renames), "fixed": sorted(map(list, plan.fixed), key=lambda kv: kv[0])}


def _fragment(provider: str, model: str, api_version: str | None, name: str, value: Hashable) -> Fragment:
    answer = _ask(provider, model, api_version, [(name, value)])
    out: Fragment = [[dst, "from", src] for src, dst in answer["renames"]]
    for out_key, fixed in answer["fixed"]:
        same = value is not None and type(fixed) is type(value) and fixed == value
        out.append([out_key, "value", None] if same else [out_key, "const", fixed])
    return sorted(out, key=lambda entry: entry[0])


def _param_entry(provider: str, model: str, api_version: str | None, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if name not in VALUE_KEYED or name == "tool_choice":  # tool_choice naming a function is not value-keyed
        entry["marker"] = _fragment(provider, model, api_version, name, None)
    if name in ("temperature", "top_p"):
        by_probe = {probe: _fragment(provider, model, api_version, name, probe) for probe in NUMERIC_PROBES}
        counts: dict[str, int] = {}
        for fragment in by_probe.values():
            counts[json.dumps(fragment)] = counts.get(json.dumps(fragment), 0) + 1
        default = json.loads(max(counts, key=lambda text: counts[text]))
        entry["default"] = default
        entry["values"] = {repr(probe): f for probe, f in by_probe.items() if f != default}
    elif name in STRING_VALUES:
        entry["values"] = {
            (json.dumps(value) if isinstance(value, bool) else str(value)): _fragment(
                provider, model, api_version, name, value
            )
            for value in STRING_VALUES[name]
        }
    return entry


def _representatives(profile_params: Mapping[str, Any], name: str) -> list[Hashable]:
    """Values of `name` to try in pairs and whole requests."""
    entry = profile_params[name]
    values: list[Hashable] = []
    if "marker" in entry:
        values.append(None)
    if name in ("temperature", "top_p"):
        # Typical values and the edges (a mapper may test truthiness or a range), and every exception.
        values.extend(dict.fromkeys([0.5, 0.0, 1.0, 2.0, *(float(p) for p in entry["values"])]))
    elif name in STRING_VALUES:
        values.extend(STRING_VALUES[name])  # every one: equal single answers may still interact differently
    return values


def _composed(profile: Mapping[str, Any], key: tuple[tuple[str, Hashable], ...]) -> dict[str, Any] | None:
    found = compose(profile, key)
    if found is None:
        return None
    renames, fixed = found
    return {"renames": sorted(renames), "fixed": sorted(map(list, fixed), key=lambda kv: kv[0])}


def _interactions(
    provider: str, model: str, api_version: str | None, profile: dict[str, Any]
) -> list[list[str]]:
    """Pairs of parameters whose joint answer is not the composition of their single answers."""
    reps = {name: _representatives(profile["params"], name) for name in PARAM_NAMES}
    pairs: list[list[str]] = []
    for first, second in itertools.combinations(PARAM_NAMES, 2):
        if not _MAY_INTERACT & {first, second}:
            continue  # two parameters passed on by name only: the whole-request check covers them
        for a, b in itertools.product(reps[first], reps[second]):
            key = tuple(sorted([(first, a), (second, b)]))
            if _composed(profile, key) != _ask(provider, model, api_version, key):
                pairs.append([first, second])
                break
    return pairs


def _whole_requests(profile: Mapping[str, Any]) -> Iterable[tuple[tuple[str, Hashable], ...]]:
    """Keys with every parameter present, over the value combinations that matter."""
    reps = {name: _representatives(profile["params"], name) for name in PARAM_NAMES}
    for values in itertools.product(*(reps[name] for name in PARAM_NAMES)):
        yield tuple(zip(PARAM_NAMES, values, strict=True))


def _check_whole(provider: str, model: str, api_version: str | None, profile: Mapping[str, Any]) -> None:
    """Composition must hold for whole requests too (no three-way effects); the interacting pairs
    recorded make the router ask LiteLLM, so only keys the file answers are compared."""
    for key in itertools.islice(_whole_requests(profile), 64):
        composed = _composed(profile, key)
        if composed is not None and composed != _ask(provider, model, api_version, key):
            raise AssertionError(f"{provider}/{model}@{api_version}: composed answer differs for {key}")


def _profile(
    provider: str, model: str, api_version: str | None, like: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`like`: the same model's profile under another API version; when the single answers are equal,
    its interacting pairs are taken rather than searched again (the whole-request check still runs)."""
    profile: dict[str, Any] = {
        "params": {name: _param_entry(provider, model, api_version, name) for name in PARAM_NAMES},
        "interacting": [],
    }
    if like is not None and like["params"] == profile["params"]:
        profile["interacting"] = list(like["interacting"])
    else:
        profile["interacting"] = _interactions(provider, model, api_version, profile)
    _check_whole(provider, model, api_version, profile)
    return profile


def _chat_models(cost: Mapping[str, Any], provider: str) -> list[str]:
    names: set[str] = set()
    for key, info in cost.items():
        if not isinstance(info, Mapping) or info.get("mode") not in ("chat", "responses", None):
            continue
        owner = info.get("litellm_provider")
        if owner == provider or (provider == "azure" and owner == "openai"):
            names.add(key.split("/", 1)[1] if key.startswith(f"{owner}/") else key)
    return sorted(name for name in names if "/" not in name)


def _known_names(cost: Mapping[str, Any]) -> list[str]:
    """Every spelling under which the map knows a model (the whole key and each "/"-suffix), kept only
    when it could pass for an unknown name (no "/", no marker)."""
    names: set[str] = set()
    for key in cost:
        parts = key.split("/")
        names.update("/".join(parts[i:]) for i in range(len(parts)))
    return sorted(name for name in names if plain_unknown_in(name, UNKNOWN_MARKERS, frozenset()))


def _sample_unknown(cost: Mapping[str, Any]) -> list[str]:
    """The map's names made unknown ("NAME-custom", "my-NAME"), and a few invented ones."""
    every: set[str] = set()
    for key in cost:
        parts = key.split("/")
        every.update("/".join(parts[i:]) for i in range(len(parts)))
    made = [f"{name}-custom" for name in every] + [f"my-{name}" for name in every] + list(SAMPLE_UNKNOWN)
    known = frozenset(every)
    return sorted({name for name in made if plain_unknown_in(name, UNKNOWN_MARKERS, known)})


def build() -> dict[str, Any]:
    """The table, from the installed LiteLLM."""
    lm = litellm()
    cost: Mapping[str, Any] = lm.model_cost
    profiles: list[dict[str, Any]] = []
    index_of: dict[str, int] = {}

    def intern(profile: dict[str, Any]) -> int:
        text = json.dumps(profile, sort_keys=True)
        if text not in index_of:
            index_of[text] = len(profiles)
            profiles.append(profile)
        return index_of[text]

    unknown_names = _sample_unknown(cost)
    models: dict[str, dict[str, int]] = {}
    unknown: dict[str, int] = {}
    for provider in _providers():
        versions: tuple[str | None, ...] = AZURE_API_VERSIONS if provider == "azure" else (None,)
        first_key = f"azure@{versions[0]}" if provider == "azure" else provider
        for version in versions:
            table_key = f"azure@{version}" if provider == "azure" else provider
            entries = {}
            for model in _chat_models(cost, provider):
                like = profiles[models[first_key][model]] if first_key in models else None
                entries[model] = intern(_profile(provider, model, version, like))
            models[table_key] = entries
            default = _profile(provider, SAMPLE_UNKNOWN[0], version)
            unknown[table_key] = intern(default)
            # A third of the sample names on the first API version, a twentieth on the others.
            sample = unknown_names[::3] if version in (None, AZURE_API_VERSIONS[0]) else unknown_names[::20]
            _check_unknown(provider, version, default, sample)
    return {
        "generated_by": "python -m router.providers.param_table_build",
        "litellm_version": _version(),
        "azure_api_versions": list(AZURE_API_VERSIONS),
        "unknown_markers": list(UNKNOWN_MARKERS),
        "known_names": _known_names(cost),
        "profiles": profiles,
        "models": models,
        "unknown": unknown,
    }


def _check_unknown(
    provider: str, version: str | None, default: Mapping[str, Any], names: Iterable[str]
) -> None:
    """Every name the router would give the unknown-model profile must get exactly it from LiteLLM."""
    wholes = list(itertools.islice(_whole_requests(default), 8))
    for model in names:
        for key in wholes:
            composed = _composed(default, key)
            if composed is not None and composed != _ask(provider, model, version, key):
                raise AssertionError(
                    f"{provider}@{version}: {model!r} is not LiteLLM's unknown model for {key}"
                )


def _version() -> str:
    from importlib.metadata import version

    return version("litellm")


def rendered(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=None, sort_keys=True, separators=(",", ":")) + "\n"


def main() -> int:
    TABLE_FILE.write_text(rendered(build()), encoding="utf-8")
    print(f"wrote {TABLE_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
