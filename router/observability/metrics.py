"""Prometheus metrics for operators, in a registry of our own (not the process-global one).

Labels are the tenant's NAME and the target ref, never a key or a member: their number stays bounded by
what an admin configures, not by traffic. Each process (uvicorn worker) keeps its own registry; a scrape
sees the process that answered it, so run one worker per replica (the usual shape) or sum across replicas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from router.store.usage_writes import UsageEvent

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60)

REQUESTS = Counter(
    "router_requests", "Requests answered, by outcome.", ["tenant", "target", "outcome"], registry=REGISTRY
)
ERRORS = Counter(
    "router_errors", "Failed requests, by error type.", ["error_type", "tenant"], registry=REGISTRY
)
DURATION = Histogram(
    "router_request_duration_seconds",
    "Whole request time, first byte in to last byte out.",
    ["tenant", "target", "stream"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
TTFT = Histogram(
    "router_time_to_first_token_seconds",
    "Time to the first streamed token.",
    ["tenant", "target"],
    buckets=_TTFT_BUCKETS,
    registry=REGISTRY,
)
TOKENS = Counter("router_tokens", "Tokens, by kind.", ["tenant", "target", "kind"], registry=REGISTRY)
COST = Counter(
    "router_cost_usd", "Cost in USD as priced by the router.", ["tenant", "target"], registry=REGISTRY
)

KEY_LOOKUPS = Counter(
    "router_key_lookup_queries",
    "Database queries for keys the routing snapshot does not hold (one query answers a whole batch).",
    registry=REGISTRY,
)
KEYS_REFUSED = Counter(
    "router_keys_refused",
    "Requests refused for their key before any lookup (not in our key format, a cached miss), and "
    "refusals held back during a flood of unknown keys (delayed).",
    ["reason"],
    registry=REGISTRY,
)

REDIS_UNAVAILABLE = Counter(
    "router_limits_redis_unavailable",
    "Limited requests decided without Redis, by decision: open (Redis unreachable: served uncounted, their "
    "spend added back when Redis returns), closed (Redis unreachable: refused) or busy (no pooled "
    "connection within the pool timeout: refused).",
    ["decision"],
    registry=REGISTRY,
)

ALERT_ATTEMPTS = Counter(
    "router_alert_webhook_attempts",
    "Alert webhook attempts made by this process, by alert and result: delivered (2xx), retry (failed, "
    "tried again later) or failed (failed, no attempts left).",
    ["alert", "result"],
    registry=REGISTRY,
)

# A request that reached no target (rejected, or every attempt failed before one answered).
NO_TARGET = "none"


def observe(event: UsageEvent, tenant_name: str) -> None:
    """Count one finished request (called by the recorder for every event; dictionary lookups only)."""
    target = event.target or NO_TARGET
    REQUESTS.labels(tenant_name, target, event.outcome).inc()
    if event.outcome in ("error", "rejected"):
        ERRORS.labels(event.error_type or "unknown", tenant_name).inc()
    DURATION.labels(tenant_name, target, "true" if event.stream else "false").observe(event.latency_ms / 1000)
    if event.ttft_ms is not None:
        TTFT.labels(tenant_name, target).observe(event.ttft_ms / 1000)
    for kind, count in (
        ("input", event.input_tokens),
        ("output", event.output_tokens),
        ("cache_read", event.cache_read_tokens),
        ("cache_write", event.cache_write_tokens),
    ):
        if count:
            TOKENS.labels(tenant_name, target, kind).inc(count)
    if event.cost_usd:
        COST.labels(tenant_name, target).inc(event.cost_usd)


class QueueSource(Protocol):
    """What the queue gauges read (the UsageRecorder)."""

    @property
    def pending(self) -> int: ...

    written: int
    dropped: int
    dead_lettered: int
    failures: int


class _QueueCollector(Collector):
    """Reads the recorder's counters at scrape time, so the request path never updates a gauge."""

    def __init__(self) -> None:
        self.source: QueueSource | None = None

    def collect(self) -> Iterator[Metric]:
        source = self.source
        pending = GaugeMetricFamily("router_usage_queue_pending", "Usage records waiting to be written.")
        written = CounterMetricFamily("router_usage_written", "Usage records written to the database.")
        dropped = CounterMetricFamily(
            "router_usage_dropped",
            "Usage records dropped (queue full, or refused and not storable as a dead letter).",
        )
        dead = CounterMetricFamily(
            "router_usage_dead_lettered",
            "Usage records the database refused, set aside in usage_dead_letters (replay with the CLI).",
        )
        failures = CounterMetricFamily("router_usage_write_failures", "Failed usage batch writes (retried).")
        pending.add_metric([], source.pending if source else 0)
        written.add_metric([], source.written if source else 0)
        dropped.add_metric([], source.dropped if source else 0)
        dead.add_metric([], source.dead_lettered if source else 0)
        failures.add_metric([], source.failures if source else 0)
        yield from (pending, written, dropped, dead, failures)

    def describe(self) -> Iterator[Metric]:
        return iter(())


_QUEUE = _QueueCollector()
REGISTRY.register(_QUEUE)


def track_recorder(source: QueueSource | None) -> None:
    """Point the queue gauges at this process's recorder (UsageRecorder.start() calls it)."""
    _QUEUE.source = source


def render() -> tuple[bytes, str]:
    """The exposition body and its content type, for GET /metrics."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
