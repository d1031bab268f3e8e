"""Planning a config apply: the current rows against the desired configuration, as ordered, labelled steps.

Steps run in three phases, each relying on the one before: create or change providers, deployments, chains,
tenants and prices; then bring each rule level in line (removals first); then remove chains, deployments
and providers that the file no longer has (by then no rule or chain uses them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.config.drafts import (
    AlertDraft,
    ChainDraft,
    ConfigInvalid,
    DeploymentDraft,
    DesiredConfig,
    PoolDraft,
    PriceDraft,
    ProviderDraft,
    RuleDraft,
    TenantDraft,
    ValidationIssue,
)
from router.config.render import default_alert_refs
from router.routing.patterns import format_match
from router.store import alerts as alert_store
from router.store import catalog
from router.store.budgets import member_budgets, own_budgets, set_member_budget, set_tenant_budget
from router.store.crypto import CredentialCipher, CredentialDecryptError
from router.store.member_pages import set_member_self_service
from router.store.models import Alert, Chain, Deployment, ModelPrice, Pool, Provider, Rule, Tenant
from router.store.signin import (
    AdminMapping,
    MemberMapping,
    list_sso_mappings,
    replace_sso_mappings,
    set_tenant_managed_settings,
)
from router.store.tenants import create_tenant, get_tenant_by_name, set_tenant_enabled, set_tenant_limits

Step = Callable[[], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Change:
    """One planned change: `+` created, `~` changed, `-` removed; `text` says what."""

    op: Literal["+", "~", "-"]
    text: str

    def __str__(self) -> str:
        return f"{self.op} {self.text}"


def rule_text(r: RuleDraft) -> str:
    to = r.target if r.target else f"chain {r.chain}"
    when = " when " + ", ".join(f"{k}={v}" for k, v in r.conditions.items()) if r.conditions else ""
    return f"{format_match(r.match, r.match_kind)} -> {to}{when}"


_ALERT_FIELDS = (
    "watch",
    "thresholds",
    "tenants",
    "subjects",
    "targets",
    "window_minutes",
    "min_requests",
    "enabled",
)


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [k for k in new if old.get(k) != new[k]]


@dataclass
class Plan:
    session: AsyncSession
    desired: DesiredConfig
    cipher: CredentialCipher
    actor: str
    upserts: list[tuple[Change | None, Step]] = field(default_factory=list)
    rules: list[tuple[Change | None, Step]] = field(default_factory=list)
    removals: list[tuple[Change | None, Step]] = field(default_factory=list)

    def steps(self) -> list[tuple[Change | None, Step]]:
        return [*self.upserts, *self.rules, *self.removals]

    async def build(self) -> None:
        s, d = self.session, self.desired
        providers = {p.name: p for p in (await s.scalars(select(Provider))).all()}
        deployments = {
            x.name: x
            for x in (await s.scalars(select(Deployment).options(selectinload(Deployment.provider)))).all()
        }
        chains = {
            c.name: c for c in (await s.scalars(select(Chain).options(selectinload(Chain.targets)))).all()
        }
        pools = {p.name: p for p in (await s.scalars(select(Pool).options(selectinload(Pool.members)))).all()}
        tenants = {t.name: t for t in (await s.scalars(select(Tenant))).all()}
        prices = {p.target: p for p in (await s.scalars(select(ModelPrice))).all()}
        alerts = {a.name: a for a in (await s.scalars(select(Alert))).all()}
        for p in d.providers:
            self._provider(providers.get(p.name), p)
        for dep in d.deployments:
            self._deployment(deployments.get(dep.name), dep)
        for pool in d.pools:
            self._pool(pools.get(pool.name), pool)
        for c in d.chains:
            self._chain(chains.get(c.name), c)
        for t in d.tenants:
            self._tenant(tenants.get(t.name), t)
        for price in d.prices:
            self._price(prices.get(price.target), price)
        self._check_alert_tenants({*tenants, *(t.name for t in d.tenants)})
        # After tenants: an alert may name tenants this apply creates.
        for alert in d.alerts:
            self._alert(alerts.get(alert.name), alert)
        await self._rule_level(None, "rule", d.rules)
        # Tenants absent from the file are kept, but lose their rules.
        wanted = {t.name: t for t in d.tenants}
        for name in sorted({*wanted, *tenants}):
            draft = wanted.get(name)
            await self._rule_level(name, f"tenant {name} rule", draft.rules if draft else ())
        await self._sso()
        self._remove(prices, {p.target for p in d.prices}, "price", catalog.delete_price)
        self._remove(alerts, {a.name for a in d.alerts}, "alert", alert_store.delete_alert)
        self._remove(chains, {c.name for c in d.chains}, "chain", catalog.delete_chain)
        self._remove(pools, {p.name for p in d.pools}, "pool", catalog.delete_pool)
        self._remove(deployments, {x.name for x in d.deployments}, "deployment", catalog.delete_deployment)
        self._remove(providers, {p.name for p in d.providers}, "provider", catalog.delete_provider)

    def _remove(
        self, rows: Mapping[str, Any], keep: set[str], kind: str, delete: Callable[..., Awaitable[None]]
    ) -> None:
        for name, row in sorted(rows.items()):
            if name not in keep:
                step = partial(delete, self.session, row.id, actor=self.actor)
                self.removals.append((Change("-", f"{kind} {name}"), step))

    def _credential_changed(self, row: Provider, p: ProviderDraft) -> bool:
        if p.api_key is None or row.credential_encrypted is None:
            return (p.api_key is None) != (row.credential_encrypted is None)
        try:
            return self.cipher.decrypt(row.credential_encrypted, provider=row.name) != p.api_key
        except CredentialDecryptError:
            return True

    def _provider(self, row: Provider | None, p: ProviderDraft) -> None:
        fields: dict[str, Any] = {
            "kind": p.kind,
            "api_base": p.api_base,
            "api_version": p.api_version,
            "extra_params": p.extra_params,
        }
        if row is None:
            step = partial(
                catalog.create_provider,
                self.session,
                cipher=self.cipher,
                name=p.name,
                api_key=p.api_key,
                credential_ref=p.credential_ref,
                actor=self.actor,
                **fields,
            )
            self.upserts.append((Change("+", f"provider {p.name}"), step))
            return
        old = {
            "kind": row.kind,
            "api_base": row.api_base,
            "api_version": row.api_version,
            "extra_params": dict(row.extra_params or {}),
        }
        changed = _changed_fields(old, {**fields, "extra_params": dict(p.extra_params)})
        credential: dict[str, Any] = {}
        if self._credential_changed(row, p):
            changed.append("credential")
            credential = {"api_key": p.api_key, "credential_ref": p.credential_ref}
        elif row.credential_ref != (p.credential_ref if p.api_key else None):
            changed.append("credential_ref")
            credential = {"credential_ref": p.credential_ref}
        if changed:
            step = partial(
                catalog.update_provider,
                self.session,
                row.id,
                cipher=self.cipher,
                actor=self.actor,
                **fields,
                **credential,
            )
            self.upserts.append((Change("~", f"provider {p.name} ({', '.join(changed)})"), step))

    def _deployment(self, row: Deployment | None, d: DeploymentDraft) -> None:
        fields: dict[str, Any] = {
            "provider": d.provider,
            "deployment": d.deployment,
            "model": d.model,
            "api_version": d.api_version,
        }
        if row is None:
            step = partial(catalog.create_deployment, self.session, name=d.name, actor=self.actor, **fields)
            self.upserts.append((Change("+", f"deployment {d.name}"), step))
            return
        old = {
            "provider": row.provider.name,
            "deployment": row.deployment,
            "model": row.model,
            "api_version": row.api_version,
        }
        changed = _changed_fields(old, fields)
        if changed:
            step = partial(catalog.update_deployment, self.session, row.id, actor=self.actor, **fields)
            self.upserts.append((Change("~", f"deployment {d.name} ({', '.join(changed)})"), step))

    def _pool(self, row: Pool | None, p: PoolDraft) -> None:
        members = " + ".join(f"{m.target}x{m.weight}" for m in p.members)
        fields: dict[str, Any] = {"members": list(p.members), "strategy": p.strategy, "sticky": p.sticky}
        if row is None:
            step = partial(catalog.create_pool, self.session, name=p.name, actor=self.actor, **fields)
            self.upserts.append((Change("+", f"pool {p.name} ({p.strategy}): {members}"), step))
            return
        old = {"members": catalog.pool_members(row), "strategy": row.strategy, "sticky": row.sticky}
        changed = _changed_fields(old, fields)
        if changed:
            step = partial(catalog.update_pool, self.session, row.id, actor=self.actor, **fields)
            self.upserts.append((Change("~", f"pool {p.name} ({', '.join(changed)}): {members}"), step))

    def _chain(self, row: Chain | None, c: ChainDraft) -> None:
        fields: dict[str, Any] = {
            "targets": list(c.targets),
            "retries": c.retries,
            "backoff_ms": c.backoff_ms,
        }
        order = " -> ".join(c.targets)
        if row is None:
            step = partial(catalog.create_chain, self.session, name=c.name, actor=self.actor, **fields)
            self.upserts.append((Change("+", f"chain {c.name}: {order}"), step))
            return
        old = {"targets": catalog.chain_refs(row), "retries": row.retries, "backoff_ms": row.backoff_ms}
        changed = _changed_fields(old, fields)
        if changed:
            step = partial(catalog.update_chain, self.session, row.id, actor=self.actor, **fields)
            self.upserts.append((Change("~", f"chain {c.name} ({', '.join(changed)}): {order}"), step))

    def _tenant(self, row: Tenant | None, t: TenantDraft) -> None:
        allowed = list(t.allowed_targets) if t.allowed_targets is not None else None
        limits: dict[str, Any] = {
            "rpm": t.rpm,
            "tpm": t.tpm,
            "budget_usd": t.budget_usd,
            "allowed_targets": allowed,
        }
        wanted = _budget_map(t)
        if row is None:
            step = partial(create_tenant, self.session, t.name, enabled=t.enabled, actor=self.actor, **limits)
            self.upserts.append((Change("+", f"tenant {t.name}"), step))
            if t.managed_settings is not None:
                self.upserts.append((None, partial(self._set_managed, t.name, t.managed_settings)))
            if t.member_self_service:
                self.upserts.append((None, partial(self._set_self_service, t.name, True)))
            if _without_month(wanted):
                self.upserts.append((None, partial(self._set_budgets, t.name, {}, _without_month(wanted))))
            return
        old = {
            "rpm": row.rpm,
            "tpm": row.tpm,
            "budget_usd": row.budget_usd,
            "allowed_targets": row.allowed_targets,
        }
        changed = _changed_fields(old, limits)
        if changed:
            step = partial(set_tenant_limits, self.session, t.name, actor=self.actor, **limits)
            self.upserts.append((Change("~", f"tenant {t.name} ({', '.join(changed)})"), step))
        have, wanted = _without_month(_row_budget_map(row)), _without_month(wanted)
        if have != wanted:
            differ = sorted(k for k in have.keys() | wanted.keys() if have.get(k) != wanted.get(k))
            shown = ", ".join(f"{m}/{w}" if m else w for m, w in differ)
            budgets_step = partial(self._set_budgets, t.name, have, wanted)
            self.upserts.append((Change("~", f"tenant {t.name} (budgets: {shown})"), budgets_step))
        if row.enabled != t.enabled:
            step = partial(set_tenant_enabled, self.session, t.name, t.enabled, actor=self.actor)
            self.upserts.append(
                (Change("~", f"tenant {t.name} ({'enabled' if t.enabled else 'disabled'})"), step)
            )
        if row.managed_settings != t.managed_settings:
            managed = partial(self._set_managed, t.name, t.managed_settings)
            self.upserts.append((Change("~", f"tenant {t.name} (managed_settings)"), managed))
        if row.member_self_service != t.member_self_service:
            switch = partial(self._set_self_service, t.name, t.member_self_service)
            self.upserts.append((Change("~", f"tenant {t.name} (member_self_service)"), switch))

    async def _set_budgets(
        self, name: str, have: dict[tuple[str, str], float], wanted: dict[tuple[str, str], float]
    ) -> None:
        """Make the tenant's budgets (other than its month budget, a limit) and its members' the file's."""
        for member, window in sorted(have):
            if (member, window) not in wanted:
                await self._set_budget(name, member, window, None)
        for (member, window), amount in sorted(wanted.items()):
            if have.get((member, window)) != amount:
                await self._set_budget(name, member, window, amount)

    async def _set_budget(self, name: str, member: str, window: str, amount: float | None) -> None:
        if member:
            await set_member_budget(self.session, name, member, window, amount, actor=self.actor)
        else:
            await set_tenant_budget(self.session, name, window, amount, actor=self.actor)

    async def _set_managed(self, name: str, settings: dict[str, Any] | None) -> None:
        # A tenant created by this apply exists only now.
        tenant = await get_tenant_by_name(self.session, name)
        if tenant is not None:
            await set_tenant_managed_settings(self.session, tenant, settings, actor=self.actor)

    async def _set_self_service(self, name: str, allowed: bool) -> None:
        await set_member_self_service(self.session, name, allowed, actor=self.actor)

    async def _sso(self) -> None:
        """The SSO mappings are replaced as a whole (they have no names); after tenants exist."""
        members = [MemberMapping(m.group, m.tenant, m.managed_settings) for m in self.desired.sso.members]
        admins = [AdminMapping(a.group, a.role, a.tenants) for a in self.desired.sso.admins]
        if (members, admins) == await list_sso_mappings(self.session):
            return
        step = partial(replace_sso_mappings, self.session, members, admins, actor=self.actor)
        text = f"sso ({len(members)} member groups, {len(admins)} admin groups)"
        self.rules.append((Change("~", text), step))

    def _check_alert_tenants(self, known: set[str]) -> None:
        """Alerts may name tenants of the file or of the database (a file need not list every tenant)."""
        issues = [
            ValidationIssue(f"alerts[{i}].tenants[{j}]", f"unknown tenant {name!r}")
            for i, a in enumerate(self.desired.alerts)
            for j, name in enumerate(a.tenants or ())
            if name not in known
        ]
        if issues:
            raise ConfigInvalid(issues)

    def _decrypts_to(self, token: str | None, value: str | None) -> bool:
        if token is None or value is None:
            return token is None and value is None
        try:
            return self.cipher.decrypt(token) == value
        except CredentialDecryptError:
            return False

    def _alert(self, row: Alert | None, a: AlertDraft) -> None:
        if row is None:
            step = partial(alert_store.create_alert, self.session, a, cipher=self.cipher, actor=self.actor)
            self.upserts.append((Change("+", f"alert {a.name} ({a.watch})"), step))
            return
        old = {k: getattr(row, k) for k in _ALERT_FIELDS}
        new = {k: getattr(a, k) for k in _ALERT_FIELDS}
        for key in ("tenants", "subjects", "targets"):
            new[key] = list(new[key]) if new[key] is not None else None
        new["thresholds"] = sorted(float(t) for t in a.thresholds)
        old["thresholds"] = [float(t) for t in row.thresholds or []]
        changed = _changed_fields(old, new)
        # A reference the alert never had (made on the page) reads as its default: the name export writes.
        webhook_ref, secret_ref = default_alert_refs(a.name)
        if not self._decrypts_to(row.webhook_encrypted, a.webhook) or (row.webhook_ref or webhook_ref) != (
            a.webhook_ref or webhook_ref
        ):
            changed.append("webhook")
        if not self._decrypts_to(row.secret_encrypted, a.secret) or (
            a.secret is not None and (row.secret_ref or secret_ref) != (a.secret_ref or secret_ref)
        ):
            changed.append("secret")
        if changed:
            step = partial(
                alert_store.update_alert, self.session, row.id, a, cipher=self.cipher, actor=self.actor
            )
            self.upserts.append((Change("~", f"alert {a.name} ({', '.join(changed)})"), step))

    def _price(self, row: ModelPrice | None, p: PriceDraft) -> None:
        fields: dict[str, Any] = {
            "input_per_mtok": p.input_per_mtok,
            "output_per_mtok": p.output_per_mtok,
            "cache_read_per_mtok": p.cache_read_per_mtok,
            "cache_write_per_mtok": p.cache_write_per_mtok,
        }
        if row is None:
            step = partial(catalog.create_price, self.session, target=p.target, actor=self.actor, **fields)
            self.upserts.append((Change("+", f"price {p.target}"), step))
            return
        changed = _changed_fields({k: getattr(row, k) for k in fields}, fields)
        if changed:
            step = partial(catalog.update_price, self.session, row.id, actor=self.actor, **fields)
            self.upserts.append((Change("~", f"price {p.target} ({', '.join(changed)})"), step))

    async def _rule_level(self, tenant: str | None, label: str, drafts: tuple[RuleDraft, ...]) -> None:
        """Compare one level in evaluation order: the file's rule i against the database's rule i."""
        current: list[Rule] = []
        owner = await get_tenant_by_name(self.session, tenant) if tenant is not None else None
        if tenant is None or owner is not None:
            current = await catalog.list_rules(self.session, owner.id if owner is not None else None)
        # The file's evaluation order: by priority, then place in the file (which becomes the position).
        wanted = sorted(enumerate(drafts), key=lambda pair: (pair[1].priority, pair[0]))
        removals: list[tuple[Change | None, Step]] = []
        steps: list[tuple[Change | None, Step]] = []
        unchanged: list[tuple[Rule, int]] = []
        for i in range(max(len(wanted), len(current))):
            if i >= len(wanted):
                row = current[i]
                step: Step = partial(catalog.delete_rule, self.session, row.id, actor=self.actor)
                removals.append((Change("-", f"{label}[{i}] {rule_text(catalog.rule_draft(row))}"), step))
                continue
            index, draft = wanted[i]
            if i >= len(current):
                step = partial(self._create_rule, tenant, draft, index)
                steps.append((Change("+", f"{label}[{index}] {rule_text(draft)}"), step))
            elif catalog.rule_draft(current[i]) != draft:
                step = partial(
                    catalog.update_rule, self.session, current[i].id, draft, position=index, actor=self.actor
                )
                steps.append((Change("~", f"{label}[{index}] {rule_text(draft)}"), step))
            else:
                unchanged.append((current[i], index))
        if removals or steps:
            steps.append((None, partial(_renumber, unchanged)))
        self.rules.extend([*removals, *steps])

    async def _create_rule(self, tenant: str | None, draft: RuleDraft, position: int) -> None:
        # A tenant created by this apply has an id only now.
        owner = await get_tenant_by_name(self.session, tenant) if tenant is not None else None
        tenant_id = owner.id if owner is not None else None
        await catalog.create_rule(
            self.session, draft, tenant_id=tenant_id, position=position, actor=self.actor
        )


async def _renumber(rows: list[tuple[Rule, int]]) -> None:
    """Unchanged rules of a changed level take the file's numbering too, so the file's order holds."""
    for row, index in rows:
        row.position = index


def _budget_map(t: TenantDraft) -> dict[tuple[str, str], float]:
    """(member or "", window) -> USD: the tenant's own budgets and its members'."""
    found = {("", window): float(amount) for window, amount in t.budgets}
    for member, windows in t.member_budgets:
        found.update({(member.strip(), window): float(amount) for window, amount in windows})
    return found


def _row_budget_map(row: Tenant) -> dict[tuple[str, str], float]:
    found = {("", window): amount for window, amount in own_budgets(row.budgets, "tenant").items()}
    for member, windows in member_budgets(row).items():
        found.update({(member, window): amount for window, amount in windows.items()})
    return found


def _without_month(budgets: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """All but the tenant's own month budget (set with its limits, as `budget_usd`)."""
    return {k: v for k, v in budgets.items() if k != ("", "month")}
