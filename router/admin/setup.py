"""The first-run setup link: valid only while there is no admin user, the same on every replica."""

from __future__ import annotations

from typing import Any

from router.admin.security import AdminKeys
from router.store import admins as admin_store
from router.store.db import Database

# Part of what the token is derived from: bump it to invalidate every setup link ever logged.
SETUP_COUNTER = 1


async def setup_open(session: Any) -> bool:
    return await admin_store.count_users(session) == 0


async def first_run_setup_token(db: Database, secret_key: str) -> str | None:
    """The token for /admin/setup?token=… while no admin user exists; None once one does.

    Derived from the secret key and SETUP_COUNTER only, so every replica computes (and accepts) the same link.
    """
    async with db.session() as session:
        if not await setup_open(session):
            return None
    return AdminKeys(secret_key).setup_token(SETUP_COUNTER)
