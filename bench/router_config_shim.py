"""Stand-in for `router config apply` while that command does not exist: the same two rows, via the catalog.

    python -m bench.router_config_shim API_BASE MODEL   (ROUTER_DATABASE_URL and ROUTER_SECRET_KEY set)

Creates provider `fake` (kind openai) at API_BASE and one global rule `*` -> fake/MODEL. The runner uses it
only when `router --help` lists no `config` command.
"""

from __future__ import annotations

import asyncio
import sys

from router.settings import Settings
from router.store.catalog import create_provider, create_rule
from router.store.crypto import CredentialCipher
from router.store.db import Database


async def apply(api_base: str, model: str) -> None:
    settings = Settings()
    assert settings.secret_key, "ROUTER_SECRET_KEY must be set"
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            await create_provider(
                session,
                cipher=CredentialCipher(settings.secret_key),
                name="fake",
                kind="openai",
                api_base=api_base,
                api_key="sk-upstream",
                actor="bench",
            )
            await create_rule(session, match="*", target=f"fake/{model}", actor="bench")
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(apply(sys.argv[1], sys.argv[2]))
