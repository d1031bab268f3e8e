"""Pool members' provider quotas (requests and tokens per minute), counted across replicas.

A member's quota is the provider's (an Azure deployment's rpm/tpm): going over it only earns 429s, so the
router never sends a request a member has no room for. Each take is one atomic check-and-count over a sliding
60-second window: in Redis (a Lua script over two sorted sets per member, Redis's own clock) when
ROUTER_REDIS_URL is set, so every replica counts against the same window; in process memory otherwise.

`take` answers None when the request was counted, or the seconds until the member has room again. Tokens
are counted as the prompt's estimate at take time, plus the answer's tokens once known (`add_tokens`).
Redis down: fail open (the provider's own 429 still protects it) and leave Redis alone for a while.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from router.settings import Settings

__all__ = ["MemberQuotas", "MemoryQuotas", "RedisQuotas", "member_quotas"]

log = logging.getLogger(__name__)

WINDOW = 60.0

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = 60000
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local id = ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local wait = 0
if rpm >= 0 then
  if redis.call('ZCARD', KEYS[1]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
    if wait <= 0 then wait = 1 end
  end
end
if tpm >= 0 then
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local used = 0
  for i = 1, #entries, 2 do
    used = used + tonumber(string.match(entries[i], ':(%d+)$'))
  end
  if used > 0 and used + tokens > tpm then
    local need = used + tokens - tpm
    local freed = 0
    for i = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
      if freed >= need then
        wait = math.max(wait, tonumber(entries[i + 1]) + window - now, 1)
        break
      end
    end
  end
end
if wait > 0 then return tostring(wait) end
if rpm >= 0 then
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('PEXPIRE', KEYS[1], window)
end
if tpm >= 0 and tokens > 0 then
  redis.call('ZADD', KEYS[2], now, id .. ':' .. tokens)
  redis.call('PEXPIRE', KEYS[2], window)
end
return false
"""

_ADD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], 60000)
return 1
"""

_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


class MemberQuotas(Protocol):
    async def take(self, ref: str, rpm: int | None, tpm: int | None, tokens: int) -> float | None: ...

    async def add_tokens(self, ref: str, tokens: int) -> None: ...

    async def stop(self) -> None: ...


class MemoryQuotas:
    """One process's windows: exact for a single replica."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, deque[float]] = {}
        self._tokens: dict[str, deque[tuple[float, int]]] = {}

    def _trim(self, ref: str, now: float) -> tuple[deque[float], deque[tuple[float, int]]]:
        requests = self._requests.setdefault(ref, deque())
        tokens = self._tokens.setdefault(ref, deque())
        while requests and requests[0] <= now - WINDOW:
            requests.popleft()
        while tokens and tokens[0][0] <= now - WINDOW:
            tokens.popleft()
        return requests, tokens

    async def take(self, ref: str, rpm: int | None, tpm: int | None, tokens: int) -> float | None:
        now = self._clock()
        requests, spent = self._trim(ref, now)
        wait = 0.0
        if rpm is not None and len(requests) >= rpm:
            wait = max(wait, requests[0] + WINDOW - now, 0.001) if requests else WINDOW
        if tpm is not None:
            used = sum(n for _, n in spent)
            if used > 0 and used + tokens > tpm:
                need, freed = used + tokens - tpm, 0
                for at, n in spent:
                    freed += n
                    if freed >= need:
                        wait = max(wait, at + WINDOW - now, 0.001)
                        break
        if wait > 0:
            return wait
        if rpm is not None:
            requests.append(now)
        if tpm is not None and tokens > 0:
            spent.append((now, tokens))
        return None

    async def add_tokens(self, ref: str, tokens: int) -> None:
        if tokens > 0:
            self._tokens.setdefault(ref, deque()).append((self._clock(), tokens))

    async def stop(self) -> None:
        return None


class RedisQuotas:
    """Windows every replica shares."""

    def __init__(
        self, client: Redis[Any], *, namespace: str = "router", retry_after_failure: float = 5.0
    ) -> None:
        self.client = client
        self.namespace = namespace
        self._take = client.register_script(_TAKE)
        self._add = client.register_script(_ADD)
        self._retry_after_failure = retry_after_failure
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str, *, namespace: str = "router") -> RedisQuotas:
        # A blocking pool: under a burst, a take waits (briefly) for a connection instead of failing open,
        # which would let the burst past the quota.
        pool: BlockingConnectionPool[Any] = BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=2.0,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(Redis(connection_pool=pool), namespace=namespace)

    def _keys(self, ref: str) -> list[str]:
        return [f"{self.namespace}:pool:{ref}:rpm", f"{self.namespace}:pool:{ref}:tpm"]

    def _down(self, exc: BaseException) -> None:
        log.warning(
            "pool quotas: Redis unavailable (%s); quotas not enforced for %gs",
            type(exc).__name__,
            self._retry_after_failure,
        )
        self._down_until = time.monotonic() + self._retry_after_failure

    async def take(self, ref: str, rpm: int | None, tpm: int | None, tokens: int) -> float | None:
        if time.monotonic() < self._down_until:
            return None
        args: list[int | str] = [
            -1 if rpm is None else rpm,
            -1 if tpm is None else tpm,
            max(0, tokens),
            secrets.token_hex(8),
        ]
        try:
            waited = await self._take(keys=self._keys(ref), args=args)
        except _REDIS_ERRORS as exc:
            self._down(exc)
            return None
        if waited is None:
            return None
        return max(0.001, float(waited) / 1000.0)

    async def add_tokens(self, ref: str, tokens: int) -> None:
        if tokens <= 0 or time.monotonic() < self._down_until:
            return
        try:
            await self._add(keys=self._keys(ref)[1:], args=[secrets.token_hex(8), tokens])
        except _REDIS_ERRORS as exc:
            self._down(exc)

    async def stop(self) -> None:
        await self.client.aclose()  # type: ignore[attr-defined]


def member_quotas(settings: Settings) -> MemberQuotas:
    """Redis when configured (shared by every replica), process memory otherwise."""
    if settings.redis_url:
        return RedisQuotas.from_url(settings.redis_url, namespace=settings.redis_namespace)
    return MemoryQuotas()
