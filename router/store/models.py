"""The database schema as typed SQLAlchemy 2 models.

Every admin-managed object lives here; a change to any of them bumps `ConfigVersion` in the same transaction,
which is how every process learns that its routing snapshot and key cache are stale.
Usage rows carry plain ids (no foreign keys) so that batched inserts stay cheap and history survives
deletions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[dict[str, Any]]: JSON}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Tenant(Timestamps, Base):
    """A team. Its keys, rules and limits belong to it."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # None: any target; otherwise the target refs ("openai/gpt-4.1", "deployment/gpt4o-eu") it may reach.
    allowed_targets: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    rpm: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tpm: Mapped[int | None] = mapped_column(BigInteger, default=None)
    budget_usd: Mapped[float | None] = mapped_column(Float, default=None)
    # The Claude Code managed settings its signed-in members get (GET /managed/settings); None: no policy.
    managed_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Members signed in at /me may issue, rotate and revoke their own keys (within the tenant's limits).
    member_self_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    keys: Mapped[list[ApiKey]] = relationship(back_populates="tenant", cascade="all, delete-orphan")
    rules: Mapped[list[Rule]] = relationship(back_populates="tenant", cascade="all, delete-orphan")


class ApiKey(Base):
    """A member's proxy key. Only its SHA-256 hash and a short visible prefix are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    member: Mapped[str] = mapped_column(String(200))
    # A name the admin gives the key ("laptop", "CI"); shown beside its prefix.
    alias: Mapped[str | None] = mapped_column(String(100), default=None)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # None: any model; otherwise glob patterns of requested model names this key may ask for.
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    rpm: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tpm: Mapped[int | None] = mapped_column(BigInteger, default=None)
    budget_usd: Mapped[float | None] = mapped_column(Float, default=None)

    tenant: Mapped[Tenant] = relationship(back_populates="keys")


class Provider(Timestamps, Base):
    """A configured backend account of a kind: openai, azure, gemini, anthropic, or a LiteLLM provider."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    api_base: Mapped[str | None] = mapped_column(String(500), default=None)
    api_version: Mapped[str | None] = mapped_column(String(50), default=None)
    # Fernet token (see store/crypto.py); never returned to a browser or an export.
    credential_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    # The `${ENV}` reference a config file gave for the credential, so that export can write it back.
    credential_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    extra_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="provider", cascade="all, delete-orphan"
    )


