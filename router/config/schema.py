"""The config file's shape: YAML text + environment <-> `DesiredConfig`, pure (no database).

Parsing is strict: pydantic models with extra="forbid", so an unknown key anywhere is an error naming its
path. `${VAR}` anywhere in a value is replaced from the given environment (`$${` writes a literal `${`);
a provider's `api_key: ${VAR}` also records VAR as the credential's reference so export can write it back.
The way back, drafts -> YAML for export, is render.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from router.config.drafts import (
    AlertDraft,
    ChainDraft,
    ConfigInvalid,
    DeploymentDraft,
    DesiredConfig,
    PoolDraft,
    PoolMemberDraft,
    PriceDraft,
    ProviderDraft,
    RuleDraft,
    SsoAdminDraft,
    SsoDraft,
    SsoMemberDraft,
    TenantDraft,
    ValidationIssue,
)
from router.routing.patterns import parse_match

__all__ = ["ConfigFileError", "parse_config", "substitute_env"]

_VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigFileError(ConfigInvalid):
    """The file cannot be read as a configuration; `issues` name each place. Nothing was applied."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WhenModel(_Strict):
    thinking: bool | None = None
    tools: bool | None = None
    tool: str | None = None
    stream: bool | None = None
    min_input_tokens: int | None = None
    member: str | None = None
    budget_used_pct: str | float | None = None


class OverridesModel(_Strict):
    max_tokens: int | None = None
    temperature: float | None = None
    reasoning_effort: str | None = None


class RuleModel(_Strict):
    match: str
    when: WhenModel | None = None
    target: str | None = None
    chain: str | None = None
    overrides: OverridesModel | None = None
    priority: int = 0
    description: str | None = None
    enabled: bool = True


class ChainModel(_Strict):
    name: str
    targets: list[str]
    retries: int = 0
    backoff_ms: int = 250


class PoolMemberModel(_Strict):
    target: str
    weight: int = 1
    rpm: int | None = None
    tpm: int | None = None


class PoolModel(_Strict):
    name: str
    strategy: str = "weighted"
    sticky: bool = True
    members: list[PoolMemberModel]


class ProviderModel(_Strict):
    name: str
    kind: str
    api_base: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    extra_params: dict[str, Any] = {}


class DeploymentModel(_Strict):
    name: str
    provider: str
    deployment: str
    model: str
    api_version: str | None = None


class LimitsModel(_Strict):
    rpm: int | None = None
    tpm: int | None = None
    # The month budget (shorthand for budgets: {month: X}).
    budget_usd: float | None = None
    # Budgets by UTC window: {day: 20, week: 100, month: 300} (week: ISO, from Monday).
    budgets: dict[str, Any] | None = None


class TenantModel(_Strict):
    name: str
    enabled: bool = True
    limits: LimitsModel | None = None
    allowed_targets: list[str] | None = None
    rules: list[RuleModel] = []
    managed_settings: dict[str, Any] | None = None
    # Whether members issue, rotate and revoke their own keys on /me.
    member_self_service: StrictBool = False
    # Budgets of members (all of a member's keys in the tenant together): {ann@example.com: {day: 20}}.
    member_budgets: dict[str, dict[str, Any]] | None = None


class PriceModel(_Strict):
    target: str
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


class SsoMemberModel(_Strict):
    group: str
    tenant: str
    managed_settings: dict[str, Any] | None = None


class SsoAdminModel(_Strict):
    group: str
    role: str
    tenants: list[str] | None = None


class SsoModel(_Strict):
    members: list[SsoMemberModel] = []
    admins: list[SsoAdminModel] = []


class AlertModel(_Strict):
    name: str
    watch: str
    webhook: str
    thresholds: list[float] = []
    tenants: list[str] | None = None
    subjects: list[str] | None = None
    targets: list[str] | None = None
    window_minutes: int = 5
    min_requests: int = 10
    secret: str | None = None
    enabled: bool = True


