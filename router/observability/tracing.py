"""OpenTelemetry traces of /v1 requests, following the GenAI semantic conventions.

Each /v1 request is a SERVER span (`POST /v1/messages`); each upstream attempt under it is a CLIENT span named
`chat {gen_ai.request.model}` with the GenAI attributes (provider, request and response model, response id,
finish reasons, input/output/cache tokens, `error.type`), plus our own `router.*` attributes (tenant, key
prefix, target). A fallback therefore shows as several CLIENT children of one SERVER span.

Spans are exported over OTLP/HTTP (protobuf) by the OpenTelemetry SDK only when OTEL_EXPORTER_OTLP_ENDPOINT
is set; the SDK's other OTEL_* variables (headers, batch delays, resource attributes) apply as usual. When it
is not set, nothing here is imported by the app and the gateway's tracer is None: tracing costs nothing.
Message content is never recorded unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from router.observability.access import access_note

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

__all__ = ["AttemptSpan", "Tracing"]

# gen_ai.provider.name's well-known values for our kinds; any other LiteLLM provider string is used as is.
PROVIDER_NAMES = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "gemini": "gcp.gemini",
    "anthropic": "anthropic",
}
MAX_CONTENT_CHARS = 16 * 1024


class AttemptSpan:
    """One upstream attempt's CLIENT span: fed the answer (or its stream events), then ended."""

    __slots__ = ("_finish_reasons", "_span", "_usage")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._usage: dict[str, int] = {}
        self._finish_reasons: list[str] = []

    def answer(self, message: Mapping[str, Any]) -> None:
        """A whole Anthropic Message."""
        self._response(message)
        reason = message.get("stop_reason")
        if isinstance(reason, str):
            self._finish_reasons.append(reason)
        self._take_usage(message.get("usage"))

    def observe(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Streamed events: message_start carries id and model, message_delta the stop reason and usage."""
        for event in events:
            kind = event.get("type")
            if kind == "message_start":
                message = event.get("message")
                if isinstance(message, Mapping):
                    self._response(message)
                    self._take_usage(message.get("usage"))
            elif kind == "message_delta":
                delta = event.get("delta")
                reason = delta.get("stop_reason") if isinstance(delta, Mapping) else None
                if isinstance(reason, str):
                    self._finish_reasons.append(reason)
                self._take_usage(event.get("usage"))

    def fail(self, error_type: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR, error_type))

    def end(self) -> None:
        span = self._span
        usage = self._usage
        for attribute, key in (
            ("gen_ai.usage.input_tokens", "input_tokens"),
            ("gen_ai.usage.output_tokens", "output_tokens"),
            ("gen_ai.usage.cache_read.input_tokens", "cache_read_input_tokens"),
            ("gen_ai.usage.cache_creation.input_tokens", "cache_creation_input_tokens"),
        ):
            if key in usage:
                span.set_attribute(attribute, usage[key])
        if self._finish_reasons:
            span.set_attribute("gen_ai.response.finish_reasons", self._finish_reasons)
        span.end()

    def _response(self, message: Mapping[str, Any]) -> None:
        for attribute, key in (("gen_ai.response.id", "id"), ("gen_ai.response.model", "model")):
            value = message.get(key)
            if isinstance(value, str) and value:
                self._span.set_attribute(attribute, value)

    def _take_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            self._usage.update(
                {k: v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
            )


class Tracing:
    """The process's tracer provider and the two kinds of span the service makes."""

    def __init__(self, provider: TracerProvider, *, capture_content: bool) -> None:
        self._provider = provider
        self._tracer: Tracer = provider.get_tracer("router")
        self.capture_content = capture_content

    @classmethod
    def create(cls, endpoint: str, *, service_name: str, capture_content: bool) -> Tracing:
        """A provider exporting in batches to `endpoint` (the OTLP base URL: /v1/traces is added)."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider, capture_content=capture_content)

    async def shutdown(self) -> None:
        """Flush what is queued and stop the exporter (blocking work: off the event loop)."""
        await asyncio.to_thread(self._provider.shutdown)

    def start_attempt(
        self, *, kind: str, target_ref: str, upstream_model: str, content: bytes | None = None
    ) -> AttemptSpan:
        """A CLIENT span for one attempt, a child of the current (server) span."""
        from opentelemetry.trace import SpanKind

        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER_NAMES.get(kind, kind),
            "gen_ai.request.model": upstream_model,
            "router.target": target_ref,
        }
        if self.capture_content and content is not None:
            attributes["gen_ai.input.messages"] = _messages_of(content)
        span = self._tracer.start_span(f"chat {upstream_model}", kind=SpanKind.CLIENT, attributes=attributes)
        return AttemptSpan(span)

    def middleware(self) -> Any:
        """A Litestar middleware factory: a SERVER span around each /v1 request, current while it runs."""
        from opentelemetry import context as otel_context
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        tracer = self._tracer

        def factory(app: ASGIApp) -> ASGIApp:
            async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
                path = scope.get("path", "")
                if scope["type"] != ScopeType.HTTP or not path.startswith("/v1/"):
                    await app(scope, receive, send)
                    return
                method = scope.get("method", "")
                span = tracer.start_span(
                    f"{method} {path}",
                    kind=SpanKind.SERVER,
                    attributes={"http.request.method": method, "url.path": path},
                )
                token = otel_context.attach(trace.set_span_in_context(span))
                status = 500

                async def sending(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = int(message["status"])
                    await send(message)

                try:
                    await app(scope, receive, sending)
                finally:
                    otel_context.detach(token)
                    span.set_attribute("http.response.status_code", status)
                    request_id = (scope.get("state") or {}).get("request_id")
                    if request_id:
                        span.set_attribute("router.request_id", request_id)
                    note = access_note()
                    if note is not None:
                        for attribute, value in (
                            ("router.tenant", note.tenant),
                            ("router.key_prefix", note.key_prefix),
                            ("gen_ai.request.model", note.model),
                            ("router.target", note.target),
                            ("error.type", note.error_type),
                        ):
                            if value is not None:
                                span.set_attribute(attribute, value)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    span.end()

            return middleware

        return factory


def _messages_of(body: bytes) -> str:
    """The request's `messages` as JSON (opted in only), cut to MAX_CONTENT_CHARS."""
    try:
        messages = json.loads(body).get("messages")
    except (ValueError, AttributeError):
        return ""
    return json.dumps(messages, ensure_ascii=False)[:MAX_CONTENT_CHARS]
