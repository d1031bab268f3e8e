"""`router alert`: list, add, change, remove and test alerts (webhooks told when a budget, an error rate or a
cool-down crosses a threshold), and their recent deliveries. The same store services and validator as the
Alerts page, the API and `config apply`.

The webhook URL (a Slack hook's path is its token) and the signing secret are never taken as plain options
(they would sit in shell history and `ps`): `--webhook-env VAR` reads an environment variable and, like
`webhook: ${VAR}` in the config file, `config export` writes `${VAR}` back; `--webhook-stdin` reads a line
of stdin. The secret likewise (`--secret-env`, `--secret-stdin`; with both `-stdin` flags the webhook is the
first line, the secret the second). Nothing prints either: lists show the webhook's host and "signed".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from router.cli.common import (
    CLI_ACTOR,
    CliError,
    cli_errors,
    fail,
    load_full_settings,
    load_settings,
    open_database,
    print_table,
    reading,
    run,
    secret_from,
    transaction,
)
from router.config.validate import ALERT_SUBJECTS, ALERT_WATCHES
from router.store import alerts as alert_store
from router.store.catalog import CatalogError
from router.store.db import as_utc
from router.store.models import Alert, AlertDelivery

if TYPE_CHECKING:
    from router.settings_light import CommandSettings
    from router.store.crypto import CredentialCipher

FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


@click.group("alert")
def alert_group() -> None:
    """Alerts: webhooks told when a budget, an error rate or a cool-down crosses a threshold.

    Slack-compatible JSON, optionally HMAC-signed; each alert fires once per threshold per window."""


# ------------------------------------------------------------------------------------------ parsing


def _list(text: str, what: str) -> list[str]:
    items = [part.strip() for part in text.split(",")]
    if not all(items):
        fail(f"--{what}: give comma-separated values without empty ones, or 'all'")
    return items


def _names(text: str | None, what: str) -> Any:
    """`a,b` -> ["a", "b"]; `all` -> None (no limit); not given -> ... (leave as it is)."""
    if text is None:
        return ...
    if text.strip().lower() == "all":
        return None
    return _list(text, what)


def _thresholds(text: str | None) -> list[float] | Any:
    if text is None:
        return ...
    if text.strip().lower() in ("", "none"):
        return []
    values: list[float] = []
    for part in _list(text, "thresholds"):
        try:
            values.append(float(part.removesuffix("%")))
        except ValueError:
            fail(f"--thresholds: {part!r} is not a percentage (write e.g. 50,80,100)")
    return values


def _changes(options: dict[str, Any]) -> dict[str, Any]:
    """The draft fields the options give (not given: left out)."""
    changes: dict[str, Any] = {}
    # With both -stdin flags the webhook is the first line, the secret the second.
    webhook = secret_from(options.pop("webhook_env"), options.pop("webhook_stdin"), "webhook URL", "webhook")
    if webhook is not None:
        changes["webhook"], changes["webhook_ref"] = webhook
    secret = secret_from(options.pop("secret_env"), options.pop("secret_stdin"), "signing secret", "secret")
    if options.pop("no_secret", False):
        if secret is not None:
            fail("give a new secret or --no-secret, not both")
        changes["secret"], changes["secret_ref"] = None, None
    elif secret is not None:
        changes["secret"], changes["secret_ref"] = secret
    parsed = {
        "thresholds": _thresholds(options.pop("thresholds")),
        "tenants": _names(options.pop("tenants"), "tenants"),
        "subjects": _names(options.pop("subjects"), "subjects"),
        "targets": _names(options.pop("targets"), "targets"),
    }
    changes.update({k: v for k, v in {**parsed, **options}.items() if v is not ... and v is not None})
    # None from `all` means "no limit": kept (a plain not-given option was left out above).
    changes.update({k: None for k, v in parsed.items() if v is None})
    return changes


def _option_of(field: str | None) -> str:
    """The draft's field as the command line names it: thresholds[1] -> --thresholds."""
    if not field or field == "name":  # the validator's message names the alert already
        return ""
    head = field.split("[", 1)[0].split(".", 1)[0]
    return {"webhook": "--webhook-env/--webhook-stdin", "secret": "--secret-env/--secret-stdin"}.get(
        head, "--" + head.replace("_", "-")
    )


def _refused(exc: CatalogError) -> CliError:
    where = _option_of(exc.field)
    return CliError(f"{where}: {exc.message}" if where else exc.message)


