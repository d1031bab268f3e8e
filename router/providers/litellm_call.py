"""Every other provider kind, through `litellm.acompletion` (LiteLLM owns those connections and clients).

The call's kwargs come from two places only: the route (model, api_base, credential, api_version,
timeouts, admin-set extras through `LITELLM_EXTRAS`) and the translated request filtered through
`GENERATION_PARAMS`. Route fields are written last, so nothing from a request can replace them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from router.providers.base import EventStream, ProviderError, UpstreamCall
from router.providers.cap_watch import CapWatch, watch
from router.providers.chunk_events import chunk_events
from router.providers.errors import classify_exception, timeout_error
from router.providers.extra_params import GENERATION_PARAMS, credential_kwargs, litellm_extras
from router.providers.kinds import api_base_for, kind_info
from router.providers.litellm_shapes import chunk_to_dict, response_to_dict
from router.providers.policy import Failure
from router.providers.runtime import litellm
from router.providers.transport import Deadlines
from router.translate.from_openai import to_anthropic_message
from router.translate.quirks import quirks_for
from router.translate.to_openai import to_openai_request
from router.wire.requests import ThinkingEnabled
from router.wire.stream_events import StreamEvent

__all__ = ["LiteLLMPath", "build_kwargs"]


def build_kwargs(call: UpstreamCall, *, stream: bool) -> dict[str, Any]:
    target = call.target
    provider = target.provider
    info = kind_info(provider.kind)
    body = to_openai_request(
        call.request,
        model=target.upstream_model,
        quirks=quirks_for(provider.kind),
        max_tokens_cap=target.max_output_tokens,
        overrides=call.overrides,
    )
    kwargs: dict[str, Any] = {k: v for k, v in body.items() if k in GENERATION_PARAMS}
    thinking = call.request.thinking
    effort_overridden = "reasoning_effort" in call.overrides
    if info.thinking_budget and isinstance(thinking, ThinkingEnabled) and not effort_overridden:
        # Keep the client's exact budget rather than a coarse effort level.
        kwargs.pop("reasoning_effort", None)
        kwargs["thinking"] = {"type": "enabled", "budget_tokens": thinking.budget_tokens}
    kwargs.update(litellm_extras(provider.extra_params))
    # The route: written last, so neither the request nor extras can redirect the call.
    kwargs["model"] = f"{provider.kind}/{target.upstream_model}"
    kwargs["api_base"] = api_base_for(provider.kind, provider.api_base)
    secrets = credential_kwargs(provider.credential)
    kwargs.update(secrets)
    kwargs["api_key"] = None if secrets else provider.credential
    if target.api_version:
        kwargs["api_version"] = target.api_version
    kwargs["max_retries"] = 0
    kwargs["num_retries"] = 0
    kwargs["timeout"] = call.timeout
    kwargs["stream"] = stream
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    else:
        kwargs.pop("stream_options", None)
    return kwargs


def _raise_if_capped(capped: CapWatch, call: UpstreamCall) -> None:
    """LiteLLM wraps a size cap's error in its own exception: the watch says the answer was too large."""
    too_large = capped.error(call.target.ref)
    if too_large is not None:
        raise too_large from None


def _upstream_finished(wrapper: Any) -> bool:
    """Whether the provider itself sent a finish reason (LiteLLM's CustomStreamWrapper records it)."""
    missing = object()
    received = getattr(wrapper, "received_finish_reason", missing)
    if received is missing:
        return True  # not a wrapper we know: trust its finish_reason
    return received is not None or getattr(wrapper, "intermittent_finish_reason", None) is not None


class LiteLLMPath:
    async def complete(self, call: UpstreamCall) -> dict[str, Any]:
        credential = call.target.provider.credential
        where = call.target.ref
        kwargs = build_kwargs(call, stream=False)
        deadlines = Deadlines(call.first_byte_timeout, call.timeout)
        capped = watch()
        try:
            async with asyncio.timeout_at(deadlines.first_byte):
                resp = await litellm().acompletion(**kwargs)
        except TimeoutError:
            raise timeout_error(where, f"no answer within {deadlines.first_byte_seconds:g}s") from None
        except Exception as exc:  # boundary: LiteLLM's exception classes become classified errors
            _raise_if_capped(capped, call)
            raise classify_exception(exc, credential, where) from None
        return to_anthropic_message(
            response_to_dict(resp),
            model=call.requested_model,
            message_id=call.message_id,
            stop_sequences=call.request.stop_sequences,
        )

    def stream(self, call: UpstreamCall) -> EventStream:
        kwargs = build_kwargs(call, stream=True)

        def produce(stream: EventStream) -> AsyncIterator[list[StreamEvent]]:
            deadlines = Deadlines(call.first_byte_timeout, call.timeout)
            return chunk_events(
                self._chunks(call, kwargs),
                call,
                stream,
                deadlines,
                call.target.provider.credential,
                call.target.ref,
            )

        return EventStream.from_batches(produce)

    async def _chunks(self, call: UpstreamCall, kwargs: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        capped = watch()
        try:
            wrapper = await litellm().acompletion(**kwargs)
        except Exception:
            _raise_if_capped(capped, call)
            raise
        try:
            async for chunk in wrapper:
                out = chunk_to_dict(chunk)
                choices = out.get("choices")
                if choices and choices[0]["finish_reason"] and not _upstream_finished(wrapper):
                    # LiteLLM closes a stream the upstream never finished with a made-up "stop".
                    raise ProviderError(
                        502,
                        f"{call.target.ref}: the upstream stream ended before it finished",
                        failure=Failure.BAD_RESPONSE,
                    )
                yield out
        except ProviderError:
            raise
        except Exception:
            _raise_if_capped(capped, call)
            raise
        finally:
            aclose = getattr(wrapper, "aclose", None)
            if aclose is not None:
                await aclose()
