"""`alerts:` in the config file: parsing, validation by place, apply, and an export that holds no webhook
URL or secret (only their `${ENV}` names) and applies back as no change."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select, text

from router.config.drafts import ConfigInvalid
from router.config.render import render_config
from router.config.schema import ConfigFileError, parse_config
from router.config.validate import validate_config
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.models import Alert
from tests.config.conftest import apply, export

HOOK = "https://hooks.example/services/T0/B1/slack-path-token"
SECRET = "shared-signing-secret"
ENV = {"SPEND_HOOK": HOOK, "SPEND_SECRET": SECRET, "OPS_HOOK": "http://127.0.0.1:9/ops?token=abc123"}

TEXT = """
tenants:
  - {name: acme, limits: {budget_usd: 300}}
  - {name: beta}
alerts:
  - {name: spend, webhook: "${SPEND_HOOK}", watch: budget, thresholds: [80, 50, 100], tenants: [acme],
     secret: "${SPEND_SECRET}"}
  - {name: errors, webhook: "${OPS_HOOK}", watch: error_rate, thresholds: [25], targets: ["openai/*"],
     window_minutes: 10, min_requests: 20}
  - {name: cooled, webhook: "${OPS_HOOK}", watch: cooldown}
"""


def test_alerts_parse_with_their_references() -> None:
    cfg = parse_config(TEXT, ENV)
    spend, errors, cooled = cfg.alerts
    assert (spend.webhook, spend.webhook_ref, spend.secret, spend.secret_ref) == (
        HOOK,
        "SPEND_HOOK",
        SECRET,
        "SPEND_SECRET",
    )
    assert spend.thresholds == (80.0, 50.0, 100.0) and spend.tenants == ("acme",)
    assert (errors.watch, errors.targets, errors.window_minutes, errors.min_requests) == (
        "error_rate",
        ("openai/*",),
        10,
        20,
    )
    assert cooled.thresholds == () and cooled.secret is None
    assert validate_config(cfg) == []


@pytest.mark.parametrize(
    ("alert", "problem"),
    [
        ("{name: a, webhook: 'ftp://x/y', watch: budget, thresholds: [50]}", "alerts[0].webhook: must be an"),
        ("{name: a, webhook: 'https://u:p@x/y', watch: budget, thresholds: [50]}", "must not contain a user"),
        (
            "{name: a, webhook: 'https://x/y', watch: spend, thresholds: [50]}",
            "alerts[0].watch: must be one of",
        ),
        ("{name: a, webhook: 'https://x/y', watch: budget}", "alerts[0].thresholds: give at least one"),
        (
            "{name: a, webhook: 'https://x/y', watch: budget, thresholds: [0]}",
            "alerts[0].thresholds[0]: must be",
        ),
        ("{name: a, webhook: 'https://x/y', watch: error_rate, thresholds: [150]}", "at most 100"),
        ("{name: a, webhook: 'https://x/y', watch: budget, thresholds: [50, 50]}", "50 is listed twice"),
        ("{name: a, webhook: 'https://x/y', watch: cooldown, thresholds: [5]}", "has no thresholds"),
        (
            "{name: a, webhook: 'https://x/y', watch: error_rate, thresholds: [5], tenants: [x]}",
            "only budget",
        ),
        (
            "{name: a, webhook: 'https://x/y', watch: budget, thresholds: [5], subjects: [team]}",
            "subjects[0]",
        ),
        ("{name: a, webhook: 'https://x/y', watch: budget, thresholds: [5], secret: short}", "8 to 500"),
        ("{name: a, webhook: 'https://x/y', watch: cooldown, window_minutes: 0}", "window_minutes"),
    ],
)
def test_a_bad_alert_is_named_by_its_place(alert: str, problem: str) -> None:
    issues = validate_config(parse_config(f"alerts: [{alert}]", {}))
    assert any(problem in str(issue) for issue in issues), issues


def test_a_refused_webhook_is_never_repeated_in_the_message() -> None:
    issues = validate_config(
        parse_config("alerts: [{name: a, webhook: 'gopher://tok-123/x', watch: cooldown}]", {})
    )
    assert issues and all("tok-123" not in str(issue) for issue in issues)


def test_unknown_alert_keys_are_errors() -> None:
    with pytest.raises(ConfigFileError) as exc:
        parse_config("alerts: [{name: a, webhook: 'https://x', watch: cooldown, treshold: [1]}]", {})
    assert [str(i) for i in exc.value.issues] == ["alerts[0].treshold: unknown key"]


def test_rendering_writes_references_never_the_webhook_or_secret() -> None:
    rendered = render_config(parse_config(TEXT, ENV))
    assert HOOK not in rendered and SECRET not in rendered and "abc123" not in rendered
    alerts = yaml.safe_load(rendered)["alerts"]
    assert alerts[0]["webhook"] == "${SPEND_HOOK}" and alerts[0]["secret"] == "${SPEND_SECRET}"
    assert alerts[2] == {"name": "cooled", "watch": "cooldown", "webhook": "${OPS_HOOK}"}


async def test_apply_stores_webhooks_encrypted_and_export_round_trips(
    database: Database, cipher: CredentialCipher
) -> None:
    result = await apply(database, TEXT, cipher, env=ENV)
    assert {"+ alert spend (budget)", "+ alert errors (error_rate)", "+ alert cooled (cooldown)"} <= set(
        result.lines()
    )
    async with database.session() as s:
        rows = (await s.execute(text("SELECT * FROM alerts ORDER BY name"))).mappings().all()
    for row in rows:
        stored = " ".join(str(v) for v in row.values())
        assert HOOK not in stored and SECRET not in stored and "abc123" not in stored
    async with database.session() as s:
        spend = (await s.scalars(select(Alert).where(Alert.name == "spend"))).one()
    assert (spend.webhook_host, spend.thresholds, spend.tenants) == (
        "hooks.example",
        [50.0, 80.0, 100.0],
        ["acme"],
    )
    assert cipher.decrypt(spend.webhook_encrypted) == HOOK
    assert spend.secret_encrypted is not None and cipher.decrypt(spend.secret_encrypted) == SECRET

    exported = await export(database)
    assert HOOK not in exported.text and SECRET not in exported.text and "abc123" not in exported.text
    assert {"SPEND_HOOK", "SPEND_SECRET", "OPS_HOOK"} <= set(exported.env_vars)
    assert (await apply(database, exported.text, cipher, env=ENV)).lines() == ["no changes"]


async def test_apply_changes_and_removes_alerts(database: Database, cipher: CredentialCipher) -> None:
    await apply(database, TEXT, cipher, env=ENV)
    changed = TEXT.replace("thresholds: [80, 50, 100]", "thresholds: [90]").replace(
        '  - {name: cooled, webhook: "${OPS_HOOK}", watch: cooldown}\n', ""
    )
    lines = (await apply(database, changed, cipher, env={**ENV, "SPEND_HOOK": HOOK + "-new"})).lines()
    assert "~ alert spend (thresholds, webhook)" in lines
    assert "- alert cooled" in lines
    unsigned = changed.replace(',\n     secret: "${SPEND_SECRET}"}', "}")
    lines = (await apply(database, unsigned, cipher, env={**ENV, "SPEND_HOOK": HOOK + "-new"})).lines()
    assert lines == ["~ alert spend (secret)"]
    exported = await export(database)
    assert "SPEND_SECRET" not in exported.text


async def test_an_alert_on_an_unknown_tenant_is_refused_and_nothing_is_applied(
    database: Database, cipher: CredentialCipher
) -> None:
    bad = "alerts: [{name: a, webhook: 'https://x/y', watch: budget, thresholds: [5], tenants: [ghost]}]"
    with pytest.raises(ConfigInvalid) as exc:
        await apply(database, bad, cipher, env={})
    assert "unknown tenant 'ghost'" in str(exc.value)
    async with database.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM alerts"))).scalar() == 0


async def test_settings_a_watch_ignores_still_round_trip(
    database: Database, cipher: CredentialCipher
) -> None:
    from router.config.drafts import AlertDraft
    from router.store.alerts import create_alert

    async with database.transaction() as session:
        draft = AlertDraft("spend", "budget", HOOK, (50.0,), window_minutes=7, min_requests=3)
        await create_alert(session, draft, cipher=cipher, actor="page")
    exported = await export(database)
    assert (await apply(database, exported.text, cipher, env={"ALERT_SPEND_WEBHOOK": HOOK})).lines() == [
        "no changes"
    ]
