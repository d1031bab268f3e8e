"""Alerts end to end below the app: stored alerts, spend written as the usage writer writes it, the
evaluator's claims and the sender's attempts against a real HTTP receiver on loopback; SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from router.alerts.evaluator import AlertEvaluator
from router.alerts.message import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from router.config.drafts import AlertDraft
from router.observability.metrics import REGISTRY
from router.store.alerts import delete_alert, list_deliveries
from router.store.budgets import set_member_budget, set_tenant_budget
from router.store.db import Database
from router.store.keys import create_key
from router.store.models import AlertDelivery
from router.store.tenants import create_tenant
from tests.alerts.conftest import add_alert, sender, spend
from tests.fakes.webhook import WebhookReceiver


def attempts(alert: str, result: str) -> float:
    """This process's router_alert_webhook_attempts_total for one alert and result."""
    return (
        REGISTRY.get_sample_value("router_alert_webhook_attempts_total", {"alert": alert, "result": result})
        or 0.0
    )


async def tenant(db: Database, name: str, budget: float | None) -> int:
    async with db.transaction() as session:
        return (await create_tenant(session, name, budget_usd=budget)).id


def budget_alert(webhook: WebhookReceiver, **kwargs: object) -> AlertDraft:
    fields: dict[str, object] = {
        "name": "spend",
        "watch": "budget",
        "webhook": webhook.url(),
        "thresholds": (50.0, 80.0, 100.0),
        **kwargs,
    }
    return AlertDraft(**fields)  # type: ignore[arg-type]


async def round_trip(db: Database, evaluator: AlertEvaluator) -> list[int]:
    claimed = await evaluator.evaluate()
    out = sender(db)
    try:
        while await out.send_due():
            pass
    finally:
        await out.close()
    return claimed


async def test_each_budget_threshold_fires_once_as_spend_grows(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 10.0)
    await add_alert(database, budget_alert(webhook))
    evaluator = AlertEvaluator(database)

    fired: list[float] = []
    for usd in (2.0, 3.5, 0.1, 2.5, 0.5, 2.0, 5.0):  # 20 %, 55 %, 56 %, 81 %, 86 %, 106 %, 156 %
        await spend(database, usd, tenant_id=acme)
        await round_trip(database, evaluator)
        await round_trip(database, evaluator)  # evaluating again changes nothing
        fired = [r.json["alert"]["threshold"] for r in webhook.delivered()]
    assert fired == [50.0, 80.0, 100.0]
    first = webhook.delivered()[0].json
    assert first["text"].startswith("[spend] tenant acme has used 55% of its month budget")
    assert "($5.50 of $10.00)" in first["text"]
    assert first["alert"]["subject"] == "tenant:acme:month" and first["alert"]["tenant"] == "acme"
    assert first["alert"]["details"] == {"spent_usd": 5.5, "budget_usd": 10.0}
    async with database.session() as session:
        rows = await list_deliveries(session)
    assert sorted((r.threshold, r.status, r.attempts) for r in rows) == [
        (50.0, "delivered", 1),
        (80.0, "delivered", 1),
        (100.0, "delivered", 1),
    ]


async def test_thresholds_crossed_at_once_send_the_highest_and_record_the_rest(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 10.0)
    await add_alert(database, budget_alert(webhook))
    await spend(database, 9.0, tenant_id=acme)
    await round_trip(database, AlertEvaluator(database))
    assert [r.json["alert"]["threshold"] for r in webhook.delivered()] == [80.0]
    async with database.session() as session:
        rows = await list_deliveries(session)
    assert sorted((r.threshold, r.status) for r in rows) == [(50.0, "superseded"), (80.0, "delivered")]


