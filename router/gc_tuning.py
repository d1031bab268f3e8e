"""The garbage collector's settings for a long-running server process (measured in bench/README.md)."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Move start-up objects out of the collector's way and collect young objects less often.

    Importing LiteLLM leaves ~270,000 tracked objects that every full collection walks again; under load
    that made single pauses of 300-500 ms and most of the p99. Measured in bench/README.md: frozen start-up
    objects and a larger first-generation threshold nearly halve CPU per Claude Code request. The
    threshold is set at start-up; the collection and freeze (~0.05 s) run once the late routes are in and
    again once LiteLLM's background import finished (from that thread: the calls are process-wide and safe
    there), not before the port opens.
    """
    gc.collect()
    gc.freeze()
    collect_young_less_often()


def collect_young_less_often() -> None:
    gc.set_threshold(20_000, 50, 100)
