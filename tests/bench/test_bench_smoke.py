"""The whole benchmark in its tiny mode (a few seconds per target), so the one command cannot rot.

Runs `python -m bench.run --tiny` exactly as a person would (a real `router serve` configured through the CLI,
the fake upstream, the driver), then checks the results file it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_tiny_bench_measures_floor_and_router_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--tiny", "--skip", "usage", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())

    cells = {(c["target"], c["shape"], c["stream"], c["concurrency"]): c for c in results["cells"]}
    for target in ("floor", "router"):
        for shape in ("claude_code", "tiny"):
            for stream in (False, True):
                for c in (1, 4):
                    cell = cells[(target, shape, stream, c)]
                    assert cell["errors"] == 0, cell
                    assert cell["requests"] > 0, cell
                    assert cell["latency_ms"]["p50"] > 0
                    if stream:
                        assert 0 < cell["ttft_ms"]["p50"] <= cell["latency_ms"]["p99"]
    # The router does real work (auth, translation, a second hop): it can never beat the upstream alone.
    for row in results["comparisons"]:
        assert row["router_added_ms"] > 0, row
    router = results["servers"]["router"]
    assert router["startup_s"] > 0
    assert router["rss_idle_mb"] > 20
    assert results["resolver"]["warm_per_s"] > 0
    assert results["resolver"]["cold_per_s"] > 0
    assert "| router | claude_code | yes | 4 |" in done.stdout
