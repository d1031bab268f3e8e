"""The /v1 HTTP edge: thin handlers that hand headers and body to the MessagesGateway (injected)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, head, post
from litestar.datastructures import State
from litestar.response import Stream

from router.gateway.messages import MessagesGateway
from router.gateway.openapi import CountTokensOperation, MessagesOperation
from router.gateway.usage_notices import capped_usage_report, uncapped_usage_report
from router.store.db import DbSession
from router.store.usage_reports import member_spend
from router.wire.responses import new_request_id

JSON = "application/json"


def _request_id(request: Request[Any, Any, State]) -> str:
    request_id = new_request_id()
    # The exception handler reads it back so that error bodies carry the same id.
    request.scope["state"]["request_id"] = request_id
    return request_id


class MessagesController(Controller):
    path = "/v1"
    include_in_schema = True

    @post(
        "/messages",
        status_code=200,
        summary="Create a Message (Anthropic Messages API)",
        operation_class=MessagesOperation,
    )
    async def create_message(
        self, request: Request[Any, Any, State], gateway: MessagesGateway
    ) -> Response[bytes] | Stream:
        request_id = _request_id(request)
        caller = await gateway.authenticate(request.headers)
        body = await request.body()
        # Read before the call: once messages() hands back a stream, nothing may fail before it is sent.
        notice = await gateway.usage_headers(caller)
        result = await gateway.messages(caller, request.headers, body, request_id)
        headers = {**notice, "request-id": request_id}
        if isinstance(result, bytes):
            return Response(result, media_type=JSON, headers=headers)
        return Stream(
            result,
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    @post(
        "/messages/count_tokens",
        status_code=200,
        summary="Count the tokens of a Messages request",
        operation_class=CountTokensOperation,
    )
    async def count_tokens(
        self, request: Request[Any, Any, State], gateway: MessagesGateway
    ) -> Response[bytes]:
        request_id = _request_id(request)
        caller = await gateway.authenticate(request.headers)
        body = await request.body()
        result = await gateway.count_tokens(caller, request.headers, body, request_id)
        return Response(result, media_type=JSON, headers={"request-id": request_id})

    @get("/models", summary="List the models this key may ask for")
    async def list_models(
        self, request: Request[Any, Any, State], gateway: MessagesGateway
    ) -> Response[bytes]:
        request_id = _request_id(request)
        result = await gateway.models(request.headers)
        return Response(result, media_type=JSON, headers={"request-id": request_id})


@head("/", include_in_schema=False, status_code=200)
async def probe_root() -> None:
    """Claude Code probes `HEAD /` when it starts."""


@get("/", include_in_schema=False, status_code=200)
async def root() -> dict[str, str]:
    return {"service": "router", "api": "/v1/messages", "admin": "/admin"}


@get("/api/oauth/usage", include_in_schema=False, summary="The caller's spend against their budget")
async def oauth_usage(
    request: Request[Any, Any, State], gateway: MessagesGateway, db_session: DbSession
) -> Response[bytes]:
    """Claude Code's `/usage` dollars (gateway protocol, "Usage-limit headers"): the budget the usage headers
    describe, in cents, for a proxy key or a signed-in member's token alike."""
    caller = await gateway.authenticate(request.headers)
    standings = await gateway.budgets(caller)
    if standings:
        report = capped_usage_report(standings)
    else:
        report = uncapped_usage_report(*await member_spend(db_session, caller.key.id, datetime.now(UTC)))
    return Response(msgspec.json.encode(report), media_type=JSON, headers={"cache-control": "no-store"})
