"""The /v1 key guard: which key (and so which tenant) a request comes from.

Keys live in the routing snapshot (hash -> KeySpec), so the request path answers from memory. A key the
snapshot does not know may have been created in another process less than a poll interval ago, so it is
looked up in the database, but a flood of unknown keys must not become a flood of queries:
- a key that is not in our format (`sk-rt-` + 40 url-safe characters) is refused without any lookup;
- look-ups are batched: at most one query is in flight per process, answering every key that was waiting
  for it (`WHERE key_hash IN (...)`, up to `max_batch`), and queries are at least `min_interval` apart;
  concurrent look-ups of the same key share one answer;
- answers, hits and misses alike, are cached for a couple of seconds (and dropped when the snapshot moves).
So N distinct unknown keys cost about (flood duration / min_interval) queries, not N.

A flood also costs the event loop: each refusal is an HTTP request parsed and answered, and a closed-loop
attacker sends the next one as soon as the last is refused, so on one process (one core) valid keys wait
behind them. Past `free_refusals` unknown keys in a second, each further refusal is held for
`refusal_delay` to twice that (a sleep, no work; spread so that held refusals do not come back in one
burst): an attacker on N connections then gets at most N / refusal_delay answers a second, and a client
with a mistyped key still gets its 401 at once. While refusals are held, look-ups are a second apart
(FLOOD_LOOKUP_INTERVAL), so a flood costs at most one query per second however many keys it brings
(5,000 distinct keys at c=64 take about a minute: ~60 queries, against 4,918 before any of this).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from router.identity.tokens import InvalidToken, looks_like_token
from router.observability.metrics import KEY_LOOKUPS, KEYS_REFUSED
from router.routing.model import KeySpec, RoutingConfig
from router.store.keys import hash_key, is_key_format
from router.wire.errors import AuthenticationError

log = logging.getLogger(__name__)

# Hashes -> the keys among them that exist (revoked or not).
KeysLookup = Callable[[Sequence[str]], Awaitable[Mapping[str, KeySpec]]]


class MemberTokenCheck(Protocol):
    """Turns a minted access token into the stored hash of its member's sign-in key (identity/members.py),
    in memory; raises when the token is forged, expired or its sign-in was revoked."""

    def key_hash(self, token: str) -> str: ...


_MISS_TTL = 2.0
_MISS_CACHE_SIZE = 10_000
MIN_LOOKUP_INTERVAL = 0.05
MAX_LOOKUP_BATCH = 500
# Unknown-key refusals per second answered at once; the rest wait REFUSAL_DELAY seconds first.
FREE_REFUSALS = 20
REFUSAL_DELAY = 0.5
FLOOD_LOOKUP_INTERVAL = 1.0


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
    def __init__(
        self,
        lookup: KeysLookup,
        tokens: MemberTokenCheck | None = None,
        *,
        min_interval: float = MIN_LOOKUP_INTERVAL,
        max_batch: int = MAX_LOOKUP_BATCH,
        free_refusals: int = FREE_REFUSALS,
        refusal_delay: float = REFUSAL_DELAY,
        flood_interval: float = FLOOD_LOOKUP_INTERVAL,
    ) -> None:
        self._lookup = lookup
        # Claude Code signed in through the IdP sends a minted token instead of a key: the same Caller.
        self._tokens = tokens
        self._min_interval = min_interval
        self._max_batch = max(1, max_batch)
        # hash -> (KeySpec | None, monotonic expiry); only for keys the snapshot does not hold.
        self._extra: OrderedDict[str, tuple[KeySpec | None, float]] = OrderedDict()
        self._version = -1
        # Hashes waiting for the next query, and those the running query answers.
        self._waiting: dict[str, asyncio.Future[KeySpec | None]] = {}
        self._asked: dict[str, asyncio.Future[KeySpec | None]] = {}
        self._runner: asyncio.Task[None] | None = None
        self.queries = 0
        self._free_refusals = free_refusals
        self._refusal_delay = refusal_delay
        self._flood_interval = flood_interval
        # Unknown-key refusals in the current one-second window, and in the window before it.
        self._refusal_window = 0.0
        self._refusals = 0
        self._previous_refusals = 0

    async def authenticate(self, headers: Mapping[str, str], config: RoutingConfig) -> KeySpec:
        key = key_from_headers(headers)
        if not key:
            raise AuthenticationError(
                "missing API key: send it in the x-api-key header or as a Bearer token", should_retry=False
            )
        minted = self._tokens is not None and looks_like_token(key)
        if minted:
            assert self._tokens is not None
            try:
                digest = self._tokens.key_hash(key)
            except InvalidToken as exc:
                # Forged token-shaped garbage is a flood like unknown keys (held back the same way).
                await self._slow_down()
                # A revoked or expired token: tell Claude Code to sign in again at once, not to retry.
                raise AuthenticationError(str(exc), should_retry=False) from None
        else:
            digest = hash_key(key)
        spec = config.keys.get(digest)
        if spec is None:
            if not minted and not is_key_format(key):
                KEYS_REFUSED.labels("format").inc()
                await self._slow_down()
                raise AuthenticationError("invalid API key")
            spec = await self._lookup_uncached(digest, config.version)
        # A revoked or expired key will not come back: `x-should-retry: false` makes Claude Code ask for a
        # new credential at once instead of retrying for minutes. An unknown key keeps the client's retries
        # (it may exist in a replica's database we could not reach).
        if spec is None:
            await self._slow_down()
            raise AuthenticationError("invalid API key")
        if spec.revoked:
            raise AuthenticationError("this API key has been revoked", should_retry=False)
        if spec.expires_at is not None and spec.expires_at <= datetime.now(UTC):
            raise AuthenticationError("this API key has expired", should_retry=False)
        return spec

    async def _slow_down(self) -> None:
        """Hold an unknown key's refusal once this second has seen `free_refusals` of them."""
        now = time.monotonic()
        self._roll(now)
        self._refusals += 1
        if self._flooded(now):
            KEYS_REFUSED.labels("delayed").inc()
            await asyncio.sleep(self._refusal_delay * (1.0 + random.random()))

    def _roll(self, now: float) -> None:
        age = now - self._refusal_window
        if age >= 1.0:
            self._previous_refusals = self._refusals if age < 2.0 else 0
            self._refusal_window, self._refusals = now, 0

    def _flooded(self, now: float) -> bool:
        """More unknown keys than `free_refusals` in this window, or in the one before (a flood does not
        get `free_refusals` fresh answers every second)."""
        self._roll(now)
        busiest = max(self._refusals, self._previous_refusals)
        return self._refusal_delay > 0 and busiest > self._free_refusals

    async def _lookup_uncached(self, digest: str, version: int) -> KeySpec | None:
        if version != self._version:
            # A new snapshot knows every key that existed when it was built; older answers are stale.
            self._extra.clear()
            self._version = version
        hit = self._extra.get(digest)
        if hit is not None and hit[1] > time.monotonic():
            if hit[0] is None:
                KEYS_REFUSED.labels("cached_miss").inc()
            return hit[0]
        future = self._asked.get(digest) or self._waiting.get(digest)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[digest] = future
            if self._runner is None or self._runner.done():
                self._runner = asyncio.create_task(self._answer_waiting(), name="key-lookups")
        # Shielded: a client that leaves must not cancel the answer others wait for.
        return await asyncio.shield(future)

    async def _answer_waiting(self) -> None:
        """One query at a time for every key waiting, then a pause so queries stay `min_interval` apart."""
        while self._waiting:
            batch = dict(list(self._waiting.items())[: self._max_batch])
            for digest in batch:
                del self._waiting[digest]
            self._asked = batch
            found: Mapping[str, KeySpec] = {}
            try:
                self.queries += 1
                KEY_LOOKUPS.inc()
                found = await self._lookup(list(batch))
            except Exception as exc:  # the database is down: these keys are unknown for now
                log.warning(
                    "key lookup failed (%s); %d keys treated as unknown", type(exc).__name__, len(batch)
                )
            finally:
                expiry = time.monotonic() + _MISS_TTL
                for digest, future in batch.items():
                    spec = found.get(digest)
                    self._remember(digest, spec, expiry)
                    if not future.done():
                        future.set_result(spec)
                self._asked = {}
            pause = self._flood_interval if self._flooded(time.monotonic()) else self._min_interval
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(pause)

    def _remember(self, digest: str, spec: KeySpec | None, expiry: float) -> None:
        self._extra[digest] = (spec, expiry)
        self._extra.move_to_end(digest)
        while len(self._extra) > _MISS_CACHE_SIZE:
            self._extra.popitem(last=False)
