"""Alerts over the management API: the page's roles, the shared validator's 422 naming the field, audit
entries, a test message sent now to a real HTTP receiver and recorded, and the webhook's path and the
signing secret never in an answer, the audit log or a log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from router.alerts.message import verify
from router.store.models import Alert, AuditEntry
from tests.api.conftest import Api
from tests.fakes.webhook import WebhookReceiver, webhook

__all__ = ["webhook"]

TOKEN = "slack-path-token-XYZ"
SECRET = "signing-secret-1"


def new_alert(receiver: WebhookReceiver, **fields: Any) -> dict[str, Any]:
    return {
        "name": "spend",
        "watch": "budget",
        "webhook": receiver.url(f"/services/T0/{TOKEN}"),
        "secret": SECRET,
        "thresholds": [50, 80, 100],
        "tenants": ["alpha"],
        "subjects": ["tenant", "key"],
        **fields,
    }


def assert_no_secrets(text: str) -> None:
    assert TOKEN not in text and SECRET not in text


async def test_alert_create_read_change_and_delete_keep_the_webhook_and_secret_write_only(
    api: Api, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = await api.token("admin")
    created = await api.http.post("/api/v1/alerts", json=new_alert(webhook), headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    host = f"127.0.0.1:{webhook.server.server_address[1]}"
    assert body == {
        "id": body["id"],
        "name": "spend",
        "watch": "budget",
        "thresholds": [50.0, 80.0, 100.0],
        "tenants": ["alpha"],
        "subjects": ["tenant", "key"],
        "targets": None,
        "window_minutes": 5,
        "min_requests": 10,
        "enabled": True,
        "webhook_host": host,
        "has_secret": True,
    }
    alert_id = body["id"]
    for url in ("/api/v1/alerts", f"/api/v1/alerts/{alert_id}"):
        answer = await api.http.get(url, headers=h)
        assert answer.status_code == 200 and host in answer.text
        assert_no_secrets(answer.text)

    # Only the fields sent change: the webhook and the secret stay.
    changed = await api.http.patch(
        f"/api/v1/alerts/{alert_id}", json={"thresholds": [90], "tenants": None}, headers=h
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["thresholds"], changed.json()["tenants"], changed.json()["has_secret"]) == (
        [90.0],
        None,
        True,
    )
    unsigned = await api.http.patch(f"/api/v1/alerts/{alert_id}", json={"secret": None}, headers=h)
    assert unsigned.json()["has_secret"] is False
    moved = await api.http.patch(
        f"/api/v1/alerts/{alert_id}", json={"webhook": f"https://hooks.example/{TOKEN}/2"}, headers=h
    )
    assert moved.status_code == 200 and moved.json()["webhook_host"] == "hooks.example"
    assert_no_secrets(moved.text)
    async with api.db.session() as session:
        row = (await session.scalars(select(Alert))).one()
        assert row.secret_encrypted is None and row.thresholds == [90.0] and row.webhook_ref is None

    deleted = await api.http.delete(f"/api/v1/alerts/{alert_id}", headers=h)
    assert deleted.status_code == 204
    assert (await api.http.get(f"/api/v1/alerts/{alert_id}", headers=h)).status_code == 404
    assert (await api.http.get("/api/v1/alerts", headers=h)).json() == []

    async with api.db.session() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.object_type == "alert").order_by(AuditEntry.id)
            )
        ).all()
    assert [a.action for a in audit] == ["create", "update", "update", "update", "delete"]
    assert {a.actor for a in audit} == {audit[0].actor} and audit[0].actor.startswith("token:")
    assert audit[0].after is not None and audit[0].after["signed"] is True
    for entry in audit:
        assert_no_secrets(str(entry.before) + str(entry.after))
    assert_no_secrets(caplog.text)


async def test_a_test_message_goes_to_the_real_receiver_now_signed_and_is_recorded(
    api: Api, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = await api.token("owner")
    alert_id = (await api.http.post("/api/v1/alerts", json=new_alert(webhook), headers=h)).json()["id"]

    sent = await api.http.post(f"/api/v1/alerts/{alert_id}/test", headers=h)
    assert sent.status_code == 200, sent.text
    delivery = sent.json()
    assert (delivery["status"], delivery["subject"], delivery["attempts"], delivery["last_status"]) == (
        "delivered",
        "test",
        1,
        200,
    )
    assert delivery["text"] == "[spend] Test message from the router: this webhook gets its messages."
    (got,) = webhook.received
    assert got.path == f"/services/T0/{TOKEN}" and got.json["alert"] == {
        "name": "spend",
        "watch": "budget",
        "test": True,
        "fired_at": got.json["alert"]["fired_at"],
    }
    assert verify(SECRET, got.headers["x-router-timestamp"], got.headers["x-router-signature"], got.body)
    assert got.headers["x-router-delivery"] == str(delivery["id"])

    # A refusing receiver: the answer says so (by host, with the receiver's reason), the row waits to retry.
    webhook.answer(500)
    refused = (await api.http.post(f"/api/v1/alerts/{alert_id}/test", headers=h)).json()
    host = f"127.0.0.1:{webhook.server.server_address[1]}"
    assert (refused["status"], refused["attempts"], refused["last_status"]) == ("pending", 1, 500)
    assert refused["last_error"] == f"HTTP 500 from {host}: no_service: hook disabled"

    listed = await api.http.get(f"/api/v1/alerts/{alert_id}/deliveries", headers=h)
    assert [(d["id"], d["status"]) for d in listed.json()][-1] == (delivery["id"], "delivered")
    assert listed.json()[0]["id"] == refused["id"]
    everything = await api.http.get("/api/v1/alerts/deliveries?limit=1", headers=h)
    assert [d["id"] for d in everything.json()] == [refused["id"]]
    too_many = await api.http.get("/api/v1/alerts/deliveries?limit=100000", headers=h)
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "limit"
    assert (await api.http.post("/api/v1/alerts/999999/test", headers=h)).status_code == 404
    for answer in (sent, listed, everything):
        assert_no_secrets(answer.text)
    assert_no_secrets(caplog.text)


async def test_bad_alerts_are_422_naming_the_field_without_echoing_the_webhook(
    api: Api, webhook: WebhookReceiver
) -> None:
    h = await api.token("admin")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"watch": "spend"}, "watch"),
        ({"thresholds": [0]}, "thresholds[0]"),
        ({"thresholds": [50, "lots"]}, "thresholds.1"),
        ({"webhook": f"ftp://hooks.example/{TOKEN}"}, "webhook"),
        ({"webhook": f"https://user:{TOKEN}@hooks.example/"}, "webhook"),
        ({"tenants": ["ghost"]}, "tenants"),
        ({"secret": "short"}, "secret"),
        ({"name": "bad name!"}, "name"),
        ({"subjects": ["team"]}, "subjects[0]"),
        ({"watch": "cooldown"}, "thresholds"),
        (
            {
                "watch": "error_rate",
                "tenants": None,
                "subjects": None,
                "thresholds": [50],
                "window_minutes": 0,
            },
            "window_minutes",
        ),
        ({"colour": "red"}, "colour"),
    ]
    for fields, field in cases:
        answer = await api.http.post("/api/v1/alerts", json=new_alert(webhook, **fields), headers=h)
        assert answer.status_code == 422, (fields, answer.text)
        error = answer.json()["error"]
        assert (error["type"], error["field"]) == ("invalid_request_error", field), (fields, answer.text)
        assert_no_secrets(answer.text)
    missing = new_alert(webhook)
    del missing["webhook"]
    answer = await api.http.post("/api/v1/alerts", json=missing, headers=h)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "webhook"

    alert_id = (await api.http.post("/api/v1/alerts", json=new_alert(webhook), headers=h)).json()["id"]
    taken = await api.http.post("/api/v1/alerts", json=new_alert(webhook), headers=h)
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "name"
    for patch, field in (
        ({"webhook": None}, "webhook"),
        ({"watch": "error_rate"}, "tenants"),  # a budget alert's tenants do not fit an error-rate alert
        ({"thresholds": [50, 50]}, "thresholds[1]"),
        ({"min_requests": -1}, "min_requests"),
    ):
        answer = await api.http.patch(f"/api/v1/alerts/{alert_id}", json=patch, headers=h)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field, (patch, answer.text)
    unchanged = (await api.http.get(f"/api/v1/alerts/{alert_id}", headers=h)).json()
    assert unchanged["watch"] == "budget" and unchanged["thresholds"] == [50.0, 80.0, 100.0]


async def test_alert_routes_follow_the_alerts_page_roles(api: Api, webhook: WebhookReceiver) -> None:
    """Owners and admins change and test; unrestricted viewers read; tenant-admins and viewers limited to
    tenants see nothing of alerts (global configuration), whatever the alert's tenants."""
    owner = await api.token("owner")
    alert_id = (await api.http.post("/api/v1/alerts", json=new_alert(webhook), headers=owner)).json()["id"]
    one = f"/api/v1/alerts/{alert_id}"
    reads = [
        ("GET", "/api/v1/alerts"),
        ("GET", one),
        ("GET", f"{one}/deliveries"),
        ("GET", "/api/v1/alerts/deliveries"),
    ]
    writes = [("PATCH", one, {"enabled": False}), ("POST", f"{one}/test", None)]
    expected = {
        ("owner", ()): (200, 200),
        ("admin", ()): (200, 200),
        ("viewer", ()): (200, 403),
        ("viewer", ("alpha",)): (403, 403),
        ("tenant-admin", ("alpha",)): (403, 403),
    }
    for (role, tenants), (read_status, write_status) in expected.items():
        h = await api.token(role, list(tenants))
        for method, url in reads:
            answer = await api.http.request(method, url, headers=h)
            assert answer.status_code == read_status, (role, tenants, method, url, answer.text)
        for method, url, body in writes:
            answer = await api.http.request(method, url, json=body, headers=h)
            assert answer.status_code == write_status, (role, tenants, method, url, answer.text)
        create = await api.http.post("/api/v1/alerts", json=new_alert(webhook, name=f"a-{role}"), headers=h)
        assert create.status_code == (201 if write_status == 200 else 403), (role, create.text)
    for role, only in (("viewer", []), ("tenant-admin", ["alpha"])):
        h = await api.token(role, only)
        assert (await api.http.delete(one, headers=h)).status_code == 403
    assert (await api.http.delete(one, headers=await api.token("admin"))).status_code == 204
    # Only the owner's and the admin's test messages went out.
    assert len(webhook.received) == 2
