"""`router config`: configuration as code. Apply a YAML file to the database, export the database as one."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from router.cli.common import CLI_ACTOR, cli_errors, fail, load_settings, reading, run, transaction
from router.config.drafts import ConfigInvalid, DesiredConfig
from router.store.audit import edits_since_apply
from router.store.config_file import ApplyResult, apply_config, export_config


@click.group("config")
def config() -> None:
    """Configuration as code: `apply` makes the database match a YAML file, `export` writes it back out.

    The format is documented in docs/config-format.md (example: examples/config.yaml).
    """


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def _checked(text: str) -> DesiredConfig:
    """FILE's configuration, parsed (`${VAR}` from the environment) and validated; ConfigInvalid if not."""
    # Imported here: `config export` needs neither the YAML schema (pydantic models) nor validation.
    from router.config.schema import parse_config
    from router.config.validate import validate_config

    # The config file's ${VAR} references are the documented way to hand it secrets.
    desired = parse_config(text, os.environ)
    issues = validate_config(desired)
    if issues:
        raise ConfigInvalid(issues)
    return desired


def _report(exc: ConfigInvalid, path: str) -> None:
    for issue in exc.issues:
        click.echo(f"error: {path}: {issue}", err=True)
    click.echo("nothing was applied", err=True)
    raise click.exceptions.Exit(1)


@config.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@cli_errors
def apply_command(file: str, dry_run: bool) -> None:
    """Make the database match FILE, in one transaction, printing what was created (+), changed (~) and
    removed (-).

    Providers, deployments, chains, rules and prices absent from FILE are removed. Tenants absent from FILE
    are NOT removed (they own keys and usage history): only their rules are. `${VAR}` in FILE is read from
    the environment; a provider's `api_key: ${VAR}` is stored encrypted and exported back as `${VAR}`.
    Any error (an unknown key, an unset variable, a rule naming an unknown target...) applies nothing.
    """
    text = _read(file)
    try:
        desired = _checked(text)
    except ConfigInvalid as exc:
        _report(exc, file)
    from router.store.crypto import CredentialCipher, resolve_secret_key  # cryptography: for apply only

    settings = load_settings()
    cipher = CredentialCipher(resolve_secret_key(settings))

    async def go() -> tuple[ApplyResult, list[str]]:
        if dry_run:
            async with reading(settings) as session:
                result = await apply_config(session, desired, cipher=cipher, actor=CLI_ACTOR, dry_run=True)
                return result, await edits_outside_apply(session)
        async with transaction(settings) as session:
            return await apply_config(session, desired, cipher=cipher, actor=CLI_ACTOR), []

    result, edits = run(go())
    for line in result.lines():
        click.echo(line)
    if edits:
        # What an admin changed in the page (or with one-object commands) that this apply overwrites.
        click.echo("")
        for line in edits:
            click.echo(line)
    if dry_run and result.changed:
        click.echo("(dry run: nothing was written)")


async def edits_outside_apply(session: Any) -> list[str]:
    """Lines naming each configuration change made since the last apply, newest last."""
    applied, edits = await edits_since_apply(session)
    if applied is None or not edits:
        return []
    stamp = applied.created_at.strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"changed outside `config apply` since the last apply ({stamp} UTC), overwritten by this one:"]
    for e in edits:
        when = e.created_at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"  ! {when} {e.actor}: {e.action} {e.object_type} {e.object_name or ''}".rstrip())
    return lines


@config.command("export")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-", help="File to write."
)
@cli_errors
def export_command(output: str) -> None:
    """Write the database's configuration as YAML (to stdout by default).

    Credentials are never written: each appears as `${VAR}` (the variable it was applied from, else
    `<PROVIDER>_API_KEY`); the variables a later apply needs are listed on stderr.
    """

    async def go() -> tuple[str, tuple[str, ...]]:
        async with reading(load_settings()) as session:
            exported = await export_config(session)
            return exported.text, exported.env_vars

    text, env_vars = run(go())
    if output == "-":
        click.echo(text, nl=False)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        click.echo(f"wrote {output}", err=True)
    if env_vars:
        click.echo("to apply this file, set: " + ", ".join(env_vars), err=True)


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@cli_errors
def check_command(file: str) -> None:
    """Check FILE (shape, `${VAR}`s, references, patterns) without touching the database."""
    try:
        desired = _checked(_read(file))
    except ConfigInvalid as exc:
        _report(exc, file)
    rules = len(desired.rules) + sum(len(t.rules) for t in desired.tenants)
    click.echo(
        f"{file}: ok ({len(desired.providers)} providers, {len(desired.chains)} chains, "
        f"{rules} rules, {len(desired.tenants)} tenants)"
    )
