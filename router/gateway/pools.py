"""What this process knows of pool members (requests in flight, recent time to first token, cool-downs) and
the members' quotas, which every replica shares. `routing/pools.py` turns that into an order to try.

In flight and latency are per replica on purpose: they describe what this process sees of a member now, and
a load balancer in front spreads requests across replicas already. Quotas are not: a provider's rpm/tpm is
one number for all replicas, so they live in usage/quotas.py (Redis when configured).
"""

from __future__ import annotations

from router.gateway.cooldown import Cooldowns
from router.routing.model import Pool, PoolMember
from router.routing.pools import MemberChoice, MemberState, order_members
from router.usage.quotas import MemberQuotas

__all__ = ["PoolBalancer"]

# Weight of the newest time-to-first-token sample in the moving average.
_ALPHA = 0.3


class PoolBalancer:
    def __init__(self, cooldowns: Cooldowns, quotas: MemberQuotas) -> None:
        self._cooldowns = cooldowns
        self.quotas = quotas
        self._in_flight: dict[str, int] = {}
        self._latency: dict[str, float] = {}

    def state(self, member: PoolMember) -> MemberState:
        ref = member.target.ref
        return MemberState(
            cooling=self._cooldowns.is_cool(ref),
            in_flight=self._in_flight.get(ref, 0),
            latency_ms=self._latency.get(ref),
        )

    def order(self, pool: Pool, session: str | None) -> list[MemberChoice]:
        return order_members(pool, session=session, state=self.state)

    async def take(self, member: PoolMember, tokens: int) -> float | None:
        """None when the member has quota room for this request (now counted), else seconds until it has."""
        if member.rpm is None and member.tpm is None:
            return None
        return await self.quotas.take(member.target.ref, member.rpm, member.tpm, tokens)

    async def settle(self, member: PoolMember, output_tokens: int) -> None:
        """Count the answer's tokens against the member's tpm (the prompt was counted at take time)."""
        if member.tpm is not None and output_tokens > 0:
            await self.quotas.add_tokens(member.target.ref, output_tokens)

    def started(self, ref: str) -> None:
        self._in_flight[ref] = self._in_flight.get(ref, 0) + 1

    def finished(self, ref: str) -> None:
        left = self._in_flight.get(ref, 0) - 1
        if left > 0:
            self._in_flight[ref] = left
        else:
            self._in_flight.pop(ref, None)

    def observe_latency(self, ref: str, ms: float) -> None:
        previous = self._latency.get(ref)
        self._latency[ref] = ms if previous is None else (1 - _ALPHA) * previous + _ALPHA * ms

    def latency(self, ref: str) -> float | None:
        return self._latency.get(ref)

    def in_flight(self, ref: str) -> int:
        return self._in_flight.get(ref, 0)
