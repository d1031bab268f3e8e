"""The database schema's base, and the admin-managed objects as typed SQLAlchemy 2 models.

Every admin-managed object lives here; a change to any of them bumps `ConfigVersion` in the same transaction,
which is how every process learns that its routing snapshot and key cache are stale. The usage tables are in
usage_models.py, the sign-in and session tables in identity_models.py (all on this module's `Base`).

No `from __future__ import annotations` here: with it every `Mapped[...]` annotation is a string that
SQLAlchemy compiles and evaluates again (~300 evals, ~5 ms of every CLI data command's start); evaluated by
Python instead, only the relationships to classes defined further down are written as strings.
"""

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, object_session, relationship

from router.config import lengths as L

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
    name: Mapped[str] = mapped_column(String(L.NAME_CHARS), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # None: any target; otherwise the target refs ("openai/gpt-4.1", "deployment/gpt4o-eu") it may reach.
    allowed_targets: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    rpm: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tpm: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The Claude Code managed settings its signed-in members get (GET /managed/settings); None: no policy.
    managed_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Members signed in at /me may issue, rotate and revoke their own keys (within the tenant's limits).
    member_self_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    keys: Mapped[list["ApiKey"]] = relationship(back_populates="tenant", cascade="all, delete-orphan")
    rules: Mapped[list["Rule"]] = relationship(back_populates="tenant", cascade="all, delete-orphan")
    # Every budget in the tenant: its own, its members' and its keys' (always loaded: a handful of rows).
    budgets: Mapped[list["Budget"]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", lazy="selectin", order_by="Budget.id"
    )

    def __init__(self, **values: Any) -> None:
        # A new row's budgets are known (none), so reading them never lazy-loads (no I/O in async code).
        super().__init__(**{"budgets": [], **values})

    @property
    def budget_usd(self) -> float | None:
        """The tenant's own month budget (what `--budget-usd` alone and `limits.budget_usd` mean)."""
        return window_amount(self.budgets, "tenant", "", "month")

    @budget_usd.setter
    def budget_usd(self, amount: float | None) -> None:
        set_window_amount(self.budgets, Budget(subject_kind="tenant", member="", window="month"), amount)


# Tables the usage writer updates in place (rollups, keys' last_used_at): room on each PostgreSQL page makes
# those updates HOT (no indexed column changes). Migration 0015 sets it on existing databases.
UPDATED_IN_PLACE_FILLFACTOR = 70

_MappedClass = TypeVar("_MappedClass", bound="type[Base]")


def updated_in_place(cls: _MappedClass) -> _MappedClass:
    """Give the class's table UPDATED_IN_PLACE_FILLFACTOR on PostgreSQL, set right after CREATE TABLE.

    Not as a `postgresql_with` table option: SQLAlchemy imports the PostgreSQL dialect to check any
    postgresql_* option, so every CLI command on SQLite paid ~0.03 s for it (tests/cli/test_cli_imports.py).
    """
    statement = text(f"ALTER TABLE {cls.__tablename__} SET (fillfactor = {UPDATED_IN_PLACE_FILLFACTOR})")

    def leave_room(_table: Any, connection: Connection, **_kw: Any) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(statement)

    event.listen(cls.__table__, "after_create", leave_room)
    return cls


@updated_in_place
class ApiKey(Base):
    """A member's proxy key. Only its SHA-256 hash and a short visible prefix are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    member: Mapped[str] = mapped_column(String(L.MEMBER_CHARS))
    # A name the admin gives the key ("laptop", "CI"); shown beside its prefix.
    alias: Mapped[str | None] = mapped_column(String(L.ALIAS_CHARS), default=None)
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

    tenant: Mapped[Tenant] = relationship(back_populates="keys")
    # The key's own budgets (its member's and tenant's are the tenant's rows).
    budgets: Mapped[list["Budget"]] = relationship(
        back_populates="key", cascade="all, delete-orphan", lazy="selectin", order_by="Budget.id"
    )

    def __init__(self, **values: Any) -> None:
        # A new row's budgets are known (none), so reading them never lazy-loads (no I/O in async code).
        super().__init__(**{"budgets": [], **values})

    @property
    def budget_usd(self) -> float | None:
        """The key's own month budget (what `--budget-usd` alone and `limits.budget_usd` mean)."""
        return window_amount(self.budgets, "key", "", "month")

    @budget_usd.setter
    def budget_usd(self, amount: float | None) -> None:
        # A key's budget rows carry its tenant too (a tenant's deletion takes them with it).
        row = Budget(subject_kind="key", tenant_id=self.tenant_id, member="", window="month")
        set_window_amount(self.budgets, row, amount)


BUDGET_WINDOWS = ("day", "week", "month")
BUDGET_SUBJECTS = ("tenant", "member", "key")


class Budget(Base):
    """A spending cap in USD on one subject for one UTC calendar window (day, ISO week from Monday, month).

    The subject is a tenant (`member` ""), one member of a tenant (their keys together, `member` = the keys'
    member name), or one key (`key_id`). A subject has at most one budget per window; several windows
    together (e.g. $20 a day and $300 a month) all apply, so the tightest one refuses first."""

    __tablename__ = "budgets"
    __table_args__ = (
        CheckConstraint("period IN ('day', 'week', 'month')", name="period"),
        CheckConstraint("subject_kind IN ('tenant', 'member', 'key')", name="subject_kind"),
        CheckConstraint("amount_usd >= 0", name="amount_usd"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(10))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), default=None, index=True
    )
    member: Mapped[str] = mapped_column(String(L.MEMBER_CHARS), default="")
    # "window" is a reserved word in PostgreSQL: the column is "period".
    window: Mapped[str] = mapped_column("period", String(10))
    amount_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tenant: Mapped[Tenant] = relationship(back_populates="budgets")
    key: Mapped[ApiKey | None] = relationship(back_populates="budgets")


# One budget per subject and window. key_id is NULL except on key budgets, and NULLs never clash in a
# unique index, hence the COALESCE (an expression index: SQLite and PostgreSQL both have them).
Index(
    "uq_budgets_subject_window",
    Budget.tenant_id,
    Budget.subject_kind,
    Budget.member,
    Budget.window,
    func.coalesce(Budget.key_id, 0),
    unique=True,
)


def window_amount(budgets: list[Budget], kind: str, member: str, window: str) -> float | None:
    """The amount of the subject's budget for `window` among `budgets` (one parent's rows), or None."""
    for row in budgets:
        if (row.subject_kind, row.member, row.window) == (kind, member, window):
            return row.amount_usd
    return None


def set_window_amount(budgets: list[Budget], row: Budget, amount: float | None) -> None:
    """Set (or with None remove) the budget `row` describes (its subject and window) in `budgets`."""
    for existing in list(budgets):
        if (existing.subject_kind, existing.member, existing.window) == (
            row.subject_kind,
            row.member,
            row.window,
        ):
            if amount is None:
                budgets.remove(existing)
                # A key's row has two parents (its key and its tenant): leaving one is not an orphan yet.
                session = object_session(existing)
                if session is not None and existing in session and inspect(existing).persistent:
                    session.delete(existing)
            else:
                existing.amount_usd = float(amount)
            return
    if amount is not None:
        row.amount_usd = float(amount)
        budgets.append(row)


class Provider(Timestamps, Base):
    """A configured backend account of a kind: openai, azure, gemini, anthropic, or a LiteLLM provider."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(L.NAME_CHARS), unique=True)
    kind: Mapped[str] = mapped_column(String(L.KIND_CHARS))
    api_base: Mapped[str | None] = mapped_column(String(L.API_BASE_CHARS), default=None)
    api_version: Mapped[str | None] = mapped_column(String(L.API_VERSION_CHARS), default=None)
    # Fernet token (see store/crypto.py); never returned to a browser or an export.
    credential_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    # The `${ENV}` reference a config file gave for the credential, so that export can write it back.
    credential_ref: Mapped[str | None] = mapped_column(String(L.ENV_REF_CHARS), default=None)
    extra_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    deployments: Mapped[list["Deployment"]] = relationship(
        back_populates="provider", cascade="all, delete-orphan"
    )


class Deployment(Timestamps, Base):
    """An Azure OpenAI deployment: the path segment to call and the model behind it (limits, prices)."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(L.NAME_CHARS), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    deployment: Mapped[str] = mapped_column(String(L.DEPLOYMENT_CHARS))
    api_version: Mapped[str | None] = mapped_column(String(L.API_VERSION_CHARS), default=None)
    model: Mapped[str] = mapped_column(String(L.MODEL_CHARS))

    provider: Mapped[Provider] = relationship(back_populates="deployments")


class Chain(Timestamps, Base):
    """A fallback chain: targets tried in order."""

    __tablename__ = "chains"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(L.NAME_CHARS), unique=True)
    # Extra tries of the same target before moving on, and the base backoff between them (jittered).
    retries: Mapped[int] = mapped_column(Integer, default=0)
    backoff_ms: Mapped[int] = mapped_column(Integer, default=250)

    targets: Mapped[list["ChainTarget"]] = relationship(
        back_populates="chain", cascade="all, delete-orphan", order_by="ChainTarget.position"
    )


