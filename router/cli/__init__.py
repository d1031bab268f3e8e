"""The `router` command line: serve, db, tenant, key, admin, and the other parts' config, route and usage.

Each command's module is imported only when that command runs (`LazyGroup`): `router tenant list` pays for
the tenant code and the database, never for the web app, Alembic or LiteLLM. `router --help` lists the
commands from the table below without importing any of them (tests/cli keeps the table's one-line help equal
to each command's own).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}

# name -> (module, attribute, one-line help as `router --help` shows it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "admin": ("router.cli.admin", "admin_group", "Users of the admin page."),
    "config": (
        "router.cli.config",
        "config",
        "Configuration as code: `apply` makes the database match a YAML file, `export` writes it back out.",
    ),
    "db": ("router.cli.db", "db_group", "Database schema migrations (Alembic)."),
    "key": (
        "router.cli.key",
        "key_group",
        "Members' proxy keys (sk-rt-…): shown once at creation, stored only as a hash.",
    ),
    "route": ("router.cli.route", "route", "Inspect routing decisions."),
    "serve": (
        "router.cli.serve",
        "serve_command",
        "Apply pending migrations and serve /v1/messages and the admin page.",
    ),
    "tenant": (
        "router.cli.tenant",
        "tenant_group",
        "Tenants (teams): each has its own keys, rules and limits.",
    ),
    "usage": ("router.cli.usage", "usage", "Requests, errors, tokens and cost from the usage records."),
    "usage-dead-letters": (
        "router.cli.dead_letters",
        "dead_letters_group",
        "Usage records the database refused: list, show and replay them.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, _ = self.lazy[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][2]) for name in sorted(self.lazy)]
        rows += [
            (name, command.get_short_help_str(limit=formatter.width))
            for name, command in sorted(self.commands.items())
            if name not in self.lazy and not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--create-database",
    is_flag=True,
    help="Let this command create the SQLite database if it does not exist (only `serve` and "
    "`db upgrade` create one unasked).",
)
def main(create_database: bool) -> None:
    """Route Anthropic Messages API requests to OpenAI, Azure, Gemini, Anthropic or any LiteLLM provider.

    Configuration comes from ROUTER_* environment variables (or a .env file); see `router serve --help`.
    """
    from router.cli.common import allow_database_creation

    allow_database_creation(create_database)