async def test_key_budgets_fire_for_the_key_and_name_it(database: Database, webhook: WebhookReceiver) -> None:
    acme = await tenant(database, "acme", None)
    async with database.transaction() as session:
        key, _ = await create_key(session, "acme", "ann", budget_usd=4.0)
    await add_alert(database, budget_alert(webhook, thresholds=(50.0,)))
    await spend(database, 2.5, tenant_id=acme, key_id=key.id)
    await round_trip(database, AlertEvaluator(database))
    (only,) = webhook.delivered()
    assert only.json["alert"]["subject"] == f"key:{key.prefix}:month"
    assert only.json["alert"]["label"] == f"key {key.prefix} (ann) of acme"


async def test_signed_messages_verify_with_the_shared_secret(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 10.0)
    await add_alert(database, budget_alert(webhook, secret="shared-secret-123"))
    await spend(database, 6.0, tenant_id=acme)
    await round_trip(database, AlertEvaluator(database))
    (got,) = webhook.delivered()
    timestamp, signature = got.headers[TIMESTAMP_HEADER.lower()], got.headers[SIGNATURE_HEADER.lower()]
    assert signature.startswith("sha256=")
    assert verify("shared-secret-123", timestamp, signature, got.body)
    assert not verify("another-secret", timestamp, signature, got.body)
    assert not verify("shared-secret-123", timestamp, signature, got.body.replace(b"acme", b"acmf"))
    assert got.headers["content-type"] == "application/json"


async def test_unsigned_alerts_send_no_signature(database: Database, webhook: WebhookReceiver) -> None:
    acme = await tenant(database, "acme", 10.0)
    await add_alert(database, budget_alert(webhook))
    await spend(database, 6.0, tenant_id=acme)
    await round_trip(database, AlertEvaluator(database))
    (got,) = webhook.delivered()
    assert SIGNATURE_HEADER.lower() not in got.headers


async def test_a_failing_receiver_gets_retries_until_it_answers(
    database: Database, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    acme = await tenant(database, "acme", 10.0)
    await add_alert(database, budget_alert(webhook, thresholds=(50.0,)))
    await spend(database, 6.0, tenant_id=acme)
    webhook.answer(500, 503)
    before = {result: attempts("spend", result) for result in ("retry", "delivered", "failed")}
    caplog.set_level(logging.WARNING, logger="router.alerts")
    await AlertEvaluator(database).evaluate()
    out = sender(database, max_attempts=5, retry_seconds=0.5)
    try:
        assert await out.send_due() == 1  # 500
        async with database.session() as session:
            (row,) = await list_deliveries(session)
        assert (row.status, row.attempts, row.last_status) == ("pending", 1, 500)
        assert (
            row.last_error
            == f"HTTP 500 from 127.0.0.1:{webhook.server.server_address[1]}: no_service: hook disabled"
        )
        assert await out.send_due() == 0  # not due before its back-off (0.5 s)
        await asyncio.sleep(0.6)
        assert await out.send_due() == 1  # 503; the next back-off doubles (1 s)
        await asyncio.sleep(0.3)
        assert await out.send_due() == 0
        await asyncio.sleep(0.8)
        assert await out.send_due() == 1  # 200
    finally:
        await out.close()
    assert [r.status for r in webhook.received] == [500, 503, 200]
    assert [attempts("spend", result) - before[result] for result in ("retry", "delivered", "failed")] == [
        2,
        1,
        0,
    ]
    assert len({r.body for r in webhook.received}) == 1  # the same message each time
    async with database.session() as session:
        (row,) = await list_deliveries(session)
    assert (row.status, row.attempts, row.last_status, row.last_error) == ("delivered", 3, 200, None)
    logged = caplog.text
    assert "hook-path-token" not in logged and "retrying" in logged


async def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 10.0)
    await add_alert(database, budget_alert(webhook, thresholds=(50.0,)))
    await spend(database, 6.0, tenant_id=acme)
    webhook.answer(500, 500, 500, 500)
    await AlertEvaluator(database).evaluate()
    out = sender(database, max_attempts=3)
    try:
        while await out.send_due():
            pass
    finally:
        await out.close()
    assert len(webhook.received) == 3
    async with database.session() as session:
        (row,) = await list_deliveries(session)
    assert (row.status, row.attempts) == ("failed", 3)


