"""Prometheus exposition from usage events, and JSON log lines with secrets masked."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from router.observability import metrics
from router.observability.logging import JsonFormatter, RedactingFilter, configure_logging, redact
from tests.usage.helpers import event


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_observe_counts_requests_tokens_cost_and_latency_by_tenant_name_and_target() -> None:
    tenant, target = "obs-team", "azure/gpt4o"
    before_tokens = sample("router_tokens_total", tenant=tenant, target=target, kind="cache_read")
    metrics.observe(
        event(
            target=target,
            stream=True,
            input_tokens=10,
            output_tokens=4,
            cache_read_tokens=2,
            cost_usd=0.25,
            latency_ms=1500,
            ttft_ms=300,
        ),
        tenant,
    )
    metrics.observe(event(target=None, outcome="rejected", error_type="rate_limit_error"), tenant)
    assert sample("router_requests_total", tenant=tenant, target=target, outcome="ok") == 1
    assert sample("router_requests_total", tenant=tenant, target="none", outcome="rejected") == 1
    assert sample("router_errors_total", error_type="rate_limit_error", tenant=tenant) == 1
    assert sample("router_tokens_total", tenant=tenant, target=target, kind="input") == 10
    assert sample("router_tokens_total", tenant=tenant, target=target, kind="cache_read") == before_tokens + 2
    assert sample("router_cost_usd_total", tenant=tenant, target=target) == 0.25
    assert sample("router_request_duration_seconds_sum", tenant=tenant, target=target, stream="true") == 1.5
    assert sample("router_time_to_first_token_seconds_count", tenant=tenant, target=target) == 1


def test_render_is_prometheus_text_without_key_labels() -> None:
    metrics.observe(event(target="openai/gpt-4.1", key_prefix="rk-secretish", member="ann"), "render-team")
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert 'router_requests_total{outcome="ok",target="openai/gpt-4.1",tenant="render-team"}' in text
    assert "router_usage_queue_pending" in text
    assert "rk-secretish" not in text and "ann" not in text


@pytest.mark.parametrize(
    ("message", "leaked"),
    [
        ("upstream said no for sk-ant-api03-abcdefghijklmnop", "sk-ant-api03-abcdefghijklmnop"),
        ("header Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ("key=sk-proj_0123456789abcdef and more", "sk-proj_0123456789abcdef"),
    ],
)
def test_secrets_are_masked_in_messages(message: str, leaked: str) -> None:
    assert leaked not in redact(message)
    assert "[REDACTED]" in redact(message)


def test_short_sk_words_are_left_alone() -> None:
    assert redact("task-sk-12 is fine") == "task-sk-12 is fine"


def test_json_lines_carry_request_id_and_extras_with_secrets_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("router.test.jsonlog")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info(
            "called %s with %s",
            "openai",
            "sk-live-0123456789abcdef",
            extra={"request_id": "req_1", "target": "openai/gpt-4.1", "auth": "Bearer abc.def"},
        )
        try:
            raise RuntimeError("boom with sk-0123456789abcdef")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "called openai with [REDACTED]"
    assert (first["level"], first["logger"], first["request_id"]) == ("INFO", "router.test.jsonlog", "req_1")
    assert first["target"] == "openai/gpt-4.1" and "abc.def" not in first["auth"]
    assert first["time"].endswith("+00:00")
    assert "RuntimeError" in second["exc_info"] and "0123456789abcdef" not in second["exc_info"]


def test_configure_logging_replaces_root_handlers_instead_of_stacking() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("debug")
        configure_logging("warning", json=False)
        assert len(root.handlers) == 1 and root.level == logging.WARNING
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_request_series_expose_what_prometheus_clients_own_counter_and_histogram_would() -> None:
    """The per-request tallies are plain numbers turned into samples at scrape time; the samples must be the
    ones prometheus_client's Counter and Histogram give for the same observations."""
    tenant, target = "series-team", "openai/gpt-4.1"
    reference = CollectorRegistry()
    requests = Counter("router_requests", "", ["tenant", "target", "outcome"], registry=reference)
    duration = Histogram(
        "router_request_duration_seconds",
        "",
        ["tenant", "target", "stream"],
        buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
        registry=reference,
    )
    ttft = Histogram(
        "router_time_to_first_token_seconds",
        "",
        ["tenant", "target"],
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60),
        registry=reference,
    )
    cases = [
        (50, None, False),
        (100, 50, True),
        (300, 100, False),
        (700_000, 61_000, True),
        (1000, 999, True),
    ]
    for latency_ms, ttft_ms, stream in cases:
        metrics.observe(event(target=target, stream=stream, latency_ms=latency_ms, ttft_ms=ttft_ms), tenant)
        requests.labels(tenant, target, "ok").inc()
        duration.labels(tenant, target, "true" if stream else "false").observe(latency_ms / 1000)
        if ttft_ms is not None:
            ttft.labels(tenant, target).observe(ttft_ms / 1000)
    expected = [
        (sample.name, sample.labels, sample.value)
        for family in reference.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    ]
    assert len(expected) == 1 + 2 * (14 + 2) + (11 + 2)
    for name, labels, value in expected:
        assert metrics.REGISTRY.get_sample_value(name, labels) == pytest.approx(value), (name, labels)
    # Streamed and not streamed are one requests sample, as they were with a Counter.
    text = metrics.render()[0].decode()
    assert text.count(f'router_requests_total{{outcome="ok",target="{target}",tenant="{tenant}"}}') == 1
