"""The /v1 key guard: which key (and so which tenant) a request comes from.

Keys live in the routing snapshot (hash -> KeySpec), so the request path answers from memory. A key the
snapshot does not know yet (created in another process less than a poll interval ago) is looked up once in
the database; both positive and negative answers are cached briefly so a flood of bad keys cannot turn into a
flood of queries.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from router.identity.tokens import InvalidToken, looks_like_token
from router.routing.model import KeySpec, RoutingConfig
from router.store.keys import hash_key
from router.wire.errors import AuthenticationError

KeyLookup = Callable[[str], Awaitable[KeySpec | None]]


class MemberTokenCheck(Protocol):
    """Turns a minted access token into the stored hash of its member's sign-in key (identity/members.py),
    in memory; raises when the token is forged, expired or its sign-in was revoked."""

    def key_hash(self, token: str) -> str: ...


_MISS_TTL = 2.0
_MISS_CACHE_SIZE = 10_000


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """Claude Code sends `x-api-key` (ANTHROPIC_API_KEY) or `Authorization: Bearer` (ANTHROPIC_AUTH_TOKEN)."""
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


class KeyGuard:
    def __init__(self, lookup: KeyLookup, tokens: MemberTokenCheck | None = None) -> None:
        self._lookup = lookup
        # Claude Code signed in through the IdP sends a minted token instead of a key: the same Caller.
        self._tokens = tokens
        # hash -> (KeySpec | None, monotonic expiry); only for keys the snapshot does not hold.
        self._extra: OrderedDict[str, tuple[KeySpec | None, float]] = OrderedDict()
        self._version = -1

    async def authenticate(self, headers: Mapping[str, str], config: RoutingConfig) -> KeySpec:
        key = key_from_headers(headers)
        if not key:
            raise AuthenticationError(
                "missing API key: send it in the x-api-key header or as a Bearer token", should_retry=False
            )
        if self._tokens is not None and looks_like_token(key):
            try:
                digest = self._tokens.key_hash(key)
            except InvalidToken as exc:
                # A revoked or expired token: tell Claude Code to sign in again at once, not to retry.
                raise AuthenticationError(str(exc), should_retry=False) from None
        else:
            digest = hash_key(key)
        spec = config.keys.get(digest)
        if spec is None:
            spec = await self._lookup_uncached(digest, config.version)
        # A revoked or expired key will not come back: `x-should-retry: false` makes Claude Code ask for a
        # new credential at once instead of retrying for minutes. An unknown key keeps the client's retries
        # (it may exist in a replica's database we could not reach).
        if spec is None:
            raise AuthenticationError("invalid API key")
        if spec.revoked:
            raise AuthenticationError("this API key has been revoked", should_retry=False)
        if spec.expires_at is not None and spec.expires_at <= datetime.now(UTC):
            raise AuthenticationError("this API key has expired", should_retry=False)
        return spec

    async def _lookup_uncached(self, digest: str, version: int) -> KeySpec | None:
        if version != self._version:
            # A new snapshot knows every key that existed when it was built; older answers are stale.
            self._extra.clear()
            self._version = version
        now = time.monotonic()
        hit = self._extra.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            spec = await self._lookup(digest)
        except Exception:  # the database is down: the key is unknown for now, the request path stays up
            spec = None
        self._extra[digest] = (spec, now + _MISS_TTL)
        self._extra.move_to_end(digest)
        while len(self._extra) > _MISS_CACHE_SIZE:
            self._extra.popitem(last=False)
        return spec
