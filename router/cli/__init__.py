"""The `router` command line: serve, db, tenant, key, admin, and the other parts' config, route and usage.

Each command's module is imported only when that command runs (`LazyGroup`): `router tenant list` pays for
the tenant code and the database, never for the web app or LiteLLM (only `router --help`, which lists every
command's help, imports them all).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}

# name -> (module, attribute)
COMMANDS: dict[str, tuple[str, str]] = {
    "admin": ("router.cli.admin", "admin_group"),
    "budget": ("router.cli.budget", "budget_group"),
    "config": ("router.cli.config", "config"),
    "db": ("router.cli.db", "db_group"),
    "key": ("router.cli.key", "key_group"),
    "route": ("router.cli.route", "route"),
    "serve": ("router.cli.serve", "serve_command"),
    "signin": ("router.cli.signin", "signin_group"),
    "tenant": ("router.cli.tenant", "tenant_group"),
    "usage": ("router.cli.usage", "usage"),
    "usage-dead-letters": ("router.cli.dead_letters", "dead_letters_group"),
}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        self.add_command(command, cmd_name)
        return command


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
