"""The routing snapshot: `RoutingConfig` built from the tables once per config version, held in memory.

`load_routing_config` reads every table the request path needs, decrypts credentials and looks up model limits
and prices, once. `SnapshotHolder` keeps the current snapshot, polls the config version off the request path
and rebuilds when it moves; a failed rebuild keeps the last good snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.routing.model import (
    POOL_STRATEGIES,
    ChainSpec,
    Conditions,
    DeploymentSpec,
    KeySpec,
    Limits,
    Pool,
    PoolMember,
    Price,
    ProviderSpec,
    RoutingConfig,
    RuleSpec,
    Target,
    TenantSpec,
)
from router.routing.patterns import MatchKind
from router.store.budgets import budget_specs, member_budget_specs
from router.store.db import Database
from router.store.keys import key_spec
from router.store.models import ApiKey, Chain, Deployment, ModelPrice, Provider, Rule, Tenant
from router.store.models import Pool as PoolRow
from router.store.version import get_config_version

log = logging.getLogger(__name__)

DEPLOYMENT_PREFIX = "deployment/"
POOL_PREFIX = "pool/"
_MATCH_KINDS = ("exact", "glob", "regex")
_CONDITION_FIELDS = ("thinking", "tools", "tool", "stream", "min_input_tokens", "member", "budget_used_pct")
_PER_MTOK = 1_000_000.0


class Decrypter(Protocol):
    """What the snapshot needs of store/crypto.py's CredentialCipher: no import of it here, so that
    `router route explain` (which reads no credential) does not load cryptography (~5 ms)."""

    def decrypt(self, token: str, *, provider: str | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the providers layer knows about a model: context limits and price (USD per token)."""

    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    price: Price = field(default_factory=Price)


DescribeModel = Callable[[str, str], ModelFacts]
ChangeListener = Callable[[RoutingConfig], Awaitable[None] | None]


def split_ref(ref: str) -> tuple[str, str]:
    """Split on the first "/": "openrouter/anthropic/claude-3.5" -> ("openrouter", "anthropic/claude-3.5")."""
    provider, sep, model = ref.partition("/")
    if not sep or not provider or not model:
        raise ValueError(f"invalid target {ref!r}: expected PROVIDER/MODEL or deployment/NAME")
    return provider, model


def _price(row: ModelPrice | None, described: Price) -> Price:
    if row is None:
        return described
    return Price(
        input=row.input_per_mtok / _PER_MTOK,
        output=row.output_per_mtok / _PER_MTOK,
        cache_read=row.cache_read_per_mtok / _PER_MTOK
        if row.cache_read_per_mtok is not None
        else described.cache_read,
        cache_write=row.cache_write_per_mtok / _PER_MTOK
        if row.cache_write_per_mtok is not None
        else described.cache_write,
    )


def _conditions(raw: dict[str, Any] | None) -> Conditions:
    values = {name: value for name, value in (raw or {}).items() if name in _CONDITION_FIELDS}
    return Conditions(**values)


class _TargetBuilder:
    def __init__(
        self,
        providers: dict[str, ProviderSpec],
        deployments: dict[str, DeploymentSpec],
        prices: dict[str, ModelPrice],
        describe_model: DescribeModel,
    ) -> None:
        self._providers = providers
        self._deployments = deployments
        self._prices = prices
        self._describe = describe_model

    def build(self, ref: str) -> Target | None:
        if ref.startswith(DEPLOYMENT_PREFIX):
            deployment = self._deployments.get(ref[len(DEPLOYMENT_PREFIX) :])
            if deployment is None:
                log.warning("target %r names an unknown deployment: skipped", ref)
                return None
            provider = self._providers.get(deployment.provider)
            upstream_model, base_model = deployment.deployment, deployment.model
        else:
            try:
                provider_name, model = split_ref(ref)
            except ValueError:
                log.warning("target %r is not PROVIDER/MODEL: skipped", ref)
                return None
            deployment = None
            provider = self._providers.get(provider_name)
            upstream_model = base_model = model
        if provider is None:
            log.warning("target %r names an unknown provider: skipped", ref)
            return None
        facts = self._facts(provider.kind, base_model, ref)
        return Target(
            ref=ref,
            provider=provider,
            upstream_model=upstream_model,
            base_model=base_model,
            deployment=deployment,
            max_output_tokens=facts.max_output_tokens,
            max_input_tokens=facts.max_input_tokens,
            price=_price(self._prices.get(ref), facts.price),
        )

    def _facts(self, kind: str, model: str, ref: str) -> ModelFacts:
        try:
            return self._describe(kind, model)
        except Exception:  # an unknown model must not take the whole snapshot down: no limits, no price
            log.warning("no model facts for target %r", ref, exc_info=True)
            return ModelFacts()


