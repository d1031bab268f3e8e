"""Helpers the hardening tests share: raw SSE reading, Anthropic error checks, usage read-back, closed ports."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from router.store import admins, catalog, keys, tenants
from router.store.db import Database
from router.store.usage_models import UsageRecord
from router.store.usage_records import UsageFilters, list_usage_records
from router.wire.stream_events import validate_stream
from tests.fixtures.db import run_async

ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
        "not_supported",
    }
)

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hello"}],
}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_error_body(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """Anthropic's error shape, a request-id, and no trace of a Python traceback."""
    assert "Traceback" not in response.text
    body = response.json()
    assert body.get("type") == "error", response.text
    error = body["error"]
    assert error["type"] in ERROR_TYPES, error
    assert isinstance(error["message"], str)
    assert response.headers.get("request-id", "").startswith("req_")
    if status is not None:
        assert response.status_code == status, response.text
    return dict(error)


@dataclass
class Sse:
    """A stream as it arrived on the wire: its (event name, data) frames and the raw bytes."""

    frames: list[tuple[str, dict[str, Any]]]
    raw: bytes

    @property
    def types(self) -> list[str]:
        return [name for name, _ in self.frames]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [data for _, data in self.frames]

    def text(self) -> str:
        return "".join(
            e["delta"].get("text", "") for e in self.events if e.get("type") == "content_block_delta"
        )

    def assert_complete(self) -> None:
        assert self.types[-1] == "message_stop", self.types[-3:]
        validate_stream(self.events)

    def assert_ends_with_error(self) -> dict[str, Any]:
        """The stream's last frame is an `error` event in Anthropic's shape and nothing follows it."""
        assert self.types, "empty stream"
        assert self.types[-1] == "error", self.types[-3:]
        assert self.types.count("error") == 1
        assert "message_stop" not in self.types
        error = self.events[-1]
        assert error["type"] == "error"
        assert error["error"]["type"] in ERROR_TYPES
        assert self.raw.endswith(b"\n\n")
        return dict(error["error"])


def parse_sse(raw: bytes) -> Sse:
    frames: list[tuple[str, dict[str, Any]]] = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = "", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data += line[len("data: ") :]
        payload = json.loads(data)
        assert payload["type"] == name, block
        frames.append((name, payload))
    return Sse(frames, raw)


def stream_raw(
    http: httpx.Client, key: str, body: dict[str, Any], **kwargs: Any
) -> tuple[httpx.Response, Sse]:
    """POST a streamed request and read the whole SSE body (the read timeout turns a hang into a failure)."""
    with http.stream(
        "POST", "/v1/messages", json={**body, "stream": True}, headers={"x-api-key": key}, **kwargs
    ) as r:
        raw = r.read()
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        return r, parse_sse(raw)
    return r, Sse([], raw)


def usage_records(database_url: str, **filters: Any) -> list[UsageRecord]:
    async def read() -> list[UsageRecord]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                since = datetime.now(UTC) - timedelta(hours=1)
                return await list_usage_records(session, UsageFilters(since=since, **filters), limit=10_000)
        finally:
            await db.dispose()

    return run_async(read())


def wait_for_usage(database_url: str, count: int, within: float = 10.0, **filters: Any) -> list[UsageRecord]:
    """Poll until at least `count` usage records exist (the recorder writes off the request path)."""
    deadline = time.monotonic() + within
    while True:
        rows = usage_records(database_url, **filters)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def no_marker_in(texts: Iterable[str], markers: Iterable[str]) -> list[tuple[str, str]]:
    """(marker, excerpt) for every marker found in any text."""
    found: list[tuple[str, str]] = []
    for text in texts:
        for marker in markers:
            at = text.find(marker)
            if at >= 0:
                found.append((marker, text[max(0, at - 80) : at + 80]))
    return found


# ---- the admin page over real HTTP ---------------------------------------------------------------------

ADMIN_USER = "hardening-admin"
ADMIN_PASSWORD = "a long and unguessable passphrase"
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def create_admin_user(database_url: str, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> None:
    async def create() -> None:
        db = Database(database_url)
        try:
            async with db.transaction() as session:
                if await admins.find_user(session, username) is None:
                    await admins.create_user(session, username, password, actor="test")
        finally:
            await db.dispose()

    run_async(create())


class AdminHttp:
    """A signed-in admin browser over HTTP: cookies kept, the page's CSRF token remembered."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=15, follow_redirects=False)
        self.csrf = ""

    def __enter__(self) -> AdminHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _remember(self, response: httpx.Response) -> httpx.Response:
        match = _CSRF.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._remember(self.http.get(url, **kwargs))

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        form = {"_csrf": self.csrf, **(data or {})}
        return self._remember(self.http.post(url, data=form, **kwargs))

    def sign_in(self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> AdminHttp:
        self.get("/admin/login")
        response = self.post("/admin/login", {"username": username, "password": password})
        assert response.status_code == 303, response.text[:500]
        page = self.get("/admin")
        assert page.status_code == 200, page.text[:500]
        return self


def object_ids(database_url: str) -> dict[str, int]:
    """Ids by name: `tenant:NAME`, `key:PREFIX`, `rule:TENANT-or-global:MATCH`, `provider:NAME`, ..."""

    async def read() -> dict[str, int]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                ids: dict[str, int] = {}
                tenant_names: dict[int, str] = {}
                for tenant in await tenants.list_tenants(session):
                    ids[f"tenant:{tenant.name}"] = tenant.id
                    tenant_names[tenant.id] = tenant.name
                for key in await keys.list_keys(session):
                    ids[f"key:{key.prefix}"] = key.id
                for rule in await catalog.list_all_rules(session):
                    level = tenant_names[rule.tenant_id] if rule.tenant_id is not None else "global"
                    ids[f"rule:{level}:{rule.match}"] = rule.id
                for provider in await catalog.list_providers(session):
                    ids[f"provider:{provider.name}"] = provider.id
                for deployment in await catalog.list_deployments(session):
                    ids[f"deployment:{deployment.name}"] = deployment.id
                for chain in await catalog.list_chains(session):
                    ids[f"chain:{chain.name}"] = chain.id
                return ids
        finally:
            await db.dispose()

    return run_async(read())
