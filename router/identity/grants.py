"""The token endpoint of Claude Code's sign-in: the RFC 8628 device grant and the refresh grant (rotated,
re-checked with the IdP and against the SSO mappings), and RFC 7009 revocation.

Errors are RFC 6749 / 8628 answers (`OAuthFailure`); 401 `invalid_grant` on a refresh is the protocol's
deprovisioning hook: Claude Code sends the person back to /login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from router.config.lengths import REASON_CHARS
from router.identity.members import MemberTokens
from router.identity.oidc import OidcClient, OidcError
from router.settings import Settings
from router.store.crypto import CredentialCipher, CredentialDecryptError
from router.store.db import Database, as_utc
from router.store.identity_models import SigninSession
from router.store.member_signin import (
    device_by_code,
    get_signin_session,
    key_by_id,
    revoke_signin_sessions,
    rotate_refresh_token,
    session_by_refresh_token,
    tenant_by_id,
)
from router.store.models import ApiKey, utcnow
from router.store.signin import list_sso_mappings, token_hash

log = logging.getLogger("router.identity")

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"
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


class TokenGrants:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        cipher: CredentialCipher,
        client: OidcClient,
        tokens: MemberTokens,
    ) -> None:
        self._settings = settings
        self._db = db
        self._cipher = cipher
        self._client = client
        self._tokens = tokens

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
                who = await self._client.refresh(idp_refresh, snapshot.subject)
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
                session, reason=reason[:REASON_CHARS], actor="sign-in refresh", session_id=session_id
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
