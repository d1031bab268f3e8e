"""The config file written back: `DesiredConfig` -> YAML text (export), the inverse of schema.py's parse.

Never writes a credential: a provider's credential becomes its `${VAR}` reference, and each secret-looking
extra parameter a `${VAR}` of its own (env_vars_needed lists them); a literal `${` is escaped as `$${`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from router.config.drafts import AlertDraft, DesiredConfig, PoolDraft, RuleDraft
from router.config.fields import is_secret_param
from router.routing.conditions import CONDITION_KEYS
from router.routing.patterns import format_match

__all__ = ["default_alert_refs", "default_credential_ref", "env_vars_needed", "render_config"]


def default_credential_ref(provider_name: str) -> str:
    """The variable export names for a credential set without one: `azure-eu` -> `AZURE_EU_API_KEY`."""
    return _env_name(provider_name, "API_KEY")


def default_alert_refs(alert_name: str) -> tuple[str, str]:
    """The variables export names for an alert's webhook and secret: `spend` -> ALERT_SPEND_WEBHOOK, ..."""
    return _env_name("alert", alert_name, "WEBHOOK"), _env_name("alert", alert_name, "SECRET")


def _env_name(*parts: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", "_".join(parts).upper())


def _secret_params(
    provider: str, params: Mapping[str, Any], refs: dict[str, str], prefix: str = ""
) -> dict[str, Any]:
    """extra_params with each secret-looking string replaced by a `${VAR}` reference (recorded in refs)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out[key] = _secret_params(provider, value, refs, name)
        elif isinstance(value, str) and is_secret_param(str(key), nested=bool(prefix)):
            var = _env_name(provider, name)
            refs[var] = value
            out[key] = "${" + var + "}"
        else:
            out[key] = _escape(value)
    return out


def env_vars_needed(cfg: DesiredConfig) -> list[str]:
    """The variables an apply of `render_config(cfg)` needs: credentials, then secret extra_params."""
    names = [p.credential_ref for p in cfg.providers if p.credential_ref]
    for p in cfg.providers:
        refs: dict[str, str] = {}
        _secret_params(p.name, p.extra_params, refs)
        names.extend(refs)
    for a in cfg.alerts:
        names.extend(ref for ref in _alert_refs(a) if ref)
    return names


def _alert_refs(a: AlertDraft) -> tuple[str, str | None]:
    """The `${VAR}` names an alert's webhook and secret are exported as (None: no secret)."""
    webhook, secret = default_alert_refs(a.name)
    return a.webhook_ref or webhook, (a.secret_ref or secret) if a.secret or a.secret_ref else None


def _alert_dict(a: AlertDraft) -> dict[str, Any]:
    webhook_ref, secret_ref = _alert_refs(a)
    item: dict[str, Any] = {"name": _escape(a.name), "watch": a.watch, "webhook": "${" + webhook_ref + "}"}
    if a.thresholds:
        item["thresholds"] = [int(t) if float(t).is_integer() else t for t in a.thresholds]
    for key in ("tenants", "subjects", "targets"):
        value = getattr(a, key)
        if value is not None:
            item[key] = _escape(list(value))
    # Written whenever not the default (even where the watch ignores it): export then apply changes nothing.
    if a.window_minutes != 5:
        item["window_minutes"] = a.window_minutes
    if a.min_requests != 10:
        item["min_requests"] = a.min_requests
    if secret_ref:
        item["secret"] = "${" + secret_ref + "}"
    if not a.enabled:
        item["enabled"] = False
    return item


def _escape(value: Any) -> Any:
    """Keep a literal `${` literal through a later apply."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    return value


def _rule_dict(r: RuleDraft) -> dict[str, Any]:
    out: dict[str, Any] = {"match": format_match(r.match, r.match_kind)}
    when = {k: r.conditions[k] for k in CONDITION_KEYS if r.conditions.get(k) is not None}
    if when:
        out["when"] = when
    if r.target:
        out["target"] = r.target
    if r.chain:
        out["chain"] = r.chain
    overrides = {k: v for k, v in r.overrides.items() if v is not None}
    if overrides:
        out["overrides"] = overrides
    if r.priority:
        out["priority"] = r.priority
    if r.description:
        out["description"] = r.description
    if not r.enabled:
        out["enabled"] = False
    return _escape(out)  # type: ignore[no-any-return]


def _pool_dict(p: PoolDraft) -> dict[str, Any]:
    item: dict[str, Any] = {"name": p.name, "strategy": p.strategy}
    if not p.sticky:
        item["sticky"] = False
    members = []
    for m in p.members:
        member: dict[str, Any] = {"target": m.target}
        if m.weight != 1:
            member["weight"] = m.weight
        if m.rpm is not None:
            member["rpm"] = m.rpm
        if m.tpm is not None:
            member["tpm"] = m.tpm
        members.append(member)
    item["members"] = members
    return _escape(item)  # type: ignore[no-any-return]


def render_config(cfg: DesiredConfig) -> str:
    """YAML for `cfg`: a provider with `credential_ref` gets `api_key: ${REF}`; never a credential."""
    doc: dict[str, Any] = {}
    providers = []
    for p in cfg.providers:
        item: dict[str, Any] = {"name": p.name, "kind": p.kind}
        if p.api_base:
            item["api_base"] = _escape(p.api_base)
        if p.credential_ref:
            item["api_key"] = "${" + p.credential_ref + "}"
        if p.api_version:
            item["api_version"] = _escape(p.api_version)
        if p.extra_params:
            item["extra_params"] = _secret_params(p.name, p.extra_params, {})
        providers.append(item)
    doc["providers"] = providers
    deployments = []
    for d in cfg.deployments:
        item = {"name": d.name, "provider": d.provider, "deployment": d.deployment, "model": d.model}
        if d.api_version:
            item["api_version"] = d.api_version
        deployments.append(_escape(item))
    doc["deployments"] = deployments
    if cfg.pools:
        doc["pools"] = [_pool_dict(p) for p in cfg.pools]
    chains = []
    for c in cfg.chains:
        item = {"name": c.name, "targets": list(c.targets)}
        if c.retries:
            item["retries"] = c.retries
        if c.backoff_ms != 250:
            item["backoff_ms"] = c.backoff_ms
        chains.append(_escape(item))
    doc["chains"] = chains
    doc["rules"] = [_rule_dict(r) for r in cfg.rules]
    tenants = []
    for t in cfg.tenants:
        item = {"name": _escape(t.name)}
        if not t.enabled:
            item["enabled"] = False
        limits: dict[str, Any] = {k: v for k, v in (("rpm", t.rpm), ("tpm", t.tpm)) if v is not None}
        if set(dict(t.budgets)) == {"month"}:
            limits["budget_usd"] = t.budget_usd  # a month budget alone: the shorthand it always had
        elif t.budgets:
            limits["budgets"] = dict(t.budgets)
        if limits:
            item["limits"] = limits
        if t.member_budgets:
            item["member_budgets"] = _escape({member: dict(windows) for member, windows in t.member_budgets})
        if t.allowed_targets is not None:
            item["allowed_targets"] = _escape(list(t.allowed_targets))
        if t.rules:
            item["rules"] = [_rule_dict(r) for r in t.rules]
        if t.managed_settings is not None:
            item["managed_settings"] = _escape(t.managed_settings)
        if t.member_self_service:
            item["member_self_service"] = True
        tenants.append(item)
    doc["tenants"] = tenants
    if cfg.prices:
        doc["prices"] = [
            _escape(
                {
                    "target": p.target,
                    "input_per_mtok": p.input_per_mtok,
                    "output_per_mtok": p.output_per_mtok,
                    **(
                        {"cache_read_per_mtok": p.cache_read_per_mtok}
                        if p.cache_read_per_mtok is not None
                        else {}
                    ),
                    **(
                        {"cache_write_per_mtok": p.cache_write_per_mtok}
                        if p.cache_write_per_mtok is not None
                        else {}
                    ),
                }
            )
            for p in cfg.prices
        ]
    if cfg.sso.members or cfg.sso.admins:
        members: list[dict[str, Any]] = []
        for m in cfg.sso.members:
            member: dict[str, Any] = {"group": m.group, "tenant": m.tenant}
            if m.managed_settings is not None:
                member["managed_settings"] = m.managed_settings
            members.append(_escape(member))
        admins: list[dict[str, Any]] = []
        for a in cfg.sso.admins:
            admin: dict[str, Any] = {"group": a.group, "role": a.role}
            if a.tenants is not None:
                admin["tenants"] = list(a.tenants)
            admins.append(_escape(admin))
        doc["sso"] = {"members": members, "admins": admins}
    if cfg.alerts:
        doc["alerts"] = [_alert_dict(a) for a in cfg.alerts]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
