"""The /v1 request path, framework-free: key guard, parse, resolve, limits, call (with fallback), answer.

Controllers hand it headers and the raw body; it returns bytes or an async iterator of SSE bytes. Every
request whose key was known ends in exactly one usage event: the gateway feeds an `Exchange` what it sees
and hands it to usage/accounting.py, which records it off the request path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from router.gateway.attempts import Attempt, Outcome, walk_route
from router.gateway.auth import KeyGuard
from router.gateway.capabilities import targets_able_to_serve
from router.gateway.catalog import list_models
from router.gateway.cooldown import Cooldowns
from router.gateway.errors import as_api_error
from router.gateway.keepalive import PING_FRAME, with_pings
from router.gateway.pools import PoolBalancer
from router.gateway.usage_notices import standing_headers
from router.observability.tracing import AttemptSpan, Tracing
from router.providers.base import EventStream, ProviderError, UpstreamCall
from router.providers.hub import ProviderHub
from router.providers.policy import client_error
from router.routing.errors import RoutingError
from router.routing.facts import request_facts
from router.routing.model import (
    KeySpec,
    Pool,
    PoolMember,
    Price,
    RequestFacts,
    Route,
    RoutingConfig,
    SnapshotSource,
    Target,
    TenantSpec,
)
from router.routing.resolve import Resolver, check_key_model
from router.usage.accounting import Accounting, Exchange
from router.usage.limit_rules import BudgetStanding, Reservation
from router.usage.limits import Limiter
from router.usage.quotas import MemoryQuotas
from router.wire.errors import (
    ApiError,
    ApiInternalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from router.wire.requests import MessagesRequest, decode_count_tokens_request, decode_request
from router.wire.responses import new_message_id
from router.wire.sse import encode_error_event, encode_event
from router.wire.stream_events import StreamEvent

log = logging.getLogger("router.gateway")

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class Caller:
    """Who is asking: the key and its tenant, resolved once per request."""

    key: KeySpec
    tenant: TenantSpec


class MessagesGateway:
    def __init__(
        self,
        *,
        snapshots: SnapshotSource,
        hub: ProviderHub,
        accounting: Accounting,
        limiter: Limiter,
        keys: KeyGuard,
        cooldowns: Cooldowns,
        upstream_timeout: float,
        first_byte_timeout: float,
        tracing: Tracing | None = None,
        ping_interval: float = 10.0,
        pools: PoolBalancer | None = None,
    ) -> None:
        self._snapshots = snapshots
        self._hub = hub
        self._accounting = accounting
        self._limiter = limiter
        self._keys = keys
        self._cooldowns = cooldowns
        # Pool members' health and load (this process) and quotas (shared through Redis when configured).
        self._pools = pools if pools is not None else PoolBalancer(cooldowns, MemoryQuotas())
        self._timeout = upstream_timeout
        self._first_byte_timeout = first_byte_timeout
        # None unless OpenTelemetry export is configured: then every attempt gets a CLIENT span.
        self._tracing = tracing
        self._ping_interval = ping_interval
        self._resolver: Resolver | None = None

    @property
    def cooldowns(self) -> Cooldowns:
        """This process's cool-downs (the admin health page shows them)."""
        return self._cooldowns

    async def close(self) -> None:
        await self._pools.quotas.stop()

    # -- the snapshot ---------------------------------------------------------------------------------

    def _config(self) -> RoutingConfig:
        config = self._snapshots.current
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
        ex = Exchange(request_id, caller.key, caller.tenant)
        try:
            req = decode_request(body)
            ex.model, ex.stream = req.model, req.stream
            budget = await self._budget_used(config, caller)
            route, facts = self._route(config, caller, req, body, budget)
            ex.reservation = await self._reserve(caller, req, route, facts.input_tokens)
        except (ApiError, RoutingError) as exc:
            refused = as_api_error(exc)
            self._accounting.finish(
                ex, status=refused.status, error_type=refused.error_type, outcome="rejected"
            )
            raise refused from None
        # A non-streamed answer's first byte comes when the whole answer is ready.
        first_byte_timeout = self._first_byte_timeout if req.stream else self._timeout
        upstream_call = self._calls(req, body, route, headers, request_id, first_byte_timeout)

        if not req.stream:
            outcome = await walk_route(
                route,
                self._cooldowns,
                lambda t: self._complete(upstream_call(t), body),
                pools=self._pools,
                session=facts.session,
                tokens=facts.input_tokens,
            )
            ex.attempts.extend(outcome.attempts)
            if outcome.result is None:
                raise self._failed(ex, outcome, body)
            ex.target = outcome.target
            ex.absorb_message(outcome.result)
            durable = self._accounting.finish(ex, status=200, error_type=None, outcome="ok")
            if durable is not None:
                # The answer leaves only once its usage record would survive a crash.
                await asyncio.shield(durable)
            if outcome.member is not None:
                await self._pools.settle(outcome.member, ex.usage.get("output_tokens", 0))
            return _encode(outcome.result)

        async def open_stream(target: Target) -> tuple[EventStream, list[StreamEvent], AttemptSpan | None]:
            call = upstream_call(target)
            span = self._attempt_span(call, body)
            stream = self._hub.stream(call)
            try:
                first = await stream.next_batch()
            except BaseException as exc:
                await stream.aclose()
                if span is not None:
                    span.fail(_error_type(exc))
                    span.end()
                raise
            if span is not None:
                span.observe(first)
            return stream, first, span

        opened = await walk_route(
            route,
            self._cooldowns,
            open_stream,
            pools=self._pools,
            session=facts.session,
            tokens=facts.input_tokens,
        )
        ex.attempts.extend(opened.attempts)
        if opened.result is None:
            raise self._failed(ex, opened, body)
        ex.target = opened.target
        stream, first, span = opened.result
        if opened.member is not None:
            # A streaming member stays busy until its stream ends.
            self._pools.started(opened.member.target.ref)
        return self._relay(ex, stream, first, span, opened.member, opened.attempts[-1])

    def _attempt_span(self, call: UpstreamCall, body: bytes) -> AttemptSpan | None:
        if self._tracing is None:
            return None
        target = call.target
        return self._tracing.start_attempt(
            kind=target.provider.kind,
            target_ref=target.ref,
            upstream_model=target.upstream_model,
            content=body,
        )

    async def _complete(self, call: UpstreamCall, body: bytes) -> dict[str, Any]:
        span = self._attempt_span(call, body)
        if span is None:
            return await self._hub.complete(call)
        try:
            result = await self._hub.complete(call)
        except BaseException as exc:
            span.fail(_error_type(exc))
            raise
        else:
            span.answer(result)
            return result
        finally:
            span.end()

    async def _relay(
        self,
        ex: Exchange,
        stream: EventStream,
        first: list[StreamEvent],
        span: AttemptSpan | None = None,
        member: PoolMember | None = None,
        committed: Attempt | None = None,
    ) -> AsyncIterator[bytes]:
        """SSE frames to the client, one write per upstream chunk; a failure after the first byte ends the
        stream with an `error` event."""
        outcome, status, error_type = "client_cancelled", 200, None
        try:
            ex.observe(first)
            yield b"".join([encode_event(event) for event in first])
            async for batch in with_pings(stream, self._ping_interval):
                if batch is None:
                    yield PING_FRAME
                    continue
                ex.observe(batch)
                if span is not None:
                    span.observe(batch)
                yield b"".join([encode_event(event) for event in batch])
            outcome = "ok"
        except ProviderError as exc:
            outcome, status, error_type = "error", exc.status, exc.error_type
            if committed is not None:
                committed.failed(exc)  # the record says why the answer ended (an oversized line, say)
            yield encode_error_event(error_type, client_error(exc).message)
        finally:
            ex.end_stream(cancelled=outcome == "client_cancelled", upstream_estimated=stream.usage_estimated)
            if span is not None:
                if error_type is not None or outcome == "client_cancelled":
                    span.fail(error_type or "client_cancelled")
                span.end()
            await stream.aclose()
            durable = self._accounting.finish(ex, status=status, error_type=error_type, outcome=outcome)
            if durable is not None and outcome != "client_cancelled":
                # The stream ends only once its usage record would survive a crash.
                await asyncio.shield(durable)
            if member is not None:
                self._pools.finished(member.target.ref)
                await self._pools.settle(member, ex.usage.get("output_tokens", 0))

    async def usage_headers(self, caller: Caller) -> dict[str, str]:
        """Claude Code's usage notice for a caller with a budget (`anthropic-ratelimit-unified-*`); none
        for a caller without one. No I/O unless the caller has a budget."""
        return standing_headers(await self.budgets(caller))

    async def budgets(self, caller: Caller) -> list[BudgetStanding]:
        """The caller's monthly budgets (its key's and its tenant's) and where they stand."""
        return await self._limiter.budgets(caller.key, caller.tenant)

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
        budget = await self._budget_used(config, caller)
        route, facts = self._route(config, caller, req, body, budget)
        await self._limiter.admit_count_tokens(caller.key)
        call = self._calls(req, body, route, headers, request_id, self._first_byte_timeout)
        first = route.targets[0]
        if isinstance(first, Pool):
            # Members serve one model: any member's tokenizer counts for the pool; the session's own first.
            first = self._pools.order(first, facts.session)[0].member.target
        tokens = await self._hub.count_tokens(call(first))
        return _encode({"input_tokens": tokens})

    # -- GET /v1/models -------------------------------------------------------------------------------

    async def models(self, headers: Mapping[str, str]) -> bytes:
        config = self._config()
        caller = await self._caller(headers, config)
        if not caller.tenant.enabled:
            # The same refusal /v1/messages gives: a disabled tenant's keys see no models, not an empty list.
            raise PermissionDeniedError(f"tenant '{caller.tenant.name}' is disabled")
        listed = list_models(self._resolver_for(config), caller.key, caller.tenant)
        if listed is None:
            # Gateway protocol: a 404 makes Claude Code fall back to its built-in list, with no retry storm.
            raise NotFoundError("no Claude model is routed for this caller")
        return _encode(listed)

    # -- helpers --------------------------------------------------------------------------------------

    def _calls(
        self,
        req: MessagesRequest,
        body: bytes,
        route: Route,
        headers: Mapping[str, str],
        request_id: str,
        first_byte_timeout: float,
    ) -> Callable[[Target], UpstreamCall]:
        """This request's call to any target of its route (one message id for every attempt)."""
        message_id = new_message_id()
        anthropic_beta = headers.get("anthropic-beta")
        anthropic_version = headers.get("anthropic-version")

        def call(target: Target) -> UpstreamCall:
            return UpstreamCall.build(
                req,
                body,
                target,
                request_id=request_id,
                message_id=message_id,
                overrides=route.overrides,
                anthropic_beta=anthropic_beta,
                anthropic_version=anthropic_version,
                timeout=self._timeout,
                first_byte_timeout=first_byte_timeout,
            )

        return call

    async def _budget_used(self, config: RoutingConfig, caller: Caller) -> float | None:
        """The caller's budget use, read only when some rule looks at it (no I/O otherwise)."""
        if not self._resolver_for(config).uses_budget:
            return None
        return await self._limiter.budget_used_pct(caller.key, caller.tenant)

    def _route(
        self,
        config: RoutingConfig,
        caller: Caller,
        req: MessagesRequest,
        body: bytes,
        budget_used_pct: float | None = None,
    ) -> tuple[Route, RequestFacts]:
        facts = request_facts(
            req,
            input_tokens=self._hub.estimate_tokens(body),
            member=caller.key.member,
            budget_used_pct=budget_used_pct,
        )
        # Routing's errors reach the client through the one exception handler (gateway/errors.py).
        check_key_model(caller.key, req.model)
        return targets_able_to_serve(self._resolver_for(config).resolve(caller.tenant.id, facts), req), facts

    async def _reserve(
        self, caller: Caller, req: MessagesRequest, route: Route, input_tokens: int
    ) -> Reservation | None:
        """Admit the request against its limits, charging its worst case: the input estimate plus the most
        it may generate, at the dearest target it may reach (settled to the real figures when it ends)."""
        if not self._limiter.applies(caller.key, caller.tenant):
            return None
        cap = route.overrides.get("max_tokens")
        output = min(req.max_tokens, cap) if isinstance(cap, int) and cap > 0 else req.max_tokens
        cost = max((price.cost(input_tokens, output) for price in _prices(route)), default=0.0)
        return await self._limiter.reserve(caller.key, caller.tenant, input_tokens + output, cost)

    def _failed(self, ex: Exchange, outcome: Outcome[Any], body: bytes) -> ApiError:
        error = outcome.error
        if error is None and outcome.quota_wait is not None:
            api_error: ApiError = RateLimitError(
                "every member of this route's pools is at its quota; retry after the time given",
                retry_after=outcome.quota_wait,
            )
        elif error is None:
            api_error = ApiInternalError("no target of this route could be tried")
        else:
            # A context overflow is worded with the provider's counts, else our estimate and the window.
            target = outcome.failed_target
            api_error = client_error(
                error,
                prompt_tokens_estimate=self._hub.estimate_tokens(body) if error.context_window else None,
                window=target.max_input_tokens if target else None,
            )
        self._accounting.finish(ex, status=api_error.status, error_type=api_error.error_type, outcome="error")
        return api_error


def _prices(route: Route) -> Iterator[Price]:
    for entry in route.targets:
        if isinstance(entry, Pool):
            yield from (member.target.price for member in entry.members)
        else:
            yield entry.price


def _error_type(exc: BaseException) -> str:
    """A failed attempt's `error.type`: our error type for an upstream's answer, else the exception's name."""
    return exc.error_type if isinstance(exc, ProviderError) else type(exc).__name__