def _alert_options(adding: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option(
                "--watch",
                type=click.Choice(ALERT_WATCHES),
                required=adding,
                help="budget: % of a budget used in its window; error_rate: % of a target's attempts "
                "failing; cooldown: a target being skipped after repeated failures.",
            ),
            click.option(
                "--webhook-env", default=None, metavar="VAR", help="Read the webhook URL from $VAR."
            ),
            click.option("--webhook-stdin", is_flag=True, help="Read the webhook URL from a line of stdin."),
            click.option(
                "--secret-env", default=None, metavar="VAR", help="Sign messages: the secret in $VAR."
            ),
            click.option(
                "--secret-stdin", is_flag=True, help="Sign messages: the secret from a line of stdin."
            ),
            click.option(
                "--thresholds", default=None, help="Percentages, e.g. 50,80,100 (none for cooldown)."
            ),
            click.option(
                "--tenants", default=None, help="Budget alerts: only these tenants (comma-separated; all)."
            ),
            click.option(
                "--subjects",
                default=None,
                help=f"Budget alerts: whose budgets, of {','.join(ALERT_SUBJECTS)} (default: all).",
            ),
            click.option(
                "--targets", default=None, help="Error-rate and cooldown alerts: target refs or globs (all)."
            ),
            click.option("--window-minutes", type=int, default=None, help="Error-rate window (default 5)."),
            click.option(
                "--min-requests", type=int, default=None, help="Attempts needed to judge an error rate (10)."
            ),
            click.option(
                "--enabled/--disabled", default=None, help="A disabled alert is kept, not evaluated."
            ),
        ]
        if not adding:
            options += [
                click.option("--rename", default=None, help="A new name for the alert."),
                click.option("--no-secret", is_flag=True, help="Stop signing messages (forget the secret)."),
            ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _cipher(settings: CommandSettings | None = None) -> CredentialCipher:
    """The webhook's cipher (cryptography is loaded by the commands that encrypt or decrypt only)."""
    from router.store.crypto import CredentialCipher, resolve_secret_key

    return CredentialCipher(resolve_secret_key(settings or load_settings()))


async def _named(session: Any, name: str) -> Alert:
    alert = await alert_store.find_alert(session, name.strip())
    if alert is None:
        fail(f"no alert named {name.strip()!r} (see `router alert list`)")
    return alert


# ------------------------------------------------------------------------------------------ commands


def _alert_json(a: Alert) -> dict[str, Any]:
    state = alert_store.alert_state(a)
    return {"id": a.id, **{k: v for k, v in state.items() if k != "signed"}, "has_secret": state["signed"]}


@alert_group.command("list")
@FORMAT
@cli_errors
def list_command(fmt: str) -> None:
    """Alerts: what each watches, its thresholds, and where it sends (the webhook's host only)."""

    async def go() -> list[Alert]:
        async with reading(load_settings()) as session:
            return await alert_store.list_alerts(session)

    alerts = run(go())
    if fmt == "json":
        click.echo(json.dumps([_alert_json(a) for a in alerts], indent=2))
        return
    print_table(
        ["NAME", "WATCH", "THRESHOLDS", "LIMITED_TO", "WEBHOOK_HOST", "SIGNED", "ENABLED"],
        [
            [
                a.name,
                a.watch,
                ",".join(f"{t:g}" for t in a.thresholds or []) or "-",
                _limited_to(a),
                a.webhook_host,
                "yes" if a.secret_encrypted is not None else "no",
                "yes" if a.enabled else "no",
            ]
            for a in alerts
        ],
    )


def _limited_to(a: Alert) -> str:
    if a.watch == "budget":
        parts = [
            f"tenants={','.join(a.tenants)}" if a.tenants is not None else "",
            f"subjects={','.join(a.subjects)}" if a.subjects is not None else "",
        ]
        return " ".join(p for p in parts if p) or "-"
    return f"targets={','.join(a.targets)}" if a.targets is not None else "-"


@alert_group.command("add")
@click.argument("name")
@_alert_options(adding=True)
@cli_errors
def add_command(name: str, **options: Any) -> None:
    """Add the alert NAME: what it watches, its thresholds and its webhook.

    For example `router alert add spend --watch budget --thresholds 50,80,100 --webhook-env SLACK_HOOK
    [--tenants acme] [--subjects tenant,key] [--secret-env HOOK_SECRET]`."""
    changes = _changes(options)
    if "webhook" not in changes:
        fail("give the webhook URL: --webhook-env VAR or --webhook-stdin")

    async def go() -> Alert:
        async with transaction(load_settings()) as session:
            try:
                draft = alert_store.draft_from({"name": name, **changes})
                return await alert_store.create_alert(session, draft, cipher=_cipher(), actor=CLI_ACTOR)
            except CatalogError as exc:
                raise _refused(exc) from None

    alert = run(go())
    signed = "signed" if alert.secret_encrypted is not None else "unsigned"
    click.echo(f"added alert {alert.name} ({alert.watch}, to {alert.webhook_host}, {signed})")


@alert_group.command("set")
@click.argument("name")
@_alert_options(adding=False)
@cli_errors
def set_command(name: str, **options: Any) -> None:
    """Change the alert NAME: only the options given (`--tenants all`, `--targets all`: no limit)."""
    rename = options.pop("rename")
    changes = _changes(options)
    if rename is not None:
        changes["name"] = rename
    if not changes:
        fail("nothing to change: give at least one option (see --help)")

    async def go() -> Alert:
        async with transaction(load_settings()) as session:
            alert = await _named(session, name)
            try:
                return await alert_store.change_alert(
                    session, alert.id, changes, cipher=_cipher(), actor=CLI_ACTOR
                )
            except CatalogError as exc:
                raise _refused(exc) from None

    alert = run(go())
    fields = sorted(k for k in changes if not k.endswith("_ref"))
    click.echo(f"changed alert {alert.name}: {', '.join(fields)}")


@alert_group.command("remove")
@click.argument("name")
@cli_errors
def remove_command(name: str) -> None:
    """Remove the alert NAME (its deliveries stay as history; pending ones are not sent)."""

    async def go() -> None:
        async with transaction(load_settings()) as session:
            alert = await _named(session, name)
            await alert_store.delete_alert(session, alert.id, actor=CLI_ACTOR)

    run(go())
    click.echo(f"removed alert {name.strip()}")


def _delivery_json(d: AlertDelivery) -> dict[str, Any]:
    text = (d.payload or {}).get("text")
    return {
        "id": d.id,
        "alert_id": d.alert_id,
        "alert_name": d.alert_name,
        "subject": d.subject,
        "threshold": d.threshold,
        "value": d.value,
        "window_start": as_utc(d.window_start).isoformat(),
        "status": d.status,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(),
        "delivered_at": as_utc(d.delivered_at).isoformat() if d.delivered_at else None,
        "text": text if isinstance(text, str) else None,
    }


def _delivery_row(d: AlertDelivery) -> list[object]:
    test = d.subject == "test"
    return [
        d.id,
        d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        d.alert_name,
        d.subject,
        "-" if test else f"{d.threshold:g}",
        "-" if test else f"{d.value:g}",
        d.status,
        d.attempts,
        d.last_error or "-",
    ]


DELIVERY_HEADERS = [
    "ID",
    "CREATED_UTC",
    "ALERT",
    "SUBJECT",
    "THRESHOLD",
    "VALUE",
    "STATUS",
    "ATTEMPTS",
    "LAST_ERROR",
]


@alert_group.command("deliveries")
@click.argument("name", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@FORMAT
@cli_errors
def deliveries_command(name: str | None, limit: int, fmt: str) -> None:
    """Recent deliveries, newest first: every alert's (deleted ones' too), or NAME's."""

    async def go() -> list[AlertDelivery]:
        async with reading(load_settings()) as session:
            alert_id = (await _named(session, name)).id if name is not None else None
            return await alert_store.list_deliveries(session, limit=limit, alert_id=alert_id)

    rows = run(go())
    if fmt == "json":
        click.echo(json.dumps([_delivery_json(d) for d in rows], indent=2))
        return
    print_table(DELIVERY_HEADERS, [_delivery_row(d) for d in rows])


@alert_group.command("test")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@cli_errors
def test_command(name: str, fmt: str) -> None:
    """Send NAME's test message to its webhook now (waits at most twice ROUTER_ALERT_WEBHOOK_TIMEOUT).
    Recorded in the deliveries; a refused one is retried with back-off by the running service. Exits 1
    unless the webhook took it."""
    from router.alerts.delivery import WebhookSender  # httpx: only this command needs it

    settings = load_full_settings()  # the webhook timeouts and attempts
    cipher = _cipher(settings)

    async def go() -> tuple[AlertDelivery, str]:
        async with open_database(settings) as db:
            async with db.session() as session:
                alert = await _named(session, name)
            sender = WebhookSender.from_settings(db, cipher, settings)
            try:
                return await sender.send_test(alert.id), alert.webhook_host
            finally:
                await sender.close()

    # The sender logs a refused attempt for the service's log; here the outcome is this command's one line.
    # Only for this command: the level is the process's (a test runs many commands in one).
    sender_log = logging.getLogger(WebhookSender.__module__)
    level = sender_log.level
    sender_log.setLevel(logging.ERROR)
    try:
        delivery, host = run(go())
    finally:
        sender_log.setLevel(level)
    if fmt == "json":
        click.echo(json.dumps(_delivery_json(delivery), indent=2))
    elif delivery.status == "delivered":
        click.echo(f"test message delivered to {host} (HTTP {delivery.last_status}), delivery {delivery.id}")
    if delivery.status != "delivered":
        if fmt != "json":
            why = delivery.last_error or delivery.status
            retry = "; it will be retried" if delivery.status == "pending" else ""
            click.echo(f"error: test message not delivered: {why}{retry}", err=True)
        raise click.exceptions.Exit(1)