async def load_routing_config(
    session: AsyncSession, cipher: Decrypter, describe_model: DescribeModel, *, with_keys: bool = True
) -> RoutingConfig:
    """The routing snapshot from the tables (the version is read first: the content is never older).

    `with_keys=False` leaves the keys out (`router route explain` resolves for a tenant, not a key): they are
    the one table that grows with the organisation, one row and its budgets per member's key."""
    version = await get_config_version(session)

    tenants = {
        row.id: TenantSpec(
            id=row.id,
            name=row.name,
            enabled=row.enabled,
            allowed_targets=frozenset(row.allowed_targets) if row.allowed_targets is not None else None,
            limits=Limits(rpm=row.rpm, tpm=row.tpm, budgets=budget_specs(row.budgets, "tenant")),
            member_budgets=member_budget_specs(row),
        )
        for row in (await session.scalars(select(Tenant))).all()
    }

    keys: dict[str, KeySpec] = {}
    if with_keys:
        keys = {
            row.key_hash: key_spec(row)
            for row in (await session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None)))).all()
        }

    providers: dict[str, ProviderSpec] = {}
    for provider_row in (await session.scalars(select(Provider))).all():
        credential = (
            cipher.decrypt(provider_row.credential_encrypted, provider=provider_row.name)
            if provider_row.credential_encrypted is not None
            else None
        )
        providers[provider_row.name] = ProviderSpec(
            id=provider_row.id,
            name=provider_row.name,
            kind=provider_row.kind,
            api_base=provider_row.api_base,
            api_version=provider_row.api_version,
            credential=credential,
            extra_params=dict(provider_row.extra_params or {}),
        )

    deployments = {
        row.name: DeploymentSpec(
            id=row.id,
            name=row.name,
            provider=row.provider.name,
            deployment=row.deployment,
            api_version=row.api_version,
            model=row.model,
        )
        for row in (
            await session.scalars(select(Deployment).options(selectinload(Deployment.provider)))
        ).all()
    }

    chain_rows = (await session.scalars(select(Chain).options(selectinload(Chain.targets)))).all()
    chains = {
        row.name: ChainSpec(
            id=row.id,
            name=row.name,
            targets=tuple(t.target for t in sorted(row.targets, key=lambda t: t.position)),
            retries=row.retries,
            backoff_ms=row.backoff_ms,
        )
        for row in chain_rows
    }
    chain_names = {row.id: row.name for row in chain_rows}

    global_rules: list[RuleSpec] = []
    tenant_rules: dict[int, list[RuleSpec]] = {}
    rule_rows = (
        await session.scalars(
            select(Rule).where(Rule.enabled.is_(True)).order_by(Rule.priority, Rule.position, Rule.id)
        )
    ).all()
    for rule_row in rule_rows:
        if rule_row.match_kind not in _MATCH_KINDS:
            log.warning("rule %s has unknown match kind %r: skipped", rule_row.id, rule_row.match_kind)
            continue
        rule = RuleSpec(
            id=rule_row.id,
            tenant_id=rule_row.tenant_id,
            match=rule_row.match,
            match_kind=cast(MatchKind, rule_row.match_kind),
            conditions=_conditions(rule_row.conditions),
            priority=rule_row.priority,
            position=rule_row.position,
            target=rule_row.target,
            chain=chain_names.get(rule_row.chain_id) if rule_row.chain_id is not None else None,
            overrides=dict(rule_row.overrides or {}),
            description=rule_row.description,
        )
        if rule_row.tenant_id is None:
            global_rules.append(rule)
        else:
            tenant_rules.setdefault(rule_row.tenant_id, []).append(rule)

    prices = {row.target: row for row in (await session.scalars(select(ModelPrice))).all()}
    refs: dict[str, None] = {}
    for rule_row in rule_rows:
        if rule_row.target:
            refs[rule_row.target] = None
    for chain in chains.values():
        refs.update(dict.fromkeys(chain.targets))
    builder = _TargetBuilder(providers, deployments, prices, describe_model)
    targets: dict[str, Target] = {}
    for ref in refs:
        if ref.startswith(POOL_PREFIX):
            continue
        target = builder.build(ref)
        if target is not None:
            targets[ref] = target
    pools: dict[str, Pool] = {}
    for pool_row in (await session.scalars(select(PoolRow).options(selectinload(PoolRow.members)))).all():
        members: list[PoolMember] = []
        for m in sorted(pool_row.members, key=lambda m: m.position):
            member_target = targets.get(m.target) or builder.build(m.target)
            if member_target is not None:
                members.append(PoolMember(member_target, max(1, m.weight), m.rpm, m.tpm))
        if not members:
            log.warning("pool %r has no usable member: skipped", pool_row.name)
            continue
        strategy = pool_row.strategy if pool_row.strategy in POOL_STRATEGIES else "weighted"
        pools[pool_row.name] = Pool(pool_row.name, strategy, tuple(members), sticky=pool_row.sticky)

    return RoutingConfig(
        version=version,
        tenants=tenants,
        targets=targets,
        chains=chains,
        global_rules=tuple(global_rules),
        tenant_rules={tenant_id: tuple(rules) for tenant_id, rules in tenant_rules.items()},
        keys=keys,
        pools=pools,
    )


