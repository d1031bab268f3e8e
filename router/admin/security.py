"""CSRF tokens and the first-run setup token, derived from the secret key; the admin cookies' names.

Sessions themselves are server-side (router/identity/session_cache.py); a CSRF token is an HMAC of the
session's nonce, so any replica started with the same secret accepts what another replica issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet

SESSION_COOKIE = "router_admin"
# Carries a random nonce for visitors who are not signed in yet, so the sign-in form has a CSRF token too.
PRE_SESSION_COOKIE = "router_admin_pre"
COOKIE_PATH = "/admin"
# Lifetime of the pre-session cookie that carries the sign-in form's CSRF nonce.
SESSION_SECONDS = 12 * 60 * 60
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AdminKeys:
    """Purpose-bound keys derived from the service secret (one secret, never reused raw)."""

    def __init__(self, secret_key: str) -> None:
        root = secret_key.encode("utf-8")
        self._session = hmac.new(root, b"router-admin/session/v1", hashlib.sha256).digest()
        self._csrf = hmac.new(root, b"router-admin/csrf/v1", hashlib.sha256).digest()
        self._setup = hmac.new(root, b"router-admin/setup/v1", hashlib.sha256).digest()
        self._reveal = hmac.new(root, b"router-admin/reveal/v1", hashlib.sha256).digest()

    # ---- one-time reveal of a new key (carried in a sealed cookie across the redirect) ------------------
    def sealer(self) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(self._reveal))

    # ---- CSRF ------------------------------------------------------------------------------------------
    def csrf_token(self, nonce: str) -> str:
        """The CSRF token bound to one session (or pre-session) nonce."""
        return _b64(hmac.new(self._csrf, nonce.encode("utf-8"), hashlib.sha256).digest())

    def csrf_valid(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.csrf_token(nonce), token)

    # ---- first-run setup -------------------------------------------------------------------------------
    def setup_token(self, counter: int) -> str:
        """The setup link token for one counter value (the config version when there were no admins)."""
        return _b64(hmac.new(self._setup, str(counter).encode("ascii"), hashlib.sha256).digest())[:32]

    def setup_valid(self, counter: int, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.setup_token(counter), token or "")


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
