"""OpenAI-wire targets (OpenAI, Azure OpenAI, OpenAI-compatible servers) on our own shared HTTP session.

LiteLLM supplies only knowledge here (which parameters a model takes, learned once per model in
`params.py`); the connection, the JSON and the SSE parsing are ours, so a call costs a fraction of a
millisecond of CPU. Always chat completions, never the Responses API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import msgspec

from router.providers.base import EventStream, ProviderError, UpstreamCall
from router.providers.chunk_events import chunk_events
from router.providers.errors import classify_exception, classify_payload_error, not_json
from router.providers.extra_params import OPENAI_WIRE_BODY_EXTRAS, extra_headers
from router.providers.kinds import KindInfo, kind_info
from router.providers.params import map_params
from router.providers.policy import Failure
from router.providers.transport import Deadlines, open_post, post_for_object, sse_data
from router.routing.model import Target
from router.translate.from_openai import to_anthropic_message
from router.translate.quirks import quirks_for
from router.translate.to_openai import to_openai_request
from router.wire.stream_events import StreamEvent

__all__ = ["OpenAIWirePath", "build_body", "endpoint"]

_encode = msgspec.json.Encoder().encode
_decode_chunk = msgspec.json.Decoder().decode
_DONE: Final = b"[DONE]"
_DEFAULT_AZURE_API_VERSION: Final = "2024-10-21"


def endpoint(target: Target, info: KindInfo) -> tuple[str, dict[str, str]]:
    """(URL, headers) for a chat-completions call to `target`; the credential only ever from the provider."""
    provider = target.provider
    base = (provider.api_base or info.default_base or "").rstrip("/")
    if not base:
        raise ProviderError(
            500,
            f"{target.ref}: the provider {provider.name!r} has no base URL configured",
            failure=Failure.MISCONFIGURED,
        )
    headers = {"content-type": "application/json", "accept": "application/json"}
    headers.update(extra_headers(provider.extra_params))
    if info.deployment_url:
        deployment = target.deployment.deployment if target.deployment is not None else target.upstream_model
        version = target.api_version or _DEFAULT_AZURE_API_VERSION
        path = f"/openai/deployments/{quote(deployment, safe='')}/chat/completions"
        url = f"{base}{path}?api-version={quote(version)}"
    else:
        url = f"{base}/chat/completions"
    credential = provider.credential
    if credential:
        if info.auth == "api-key":
            headers["api-key"] = credential
        else:
            headers["authorization"] = f"Bearer {credential}"
    return url, headers


def build_body(call: UpstreamCall, info: KindInfo, *, stream: bool) -> dict[str, Any]:
    """The chat-completions body: translated, then mapped by LiteLLM's knowledge of this model."""
    target = call.target
    body = to_openai_request(
        call.request,
        model=target.upstream_model,
        quirks=quirks_for(target.provider.kind),
        max_tokens_cap=target.max_output_tokens,
        overrides=call.overrides,
    )
    for name, value in target.provider.extra_params.items():
        if name in OPENAI_WIRE_BODY_EXTRAS and name not in body:
            body[name] = value
    body.pop("stream", None)
    body.pop("stream_options", None)
    mapped = map_params(
        body,
        litellm_provider=info.litellm_provider,
        model=target.upstream_model,
        base_model=target.base_model,
        api_version=target.api_version,
    )
    if stream:
        mapped["stream"] = True
        mapped["stream_options"] = {"include_usage": True}
    return mapped


class OpenAIWirePath:
    def __init__(self, session: aiohttp.ClientSession, connect_timeout: float) -> None:
        self._session = session
        self._connect_timeout = connect_timeout

    async def complete(self, call: UpstreamCall) -> dict[str, Any]:
        info = kind_info(call.target.provider.kind)
        url, headers = endpoint(call.target, info)
        data = _encode(build_body(call, info, stream=False))
        obj = await post_for_object(self._session, call, url, headers, data, self._connect_timeout)
        if "choices" not in obj:
            raise classify_payload_error(obj, call.target.provider.credential, call.target.ref)
        return to_anthropic_message(
            obj,
            model=call.requested_model,
            message_id=call.message_id,
            stop_sequences=call.request.stop_sequences,
        )

    def stream(self, call: UpstreamCall) -> EventStream:
        info = kind_info(call.target.provider.kind)
        # Built now, not on the first __anext__: a body that cannot be translated fails at once.
        url, headers = endpoint(call.target, info)
        data = _encode(build_body(call, info, stream=True))

        def produce(stream: EventStream) -> AsyncIterator[list[StreamEvent]]:
            deadlines = Deadlines(call.first_byte_timeout, call.timeout)
            chunks = self._chunks(call, url, headers, data, deadlines)
            credential = call.target.provider.credential
            return chunk_events(chunks, call, stream, deadlines, credential, call.target.ref)

        return EventStream.from_batches(produce)

    async def _chunks(
        self, call: UpstreamCall, url: str, headers: Mapping[str, str], data: bytes, deadlines: Deadlines
    ) -> AsyncIterator[dict[str, Any]]:
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
        complete = False
        finished = False
        try:
            async for payload in sse_data(resp.content, where):
                if complete:
                    continue  # drain to the end so the connection goes back to the pool
                if payload == _DONE:
                    complete = True
                    continue
                try:
                    chunk = _decode_chunk(payload)
                except msgspec.DecodeError:
                    raise not_json(resp.status, payload, credential, where) from None
                if not isinstance(chunk, dict):
                    raise not_json(resp.status, payload, credential, where)
                if "error" in chunk and not chunk.get("choices"):
                    raise classify_payload_error(chunk, credential, where)
                choices = chunk.get("choices")
                if choices and choices[0].get("finish_reason"):
                    finished = True
                yield chunk
            if not (complete or finished):
                raise ProviderError(
                    502,
                    f"{where}: the upstream stream ended before it finished",
                    failure=Failure.BAD_RESPONSE,
                )
        except ProviderError:
            raise
        except Exception as exc:  # boundary: the connection broke mid-stream
            raise classify_exception(exc, credential, where) from None
        finally:
            if complete:
                resp.release()
            else:
                # Client gone, or upstream broken: drop the connection at once, never read the rest.
                resp.close()
