"""Choosing a pool's member for one request: the order to try members in, and why. Pure.

The gateway supplies what it knows of each member (cooling down? requests in flight? recent time to first
token?) and takes members in the returned order, skipping any over its quota. `route explain` and try-it call
the same function, so they show the member a request would get.

- A request carrying a session (a sticky pool) gets the members in weighted rendezvous-hash order of
  (session, member): the same member for every request of the session, on every replica, with no shared
  state, while that member is healthy; if it is not, the next in that session's own order.
- `weighted`: a weighted random order (weights are shares of traffic).
- `least-busy`: fewest requests in flight first (per replica), ties broken by weight.
- `lowest-latency`: lowest recent time to first token first; a member never measured is tried first.
Members cooling down after failures always come last: better a cooling member than no answer.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from router.routing.model import Pool, PoolMember

__all__ = ["MemberChoice", "MemberState", "order_members", "shares"]


@dataclass(frozen=True, slots=True)
class MemberState:
    cooling: bool = False
    in_flight: int = 0
    latency_ms: float | None = None


_IDLE = MemberState()


@dataclass(frozen=True, slots=True)
class MemberChoice:
    member: PoolMember
    reason: str

    @property
    def ref(self) -> str:
        return self.member.target.ref


def shares(pool: Pool) -> dict[str, float]:
    """Each member's share of traffic under its weight (what `weighted` converges to)."""
    total = sum(max(1, m.weight) for m in pool.members) or 1
    return {m.target.ref: max(1, m.weight) / total for m in pool.members}


def _unit_hash(session: str, ref: str) -> float:
    digest = hashlib.blake2b(f"{session}\x00{ref}".encode(), digest_size=8).digest()
    # (0, 1): never exactly 0 or 1, so the logarithm below is finite and non-zero.
    return (int.from_bytes(digest, "big") + 0.5) / 2**64


def _rendezvous_key(session: str, member: PoolMember) -> float:
    # Weighted rendezvous hashing: the member with the largest -w/ln(u) wins, with probability w / sum(w).
    return -max(1, member.weight) / math.log(_unit_hash(session, member.target.ref))


def _random_key(rng: random.Random, member: PoolMember) -> float:
    # Efraimidis-Spirakis: sorting by u^(1/w) gives a weighted random order (first pick ~ w / sum(w)).
    return float(rng.random() ** (1.0 / max(1, member.weight)))


def order_members(
    pool: Pool,
    *,
    session: str | None = None,
    state: Callable[[PoolMember], MemberState] | None = None,
    rng: random.Random | None = None,
) -> list[MemberChoice]:
    """Every member, in the order to try them, each with why it is there."""
    look = state or (lambda _m: _IDLE)
    draw = rng or random.Random()
    states = {m.target.ref: look(m) for m in pool.members}
    share = shares(pool)

    if pool.sticky and session:
        ranked = sorted(pool.members, key=lambda m: _rendezvous_key(session, m), reverse=True)
        reasons = ["sticky: this session's member"] + ["sticky: next for this session"] * (len(ranked) - 1)
    elif pool.strategy == "least-busy":
        keyed = [(states[m.target.ref].in_flight, -_random_key(draw, m), m) for m in pool.members]
        keyed.sort(key=lambda k: (k[0], k[1]))
        ranked = [m for _, _, m in keyed]
        reasons = [f"least busy: {states[m.target.ref].in_flight} in flight" for m in ranked]
    elif pool.strategy == "lowest-latency":

        def latency(m: PoolMember) -> float:
            value = states[m.target.ref].latency_ms
            return -1.0 if value is None else value

        keyed_latency = [(latency(m), -_random_key(draw, m), m) for m in pool.members]
        keyed_latency.sort(key=lambda k: (k[0], k[1]))
        ranked = [m for _, _, m in keyed_latency]
        reasons = [
            "lowest latency: not measured yet"
            if states[m.target.ref].latency_ms is None
            else f"lowest latency: {states[m.target.ref].latency_ms:.0f} ms to first token"
            for m in ranked
        ]
    else:
        ranked = sorted(pool.members, key=lambda m: _random_key(draw, m), reverse=True)
        reasons = [f"weighted: {share[m.target.ref]:.0%} of traffic" for m in ranked]

    healthy = [
        MemberChoice(m, r) for m, r in zip(ranked, reasons, strict=True) if not states[m.target.ref].cooling
    ]
    cooling = [
        MemberChoice(m, "cooling down after failures: last resort")
        for m in ranked
        if states[m.target.ref].cooling
    ]
    return healthy + cooling