class SnapshotHolder:
    """The current `RoutingConfig` of this process, rebuilt whenever the config version moves."""

    def __init__(
        self,
        db: Database,
        cipher: Decrypter,
        describe_model: DescribeModel,
        *,
        poll_interval: float = 1.0,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._describe_model = describe_model
        self.poll_interval = poll_interval
        self._current: RoutingConfig | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[ChangeListener] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def current(self) -> RoutingConfig | None:
        """The last good snapshot; None until the first load succeeds."""
        return self._current

    def on_change(self, callback: ChangeListener) -> None:
        """Call `callback(config)` (sync or async) after every rebuild."""
        self._listeners.append(callback)

    async def load(self) -> RoutingConfig:
        """Rebuild now, raising on failure (the last good snapshot stays)."""
        async with self._lock:
            return await self._rebuild()

    async def refresh(self, force: bool = False) -> bool:
        """Rebuild if the version moved (or `force`); True when rebuilt. Failures are logged, never raised."""
        try:
            async with self._lock:
                if not force and self._current is not None:
                    async with self._db.session() as session:
                        version = await get_config_version(session)
                    if version == self._current.version:
                        return False
                await self._rebuild()
                return True
        except (OSError, DBAPIError) as exc:  # the database is away: expected during restarts, one line
            log.warning(
                "routing snapshot not refreshed (database unreachable: %s); keeping version %s",
                type(exc).__name__,
                self.version,
            )
            return False
        except Exception:  # the boundary of a background rebuild: keep the last good snapshot, say why
            log.exception("routing snapshot rebuild failed; keeping version %s", self.version)
            return False

    @property
    def version(self) -> int | None:
        return self._current.version if self._current is not None else None

    async def _rebuild(self) -> RoutingConfig:
        async with self._db.session() as session:
            config = await load_routing_config(session, self._cipher, self._describe_model)
        previous = self._current
        self._current = config
        if previous is None or previous.version != config.version:
            log.info("routing snapshot at config version %s", config.version)
        for listener in list(self._listeners):
            try:
                result = listener(config)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one listener's failure must not stop the others or the poller
                log.exception("routing snapshot listener failed")
        return config

    async def start(self, poll_interval: float | None = None) -> None:
        """Start polling the version, then load once (a failure is logged: the poller keeps trying).

        The poller starts first so that a caller bounding this call's wait (a database that does not
        answer) still leaves a holder that loads the snapshot once the database is back.
        """
        if poll_interval is not None:
            self.poll_interval = poll_interval
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="routing-snapshot-poller")
        await self.refresh(force=self._current is None)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            await self.refresh()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
