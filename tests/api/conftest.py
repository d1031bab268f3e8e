"""The management API on the real app (both databases), with admin API tokens made as the CLI makes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from router.identity import users
from router.store import admins
from router.store.config_file import apply_config_text
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.models import Tenant
from tests.admin.conftest import SECRET, build_test_app

CONFIG = """
providers:
  - {name: openai, kind: openai, api_base: "http://127.0.0.1:9/v1", api_key: "sk-test-secret"}
  - {name: azure-eu, kind: azure, api_base: "http://127.0.0.1:9", api_key: "az-secret", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
chains:
  - {name: big, targets: [openai/gpt-4.1, deployment/gpt4o-eu]}
rules:
  - {match: "claude-opus-*", chain: big}
  - {match: "claude-haiku-*", target: openai/gpt-4.1-mini}
  - {match: "*", target: openai/gpt-4.1}
tenants:
  - name: alpha
    allowed_targets: ["openai/*"]
    rules:
      - {match: "claude-opus-*", target: openai/gpt-4.1}
      - {match: "*", target: openai/gpt-4.1-mini}
  - name: beta
    rules:
      - {match: "*", target: deployment/gpt4o-eu}
"""


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admins, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class Api:
    http: AsyncTestClient[Litestar]
    db: Database
    tenants: dict[str, int]

    async def token(self, role: str, tenants: list[str] | None = None) -> dict[str, str]:
        async with self.db.transaction() as session:
            _row, plaintext = await users.create_api_token(
                session, name="t", role=role, tenants=tenants or [], expires=None, actor="test"
            )
        return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    async with database.transaction() as session:
        await apply_config_text(session, CONFIG, env={}, cipher=CredentialCipher(SECRET), actor="test")
    async with database.session() as session:
        ids = {t.name: t.id for t in (await session.scalars(select(Tenant))).all()}
    async with AsyncTestClient(app=build_test_app(database.url), base_url="http://router.test") as http:
        yield Api(http, database, ids)
