"""The `router` command line: serve, db, tenant, key, admin, and the other parts' config, route and usage."""

from __future__ import annotations

import importlib

import click

from router.cli.admin import admin_group
from router.cli.db import db_group
from router.cli.key import key_group
from router.cli.serve import serve_command
from router.cli.tenant import tenant_group

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(context_settings=CONTEXT_SETTINGS)
def main() -> None:
    """Route Anthropic Messages API requests to OpenAI, Azure, Gemini, Anthropic or any LiteLLM provider.

    Configuration comes from ROUTER_* environment variables (or a .env file); see `router serve --help`.
    """


for command in (serve_command, db_group, tenant_group, key_group, admin_group):
    main.add_command(command)

# Other parts' commands, registered when their modules exist (module, attribute, command name).
for module_name, attribute, command_name in (
    ("router.cli.config", "config", "config"),
    ("router.cli.route", "route", "route"),
    ("router.cli.usage", "usage", "usage"),
    ("router.cli.dead_letters", "dead_letters_group", "usage-dead-letters"),
):
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    found = getattr(module, attribute, None)
    if isinstance(found, click.Command):
        main.add_command(found, command_name)
