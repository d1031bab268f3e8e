"""Sending claimed firings to their webhooks, with bounded retries and back-off, off the request path.

Each attempt leases its delivery row first (store/alert_deliveries.py: lease_delivery), so an attempt is
made by one replica only, and a replica that dies mid-attempt leaves the row to the others once the lease
runs out.
A 2xx answer delivers; anything else (another status, a redirect, a timeout, no connection) is retried
after `retry_seconds * 2**(attempt-1)` (at most `max_retry_seconds`) until `max_attempts` are spent, then
the delivery is marked failed. Errors recorded and logged name the webhook's host only: a Slack hook's
path is its token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from router.alerts.message import DELIVERY_HEADER, sample_body, signature_headers
from router.observability.metrics import ALERT_ATTEMPTS
from router.store.alerts import (
    DeliveryJob,
    due_deliveries,
    enqueue_test,
    finish_delivery,
    get_alert,
    get_delivery,
    lease_delivery,
)
from router.store.crypto import CredentialCipher, CredentialDecryptError
from router.store.db import Database
from router.store.models import AlertDelivery

if TYPE_CHECKING:
    import httpx

    from router.settings import Settings

log = logging.getLogger(__name__)

# How much of a refusing receiver's answer is kept (Slack says why: "invalid_token", "no_text").
ERROR_BODY_CHARS = 200
USER_AGENT = "router-alerts/1"


def _printable(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()[:ERROR_BODY_CHARS]


class WebhookSender:
    def __init__(
        self,
        db: Database,
        cipher: CredentialCipher,
        *,
        timeout: float = 5.0,
        max_attempts: int = 6,
        retry_seconds: float = 5.0,
        max_retry_seconds: float = 600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self._clock = clock
        # Made on the first delivery: httpx (and the CLI libraries its package import pulls in) costs
        # `router serve` ~0.1 s of start-up, and most processes never deliver an alert.
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            # Redirects are not followed: a webhook that moves must be changed where it is configured.
            self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, trust_env=False)
        return self._http

    @classmethod
    def from_settings(cls, db: Database, cipher: CredentialCipher, settings: Settings) -> WebhookSender:
        """The sender `ROUTER_ALERT_*` describe (timeout, attempts, back-off)."""
        return cls(
            db,
            cipher,
            timeout=settings.alert_webhook_timeout,
            max_attempts=settings.alert_delivery_attempts,
            retry_seconds=settings.alert_retry_seconds,
            max_retry_seconds=settings.alert_max_retry_seconds,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_retry_seconds, self.retry_seconds * 2 ** max(0, attempt - 1)))

    async def send_due(self, limit: int = 20) -> int:
        """Attempt every due delivery (at most `limit`, concurrently); the number attempted here."""
        async with self.db.session() as session:
            ids = await due_deliveries(session, self._clock(), limit)
        if not ids:
            return 0
        done = await asyncio.gather(*(self.attempt(i) for i in ids))
        return sum(1 for d in done if d)

    async def attempt(self, delivery_id: int) -> bool:
        """One attempt at one delivery, if this process gets its lease; True when it made the attempt."""
        now = self._clock()
        async with self.db.transaction() as session:
            job = await lease_delivery(session, delivery_id, now, self.lease_seconds)
        if job is None:
            return False
        await self._deliver(job)
        return True

    async def send_test(self, alert_id: int) -> AlertDelivery:
        """Send the alert's test message now (the page, the API and the CLI): recorded as a delivery like any
        other, and retried with back-off if this first attempt fails. Queued and leased in one transaction,
        so no replica's poll takes it first; bounded like every attempt (timeout, the answer's first bytes).
        Answers the delivery as this attempt left it. NotFoundError: no such alert."""
        now = self._clock()
        async with self.db.transaction() as session:
            alert = await get_alert(session, alert_id)
            body = sample_body(alert.name, alert.watch, now)
            delivery_id = await enqueue_test(session, alert, body, now)
            job = await lease_delivery(session, delivery_id, now, self.lease_seconds)
        if job is not None:  # always: the row is ours until this transaction commits
            await self._deliver(job)
        async with self.db.session() as session:
            return await get_delivery(session, delivery_id)

    @property
    def lease_seconds(self) -> float:
        """How long an attempt holds its row: past the exchange's own bound (twice the timeout)."""
        return self.timeout * 2 + 10

    async def _deliver(self, job: DeliveryJob) -> None:
        """Post the leased delivery and record the outcome: delivered, retry later, or failed for good."""
        delivered, status, error = await self._post(job)
        retry_at = None
        if not delivered and job.attempt < self.max_attempts:
            retry_at = self._clock() + timedelta(seconds=self.backoff(job.attempt))
        async with self.db.transaction() as session:
            await finish_delivery(
                session,
                job.id,
                now=self._clock(),
                delivered=delivered,
                http_status=status,
                error=error,
                retry_at=retry_at,
            )
        result = "delivered" if delivered else ("retry" if retry_at is not None else "failed")
        ALERT_ATTEMPTS.labels(job.alert_name, result).inc()
        if not delivered:
            log.warning(
                "alert %s: delivery %d to %s failed (attempt %d of %d): %s%s",
                job.alert_name,
                job.id,
                job.webhook_host or "?",
                job.attempt,
                self.max_attempts,
                error,
                "; retrying" if retry_at is not None else "; giving up",
            )

    async def _post(self, job: DeliveryJob) -> tuple[bool, int | None, str | None]:
        if job.webhook_encrypted is None:
            return False, None, "the alert was deleted"
        host = job.webhook_host or "the webhook"
        try:
            url = self.cipher.decrypt(job.webhook_encrypted)
            secret = self.cipher.decrypt(job.secret_encrypted) if job.secret_encrypted else None
        except CredentialDecryptError:
            return (
                False,
                None,
                "cannot decrypt the webhook or its secret: the secret key changed; set them again",
            )
        body = json.dumps(job.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: str(job.id),
            **signature_headers(secret, int(time.time()), body),
        }
        import httpx  # for its exception types (see _client: loaded on the first delivery)

        try:
            # httpx's timeout bounds each read; this bounds the whole exchange (a receiver trickling bytes).
            async with (
                asyncio.timeout(self.timeout * 2),
                self._client().stream("POST", url, content=body, headers=headers) as response,
            ):
                head = b""
                async for chunk in response.aiter_bytes():
                    head += chunk
                    if len(head) >= ERROR_BODY_CHARS:
                        break
        except (httpx.TimeoutException, TimeoutError):
            return False, None, f"no answer from {host} within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            # The exception's text can hold the URL: name its kind only.
            return False, None, f"could not reach {host} ({type(exc).__name__})"
        status = response.status_code
        if 200 <= status < 300:
            return True, status, None
        if 300 <= status < 400:
            return False, status, f"HTTP {status} from {host}: redirects are not followed"
        said = _printable(head)
        return False, status, f"HTTP {status} from {host}" + (f": {said}" if said else "")
