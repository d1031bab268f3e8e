"""One-time reveal of a newly issued key across post/redirect/get.

The POST that issues (or rotates) a key answers with a redirect and a short-lived cookie holding the
plaintext sealed with a key derived from the service secret (any replica can open it). The GET it
redirects to shows the key once and deletes the cookie, so a reload shows the page without the key and
never issues another one.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import InvalidToken
from litestar.datastructures import Cookie

from router.admin.auth import admin_keys
from router.admin.web import AnyRequest, admin_cookie

REVEAL_COOKIE = "router_admin_reveal"
REVEAL_SECONDS = 300


def reveal_cookie(request: AnyRequest, tenant_id: int, issued: dict[str, Any]) -> Cookie:
    sealed = admin_keys(request).sealer().encrypt(json.dumps({**issued, "tenant_id": tenant_id}).encode())
    cookie = admin_cookie(request, REVEAL_COOKIE, sealed.decode("ascii"), max_age=REVEAL_SECONDS)
    cookie.path = f"/admin/tenants/{tenant_id}"
    cookie.samesite = "strict"
    return cookie


def take_reveal(request: AnyRequest, tenant_id: int) -> tuple[dict[str, Any] | None, Cookie | None]:
    """The key to show on this tenant's page (once), and the cookie deletion that makes it once."""
    sealed = request.cookies.get(REVEAL_COOKIE)
    if not sealed:
        return None, None
    gone = admin_cookie(request, REVEAL_COOKIE, "", max_age=0)
    gone.path = f"/admin/tenants/{tenant_id}"
    try:
        data = json.loads(admin_keys(request).sealer().decrypt(sealed.encode("ascii"), ttl=REVEAL_SECONDS))
    except (InvalidToken, ValueError, UnicodeEncodeError):
        return None, gone
    if not isinstance(data, dict) or data.get("tenant_id") != tenant_id:
        return None, gone
    return data, gone
