"""Alerts through the admin page: create, readable form errors, edit with the webhook and secret kept
write-only, a test message delivered to a real receiver, the recent deliveries, delete."""

from __future__ import annotations

import asyncio
import html

from sqlalchemy import select

from router.alerts.message import verify
from router.store.models import Alert, AuditEntry
from tests.admin.conftest import AdminClient, create_admin
from tests.admin.test_catalog_pages import location_id
from tests.fakes.webhook import WebhookReceiver, webhook

__all__ = ["webhook"]

TOKEN = "slack-path-token-XYZ"


def new_alert(receiver: WebhookReceiver, **fields: str) -> dict[str, str]:
    return {
        "name": "spend",
        "watch": "budget",
        "webhook": receiver.url(f"/services/T0/{TOKEN}"),
        "secret": "signing-secret-1",
        "thresholds": "50, 80%, 100",
        "subject_tenant": "on",
        "subject_key": "on",
        "enabled": "on",
        **fields,
    }


async def test_alert_create_edit_test_and_delete(admin: AdminClient, webhook: WebhookReceiver) -> None:
    listing = await admin.get("/admin/alerts")
    assert listing.status_code == 200 and "No alerts yet." in listing.text
    assert "No alerts have fired yet." in listing.text

    created = await admin.post("/admin/alerts", new_alert(webhook))
    assert created.status_code == 303, created.text
    alert_id = location_id(created, "alerts")
    async with admin.db.session() as session:
        row = (await session.scalars(select(Alert))).one()
    assert (row.thresholds, row.subjects, row.webhook_host) == (
        [50.0, 80.0, 100.0],
        ["tenant", "key"],
        f"127.0.0.1:{webhook.server.server_address[1]}",
    )
    for url in ("/admin/alerts", f"/admin/alerts/{alert_id}"):
        page = await admin.get(url)
        assert TOKEN not in page.text and "signing-secret-1" not in page.text
        assert row.webhook_host in page.text

    # Saving with the webhook and the secret left blank keeps both.
    edit = {**new_alert(webhook, thresholds="90"), "webhook": "", "secret": ""}
    saved = await admin.post(f"/admin/alerts/{alert_id}", edit)
    assert saved.status_code == 303, saved.text
    async with admin.db.session() as session:
        row = (await session.scalars(select(Alert))).one()
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "alert"))).all()
    assert row.thresholds == [90.0] and row.secret_encrypted is not None
    assert all(TOKEN not in str(a.before) + str(a.after) for a in audit)

    queued = await admin.post(f"/admin/alerts/{alert_id}/test", {})
    assert queued.status_code == 303 and "notice=test_queued" in queued.headers["location"]
    for _ in range(300):
        if webhook.delivered():
            break
        await asyncio.sleep(0.05)
    (got,) = webhook.delivered()
    assert got.path == f"/services/T0/{TOKEN}" and got.json["alert"]["test"] is True
    assert verify(
        "signing-secret-1", got.headers["x-router-timestamp"], got.headers["x-router-signature"], got.body
    )
    for _ in range(300):  # the sender records the delivery just after the receiver answered
        deliveries = await admin.get(f"/admin/alerts/deliveries?alert_id={alert_id}")
        if "delivered" in deliveries.text:
            break
        await asyncio.sleep(0.05)
    assert (
        deliveries.status_code == 200
        and "delivered" in deliveries.text
        and "<code>test</code>" in deliveries.text
    )

    removed = await admin.post(f"/admin/alerts/{alert_id}", {**edit, "remove_secret": "on"})
    assert removed.status_code == 303
    async with admin.db.session() as session:
        assert (await session.scalars(select(Alert))).one().secret_encrypted is None

    deleted = await admin.post(f"/admin/alerts/{alert_id}/delete", {})
    assert deleted.status_code == 303
    after = await admin.get("/admin/alerts")
    assert "No alerts yet." in after.text and "spend" in after.text  # the delivery stays as history
    assert (await admin.get(f"/admin/alerts/{alert_id}")).status_code == 404


async def test_bad_alert_forms_get_readable_errors_and_never_echo_the_webhook(
    admin: AdminClient, webhook: WebhookReceiver
) -> None:
    cases = [
        ({"thresholds": "50, lots"}, "thresholds", "Thresholds are percentages such as 50, 80, 100"),
        ({"thresholds": "0"}, "thresholds", "must be a percentage above 0"),
        ({"webhook": f"ftp://x/{TOKEN}"}, "webhook", "must be an http:// or https:// URL"),
        ({"webhook": ""}, "webhook", "Webhook URL is required."),
        ({"name": "bad name!"}, "name", "must be 1-100 letters"),
        ({"tenants": "ghost"}, "tenants", "Unknown tenant 'ghost'"),
        ({"secret": "short"}, "secret", "must be 8 to 500 characters"),
        ({"subject_tenant": "", "subject_key": ""}, "subjects", "Pick whose budgets to watch"),
        ({"watch": "error_rate", "thresholds": "150"}, "thresholds", "at most 100"),
        ({"watch": "cooldown", "window_minutes": "0"}, "window_minutes", "Window must be between 1 and 60."),
    ]
    for fields, name, message in cases:
        response = await admin.post("/admin/alerts", new_alert(webhook, **fields))
        assert response.status_code == 422, (fields, response.text)
        assert message.lower() in html.unescape(response.text).lower(), (fields, message)
        assert (
            f'aria-invalid="true" aria-describedby="newa-{name}-err"' in response.text or name == "subjects"
        )
        assert TOKEN not in response.text and "signing-secret-1" not in response.text
    first = await admin.post("/admin/alerts", new_alert(webhook))
    assert first.status_code == 303
    taken = await admin.post("/admin/alerts", new_alert(webhook))
    assert taken.status_code == 422 and "An alert named 'spend' already exists" in html.unescape(taken.text)


async def test_viewers_read_alerts_but_cannot_change_them(
    admin: AdminClient, webhook: WebhookReceiver
) -> None:
    created = await admin.post("/admin/alerts", new_alert(webhook))
    alert_id = location_id(created, "alerts")
    await create_admin(admin.db, "vera", "viewer password 1", role="viewer")
    await admin.post("/admin/logout", {})
    await admin.sign_in("vera", "viewer password 1")
    page = await admin.get(f"/admin/alerts/{alert_id}")
    assert page.status_code == 200 and "Send a test message" not in page.text
    assert (await admin.post(f"/admin/alerts/{alert_id}/delete", {})).status_code == 403
