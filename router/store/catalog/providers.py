"""Providers (with their encrypted credential) and Azure deployments."""

from __future__ import annotations

from collections.abc import Mapping
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.config.drafts import DeploymentDraft, ProviderDraft
from router.config.validate import deployment_issues, provider_issues
from router.store.catalog._base import (
    DEPLOYMENT_PREFIX,
    CatalogConflict,
    CatalogError,
    changed,
    known_names,
    raise_first,
    rename_refs,
    target_users,
)
from router.store.db import NotFoundError
from router.store.models import Deployment, Provider

if TYPE_CHECKING:
    from router.store.crypto import CredentialCipher


def provider_state(p: Provider) -> dict[str, Any]:
    """The provider without its credential: whether one is set, and its `${ENV}` reference."""
    return {
        "name": p.name,
        "kind": p.kind,
        "api_base": p.api_base,
        "api_version": p.api_version,
        "extra_params": dict(p.extra_params or {}),
        "has_credential": p.credential_encrypted is not None,
        "credential_ref": p.credential_ref,
    }


async def list_providers(session: AsyncSession) -> list[Provider]:
    return list((await session.scalars(select(Provider).order_by(Provider.name))).all())


async def get_provider(session: AsyncSession, provider_id: int) -> Provider:
    row = await session.get(Provider, provider_id)
    if row is None:
        raise NotFoundError(f"no provider with id {provider_id}")
    return row


async def find_provider(session: AsyncSession, name: str) -> Provider | None:
    return await session.scalar(select(Provider).where(Provider.name == name))


def _check_provider_fields(draft: ProviderDraft) -> None:
    raise_first(provider_issues(draft), whole="name")


async def create_provider(
    session: AsyncSession,
    *,
    cipher: CredentialCipher,
    name: str,
    kind: str,
    api_base: str | None = None,
    api_version: str | None = None,
    api_key: str | None = None,
    credential_ref: str | None = None,
    extra_params: Mapping[str, Any] | None = None,
    actor: str = "cli",
) -> Provider:
    """`api_key` is stored encrypted; `credential_ref` is the `${ENV}` name it came from, if any."""
    extra = dict(extra_params or {})
    _check_provider_fields(
        ProviderDraft(
            name, kind, api_base, api_version, extra, credential_ref=credential_ref if api_key else None
        )
    )
    if await find_provider(session, name) is not None:
        raise CatalogConflict(f"a provider named {name!r} already exists", field="name")
    row = Provider(
        name=name,
        kind=kind,
        api_base=api_base or None,
        api_version=api_version or None,
        credential_encrypted=cipher.encrypt(api_key) if api_key else None,
        credential_ref=credential_ref if api_key else None,
        extra_params=extra,
    )
    session.add(row)
    await session.flush()
    await changed(session, actor, "create", "provider", row.id, name, None, provider_state(row))
    return row


async def update_provider(
    session: AsyncSession,
    provider_id: int,
    *,
    cipher: CredentialCipher,
    name: str | EllipsisType = ...,
    kind: str | EllipsisType = ...,
    api_base: str | EllipsisType | None = ...,
    api_version: str | EllipsisType | None = ...,
    api_key: str | EllipsisType | None = ...,
    credential_ref: str | EllipsisType | None = ...,
    extra_params: Mapping[str, Any] | EllipsisType = ...,
    actor: str = "cli",
) -> Provider:
    """`api_key=None` removes the credential; a new `api_key` drops the old `${ENV}` reference (unless given).

    A rename rewrites every rule, chain, price and allowed-targets entry that names the provider.
    """
    row = await get_provider(session, provider_id)
    before = provider_state(row)
    new_name = row.name if isinstance(name, EllipsisType) else name
    new_kind = row.kind if isinstance(kind, EllipsisType) else kind
    new_base = row.api_base if isinstance(api_base, EllipsisType) else (api_base or None)
    new_extra = dict(row.extra_params or {}) if isinstance(extra_params, EllipsisType) else dict(extra_params)
    new_version = row.api_version if isinstance(api_version, EllipsisType) else api_version
    new_ref = None if isinstance(credential_ref, EllipsisType) else credential_ref
    _check_provider_fields(
        ProviderDraft(new_name, new_kind, new_base, new_version, new_extra, credential_ref=new_ref)
    )
    if new_kind != row.kind and new_kind != "azure":
        used = await session.scalar(select(Deployment.name).where(Deployment.provider_id == row.id).limit(1))
        if used is not None:
            raise CatalogError(
                f"provider {row.name!r} serves deployment {used!r}: deployments need an azure provider",
                field="kind",
            )
    if new_name != row.name:
        if await find_provider(session, new_name) is not None:
            raise CatalogConflict(f"a provider named {new_name!r} already exists", field="name")
        old_prefix, new_prefix = row.name + "/", new_name + "/"
        await rename_refs(
            session, lambda ref: new_prefix + ref[len(old_prefix) :] if ref.startswith(old_prefix) else ref
        )
    row.name, row.kind, row.api_base, row.extra_params = new_name, new_kind, new_base, new_extra
    if not isinstance(api_version, EllipsisType):
        row.api_version = api_version or None
    # The credential stored again (or removed where there is none) is no change: no audit entry, no bump.
    new_key = False
    if not isinstance(api_key, EllipsisType) and not cipher.holds(row.credential_encrypted, api_key or None):
        new_key = True
        row.credential_encrypted = cipher.encrypt(api_key) if api_key else None
        row.credential_ref = None
    if not isinstance(credential_ref, EllipsisType):
        row.credential_ref = credential_ref if row.credential_encrypted is not None else None
    after = provider_state(row)
    # A new key is a change the audited view cannot show (it says only that one is set).
    if after != before or new_key:
        await changed(session, actor, "update", "provider", row.id, row.name, before, after)
    return row