class ChainTarget(Base):
    __tablename__ = "chain_targets"
    __table_args__ = (UniqueConstraint("chain_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chains.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # "PROVIDER/MODEL" or "deployment/NAME"
    target: Mapped[str] = mapped_column(String(L.TARGET_CHARS))

    chain: Mapped[Chain] = relationship(back_populates="targets")


class Pool(Timestamps, Base):
    """Several targets serving as one (`pool/NAME`): a member is chosen per request by `strategy`."""

    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(L.NAME_CHARS), unique=True)
    # "weighted", "least-busy" or "lowest-latency"
    strategy: Mapped[str] = mapped_column(String(20), default="weighted")
    # Requests of one client session stay on one member while it is healthy.
    sticky: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list["PoolMember"]] = relationship(
        back_populates="pool", cascade="all, delete-orphan", order_by="PoolMember.position"
    )


class PoolMember(Base):
    __tablename__ = "pool_members"
    __table_args__ = (UniqueConstraint("pool_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # "PROVIDER/MODEL" or "deployment/NAME"
    target: Mapped[str] = mapped_column(String(L.TARGET_CHARS))
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
    match: Mapped[str] = mapped_column(String(L.MATCH_CHARS))
    # "exact", "glob" or "regex"
    match_kind: Mapped[str] = mapped_column(String(10), default="glob")
    # {"thinking": bool, "tools": bool, "tool": str, "stream": bool, "min_input_tokens": int, "member": str}
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Lower runs first; ties keep their position.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[str | None] = mapped_column(String(L.TARGET_CHARS), default=None)
    chain_id: Mapped[int | None] = mapped_column(ForeignKey("chains.id", ondelete="RESTRICT"), default=None)
    # {"max_tokens": int, "temperature": float, "reasoning_effort": str}
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(L.DESCRIPTION_CHARS), default=None)

    tenant: Mapped[Tenant | None] = relationship(back_populates="rules")
    chain: Mapped[Chain | None] = relationship()


class ModelPrice(Timestamps, Base):
    """A price override for one target (deployments and private models LiteLLM's cost map does not know)."""

    __tablename__ = "model_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(L.TARGET_CHARS), unique=True)
    input_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    output_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    cache_read_per_mtok: Mapped[float | None] = mapped_column(Float, default=None)
    cache_write_per_mtok: Mapped[float | None] = mapped_column(Float, default=None)


class AuditEntry(Base):
    """Who changed what and when, with before and after (credentials redacted)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(L.AUDIT_ACTOR_CHARS))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(L.AUDIT_OBJECT_ID_CHARS), default=None)
    object_name: Mapped[str | None] = mapped_column(String(L.AUDIT_OBJECT_NAME_CHARS), default=None)
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
    group: Mapped[str] = mapped_column(String(L.GROUP_CHARS))
    # Members: the tenant they sign in to.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), default=None)
    # Admins: owner, admin, tenant-admin or viewer, and the tenants a tenant-admin or viewer is limited to.
    role: Mapped[str | None] = mapped_column(String(20), default=None)
    tenants: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # Members: managed settings layered over the tenant's for people in this group.
    managed_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)

    tenant: Mapped[Tenant | None] = relationship()


class Alert(Timestamps, Base):
    """A webhook told when something watched crosses a threshold (config `alerts:`, router/alerts/).

    The webhook URL is a secret (a Slack hook's path is its token): stored encrypted like provider
    credentials, with only its host in clear for pages; the signing secret likewise."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(L.NAME_CHARS), unique=True)
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
    webhook_host: Mapped[str] = mapped_column(String(L.WEBHOOK_HOST_CHARS))
    webhook_ref: Mapped[str | None] = mapped_column(String(L.ENV_REF_CHARS), default=None)
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    secret_ref: Mapped[str | None] = mapped_column(String(L.ENV_REF_CHARS), default=None)
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
    alert_name: Mapped[str] = mapped_column(String(L.NAME_CHARS))
    # "tenant:acme", "key:rk-ab12", "member:acme/ann", "target:openai/gpt-4.1", "test"
    subject: Mapped[str] = mapped_column(String(L.DELIVERY_SUBJECT_CHARS))
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
    last_error: Mapped[str | None] = mapped_column(String(L.DELIVERY_ERROR_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
