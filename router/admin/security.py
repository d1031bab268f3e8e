"""Signed admin sessions, CSRF tokens and the first-run setup token, all derived from the secret key.

Everything here is stateless: a session is an HMAC-signed cookie and every token is an HMAC of the secret
key, so any replica started with the same secret accepts what another replica issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "router_admin"
# Carries a random nonce for visitors who are not signed in yet, so the sign-in form has a CSRF token too.
PRE_SESSION_COOKIE = "router_admin_pre"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 12 * 60 * 60
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class AdminSession:
    """A signed-in admin as read from the session cookie."""

    username: str
    nonce: str
    expires_at: int


class AdminKeys:
    """Purpose-bound keys derived from the service secret (one secret, never reused raw)."""

    def __init__(self, secret_key: str) -> None:
        root = secret_key.encode("utf-8")
        self._session = hmac.new(root, b"router-admin/session/v1", hashlib.sha256).digest()
        self._csrf = hmac.new(root, b"router-admin/csrf/v1", hashlib.sha256).digest()
        self._setup = hmac.new(root, b"router-admin/setup/v1", hashlib.sha256).digest()

    # ---- session cookie --------------------------------------------------------------------------------
    def issue_session(self, username: str, *, now: float | None = None) -> tuple[str, AdminSession]:
        """A new cookie value for `username` and the session it stands for."""
        issued = int(now if now is not None else time.time())
        session = AdminSession(
            username=username, nonce=secrets.token_urlsafe(16), expires_at=issued + SESSION_SECONDS
        )
        payload = _b64(
            json.dumps({"u": session.username, "n": session.nonce, "e": session.expires_at}).encode()
        )
        return f"{payload}.{self._sign(payload)}", session

    def read_session(self, cookie: str | None, *, now: float | None = None) -> AdminSession | None:
        """The session a cookie stands for; None when absent, tampered with, malformed or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = AdminSession(username=str(data["u"]), nonce=str(data["n"]), expires_at=int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires_at < (now if now is not None else time.time()):
            return None
        return session

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._session, payload.encode("ascii"), hashlib.sha256).digest())

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
