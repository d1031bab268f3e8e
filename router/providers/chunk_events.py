"""OpenAI-shaped chunks (our own SSE parsing, or LiteLLM) -> Anthropic events, within the call's deadlines.

Shared by the OpenAI-wire and LiteLLM paths. message_start is produced only after the first chunk has
arrived, so anything failing before that surfaces on the first `__anext__` and the gateway can fall back.

message_start's `input_tokens` is counted with the target's tokenizer (LiteLLM's counter, as count_tokens
answers) while the upstream works on its first chunk, so the count costs no latency; if it is not ready
soon after that chunk (or LiteLLM is still loading after start-up), the cheap size estimate is used. The
upstream's own count, in message_delta, is the authoritative figure (and the one usage records).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from router.providers import runtime
from router.providers.base import EventStream, ProviderError, UpstreamCall
from router.providers.errors import classify_exception, timeout_error
from router.providers.policy import Failure
from router.providers.tokens import count_with_litellm
from router.providers.transport import Deadlines
from router.translate.openai_stream import OpenAIStreamTranslator
from router.wire.stream_events import StreamEvent

__all__ = ["chunk_events"]


async def chunk_events(
    chunks: AsyncIterator[Mapping[str, Any]],
    call: UpstreamCall,
    stream: EventStream,
    deadlines: Deadlines,
    credential: str | None,
    where: str,
) -> AsyncIterator[list[StreamEvent]]:
    """Batches of events, one per upstream chunk (the first batch: message_start and the first deltas)."""
    # While LiteLLM is still loading (just after start-up) the count would wait for its import: estimate.
    counting = asyncio.ensure_future(count_with_litellm(call, background=True)) if runtime.loaded() else None
    try:
        try:
            async with asyncio.timeout_at(deadlines.first_byte):
                first = await anext(chunks)
        except StopAsyncIteration:
            raise ProviderError(
                502,
                f"{where}: the upstream stream ended before its first chunk",
                failure=Failure.BAD_RESPONSE,
            ) from None
        except TimeoutError:
            raise timeout_error(where, f"no first chunk within {deadlines.first_byte_seconds:g}s") from None
        translator = OpenAIStreamTranslator(
            model=call.requested_model,
            message_id=call.message_id,
            input_tokens=await _counted(counting, call.input_tokens_estimate),
            stop_sequences=call.request.stop_sequences,
        )
        yield [*translator.start(), *translator.feed(first)]
        # After a stop sequence in the text, nothing more is read: closing `chunks` drops the connection.
        while not translator.stopped:
            try:
                # A timeout per await, never around a yield: it must cancel our read, not the consumer.
                async with asyncio.timeout_at(deadlines.next_chunk()):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise timeout_error(where, "the upstream stream stalled or ran past its deadline") from None
            events = translator.feed(chunk)
            if events:
                yield events
        # Known before the last batch goes out, so the gateway sees it when it records usage.
        stream.usage_estimated = bool(translator.usage_estimated)
        yield translator.finish()
    except ProviderError:
        raise
    except Exception as exc:  # boundary: transport / LiteLLM failures mid-stream become classified errors
        raise classify_exception(exc, credential, where) from None
    finally:
        if counting is not None:
            counting.cancel()
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


# How long message_start may wait for the tokenizer's count once the first chunk is in.
COUNT_GRACE_SECONDS = 0.25


async def _counted(counting: asyncio.Future[int] | None, estimate: int) -> int:
    """The tokenizer's count of the prompt, or `estimate` when it is late, failed or not asked for."""
    if counting is None:
        return estimate
    try:
        return await asyncio.wait_for(asyncio.shield(counting), COUNT_GRACE_SECONDS)
    except TimeoutError:
        counting.cancel()  # a count still queued behind others is dropped, not run for nothing
        return estimate
    except Exception:  # boundary: a counter failure only costs the estimate's precision
        return estimate
