"""Stop sequences found in generated text: cut where the first completes, whatever the chunking."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from router.translate.openai_stream import OpenAIStreamTranslator
from router.translate.stop_sequences import StopScanner, cut_at_stop
from router.wire.stream_events import accumulate_stream, validate_stream
from tests.translate.helpers import chunk, tool_fragment

# A small alphabet makes overlapping and repeated sequences common, which is where splitting goes wrong.
_TEXT = st.text(alphabet="ab\nH:", max_size=60)
_SEQUENCES = st.lists(st.text(alphabet="ab\nH:", min_size=1, max_size=6), min_size=1, max_size=4)


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces, last = [], 0
    for point in [*points, len(text)]:
        pieces.append(text[last:point])
        last = point
    return pieces


def _scan(pieces: list[str], sequences: list[str]) -> tuple[str, str | None]:
    scanner = StopScanner(sequences)
    out: list[str] = []
    for piece in pieces:
        emitted, matched = scanner.feed(piece)
        out.append(emitted)
        if matched is not None:
            return "".join(out), matched
    out.append(scanner.flush())
    return "".join(out), None


def test_cut_at_the_sequence_that_completes_first() -> None:
    assert cut_at_stop("one two### three", ["@@", "###"]) == ("one two", "###")
    # "b" completes before "abc" does.
    assert cut_at_stop("xabc", ["abc", "b"]) == ("xa", "b")
    # Equal ends: the longer one (it began first).
    assert cut_at_stop("xabc", ["bc", "abc"]) == ("x", "abc")
    assert cut_at_stop("nothing here", ["END"]) == ("nothing here", None)
    assert cut_at_stop("text", [""]) == ("text", None)


def test_a_sequence_split_across_pieces_is_found_and_nothing_of_it_is_delivered() -> None:
    scanner = StopScanner(["\n\nHuman:"])
    assert scanner.feed("Hello\n") == ("Hello", None)
    assert scanner.feed("\nHu") == ("", None)
    assert scanner.feed("man: more") == ("", "\n\nHuman:")
    assert scanner.feed("later") == ("", None)


def test_a_false_start_is_delivered_once_the_next_piece_rules_it_out() -> None:
    scanner = StopScanner(["END"])
    assert scanner.feed("the EN") == ("the ", None)
    assert scanner.feed("D") == ("", "END")
    scanner = StopScanner(["END"])
    assert scanner.feed("the EN") == ("the ", None)
    assert scanner.feed("DING") == ("", "END")
    scanner = StopScanner(["END"])
    scanner.feed("the EN")
    assert scanner.feed("tire") == ("ENtire", None)


@settings(max_examples=400, deadline=None)
@given(text=_TEXT, sequences=_SEQUENCES, cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=12))
def test_any_split_of_the_text_gives_the_same_cut_as_the_whole_text(
    text: str, sequences: list[str], cuts: list[int]
) -> None:
    assert _scan(_split(text, cuts), sequences) == cut_at_stop(text, sequences)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, sequences=_SEQUENCES)
def test_the_cut_text_never_contains_a_sequence_and_ends_where_the_match_began(
    text: str, sequences: list[str]
) -> None:
    kept, matched = cut_at_stop(text, sequences)
    if matched is None:
        assert kept == text and not any(s in text for s in sequences)
        return
    assert text.startswith(kept + matched)
    # No sequence completes inside what came before the matched one's end, except the match itself.
    before_end = kept + matched[:-1]
    assert not any(s in before_end for s in sequences)


def _translate(pieces: list[str], sequences: list[str], tail: list[dict[str, Any]] | None = None) -> Any:
    translator = OpenAIStreamTranslator(model="m", message_id="msg_1", stop_sequences=sequences)
    events = translator.start()
    fed = 0
    for piece in pieces:
        if translator.stopped:
            break
        events += translator.feed(chunk(content=piece))
        fed += 1
    for extra in tail or []:
        events += translator.feed(extra)
    events += translator.finish()
    validate_stream(events)
    return accumulate_stream(events), translator, fed


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, sequences=_SEQUENCES, cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=12))
def test_a_translated_stream_is_cut_like_the_whole_text(
    text: str, sequences: list[str], cuts: list[int]
) -> None:
    pieces = [p for p in _split(text, cuts) if p]
    message, translator, _ = _translate(pieces, sequences)
    kept, matched = cut_at_stop(text, sequences)
    delivered = "".join(b["text"] for b in message["content"] if b["type"] == "text")
    assert delivered == kept
    if matched is None:
        assert message["stop_sequence"] is None
    else:
        assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", matched)
        assert translator.stopped


def test_the_stream_stops_taking_chunks_after_the_match() -> None:
    message, _, fed = _translate(
        ["The answer is 4", "2.\n\nHu", "man: next question", "never read"],
        ["\n\nHuman:"],
        tail=[chunk(tool_calls=[tool_fragment(0, id="c", name="T", args="{}")], finish_reason="tool_calls")],
    )
    assert fed == 3
    assert message["content"] == [{"type": "text", "text": "The answer is 42."}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "\n\nHuman:")


def test_held_back_text_is_delivered_before_a_tool_call_and_at_the_end() -> None:
    message, _, _ = _translate(["hello EN"], ["END"])
    assert message["content"] == [{"type": "text", "text": "hello EN"}]
    assert message["stop_reason"] == "end_turn"
    translator = OpenAIStreamTranslator(model="m", message_id="msg_1", stop_sequences=["END"])
    events = translator.start() + translator.feed(chunk(content="call E"))
    events += translator.feed(chunk(tool_calls=[tool_fragment(0, id="c", name="T", args="{}")]))
    events += translator.finish()
    validate_stream(events)
    blocks = accumulate_stream(events)["content"]
    assert blocks[0] == {"type": "text", "text": "call E"} and blocks[1]["type"] == "tool_use"


def test_a_whole_answer_is_cut_mid_text_and_loses_the_tool_calls_after_it() -> None:
    from router.translate.from_openai import to_anthropic_message

    resp = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "ok STOP then more",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "T", "arguments": "{}"}}
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    msg = to_anthropic_message(resp, model="m", stop_sequences=["STOP"])
    assert msg["content"] == [{"type": "text", "text": "ok "}]
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("stop_sequence", "STOP")
