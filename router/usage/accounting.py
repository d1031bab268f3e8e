"""Per-request accounting: what one request learns on its way (model, attempts, target, tokens, timings),
and how it ends as exactly one usage event, recorded off the request path and counted against limits.

The gateway opens an `Exchange` when it knows the caller, feeds it what it sees (the answer's usage, each
streamed batch of events), and hands it to `Accounting.finish` once, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from router.observability.access import access_note
from router.routing.model import KeySpec, Target, TenantSpec
from router.store.usage_bounds import bound_count
from router.store.usage_writes import UsageEvent
from router.usage.limit_rules import Reservation
from router.usage.limits import Limiter
from router.usage.recorder import UsageRecorder
from router.wire.stream_events import StreamEvent

# Streamed characters per token, for a stream the client left before the upstream's final usage.
CHARS_PER_TOKEN = 4


class AttemptRecord(Protocol):
    """One try at one target, as the usage record lists it (gateway/attempts.py: Attempt)."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class Exchange:
    """What one request has learnt so far; becomes its usage event."""

    request_id: str
    key: KeySpec
    tenant: TenantSpec
    started: float = field(default_factory=time.perf_counter)
    model: str = ""
    stream: bool = False
    attempts: list[AttemptRecord] = field(default_factory=list)
    target: Target | None = None
    usage: dict[str, int] = field(default_factory=dict)
    estimated: bool = False
    # True once the upstream's final usage (message_delta) arrived.
    final_usage: bool = False
    ttft_ms: int | None = None
    # Characters of text, tool input and thinking streamed to the client so far.
    delivered_chars: int = 0
    # The worst case the limiter charged at admission, settled to the real figures in `finish`.
    reservation: Reservation | None = None

    def absorb_message(self, message: Mapping[str, Any]) -> None:
        """The usage of a whole (non-streamed) answer."""
        self.usage = usage_of(message.get("usage"))

    def observe(self, batch: Iterable[StreamEvent]) -> None:
        """Sniff one batch of streamed events on its way to the client: first token time, delivered text,
        and the usage that message_start and message_delta carry."""
        # Anthropic targets relay their upstream's events as received: read them with .get, not [].
        for event in batch:
            if event["type"] == "content_block_delta":
                if self.ttft_ms is None:
                    self.ttft_ms = ms_since(self.started)
                self.delivered_chars += _delta_chars(event.get("delta"))
            elif event["type"] == "message_start":
                message = event.get("message")
                self.usage.update(usage_of(message.get("usage") if isinstance(message, Mapping) else None))
            elif event["type"] == "message_delta":
                usage = event.get("usage")
                self.usage.update(usage_of(usage))
                if isinstance(usage, Mapping) and "output_tokens" in usage:
                    self.final_usage = True

    def end_stream(self, *, cancelled: bool, upstream_estimated: bool) -> None:
        """Settle a stream's token counts once it ended (normally, on an error, or by the client leaving)."""
        self.estimated = upstream_estimated
        if cancelled and not self.final_usage:
            # The client left before the upstream's final usage: count what was delivered.
            delivered = self.delivered_chars // CHARS_PER_TOKEN
            self.usage["output_tokens"] = max(self.usage.get("output_tokens", 0), delivered)
            self.estimated = True


class Accounting:
    """Ends exchanges: one usage event each, to the recorder, and the spend to the limiter."""

    def __init__(self, recorder: UsageRecorder, limiter: Limiter) -> None:
        self._recorder = recorder
        self._limiter = limiter
        self._background: set[asyncio.Task[None]] = set()

    def finish(
        self, ex: Exchange, *, status: int, error_type: str | None, outcome: str
    ) -> asyncio.Future[None] | None:
        """Record the exchange and settle its limits; returns what to await before the response completes
        for the record to survive a crash (None when there is no spool)."""
        usage = ex.usage
        input_tokens = usage.get("input_tokens", 0)
        output_tokens = usage.get("output_tokens", 0)
        cache_read = usage.get("cache_read_input_tokens", 0)
        cache_write = usage.get("cache_creation_input_tokens", 0)
        target = ex.target
        cost = target.price.cost(input_tokens, output_tokens, cache_read, cache_write) if target else 0.0
        key, tenant = ex.key, ex.tenant
        event = UsageEvent(
            created_at=datetime.now(UTC),
            request_id=ex.request_id,
            tenant_id=tenant.id,
            key_id=key.id,
            key_prefix=key.prefix,
            member=key.member,
            requested_model=ex.model,
            target=target.ref if target else None,
            provider=target.provider.name if target else None,
            upstream_model=target.upstream_model if target else None,
            attempts=[a.as_dict() for a in ex.attempts],
            stream=ex.stream,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            tokens_estimated=ex.estimated,
            cost_usd=cost,
            latency_ms=ms_since(ex.started),
            ttft_ms=ex.ttft_ms,
            status=status,
            error_type=error_type,
            outcome=outcome,
        )
        durable = self._recorder.record(event, tenant_name=tenant.name)
        note = access_note()
        if note is not None:
            note.tenant, note.key_prefix, note.model = tenant.name, key.prefix, ex.model
            note.target, note.stream, note.outcome = event.target, ex.stream, outcome
            note.input_tokens, note.output_tokens = input_tokens, output_tokens
            note.cache_read_tokens, note.cache_write_tokens = cache_read, cache_write
            note.error_type = error_type
        spent = input_tokens + output_tokens + cache_read + cache_write
        reservation, ex.reservation = ex.reservation, None
        counting: Coroutine[Any, Any, None] | None = None
        if reservation is not None:
            # Always settled, a failure too (then to nothing): the worst case must not stay charged.
            counting = self._limiter.settle(reservation, spent, cost)
        elif (spent or cost) and (key.limits.any or tenant.limits.any):
            counting = self._limiter.consume(key, tenant, spent, cost)
        if counting is not None:
            # Counting runs after the answer; a task so that a cancelled stream still counts.
            task = asyncio.get_running_loop().create_task(counting)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return durable


def usage_of(usage: Any) -> dict[str, int]:
    """The integer counters of an Anthropic `usage` object (anything else is ignored)."""
    if not isinstance(usage, Mapping):
        return {}
    # An upstream's counts are bounded where they enter: 0..2^63-1 fits every column and counter.
    return {k: bound_count(v) for k, v in usage.items() if isinstance(v, int)}


def _delta_chars(delta: Mapping[str, Any] | None) -> int:
    if not isinstance(delta, Mapping):
        return 0
    for field_name in ("text", "partial_json", "thinking"):
        value = delta.get(field_name)
        if isinstance(value, str):
            return len(value)
    return 0


def ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
