"""Pool members' quotas in Redis: windows every replica shares (see `quotas`).

Apart from `quotas` so that a process without ROUTER_REDIS_URL never imports the Redis client (about a tenth
of the service's import time, with the OpenTelemetry API it pulls in).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

__all__ = ["RedisQuotas"]

log = logging.getLogger("router.usage.quotas")

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
