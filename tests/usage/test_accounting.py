"""Per-request accounting as a unit: what an exchange learns from a stream, and the one usage event it ends in."""

from __future__ import annotations

from collections.abc import Sequence

from router.routing.model import KeySpec, Price, Target, TenantSpec
from router.store.usage_writes import UsageEvent
from router.usage.accounting import Accounting, Exchange
from router.usage.limits import Limiter
from router.usage.recorder import UsageRecorder
from router.wire.stream_events import StreamEvent
from tests.routing.builders import target

KEY = KeySpec(id=7, tenant_id=3, member="ana", prefix="sk-rt-abc")
TENANT = TenantSpec(3, "team-a")

STREAM: list[StreamEvent] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 120,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 30,
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello there"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ", friend"}},
    {"type": "content_block_stop", "index": 0},
]
FINAL: StreamEvent = {
    "type": "message_delta",
    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
    "usage": {
        "input_tokens": 120,
        "output_tokens": 9,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 30,
    },
}


def test_a_stream_tells_the_exchange_its_usage_and_first_token_time() -> None:
    ex = Exchange("req_1", KEY, TENANT, stream=True)
    ex.observe(STREAM[:2])
    assert ex.ttft_ms is None and ex.usage["input_tokens"] == 120
    ex.observe(STREAM[2:])
    assert ex.ttft_ms is not None and ex.delivered_chars == len("Hello there, friend")
    ex.observe([FINAL])
    ex.end_stream(cancelled=False, upstream_estimated=False)
    assert ex.final_usage and ex.usage["output_tokens"] == 9 and not ex.estimated


def test_a_client_that_leaves_before_the_final_usage_is_charged_for_what_it_received() -> None:
    ex = Exchange("req_2", KEY, TENANT, stream=True)
    ex.observe(STREAM)
    ex.end_stream(cancelled=True, upstream_estimated=False)
    assert ex.usage["output_tokens"] == len("Hello there, friend") // 4 and ex.estimated


def test_counts_from_an_upstream_are_bounded_where_they_enter() -> None:
    ex = Exchange("req_3", KEY, TENANT)
    ex.absorb_message({"usage": {"input_tokens": 2**80, "output_tokens": -5, "note": "x"}})
    assert ex.usage == {"input_tokens": 2**63 - 1, "output_tokens": 0}


async def test_finishing_an_exchange_records_one_priced_usage_event() -> None:
    written: list[UsageEvent] = []

    async def write(events: Sequence[UsageEvent]) -> None:
        written.extend(events)

    recorder = UsageRecorder(None, queue_size=10, batch_size=10, flush_interval=0.01, write_batch=write)
    await recorder.start()
    priced = target("openai/gpt-4.1")
    priced = Target(
        priced.ref,
        priced.provider,
        priced.upstream_model,
        priced.base_model,
        price=Price(input=0.001, output=0.01),
    )
    ex = Exchange("req_4", KEY, TENANT, model="claude-x", stream=True, target=priced)
    ex.observe([*STREAM, FINAL])
    ex.end_stream(cancelled=False, upstream_estimated=False)
    Accounting(recorder, Limiter()).finish(ex, status=200, error_type=None, outcome="ok")
    await recorder.flush()
    await recorder.stop()
    [event] = written
    assert (event.request_id, event.tenant_id, event.key_id, event.member) == ("req_4", 3, 7, "ana")
    assert (event.target, event.requested_model, event.outcome, event.status) == (
        "openai/gpt-4.1",
        "claude-x",
        "ok",
        200,
    )
    assert (event.input_tokens, event.output_tokens, event.cache_read_tokens) == (120, 9, 30)
    assert event.cost_usd == 120 * 0.001 + 9 * 0.01
