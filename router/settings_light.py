"""The few settings a CLI data command reads, without pydantic when they are all the environment holds.

Building `Settings` (router/settings.py) imports pydantic and pydantic-settings and builds a ~70-field model:
about 0.1 s of a 0.4 s `router tenant list` (bench/README.md). A data command reads only the database URL and
the secret key. When neither the environment nor `.env` names any setting but `LIGHT_FIELDS`, `load_light()`
returns them as read: those fields are plain strings in `Settings` (no validator, no constraint, no alias),
so pydantic-settings would hand back the very same text. Anything else set (another ROUTER_* variable, one
of Settings' OTEL_* aliases, a name given twice in different case, a `.env` line without a value): None, and
the caller builds the full `Settings`, which validates and refuses exactly as before. tests/cli checks
both answers agree and that these lists follow Settings.

Together with router/settings.py (which reuses its URL helpers), the only reader of the configuration in the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///router.db"
ENV_PREFIX = "router_"
ENV_FILE = ".env"
# Variables Settings reads without the prefix (its fields' validation aliases), lower-cased.
UNPREFIXED_NAMES = frozenset(
    {
        "otel_exporter_otlp_endpoint",
        "otel_service_name",
        "otel_instrumentation_genai_capture_message_content",
    }
)


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path_of(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory or other databases)."""
    if not is_sqlite_url(url):
        return None
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        return None
    return Path(path)


class DatabaseUrlFacts:
    """What both settings classes derive from their database URL (a plain mixin: no fields of its own)."""

    if TYPE_CHECKING:
        database_url: str

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite_url(self.database_url)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for a SQLite URL (None for in-memory or other databases)."""
        return sqlite_path_of(self.database_url)


class CommandSettings(Protocol):
    """What CLI data commands read of the settings: `Settings` and `LightSettings` both are one."""

    @property
    def database_url(self) -> str: ...

    @property
    def secret_key(self) -> str | None: ...

    @property
    def is_sqlite(self) -> bool: ...

    @property
    def sqlite_path(self) -> Path | None: ...


@dataclass(frozen=True)
class LightSettings(DatabaseUrlFacts):
    """The light fields, with Settings' defaults."""

    database_url: str = DEFAULT_SQLITE_URL
    secret_key: str | None = field(default=None, repr=False)
    log_level: str = "INFO"


LIGHT_FIELDS = frozenset(f.name for f in fields(LightSettings))


def _env_file_values() -> Mapping[str, str | None] | None:
    """`.env` as pydantic-settings reads it (python-dotenv, UTF-8); None when it is not a regular file."""
    path = Path(ENV_FILE)
    if not path.exists():
        return {}
    if not path.is_file():
        return None
    from dotenv import dotenv_values

    return dotenv_values(path, encoding="utf-8")


def _light_values(source: Mapping[str, str | None]) -> dict[str, str] | None:
    """The light fields `source` sets; None when it sets anything else (or a name twice, or no value)."""
    found: dict[str, str] = {}
    for name, value in source.items():
        key = name.lower()
        if key in UNPREFIXED_NAMES:
            return None
        if not key.startswith(ENV_PREFIX):
            continue
        name_of_field = key[len(ENV_PREFIX) :]
        if name_of_field not in LIGHT_FIELDS or value is None or name_of_field in found:
            return None
        found[name_of_field] = value
    return found


def load_light() -> LightSettings | None:
    """The settings without pydantic, or None when the full `Settings` must read them."""
    env_file = _env_file_values()
    if env_file is None:
        return None
    from_file = _light_values(env_file)
    from_env = _light_values(os.environ)
    if from_file is None or from_env is None:
        return None
    # The environment wins over .env, as in pydantic-settings.
    return LightSettings(**{**from_file, **from_env})
