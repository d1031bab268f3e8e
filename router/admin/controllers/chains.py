"""Fallback chains: ordered targets (add, remove, move up and down), retries and backoff."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError
from router.admin.deps import actor
from router.admin.drift import config_drift
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.web import form_page, render, see_other
from router.config.fields import target_ref_error
from router.config.lengths import TARGET_CHARS
from router.store import catalog
from router.store.access import StoreAccess
from router.store.catalog import Direction
from router.store.catalog.chains import MAX_BACKOFF_MS, MAX_RETRIES
from router.store.db import NotFoundError
from router.store.models import Chain

AnyRequest = Request[Any, Any, Any]


async def chain_or_404(session: Any, chain_id: int) -> Chain:
    try:
        return await catalog.get_chain(session, chain_id)
    except NotFoundError as exc:
        raise AdminNotFoundError(f"There is no chain with id {chain_id}.") from exc


def read_chain(form: Form) -> dict[str, Any]:
    return {
        "name": form.text("name", required=True, label="Name") or "",
        "retries": form.integer("retries", maximum=MAX_RETRIES, label="Retries") or 0,
        "backoff_ms": form.integer("backoff_ms", maximum=MAX_BACKOFF_MS, label="Backoff") or 0,
    }


def chain_error(form: Form, exc: catalog.CatalogError, targets_field: str = "targets") -> None:
    field = exc.field or "form"
    if field.startswith("targets"):
        field = targets_field
    form.error(
        field if field in ("name", "retries", "backoff_ms", targets_field) else "form", sentence(exc.message)
    )


async def bad_targets(request: AnyRequest, refs: list[str], store: StoreAccess) -> str | None:
    """One message naming every target of a chain that does not exist (not only the first)."""
    async with store.reading() as session:
        known = await catalog.known_names(session)
    problems = [
        f"{ref} ({problem})"
        for ref in refs
        if (problem := target_ref_error(ref, known.providers, known.deployments, known.pools))
    ]
    if not problems:
        return None
    return ("Unknown target: " if len(problems) == 1 else "Unknown targets: ") + "; ".join(problems)


async def target_hints(session: Any) -> list[str]:
    providers = await catalog.list_providers(session)
    deployments = await catalog.list_deployments(session)
    return [f"{p.name}/" for p in providers] + [f"deployment/{d.name}" for d in deployments]


class ChainsController(Controller):
    path = "/admin/chains"

    async def _list_page(
        self,
        request: AnyRequest,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            chains = await catalog.list_chains(session)
            hints = await target_hints(session)
            drift = await config_drift(session)
        return form_page(
            request,
            "admin/chains.html",
            {
                "drift": drift,
                "chains": chains,
                "refs": {c.id: catalog.chain_refs(c) for c in chains},
                "target_hints": hints,
            },
            form=form or {"retries": 0, "backoff_ms": 250},
            errors=errors,
        )

    @get("/")
    async def list_chains(self, request: AnyRequest, store: StoreAccess) -> Template:
        return await self._list_page(request, store=store)

    @post("/")
    async def create_chain(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        values = read_chain(form)
        targets = form.lines("targets", max_items=20, label="Each target")
        if not targets and "targets" not in form.errors:
            form.error("targets", "A chain needs at least one target.")
        if targets and "targets" not in form.errors:
            form.check("targets", await bad_targets(request, targets, store=store))
        if form.ok:
            try:
                async with store.mutating() as session:
                    chain = await catalog.create_chain(
                        session, **values, targets=targets, actor=actor(request)
                    )
                return see_other(f"/admin/chains/{chain.id}", "created")
            except catalog.CatalogError as exc:
                chain_error(form, exc)
        return await self._list_page(request, form.values, form.errors, store=store)

    async def _chain_page(
        self,
        request: AnyRequest,
        chain_id: int,
        form: dict[str, Any] | None = None,
        errors: Any = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            chain = await chain_or_404(session, chain_id)
            hints = await target_hints(session)
        values = form or {"name": chain.name, "retries": chain.retries, "backoff_ms": chain.backoff_ms}
        return form_page(
            request,
            "admin/chain.html",
            {
                "chain": chain,
                "refs": catalog.chain_refs(chain),
                "target_hints": hints,
                "add_form": {},
                "add_errors": {},
            },
            form=values,
            errors=errors,
        )

    @get("/{chain_id:int}")
    async def chain_page(self, request: AnyRequest, chain_id: int, store: StoreAccess) -> Template:
        return await self._chain_page(request, chain_id, store=store)

    @post("/{chain_id:int}")
    async def update_chain(
        self, request: AnyRequest, chain_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        values = read_chain(form)
        if form.ok:
            try:
                async with store.mutating() as session:
                    await chain_or_404(session, chain_id)
                    await catalog.update_chain(session, chain_id, **values, actor=actor(request))
                return see_other(f"/admin/chains/{chain_id}", "saved")
            except catalog.CatalogError as exc:
                chain_error(form, exc)
        return await self._chain_page(request, chain_id, form.values, form.errors, store=store)

    @post("/{chain_id:int}/delete")
    async def delete_chain(
        self, request: AnyRequest, chain_id: int, store: StoreAccess
    ) -> Template | Redirect:
        try:
            async with store.mutating() as session:
                await chain_or_404(session, chain_id)
                await catalog.delete_chain(session, chain_id, actor=actor(request))
        except catalog.CatalogError as exc:
            return await self._chain_page(
                request, chain_id, None, {"form": sentence(exc.message)}, store=store
            )
        return see_other("/admin/chains", "deleted")

    # ---- targets (htmx: each returns the targets partial) ---------------------------------------------
    async def _targets(
        self,
        request: AnyRequest,
        chain_id: int,
        add_form: Any = None,
        add_errors: Any = None,
        status: int = 200,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            chain = await chain_or_404(session, chain_id)
        return render(
            request,
            "admin/partials/chain_targets.html",
            {
                "chain": chain,
                "refs": catalog.chain_refs(chain),
                "add_form": add_form or {},
                "add_errors": add_errors or {},
            },
            status=status,
        )

    @post("/{chain_id:int}/targets")
    async def add_target(self, request: AnyRequest, chain_id: int, store: StoreAccess) -> Template:
        form = Form(await request.form())
        target = form.text("target", required=True, max_len=TARGET_CHARS, label="Target") or ""
        if form.ok:
            try:
                async with store.mutating() as session:
                    await chain_or_404(session, chain_id)
                    await catalog.add_chain_target(session, chain_id, target, actor=actor(request))
                return await self._targets(request, chain_id, store=store)
            except catalog.CatalogError as exc:
                chain_error(form, exc, targets_field="target")
        return await self._targets(request, chain_id, form.values, form.errors, status=422, store=store)

    @post("/{chain_id:int}/targets/{position:int}/remove")
    async def remove_target(
        self, request: AnyRequest, chain_id: int, position: int, store: StoreAccess
    ) -> Template:
        try:
            async with store.mutating() as session:
                await chain_or_404(session, chain_id)
                await catalog.remove_chain_target(session, chain_id, position, actor=actor(request))
        except NotFoundError as exc:
            raise AdminNotFoundError(sentence(exc)) from exc
        except catalog.CatalogError as exc:
            return await self._targets(
                request, chain_id, None, {"target": sentence(exc.message)}, status=422, store=store
            )
        return await self._targets(request, chain_id, store=store)

    @post("/{chain_id:int}/targets/{position:int}/move")
    async def move_target(
        self, request: AnyRequest, chain_id: int, position: int, store: StoreAccess
    ) -> Template:
        form = Form(await request.form())
        direction: Direction = "up" if form.raw("direction") == "up" else "down"
        try:
            async with store.mutating() as session:
                await chain_or_404(session, chain_id)
                await catalog.move_chain_target(session, chain_id, position, direction, actor=actor(request))
        except NotFoundError as exc:
            raise AdminNotFoundError(sentence(exc)) from exc
        return await self._targets(request, chain_id, store=store)
