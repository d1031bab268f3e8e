"""The /v1 request path, framework-free: key guard, parse, resolve, limits, call (with fallback), answer.

Controllers hand it headers and the raw body; it returns bytes or an async iterator of SSE bytes. Every
request whose key was known ends in exactly one usage event, handed to the recorder off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from router.gateway.attempts import Attempt, error_type_for, walk_route
from router.gateway.auth import KeyGuard
from router.gateway.catalog import list_models
from router.gateway.cooldown import Cooldowns
from router.providers.base import EventStream, ProviderError, UpstreamCall
from router.providers.hub import ProviderHub
from router.routing.errors import ForbiddenError, NoRouteError
from router.routing.facts import request_facts
from router.routing.model import KeySpec, Route, RoutingConfig, Target, TenantSpec
from router.routing.resolve import Resolver, check_key_model
from router.usage.events import UsageEvent, bound_count
from router.usage.limits import Limiter, LimitExceeded
from router.usage.recorder import UsageRecorder
from router.wire.errors import (
    ApiError,
    ApiInternalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    error_for_status,
)
from router.wire.requests import MessagesRequest, decode_count_tokens_request, decode_request
from router.wire.responses import new_message_id
from router.wire.sse import encode_error_event, encode_event

log = logging.getLogger("router.gateway")

_encode = msgspec.json.Encoder().encode


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


@dataclass(slots=True)
class Caller:
    """Who is asking: the key and its tenant, resolved once per request."""

    key: KeySpec
    tenant: TenantSpec


@dataclass(slots=True)
class Exchange:
    """What one request has learnt so far; becomes its usage event."""

    request_id: str
    started: float
    caller: Caller
    model: str = ""
    stream: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    target: Target | None = None
    usage: dict[str, int] = field(default_factory=dict)
    estimated: bool = False
    # True once the upstream's final usage (message_delta) arrived.
    final_usage: bool = False
    ttft_ms: int | None = None


class MessagesGateway:
    def __init__(
        self,
        *,
        snapshots: Any,
        hub: ProviderHub,
        recorder: UsageRecorder,
        limiter: Limiter,
        keys: KeyGuard,
        cooldowns: Cooldowns,
        upstream_timeout: float,
        first_byte_timeout: float,
    ) -> None:
        self._snapshots = snapshots
        self._hub = hub
        self._recorder = recorder
        self._limiter = limiter
        self._keys = keys
        self._cooldowns = cooldowns
        self._timeout = upstream_timeout
        self._first_byte_timeout = first_byte_timeout
        self._resolver: Resolver | None = None
        self._background: set[asyncio.Task[None]] = set()

    # -- the snapshot ---------------------------------------------------------------------------------

    def _config(self) -> RoutingConfig:
        config: RoutingConfig | None = self._snapshots.current
        if config is None:
            raise ApiInternalError("the router has no configuration yet: its database has not been reachable")
        return config

    def _resolver_for(self, config: RoutingConfig) -> Resolver:
        resolver = self._resolver
        if resolver is None or resolver.config is not config:
            resolver = self._resolver = Resolver(config)
        return resolver

    async def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The key and tenant behind a request. Controllers call it before reading the body, so that a
        client without a valid key cannot make us receive and buffer up to the body limit."""
        return await self._caller(headers, self._config())

    async def _caller(self, headers: Mapping[str, str], config: RoutingConfig) -> Caller:
        key = await self._keys.authenticate(headers, config)
        tenant = config.tenants.get(key.tenant_id)
        if tenant is None:
            raise PermissionDeniedError("this key's tenant no longer exists")
        return Caller(key, tenant)

    # -- POST /v1/messages ----------------------------------------------------------------------------

    async def messages(
        self, caller: Caller, headers: Mapping[str, str], body: bytes, request_id: str
    ) -> bytes | AsyncIterator[bytes]:
        """The Message JSON, or (for `stream: true`) an iterator of SSE frames; errors raise ApiError."""
        config = self._config()
        ex = Exchange(request_id=request_id, started=time.perf_counter(), caller=caller)
        try:
            req = decode_request(body)
            ex.model, ex.stream = req.model, req.stream
            route = self._route(config, caller, req, body)
            await self._admit(caller)
        except ApiError as exc:
            self._finish(ex, status=exc.status, error_type=exc.error_type, outcome="rejected")
            raise
        message_id = new_message_id()

        def upstream_call(target: Target) -> UpstreamCall:
            return UpstreamCall(
                request=req,
                body=body,
                target=target,
                requested_model=req.model,
                message_id=message_id,
                request_id=request_id,
                input_tokens_estimate=self._hub.estimate_tokens(body),
                overrides=route.overrides,
                anthropic_beta=headers.get("anthropic-beta"),
                timeout=self._timeout,
                # A non-streamed answer's first byte comes when the whole answer is ready.
                first_byte_timeout=self._first_byte_timeout if req.stream else self._timeout,
            )

        if not req.stream:
            outcome = await walk_route(route, self._cooldowns, lambda t: self._hub.complete(upstream_call(t)))
            ex.attempts = outcome.attempts
            if outcome.result is None:
                raise self._failed(ex, outcome.error)
            ex.target = outcome.target
            ex.usage = _usage_of(outcome.result.get("usage"))
            self._finish(ex, status=200, error_type=None, outcome="ok")
            return _encode(outcome.result)

        async def open_stream(target: Target) -> tuple[EventStream, list[dict[str, Any]]]:
            stream = self._hub.stream(upstream_call(target))
            try:
                first = await stream.next_batch()
            except BaseException:
                await stream.aclose()
                raise
            return stream, first

        opened = await walk_route(route, self._cooldowns, open_stream)
        ex.attempts = opened.attempts
        if opened.result is None:
            raise self._failed(ex, opened.error)
        ex.target = opened.target
        stream, first = opened.result
        return self._relay(ex, stream, first)

    async def _relay(
        self, ex: Exchange, stream: EventStream, first: list[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        """SSE frames to the client, one write per upstream chunk; a failure after the first byte ends the
        stream with an `error` event."""
        outcome, status, error_type = "client_cancelled", 200, None
        delivered_chars = 0
        try:
            batch = first
            while True:
                frames = []
                for event in batch:
                    kind = event.get("type")
                    if kind == "content_block_delta":
                        if ex.ttft_ms is None:
                            ex.ttft_ms = _ms_since(ex.started)
                        delivered_chars += _delta_chars(event)
                    elif kind in ("message_delta", "message_start"):
                        _absorb_usage(ex, event)
                    frames.append(encode_event(event))
                yield b"".join(frames)
                try:
                    batch = await stream.next_batch()
                except StopAsyncIteration:
                    break
            outcome = "ok"
        except ProviderError as exc:
            outcome, status, error_type = "error", exc.status, error_type_for(exc)
            yield encode_error_event(error_type, _client_message(exc))
        finally:
            ex.estimated = stream.usage_estimated
            if outcome == "client_cancelled" and not ex.final_usage:
                # The client left before the upstream's final usage: count what was delivered.
                ex.usage["output_tokens"] = max(ex.usage.get("output_tokens", 0), delivered_chars // 4)
                ex.estimated = True
            await stream.aclose()
            self._finish(ex, status=status, error_type=error_type, outcome=outcome)

    # -- POST /v1/messages/count_tokens ---------------------------------------------------------------

    async def count_tokens(
        self, caller: Caller, headers: Mapping[str, str], body: bytes, request_id: str
    ) -> bytes:
        config = self._config()
        counted = decode_count_tokens_request(body)
        # Counting has the request's shape minus generation settings: route it like the request it precedes.
        req = msgspec.convert(
            {**msgspec.to_builtins(counted), "max_tokens": 1}, MessagesRequest, from_attributes=False
        )
        route = self._route(config, caller, req, body)
        target = route.targets[0]
        call = UpstreamCall(
            request=req,
            body=body,
            target=target,
            requested_model=req.model,
            message_id=new_message_id(),
            request_id=request_id,
            input_tokens_estimate=self._hub.estimate_tokens(body),
            overrides=route.overrides,
            anthropic_beta=headers.get("anthropic-beta"),
            timeout=self._timeout,
            first_byte_timeout=self._first_byte_timeout,
        )
        try:
            tokens = await self._hub.count_tokens(call)
        except ProviderError as exc:
            raise error_for_status(exc.status, _client_message(exc), exc.retry_after) from None
        return _encode({"input_tokens": tokens})

    # -- GET /v1/models -------------------------------------------------------------------------------

    async def models(self, headers: Mapping[str, str]) -> bytes:
        config = self._config()
        caller = await self._caller(headers, config)
        return _encode(list_models(self._resolver_for(config), caller.key, caller.tenant))

    # -- helpers --------------------------------------------------------------------------------------

    def _route(self, config: RoutingConfig, caller: Caller, req: MessagesRequest, body: bytes) -> Route:
        facts = request_facts(req, input_tokens=self._hub.estimate_tokens(body), member=caller.key.member)
        try:
            check_key_model(caller.key, req.model)
            return self._resolver_for(config).resolve(caller.tenant.id, facts)
        except NoRouteError as exc:
            raise NotFoundError(str(exc)) from None
        except ForbiddenError as exc:
            raise PermissionDeniedError(str(exc)) from None

    async def _admit(self, caller: Caller) -> None:
        try:
            await self._limiter.admit(caller.key, caller.tenant)
        except LimitExceeded as exc:
            raise RateLimitError(exc.message, retry_after=exc.retry_after) from None

    def _failed(self, ex: Exchange, error: ProviderError | None) -> ApiError:
        if error is None:
            api_error: ApiError = ApiInternalError("no target of this route could be tried")
        else:
            api_error = error_for_status(error.status, _client_message(error), error.retry_after)
        self._finish(ex, status=api_error.status, error_type=api_error.error_type, outcome="error")
        return api_error

    def _finish(self, ex: Exchange, *, status: int, error_type: str | None, outcome: str) -> None:
        usage = ex.usage
        input_tokens = usage.get("input_tokens", 0)
        output_tokens = usage.get("output_tokens", 0)
        cache_read = usage.get("cache_read_input_tokens", 0)
        cache_write = usage.get("cache_creation_input_tokens", 0)
        target = ex.target
        cost = target.price.cost(input_tokens, output_tokens, cache_read, cache_write) if target else 0.0
        key, tenant = ex.caller.key, ex.caller.tenant
        event = UsageEvent(
            created_at=datetime.now(UTC),
            request_id=ex.request_id,
            tenant_id=tenant.id,
            key_id=key.id,
            key_prefix=key.prefix,
            member=key.member,
            requested_model=ex.model,
            target=target.ref if target else None,
            provider=target.provider.name if target else None,
            upstream_model=target.upstream_model if target else None,
            attempts=[a.as_dict() for a in ex.attempts],
            stream=ex.stream,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            tokens_estimated=ex.estimated,
            cost_usd=cost,
            latency_ms=_ms_since(ex.started),
            ttft_ms=ex.ttft_ms,
            status=status,
            error_type=error_type,
            outcome=outcome,
        )
        self._recorder.record(event, tenant_name=tenant.name)
        spent = input_tokens + output_tokens + cache_read + cache_write
        if (spent or cost) and (key.limits.any or tenant.limits.any):
            # Counting runs after the answer; a task so that a cancelled stream still counts.
            task = asyncio.get_running_loop().create_task(self._limiter.consume(key, tenant, spent, cost))
            self._background.add(task)
            task.add_done_callback(self._background.discard)


def _usage_of(usage: Any) -> dict[str, int]:
    if not isinstance(usage, Mapping):
        return {}
    # An upstream's counts are bounded where they enter: 0..2^63-1 fits every column and counter.
    return {k: bound_count(v) for k, v in usage.items() if isinstance(v, int)}


def _absorb_usage(ex: Exchange, event: Mapping[str, Any]) -> None:
    if event.get("type") == "message_start":
        usage = (event.get("message") or {}).get("usage")
        ex.usage.update(_usage_of(usage))
    else:
        usage = event.get("usage")
        ex.usage.update(_usage_of(usage))
        if isinstance(usage, Mapping) and "output_tokens" in usage:
            ex.final_usage = True


def _delta_chars(event: Mapping[str, Any]) -> int:
    delta = event.get("delta") or {}
    for field_name in ("text", "partial_json", "thinking"):
        value = delta.get(field_name)
        if isinstance(value, str):
            return len(value)
    return 0


def _client_message(error: ProviderError) -> str:
    message = error.message
    # Some LiteLLM exception texts carry a formatted traceback: the client never sees our stack.
    cut = message.find("Traceback (most recent call last)")
    if cut >= 0:
        message = message[:cut].rstrip()
    return message or "upstream error"


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
