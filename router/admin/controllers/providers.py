"""Providers and Azure deployments: create, edit, delete, test the connection.

Credentials are write-only: the form has an empty password field; blank keeps the stored one, a value
replaces it, "remove" clears it. Nothing decrypted ever goes into a page. Admins create and edit providers'
other settings; only owners see the credential field, and a form that sets, replaces or removes a credential
from anyone else is refused (403) with nothing saved.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError, RoleForbiddenError, current_principal
from router.admin.deps import actor
from router.admin.drift import config_drift
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.web import form_page, render, see_other
from router.config.fields import (
    api_base_error,
    deployment_provider_error,
    extra_params_errors,
    name_error,
    provider_kind_error,
)
from router.config.lengths import API_VERSION_CHARS, DEPLOYMENT_CHARS, KIND_CHARS, MODEL_CHARS
from router.identity.roles import CREDENTIALS_ARE_OWNERS, may_set_credentials
from router.routing.model import ProviderSpec
from router.store import catalog
from router.store.access import StoreAccess
from router.store.crypto import CredentialCipher, CredentialDecryptError
from router.store.db import NotFoundError
from router.store.models import Deployment, Provider

AnyRequest = Request[Any, Any, Any]
KIND_HINTS = (
    "openai",
    "azure",
    "gemini",
    "anthropic",
    "openrouter",
    "ollama",
    "bedrock",
    "vertex_ai",
    "mistral",
)


def provider_values(p: Provider) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind,
        "api_base": p.api_base or "",
        "api_version": p.api_version or "",
        "extra_params": json.dumps(p.extra_params) if p.extra_params else "",
    }


def deployment_values(d: Deployment) -> dict[str, Any]:
    return {
        "name": d.name,
        "provider": d.provider.name,
        "deployment": d.deployment,
        "model": d.model,
        "api_version": d.api_version or "",
    }


def read_provider(form: Form) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    raw_extra = form.raw("extra_params")
    if raw_extra:
        try:
            parsed = json.loads(raw_extra)
        except ValueError:
            form.error("extra_params", 'Extra parameters must be a JSON object, e.g. {"timeout": 30}.')
        else:
            if isinstance(parsed, dict):
                extra = parsed
            else:
                form.error("extra_params", "Extra parameters must be a JSON object.")
    name = form.text("name", required=True, label="Name") or ""
    kind = form.text("kind", required=True, max_len=KIND_CHARS, label="Kind") or ""
    api_base = form.url("api_base", label="API base URL")
    # Every field's problem at once (the catalog stops at the first).
    if name:
        form.check("name", name_error(name, "Name"))
    if kind:
        form.check("kind", provider_kind_error(kind))
    if api_base and "api_base" not in form.errors:
        form.check("api_base", api_base_error(api_base))
    for key, problem in extra_params_errors(extra):
        form.check("extra_params", f"{key}: {problem}" if key else problem)
    return {
        "name": name,
        "kind": kind,
        "api_base": api_base,
        "api_version": form.text("api_version", max_len=API_VERSION_CHARS, label="API version"),
        "extra_params": extra,
    }


def read_deployment(form: Form) -> dict[str, Any]:
    name = form.text("name", required=True, label="Name") or ""
    if name:
        form.check("name", name_error(name, "Name"))
    return {
        "name": name,
        "provider": form.text("provider", required=True, label="Provider") or "",
        "deployment": form.text("deployment", required=True, max_len=DEPLOYMENT_CHARS, label="Deployment")
        or "",
        "model": form.text("model", required=True, max_len=MODEL_CHARS, label="Model") or "",
        "api_version": form.text("api_version", max_len=API_VERSION_CHARS, label="API version"),
    }


def catalog_error(form: Form, exc: catalog.CatalogError) -> None:
    name = (exc.field or "form").split(".", 1)[0]
    form.error(
        name if name in form.values or name in ("name", "kind", "api_base") else "form", sentence(exc.message)
    )


async def provider_or_404(session: Any, provider_id: int) -> Provider:
    try:
        return await catalog.get_provider(session, provider_id)
    except NotFoundError as exc:
        raise AdminNotFoundError(f"There is no provider with id {provider_id}.") from exc


async def deployment_or_404(session: Any, deployment_id: int) -> Deployment:
    try:
        return await catalog.get_deployment(session, deployment_id)
    except NotFoundError as exc:
        raise AdminNotFoundError(f"There is no deployment with id {deployment_id}.") from exc


def provider_spec(request: AnyRequest, p: Provider, api_version: str | None = None) -> ProviderSpec:
    """The provider as the hub wants it, credential decrypted here and handed straight to the test call."""
    credential = request.app.state.cipher.decrypt(p.credential_encrypted) if p.credential_encrypted else None
    return ProviderSpec(
        id=p.id,
        name=p.name,
        kind=p.kind,
        api_base=p.api_base,
        api_version=api_version or p.api_version,
        credential=credential,
        extra_params=dict(p.extra_params or {}),
    )


async def run_test(request: AnyRequest, spec_of: Any, model: str) -> tuple[bool, str]:
    hub = getattr(request.app.state, "hub", None)
    if hub is None:
        return False, "The provider hub is not running in this process."
    try:
        spec = spec_of()
    except CredentialDecryptError:
        return False, "The stored credential cannot be decrypted with this service's secret key; replace it."
    ok, message = await hub.test_connection(spec, model)
    return bool(ok), str(message)


def credential_check(request: AnyRequest, form: Form) -> None:
    """Refuse (403) a form from a non-owner that would set, replace or remove a credential."""
    touches = bool(form.values.get("api_key", "").strip()) or form.checkbox("remove_credential")
    if touches and not may_set_credentials(current_principal(request)):
        raise RoleForbiddenError(detail=sentence(CREDENTIALS_ARE_OWNERS))


class ProvidersController(Controller):
    path = "/admin"

    async def _list_page(
        self,
        request: AnyRequest,
        *,
        provider_form: dict[str, Any] | None = None,
        provider_errors: dict[str, str] | None = None,
        deployment_form: dict[str, Any] | None = None,
        deployment_errors: dict[str, str] | None = None,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            providers = await catalog.list_providers(session)
            deployments = await catalog.list_deployments(session)
            drift = await config_drift(session)
        return render(
            request,
            "admin/providers.html",
            {
                "drift": drift,
                "providers": providers,
                "deployments": deployments,
                "kind_hints": KIND_HINTS,
                "provider_form": provider_form or {"kind": "openai"},
                "may_set_credentials": may_set_credentials(current_principal(request)),
                "provider_errors": provider_errors or {},
                "deployment_form": deployment_form or {},
                "deployment_errors": deployment_errors or {},
            },
            status=422 if provider_errors or deployment_errors else 200,
        )

    @get("/providers")
    async def list_providers(self, request: AnyRequest, store: StoreAccess) -> Template:
        return await self._list_page(request, store=store)

    @post("/providers")
    async def create_provider(
        self, request: AnyRequest, store: StoreAccess, cipher: CredentialCipher
    ) -> Template | Redirect:
        form = Form(await request.form())
        credential_check(request, form)
        values = read_provider(form)
        api_key = form.values.get("api_key", "").strip() or None
        if api_key is not None and len(api_key) > 4000:
            form.error("api_key", "The credential must be at most 4000 characters.")
        if form.ok:
            try:
                async with store.mutating() as session:
                    row = await catalog.create_provider(
                        session,
                        cipher=cipher,
                        **values,
                        api_key=api_key,
                        actor=actor(request),
                    )
                return see_other(f"/admin/providers/{row.id}", "created")
            except catalog.CatalogError as exc:
                catalog_error(form, exc)
        kept = {k: v for k, v in form.values.items() if k != "api_key"}
        return await self._list_page(request, provider_form=kept, provider_errors=form.errors, store=store)

    async def _provider_page(
        self,
        request: AnyRequest,
        provider_id: int,
        form: dict[str, Any] | None = None,
        errors: Any = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            provider = await provider_or_404(session, provider_id)
            deployments = [d for d in await catalog.list_deployments(session) if d.provider_id == provider.id]
        return form_page(
            request,
            "admin/provider.html",
            {
                "provider": provider,
                "has_credential": provider.credential_encrypted is not None,
                "may_set_credentials": may_set_credentials(current_principal(request)),
                "deployments": deployments,
                "kind_hints": KIND_HINTS,
            },
            form=form or provider_values(provider),
            errors=errors,
        )

    @get("/providers/{provider_id:int}")
    async def provider_page(self, request: AnyRequest, provider_id: int, store: StoreAccess) -> Template:
        return await self._provider_page(request, provider_id, store=store)

    @post("/providers/{provider_id:int}")
    async def update_provider(
        self, request: AnyRequest, provider_id: int, store: StoreAccess, cipher: CredentialCipher
    ) -> Template | Redirect:
        form = Form(await request.form())
        credential_check(request, form)
        values = read_provider(form)
        changes: dict[str, Any] = dict(values)
        new_key = form.values.get("api_key", "").strip()
        if form.checkbox("remove_credential"):
            changes["api_key"] = None
        elif new_key:
            if len(new_key) > 4000:
                form.error("api_key", "The credential must be at most 4000 characters.")
            changes["api_key"] = new_key
        if form.ok:
            try:
                async with store.mutating() as session:
                    await provider_or_404(session, provider_id)
                    await catalog.update_provider(
                        session, provider_id, cipher=cipher, **changes, actor=actor(request)
                    )
                return see_other(f"/admin/providers/{provider_id}", "saved")
            except catalog.CatalogError as exc:
                catalog_error(form, exc)
        kept = {k: v for k, v in form.values.items() if k != "api_key"}
        return await self._provider_page(request, provider_id, kept, form.errors, store=store)

    @post("/providers/{provider_id:int}/delete")
    async def delete_provider(
        self, request: AnyRequest, provider_id: int, store: StoreAccess
    ) -> Template | Redirect:
        try:
            async with store.mutating() as session:
                await provider_or_404(session, provider_id)
                await catalog.delete_provider(session, provider_id, actor=actor(request))
        except catalog.CatalogError as exc:
            async with store.reading() as session:
                provider = await provider_or_404(session, provider_id)
            return await self._provider_page(
                request, provider_id, provider_values(provider), {"form": sentence(exc.message)}, store=store
            )
        return see_other("/admin/providers", "deleted")

    @post("/providers/{provider_id:int}/test")
    async def test_provider(self, request: AnyRequest, provider_id: int, store: StoreAccess) -> Template:
        form = Form(await request.form())
        model = form.text("model", required=True, max_len=MODEL_CHARS, label="Model") or ""
        if not form.ok:
            return render(
                request, "admin/partials/test_result.html", {"ok": False, "message": form.errors["model"]}
            )
        async with store.reading() as session:
            provider = await provider_or_404(session, provider_id)
        ok, message = await run_test(request, lambda: provider_spec(request, provider), model)
        return render(request, "admin/partials/test_result.html", {"ok": ok, "message": message})

    # ---- deployments ---------------------------------------------------------------------------------
    @staticmethod
    async def _check_owner(request: AnyRequest, form: Form, provider: str, store: StoreAccess) -> None:
        """The provider must exist and be of kind azure (found with the other fields' problems)."""
        if not provider:
            return
        async with store.reading() as session:
            owner = await catalog.find_provider(session, provider)
        if owner is None:
            form.check("provider", f"Unknown provider {provider!r}.")
        else:
            form.check("provider", deployment_provider_error(owner.name, owner.kind))

    @post("/deployments")
    async def create_deployment(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        values = read_deployment(form)
        await self._check_owner(request, form, values["provider"], store=store)
        if form.ok:
            try:
                async with store.mutating() as session:
                    await catalog.create_deployment(session, **values, actor=actor(request))
                return see_other("/admin/providers#deployments", "created")
            except catalog.CatalogError as exc:
                catalog_error(form, exc)
        return await self._list_page(
            request, deployment_form=form.values, deployment_errors=form.errors, store=store
        )

    async def _deployment_page(
        self,
        request: AnyRequest,
        deployment_id: int,
        form: dict[str, Any] | None = None,
        errors: Any = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            deployment = await deployment_or_404(session, deployment_id)
            providers = await catalog.list_providers(session)
        return form_page(
            request,
            "admin/deployment.html",
            {
                "deployment": deployment,
                "providers": providers,
            },
            form=form or deployment_values(deployment),
            errors=errors,
        )

    @get("/deployments/{deployment_id:int}")
    async def deployment_page(self, request: AnyRequest, deployment_id: int, store: StoreAccess) -> Template:
        return await self._deployment_page(request, deployment_id, store=store)

    @post("/deployments/{deployment_id:int}")
    async def update_deployment(
        self, request: AnyRequest, deployment_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        values = read_deployment(form)
        await self._check_owner(request, form, values["provider"], store=store)
        if form.ok:
            try:
                async with store.mutating() as session:
                    await deployment_or_404(session, deployment_id)
                    await catalog.update_deployment(session, deployment_id, **values, actor=actor(request))
                return see_other(f"/admin/deployments/{deployment_id}", "saved")
            except catalog.CatalogError as exc:
                catalog_error(form, exc)
        return await self._deployment_page(request, deployment_id, form.values, form.errors, store=store)

    @post("/deployments/{deployment_id:int}/delete")
    async def delete_deployment(
        self, request: AnyRequest, deployment_id: int, store: StoreAccess
    ) -> Template | Redirect:
        try:
            async with store.mutating() as session:
                await deployment_or_404(session, deployment_id)
                await catalog.delete_deployment(session, deployment_id, actor=actor(request))
        except catalog.CatalogError as exc:
            return await self._deployment_page(
                request, deployment_id, None, {"form": sentence(exc.message)}, store=store
            )
        return see_other("/admin/providers#deployments", "deleted")

    @post("/deployments/{deployment_id:int}/test")
    async def test_deployment(self, request: AnyRequest, deployment_id: int, store: StoreAccess) -> Template:
        async with store.reading() as session:
            deployment = await deployment_or_404(session, deployment_id)
        ok, message = await run_test(
            request,
            lambda: provider_spec(request, deployment.provider, deployment.api_version),
            deployment.deployment,
        )
        return render(request, "admin/partials/test_result.html", {"ok": ok, "message": message})