async def test_an_unreachable_webhook_is_recorded_by_host_only(database: Database) -> None:
    acme = await tenant(database, "acme", 10.0)
    hook = "http://127.0.0.1:9/services/T0/B1/unreachable-token"
    await add_alert(database, AlertDraft("spend", "budget", hook, (50.0,)))
    await spend(database, 6.0, tenant_id=acme)
    await round_trip(database, AlertEvaluator(database))
    async with database.session() as session:
        (row,) = await list_deliveries(session)
    assert row.last_error == "could not reach 127.0.0.1:9 (ConnectError)"
    assert "unreachable-token" not in str(row.payload)


async def test_two_replicas_evaluating_together_send_each_firing_once(
    db_url: str, webhook: WebhookReceiver
) -> None:
    replicas = [Database(db_url), Database(db_url)]
    try:
        first = replicas[0]
        acme = await tenant(first, "acme", 10.0)
        beta = await tenant(first, "beta", 10.0)
        await add_alert(first, budget_alert(webhook))
        await add_alert(first, budget_alert(webhook, name="spend-copy", thresholds=(80.0,)))
        evaluators = [AlertEvaluator(db) for db in replicas]
        senders = [sender(db) for db in replicas]
        try:
            for usd in (5.5, 3.0, 2.0):
                await spend(first, usd, tenant_id=acme)
                await spend(first, usd, tenant_id=beta)
                for _ in range(3):
                    claims = await asyncio.gather(*(e.evaluate() for e in evaluators))
                    assert len(set(claims[0]) & set(claims[1])) == 0
                    await asyncio.gather(*(s.send_due() for s in senders))
                    await asyncio.gather(*(s.send_due() for s in senders))
        finally:
            for s in senders:
                await s.close()
        sent = sorted((r.json["alert"]["name"], r.json["alert"]["subject"], r.json["alert"]["threshold"])
                      for r in webhook.received)  # fmt: skip
        assert sent == sorted(
            [("spend", f"tenant:{t}:month", th) for t in ("acme", "beta") for th in (50.0, 80.0, 100.0)]
            + [("spend-copy", f"tenant:{t}:month", 80.0) for t in ("acme", "beta")]
        )
    finally:
        for db in replicas:
            await db.dispose()


async def test_a_tenant_filter_limits_a_budget_alert_to_its_tenants(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 10.0)
    beta = await tenant(database, "beta", 10.0)
    await add_alert(database, budget_alert(webhook, tenants=("beta",)))
    await spend(database, 6.0, tenant_id=acme)
    await spend(database, 6.0, tenant_id=beta)
    await round_trip(database, AlertEvaluator(database))
    assert [r.json["alert"]["subject"] for r in webhook.delivered()] == ["tenant:beta:month"]


async def test_a_subject_filter_limits_a_budget_alert_to_keys(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 10.0)
    async with database.transaction() as session:
        key, _ = await create_key(session, "acme", "ann", budget_usd=10.0)
    await add_alert(database, budget_alert(webhook, subjects=("key",)))
    await spend(database, 6.0, tenant_id=acme, key_id=key.id)
    await round_trip(database, AlertEvaluator(database))
    assert [r.json["alert"]["subject_kind"] for r in webhook.delivered()] == ["key"]


