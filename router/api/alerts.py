"""/api/v1/alerts: list, read, create, change and delete alerts, send a test message, and the recent
deliveries. The same store services, validator and roles as the Alerts page (router/admin/access.py):
owners, admins and unrestricted viewers read; owners and admins change and test.

The webhook URL and the signing secret are write-only, as on the page: answers carry the webhook's host and
whether messages are signed, never the URL's path (a Slack hook's path is its token) nor the secret; the
audit log records the same view (store/alerts.py: alert_state).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter
from pydantic import BaseModel, Field

from router.alerts.delivery import WebhookSender
from router.api.deps import actor, sent
from router.api.schemas import In, out
from router.settings import Settings
from router.store import alerts as alert_store
from router.store.access import StoreAccess
from router.store.crypto import CredentialCipher
from router.store.models import Alert, AlertDelivery

AnyRequest = Request[Any, Any, Any]

# The page's bound on these lists (config/validate/ bounds every other value).
Names = Annotated[list[str], Field(max_length=100)]


class AlertIn(In):
    """An alert: `webhook` (write-only) and, for signed messages, `secret` (write-only, 8-500 characters)."""

    name: str
    watch: str  # "budget", "error_rate" or "cooldown"
    webhook: str
    secret: str | None = None
    thresholds: list[float] = []
    tenants: Names | None = None  # budget alerts: these tenants only (null: all)
    subjects: Names | None = None  # budget alerts: "tenant", "member", "key" (null: all)
    targets: Names | None = None  # error-rate and cool-down alerts: refs or globs (null: all)
    window_minutes: int = 5
    min_requests: int = 10
    enabled: bool = True


class AlertPatch(In):
    """Only the fields sent change. `webhook` replaces the URL; `secret` replaces the signing secret and
    null removes it (unsigned messages); `tenants`, `subjects`, `targets` null mean all."""

    name: str | None = None
    watch: str | None = None
    webhook: str | None = None
    secret: str | None = None
    thresholds: list[float] | None = None
    tenants: Names | None = None
    subjects: Names | None = None
    targets: Names | None = None
    window_minutes: int | None = None
    min_requests: int | None = None
    enabled: bool | None = None


class AlertOut(BaseModel):
    id: int
    name: str
    watch: str
    thresholds: list[float]
    tenants: list[str] | None
    subjects: list[str] | None
    targets: list[str] | None
    window_minutes: int
    min_requests: int
    enabled: bool
    # The webhook's host (and port) only; whether messages carry an HMAC signature (the secret never).
    webhook_host: str
    has_secret: bool


class DeliveryOut(BaseModel):
    id: int
    alert_id: int | None  # null once the alert was deleted (the delivery stays as history)
    alert_name: str
    subject: str  # "tenant:acme:month", "key:…", "target:openai/gpt-4.1", "test"
    threshold: float
    value: float
    window_start: datetime
    # "pending" (to send or to retry), "delivered", "failed" (gave up), "superseded"
    status: str
    attempts: int
    last_status: int | None  # the receiver's HTTP status on the last attempt
    last_error: str | None  # names the webhook's host only
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    text: str | None  # what the message said


def alert_out(row: Alert) -> AlertOut:
    return out(
        AlertOut,
        row,
        thresholds=list(row.thresholds or []),
        has_secret=row.secret_encrypted is not None,
    )


def delivery_out(row: AlertDelivery) -> DeliveryOut:
    text = (row.payload or {}).get("text")
    return out(DeliveryOut, row, text=text if isinstance(text, str) else None)


# Clearing these means "all"; the secret's null means "unsigned".
_NULLABLE = frozenset({"secret", "tenants", "subjects", "targets"})
Limit = Annotated[int, Parameter(ge=1, le=500, description="How many, newest first.")]


class AlertsApi(Controller):
    path = "/alerts"
    tags = ["alerts"]

    @get("/")
    async def list_alerts(self, store: StoreAccess) -> list[AlertOut]:
        async with store.reading() as session:
            return [alert_out(a) for a in await alert_store.list_alerts(session)]

    @post("/")
    async def create_alert(
        self, request: AnyRequest, data: AlertIn, store: StoreAccess, cipher: CredentialCipher
    ) -> AlertOut:
        draft = alert_store.draft_from(data.model_dump())
        async with store.mutating() as session:
            row = await alert_store.create_alert(session, draft, cipher=cipher, actor=actor(request))
            return alert_out(row)

    @get("/deliveries")
    async def all_deliveries(self, store: StoreAccess, limit: Limit = 50) -> list[DeliveryOut]:
        """The most recent deliveries of every alert (deleted ones' too), newest first."""
        async with store.reading() as session:
            return [delivery_out(d) for d in await alert_store.list_deliveries(session, limit=limit)]

    @get("/{alert_id:int}")
    async def get_alert(self, alert_id: int, store: StoreAccess) -> AlertOut:
        async with store.reading() as session:
            return alert_out(await alert_store.get_alert(session, alert_id))

    @patch("/{alert_id:int}")
    async def update_alert(
        self,
        request: AnyRequest,
        alert_id: int,
        data: AlertPatch,
        store: StoreAccess,
        cipher: CredentialCipher,
    ) -> AlertOut:
        changes = sent(data, nullable=_NULLABLE)
        async with store.mutating() as session:
            row = await alert_store.change_alert(
                session, alert_id, changes, cipher=cipher, actor=actor(request)
            )
            return alert_out(row)

    @delete("/{alert_id:int}")
    async def delete_alert(self, request: AnyRequest, alert_id: int, store: StoreAccess) -> None:
        """Its deliveries stay as history; pending ones are not sent."""
        async with store.mutating() as session:
            await alert_store.delete_alert(session, alert_id, actor=actor(request))

    @get("/{alert_id:int}/deliveries")
    async def deliveries(self, alert_id: int, store: StoreAccess, limit: Limit = 50) -> list[DeliveryOut]:
        async with store.reading() as session:
            await alert_store.get_alert(session, alert_id)
            rows = await alert_store.list_deliveries(session, limit=limit, alert_id=alert_id)
        return [delivery_out(d) for d in rows]

    @post("/{alert_id:int}/test", status_code=200)
    async def send_test(
        self,
        request: AnyRequest,
        alert_id: int,
        store: StoreAccess,
        cipher: CredentialCipher,
        settings: Settings,
    ) -> DeliveryOut:
        """Send a test message to the webhook now and answer its delivery: `delivered`, or `pending` with
        the receiver's refusal in `last_error` (retried with back-off like any delivery). Waits at most
        twice ROUTER_ALERT_WEBHOOK_TIMEOUT."""
        service = request.app.state.get("alerts")
        if service is not None:
            return delivery_out(await service.sender.send_test(alert_id))
        sender = WebhookSender.from_settings(store.db, cipher, settings)  # an app without the alert service
        try:
            return delivery_out(await sender.send_test(alert_id))
        finally:
            await sender.close()
