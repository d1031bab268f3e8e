"""`router alert`: add, list, set, remove, test and deliveries on both databases; the webhook and the secret
come from the environment or stdin and are never printed or exported; a test message reaches a real HTTP
receiver now and is recorded; bad input is one `error:` line naming the option and writes nothing."""

from __future__ import annotations

import json
import logging

from click.testing import CliRunner, Result

from router.alerts.delivery import WebhookSender
from router.alerts.message import verify
from router.cli import main
from tests.cli.test_cli import assert_one_error_line
from tests.fakes.webhook import WebhookReceiver, webhook

__all__ = ["webhook"]

TOKEN = "slack-path-token-XYZ"
SECRET = "signing-secret-1"
HOOK = f"https://hooks.example/services/T0/{TOKEN}"


def invoke(db_url: str, *args: str, stdin: str | None = None, **env: str) -> Result:
    runner = CliRunner(env={"ROUTER_DATABASE_URL": db_url, "ROUTER_SECRET_KEY": "cli-test-secret", **env})
    return runner.invoke(main, list(args), input=stdin, catch_exceptions=False)


def listed(db_url: str) -> list[dict[str, object]]:
    result = invoke(db_url, "alert", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output and SECRET not in result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_alert_add_list_set_and_remove_with_the_webhook_from_the_environment(db_url: str) -> None:
    assert invoke(db_url, "tenant", "create", "acme").exit_code == 0
    added = invoke(
        db_url,
        *("alert", "add", "spend", "--watch", "budget", "--thresholds", "50,80%,100", "--tenants", "acme"),
        *("--subjects", "tenant,key", "--webhook-env", "SLACK_HOOK", "--secret-env", "HOOK_SECRET"),
        SLACK_HOOK=HOOK,
        HOOK_SECRET=SECRET,
    )
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "added alert spend (budget, to hooks.example, signed)"
    (alert,) = listed(db_url)
    assert {k: v for k, v in alert.items() if k != "id"} == {
        "name": "spend",
        "watch": "budget",
        "thresholds": [50.0, 80.0, 100.0],
        "tenants": ["acme"],
        "subjects": ["tenant", "key"],
        "targets": None,
        "window_minutes": 5,
        "min_requests": 10,
        "webhook_host": "hooks.example",
        "has_secret": True,
        "enabled": True,
    }
    table = invoke(db_url, "alert", "list").stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "WATCH",
        "THRESHOLDS",
        "LIMITED_TO",
        "WEBHOOK_HOST",
        "SIGNED",
        "ENABLED",
    ]
    assert table[1].split() == [
        "spend",
        "budget",
        "50,80,100",
        "tenants=acme",
        "subjects=tenant,key",
        "hooks.example",
        "yes",
        "yes",
    ]
    # The file form writes the webhook and the secret back as the variables they came from.
    exported = invoke(db_url, "config", "export")
    assert (
        exported.exit_code == 0 and "${SLACK_HOOK}" in exported.stdout and "${HOOK_SECRET}" in exported.stdout
    )
    assert TOKEN not in exported.stdout and SECRET not in exported.stdout

    changed = invoke(db_url, "alert", "set", "spend", "--thresholds", "90", "--tenants", "all", "--disabled")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.strip() == "changed alert spend: enabled, tenants, thresholds"
    (alert,) = listed(db_url)
    assert (alert["thresholds"], alert["tenants"], alert["enabled"], alert["has_secret"]) == (
        [90.0],
        None,
        False,
        True,
    )
    unsigned = invoke(db_url, "alert", "set", "spend", "--no-secret", "--rename", "budget-watch")
    assert unsigned.exit_code == 0, unsigned.output
    (alert,) = listed(db_url)
    assert (alert["name"], alert["has_secret"]) == ("budget-watch", False)

    assert invoke(db_url, "alert", "remove", "budget-watch").stdout.strip() == "removed alert budget-watch"
    assert listed(db_url) == []
    assert_one_error_line(invoke(db_url, "alert", "remove", "budget-watch"), "no alert named 'budget-watch'")


