"""What the gateway hands a provider, and what it gets back.

A provider call always answers in Anthropic's shape: a Message dict, or a stream of typed Anthropic events
(`wire.stream_events.StreamEvent`, the closed union every producer builds and the relay consumes).
Failures are `ProviderError`s, already classified for the fallback logic (retryable? context window?).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from router.providers.policy import POLICY, Failure, failure_for_status
from router.routing.model import Target
from router.wire.responses import new_message_id
from router.wire.stream_events import StreamEvent

if TYPE_CHECKING:
    from router.wire.requests import MessagesRequest


def estimate_tokens(body: bytes) -> int:
    """About four bytes per token: good enough for message_start and limit checks, and free."""
    return max(1, len(body) // 4)


@dataclass(slots=True)
class UpstreamCall:
    """One attempt at one target."""

    request: MessagesRequest
    # The client's body as sent: Anthropic targets get it natively (decoded lazily, only on that path).
    body: bytes
    target: Target
    # The model name the client asked for: every response and event carries it.
    requested_model: str
    message_id: str
    request_id: str
    # A cheap estimate, for message_start and for streams whose upstream reports no usage.
    input_tokens_estimate: int = 0
    # Parameter overrides from the rule (max_tokens cap, temperature, reasoning_effort).
    overrides: Mapping[str, Any] = field(default_factory=dict)
    # The client's anthropic-beta header, forwarded to Anthropic targets only.
    anthropic_beta: str | None = None
    # The client's anthropic-version header, likewise forwarded to Anthropic targets only.
    anthropic_version: str | None = None
    # Seconds for the whole call; the first byte must come within first_byte_timeout.
    timeout: float = 600.0
    first_byte_timeout: float = 120.0

    @classmethod
    def build(
        cls,
        request: MessagesRequest,
        body: bytes,
        target: Target,
        *,
        request_id: str,
        message_id: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        anthropic_beta: str | None = None,
        anthropic_version: str | None = None,
        timeout: float = 600.0,
        first_byte_timeout: float = 120.0,
    ) -> UpstreamCall:
        """The one way to make a call: the answer carries the requested model, the estimate is the body's."""
        return cls(
            request=request,
            body=body,
            target=target,
            requested_model=request.model,
            message_id=message_id or new_message_id(),
            request_id=request_id,
            input_tokens_estimate=estimate_tokens(body),
            overrides=overrides if overrides is not None else {},
            anthropic_beta=anthropic_beta,
            anthropic_version=anthropic_version,
            timeout=timeout,
            first_byte_timeout=first_byte_timeout,
        )


class ProviderError(Exception):
    """An upstream failure, classified. `message` never contains a credential.

    `failure` says what went wrong (derived from the upstream status when not given); what that means for
    the route (retry, larger window, final) and for the client is `router.providers.policy.POLICY`'s.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        failure: Failure | None = None,
        retry_after: float | None = None,
        prompt_tokens: int | None = None,
        window: int | None = None,
        relay: str | None = None,
    ) -> None:
        super().__init__(message)
        # The upstream's HTTP status (or the nearest one for failures without an answer), for the record.
        self.status = status
        self.message = message
        self.failure = failure if failure is not None else failure_for_status(status)
        self.retry_after = retry_after
        # A context overflow's counts, where the provider said them.
        self.prompt_tokens = prompt_tokens
        self.window = window
        # The upstream's own message, to reach the client word for word (Anthropic's 400/413 wording).
        self.relay = relay

    @property
    def retryable(self) -> bool:
        return POLICY[self.failure].retryable

    @property
    def context_window(self) -> bool:
        return POLICY[self.failure].larger_window

    @property
    def error_type(self) -> str:
        """The Anthropic error type the client would see for this failure."""
        return POLICY[self.failure].client.default_error_type


class EventStream:
    """Anthropic stream events from one upstream call.

    The first event (message_start) is only produced once the upstream has answered with its first chunk,
    so a failure before that raises `ProviderError` from the first `__anext__` and the gateway can still
    fall back.

    Events come in batches, one per upstream chunk (a chunk can close one block and open the next): the
    gateway writes a batch to the socket at once (`next_batch`), tests may iterate event by event.
    """

    def __init__(self, events: AsyncIterator[StreamEvent]) -> None:
        self._init(_singles(events))

    def _init(self, batches: AsyncIterator[list[StreamEvent]]) -> None:
        self._batches = batches
        self._pending: deque[StreamEvent] = deque()
        # True when the upstream reported no usage and the counts were estimated.
        self.usage_estimated = False

    @classmethod
    def from_producer(cls, produce: Callable[[EventStream], AsyncIterator[StreamEvent]]) -> EventStream:
        """A stream whose producer gets the stream itself, to report facts (usage_estimated) once known."""
        stream = cls.__new__(cls)
        stream._init(_singles(produce(stream)))
        return stream

    @classmethod
    def from_batches(cls, produce: Callable[[EventStream], AsyncIterator[list[StreamEvent]]]) -> EventStream:
        """Like `from_producer`, for a producer that yields the events of one upstream chunk together."""
        stream = cls.__new__(cls)
        stream._init(produce(stream))
        return stream

    async def next_batch(self) -> list[StreamEvent]:
        """The next non-empty batch of events (StopAsyncIteration at the end)."""
        if self._pending:
            batch = list(self._pending)
            self._pending.clear()
            return batch
        while True:
            batch = await self._batches.__anext__()
            if batch:
                return batch

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self

    async def __anext__(self) -> StreamEvent:
        if not self._pending:
            self._pending.extend(await self.next_batch())
        return self._pending.popleft()

    async def aclose(self) -> None:
        aclose = getattr(self._batches, "aclose", None)
        if aclose is not None:
            await aclose()


async def _singles(events: AsyncIterator[StreamEvent]) -> AsyncIterator[list[StreamEvent]]:
    try:
        async for event in events:
            yield [event]
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
