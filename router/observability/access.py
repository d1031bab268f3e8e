"""The access log: one line per HTTP request, on the `router.access` logger.

An ASGI middleware times each request and reads its status; what only the gateway learns (tenant, key prefix,
requested model, the target that answered, tokens, outcome) is noted on the request's `AccessNote` through a
context variable, so nothing below the gateway needs to know the log exists. The request body (the prompt)
is logged only when ROUTER_LOG_REQUESTS is on, cut at `MAX_LOGGED_BODY` bytes. Health probes and /metrics
are logged at DEBUG: a probe every few seconds would bury the requests.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

log = logging.getLogger("router.access")

MAX_LOGGED_BODY = 16 * 1024
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(slots=True)
class AccessNote:
    """What the gateway adds to a request's access line (None: not known for this request)."""

    tenant: str | None = None
    key_prefix: str | None = None
    model: str | None = None
    target: str | None = None
    stream: bool | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    outcome: str | None = None
    error_type: str | None = None


_current: contextvars.ContextVar[AccessNote | None] = contextvars.ContextVar("router_access", default=None)


def access_note() -> AccessNote | None:
    """The note of the request being served (None outside a request, e.g. in tests without the middleware)."""
    return _current.get()


def access_log_middleware(*, log_bodies: bool) -> Any:
    """A Litestar middleware factory: `middleware=[access_log_middleware(log_bodies=...)]`."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            note = AccessNote()
            token = _current.set(note)
            status = 500
            body = bytearray()

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            async def receiving() -> ReceiveMessage:
                message = await receive()
                if message["type"] == "http.request" and len(body) < MAX_LOGGED_BODY:
                    body.extend(message["body"][: MAX_LOGGED_BODY - len(body)])
                return message

            try:
                await app(scope, receiving if log_bodies else receive, sending)
            finally:
                _current.reset(token)
                _emit(scope, status, started, note, bytes(body) if log_bodies else None)

        return middleware

    return factory


def _emit(scope: Scope, status: int, started: float, note: AccessNote, body: bytes | None) -> None:
    path = scope.get("path", "")
    level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
    if not log.isEnabledFor(level):
        return
    latency_ms = int((time.perf_counter() - started) * 1000)
    state = scope.get("state") or {}
    fields: dict[str, Any] = {
        "request_id": state.get("request_id"),
        "method": scope.get("method"),
        "path": path,
        "status": status,
        "latency_ms": latency_ms,
        **{k: v for k, v in asdict(note).items() if v is not None},
    }
    client = scope.get("client")
    if client:
        fields["client"] = client[0]
    if body is not None:
        fields["request_body"] = body.decode("utf-8", errors="replace")
    log.log(level, _summary(fields), extra={"access": True, **fields})


def _summary(f: dict[str, Any]) -> str:
    """The line a person reads on a terminal: method path status latency, then who asked what."""
    parts = [f"{f['method']} {f['path']} {f['status']} {f['latency_ms']}ms"]
    if "tenant" in f:
        parts.append(f"tenant={f['tenant']} key={f.get('key_prefix')}")
    if "model" in f:
        parts.append(f"model={f['model']}" + (f" -> {f['target']}" if f.get("target") else ""))
    if "input_tokens" in f or "output_tokens" in f:
        parts.append(f"tokens={f.get('input_tokens', 0)}/{f.get('output_tokens', 0)}")
    if f.get("error_type"):
        parts.append(f"error={f['error_type']}")
    if f.get("request_id"):
        parts.append(str(f["request_id"]))
    return " ".join(parts)
