"""Targets that keep failing are skipped for a while, by every request in this process.

Deliberately per process: a cool-down is a local, short-lived judgement of health, not configuration, and
each replica sees the upstream through its own connections.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from router.routing.model import Target


class Cooldowns:
    def __init__(self, *, after_failures: int, seconds: float) -> None:
        self._after = max(1, after_failures)
        self._seconds = seconds
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}

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
        count = self._failures.get(ref, 0) + 1
        self._failures[ref] = count
        if count >= self._after:
            self._until[ref] = time.monotonic() + self._seconds

    def success(self, ref: str) -> None:
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
