"""Claude Code's sign-in: the RFC 8628 device flow, the browser leg through the IdP, minted tokens, refresh
(rotated, re-checked with the IdP) and revocation.

Who may sign in is the `sso.members` table: the first mapping (in order) whose group the person is in names
their tenant; their member name is their e-mail. A person in no mapped group is denied (`access_denied`).
Each member has one sign-in key per tenant (store/member_signin.py: member_key) that carries limits, budget
and usage exactly as a proxy key does; revoking that key, or signing the member out, ends their tokens on
every replica within the config poll interval.

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

from router.config.lengths import SURFACE_CHARS
from router.identity.grants import DEVICE_GRANT, REFRESH_GRANT, TokenGrants
from router.identity.login import OidcLogins
from router.identity.members import MemberTokens
from router.identity.oidc import Identity
from router.settings import Settings
from router.store.crypto import CredentialCipher
from router.store.db import Database, as_utc
from router.store.member_signin import (
    audit_member_sign_in,
    create_device_authorization,
    create_signin_session,
    device_by_user_code,
    member_key,
    settle_device,
)
from router.store.models import utcnow
from router.store.signin import MemberMapping, list_sso_mappings
from router.store.tenants import get_tenant_by_name

log = logging.getLogger("router.identity")


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
        # The token endpoint (device and refresh grants, revocation).
        self.grants = TokenGrants(settings, db, cipher, logins.client, tokens)
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
                refresh_ttl=timedelta(seconds=self._settings.signin_refresh_token_ttl),
            )
            await settle_device(session, row.id, status="approved", session_id=signin.id, reason=None)
            await audit_member_sign_in(
                session, who=who.email, tenant_id=tenant.id, session_id=signin.id, surface=row.surface
            )
        return Approval(True, who.email, tenant.name, "You are signed in. Return to Claude Code.")
