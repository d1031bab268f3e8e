"""What the request path knows about signed-in members, rebuilt with every config version (no query per
request): revoked sign-in sessions whose tokens may still be unexpired, and the managed settings of each
tenant and of each IdP group mapped to it.

`MemberTokens.key_hash(token)` is the gateway's entry: a valid, unexpired, unrevoked token gives the stored
hash of the member's sign-in key, and from there the same KeySpec (tenant, member, limits) a proxy key gives.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from router.identity.tokens import InvalidToken, TokenClaims, TokenSigner
from router.store.db import Database
from router.store.member_signin import revoked_session_ids
from router.store.models import utcnow
from router.store.signin import list_sso_mappings, tenant_managed_settings
from router.store.tenants import list_tenants

log = logging.getLogger("router.identity")

# Checked tokens remembered per process (a few hundred bytes each).
VERIFIED_CACHE_SIZE = 10_000
# Revocations older than a token's lifetime plus this need no entry: every token of theirs has expired.
_REVOCATION_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class IdentitySnapshot:
    version: int = -1
    revoked_sessions: frozenset[str] = frozenset()
    # tenant id -> its managed settings document (tenants without one are absent: no policy, 404)
    tenant_settings: dict[int, dict[str, Any]] = field(default_factory=dict)
    # tenant id -> [(group, settings)] in mapping order, for groups that carry settings
    group_settings: dict[int, tuple[tuple[str, dict[str, Any]], ...]] = field(default_factory=dict)
    # tenant id -> the groups mapped to it (a token carries only these of a member's groups)
    tenant_groups: dict[int, frozenset[str]] = field(default_factory=dict)


def canonical_json(settings: dict[str, Any]) -> str:
    """Keys sorted at every level, no whitespace, non-ASCII as is: what Claude Code hashes."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def settings_checksum(settings: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(settings).encode("utf-8")).hexdigest()


def layer(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: mappings (env, permissions, ...) merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = layer(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class ManagedSettings:
    uuid: str
    checksum: str
    settings: dict[str, Any]


class MemberTokens:
    def __init__(self, db: Database, signer: TokenSigner, access_ttl: int) -> None:
        self._db = db
        self.signer = signer
        self._access_ttl = access_ttl
        self.snapshot = IdentitySnapshot()
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()

    async def rebuild(self, version: int) -> None:
        """Reload from the database (a SnapshotHolder listener: runs once per config version)."""
        since = utcnow() - timedelta(seconds=self._access_ttl) - _REVOCATION_MARGIN
        async with self._db.session() as session:
            revoked = await revoked_session_ids(session, since)
            tenant_docs = await tenant_managed_settings(session)
            members, _ = await list_sso_mappings(session)
            tenant_ids = {t.name: t.id for t in await list_tenants(session)}
        groups: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        mapped: dict[int, set[str]] = {}
        for m in members:
            tid = tenant_ids.get(m.tenant)
            if tid is None:
                continue
            mapped.setdefault(tid, set()).add(m.group)
            if m.managed_settings is not None:
                groups.setdefault(tid, []).append((m.group, m.managed_settings))
        self.snapshot = IdentitySnapshot(
            version=version,
            revoked_sessions=revoked,
            tenant_settings=tenant_docs,
            group_settings={tid: tuple(items) for tid, items in groups.items()},
            tenant_groups={tid: frozenset(names) for tid, names in mapped.items()},
        )

    def verify(self, token: str) -> TokenClaims:
        """The token's claims; InvalidToken when it is forged, expired or its session was revoked.

        A client sends the same token for its whole life (an hour), so a checked signature is remembered
        (bounded, least recently used first out): the request path then pays a dict look-up, the expiry and
        the revocation check, not an HMAC and a JSON parse (bench/signin_tokens.py: ~70 µs -> ~1 µs).
        """
        claims = self._verified.get(token)
        if claims is None:
            claims = self.signer.verify(token)
            self._verified[token] = claims
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)
            if claims.expires_at <= time.time():
                del self._verified[token]
                raise InvalidToken("access token has expired: sign in again with /login")
        if claims.session_id in self.snapshot.revoked_sessions:
            raise InvalidToken("this sign-in was ended by an administrator: sign in again with /login")
        return claims

    def key_hash(self, token: str) -> str:
        return self.verify(token).key_hash

    def managed_settings(self, claims: TokenClaims) -> ManagedSettings | None:
        """The member's settings: their tenant's document with their groups' documents layered on top (in
        mapping order); None when neither has one (no policy)."""
        snap = self.snapshot
        doc = snap.tenant_settings.get(claims.tenant_id)
        layered = [(g, s) for g, s in snap.group_settings.get(claims.tenant_id, ()) if g in claims.groups]
        if doc is None and not layered:
            return None
        settings = dict(doc or {})
        for _, over in layered:
            settings = layer(settings, over)
        scope = f"{claims.tenant_id}:" + ",".join(g for g, _ in layered)
        uuid = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:32]
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:32]}"
        return ManagedSettings(uuid=uuid, checksum=settings_checksum(settings), settings=settings)
