"""Stop sequences found in generated text, for targets that cannot say which one matched.

Anthropic reports the stop sequence that ended a message; OpenAI and Gemini only say "stop". So for
those targets the router does not send the sequences upstream at all: it scans the text itself, cuts the
output where the first sequence completes, and reports that sequence. Generation is sequential, so "first"
means the sequence whose end comes earliest in the text (for equal ends, the longer one).

`StopScanner` does it over a stream: text comes in pieces, a sequence may be split across pieces, so the
longest tail that could still begin a sequence is held back until the next piece decides.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["StopScanner", "cut_at_stop"]


def _normalised(sequences: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for s in sequences or () if s))


def _first_match(text: str, sequences: tuple[str, ...]) -> tuple[int, str] | None:
    """(start, sequence) of the match that ends first (longest on a tie), or None."""
    best: tuple[int, int, str] | None = None  # (end, -len, sequence)
    for seq in sequences:
        start = text.find(seq)
        if start < 0:
            continue
        candidate = (start + len(seq), -len(seq), seq)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return None
    end, _, seq = best
    return end - len(seq), seq


def cut_at_stop(text: str, sequences: Iterable[str] | None) -> tuple[str, str | None]:
    """The text before the first stop sequence and that sequence, or (text, None) when none occurs."""
    found = _first_match(text, _normalised(sequences))
    if found is None:
        return text, None
    start, seq = found
    return text[:start], seq


class StopScanner:
    """Feed text pieces in order; each `feed` returns (text safe to deliver now, matched sequence or None).

    After a match the scanner is done: later pieces return ("", None). `flush()` hands back what was held
    (the text block ends, or the upstream stopped) and starts afresh for the next text block.
    """

    __slots__ = ("_by_first", "_held", "_longest", "_sequences", "matched")

    def __init__(self, sequences: Iterable[str] | None) -> None:
        self._sequences = _normalised(sequences)
        self._longest = max((len(s) for s in self._sequences), default=0)
        # Sequences by their first character: a held tail must begin like one of them.
        self._by_first: dict[str, list[str]] = {}
        for seq in self._sequences:
            self._by_first.setdefault(seq[0], []).append(seq)
        self._held = ""
        self.matched: str | None = None

    @property
    def active(self) -> bool:
        return bool(self._sequences)

    def feed(self, piece: str) -> tuple[str, str | None]:
        if self.matched is not None:
            return "", None
        if not self._sequences:
            return piece, None
        text = self._held + piece
        found = _first_match(text, self._sequences)
        if found is not None:
            start, seq = found
            self._held = ""
            self.matched = seq
            return text[:start], seq
        keep = self._pending_tail(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep], None

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    def _pending_tail(self, text: str) -> int:
        """The length of the longest tail of `text` that is a proper prefix of some sequence."""
        start = max(0, len(text) - (self._longest - 1))
        for at in range(start, len(text)):
            candidates = self._by_first.get(text[at])
            if not candidates:
                continue
            tail = text[at:]
            size = len(text) - at
            if any(len(seq) > size and seq.startswith(tail) for seq in candidates):
                return size
        return 0
