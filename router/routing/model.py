"""The routing snapshot: plain, immutable data built from the database once per config version.

Pure: no database, no web framework, no LiteLLM. `store/snapshot.py` builds a `RoutingConfig` from SQL rows
(decrypting credentials and looking up model limits and prices once per version, never per request);
`routing/resolve.py` compiles it into a `Resolver` and answers each request from memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from router.routing.patterns import MatchKind


# UTC calendar windows: a day from 00:00, an ISO week from Monday 00:00, a month from the 1st 00:00.
BudgetWindow = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """A cap in USD on the spend of one UTC calendar window."""

    window: BudgetWindow
    amount_usd: float


@dataclass(frozen=True, slots=True)
class Limits:
    """Requests per minute, tokens per minute (None: no limit) and budgets (at most one per window)."""

    rpm: int | None = None
    tpm: int | None = None
    budgets: tuple[BudgetSpec, ...] = ()

    @property
    def any(self) -> bool:
        return self.rpm is not None or self.tpm is not None or bool(self.budgets)

    def budget(self, window: BudgetWindow) -> float | None:
        """The amount of the budget for `window`, or None."""
        return next((b.amount_usd for b in self.budgets if b.window == window), None)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per token (not per million) so that the hot path multiplies and adds only."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> float:
        return (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read * self.cache_read
            + cache_write * self.cache_write
        )


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    id: int
    name: str
    # "openai", "azure", "gemini", "anthropic", or any LiteLLM provider string ("openrouter", "ollama", ...)
    kind: str
    api_base: str | None
    api_version: str | None
    # Decrypted once per snapshot; never logged (repr=False).
    credential: str | None = field(repr=False)
    extra_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    id: int
    name: str
    provider: str
    deployment: str
    api_version: str | None
    model: str


@dataclass(frozen=True, slots=True)
class Target:
    """One concrete thing a request can be sent to."""

    # "openai/gpt-4.1" or "deployment/gpt4o-eu": how rules, chains, usage and the UI name it.
    ref: str
    provider: ProviderSpec
    # The model name the upstream is called with (an Azure target: the deployment name).
    upstream_model: str
    # The underlying model, for LiteLLM's limits and prices ("gpt-4o" behind an Azure deployment).
    base_model: str
    deployment: DeploymentSpec | None = None
    max_output_tokens: int | None = None
    max_input_tokens: int | None = None
    price: Price = field(default_factory=Price)

    @property
    def api_version(self) -> str | None:
        if self.deployment is not None and self.deployment.api_version:
            return self.deployment.api_version
        return self.provider.api_version


PoolStrategy = Literal["weighted", "least-busy", "lowest-latency"]
POOL_STRATEGIES: tuple[PoolStrategy, ...] = ("weighted", "least-busy", "lowest-latency")


@dataclass(frozen=True, slots=True)
class PoolMember:
    """One member of a pool: a target, its weight, and the provider-side quota it must stay under."""

    target: Target
    weight: int = 1
    # Requests / tokens per minute this member may take (the deployment's quota at the provider).
    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class Pool:
    """Several targets serving as one (`pool/NAME`): each request goes to one member, chosen by strategy."""

    name: str
    strategy: PoolStrategy
    members: tuple[PoolMember, ...]
    # Requests of one client session stay on one member while it is healthy (prompt caches stay warm).
    sticky: bool = True

    @property
    def ref(self) -> str:
        return f"pool/{self.name}"

    @property
    def max_input_tokens(self) -> int | None:
        windows = [m.target.max_input_tokens for m in self.members if m.target.max_input_tokens]
        return max(windows) if windows else None


# What a route tries in turn: a target, or a pool whose member is chosen per request.
RouteEntry = Target | Pool


@dataclass(frozen=True, slots=True)
class Conditions:
    """Request facts a rule may require; None means "don't care"."""

    thinking: bool | None = None
    tools: bool | None = None
    tool: str | None = None
    stream: bool | None = None
    min_input_tokens: int | None = None
    member: str | None = None
    # ">=80", "<50", or a number (>=): the caller's tightest budget use, in percent.
    budget_used_pct: str | float | None = None

    @property
    def empty(self) -> bool:
        return all(
            v is None
            for v in (
                self.thinking,
                self.tools,
                self.tool,
                self.stream,
                self.min_input_tokens,
                self.member,
                self.budget_used_pct,
            )
        )


@dataclass(frozen=True, slots=True)
class ChainSpec:
    id: int
    name: str
    targets: tuple[str, ...]
    retries: int = 0
    backoff_ms: int = 250


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: int
    tenant_id: int | None
    match: str
    match_kind: MatchKind
    conditions: Conditions
    priority: int
    position: int
    target: str | None
    chain: str | None
    # {"max_tokens": int, "temperature": float, "reasoning_effort": str}
    overrides: dict[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True, slots=True)
class TenantSpec:
    id: int
    name: str
    enabled: bool = True
    allowed_targets: frozenset[str] | None = None
    limits: Limits = field(default_factory=Limits)
    # member name -> the budgets of that member's keys in this tenant, together.
    member_budgets: dict[str, tuple[BudgetSpec, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What the request path knows about a proxy key (found by its hash)."""

    id: int
    tenant_id: int
    member: str
    prefix: str
    expires_at: datetime | None = None
    revoked: bool = False
    allowed_models: tuple[str, ...] | None = None
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Everything the request path needs, as of one config version."""

    version: int
    tenants: dict[int, TenantSpec]
    targets: dict[str, Target]
    chains: dict[str, ChainSpec]
    # Global rules (tenant_id None) and each tenant's own, each list in (priority, position) order.
    global_rules: tuple[RuleSpec, ...]
    tenant_rules: dict[int, tuple[RuleSpec, ...]]
    # key hash -> key
    keys: dict[str, KeySpec] = field(default_factory=dict)
    pools: dict[str, Pool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a rule can look at, taken from one request."""

    model: str
    thinking: bool = False
    tools: bool = False
    tool_names: frozenset[str] = frozenset()
    stream: bool = False
    input_tokens: int = 0
    member: str | None = None
    # The client's session (from metadata.user_id), for sticky pools; not a rule condition.
    session: str | None = None
    # Spend against the tightest monthly budget of the caller's key or tenant, in percent (None: no budget).
    budget_used_pct: float | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """The resolver's answer: the targets to try in order, and the rule that chose them."""

    rule: RuleSpec
    targets: tuple[RouteEntry, ...]
    chain: ChainSpec | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


class SnapshotSource(Protocol):
    """Where the request path reads the current routing configuration (store/snapshot.py: SnapshotHolder);
    None until the database has been reachable once."""

    @property
    def current(self) -> RoutingConfig | None: ...
