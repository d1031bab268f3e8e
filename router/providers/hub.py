"""ProviderHub: the one object the app holds to talk to upstreams (created once per process).

It owns the shared aiohttp session and LiteLLM's one-time set-up, and sends each call down one of three
paths chosen by the provider kind in `kinds.KINDS`: our own OpenAI-wire client, native Anthropic, or
`litellm.acompletion` for everything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import aiohttp
import msgspec

from router.providers import runtime
from router.providers.anthropic_native import AnthropicPath
from router.providers.base import EventStream, ProviderError, UpstreamCall, estimate_tokens
from router.providers.errors import scrub
from router.providers.kinds import Path, kind_info
from router.providers.litellm_call import LiteLLMPath
from router.providers.memory import fix_mmap_threshold
from router.providers.model_info import ModelFacts, describe_model
from router.providers.openai_wire import OpenAIWirePath
from router.providers.params import NeedsLiteLLM
from router.providers.policy import Failure
from router.providers.tokens import count_with_litellm
from router.providers.transport import SIZE_LIMITS
from router.routing.model import ProviderSpec, Target
from router.settings import Settings
from router.wire.errors import ApiError
from router.wire.requests import decode_request
from router.wire.responses import new_message_id
from router.wire.stream_events import StreamEvent, accumulate_stream

__all__ = ["ProviderHub"]

log = logging.getLogger(__name__)

_TEST_TIMEOUT = 30.0


class _Path(Protocol):
    async def complete(self, call: UpstreamCall) -> dict[str, Any]: ...

    def stream(self, call: UpstreamCall) -> EventStream: ...


async def _failing(exc: BaseException) -> AsyncIterator[StreamEvent]:
    raise exc
    yield {"type": "ping"}  # pragma: no cover  (makes this an async generator)


async def _collect(stream: EventStream, where: str) -> dict[str, Any]:
    """The Message a whole stream folds into."""
    events: list[StreamEvent] = []
    try:
        async for event in stream:
            events.append(event)
    finally:
        await stream.aclose()
    try:
        return accumulate_stream(events)
    except ValueError:
        raise ProviderError(
            502, f"{where}: the upstream's tool arguments are not JSON", failure=Failure.BAD_RESPONSE
        ) from None


def _needs_litellm_kind(kind: str) -> bool:
    """The LiteLLM path calls it. OpenAI-wire targets take its parameter knowledge from the shipped table
    (`params.NeedsLiteLLM` when the table cannot answer); Anthropic targets never need it."""
    return kind_info(kind).path == "litellm"


def _needs_litellm(call: UpstreamCall) -> bool:
    return _needs_litellm_kind(call.target.provider.kind)


async def _litellm_ready(call: UpstreamCall) -> None:
    if _needs_litellm(call) and not runtime.loaded():
        await runtime.ready()


class ProviderHub:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        runtime.use_remote_cost_map(settings.litellm_remote_cost_map)
        SIZE_LIMITS.configure(settings.upstream_max_body_bytes, settings.upstream_max_line_bytes)
        fix_mmap_threshold()
        self._session: aiohttp.ClientSession | None = None
        self._paths: dict[Path, _Path] = {}
        self._anthropic: AnthropicPath | None = None
        self._start_lock = asyncio.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self, after_import: Callable[[], None] | None = None) -> None:
        async with self._start_lock:
            if self._session is not None:
                return
            # Importing LiteLLM takes seconds: in a background thread, so the service answers at once
            # (Anthropic targets never need it; the calls that do wait for it in `_litellm_ready`).
            runtime.preload(after_import)
            connector = aiohttp.TCPConnector(
                limit=0,  # no global cap: the per-host cap is what protects an upstream
                limit_per_host=256,
                ttl_dns_cache=300,
                # Shorter than the idle timeouts upstreams use, so we never reuse a socket they are closing.
                keepalive_timeout=30,
                enable_cleanup_closed=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=self._settings.upstream_connect_timeout),
                trust_env=False,
                # No cookie jar: upstream cookies must never leak from one tenant's call to another's.
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )
            connect = self._settings.upstream_connect_timeout
            self._anthropic = AnthropicPath(self._session, connect)
            self._paths = {
                "openai_wire": OpenAIWirePath(self._session, connect),
                "anthropic": self._anthropic,
                "litellm": LiteLLMPath(),
            }

    def answers_at_once(self, targets: Iterable[Target]) -> bool:
        """Whether calls to these targets start at once: LiteLLM is loaded, or none of them needs it.
        Readiness asks it, so that a replica just started takes no traffic it would hold for the import
        (seconds; several on a busy machine)."""
        return runtime.loaded() or not any(_needs_litellm_kind(target.provider.kind) for target in targets)

    async def close(self) -> None:
        session, self._session = self._session, None
        self._paths = {}
        self._anthropic = None
        if session is not None:
            await session.close()
        if session is None:
            return
        if not runtime.loaded():
            return
        close_clients = getattr(runtime.litellm(), "close_litellm_async_clients", None)
        if close_clients is not None:
            try:
                await close_clients()
            except Exception:  # boundary: shutdown must go on
                log.debug("closing LiteLLM's clients failed", exc_info=True)

    async def __aenter__(self) -> ProviderHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _path(self, call: UpstreamCall) -> _Path:
        if self._session is None:
            raise RuntimeError("ProviderHub.start() was not awaited")
        return self._paths[kind_info(call.target.provider.kind).path]

    # ---- calls -------------------------------------------------------------------------------------

    async def complete(self, call: UpstreamCall) -> dict[str, Any]:
        """An Anthropic Message dict (model = call.requested_model); failures are ProviderError."""
        path = self._path(call)
        await _litellm_ready(call)
        try:
            return await self._complete(path, call)
        except NeedsLiteLLM:  # raised before anything is sent: wait for LiteLLM's own answer
            await runtime.ready()
            return await self._complete(path, call)

    @staticmethod
    async def _complete(path: _Path, call: UpstreamCall) -> dict[str, Any]:
        if call.request.stop_sequences and kind_info(call.target.provider.kind).path != "anthropic":
            # The target cannot say which stop sequence matched, so the router finds it in the text: read
            # the answer as a stream to stop reading (and the upstream generating) where it occurs.
            return await _collect(path.stream(call), call.target.ref)
        return await path.complete(call)

    def stream(self, call: UpstreamCall) -> EventStream:
        """Anthropic event dicts. Every failure before the first event (including a request the target
        cannot take) is raised by the first `__anext__`; later failures by the `__anext__` that meets them."""
        path = self._path(call)
        if _needs_litellm(call) and not runtime.loaded():
            return EventStream.from_batches(lambda outer: self._stream_once_loaded(call, outer))
        try:
            return path.stream(call)
        except NeedsLiteLLM:
            return EventStream.from_batches(lambda outer: self._stream_once_loaded(call, outer))
        except (ProviderError, ApiError) as exc:
            return EventStream(_failing(exc))

    async def _stream_once_loaded(
        self, call: UpstreamCall, outer: EventStream
    ) -> AsyncIterator[list[StreamEvent]]:
        """A call that needs LiteLLM while it is still loading (after start-up): wait for it, then relay."""
        await runtime.ready()
        inner = self.stream(call)
        try:
            while True:
                try:
                    batch = await inner.next_batch()
                except StopAsyncIteration:
                    break
                outer.usage_estimated = inner.usage_estimated
                yield batch
        finally:
            outer.usage_estimated = inner.usage_estimated
            await inner.aclose()

    async def count_tokens(self, call: UpstreamCall) -> int:
        """Anthropic targets ask the upstream (falling back to LiteLLM's counter); others use the counter."""
        path = kind_info(call.target.provider.kind).path
        if path == "anthropic" and self._anthropic is not None:
            try:
                return await self._anthropic.count_tokens(call)
            except ProviderError as exc:
                log.info(
                    "count_tokens at %s failed (%s); using the local counter", call.target.ref, exc.message
                )
        await runtime.ready()
        return await count_with_litellm(call)

    @staticmethod
    def estimate_tokens(body: bytes) -> int:
        return estimate_tokens(body)

    @staticmethod
    def describe_model(kind: str, model: str) -> ModelFacts:
        return describe_model(kind, model)

    async def test_connection(self, provider: ProviderSpec, model: str) -> tuple[bool, str]:
        """One tiny call (max_tokens 1) for the admin page. The message never contains the credential."""
        body = msgspec.json.encode(
            {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}
        )
        call = UpstreamCall.build(
            decode_request(body),
            body,
            Target(ref=f"{provider.name}/{model}", provider=provider, upstream_model=model, base_model=model),
            request_id=f"test-{new_message_id()}",
            timeout=_TEST_TIMEOUT,
            first_byte_timeout=_TEST_TIMEOUT,
        )
        started = time.perf_counter()
        try:
            await self.complete(call)
        except ProviderError as exc:
            return False, f"{provider.name}: {exc.message}"
        except Exception as exc:  # boundary: the admin page shows what went wrong, never a traceback
            return False, f"{provider.name}: {scrub(str(exc) or type(exc).__name__, provider.credential)}"
        elapsed = (time.perf_counter() - started) * 1000
        return True, f"{provider.name}: {model} answered in {elapsed:.0f} ms"