class Deployment(Timestamps, Base):
    """An Azure OpenAI deployment: the path segment to call and the model behind it (limits, prices)."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    deployment: Mapped[str] = mapped_column(String(200))
    api_version: Mapped[str | None] = mapped_column(String(50), default=None)
    model: Mapped[str] = mapped_column(String(200))

    provider: Mapped[Provider] = relationship(back_populates="deployments")


class Chain(Timestamps, Base):
    """A fallback chain: targets tried in order."""

    __tablename__ = "chains"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Extra tries of the same target before moving on, and the base backoff between them (jittered).
    retries: Mapped[int] = mapped_column(Integer, default=0)
    backoff_ms: Mapped[int] = mapped_column(Integer, default=250)

    targets: Mapped[list[ChainTarget]] = relationship(
        back_populates="chain", cascade="all, delete-orphan", order_by="ChainTarget.position"
    )


class ChainTarget(Base):
    __tablename__ = "chain_targets"
    __table_args__ = (UniqueConstraint("chain_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chains.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # "PROVIDER/MODEL" or "deployment/NAME"
    target: Mapped[str] = mapped_column(String(300))

    chain: Mapped[Chain] = relationship(back_populates="targets")


class Pool(Timestamps, Base):
    """Several targets serving as one (`pool/NAME`): a member is chosen per request by `strategy`."""

    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # "weighted", "least-busy" or "lowest-latency"
    strategy: Mapped[str] = mapped_column(String(20), default="weighted")
    # Requests of one client session stay on one member while it is healthy.
    sticky: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list[PoolMember]] = relationship(
        back_populates="pool", cascade="all, delete-orphan", order_by="PoolMember.position"
    )


class PoolMember(Base):
    __tablename__ = "pool_members"
    __table_args__ = (UniqueConstraint("pool_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # "PROVIDER/MODEL" or "deployment/NAME"
    target: Mapped[str] = mapped_column(String(300))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    # The member's quota at the provider; None: none.
    rpm: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tpm: Mapped[int | None] = mapped_column(BigInteger, default=None)

    pool: Mapped[Pool] = relationship(back_populates="members")


class Rule(Timestamps, Base):
    """A mapping rule, global (tenant_id NULL) or a tenant's own: pattern + conditions -> target or chain."""

    __tablename__ = "rules"
    __table_args__ = (Index("ix_rules_tenant_order", "tenant_id", "priority", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), default=None)
    match: Mapped[str] = mapped_column(String(500))
    # "exact", "glob" or "regex"
    match_kind: Mapped[str] = mapped_column(String(10), default="glob")
    # {"thinking": bool, "tools": bool, "tool": str, "stream": bool, "min_input_tokens": int, "member": str}
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Lower runs first; ties keep their position.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[str | None] = mapped_column(String(300), default=None)
    chain_id: Mapped[int | None] = mapped_column(ForeignKey("chains.id", ondelete="RESTRICT"), default=None)
    # {"max_tokens": int, "temperature": float, "reasoning_effort": str}
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(500), default=None)

    tenant: Mapped[Tenant | None] = relationship(back_populates="rules")
    chain: Mapped[Chain | None] = relationship()


class ModelPrice(Timestamps, Base):
    """A price override for one target (deployments and private models LiteLLM's cost map does not know)."""

    __tablename__ = "model_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(300), unique=True)
    input_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    output_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    cache_read_per_mtok: Mapped[float | None] = mapped_column(Float, default=None)
    cache_write_per_mtok: Mapped[float | None] = mapped_column(Float, default=None)


class UsageRecord(Base):
    """One request (with all its attempts): tokens, cost, latency, outcome."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_tenant_time", "tenant_id", "created_at"),
        Index("ix_usage_key_time", "key_id", "created_at"),
        Index("ix_usage_model_time", "requested_model", "created_at"),
        Index("ix_usage_time", "created_at"),
        # Request detail by id (`router usage show`), at any table size.
        Index("ix_usage_request_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    request_id: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_prefix: Mapped[str | None] = mapped_column(String(32), default=None)
    member: Mapped[str | None] = mapped_column(String(200), default=None)
    requested_model: Mapped[str] = mapped_column(String(300), default="")
    # The target that answered (None when none did), e.g. "openai/gpt-4.1".
    target: Mapped[str | None] = mapped_column(String(300), default=None)
    provider: Mapped[str | None] = mapped_column(String(100), default=None)
    upstream_model: Mapped[str | None] = mapped_column(String(300), default=None)
    # [{"target", "status", "error_type", "latency_ms"}] in the order tried
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status: Mapped[int] = mapped_column(Integer, default=200)
    error_type: Mapped[str | None] = mapped_column(String(64), default=None)
    # "ok", "error", "client_cancelled", "rejected"
    outcome: Mapped[str] = mapped_column(String(20), default="ok")


class UsageHourly(Base):
    """Hourly rollup of usage_records, kept by the writer in the same transaction as the raw rows.

    One row per UTC hour and group (tenant, key, member, requested model, target, outcome). `dims` is a hash
    of the group's values (NULLs included), so that one unique index serves the upsert on both backends
    (a unique index over nullable columns would let NULL groups repeat). Cost is summed in integer
    nano-dollars: exact sums, and no float noise in reports and exports.
    """

    __tablename__ = "usage_hourly"
    __table_args__ = (
        UniqueConstraint("hour", "dims", name="uq_usage_hourly_hour_dims"),
        Index("ix_usage_hourly_tenant_hour", "tenant_id", "hour"),
        Index("ix_usage_hourly_key_hour", "key_id", "hour"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dims: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_prefix: Mapped[str | None] = mapped_column(String(32), default=None)
    member: Mapped[str | None] = mapped_column(String(200), default=None)
    requested_model: Mapped[str] = mapped_column(String(300), default="")
    target: Mapped[str | None] = mapped_column(String(300), default=None)
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_nanousd: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_ms_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_count: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageDeadLetter(Base):
    """A usage record the database refused even after the writer bounded it: kept aside, whole, so that
    it never blocks the records behind it; `router usage-dead-letters` lists and replays them."""

    __tablename__ = "usage_dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    # The event as ASCII JSON (NUL and surrogates escaped), so that the text itself is always storable.
    payload: Mapped[str] = mapped_column(Text)
    # The database's refusal, first line, cut to 1,000 characters.
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)


class AdminUser(Base):
    """A person who signs in to the admin page: a role, and for tenant-admins and viewers the tenants."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Kept in the database so that the slow-down after failed sign-ins holds across replicas.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # "owner", "admin", "tenant-admin" or "viewer" (router/identity/roles.py).
    role: Mapped[str] = mapped_column(String(20), default="owner", server_default="owner")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    tenant_links: Mapped[list[AdminUserTenant]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def tenant_ids(self) -> list[int]:
        return sorted(link.tenant_id for link in self.tenant_links)


class AdminUserTenant(Base):
    """A tenant an admin user is limited to (tenant-admins always, viewers optionally)."""

    __tablename__ = "admin_user_tenants"

    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)


