"""Target health from attempts: rates, percentiles, last error and success, cool-downs first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.admin.health import target_health

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_error_rate_latency_and_last_error_per_target() -> None:
    rows = [
        (
            NOW,
            [
                {"target": "a/m", "status": 503, "error_type": "overloaded_error", "latency_ms": 10},
                {"target": "b/m", "status": 200, "latency_ms": 300},
            ],
            120,
        ),
        (NOW - timedelta(minutes=1), [{"target": "a/m", "status": 200, "latency_ms": 100}], 40),
        (
            NOW - timedelta(minutes=2),
            [
                {
                    "target": "a/m",
                    "status": 502,
                    "error": "a/m: connection to the upstream failed",
                    "latency_ms": 5,
                }
            ],
            None,
        ),
    ]
    health = {h.target: h for h in target_health(rows, known=["c/m"], cooling=["a/m"])}
    a = health["a/m"]
    assert (a.attempts, a.errors, a.cooling) == (3, 2, True)
    assert a.last_error == "503 overloaded_error" and a.last_error_at == NOW
    assert a.last_ok_at == NOW - timedelta(minutes=1) and a.ttft_p50_ms == 40
    assert health["b/m"].error_rate == 0 and health["b/m"].ttft_p50_ms == 120 and health["b/m"].p95_ms == 300
    assert health["c/m"].attempts == 0  # configured but idle: still listed
    assert next(iter(target_health(rows, known=["c/m"], cooling=["a/m"]))).target == "a/m"
