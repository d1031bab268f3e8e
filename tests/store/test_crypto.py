"""Credential encryption: round trip, no plaintext at rest, the secret key's origin and clear failures."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text

from router.settings import Settings
from router.store.crypto import (
    SECRET_FILE_NAME,
    CredentialCipher,
    CredentialDecryptError,
    SecretKeyError,
    resolve_secret_key,
)
from router.store.db import Database
from router.store.models import Provider

CREDENTIAL = "sk-live-provider-credential-0123456789"


def test_round_trip_with_any_secret_string() -> None:
    for secret in ("short", "a much longer secret with spaces and ünicode", "x" * 500):
        cipher = CredentialCipher(secret)
        token = cipher.encrypt(CREDENTIAL)
        assert CREDENTIAL not in token
        assert cipher.decrypt(token) == CREDENTIAL
        assert CredentialCipher(secret).decrypt(token) == CREDENTIAL


def test_a_different_key_fails_naming_the_provider_not_the_value() -> None:
    token = CredentialCipher("one").encrypt(CREDENTIAL)
    with pytest.raises(CredentialDecryptError) as info:
        CredentialCipher("two").decrypt(token, provider="openai-main")
    assert "'openai-main'" in str(info.value)
    assert CREDENTIAL not in str(info.value) and token not in str(info.value)
    with pytest.raises(CredentialDecryptError):
        CredentialCipher("one").decrypt("not a token", provider="x")


async def test_the_encrypted_column_never_holds_the_plaintext(database: Database) -> None:
    cipher = CredentialCipher("test-secret")
    async with database.transaction() as session:
        session.add(Provider(name="openai", kind="openai", credential_encrypted=cipher.encrypt(CREDENTIAL)))
    async with database.session() as session:
        raw = (await session.execute(text("SELECT credential_encrypted FROM providers"))).scalar_one()
        assert CREDENTIAL not in raw
        row = await session.scalar(select(Provider))
        assert (
            row is not None
            and cipher.decrypt(row.credential_encrypted or "", provider=row.name) == CREDENTIAL
        )


def test_configured_secret_key_wins(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db", secret_key="configured")
    assert resolve_secret_key(settings) == "configured"
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_sqlite_default_generates_a_private_key_file_once(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/data/r.db", secret_key=None)
    first = resolve_secret_key(settings)
    path = tmp_path / "data" / SECRET_FILE_NAME
    assert path.read_text().strip() == first and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_secret_key(settings) == first


def test_postgres_without_a_secret_key_is_an_error() -> None:
    settings = Settings(database_url="postgresql+asyncpg://u:pw@db/router", secret_key=None)
    with pytest.raises(SecretKeyError, match="ROUTER_SECRET_KEY"):
        resolve_secret_key(settings)