class AdminSessionRow(Base):
    """A signed-in browser: the cookie carries a random token, only its SHA-256 is stored."""

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The absolute end, fixed at sign-in; the idle end moves with last_seen_at.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    address: Mapped[str | None] = mapped_column(String(64), default=None)


class AdminApiToken(Base):
    """A management API token (/api/v1): shown once, stored as a SHA-256 hash and a visible prefix."""

    __tablename__ = "admin_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # None: every tenant (owner, admin, unrestricted viewer); otherwise the tenant ids it is limited to.
    tenant_ids: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class MemberPageSession(Base):
    """A member signed in to /me through the IdP: the cookie's token hash, their e-mail and tenants."""

    __tablename__ = "member_page_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(200))
    tenant_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInThrottle(Base):
    """Failed sign-ins per user name (known or not: no oracle) and attempts per client address.

    Updated by single atomic UPDATE statements, so parallel attempts count exactly like sequential ones.
    """

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AuditEntry(Base):
    """Who changed what and when, with before and after (credentials redacted)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(100), default=None)
    object_name: Mapped[str | None] = mapped_column(String(300), default=None)
    tenant_id: Mapped[int | None] = mapped_column(Integer, default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ConfigVersion(Base):
    """A single row whose version moves on every admin change; processes poll it to rebuild their snapshot."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class SsoMapping(Base):
    """Who may sign in through the IdP: a group that makes its people members of a tenant (kind "member"),
    or admins of a role, optionally over some tenants (kind "admin"). Config-as-code's `sso:` section."""

    __tablename__ = "sso_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "member" or "admin"
    kind: Mapped[str] = mapped_column(String(10))
    group: Mapped[str] = mapped_column(String(200))
    # Members: the tenant they sign in to.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), default=None)
    # Admins: owner, admin, tenant-admin or viewer, and the tenants a tenant-admin or viewer is limited to.
    role: Mapped[str | None] = mapped_column(String(20), default=None)
    tenants: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # Members: managed settings layered over the tenant's for people in this group.
    managed_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)

    tenant: Mapped[Tenant | None] = relationship()


