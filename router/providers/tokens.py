"""Token numbers: a cheap estimate for the hot path, LiteLLM's counter for count_tokens."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from router.providers.base import UpstreamCall, estimate_tokens
from router.providers.runtime import litellm
from router.translate.quirks import quirks_for
from router.translate.to_openai import to_openai_request

__all__ = ["count_with_litellm"]

log = logging.getLogger("router.providers")

# Bodies above this are counted on a worker thread so a long prompt does not stall the event loop.
_THREAD_THRESHOLD: Final = 32 * 1024


def _count(call: UpstreamCall) -> int:
    target = call.target
    body = to_openai_request(call.request, model=target.base_model, quirks=quirks_for(target.provider.kind))
    try:
        count: int = litellm().token_counter(
            model=target.base_model,
            messages=body["messages"],
            tools=body.get("tools"),
            use_default_image_token_count=True,
        )
    except Exception:  # LiteLLM's counter trips on shapes it does not expect (`items: null`): estimate
        log.warning("token counter failed for %s; answering with an estimate", target.ref)
        return estimate_tokens(call.body)
    return count


# Background counts (message_start's) get a thread of their own: queued behind the default executor's
# work they would delay the usage spool's fsyncs, which every stream's end waits for.
_background: ThreadPoolExecutor | None = None


async def count_with_litellm(call: UpstreamCall, *, background: bool = False) -> int:
    """`background`: always on a worker thread. The first count in a process loads the tokenizer (a second
    or more of CPU), which must not stall the event loop while a stream waits for its first chunk."""
    global _background
    if background:
        if _background is None:
            _background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-count")
        return await asyncio.get_running_loop().run_in_executor(_background, _count, call)
    if len(call.body) > _THREAD_THRESHOLD:
        return await asyncio.to_thread(_count, call)
    return _count(call)