async def delete_provider(session: AsyncSession, provider_id: int, *, actor: str = "cli") -> None:
    """Refused while a rule or chain targets the provider or its deployments; its deployments go too."""
    row = await session.scalar(
        select(Provider).where(Provider.id == provider_id).options(selectinload(Provider.deployments))
    )
    if row is None:
        raise NotFoundError(f"no provider with id {provider_id}")
    prefix = row.name + "/"
    deployment_refs = {DEPLOYMENT_PREFIX + d.name for d in row.deployments}
    users = await target_users(session, lambda ref: ref.startswith(prefix) or ref in deployment_refs)
    if users:
        raise CatalogError(f"provider {row.name!r} is still used by {', '.join(users)}")
    await changed(session, actor, "delete", "provider", row.id, row.name, provider_state(row), None)
    await session.delete(row)
    await session.flush()


def deployment_state(d: Deployment, provider: str) -> dict[str, Any]:
    return {
        "name": d.name,
        "provider": provider,
        "deployment": d.deployment,
        "model": d.model,
        "api_version": d.api_version,
    }


async def list_deployments(session: AsyncSession) -> list[Deployment]:
    query = select(Deployment).options(selectinload(Deployment.provider)).order_by(Deployment.name)
    return list((await session.scalars(query)).all())


async def get_deployment(session: AsyncSession, deployment_id: int) -> Deployment:
    query = (
        select(Deployment).where(Deployment.id == deployment_id).options(selectinload(Deployment.provider))
    )
    row = await session.scalar(query)
    if row is None:
        raise NotFoundError(f"no deployment with id {deployment_id}")
    return row


async def find_deployment(session: AsyncSession, name: str) -> Deployment | None:
    query = select(Deployment).where(Deployment.name == name).options(selectinload(Deployment.provider))
    return await session.scalar(query)


async def _provider_named(session: AsyncSession, name: str) -> Provider:
    provider = await find_provider(session, name)
    if provider is None:
        raise CatalogError(f"unknown provider {name!r}", field="provider")
    return provider


async def _check_deployment_fields(session: AsyncSession, draft: DeploymentDraft) -> None:
    raise_first(deployment_issues(draft, await known_names(session)), whole="name")


async def create_deployment(
    session: AsyncSession,
    *,
    name: str,
    provider: str,
    deployment: str,
    model: str,
    api_version: str | None = None,
    actor: str = "cli",
) -> Deployment:
    await _check_deployment_fields(session, DeploymentDraft(name, provider, deployment, model, api_version))
    owner = await _provider_named(session, provider)
    if await find_deployment(session, name) is not None:
        raise CatalogConflict(f"a deployment named {name!r} already exists", field="name")
    row = Deployment(
        name=name, provider=owner, deployment=deployment, model=model, api_version=api_version or None
    )
    session.add(row)
    await session.flush()
    await changed(
        session, actor, "create", "deployment", row.id, name, None, deployment_state(row, owner.name)
    )
    return row


async def update_deployment(
    session: AsyncSession,
    deployment_id: int,
    *,
    name: str | EllipsisType = ...,
    provider: str | EllipsisType = ...,
    deployment: str | EllipsisType = ...,
    model: str | EllipsisType = ...,
    api_version: str | EllipsisType | None = ...,
    actor: str = "cli",
) -> Deployment:
    """A rename rewrites every `deployment/NAME` ref (rules, chains, prices, allowed targets)."""
    row = await get_deployment(session, deployment_id)
    before = deployment_state(row, row.provider.name)
    new_name = row.name if isinstance(name, EllipsisType) else name
    new_dep = row.deployment if isinstance(deployment, EllipsisType) else deployment
    new_model = row.model if isinstance(model, EllipsisType) else model
    new_provider = row.provider.name if isinstance(provider, EllipsisType) else provider
    new_version = row.api_version if isinstance(api_version, EllipsisType) else api_version
    await _check_deployment_fields(
        session, DeploymentDraft(new_name, new_provider, new_dep, new_model, new_version)
    )
    if not isinstance(provider, EllipsisType) and provider != row.provider.name:
        row.provider = await _provider_named(session, provider)
    if new_name != row.name:
        if await find_deployment(session, new_name) is not None:
            raise CatalogConflict(f"a deployment named {new_name!r} already exists", field="name")
        old_ref, new_ref = DEPLOYMENT_PREFIX + row.name, DEPLOYMENT_PREFIX + new_name
        await rename_refs(session, lambda ref: new_ref if ref == old_ref else ref)
    row.name, row.deployment, row.model = new_name, new_dep, new_model
    if not isinstance(api_version, EllipsisType):
        row.api_version = api_version or None
    after = deployment_state(row, row.provider.name)
    if after != before:
        await changed(session, actor, "update", "deployment", row.id, row.name, before, after)
    return row


async def delete_deployment(session: AsyncSession, deployment_id: int, *, actor: str = "cli") -> None:
    row = await get_deployment(session, deployment_id)
    ref = DEPLOYMENT_PREFIX + row.name
    users = await target_users(session, lambda r: r == ref)
    if users:
        raise CatalogError(f"deployment {row.name!r} is still used by {', '.join(users)}")
    await changed(
        session,
        actor,
        "delete",
        "deployment",
        row.id,
        row.name,
        deployment_state(row, row.provider.name),
        None,
    )
    await session.delete(row)
    await session.flush()