async def test_error_rate_and_cooldown_alerts_read_the_gateway_tallies(
    database: Database, webhook: WebhookReceiver
) -> None:
    counts = {"openai/gpt-4.1": (40, 12), "azure/gpt-4o": (40, 1), "gemini/flash": (3, 3)}
    await add_alert(
        database,
        AlertDraft(
            "errors", "error_rate", webhook.url("/errors"), (10.0, 25.0), targets=("openai/*", "gemini/*")
        ),
    )
    await add_alert(database, AlertDraft("cooled", "cooldown", webhook.url("/cooled")))
    # One moment for both rounds: an error-rate window is 5 minutes, and rounds either side of its boundary
    # rightly fire again (once per threshold per window).
    moment = datetime.now(UTC)
    evaluator = AlertEvaluator(
        database,
        attempt_counts=lambda seconds: counts,
        cooled=lambda: ["azure/gpt-4o"],
        clock=lambda: moment,
    )
    await round_trip(database, evaluator)
    await round_trip(database, evaluator)
    got = sorted(
        (r.path, r.json["alert"]["subject"], r.json["alert"]["threshold"]) for r in webhook.delivered()
    )
    # gemini/flash failed 3 of 3: too few attempts (min_requests 10) to judge.
    assert got == [("/cooled", "target:azure/gpt-4o", 0.0), ("/errors", "target:openai/gpt-4.1", 25.0)]
    errors = next(r for r in webhook.delivered() if r.path == "/errors").json
    assert errors["text"] == (
        "[errors] target openai/gpt-4.1: 30% of attempts failed in the last 5 min (12 of 40 attempts): "
        "past the 25% threshold."
    )


async def test_a_deleted_alert_sends_nothing_more(database: Database, webhook: WebhookReceiver) -> None:
    acme = await tenant(database, "acme", 10.0)
    alert = await add_alert(database, budget_alert(webhook))
    await spend(database, 6.0, tenant_id=acme)
    await AlertEvaluator(database).evaluate()
    async with database.transaction() as session:
        await delete_alert(session, alert.id, actor="test")
    await round_trip(database, AlertEvaluator(database))
    assert webhook.received == []
    async with database.session() as session:
        (row,) = (await session.scalars(select(AlertDelivery))).all()
    assert (row.alert_id, row.alert_name, row.status, row.last_error) == (
        None,
        "spend",
        "failed",
        "the alert was deleted",
    )


async def test_each_budget_window_and_a_members_budget_fire_as_their_own_subjects(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 100.0)  # a month budget
    async with database.transaction() as session:
        await set_tenant_budget(session, "acme", "day", 10.0)
        await set_member_budget(session, "acme", "ann", "week", 8.0)
        key, _ = await create_key(session, "acme", "ann")
    await add_alert(database, budget_alert(webhook, thresholds=(50.0,)))
    await spend(database, 6.0, tenant_id=acme, key_id=key.id, member="ann")
    await round_trip(database, AlertEvaluator(database))
    await round_trip(database, AlertEvaluator(database))
    got = sorted(
        (r.json["alert"]["subject"], r.json["alert"]["label"], r.json["alert"]["value"])
        for r in webhook.delivered()
    )
    # 6 % of the month's $100 fires nothing; 60 % of the day's $10 and 75 % of ann's week's $8 fire.
    assert got == [
        ("member:acme/ann:week", "member ann of acme", 75.0),
        ("tenant:acme:day", "tenant acme", 60.0),
    ]
    day = next(r.json for r in webhook.delivered() if r.json["alert"]["window"] == "day")
    assert "has used 60% of its day budget today ($6.00 of $10.00)" in day["text"]


async def test_a_receiver_slower_than_the_timeout_is_recorded_and_retried(
    database: Database, webhook: WebhookReceiver
) -> None:
    acme = await tenant(database, "acme", 10.0)
    await add_alert(database, budget_alert(webhook, thresholds=(50.0,)))
    await spend(database, 6.0, tenant_id=acme)
    await AlertEvaluator(database).evaluate()
    webhook.delay = 1.5
    out = sender(database, timeout=0.5, retry_seconds=60.0)
    try:
        assert await out.send_due() == 1
    finally:
        await out.close()
    async with database.session() as session:
        (row,) = await list_deliveries(session)
    port = webhook.server.server_address[1]
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        f"no answer from 127.0.0.1:{port} within 0.5 s",
    )
