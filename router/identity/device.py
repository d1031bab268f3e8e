"""Claude Code's sign-in: the RFC 8628 device flow, the browser leg through the IdP, minted tokens, refresh
(rotated, re-checked with the IdP) and revocation.

Who may sign in is the `sso.members` table: the first mapping (in order) whose group the person is in names
their tenant; their member name is their e-mail. A person in no mapped group is denied (`access_denied`).
Each member has one sign-in key per tenant (store/signin.py: member_key) that carries limits, budget and
usage exactly as a proxy key does; revoking that key, or signing the member out, ends their tokens on every
replica within the config poll interval.

Revocation timing, stated: an admin's sign-out, a revoked sign-in key or a disabled tenant take effect within
ROUTER_CONFIG_POLL_INTERVAL (1 s) on every replica, on the very next request. A person removed from their
group, or disabled at the IdP, is refused at their next refresh (each refresh asks the IdP again with its own
refresh token), so at the latest when their access token expires (ROUTER_SIGNIN_ACCESS_TOKEN_TTL, 1 h).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from router.identity.login import OidcLogins
from router.identity.members import MemberTokens
from router.identity.oidc import Identity, OidcError
from router.settings import Settings
from router.store.crypto import CredentialCipher, CredentialDecryptError
from router.store.db import Database, as_utc
from router.store.models import ApiKey, SigninSession, utcnow
from router.store.signin import (
    MemberMapping,
    audit_member_sign_in,
    create_device_authorization,
    create_signin_session,
    device_by_code,
    device_by_user_code,
    get_signin_session,
    key_by_id,
    list_sso_mappings,
    member_key,
    revoke_signin_sessions,
    rotate_refresh_token,
    session_by_refresh_token,
    settle_device,
    tenant_by_id,
    token_hash,
)
from router.store.tenants import get_tenant_by_name

log = logging.getLogger("router.identity")

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"
SURFACE_CHARS = 50
_MAX_FORM_VALUE = 512


class OAuthFailure(Exception):
    """An RFC 6749 / 8628 error answer: `{"error": ..., "error_description": ...}` with `status`."""

    def __init__(self, error: str, description: str | None = None, status: int = 400) -> None:
        super().__init__(description or error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


@dataclass(frozen=True, slots=True)
class Approval:
    """What the browser is told when the IdP sent it back."""

    approved: bool
    member: str | None
    tenant: str | None
    message: str


class AddressLimiter:
    """At most `limit` requests per `window` seconds per client address (RFC 8628 §5.1: user codes must not
    be guessable by brute force). Per process: with N replicas an address gets N times the allowance."""

    def __init__(self, limit: int, window: float, max_addresses: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self._max = max_addresses
        self._hits: OrderedDict[str, list[float]] = OrderedDict()

    def allow(self, address: str | None) -> bool:
        now = time.monotonic()
        key = address or "unknown"
        hits = [t for t in self._hits.get(key, ()) if now - t < self.window]
        allowed = len(hits) < self.limit
        if allowed:
            hits.append(now)
        self._hits[key] = hits
        self._hits.move_to_end(key)
        while len(self._hits) > self._max:
            self._hits.popitem(last=False)
        return allowed


def pick_tenant(groups: tuple[str, ...], mappings: list[MemberMapping]) -> MemberMapping | None:
    for mapping in mappings:
        if mapping.group in groups:
            return mapping
    return None


class DeviceSignIn:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        cipher: CredentialCipher,
        logins: OidcLogins,
        tokens: MemberTokens,
    ) -> None:
        self._settings = settings
        self._db = db
        self._cipher = cipher
        self._logins = logins
        self._tokens = tokens
        self.authorize_limiter = AddressLimiter(30, 600)
        self.verify_limiter = AddressLimiter(20, 600)

    @property
    def base_url(self) -> str:
        return (self._settings.public_url or "").rstrip("/")

    def metadata(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "issuer": base,
            "device_authorization_endpoint": f"{base}/oauth/device_authorization",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "grant_types_supported": [DEVICE_GRANT, REFRESH_GRANT],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "gateway_protocol_version": 1,
        }

    # -- the device authorization ---------------------------------------------------------------------

    async def authorize(self, surface: str | None) -> dict[str, Any]:
        ttl = self._settings.signin_device_code_ttl
        async with self._db.transaction() as session:
            device_code, row = await create_device_authorization(
                session,
                surface=(surface or "")[:SURFACE_CHARS] or None,
                ttl=timedelta(seconds=ttl),
                interval=self._settings.signin_poll_interval,
            )
        return {
            "device_code": device_code,
            "user_code": row.user_code,
            "verification_uri": f"{self.base_url}/device",
            "verification_uri_complete": f"{self.base_url}/device?user_code={row.user_code}",
            "expires_in": ttl,
            "interval": row.interval,
        }

    # -- the token endpoint ---------------------------------------------------------------------------

    async def token(self, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        if grant == DEVICE_GRANT:
            code = form.get("device_code", "")
            if not code or len(code) > _MAX_FORM_VALUE:
                raise OAuthFailure("invalid_request", "device_code is required")
            return await self._device_grant(code)
        if grant == REFRESH_GRANT:
            token = form.get("refresh_token", "")
            if not token or len(token) > _MAX_FORM_VALUE:
                raise OAuthFailure("invalid_request", "refresh_token is required")
            return await self._refresh_grant(token)
        raise OAuthFailure("unsupported_grant_type", f"grant_type must be {DEVICE_GRANT} or refresh_token")

    async def _device_grant(self, device_code: str) -> dict[str, Any]:
        now = utcnow()
        failure: OAuthFailure | None = None
        session_id: str | None = None
        async with self._db.transaction() as session:
            row = await device_by_code(session, device_code)
            if row is None:
                raise OAuthFailure("invalid_grant", "unknown device_code")
            if row.status == "used":
                raise OAuthFailure("invalid_grant", "this device_code was already used")
            if (as_utc(row.expires_at) or now) <= now:
                raise OAuthFailure("expired_token", "the sign-in code expired: run /login again")
            if row.status == "denied":
                raise OAuthFailure("access_denied", row.denied_reason or "the sign-in was denied")
            last = as_utc(row.last_polled_at)
            # Recorded (committed) before answering, so every replica sees when this code was last polled.
            row.last_polled_at = now
            if row.status == "pending":
                if last is not None and (now - last).total_seconds() < row.interval:
                    # RFC 8628 §3.5: the client polls faster than asked; it adds 5 s to its interval.
                    row.interval += 5
                    failure = OAuthFailure("slow_down", f"poll at most every {row.interval} seconds")
                else:
                    failure = OAuthFailure("authorization_pending")
            else:
                # Approved: hand out the tokens exactly once.
                row.status = "used"
                session_id = row.session_id
        if failure is not None:
            raise failure
        if session_id is None:
            raise OAuthFailure("invalid_grant", "the sign-in has no session")
        async with self._db.transaction() as session:
            signin = await get_signin_session(session, session_id)
            if signin is None or signin.revoked_at is not None:
                raise OAuthFailure("access_denied", "the sign-in was ended")
            refresh = await rotate_refresh_token(
                session, signin, old_hash=None, refresh_ttl=self._refresh_ttl()
            )
            key = await key_by_id(session, signin.key_id)
            if refresh is None or key is None:
                raise OAuthFailure("invalid_grant", "the sign-in was already handed out")
            return self._grant(signin, key, refresh)

    async def _refresh_grant(self, refresh_token: str) -> dict[str, Any]:
        async with self._db.session() as session:
            signin = await session_by_refresh_token(session, refresh_token)
            snapshot = _SessionView.of(signin) if signin is not None else None
        if snapshot is None or snapshot.revoked:
            raise _invalid_grant("the refresh token is not valid: sign in again with /login")
        if snapshot.expired:
            raise _invalid_grant("the sign-in expired: sign in again with /login")
        # Ask the IdP again (off any transaction): disabled there or out of the group means no refresh.
        groups = snapshot.groups
        idp_refresh = decrypt_or_none(self._cipher, snapshot.idp_refresh)
        if idp_refresh is not None:
            try:
                who = await self._logins.client.refresh(idp_refresh, snapshot.subject)
            except OidcError as exc:
                await self._end(snapshot.id, f"refresh refused by the identity provider: {exc}")
                raise _invalid_grant("the identity provider no longer confirms this sign-in") from exc
            groups = who.groups
            idp_refresh = who.refresh_token
        async with self._db.transaction() as session:
            members, _ = await list_sso_mappings(session)
            signin = await session_by_refresh_token(session, refresh_token)
            if signin is None or signin.revoked_at is not None:
                raise _invalid_grant("the refresh token was already used")
            tenant = await tenant_by_id(session, signin.tenant_id)
            key = await key_by_id(session, signin.key_id)
            allowed = [
                m for m in members if m.group in groups and tenant is not None and m.tenant == tenant.name
            ]
            reason = None
            if tenant is None or not tenant.enabled:
                reason = "the tenant is disabled"
            elif key is None or key.revoked_at is not None:
                reason = "the member's sign-in key was revoked"
            elif not allowed:
                reason = "no longer in a group mapped to the tenant"
            if reason is None and key is not None and tenant is not None:
                signin.groups = list(groups)
                if idp_refresh is not None:
                    signin.idp_refresh_token_encrypted = self._cipher.encrypt(idp_refresh)
                refresh = await rotate_refresh_token(
                    session, signin, old_hash=token_hash(refresh_token), refresh_ttl=self._refresh_ttl()
                )
                if refresh is None:
                    raise _invalid_grant("the refresh token was already used")
                return self._grant(signin, key, refresh)
        # Refused: end the sign-in (committed on its own), so its access tokens stop working too.
        await self._end(snapshot.id, reason or "refused")
        raise _invalid_grant(f"sign-in refused: {reason}")

    def _grant(self, signin: SigninSession, key: ApiKey, refresh: str) -> dict[str, Any]:
        mapped = self._tokens.snapshot.tenant_groups.get(signin.tenant_id, frozenset())
        access, ttl = self._tokens.signer.mint(
            session_id=signin.id,
            key_hash=key.key_hash,
            tenant_id=signin.tenant_id,
            member=signin.member,
            subject=signin.subject,
            groups=[g for g in signin.groups if g in mapped],
            ttl=self._settings.signin_access_token_ttl,
        )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            "email": signin.member,
        }

    def _refresh_ttl(self) -> timedelta:
        return timedelta(seconds=self._settings.signin_refresh_token_ttl)

    async def _end(self, session_id: str, reason: str) -> None:
        async with self._db.transaction() as session:
            await revoke_signin_sessions(
                session, reason=reason[:200], actor="sign-in refresh", session_id=session_id
            )

    # -- revocation (RFC 7009; Claude Code's sign-out) ------------------------------------------------

    async def revoke(self, token: str) -> None:
        """End the session a refresh token or an access token belongs to; unknown tokens are ignored."""
        if not token or len(token) > 4096:
            return
        session_id: str | None = None
        if token.startswith("eyJ"):
            try:
                session_id = self._tokens.signer.verify(token).session_id
            except Exception:  # an expired or foreign token: nothing to revoke
                return
        else:
            async with self._db.session() as session:
                row = await session_by_refresh_token(session, token)
                session_id = row.id if row is not None else None
        if session_id is not None:
            async with self._db.transaction() as session:
                await revoke_signin_sessions(
                    session, reason="signed out", actor="member", session_id=session_id
                )

    # -- the browser leg ------------------------------------------------------------------------------

    async def pending(self, user_code: str) -> str | None:
        """The normalised user code when it names a pending, unexpired authorization."""
        async with self._db.session() as session:
            row = await device_by_user_code(session, user_code)
        if row is None or row.status != "pending" or (as_utc(row.expires_at) or utcnow()) <= utcnow():
            return None
        return row.user_code

    async def begin_browser(self, user_code: str, browser: str | None) -> tuple[str, Any] | None:
        code = await self.pending(user_code)
        if code is None:
            return None
        return await self._logins.begin("device", {"user_code": code}, browser=browser)

    async def deny(self, user_code: str, reason: str = "denied in the browser") -> bool:
        async with self._db.transaction() as session:
            row = await device_by_user_code(session, user_code)
            if row is None:
                return False
            return await settle_device(session, row.id, status="denied", session_id=None, reason=reason)

    async def approve(self, user_code: str, who: Identity) -> Approval:
        """The IdP vouched for `who`: map them to a tenant and approve the device, or deny it."""
        async with self._db.transaction() as session:
            row = await device_by_user_code(session, user_code)
            if row is None or row.status != "pending" or (as_utc(row.expires_at) or utcnow()) <= utcnow():
                return Approval(False, None, None, "This sign-in code has expired or was already used.")
            members, _ = await list_sso_mappings(session)
            mapping = pick_tenant(who.groups, members)
            if not who.email:
                reason = "the identity provider did not say who you are (no e-mail)"
            elif mapping is None:
                reason = "you are in no group that may use Claude Code here"
            else:
                reason = None
            tenant = None
            if mapping is not None:
                tenant = await get_tenant_by_name(session, mapping.tenant)
                if reason is None and (tenant is None or not tenant.enabled):
                    reason = "your team's tenant is disabled"
            if reason is not None or tenant is None or who.email is None:
                await settle_device(session, row.id, status="denied", session_id=None, reason=reason)
                await audit_member_sign_in(
                    session,
                    who=who.email or who.subject,
                    tenant_id=tenant.id if tenant else None,
                    session_id=None,
                    denied=reason,
                    surface=row.surface,
                )
                log.info("device sign-in denied for %s: %s", who.email or who.subject, reason)
                return Approval(False, who.email, None, f"Sign-in denied: {reason}.")
            key = await member_key(session, tenant.id, who.email, actor=who.email)
            if key.revoked_at is not None:
                reason = "your access was revoked by an administrator"
                await settle_device(session, row.id, status="denied", session_id=None, reason=reason)
                return Approval(False, who.email, tenant.name, f"Sign-in denied: {reason}.")
            signin = await create_signin_session(
                session,
                tenant_id=tenant.id,
                key_id=key.id,
                member=who.email,
                subject=who.subject,
                groups=who.groups,
                surface=row.surface,
                idp_refresh_token_encrypted=self._cipher.encrypt(who.refresh_token)
                if who.refresh_token
                else None,
                refresh_ttl=self._refresh_ttl(),
            )
            await settle_device(session, row.id, status="approved", session_id=signin.id, reason=None)
            await audit_member_sign_in(
                session, who=who.email, tenant_id=tenant.id, session_id=signin.id, surface=row.surface
            )
        return Approval(True, who.email, tenant.name, "You are signed in. Return to Claude Code.")


def _invalid_grant(description: str) -> OAuthFailure:
    # The protocol's deprovisioning hook: 401 invalid_grant sends the user back to /login.
    return OAuthFailure("invalid_grant", description, status=401)


@dataclass(frozen=True, slots=True)
class _SessionView:
    id: str
    subject: str
    groups: tuple[str, ...]
    idp_refresh: str | None
    revoked: bool
    expired: bool

    @classmethod
    def of(cls, row: SigninSession) -> _SessionView:
        return cls(
            id=row.id,
            subject=row.subject,
            groups=tuple(row.groups or ()),
            idp_refresh=row.idp_refresh_token_encrypted,
            revoked=row.revoked_at is not None,
            expired=(as_utc(row.expires_at) or utcnow()) <= utcnow(),
        )


def decrypt_or_none(cipher: CredentialCipher, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return cipher.decrypt(value)
    except CredentialDecryptError:
        return None
