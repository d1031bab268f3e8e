"""Cheap argon2 for identity tests: they are about counting, locking and sessions, not hash strength."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from router.store import admins


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admins, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