def test_alert_test_sends_now_to_a_real_receiver_and_deliveries_record_it(
    db_url: str, webhook: WebhookReceiver
) -> None:
    url = webhook.url(f"/services/T0/{TOKEN}")
    added = invoke(
        db_url,
        *("alert", "add", "errors", "--watch", "error_rate", "--thresholds", "20", "--targets", "openai/*"),
        *("--webhook-stdin", "--secret-stdin"),
        stdin=f"{url}\n{SECRET}\n",
    )
    assert added.exit_code == 0, added.output
    host = f"127.0.0.1:{webhook.server.server_address[1]}"

    sent = invoke(db_url, "alert", "test", "errors")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith(f"test message delivered to {host} (HTTP 200), delivery ")
    (got,) = webhook.received
    assert got.path == f"/services/T0/{TOKEN}" and got.json["alert"]["test"] is True
    assert verify(SECRET, got.headers["x-router-timestamp"], got.headers["x-router-signature"], got.body)

    webhook.answer(500)
    refused = invoke(db_url, "alert", "test", "errors")
    assert_one_error_line(
        refused, f"not delivered: HTTP 500 from {host}: no_service: hook disabled; it will be retried"
    )

    shown = invoke(db_url, "alert", "deliveries", "errors", "--format", "json")
    assert shown.exit_code == 0, shown.output
    deliveries = json.loads(shown.stdout)
    assert [(d["subject"], d["status"], d["attempts"], d["last_status"]) for d in deliveries] == [
        ("test", "pending", 1, 500),
        ("test", "delivered", 1, 200),
    ]
    table = invoke(db_url, "alert", "deliveries", "--limit", "1").stdout.splitlines()
    assert len(table) == 2 and table[1].split()[3:8] == ["errors", "test", "-", "-", "pending"]
    for output in (added.output, sent.output, refused.output, shown.output):
        assert TOKEN not in output and SECRET not in output
    # The command quiets the sender's log for itself only: the service (and later tests) still log refusals.
    assert logging.getLogger(WebhookSender.__module__).level == logging.NOTSET


def test_bad_alert_input_is_one_error_line_naming_the_option_and_writes_nothing(db_url: str) -> None:
    base = ("alert", "add", "spend", "--watch", "budget", "--thresholds", "50", "--webhook-env", "HOOK")
    cases: list[tuple[tuple[str, ...], dict[str, str], str]] = [
        (("alert", "add", "spend", "--watch", "budget", "--thresholds", "50"), {}, "give the webhook URL"),
        (base, {}, "--webhook-env: environment variable HOOK is not set"),
        ((*base, "--thresholds", "50,lots"), {"HOOK": HOOK}, "--thresholds: 'lots' is not a percentage"),
        ((*base, "--thresholds", "0"), {"HOOK": HOOK}, "--thresholds: must be a percentage above 0"),
        ((*base, "--tenants", "ghost"), {"HOOK": HOOK}, "--tenants: unknown tenant 'ghost'"),
        ((*base, "--subjects", "team"), {"HOOK": HOOK}, "--subjects: must be one of tenant, member, key"),
        (
            (*base, "--secret-env", "S"),
            {"HOOK": HOOK, "S": "short"},
            "--secret-env/--secret-stdin: must be 8",
        ),
        (base, {"HOOK": f"ftp://hooks.example/{TOKEN}"}, "--webhook-env/--webhook-stdin: must be an http://"),
        (
            ("alert", "add", "bad name!", *base[3:]),
            {"HOOK": HOOK},
            "error: alert name 'bad name!' must be 1-100 letters",
        ),
        (
            (
                "alert",
                "add",
                "e",
                "--watch",
                "error_rate",
                "--thresholds",
                "5",
                *base[-2:],
                "--window-minutes",
                "0",
            ),
            {"HOOK": HOOK},
            "--window-minutes: must be a whole number from 1 to 60",
        ),
        (("alert", "set", "nope", "--thresholds", "5"), {}, "no alert named 'nope'"),
        (("alert", "deliveries", "nope"), {}, "no alert named 'nope'"),
        (("alert", "test", "nope"), {}, "no alert named 'nope'"),
    ]
    for args, env, fragment in cases:
        result = invoke(db_url, *args, **env)
        assert_one_error_line(result, fragment)
        assert TOKEN not in result.output, args
    assert listed(db_url) == []
    assert invoke(db_url, "alert", "add", *base[2:], HOOK=HOOK).exit_code == 0
    assert_one_error_line(invoke(db_url, "alert", "set", "spend"), "nothing to change")
    assert_one_error_line(invoke(db_url, *base, HOOK=HOOK), "error: an alert named 'spend' already exists")
    assert_one_error_line(
        invoke(db_url, "alert", "set", "spend", "--watch", "cooldown"),
        "--thresholds: a cooldown alert has no thresholds",
    )


def test_a_test_message_to_a_slow_receiver_is_cut_off_at_the_timeout_and_recorded(
    db_url: str, webhook: WebhookReceiver
) -> None:
    added = invoke(
        db_url,
        *("alert", "add", "cooled", "--watch", "cooldown", "--webhook-env", "HOOK"),
        HOOK=webhook.url(f"/services/T0/{TOKEN}"),
    )
    assert added.exit_code == 0, added.output
    webhook.delay = 3.0
    slow = invoke(db_url, "alert", "test", "cooled", "--format", "json", ROUTER_ALERT_WEBHOOK_TIMEOUT="0.3")
    assert slow.exit_code == 1
    delivery = json.loads(slow.stdout)
    host = f"127.0.0.1:{webhook.server.server_address[1]}"
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("pending", 1, None)
    assert delivery["last_error"] == f"no answer from {host} within 0.3 s"
    assert len(webhook.received) == 1 and TOKEN not in slow.output
