"""Anthropic targets: the client's request passes through natively on the shared session.

Only the model (and caps/overrides) change on the way up; on the way back the model name is rewritten
to the one the client asked for. Ids, content and usage (cache tokens included) pass untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Final, cast

import aiohttp
import msgspec

from router.providers.base import EventStream, ProviderError, UpstreamCall
from router.providers.errors import classify_exception, classify_payload_error, not_json, timeout_error
from router.providers.extra_params import extra_headers
from router.providers.kinds import kind_info
from router.providers.policy import Failure
from router.providers.transport import Deadlines, open_post, post_for_object, read_json, sse_data
from router.translate.anthropic_native import prepare_native_request, rewrite_model
from router.wire.stream_events import StreamEvent

__all__ = ["ANTHROPIC_VERSION", "AnthropicPath"]

ANTHROPIC_VERSION: Final = "2023-06-01"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


class AnthropicPath:
    def __init__(self, session: aiohttp.ClientSession, connect_timeout: float) -> None:
        self._session = session
        self._connect_timeout = connect_timeout

    def _endpoint(self, call: UpstreamCall, suffix: str) -> tuple[str, dict[str, str]]:
        provider = call.target.provider
        base = (provider.api_base or kind_info(provider.kind).default_base or "").rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        # Gateway protocol: anthropic-version and anthropic-beta pass as the client sent them.
        version = call.anthropic_version or ANTHROPIC_VERSION
        headers = {"content-type": "application/json", "anthropic-version": version}
        headers.update(extra_headers(provider.extra_params))
        if provider.credential:
            headers["x-api-key"] = provider.credential
        if call.anthropic_beta:
            headers["anthropic-beta"] = call.anthropic_beta
        return f"{base}/v1/messages{suffix}", headers

    def _body(self, call: UpstreamCall, *, stream: bool) -> dict[str, Any]:
        try:
            raw = _decode(call.body)
        except msgspec.DecodeError:
            raise ProviderError(400, "the request body is not valid JSON") from None
        body = prepare_native_request(
            raw,
            model=call.target.upstream_model,
            max_tokens_cap=call.target.max_output_tokens,
            overrides=call.overrides,
        )
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        return body

    async def complete(self, call: UpstreamCall) -> dict[str, Any]:
        url, headers = self._endpoint(call, "")
        data = _encode(self._body(call, stream=False))
        obj = await post_for_object(self._session, call, url, headers, data, self._connect_timeout)
        if obj.get("type") == "error" or "content" not in obj:
            raise classify_payload_error(obj, call.target.provider.credential, call.target.ref)
        return rewrite_model(obj, call.requested_model)

    def stream(self, call: UpstreamCall) -> EventStream:
        url, headers = self._endpoint(call, "")
        data = _encode(self._body(call, stream=True))

        def produce(stream: EventStream) -> AsyncIterator[StreamEvent]:
            return self._events(call, url, headers, data)

        return EventStream.from_producer(produce)

    async def _events(
        self, call: UpstreamCall, url: str, headers: Mapping[str, str], data: bytes
    ) -> AsyncIterator[StreamEvent]:
        credential = call.target.provider.credential
        where = call.target.ref
        deadlines = Deadlines(call.first_byte_timeout, call.timeout)
        payloads = self._payloads(call, url, headers, data, deadlines)
        try:
            deadline = deadlines.first_byte
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        event = await anext(payloads)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise timeout_error(where, "the upstream stream stalled") from None
                yield event
                deadline = deadlines.next_chunk()
        except ProviderError:
            raise
        except Exception as exc:  # boundary: transport failures mid-stream
            raise classify_exception(exc, credential, where) from None
        finally:
            await payloads.aclose()

    async def _payloads(
        self, call: UpstreamCall, url: str, headers: Mapping[str, str], data: bytes, deadlines: Deadlines
    ) -> AsyncGenerator[StreamEvent, None]:
        credential = call.target.provider.credential
        where = call.target.ref
        resp = await open_post(
            self._session,
            url,
            headers=headers,
            data=data,
            deadlines=deadlines,
            connect_timeout=self._connect_timeout,
            credential=credential,
            where=where,
        )
        stopped = False
        try:
            async for payload in sse_data(resp.content, where):
                if stopped:
                    continue
                try:
                    event = _decode(payload)
                except msgspec.DecodeError:
                    raise not_json(resp.status, payload, credential, where) from None
                if not isinstance(event, dict):
                    raise not_json(resp.status, payload, credential, where)
                kind = event.get("type")
                if kind == "error":
                    raise classify_payload_error(event, credential, where)
                if kind == "message_start" and isinstance(event.get("message"), dict):
                    event["message"] = rewrite_model(event["message"], call.requested_model)
                elif kind == "message_stop":
                    stopped = True
                # Anthropic's own events are relayed as they came (the product's promise), so this edge
                # checks their frame (a JSON object with a type) and takes them as the closed union.
                yield cast(StreamEvent, event)
            if not stopped:
                raise ProviderError(
                    502,
                    f"{where}: the upstream stream ended before message_stop",
                    failure=Failure.BAD_RESPONSE,
                )
        finally:
            if stopped:
                resp.release()
            else:
                resp.close()

    async def count_tokens(self, call: UpstreamCall) -> int:
        credential = call.target.provider.credential
        where = call.target.ref
        url, headers = self._endpoint(call, "/count_tokens")
        # The client's count body as sent (gateway protocol: body fields pass unchanged), bar the model.
        body = self._body(call, stream=False)
        deadlines = Deadlines(call.first_byte_timeout, call.timeout)
        resp = await open_post(
            self._session,
            url,
            headers=headers,
            data=_encode(body),
            deadlines=deadlines,
            connect_timeout=self._connect_timeout,
            credential=credential,
            where=where,
        )
        obj = await read_json(resp, deadlines=deadlines, credential=credential, where=where)
        count = obj.get("input_tokens") if isinstance(obj, dict) else None
        if not isinstance(count, int):
            raise classify_payload_error(obj if isinstance(obj, dict) else {}, credential, where)
        return count
