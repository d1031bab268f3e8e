"""The tables of who signs in: admin users and their sessions, API tokens, the member page's sessions,
the sign-in throttle, and the IdP and device sign-in flows (Claude Code's /login).

No `from __future__ import annotations`, as in models.py: Python evaluates the `Mapped[...]` annotations,
not SQLAlchemy (it would compile and evaluate each string again when a command loads these tables).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from router.config import lengths as L
from router.store.models import Base, utcnow


class AdminUser(Base):
    """A person who signs in to the admin page: a role, and for tenant-admins and viewers the tenants."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(L.ADMIN_NAME_CHARS), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Kept in the database so that the slow-down after failed sign-ins holds across replicas.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # "owner", "admin", "tenant-admin" or "viewer" (router/identity/roles.py).
    role: Mapped[str] = mapped_column(String(20), default="owner", server_default="owner")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    tenant_links: Mapped[list["AdminUserTenant"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

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
    address: Mapped[str | None] = mapped_column(String(L.ADDRESS_CHARS), default=None)


class AdminApiToken(Base):
    """A management API token (/api/v1): shown once, stored as a SHA-256 hash and a visible prefix."""

    __tablename__ = "admin_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(L.NAME_CHARS))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # None: every tenant (owner, admin, unrestricted viewer); otherwise the tenant ids it is limited to.
    tenant_ids: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    created_by: Mapped[str] = mapped_column(String(L.AUDIT_ACTOR_CHARS))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class MemberPageSession(Base):
    """A member signed in to /me through the IdP: the cookie's token hash, their e-mail and tenants."""

    __tablename__ = "member_page_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(L.EMAIL_CHARS))
    tenant_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInThrottle(Base):
    """Failed sign-ins per user name (known or not: no oracle) and attempts per client address.

    Updated by single atomic UPDATE statements, so parallel attempts count exactly like sequential ones.
    """

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(L.THROTTLE_KEY_CHARS), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


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
    surface: Mapped[str | None] = mapped_column(String(L.SURFACE_CHARS), default=None)
    interval: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Set on approval: the sign-in session the token grant hands out.
    session_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # Why a denied code was denied (shown in the browser, never to the polling client).
    denied_reason: Mapped[str | None] = mapped_column(String(L.REASON_CHARS), default=None)


class SigninSession(Base):
    """A member signed in through the IdP (Claude Code's /login): who, for which tenant, and the refresh
    token (hashed, rotated on use). Minted access tokens name the session; revoking it ends them all."""

    __tablename__ = "signin_sessions"
    __table_args__ = (Index("ix_signin_sessions_member", "tenant_id", "member"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The member's proxy-key row that carries their limits and usage (created at first sign-in).
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    member: Mapped[str] = mapped_column(String(L.MEMBER_CHARS))
    subject: Mapped[str] = mapped_column(String(L.SUBJECT_CHARS))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    surface: Mapped[str | None] = mapped_column(String(L.SURFACE_CHARS), default=None)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # The IdP's refresh token (encrypted like provider credentials): each refresh asks the IdP again, so a
    # person disabled there or removed from their group is refused at the next refresh.
    idp_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The refresh token's end; each refresh moves it on.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None, index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(L.REASON_CHARS), default=None)
