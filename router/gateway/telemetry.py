"""The telemetry relay: OTLP/HTTP from signed-in Claude Code (`POST /v1/metrics|logs|traces`) forwarded to
the operator's collector (ROUTER_TELEMETRY_OTLP_ENDPOINT), or accepted and dropped when none is configured.

The client is answered at once (200, as the protocol asks: a 404 makes its exporter log on every flush);
forwarding runs in the background, bounded in bytes per body and in concurrent sends, so a slow or absent
collector can neither hold clients nor grow memory: beyond the bound, batches are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import unquote

from router.settings import Settings

if TYPE_CHECKING:  # imported on the first relayed batch: most processes never relay one
    import httpx

log = logging.getLogger("router.telemetry")

SIGNALS = ("metrics", "logs", "traces")
MAX_BODY_BYTES = 4 * 1024 * 1024
_MAX_IN_FLIGHT = 16
_TIMEOUT = 10.0
_CONTENT_TYPES = ("application/x-protobuf", "application/json")


def parse_headers(text: str) -> dict[str, str]:
    """`k1=v1,k2=v2` (values may be URL-encoded, as OTEL_EXPORTER_OTLP_HEADERS allows) as a dict."""
    headers: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            headers[name.strip().lower()] = unquote(value.strip())
    return headers


class TelemetryRelay:
    def __init__(self, settings: Settings) -> None:
        endpoint = (settings.telemetry_otlp_endpoint or "").rstrip("/")
        self.endpoint = endpoint or None
        self._headers = parse_headers(settings.telemetry_otlp_headers or "")
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.forwarded = 0
        self.dropped = 0

    def accept(self, signal: str, body: bytes, content_type: str | None) -> None:
        """Queue one OTLP batch for the collector (or drop it: no collector, too many in flight)."""
        if self.endpoint is None:
            self.dropped += 1
            return
        if len(self._tasks) >= _MAX_IN_FLIGHT:
            self.dropped += 1
            log.warning(
                "telemetry relay: %d batches in flight, dropping a %s batch", len(self._tasks), signal
            )
            return
        media = (content_type or "").split(";", 1)[0].strip().lower()
        headers = {
            **self._headers,
            "content-type": media if media in _CONTENT_TYPES else "application/x-protobuf",
        }
        task = asyncio.get_running_loop().create_task(self._send(signal, body, headers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, signal: str, body: bytes, headers: dict[str, str]) -> None:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=_TIMEOUT)
        url = f"{self.endpoint}/v1/{signal}"
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.dropped += 1
            log.warning(
                "telemetry relay: the collector did not take a %s batch (%s)", signal, type(exc).__name__
            )
            return
        if response.status_code >= 300:
            self.dropped += 1
            log.warning(
                "telemetry relay: the collector answered %d to a %s batch", response.status_code, signal
            )
            return
        self.forwarded += 1

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_TIMEOUT)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
