"""The CLI's light settings (router/settings_light.py) say what the full Settings would, or step aside.

Each case sets a fresh environment and working directory (.env), then compares `load_light()` with
`Settings()`: the same values when it answers, None whenever anything beyond its fields is set; and the
`router` command refuses invalid settings with the same line whichever path read them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from router.cli import main
from router.settings import Settings
from router.settings_light import (
    DEFAULT_SQLITE_URL,
    LIGHT_FIELDS,
    UNPREFIXED_NAMES,
    LightSettings,
    load_light,
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ROUTER_* or OTEL_* variable, and an empty working directory (no .env)."""
    for name in list(os.environ):
        if name.lower().startswith(("router_", "otel_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _as_light(settings: Settings) -> LightSettings:
    return LightSettings(**{name: getattr(settings, name) for name in LIGHT_FIELDS})


# (environment, .env text): sources the light reader answers for.
ANSWERED: list[tuple[dict[str, str], str]] = [
    ({}, ""),
    ({"ROUTER_DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/router", "ROUTER_SECRET_KEY": "k" * 40}, ""),
    ({"ROUTER_DATABASE_URL": "", "ROUTER_SECRET_KEY": "", "ROUTER_LOG_LEVEL": ""}, ""),
    ({"router_database_url": "sqlite+aiosqlite:///lower.db", "Router_Log_Level": "debug"}, ""),
    (
        {},
        "ROUTER_DATABASE_URL=sqlite+aiosqlite:///from-dotenv.db\nROUTER_SECRET_KEY='quoted # not a comment'\n",
    ),
    # The environment wins over .env.
    (
        {"ROUTER_DATABASE_URL": "sqlite+aiosqlite:///env.db"},
        "ROUTER_DATABASE_URL=sqlite+aiosqlite:///file.db\n",
    ),
    ({}, '# a comment\nexport ROUTER_LOG_LEVEL=WARNING\nOTHER_TOOL_SETTING=1\n\nROUTER_SECRET_KEY="a b"\n'),
    ({"PATH_LIKE": "x", "HOME_ISH": "y"}, 'ROUTER_DATABASE_URL="sqlite+aiosqlite:///${HOME_ISH}.db"\n'),
]


def _given(monkeypatch: pytest.MonkeyPatch, directory: Path, env: dict[str, str], dotenv: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if dotenv:
        (directory / ".env").write_text(dotenv, encoding="utf-8")


@pytest.mark.parametrize(("env", "dotenv"), ANSWERED)
def test_the_light_settings_equal_the_full_ones(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], dotenv: str
) -> None:
    _given(monkeypatch, clean_env, env, dotenv)
    light = load_light()
    assert light is not None
    full = Settings()
    assert light == _as_light(full)
    assert (light.is_sqlite, light.sqlite_path) == (full.is_sqlite, full.sqlite_path)


# Sources the light reader leaves to the full Settings.
DECLINED: list[tuple[dict[str, str], str]] = [
    ({"ROUTER_PORT": "8090"}, ""),
    ({"ROUTER_PORT": "not a number"}, ""),
    ({}, "ROUTER_PORT=not a number\n"),
    ({"router_host": "0.0.0.0"}, ""),
    ({"ROUTER_NO_SUCH_SETTING": "1"}, ""),
    ({"OTEL_SERVICE_NAME": "router-eu"}, ""),
    ({}, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=maybe\n"),
    (
        {
            "ROUTER_DATABASE_URL": "sqlite+aiosqlite:///a.db",
            "router_database_url": "sqlite+aiosqlite:///b.db",
        },
        "",
    ),
    ({}, "ROUTER_SECRET_KEY\n"),
]


@pytest.mark.parametrize(("env", "dotenv"), DECLINED)
def test_anything_more_is_left_to_the_full_settings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], dotenv: str
) -> None:
    _given(monkeypatch, clean_env, env, dotenv)
    assert load_light() is None


def test_an_env_file_that_is_not_a_file_is_left_to_the_full_settings(clean_env: Path) -> None:
    (clean_env / ".env").mkdir()
    assert load_light() is None


def test_the_light_fields_are_plain_strings_of_settings_with_the_same_defaults() -> None:
    """What makes reading them without pydantic exact: no alias, constraint or validator, a str type."""
    validated = {
        name
        for decorator in Settings.__pydantic_decorators__.field_validators.values()
        for name in decorator.info.fields
    }
    for name in LIGHT_FIELDS:
        info = Settings.model_fields[name]
        assert info.annotation in (str, str | None), name
        assert info.validation_alias is None and info.alias is None and not info.metadata, name
        assert name not in validated, name
        assert getattr(LightSettings(), name) == info.default, name
    assert LightSettings().database_url == DEFAULT_SQLITE_URL


def test_the_unprefixed_names_are_settings_aliases() -> None:
    aliases = {
        str(info.validation_alias).lower()
        for info in Settings.model_fields.values()
        if info.validation_alias is not None
    }
    assert aliases == UNPREFIXED_NAMES


@pytest.mark.parametrize("where", ["env", "dotenv"])
def test_invalid_settings_are_refused_with_the_same_line(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv("ROUTER_DATABASE_URL", f"sqlite+aiosqlite:///{clean_env}/router.db")
    if where == "env":
        monkeypatch.setenv("ROUTER_KEEP_ALIVE_SECONDS", "0")
    else:
        (clean_env / ".env").write_text("ROUTER_KEEP_ALIVE_SECONDS=0\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["tenant", "list"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: invalid settings: ROUTER_KEEP_ALIVE_SECONDS: Input should be greater than or equal to 1"
    )


def test_commands_read_the_database_named_in_the_env_file(clean_env: Path) -> None:
    """.env alone points the light path at the database (here: one that does not exist yet)."""
    (clean_env / ".env").write_text(f"ROUTER_DATABASE_URL=sqlite+aiosqlite:///{clean_env}/elsewhere.db\n")
    result = CliRunner().invoke(main, ["tenant", "list"])
    assert result.exit_code == 1
    assert f"no database at {clean_env}/elsewhere.db" in result.output
