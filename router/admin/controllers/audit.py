"""The audit log: who changed what and when, with before and after (credentials redacted by the store)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from router.admin.web import render
from router.store import audit as audit_store
from router.store.db import DbSession

AnyRequest = Request[Any, Any, Any]
PAGE_SIZE = 50
MAX_PAGE = 100_000


def changed_keys(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """The fields whose value differs (all of them for a create or delete)."""
    before, after = before or {}, after or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


class AuditController(Controller):
    path = "/admin/audit"

    @get("/")
    async def audit_page(self, request: AnyRequest, db_session: DbSession) -> Template:
        raw = request.query_params.get("page", "1")
        page = int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_PAGE else 1
        # One extra row tells whether a next page exists without counting the whole table.
        entries = await audit_store.list_audit(db_session, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        has_next = len(entries) > PAGE_SIZE
        entries = entries[:PAGE_SIZE]
        return render(
            request,
            "admin/audit.html",
            {
                "entries": [(e, changed_keys(e.before, e.after)) for e in entries],
                "page": page,
                "has_next": has_next,
            },
        )
