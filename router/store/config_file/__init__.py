"""Config as code: make the database match a declarative file, and write the database back out as one.

`apply_config` validates the whole desired configuration first (nothing is written if anything is wrong),
then plans the changes against the current rows (`plan.py`) and carries them out through `store.catalog`
and `store.tenants` in the caller's transaction: each is audited and bumps the config version, and the
caller's commit or rollback makes them all-or-nothing. Things absent from the file are removed: providers,
deployments, chains, rules, prices and alerts. Tenants absent from the file are kept (they own keys and
usage); only their rules are removed.

Rules carry no names, so each level (the global rules, each tenant's) is compared in evaluation order:
rule i of the file against rule i of the database; positions become the file's indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.drafts import (
    ChainDraft,
    ConfigInvalid,
    DeploymentDraft,
    DesiredConfig,
    PriceDraft,
    ProviderDraft,
    SsoAdminDraft,
    SsoDraft,
    SsoMemberDraft,
    TenantDraft,
)
from router.config.render import default_alert_refs, default_credential_ref, env_vars_needed, render_config
from router.store import catalog
from router.store.alerts import alert_draft, list_alerts
from router.store.audit import CONFIG_APPLY, record_audit
from router.store.budgets import member_budgets, own_budgets
from router.store.models import Tenant
from router.store.signin import list_sso_mappings

if TYPE_CHECKING:
    from router.store.config_file.plan import Change
    from router.store.crypto import CredentialCipher

# Parsing, validation and the apply plan are imported by the functions that apply: `router config export`
# reads the database and renders YAML without them (the CLI's start-up is mostly imports).

__all__ = [
    "DEFAULT_ACTOR",
    "ApplyResult",
    "ConfigInvalid",
    "Export",
    "apply_config",
    "apply_config_text",
    "current_config",
    "export_config",
]

DEFAULT_ACTOR = "config apply"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    changes: tuple[Change, ...]
    # False for a dry run: the changes were only planned.
    applied: bool

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def lines(self) -> list[str]:
        return [str(c) for c in self.changes] or ["no changes"]

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True, slots=True)
class Export:
    text: str
    # The environment variables a later apply of `text` needs (one per provider credential).
    env_vars: tuple[str, ...] = ()


async def apply_config(
    session: AsyncSession,
    desired: DesiredConfig,
    *,
    cipher: CredentialCipher,
    actor: str = DEFAULT_ACTOR,
    dry_run: bool = False,
) -> ApplyResult:
    """Make the database match `desired` in the caller's transaction (ConfigInvalid first if it is unsound).

    With `dry_run` the changes are only planned: nothing is written. The caller commits.
    """
    from router.config.validate import validate_config
    from router.store.config_file.plan import Plan

    issues = validate_config(desired)
    if issues:
        raise ConfigInvalid(issues)
    plan = Plan(session, desired, cipher, actor)
    await plan.build()
    steps = plan.steps()
    if not dry_run:
        for _, step in steps:
            await step()
        # Marks when the configuration last came from a file: the admin page warns that page edits made
        # after it are overwritten by the next apply.
        action, object_type = CONFIG_APPLY
        await record_audit(
            session,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=None,
            object_name="config apply",
            before=None,
            after={"changes": len(steps)},
        )
        await session.flush()
    return ApplyResult(tuple(c for c, _ in steps if c is not None), applied=not dry_run)


async def apply_config_text(
    session: AsyncSession,
    text: str,
    *,
    env: Mapping[str, str],
    cipher: CredentialCipher,
    actor: str = DEFAULT_ACTOR,
    dry_run: bool = False,
) -> ApplyResult:
    """Parse `text` (with `${VAR}` taken from `env`) and apply it; ConfigInvalid (or its ConfigFileError)
    names every problem, and then nothing is applied."""
    from router.config.schema import parse_config

    return await apply_config(session, parse_config(text, env), cipher=cipher, actor=actor, dry_run=dry_run)


async def current_config(session: AsyncSession) -> DesiredConfig:
    """The database as a DesiredConfig, credentials left out: each set credential is named by its reference
    (the `${ENV}` it was applied from, else `<NAME>_API_KEY`)."""
    providers = await catalog.list_providers(session)
    tenants = list((await session.scalars(select(Tenant).order_by(Tenant.name))).all())
    rules = await catalog.list_all_rules(session)
    members, admins = await list_sso_mappings(session)
    return DesiredConfig(
        providers=tuple(
            ProviderDraft(
                name=p.name,
                kind=p.kind,
                api_base=p.api_base,
                api_version=p.api_version,
                extra_params=dict(p.extra_params or {}),
                credential_ref=(p.credential_ref or default_credential_ref(p.name))
                if p.credential_encrypted
                else None,
            )
            for p in providers
        ),
        deployments=tuple(
            DeploymentDraft(d.name, d.provider.name, d.deployment, d.model, d.api_version)
            for d in await catalog.list_deployments(session)
        ),
        chains=tuple(
            ChainDraft(c.name, tuple(catalog.chain_refs(c)), c.retries, c.backoff_ms)
            for c in await catalog.list_chains(session)
        ),
        pools=tuple(catalog.pool_draft(p) for p in await catalog.list_pools(session)),
        rules=tuple(catalog.rule_draft(r) for r in rules if r.tenant_id is None),
        tenants=tuple(
            TenantDraft(
                name=t.name,
                rules=tuple(catalog.rule_draft(r) for r in rules if r.tenant_id == t.id),
                allowed_targets=tuple(t.allowed_targets) if t.allowed_targets is not None else None,
                enabled=t.enabled,
                rpm=t.rpm,
                tpm=t.tpm,
                budgets=tuple(own_budgets(t.budgets, "tenant").items()),
                managed_settings=dict(t.managed_settings) if t.managed_settings is not None else None,
                member_self_service=t.member_self_service,
                member_budgets=tuple(
                    (member, tuple(windows.items())) for member, windows in member_budgets(t).items()
                ),
            )
            for t in tenants
        ),
        prices=tuple(
            PriceDraft(
                p.target, p.input_per_mtok, p.output_per_mtok, p.cache_read_per_mtok, p.cache_write_per_mtok
            )
            for p in await catalog.list_prices(session)
        ),
        sso=SsoDraft(
            members=tuple(SsoMemberDraft(m.group, m.tenant, m.managed_settings) for m in members),
            admins=tuple(SsoAdminDraft(a.group, a.role, a.tenants) for a in admins),
        ),
        alerts=tuple(alert_draft(a, *default_alert_refs(a.name)) for a in await list_alerts(session)),
    )


async def export_config(session: AsyncSession) -> Export:
    """The database as config-file YAML; credentials appear only as `${ENV}` references."""
    desired = await current_config(session)
    return Export(render_config(desired), tuple(env_vars_needed(desired)))
