"""Access tokens the router mints for signed-in members, checked in memory on every request.

A token is a JWT (HS256, joserfc) signed with a key derived from the service's secret, so every replica
can check it without a database query. It names the sign-in session (`sid`), the member's sign-in key (by
the key's stored hash, `kh`: that is how the gateway finds the same KeySpec a proxy key gives), the tenant,
the member (`email`) and the member's mapped IdP groups (`grp`, for per-group managed settings).

Revocation: a revoked session's id is in the identity snapshot (rebuilt on every config version), so an
admin's sign-out or a revoked sign-in key takes effect on every replica within the config poll interval;
anything else (a person removed from their group or disabled at the IdP) is caught at the next refresh,
and at the latest when the token expires (ROUTER_SIGNIN_ACCESS_TOKEN_TTL, default 1 h).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joserfc.jwk import OctKey

_ALG = "HS256"
# Bounds on what a token carries (it rides on every request).
MAX_TOKEN_CHARS = 4096
_MAX_GROUPS = 50


def looks_like_token(credential: str) -> bool:
    """Minted tokens are JWTs; proxy keys (`sk-rt-...`) never contain a dot."""
    return credential.startswith("eyJ") and credential.count(".") == 2


@dataclass(frozen=True, slots=True)
class TokenClaims:
    session_id: str
    key_hash: str
    tenant_id: int
    member: str
    subject: str
    groups: tuple[str, ...]
    expires_at: int


class InvalidToken(Exception):
    """Why a presented token is refused (safe to show the client)."""


class TokenSigner:
    def __init__(self, secret: str, issuer: str) -> None:
        self._derived = hmac.new(
            secret.encode("utf-8"), b"router sign-in access tokens v1", hashlib.sha256
        ).digest()
        self._issuer = issuer

    @cached_property
    def _key(self) -> OctKey:
        # joserfc (and the cryptography parts it loads) is imported on the first token minted or checked,
        # not when `router serve` starts: most requests carry proxy keys (~0.05 s of start-up).
        from joserfc.jwk import OctKey

        return OctKey.import_key(self._derived)

    def mint(
        self,
        *,
        session_id: str,
        key_hash: str,
        tenant_id: int,
        member: str,
        subject: str,
        groups: Sequence[str],
        ttl: int,
        now: float | None = None,
    ) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self._issuer,
            "sub": subject,
            "email": member,
            "sid": session_id,
            "kh": key_hash,
            "tid": tenant_id,
            "grp": list(groups)[:_MAX_GROUPS],
            "iat": issued,
            "exp": issued + ttl,
            "jti": secrets.token_urlsafe(8),
        }
        from joserfc import jwt

        return jwt.encode({"alg": _ALG, "typ": "JWT"}, claims, self._key), ttl

    def verify(self, token: str, now: float | None = None) -> TokenClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("invalid access token")
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            decoded = jwt.decode(token, self._key, algorithms=[_ALG])
        except (JoseError, ValueError) as exc:
            raise InvalidToken("invalid access token") from exc
        c = decoded.claims
        try:
            claims = TokenClaims(
                session_id=str(c["sid"]),
                key_hash=str(c["kh"]),
                tenant_id=int(c["tid"]),
                member=str(c["email"]),
                subject=str(c["sub"]),
                groups=tuple(str(g) for g in c.get("grp", [])),
                expires_at=int(c["exp"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidToken("invalid access token") from exc
        if c.get("iss") != self._issuer:
            raise InvalidToken("invalid access token")
        if claims.expires_at <= int(now if now is not None else time.time()):
            raise InvalidToken("access token has expired: sign in again with /login")
        return claims