class OidcLogin(Base):
    """One browser's trip to the IdP, kept server-side so that any replica can finish it at /oidc/callback.

    Keyed by the OAuth `state`; holds the PKCE verifier and the nonce, and what the flow that started it needs
    to finish (`purpose` picks the completion handler: "admin" or "device"). Used once, then deleted.
    """

    __tablename__ = "oidc_logins"

    state: Mapped[str] = mapped_column(String(100), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    code_verifier: Mapped[str] = mapped_column(String(200))
    nonce: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Binds the trip to the browser that started it (a hash of a cookie set then), so a link cannot be
    # finished in another browser.
    browser_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DeviceAuthorization(Base):
    """An RFC 8628 device authorization: Claude Code polls with the device code, a browser approves the
    user code. Only the device code's hash is stored."""

    __tablename__ = "device_authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(9), unique=True)
    # "pending", "approved", "denied", "used"
    status: Mapped[str] = mapped_column(String(10), default="pending")
    surface: Mapped[str | None] = mapped_column(String(50), default=None)
    interval: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Set on approval: the sign-in session the token grant hands out.
    session_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # Why a denied code was denied (shown in the browser, never to the polling client).
    denied_reason: Mapped[str | None] = mapped_column(String(200), default=None)


class SigninSession(Base):
    """A member signed in through the IdP (Claude Code's /login): who, for which tenant, and the refresh
    token (hashed, rotated on use). Minted access tokens name the session; revoking it ends them all."""

    __tablename__ = "signin_sessions"
    __table_args__ = (Index("ix_signin_sessions_member", "tenant_id", "member"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The member's proxy-key row that carries their limits and usage (created at first sign-in).
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    member: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    surface: Mapped[str | None] = mapped_column(String(50), default=None)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # The IdP's refresh token (encrypted like provider credentials): each refresh asks the IdP again, so a
    # person disabled there or removed from their group is refused at the next refresh.
    idp_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The refresh token's end; each refresh moves it on.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None, index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(200), default=None)


class Alert(Timestamps, Base):
    """A webhook told when something watched crosses a threshold (config `alerts:`, router/alerts/).

    The webhook URL is a secret (a Slack hook's path is its token): stored encrypted like provider
    credentials, with only its host in clear for pages; the signing secret likewise."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # "budget", "error_rate" or "cooldown"
    watch: Mapped[str] = mapped_column(String(20))
    # Percentages, ascending.
    thresholds: Mapped[list[float]] = mapped_column(JSON, default=list)
    # Budget alerts: tenant names and subject kinds ("tenant", "member", "key") watched; None: all.
    tenants: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    subjects: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # Error-rate and cool-down alerts: target refs or globs watched; None: all.
    targets: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    window_minutes: Mapped[int] = mapped_column(Integer, default=5)
    min_requests: Mapped[int] = mapped_column(Integer, default=10)
    webhook_encrypted: Mapped[str] = mapped_column(Text)
    webhook_host: Mapped[str] = mapped_column(String(255))
    webhook_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    secret_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AlertDelivery(Base):
    """One firing of an alert and its delivery to the webhook.

    The unique (alert, subject, threshold, window start) is the claim: the replica whose insert lands owns
    the firing, so several replicas evaluating the same numbers send it once. Sending (and retrying, with
    back-off) takes a short lease on the row, so a retry is never sent twice either, and a replica that
    dies mid-delivery leaves it to the others. Rows outlive their alert (alert_id set NULL) as history."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "alert_id", "subject", "threshold", "window_start", name="uq_alert_deliveries_firing"
        ),
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), default=None)
    alert_name: Mapped[str] = mapped_column(String(100))
    # "tenant:acme", "key:rk-ab12", "member:acme/ann", "target:openai/gpt-4.1", "test"
    subject: Mapped[str] = mapped_column(String(400))
    threshold: Mapped[float] = mapped_column(Float, default=0.0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[float] = mapped_column(Float, default=0.0)
    # The JSON body sent (the same on every attempt).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # "pending" (to send, or to retry at next_attempt_at), "delivered", "failed" (gave up), "superseded"
    # (a higher threshold of the same subject and window was crossed at the same time and sent instead).
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
