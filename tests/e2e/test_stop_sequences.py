"""Stop sequences on targets that only say "stop": found in the text, cut, reported, and upstream left early."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Routed
from tests.fakes import Reply

STOP = "\n\nHuman:"
# With 7-character chunks the sequence straddles two chunks ("...42.\n\nHu" | "man: ...").
TEXT = "The answer is 42." + STOP + " and a long tail the client must never see." * 40
ASK = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 2000,
    "messages": [{"role": "user", "content": "what is six times seven?"}],
    "stop_sequences": ["never-here", STOP],
}


@pytest.fixture
def stopping(routed: Routed) -> Routed:
    if routed.case.kind == "anthropic":
        pytest.skip("Anthropic reports the matched stop sequence itself")
    routed.router.upstream.set_default(Reply(text=TEXT, chunk_size=7, chunk_delay=0.01))
    return routed


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_whole_answer_stops_at_the_sequence_and_names_it(stopping: Routed) -> None:
    message = stopping.router.client(stopping.key).messages.create(**ASK)  # type: ignore[call-overload]

    assert [b.text for b in message.content] == ["The answer is 42."]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", STOP)
    sent = stopping.router.upstream.requests[-1]
    assert "stop" not in sent.json and "stopSequences" not in str(sent.json)
    # Read as a stream, and left as soon as the sequence was found.
    assert sent.stream
    assert stopping.router.upstream.wait_until(lambda: stopping.router.upstream.cancelled_streams == 1)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_stream_stops_at_a_sequence_split_across_chunks(stopping: Routed) -> None:
    client = stopping.router.client(stopping.key)
    with client.messages.stream(**ASK) as stream:  # type: ignore[arg-type]
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert streamed == "The answer is 42."
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", STOP)
    assert stopping.router.upstream.wait_until(lambda: stopping.router.upstream.cancelled_streams == 1)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_answer_without_the_sequence_ends_as_usual(stopping: Routed) -> None:
    stopping.router.upstream.set_default(Reply(text="No sequence in here at all."))
    message = stopping.router.client(stopping.key).messages.create(**ASK)  # type: ignore[call-overload]
    assert [b.text for b in message.content] == ["No sequence in here at all."]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
