"""Pools: a named set of members (targets with weight and provider quotas) and the strategy that picks one."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError
from router.admin.controllers.chains import target_hints
from router.admin.deps import actor
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.web import form_page, see_other
from router.config.drafts import PoolMemberDraft
from router.config.validate import POOL_STRATEGIES
from router.store import catalog
from router.store.access import StoreAccess
from router.store.db import NotFoundError
from router.store.models import Pool

AnyRequest = Request[Any, Any, Any]

MAX_MEMBERS = 50
_SETTING = re.compile(r"^(weight|rpm|tpm)=(\d{1,19})$")


async def pool_or_404(session: Any, pool_id: int) -> Pool:
    try:
        return await catalog.get_pool(session, pool_id)
    except NotFoundError as exc:
        raise AdminNotFoundError(f"There is no pool with id {pool_id}.") from exc


def members_text(pool: Pool) -> str:
    """One member per line: `TARGET weight=N [rpm=N] [tpm=N]`, as the form takes them back."""
    lines = []
    for m in catalog.pool_members(pool):
        parts = [m.target, f"weight={m.weight}"]
        parts += [f"{k}={v}" for k, v in (("rpm", m.rpm), ("tpm", m.tpm)) if v is not None]
        lines.append(" ".join(parts))
    return "\n".join(lines)


def read_members(form: Form) -> list[PoolMemberDraft]:
    members: list[PoolMemberDraft] = []
    lines = [line.strip() for line in form.raw("members").splitlines() if line.strip()]
    if not lines:
        form.error("members", "A pool needs at least one member.")
    if len(lines) > MAX_MEMBERS:
        form.error("members", f"At most {MAX_MEMBERS} members.")
        return []
    for number, line in enumerate(lines, start=1):
        target, *settings = line.split()
        values: dict[str, int] = {}
        for setting in settings:
            found = _SETTING.match(setting)
            if found is None:
                form.error(
                    "members", f"Line {number}: {setting!r} is not weight=N, rpm=N or tpm=N (whole numbers)."
                )
                return []
            values[found.group(1)] = int(found.group(2))
        members.append(PoolMemberDraft(target, values.get("weight", 1), values.get("rpm"), values.get("tpm")))
    return members


def read_pool(form: Form) -> dict[str, Any]:
    strategy = form.raw("strategy") or "weighted"
    if strategy not in POOL_STRATEGIES:
        form.error("strategy", f"Choose one of {', '.join(POOL_STRATEGIES)}.")
    return {"strategy": strategy, "sticky": form.checkbox("sticky"), "members": read_members(form)}


def pool_error(form: Form, exc: catalog.CatalogError) -> None:
    field = (exc.field or "form").split(".")[0].split("[")[0]
    form.error(field if field in ("name", "strategy", "members") else "form", sentence(exc.message))


class PoolsController(Controller):
    path = "/admin/pools"

    async def _list_page(
        self,
        request: AnyRequest,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            pools = await catalog.list_pools(session)
            hints = await target_hints(session)
        return form_page(
            request,
            "admin/pools.html",
            {
                "pools": pools,
                "members": {p.id: catalog.pool_members(p) for p in pools},
                "strategies": POOL_STRATEGIES,
                "target_hints": hints,
            },
            form=form or {"strategy": "weighted", "sticky": "on"},
            errors=errors,
        )

    @get("/")
    async def list_pools(self, request: AnyRequest, store: StoreAccess) -> Template:
        return await self._list_page(request, store=store)

    @post("/")
    async def create_pool(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        name = form.text("name", required=True, label="Name") or ""
        values = read_pool(form)
        if form.ok:
            try:
                async with store.mutating() as session:
                    pool = await catalog.create_pool(session, name=name, **values, actor=actor(request))
                return see_other(f"/admin/pools/{pool.id}", "created")
            except catalog.CatalogError as exc:
                pool_error(form, exc)
        return await self._list_page(request, form.values, form.errors, store=store)

    async def _pool_page(
        self,
        request: AnyRequest,
        pool_id: int,
        form: dict[str, Any] | None = None,
        errors: Any = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            pool = await pool_or_404(session, pool_id)
            hints = await target_hints(session)
        values = form or {
            "strategy": pool.strategy,
            "sticky": "on" if pool.sticky else "",
            "members": members_text(pool),
        }
        return form_page(
            request,
            "admin/pool.html",
            {
                "pool": pool,
                "strategies": POOL_STRATEGIES,
                "target_hints": hints,
            },
            form=values,
            errors=errors,
        )

    @get("/{pool_id:int}")
    async def pool_page(self, request: AnyRequest, pool_id: int, store: StoreAccess) -> Template:
        return await self._pool_page(request, pool_id, store=store)

    @post("/{pool_id:int}")
    async def update_pool(self, request: AnyRequest, pool_id: int, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        values = read_pool(form)
        if form.ok:
            try:
                async with store.mutating() as session:
                    await pool_or_404(session, pool_id)
                    await catalog.update_pool(session, pool_id, **values, actor=actor(request))
                return see_other(f"/admin/pools/{pool_id}", "saved")
            except catalog.CatalogError as exc:
                pool_error(form, exc)
        return await self._pool_page(request, pool_id, form.values, form.errors, store=store)

    @post("/{pool_id:int}/delete")
    async def delete_pool(self, request: AnyRequest, pool_id: int, store: StoreAccess) -> Template | Redirect:
        try:
            async with store.mutating() as session:
                await pool_or_404(session, pool_id)
                await catalog.delete_pool(session, pool_id, actor=actor(request))
        except catalog.CatalogError as exc:
            return await self._pool_page(request, pool_id, None, {"form": sentence(exc.message)}, store=store)
        return see_other("/admin/pools", "deleted")
