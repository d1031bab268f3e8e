"""Configuration as plain data: one draft type per entity, as `config apply`, the catalog, the admin pages
and the management API hand it to validate/, and the problems validation finds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AlertDraft",
    "ChainDraft",
    "ConfigInvalid",
    "DeploymentDraft",
    "DesiredConfig",
    "PoolDraft",
    "PoolMemberDraft",
    "PriceDraft",
    "ProviderDraft",
    "RuleDraft",
    "SsoAdminDraft",
    "SsoDraft",
    "SsoMemberDraft",
    "TargetRef",
    "TenantDraft",
    "ValidationIssue",
]


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigInvalid(Exception):
    """A configuration with problems; nothing was applied."""

    def __init__(self, issues: Sequence[ValidationIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True, slots=True)
class ProviderDraft:
    name: str
    kind: str
    api_base: str | None = None
    api_version: str | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)
    # The credential in clear (from the file or the environment; never validated into a message) and the
    # `${ENV}` name it came from, if any.
    api_key: str | None = field(default=None, repr=False)
    credential_ref: str | None = None


@dataclass(frozen=True, slots=True)
class DeploymentDraft:
    name: str
    provider: str
    deployment: str
    model: str
    api_version: str | None = None


@dataclass(frozen=True, slots=True)
class ChainDraft:
    name: str
    targets: tuple[str, ...]
    retries: int = 0
    backoff_ms: int = 250


@dataclass(frozen=True, slots=True)
class RuleDraft:
    # The stored pattern (no `re:` prefix) and its kind.
    match: str
    match_kind: str
    conditions: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None
    chain: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    description: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class TenantDraft:
    name: str
    rules: tuple[RuleDraft, ...] = ()
    allowed_targets: tuple[str, ...] | None = None
    enabled: bool = True
    rpm: int | None = None
    tpm: int | None = None
    # The tenant's own budgets, (window, USD) by window: day, week, month (UTC).
    budgets: tuple[tuple[str, Any], ...] = ()
    # Claude Code managed settings for the tenant's signed-in members; None: no policy.
    managed_settings: dict[str, Any] | None = None
    # Members issue, rotate and revoke their own keys on /me.
    member_self_service: bool = False
    # Budgets of members (each member's keys in the tenant together): (member, ((window, USD), ...)).
    member_budgets: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    @property
    def budget_usd(self) -> Any:
        """The month budget (what `limits.budget_usd` says)."""
        return dict(self.budgets).get("month")


@dataclass(frozen=True, slots=True)
class SsoMemberDraft:
    """People in IdP `group` sign in (Claude Code) as members of `tenant`; their group's managed settings
    are layered over the tenant's."""

    group: str
    tenant: str
    managed_settings: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SsoAdminDraft:
    """People in IdP `group` sign in to the admin page with `role` (over `tenants`, when given)."""

    group: str
    role: str
    tenants: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SsoDraft:
    members: tuple[SsoMemberDraft, ...] = ()
    admins: tuple[SsoAdminDraft, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceDraft:
    target: str
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class PoolMemberDraft:
    target: str
    weight: int = 1
    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class PoolDraft:
    name: str
    members: tuple[PoolMemberDraft, ...]
    strategy: str = "weighted"
    sticky: bool = True


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """A webhook told when something watched crosses a threshold (router/alerts/).

    `watch`: "budget" (percent of a tenant's, member's or key's budget used in its window), "error_rate"
    (percent of a target's attempts failing over the last `window_minutes`), "cooldown" (a target being
    skipped after repeated failures; no thresholds). The webhook URL and the signing secret are secrets
    (a Slack hook's path is its token): kept encrypted, exported only as their `${ENV}` references.
    """

    name: str
    watch: str
    webhook: str = field(default="", repr=False)
    thresholds: tuple[float, ...] = ()
    # Budget alerts: only these tenants' budgets (None: every tenant), only these kinds of subject.
    tenants: tuple[str, ...] | None = None
    subjects: tuple[str, ...] | None = None
    # Error-rate and cool-down alerts: only targets matching these refs or globs (None: every target).
    targets: tuple[str, ...] | None = None
    window_minutes: int = 5
    min_requests: int = 10
    secret: str | None = field(default=None, repr=False)
    enabled: bool = True
    # The `${ENV}` names the webhook and the secret came from (export writes them back).
    webhook_ref: str | None = None
    secret_ref: str | None = None


@dataclass(frozen=True, slots=True)
class DesiredConfig:
    providers: tuple[ProviderDraft, ...] = ()
    deployments: tuple[DeploymentDraft, ...] = ()
    chains: tuple[ChainDraft, ...] = ()
    rules: tuple[RuleDraft, ...] = ()
    tenants: tuple[TenantDraft, ...] = ()
    prices: tuple[PriceDraft, ...] = ()
    sso: SsoDraft = SsoDraft()
    pools: tuple[PoolDraft, ...] = ()
    alerts: tuple[AlertDraft, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetRef:
    """A parsed ref: `openai/gpt-4.1` -> provider openai, model gpt-4.1; `deployment/x` -> deployment x."""

    ref: str
    provider: str | None
    model: str | None
    deployment: str | None
    pool: str | None = None

    @property
    def is_deployment(self) -> bool:
        return self.deployment is not None
