"""GC probe for `python -m bench.run --gc-stats`: how much time a server spends in Python's cyclic GC.

Python imports `sitecustomize` at start-up from the first sys.path entry that has one; the runner puts this
folder on PYTHONPATH (and sets BENCH_GC_STATS_DIR) only for the server process it measures. Every collection
is timed through `gc.callbacks`; on SIGUSR1 the process writes its totals to <dir>/<pid>.json and starts a new
"longest pause" window. Nothing happens without BENCH_GC_STATS_DIR.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from typing import Any

_DIR = os.environ.get("BENCH_GC_STATS_DIR")


def _install(folder: str) -> None:
    stats: dict[str, list[Any]] = {
        "count": [0, 0, 0],
        "seconds": [0.0, 0.0, 0.0],
        "max_pause": [0.0, 0.0, 0.0],
    }
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        gen = info["generation"]
        spent = time.perf_counter() - started[0]
        stats["count"][gen] += 1
        stats["seconds"][gen] += spent
        if spent > stats["max_pause"][gen]:
            stats["max_pause"][gen] = spent

    def dump(_signum: int, _frame: Any) -> None:
        path = os.path.join(folder, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as f:
            json.dump({**stats, "frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}, f)
        os.replace(path + ".tmp", path)
        stats["max_pause"] = [0.0, 0.0, 0.0]

    gc.callbacks.append(on_gc)
    signal.signal(signal.SIGUSR1, dump)


if _DIR:
    _install(_DIR)
