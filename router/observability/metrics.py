"""Prometheus metrics for operators, in a registry of our own (not the process-global one).

Labels are the tenant's NAME and the target ref, never a key or a member: their number stays bounded by
what an admin configures, not by traffic. Each process (uvicorn worker) keeps its own registry; a scrape
sees the process that answered it, so run one worker per replica (the usual shape) or sum across replicas.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from math import inf
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from router.store.usage_writes import UsageEvent

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60)

ERRORS = Counter(
    "router_errors", "Failed requests, by error type.", ["error_type", "tenant"], registry=REGISTRY
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


_TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


class _Series:
    """One (tenant, target, outcome, stream)'s request tallies, kept as plain numbers and turned into samples
    at scrape time (_SeriesCollector): prometheus_client's children take a lock and a few calls per
    increment, eight of them per record, which cost the usage writer ~20 us of CPU a record."""

    __slots__ = ("cost", "duration", "duration_sum", "requests", "tokens", "ttft", "ttft_sum")

    def __init__(self) -> None:
        self.requests = 0
        self.duration = [0] * (len(_LATENCY_BUCKETS) + 1)  # per bucket, not cumulative; the last is +Inf
        self.duration_sum = 0.0
        self.ttft = [0] * (len(_TTFT_BUCKETS) + 1)
        self.ttft_sum = 0.0
        self.tokens = [0, 0, 0, 0]  # in _TOKEN_KINDS order
        self.cost = 0.0


# Bounded like the label sets themselves: tenant names and target refs are what admins configure.
_series: dict[tuple[str, str, str, bool], _Series] = {}


def observe(event: UsageEvent, tenant_name: str) -> None:
    """Count one finished request (called by the recorder for every event, on the event loop's thread)."""
    key = (tenant_name, event.target or NO_TARGET, event.outcome, event.stream)
    series = _series.get(key)
    if series is None:
        series = _series[key] = _Series()
    series.requests += 1
    if event.outcome in ("error", "rejected"):
        ERRORS.labels(event.error_type or "unknown", tenant_name).inc()
    seconds = event.latency_ms / 1000
    series.duration[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
    series.duration_sum += seconds
    if event.ttft_ms is not None:
        seconds = event.ttft_ms / 1000
        series.ttft[bisect_left(_TTFT_BUCKETS, seconds)] += 1
        series.ttft_sum += seconds
    tokens = series.tokens
    tokens[0] += event.input_tokens
    tokens[1] += event.output_tokens
    tokens[2] += event.cache_read_tokens
    tokens[3] += event.cache_write_tokens
    series.cost += event.cost_usd


def _buckets(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    cumulative = list(accumulate(counts))
    return [
        ("+Inf" if b == inf else repr(float(b)), c) for b, c in zip((*bounds, inf), cumulative, strict=True)
    ]


class _SeriesCollector(Collector):
    """The request series as the same families Counter and Histogram would expose (names, help, labels)."""

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "router_requests", "Requests answered, by outcome.", labels=["tenant", "target", "outcome"]
        )
        duration = HistogramMetricFamily(
            "router_request_duration_seconds",
            "Whole request time, first byte in to last byte out.",
            labels=["tenant", "target", "stream"],
        )
        ttft = HistogramMetricFamily(
            "router_time_to_first_token_seconds",
            "Time to the first streamed token.",
            labels=["tenant", "target"],
        )
        tokens = CounterMetricFamily("router_tokens", "Tokens, by kind.", labels=["tenant", "target", "kind"])
        cost = CounterMetricFamily(
            "router_cost_usd", "Cost in USD as priced by the router.", labels=["tenant", "target"]
        )
        # Per (tenant, target) across outcomes and stream, as the labels of those families have them.
        by_outcome: dict[tuple[str, str, str], int] = {}
        by_stream: dict[tuple[str, str, str], _Series] = {}
        by_target: dict[tuple[str, str], _Series] = {}
        for (tenant, target, outcome, streamed), series in list(_series.items()):
            by_outcome[tenant, target, outcome] = (
                by_outcome.get((tenant, target, outcome), 0) + series.requests
            )
            _add(by_stream.setdefault((tenant, target, "true" if streamed else "false"), _Series()), series)
            _add(by_target.setdefault((tenant, target), _Series()), series)
        for labels, count in by_outcome.items():
            requests.add_metric(list(labels), count)
        for (tenant, target, stream), series in by_stream.items():
            duration.add_metric(
                [tenant, target, stream], _buckets(_LATENCY_BUCKETS, series.duration), series.duration_sum
            )
        for (tenant, target), series in by_target.items():
            if any(series.ttft):
                ttft.add_metric([tenant, target], _buckets(_TTFT_BUCKETS, series.ttft), series.ttft_sum)
            for kind, count in zip(_TOKEN_KINDS, series.tokens, strict=True):
                if count:
                    tokens.add_metric([tenant, target, kind], count)
            if series.cost:
                cost.add_metric([tenant, target], series.cost)
        yield from (requests, duration, ttft, tokens, cost)

    def describe(self) -> Iterator[Metric]:
        return iter(())


def _add(into: _Series, series: _Series) -> None:
    into.requests += series.requests
    into.duration = [a + b for a, b in zip(into.duration, series.duration, strict=True)]
    into.duration_sum += series.duration_sum
    into.ttft = [a + b for a, b in zip(into.ttft, series.ttft, strict=True)]
    into.ttft_sum += series.ttft_sum
    into.tokens = [a + b for a, b in zip(into.tokens, series.tokens, strict=True)]
    into.cost += series.cost


REGISTRY.register(_SeriesCollector())


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
