"""Helpers for config tests: a cipher, the example file, and running apply/export in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.store.config_file import ApplyResult, Export, apply_config_text, export_config
from router.store.crypto import CredentialCipher
from router.store.db import Database

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "config.yaml").read_text()
ENV = {
    "OPENAI_API_KEY": "sk-openai-secret-value",
    "GEMINI_API_KEY": "gemini-secret-value",
    "AZURE_API_KEY": "azure-secret-value",
}
SECRETS = tuple(ENV.values())


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher("test secret key")


async def apply(
    db: Database,
    text: str,
    cipher: CredentialCipher,
    env: dict[str, str] | None = None,
    dry_run: bool = False,
) -> ApplyResult:
    async with db.transaction() as session:
        return await apply_config_text(
            session, text, env=ENV if env is None else env, cipher=cipher, dry_run=dry_run
        )


async def export(db: Database) -> Export:
    async with db.session() as session:
        return await export_config(session)