class ConfigModel(_Strict):
    providers: list[ProviderModel] = []
    deployments: list[DeploymentModel] = []
    pools: list[PoolModel] = []
    chains: list[ChainModel] = []
    rules: list[RuleModel] = []
    tenants: list[TenantModel] = []
    prices: list[PriceModel] = []
    sso: SsoModel | None = None
    alerts: list[AlertModel] = []


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def substitute_env(
    data: Any, env: Mapping[str, str], path: str = "", missing: list[ValidationIssue] | None = None
) -> Any:
    """`data` with `${VAR}` replaced in every string value (not keys); unset variables go to `missing`."""
    if missing is None:
        missing = []
    if isinstance(data, dict):
        return {
            k: substitute_env(v, env, f"{path}.{k}" if path else str(k), missing) for k, v in data.items()
        }
    if isinstance(data, list):
        return [substitute_env(v, env, f"{path}[{i}]", missing) for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data:

        def replace(m: re.Match[str]) -> str:
            escaped, name = m.group(1), m.group(2)
            if escaped:
                return "${" + name + "}"
            if name not in env:
                missing.append(ValidationIssue(path, f"environment variable {name} is not set"))
                return ""
            return env[name]

        return _VAR.sub(replace, data)
    return data


_WINDOW_ORDER = {"day": 0, "week": 1, "month": 2}


def _windows(budgets: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """{month: 300, day: 20} -> (("day", 20), ("month", 300)); unknown windows last (validation says so)."""
    return tuple(sorted(budgets.items(), key=lambda item: (_WINDOW_ORDER.get(str(item[0]), 9), str(item[0]))))


def _budgets(limits: LimitsModel | None) -> tuple[tuple[str, Any], ...]:
    """A tenant's budgets: `limits.budgets` and the `limits.budget_usd` shorthand for a month (both giving a
    month budget is reported by validation, as a window given twice)."""
    if limits is None:
        return ()
    found = list(_windows(limits.budgets or {}))
    if limits.budget_usd is not None:
        found.append(("month", limits.budget_usd))
    return tuple(found)


def _rule(m: RuleModel) -> RuleDraft:
    pattern, kind = parse_match(m.match)
    return RuleDraft(
        match=pattern,
        match_kind=kind,
        conditions=m.when.model_dump(exclude_none=True) if m.when else {},
        target=m.target,
        chain=m.chain,
        overrides=m.overrides.model_dump(exclude_none=True) if m.overrides else {},
        priority=m.priority,
        description=m.description,
        enabled=m.enabled,
    )


def parse_config(text: str, env: Mapping[str, str]) -> DesiredConfig:
    """The desired configuration in `text`; ConfigFileError names each unknown key, bad value, unset var."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigFileError([ValidationIssue("", f"not valid YAML: {exc}")]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigFileError([ValidationIssue("", "the file must be a mapping (providers:, rules:, ...)")])
    # Each provider's raw api_key before substitution: a whole `${VAR}` becomes the credential's reference.
    refs: dict[int, str] = {}
    providers = raw.get("providers")
    if isinstance(providers, list):
        for i, p in enumerate(providers):
            key = p.get("api_key") if isinstance(p, dict) else None
            whole = _WHOLE_VAR.fullmatch(key) if isinstance(key, str) else None
            if whole:
                refs[i] = whole.group(1)
    alert_refs = _whole_var_refs(raw.get("alerts"), ("webhook", "secret"))
    missing: list[ValidationIssue] = []
    data = substitute_env(raw, env, "", missing)
    if missing:
        raise ConfigFileError(missing)
    try:
        model = ConfigModel.model_validate(data)
    except ValidationError as exc:
        issues = [
            ValidationIssue(_path(e["loc"]), "unknown key" if e["type"] == "extra_forbidden" else e["msg"])
            for e in exc.errors()
        ]
        raise ConfigFileError(issues) from None
    return DesiredConfig(
        providers=tuple(
            ProviderDraft(
                name=p.name,
                kind=p.kind,
                api_base=p.api_base or None,
                api_version=p.api_version or None,
                extra_params=dict(p.extra_params),
                api_key=p.api_key or None,
                credential_ref=refs.get(i) if p.api_key else None,
            )
            for i, p in enumerate(model.providers)
        ),
        deployments=tuple(
            DeploymentDraft(d.name, d.provider, d.deployment, d.model, d.api_version or None)
            for d in model.deployments
        ),
        chains=tuple(ChainDraft(c.name, tuple(c.targets), c.retries, c.backoff_ms) for c in model.chains),
        pools=tuple(
            PoolDraft(
                name=p.name,
                strategy=p.strategy,
                sticky=p.sticky,
                members=tuple(PoolMemberDraft(m.target, m.weight, m.rpm, m.tpm) for m in p.members),
            )
            for p in model.pools
        ),
        rules=tuple(_rule(r) for r in model.rules),
        tenants=tuple(
            TenantDraft(
                name=t.name,
                rules=tuple(_rule(r) for r in t.rules),
                allowed_targets=tuple(t.allowed_targets) if t.allowed_targets is not None else None,
                enabled=t.enabled,
                rpm=t.limits.rpm if t.limits else None,
                tpm=t.limits.tpm if t.limits else None,
                budgets=_budgets(t.limits),
                managed_settings=t.managed_settings,
                member_self_service=t.member_self_service,
                member_budgets=tuple(
                    (member, _windows(windows)) for member, windows in (t.member_budgets or {}).items()
                ),
            )
            for t in model.tenants
        ),
        prices=tuple(
            PriceDraft(
                p.target, p.input_per_mtok, p.output_per_mtok, p.cache_read_per_mtok, p.cache_write_per_mtok
            )
            for p in model.prices
        ),
        sso=_sso(model.sso),
        alerts=tuple(_alert(a, alert_refs.get(i, {})) for i, a in enumerate(model.alerts)),
    )


def _whole_var_refs(items: Any, fields: tuple[str, ...]) -> dict[int, dict[str, str]]:
    """For each list item, the fields whose raw value is a whole `${VAR}`: their variable names."""
    refs: dict[int, dict[str, str]] = {}
    if isinstance(items, list):
        for i, item in enumerate(items):
            for name in fields:
                value = item.get(name) if isinstance(item, dict) else None
                whole = _WHOLE_VAR.fullmatch(value) if isinstance(value, str) else None
                if whole:
                    refs.setdefault(i, {})[name] = whole.group(1)
    return refs


def _alert(m: AlertModel, refs: Mapping[str, str]) -> AlertDraft:
    return AlertDraft(
        name=m.name,
        watch=m.watch,
        webhook=m.webhook,
        thresholds=tuple(m.thresholds),
        tenants=tuple(m.tenants) if m.tenants is not None else None,
        subjects=tuple(m.subjects) if m.subjects is not None else None,
        targets=tuple(m.targets) if m.targets is not None else None,
        window_minutes=m.window_minutes,
        min_requests=m.min_requests,
        secret=m.secret or None,
        enabled=m.enabled,
        webhook_ref=refs.get("webhook"),
        secret_ref=refs.get("secret") if m.secret else None,
    )


def _sso(model: SsoModel | None) -> SsoDraft:
    if model is None:
        return SsoDraft()
    return SsoDraft(
        members=tuple(SsoMemberDraft(m.group, m.tenant, m.managed_settings) for m in model.members),
        admins=tuple(
            SsoAdminDraft(a.group, a.role, tuple(a.tenants) if a.tenants is not None else None)
            for a in model.admins
        ),
    )
