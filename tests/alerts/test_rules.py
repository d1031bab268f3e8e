"""The pure core: which thresholds fire for which readings, windows, and the message and its signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from router.alerts.message import body_for, sign, signature_headers, verify
from router.alerts.rules import (
    AlertRule,
    Reading,
    bucket_start,
    cooldown_readings,
    error_rate_readings,
    firings,
    window_start,
)
from router.gateway.cooldown import AttemptTally

NOW = datetime(2026, 12, 9, 13, 47, 31, tzinfo=UTC)  # a Wednesday


def budget(subject: str, value: float, tenant: str = "acme", kind: str = "tenant") -> Reading:
    return Reading("budget", subject, kind, subject, value, "month", window_start("month", NOW), tenant)


RULE = AlertRule(1, "spend", "budget", (50.0, 80.0, 100.0))


def test_every_reached_threshold_is_claimed_and_only_the_highest_is_sent() -> None:
    got = [
        (f.reading.subject, f.threshold, f.status) for f in firings(RULE, [budget("b", 85), budget("a", 20)])
    ]
    assert got == [("b", 50.0, "superseded"), ("b", 80.0, "pending")]


def test_a_threshold_is_reached_at_its_value_exactly() -> None:
    assert [f.threshold for f in firings(RULE, [budget("a", 50.0)])] == [50.0]
    assert firings(RULE, [budget("a", 49.99)]) == []


def test_tenant_and_subject_filters() -> None:
    rule = AlertRule(1, "spend", "budget", (50.0,), tenants=frozenset({"beta"}), subjects=frozenset({"key"}))
    readings = [budget("t", 90, "beta"), budget("k1", 90, "beta", "key"), budget("k2", 90, "acme", "key")]
    assert [f.reading.subject for f in firings(rule, readings)] == ["k1"]


def test_readings_of_another_watch_never_fire() -> None:
    rule = AlertRule(2, "errors", "error_rate", (5.0,))
    assert firings(rule, [budget("a", 99)]) == []


def test_budget_windows_start_at_utc_boundaries() -> None:
    assert window_start("day", NOW) == datetime(2026, 12, 9, tzinfo=UTC)
    assert window_start("week", NOW) == datetime(2026, 12, 7, tzinfo=UTC)  # Monday
    assert window_start("month", NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        window_start("year", NOW)


def test_minute_buckets_are_aligned_so_replicas_agree() -> None:
    assert bucket_start(NOW, 5) == datetime(2026, 12, 9, 13, 45, tzinfo=UTC)
    assert bucket_start(NOW, 60) == datetime(2026, 12, 9, 13, 0, tzinfo=UTC)
    assert bucket_start(NOW, 7) == datetime(2026, 12, 9, 13, 46, tzinfo=UTC)  # 826 min = 118 * 7


def test_error_rates_need_enough_attempts_and_respect_target_globs() -> None:
    rule = AlertRule(3, "errors", "error_rate", (10.0,), targets=("openai/*",), min_requests=10)
    readings = error_rate_readings({"openai/a": (10, 1), "openai/b": (9, 9), "azure/c": (50, 50)}, rule, NOW)
    assert [(r.subject, r.value) for r in readings] == [("target:azure/c", 100.0), ("target:openai/a", 10.0)]
    assert [f.reading.subject for f in firings(rule, readings)] == ["target:openai/a"]


def test_a_cooled_target_fires_once_per_bucket() -> None:
    rule = AlertRule(4, "cooled", "cooldown", window_minutes=15)
    (firing,) = firings(rule, cooldown_readings(["openai/a", "openai/a"], rule, NOW))
    assert (firing.threshold, firing.reading.window_start) == (0.0, datetime(2026, 12, 9, 13, 45, tzinfo=UTC))


def test_the_body_is_slack_text_plus_structured_fields() -> None:
    reading = Reading(
        "budget", "tenant:acme:day", "tenant", "tenant acme", 80.5, "day", window_start("day", NOW), "acme",
        {"spent_usd": 16.1, "budget_usd": 20.0},
    )  # fmt: skip
    (firing,) = firings(AlertRule(1, "spend", "budget", (80.0,)), [reading])
    body = body_for(firing, NOW)
    assert body["text"] == (
        "[spend] tenant acme has used 80.5% of its day budget today ($16.10 of $20.00): past the 80% threshold."
    )
    assert body["alert"]["window_start"] == "2026-12-09T00:00:00+00:00"
    assert body["alert"]["threshold"] == 80.0 and body["alert"]["value"] == 80.5


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"text":"hi"}'
    expected = hmac.new(b"k3y-secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k3y-secret", 1700000000, body) == "sha256=" + expected
    headers = signature_headers("k3y-secret", 1700000000, body)
    assert verify("k3y-secret", headers["X-Router-Timestamp"], headers["X-Router-Signature"], body)
    assert not verify("k3y-secret", "1700000001", headers["X-Router-Signature"], body)
    assert signature_headers(None, 1, body) == {}


def test_the_attempt_tally_counts_recent_buckets_only() -> None:
    now = [1_000_000.0]
    tally = AttemptTally(clock=lambda: now[0])
    for failed in (True, True, False):
        tally.add("openai/a", failed)
    now[0] += 200
    tally.add("openai/a", False)
    tally.add("azure/b", True)
    assert tally.counts(300) == {"openai/a": (4, 2), "azure/b": (1, 1)}
    assert tally.counts(60) == {"openai/a": (1, 0), "azure/b": (1, 1)}
    now[0] += 4000  # past the hour kept
    tally.add("openai/a", True)
    assert tally.counts(3600) == {"openai/a": (1, 1)}
