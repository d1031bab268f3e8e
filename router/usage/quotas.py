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
import time
from collections import deque
from typing import Any, Protocol

from router.settings import Settings

__all__ = ["MemberQuotas", "MemoryQuotas", "member_quotas"]

log = logging.getLogger(__name__)

WINDOW = 60.0


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


def member_quotas(settings: Settings) -> MemberQuotas:
    """Redis when configured (shared by every replica), process memory otherwise."""
    if settings.redis_url:
        from router.usage.quotas_redis import RedisQuotas  # only with Redis: see quotas_redis

        return RedisQuotas.from_url(settings.redis_url, namespace=settings.redis_namespace)
    return MemoryQuotas()
