"""Persistence: models, repositories, migrations, the routing snapshot and credential encryption."""

from router.store.db import (
    AlreadyExistsError,
    Database,
    NotFoundError,
    StoreError,
)

__all__ = [
    "AlreadyExistsError",
    "Database",
    "NotFoundError",
    "StoreError",
]
