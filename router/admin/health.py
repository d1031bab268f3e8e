"""Per-target health from recent requests' attempts: error rate, latency, time to first token, last error.

Pure: fed (time, attempts, ttft) rows from the shared database, so the figures cover every replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["TargetHealth", "target_health"]


@dataclass(slots=True)
class TargetHealth:
    target: str
    attempts: int = 0
    errors: int = 0
    latencies: list[int] = field(default_factory=list)
    ttfts: list[int] = field(default_factory=list)
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_ok_at: datetime | None = None
    cooling: bool = False

    @property
    def error_rate(self) -> float:
        return self.errors / self.attempts if self.attempts else 0.0

    @property
    def p50_ms(self) -> int | None:
        return _percentile(self.latencies, 0.5)

    @property
    def p95_ms(self) -> int | None:
        return _percentile(self.latencies, 0.95)

    @property
    def ttft_p50_ms(self) -> int | None:
        return _percentile(self.ttfts, 0.5)


def _percentile(values: Sequence[int], q: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def target_health(
    rows: Iterable[tuple[datetime, list[dict[str, Any]], int | None]],
    known: Iterable[str] = (),
    cooling: Iterable[str] = (),
) -> list[TargetHealth]:
    """One entry per target seen in `rows` (newest first) or named in `known`, worst error rate first."""
    by_target: dict[str, TargetHealth] = {t: TargetHealth(t) for t in known}
    for at, attempts, ttft in rows:
        for index, attempt in enumerate(attempts):
            ref = str(attempt.get("target") or "")
            if not ref:
                continue
            health = by_target.setdefault(ref, TargetHealth(ref))
            health.attempts += 1
            status = attempt.get("status")
            latency = attempt.get("latency_ms")
            if isinstance(latency, int):
                health.latencies.append(latency)
            if status == 200:
                if health.last_ok_at is None:
                    health.last_ok_at = at
                # The request's TTFT belongs to the attempt that answered (the last one).
                if ttft is not None and index == len(attempts) - 1:
                    health.ttfts.append(ttft)
            else:
                health.errors += 1
                if health.last_error_at is None:
                    health.last_error_at = at
                    detail = attempt.get("error") or attempt.get("error_type") or ""
                    health.last_error = f"{status} {detail}".strip()
    for ref in cooling:
        by_target.setdefault(ref, TargetHealth(ref)).cooling = True
    return sorted(by_target.values(), key=lambda h: (-h.cooling, -h.error_rate, h.target))
