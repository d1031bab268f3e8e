"""Request and response bodies of the management API (types only: the rules live in the shared validators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from router.config.drafts import RuleDraft
from router.config.rules import written_rule


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Out = TypeVar("Out", bound=BaseModel)


def out(model: type[Out], source: object, **derived: Any) -> Out:
    """`model` filled from `source`'s attributes of the same names, and from `derived` for the fields the
    source holds in another shape (a relation's name, a flag computed from a column)."""
    fields = {name: getattr(source, name) for name in model.model_fields if name not in derived}
    return model.model_validate({**fields, **derived})


class TenantIn(In):
    name: str
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    allowed_targets: list[str] | None = None


class TenantPatch(In):
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    allowed_targets: list[str] | None = None
    enabled: bool | None = None
    member_self_service: bool | None = None


class TenantOut(BaseModel):
    id: int
    name: str
    enabled: bool
    member_self_service: bool
    rpm: int | None
    tpm: int | None
    # The month budget (as before), and every budget of the tenant itself by window.
    budget_usd: float | None
    budgets: dict[str, float] = {}
    allowed_targets: list[str] | None


class KeyIn(In):
    member: str
    expires: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    allowed_models: list[str] | None = None


class KeyPatch(In):
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    allowed_models: list[str] | None = None


class KeyOut(BaseModel):
    id: int
    prefix: str
    member: str
    tenant_id: int
    created_at: datetime
    expires_at: datetime | None
    revoked: bool
    rpm: int | None
    tpm: int | None
    budget_usd: float | None
    budgets: dict[str, float] = {}
    allowed_models: list[str] | None


class IssuedKey(KeyOut):
    # The key itself: returned once, here, and never again.
    key: str


class RuleIn(In):
    match: str
    match_kind: str | None = None
    when: dict[str, Any] | None = None
    target: str | None = None
    chain: str | None = None
    overrides: dict[str, Any] | None = None
    description: str | None = None
    enabled: bool = True

    def draft(self) -> RuleDraft:
        """The rule this body describes, as the one rule draft the catalog validates and stores."""
        return written_rule(
            self.match,
            self.match_kind,
            conditions=self.when,
            target=self.target,
            chain=self.chain,
            overrides=self.overrides,
            description=self.description,
            enabled=self.enabled,
        )


class RulePatch(In):
    """Only the fields sent change; a new target clears the chain and the reverse."""

    match: str | None = None
    match_kind: str | None = None
    when: dict[str, Any] | None = None
    target: str | None = None
    chain: str | None = None
    overrides: dict[str, Any] | None = None
    description: str | None = None
    enabled: bool | None = None


class RuleMove(In):
    # The rule's new place in its level's evaluation order: 1 is evaluated first.
    position: int


class RuleOut(BaseModel):
    id: int
    tenant_id: int | None
    match: str
    match_kind: str
    when: dict[str, Any]
    target: str | None
    chain: str | None
    overrides: dict[str, Any]
    description: str | None
    enabled: bool


class ProviderIn(In):
    name: str
    kind: str
    api_base: str | None = None
    api_version: str | None = None
    extra_params: dict[str, Any] | None = None
    # Owners only. A plain key, or a JSON object's text for providers with several secrets.
    api_key: str | None = None


class ProviderPatch(In):
    """Only the fields sent change. `api_key` (owners only) replaces the credential; null removes it."""

    name: str | None = None
    kind: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    extra_params: dict[str, Any] | None = None
    api_key: str | None = None


class ProviderOut(BaseModel):
    id: int
    name: str
    kind: str
    api_base: str | None
    api_version: str | None
    extra_params: dict[str, Any]
    # Credentials never leave the router: only whether one is set.
    has_credential: bool


class DeploymentIn(In):
    name: str
    provider: str
    deployment: str
    model: str
    api_version: str | None = None


class DeploymentPatch(In):
    name: str | None = None
    provider: str | None = None
    deployment: str | None = None
    model: str | None = None
    api_version: str | None = None


class DeploymentOut(BaseModel):
    id: int
    name: str
    provider: str
    deployment: str
    model: str
    api_version: str | None


class ChainIn(In):
    name: str
    targets: list[str]
    retries: int = 0
    backoff_ms: int = 250


class ChainPatch(In):
    name: str | None = None
    targets: list[str] | None = None
    retries: int | None = None
    backoff_ms: int | None = None


class ChainOut(BaseModel):
    id: int
    name: str
    targets: list[str]
    retries: int
    backoff_ms: int


class UserIn(In):
    username: str
    role: str
    tenants: list[str] = []
    password: str | None = None


class UserPatch(In):
    role: str | None = None
    tenants: list[str] | None = None
    disabled: bool | None = None
    password: str | None = None


class UserOut(BaseModel):
    username: str
    role: str
    tenants: list[str]
    disabled: bool
    last_login_at: datetime | None


class UsageOut(BaseModel):
    since: datetime
    until: datetime | None
    tenant_id: int | None
    group_by: str | None
    rows: list[dict[str, Any]]


class WhoAmI(BaseModel):
    name: str
    role: str
    tenant_ids: list[int] | None


class ReachRefOut(BaseModel):
    ref: str
    # False: the tenant's allowed_targets leave it out (requests skip it).
    allowed: bool


class ReachRuleOut(BaseModel):
    level: str
    number: int
    id: int
    match: str
    when: dict[str, Any]
    chain: str | None
    targets: list[ReachRefOut]
    unreachable: str | None


class ReachTargetOut(BaseModel):
    ref: str
    provider: str | None
    kind: str | None
    model: str | None
    via: list[str]


class ReachOut(BaseModel):
    """What one tenant's requests can reach: no base URL, no credential."""

    tenant: str
    allowed_targets: list[str] | None
    rules: list[ReachRuleOut]
    targets: list[ReachTargetOut]


class BudgetIn(In):
    """A budget of the tenant (no member, no key_id), of a member or of a key; amount_usd null removes."""

    window: str
    amount_usd: float | None
    member: str | None = None
    key_id: int | None = None


class BudgetOut(BaseModel):
    id: int
    subject: str  # "tenant", "member" or "key"
    member: str | None
    key_id: int | None
    key_prefix: str | None
    window: str  # "day", "week" (ISO, from Monday) or "month", in UTC
    amount_usd: float
    spent_usd: float
    remaining_usd: float
    resets_at: datetime
