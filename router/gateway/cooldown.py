"""Targets that keep failing are skipped for a while, by every request in this process.

Deliberately per process: a cool-down is a local, short-lived judgement of health, not configuration, and
each replica sees the upstream through its own connections.

The same calls keep a per-target tally of attempts and failures in 10-second buckets over the last hour,
which error-rate alerts read (router/alerts/) off the request path.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from router.routing.model import Target

TALLY_BUCKET_SECONDS = 10
TALLY_HORIZON_SECONDS = 3600


class AttemptTally:
    """Attempts and failures per target in fixed buckets; only buckets with traffic take memory."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # ref -> [bucket number, attempts, failures], oldest first
        self._buckets: dict[str, deque[list[int]]] = {}

    def add(self, ref: str, failed: bool) -> None:
        bucket = int(self._clock()) // TALLY_BUCKET_SECONDS
        rows = self._buckets.get(ref)
        if rows is None:
            rows = self._buckets[ref] = deque()
        if not rows or rows[-1][0] != bucket:
            rows.append([bucket, 0, 0])
            horizon = bucket - TALLY_HORIZON_SECONDS // TALLY_BUCKET_SECONDS
            while rows and rows[0][0] <= horizon:
                rows.popleft()
        rows[-1][1] += 1
        rows[-1][2] += int(failed)

    def counts(self, seconds: float) -> dict[str, tuple[int, int]]:
        """(attempts, failures) per target over about the last `seconds` (whole buckets)."""
        now = int(self._clock()) // TALLY_BUCKET_SECONDS
        first = now - max(1, int(seconds) // TALLY_BUCKET_SECONDS) + 1
        out: dict[str, tuple[int, int]] = {}
        for ref, rows in list(self._buckets.items()):
            attempts = failures = 0
            for bucket, tried, failed in list(rows):
                if bucket >= first:
                    attempts += tried
                    failures += failed
            if attempts:
                out[ref] = (attempts, failures)
        return out


class Cooldowns:
    def __init__(self, *, after_failures: int, seconds: float) -> None:
        self._after = max(1, after_failures)
        self._seconds = seconds
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self.tally = AttemptTally()

    def is_cool(self, ref: str, now: float | None = None) -> bool:
        until = self._until.get(ref)
        if until is None:
            return False
        if (now if now is not None else time.monotonic()) >= until:
            del self._until[ref]
            self._failures.pop(ref, None)
            return False
        return True

    def failure(self, ref: str) -> None:
        self.tally.add(ref, True)
        count = self._failures.get(ref, 0) + 1
        self._failures[ref] = count
        if count >= self._after:
            self._until[ref] = time.monotonic() + self._seconds

    def fault(self, ref: str) -> None:
        """A final failure of the target's own (its credential refused, say): counted in its error rate,
        not towards a cool-down (skipping it would not mend it, and the request failed already)."""
        self.tally.add(ref, True)

    def success(self, ref: str) -> None:
        self.tally.add(ref, False)
        if ref in self._failures:
            del self._failures[ref]
            self._until.pop(ref, None)

    def order(self, targets: Iterable[Target]) -> list[Target]:
        """Healthy targets in chain order, then cooled ones (better a cooled target than no answer)."""
        now = time.monotonic()
        healthy: list[Target] = []
        cooled: list[Target] = []
        for target in targets:
            (cooled if self.is_cool(target.ref, now) else healthy).append(target)
        return healthy + cooled

    def cooled(self) -> list[str]:
        now = time.monotonic()
        return [ref for ref, until in self._until.items() if until > now]
