"""Coming from claude-code-proxy: its environment variables turned into providers and rules, once.

On first start with an empty database (no providers and no rules), the variables claude-code-proxy read
become the equivalent configuration, so `router serve` in the same shell behaves like the proxy did:

- a provider for each key present: OPENAI_API_KEY (+ OPENAI_BASE_URL), GEMINI_API_KEY, ANTHROPIC_API_KEY,
  AZURE_API_KEY (+ AZURE_API_BASE, AZURE_API_VERSION; skipped without a base URL);
- global rules: `*haiku*` -> SMALL_MODEL, `*sonnet*` and `*opus*` -> BIG_MODEL on PREFERRED_PROVIDER
  (openai, the default | google | anthropic). When the preferred provider is not OpenAI and an OpenAI key is
  present, the rules point at fallback chains: preferred first, then openai/gpt-4.1 (openai/gpt-4.1-mini for
  the small model).
- Defaults: BIG_MODEL gpt-4.1 and SMALL_MODEL gpt-4.1-mini on OpenAI; with google, gemini-2.5-pro and
  gemini-2.5-flash unless set. claude-code-proxy passed names through unchanged for anthropic; a rule target
  is fixed, so with anthropic each family goes to its current model unless BIG_MODEL/SMALL_MODEL are set.

The caller passes the environment (the app's start-up, the one sanctioned reader of os.environ).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.rules import written_rule
from router.store.catalog import CatalogError, create_chain, create_provider, create_rule
from router.store.crypto import CredentialCipher
from router.store.models import Provider, Rule

ACTOR = "claude-code-proxy import"
DESCRIPTION = "imported from claude-code-proxy's environment"
OPENAI_FALLBACK = {"big": "gpt-4.1", "small": "gpt-4.1-mini"}
DEFAULTS: dict[str, dict[str, str]] = {
    "openai": {"big": "gpt-4.1", "small": "gpt-4.1-mini"},
    "gemini": {"big": "gemini-2.5-pro", "small": "gemini-2.5-flash"},
    "anthropic": {"big": "claude-sonnet-4-20250514", "small": "claude-3-5-haiku-latest"},
}
# Claude families -> which size they map to; anthropic keeps opus on an opus model unless BIG_MODEL is set.
FAMILIES = (("*haiku*", "small"), ("*sonnet*", "big"), ("*opus*", "big"))
ANTHROPIC_OPUS = "claude-opus-4-1-20250805"
PREFERRED = {"openai": "openai", "google": "gemini", "gemini": "gemini", "anthropic": "anthropic"}


@dataclass(frozen=True, slots=True)
class _ProviderEnv:
    name: str
    kind: str
    key_var: str
    api_base: str | None = None
    api_version: str | None = None


def _providers_from(env: Mapping[str, str]) -> list[_ProviderEnv]:
    found: list[_ProviderEnv] = []
    if env.get("OPENAI_API_KEY"):
        found.append(_ProviderEnv("openai", "openai", "OPENAI_API_KEY", env.get("OPENAI_BASE_URL") or None))
    if env.get("GEMINI_API_KEY"):
        found.append(_ProviderEnv("gemini", "gemini", "GEMINI_API_KEY"))
    if env.get("ANTHROPIC_API_KEY"):
        found.append(_ProviderEnv("anthropic", "anthropic", "ANTHROPIC_API_KEY"))
    if env.get("AZURE_API_KEY"):
        found.append(
            _ProviderEnv(
                "azure",
                "azure",
                "AZURE_API_KEY",
                env.get("AZURE_API_BASE") or None,
                env.get("AZURE_API_VERSION"),
            )
        )
    return found


async def _database_is_empty(session: AsyncSession) -> bool:
    providers = await session.scalar(select(func.count()).select_from(Provider))
    rules = await session.scalar(select(func.count()).select_from(Rule))
    return not providers and not rules


async def import_legacy_env(
    session: AsyncSession, env: Mapping[str, str], cipher: CredentialCipher
) -> list[str]:
    """Create providers and rules from claude-code-proxy's variables; the lines to log (empty: nothing done).

    Does nothing unless the database has no providers and no rules and at least one API key is set.
    Runs in the caller's transaction (the caller commits).
    """
    wanted = _providers_from(env)
    if not wanted or not await _database_is_empty(session):
        return []
    lines = ["empty database and claude-code-proxy variables found: importing them"]
    created: set[str] = set()
    for p in wanted:
        if p.kind == "azure" and not p.api_base:
            lines.append("skipped provider azure: AZURE_API_KEY is set but AZURE_API_BASE is not")
            continue
        try:
            await create_provider(
                session,
                cipher=cipher,
                name=p.name,
                kind=p.kind,
                api_base=p.api_base,
                api_version=p.api_version,
                api_key=env[p.key_var],
                credential_ref=p.key_var,
                actor=ACTOR,
            )
        except CatalogError as exc:
            lines.append(f"skipped provider {p.name}: {exc}")
            continue
        created.add(p.name)
        lines.append(f"+ provider {p.name} ({p.kind}, key from {p.key_var})")

    asked = (env.get("PREFERRED_PROVIDER") or "openai").strip().lower()
    preferred = PREFERRED.get(asked)
    if preferred is None:
        lines.append(f"PREFERRED_PROVIDER={asked!r} is not openai, google or anthropic: using openai")
        preferred = "openai"
    if preferred not in created:
        fallback = (
            "openai"
            if "openai" in created
            else next((n for n in ("gemini", "anthropic") if n in created), None)
        )
        if fallback is None:
            lines.append(
                "no OpenAI, Gemini or Anthropic provider: no rules created; add them in the admin page"
            )
            return lines
        lines.append(f"no {preferred} provider (its API key is not set): rules go to {fallback}")
        preferred = fallback

    models = {
        size: env.get(var) or DEFAULTS[preferred][size]
        for size, var in (("big", "BIG_MODEL"), ("small", "SMALL_MODEL"))
    }
    chains: dict[str, str] = {}  # preferred model -> its fallback chain
    for pattern, size in FAMILIES:
        model = models[size]
        if preferred == "anthropic" and pattern == "*opus*" and not env.get("BIG_MODEL"):
            model = ANTHROPIC_OPUS
        target = f"{preferred}/{model}"
        if preferred == "openai" or "openai" not in created:
            await create_rule(
                session, written_rule(pattern, target=target, description=DESCRIPTION), actor=ACTOR
            )
            lines.append(f"+ rule {pattern} -> {target}")
            continue
        if model not in chains:
            name = f"legacy-{pattern.strip('*')}"
            targets = [target, f"openai/{OPENAI_FALLBACK[size]}"]
            await create_chain(session, name=name, targets=targets, actor=ACTOR)
            chains[model] = name
            lines.append(f"+ chain {name}: {' -> '.join(targets)}")
        rule = written_rule(pattern, chain=chains[model], description=DESCRIPTION)
        await create_rule(session, rule, actor=ACTOR)
        lines.append(f"+ rule {pattern} -> chain {chains[model]}")
    return lines
