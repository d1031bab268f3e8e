"""The audit log: who changed what and when, with before and after (credentials redacted by the store)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.response import Template

from router.admin.web import render
from router.config.lengths import AUDIT_ACTOR_CHARS
from router.store import audit as audit_store
from router.store.db import DbSession

AnyRequest = Request[Any, Any, Any]
PAGE_SIZE = 50
MAX_PAGE = 100_000


OBJECT_TYPES = (
    "tenant",
    "api_key",
    "provider",
    "deployment",
    "chain",
    "rule",
    "rules",
    "pool",
    "price",
    "config",
    "admin_user",
)


def object_link(e: Any) -> str | None:
    """The page of the object an entry is about (None once deleted, or for objects without a page)."""
    if e.action == "delete" or not e.object_id:
        return None
    pages = {
        "tenant": f"/admin/tenants/{e.object_id}",
        "provider": f"/admin/providers/{e.object_id}",
        "deployment": f"/admin/deployments/{e.object_id}",
        "chain": f"/admin/chains/{e.object_id}",
        "rule": f"/admin/rules#rule-{e.object_id}",
        "rules": "/admin/rules",
    }
    if e.object_type == "api_key" and e.tenant_id is not None:
        return f"/admin/tenants/{e.tenant_id}/keys/{e.object_id}"
    link = pages.get(e.object_type)
    return link if link is None or str(e.object_id).isdigit() or e.object_type == "rules" else None


def changed_keys(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """The fields whose value differs (all of them for a create or delete)."""
    before, after = before or {}, after or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


class AuditController(Controller):
    path = "/admin/audit"

    @get("/")
    async def audit_page(self, request: AnyRequest, db_session: DbSession) -> Template:
        params = request.query_params
        raw = params.get("page", "1")
        page = int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_PAGE else 1
        filters = {
            "q": (params.get("q") or "").strip()[:200],
            "actor": (params.get("actor") or "").strip()[:AUDIT_ACTOR_CHARS],
            "type": params.get("type") or "",
            "since_apply": "1" if params.get("since_apply") == "1" else "",
        }
        if filters["since_apply"]:
            # What the next `config apply` would overwrite (newest first, like the rest of the log).
            _, edits = await audit_store.edits_since_apply(db_session)
            start = (page - 1) * PAGE_SIZE
            entries = list(reversed(edits))[start : start + PAGE_SIZE + 1]
        else:
            # One extra row tells whether a next page exists without counting the whole table.
            entries = await audit_store.list_audit(
                db_session,
                limit=PAGE_SIZE + 1,
                offset=(page - 1) * PAGE_SIZE,
                object_type=filters["type"] if filters["type"] in OBJECT_TYPES else None,
                actor=filters["actor"] or None,
                search=filters["q"] or None,
            )
        has_next = len(entries) > PAGE_SIZE
        entries = entries[:PAGE_SIZE]
        return render(
            request,
            "admin/audit.html",
            {
                "entries": [(e, changed_keys(e.before, e.after), object_link(e)) for e in entries],
                "page": page,
                "has_next": has_next,
                "filters": filters,
                "object_types": OBJECT_TYPES,
                "page_query": urlencode({k: v for k, v in filters.items() if v}),
            },
        )
