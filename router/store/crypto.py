"""Provider credentials encrypted at rest (Fernet), keyed from Settings.secret_key.

Any string works as a secret key: HKDF-SHA256 stretches it to Fernet's 32 bytes. The embedded SQLite default
generates a key once into `router.secret` beside the database file; PostgreSQL needs ROUTER_SECRET_KEY, since
several replicas must share it.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from router.settings_light import CommandSettings
from router.store.db import StoreError

log = logging.getLogger(__name__)

SECRET_FILE_NAME = "router.secret"
_HKDF_SALT = b"router/credentials"
_HKDF_INFO = b"router credential encryption v1"


class SecretKeyError(StoreError):
    """No secret key is configured and none may be generated."""


class CredentialDecryptError(StoreError):
    """A stored credential cannot be decrypted with this secret key."""


def fernet_key(secret_key: str) -> bytes:
    """The Fernet key derived from any secret string."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


def secret_file_for(settings: CommandSettings) -> Path | None:
    """Where the embedded default keeps its generated key (None unless the database is a SQLite file)."""
    db_path = settings.sqlite_path
    return db_path.parent / SECRET_FILE_NAME if db_path is not None else None


def _read_or_create_secret_file(path: Path) -> str:
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    try:
        # O_EXCL: of two processes starting at once, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    log.warning("generated a credential encryption key in %s: keep this file with the database", path)
    return secret


def resolve_secret_key(settings: CommandSettings) -> str:
    """The configured secret key; on the embedded SQLite file, one generated once beside it; else an error."""
    if settings.secret_key:
        return settings.secret_key
    if settings.is_sqlite:
        path = secret_file_for(settings)
        if path is None:
            # In-memory database: the credentials die with the process, and so may the key.
            log.warning("no ROUTER_SECRET_KEY and an in-memory database: using a throwaway secret key")
            return secrets.token_urlsafe(32)
        return _read_or_create_secret_file(path)
    raise SecretKeyError(
        "ROUTER_SECRET_KEY is not set: it is required with a database other than the embedded SQLite file "
        "(every replica must encrypt provider credentials with the same key)"
    )


class CredentialCipher:
    """Encrypts and decrypts provider credentials. Error messages name the provider, never the value."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise SecretKeyError("the secret key is empty")
        self._fernet = Fernet(fernet_key(secret_key))

    def __repr__(self) -> str:
        return "CredentialCipher(<secret>)"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def holds(self, token: str | None, plaintext: str | None) -> bool:
        """Whether `token` is the encryption of `plaintext` (both None: nothing stored, nothing given), so
        an update that sends the stored value again changes nothing. A token this key cannot read holds
        nothing: setting the value again is then a change."""
        if token is None or plaintext is None:
            return token is None and plaintext is None
        try:
            return self.decrypt(token) == plaintext
        except CredentialDecryptError:
            return False

    def decrypt(self, token: str, *, provider: str | None = None) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            whose = f"provider {provider!r}" if provider else "a provider"
            raise CredentialDecryptError(
                f"cannot decrypt the stored credential of {whose}: the secret key differs from the one "
                "it was saved with, or the value is corrupt; set the credential again"
            ) from None
