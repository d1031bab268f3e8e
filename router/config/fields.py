"""Checks of single fields, shared by every entity's validator (validate/) and by the forms that show a
field's problem next to it: names, target refs, provider kinds, outgoing URLs, extra parameters, model
patterns, rule overrides, managed settings. Each returns the problem as a sentence, or None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from router.config.drafts import TargetRef
from router.config.lengths import API_BASE_CHARS, KIND_CHARS, NAME_CHARS, TARGET_CHARS, length_error
from router.config.provider_kinds import KNOWN_KINDS
from router.routing.errors import RuleError
from router.routing.patterns import compile_pattern

NAME_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_CHARS - 1}}}")
KIND_RE = re.compile(rf"[a-z0-9_-]{{1,{KIND_CHARS}}}")
# Target refs are "PROVIDER/MODEL", "deployment/NAME", "pool/NAME"; "chain/NAME" names a chain in messages.
RESERVED_PROVIDER_NAMES = frozenset({"deployment", "chain", "pool"})
OVERRIDE_KEYS = ("max_tokens", "temperature", "reasoning_effort")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
# Query parameters and extra_params keys that would hold a credential in clear.
_SECRETISH = re.compile(r"key|token|secret|password|passwd|auth|credential|sig", re.IGNORECASE)
# A managed settings document is pushed to every laptop of a tenant: keep it a sane size.
MAX_MANAGED_SETTINGS_BYTES = 64 * 1024


def managed_settings_error(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "must be a mapping of Claude Code settings (e.g. {model: ..., env: {...}})"
    try:
        size = len(json.dumps(value, separators=(",", ":")))
    except (TypeError, ValueError):
        return "must hold only JSON values"
    if size > MAX_MANAGED_SETTINGS_BYTES:
        return f"is {size} bytes as JSON; at most {MAX_MANAGED_SETTINGS_BYTES}"
    return None


def parse_target_ref(ref: str) -> TargetRef:
    """ValueError unless `ref` is `PROVIDER/MODEL` or `deployment/NAME` (the model may itself contain '/')."""
    head, sep, rest = ref.partition("/")
    if not sep or not head or not rest or ref != ref.strip():
        raise ValueError(f"target {ref!r} must be PROVIDER/MODEL or deployment/NAME")
    if head == "chain":
        raise ValueError(f"{ref!r} names a chain, not a target")
    if head == "deployment":
        return TargetRef(ref, None, None, rest)
    if head == "pool":
        return TargetRef(ref, None, None, None, rest)
    return TargetRef(ref, head, rest, None)


def target_ref_error(
    ref: str, providers: Iterable[str], deployments: Iterable[str], pools: Iterable[str] | None = None
) -> str | None:
    """Why `ref` cannot be routed to with these provider, deployment and pool names (None if it can).

    `pools=None`: a pool is not acceptable here (a pool's own members must be targets)."""
    if (too_long := length_error(ref, TARGET_CHARS)) is not None:
        return too_long
    try:
        parsed = parse_target_ref(ref)
    except ValueError as exc:
        return str(exc)
    if parsed.pool is not None:
        if pools is None:
            return f"{ref!r} is a pool: a pool's members must be targets"
        if parsed.pool not in set(pools):
            return f"unknown pool {parsed.pool!r} in {ref!r}"
        return None
    if parsed.deployment is not None:
        if parsed.deployment not in set(deployments):
            return f"unknown deployment {parsed.deployment!r} in {ref!r}"
    elif parsed.provider not in set(providers):
        return f"unknown provider {parsed.provider!r} in {ref!r}"
    return None


def name_error(name: str, what: str = "name") -> str | None:
    if isinstance(name, str) and len(name) > NAME_CHARS:
        # Not repeated: it may be any length.
        return f"{what} must be at most {NAME_CHARS} characters"
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        return (
            f"{what} {name!r} must be 1-{NAME_CHARS} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return None


def provider_kind_error(kind: str) -> str | None:
    if not isinstance(kind, str) or not KIND_RE.fullmatch(kind) or kind not in KNOWN_KINDS:
        return (
            f"unknown provider kind {kind!r}: use openai, azure, gemini, anthropic, openai_compatible "
            "or a LiteLLM provider name (e.g. bedrock, vertex_ai, mistral)"
        )
    return None


def deployment_provider_error(provider: str, kind: str) -> str | None:
    """Deployments are Azure OpenAI deployments: their provider must be of kind azure."""
    if kind != "azure":
        return f"provider {provider!r} is of kind {kind!r}; a deployment needs an azure provider"
    return None


def http_url_error(url: str, *, credential_hint: str) -> str | None:
    """What every URL the router calls out to must be (a provider's api_base, an alert's webhook): it parses,
    http(s), a host, no spaces or control characters (urlsplit silently drops tabs and newlines, so a URL
    with them would pass as another one), no user:password@, no #fragment. `credential_hint` says where a
    credential goes instead of the URL's user:password@ (e.g. "set the provider's api_key instead").

    Messages name at most the scheme, never the rest of the URL (nor urlsplit's own message, which can quote
    the netloc): a refused URL's user info, path or query may be a credential."""
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return f"must be an http:// or https:// URL, not {parts.scheme or 'a URL without a scheme'}:"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return f"must not contain a user name or password ({credential_hint})"
    if parts.fragment:
        return "must not have a #fragment"
    return None


def api_base_error(url: str | None) -> str | None:
    """An http(s) URL (http_url_error) with no credential in the query string."""
    if url is None:
        return None
    if (too_long := length_error(url, API_BASE_CHARS)) is not None:
        return too_long
    problem = http_url_error(url, credential_hint="set the provider's api_key instead")
    if problem is not None:
        return problem
    for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if _SECRETISH.search(name):
            return f"must not carry a credential in the query string ({name!r}); set api_key instead"
    return None


# extra_params keys that would duplicate a provider's own fields (the providers layer ignores them anyway).
_FIELD_KEYS = frozenset({"api_key", "api_base", "base_url", "key", "custom_llm_provider"})
# Keys inside extra_params whose values are secrets (Bedrock and Vertex credentials...): never exported.
SECRET_PARAM = re.compile(
    r"secret|credential|password|passwd|access_key|api[-_]?key|(^|_)token$", re.IGNORECASE
)
# Names nested inside extra_params (headers under extra_headers, option objects): any that would carry a
# credential, e.g. `X-Portkey-Api-Key`, `X-Auth-Token`, `Cookie`. Wider than SECRET_PARAM, whose top-level
# keys include harmless ones such as `prompt_cache_key`.
NESTED_SECRET_PARAM = re.compile(
    r"key|token|secret|password|passwd|auth|credential|signature|cookie|session", re.IGNORECASE
)
_SECRET_PROBLEM = "a secret: put it in the provider's api_key as a JSON object (stored encrypted)"


def is_secret_param(name: str, *, nested: bool) -> bool:
    """Whether an extra_params key names a secret (at the top level, or nested inside a mapping)."""
    return bool((NESTED_SECRET_PARAM if nested else SECRET_PARAM).search(name))


def extra_params_errors(params: Any) -> list[tuple[str, str]]:
    if not isinstance(params, Mapping):
        return [("", "must be a mapping")]
    problems: list[tuple[str, str]] = []
    for k, value in params.items():
        name = str(k)
        if name.lower() in _FIELD_KEYS:
            problems.append((name, "set the provider's own api_key / api_base instead"))
        elif is_secret_param(name, nested=False):
            # extra_params are stored in clear; the credential field is encrypted at rest.
            problems.append((name, _SECRET_PROBLEM))
        else:
            problems.extend(_nested_secrets(value, name))
    return problems


def _nested_secrets(value: Any, path: str) -> list[tuple[str, str]]:
    """Secrets at any depth below a top-level key: mapping keys that name one, in mappings and lists."""
    problems: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for k, inner in value.items():
            where = f"{path}.{k}"
            if is_secret_param(str(k), nested=True) and inner not in (None, ""):
                problems.append((where, _SECRET_PROBLEM))
            else:
                problems.extend(_nested_secrets(inner, where))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            problems.extend(_nested_secrets(inner, f"{path}.{index}"))
    return problems


def pattern_error(match: str, kind: str) -> str | None:
    if not isinstance(match, str) or not match:
        return "must not be empty"
    try:
        compile_pattern(match, kind)
    except RuleError as exc:
        return exc.message
    return None


def override_errors(overrides: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key, value in overrides.items():
        if key not in OVERRIDE_KEYS:
            problems.append(
                (str(key), f"unknown override {key!r} (expected one of {', '.join(OVERRIDE_KEYS)})")
            )
        elif value is None:
            continue
        elif key == "max_tokens" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append((key, f"must be a whole number >= 1, not {value!r}"))
        elif key == "temperature" and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2
        ):
            problems.append((key, f"must be a number from 0 to 2, not {value!r}"))
        elif key == "reasoning_effort" and value not in REASONING_EFFORTS:
            problems.append((key, f"must be one of {', '.join(REASONING_EFFORTS)}, not {value!r}"))
    return problems
