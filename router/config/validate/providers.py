"""Backends: a provider (kind, base URL, extra parameters) and an Azure deployment on one."""

from __future__ import annotations

from router.config.drafts import DeploymentDraft, ProviderDraft, ValidationIssue
from router.config.fields import (
    RESERVED_PROVIDER_NAMES,
    api_base_error,
    deployment_provider_error,
    extra_params_errors,
    name_error,
    provider_kind_error,
)
from router.config.lengths import (
    API_VERSION_CHARS,
    DEPLOYMENT_CHARS,
    ENV_REF_CHARS,
    MODEL_CHARS,
    length_error,
)
from router.config.validate.issues import Issues, KnownNames


def provider_issues(p: ProviderDraft) -> list[ValidationIssue]:
    """Every problem with one provider (paths: name, kind, api_base, api_version, api_key (its `${ENV}`
    name), extra_params[.KEY])."""
    issues = Issues()
    issues.add("name", name_error(p.name))
    if p.name in RESERVED_PROVIDER_NAMES:
        issues.add("name", f"{p.name!r} is reserved (it starts deployment/, chain/ and pool/ refs)")
    issues.add("kind", provider_kind_error(p.kind))
    issues.add("api_base", api_base_error(p.api_base))
    if p.kind == "azure" and not p.api_base:
        issues.add("api_base", "an azure provider needs api_base")
    issues.add("api_version", length_error(p.api_version, API_VERSION_CHARS))
    if (too_long := length_error(p.credential_ref, ENV_REF_CHARS)) is not None:
        issues.add("api_key", f"the ${{ENV}} name {too_long}")
    for key, problem in extra_params_errors(p.extra_params):
        issues.add("extra_params" + (f".{key}" if key else ""), problem)
    return issues


def deployment_issues(d: DeploymentDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one Azure deployment (paths: name, provider, deployment, model, api_version)."""
    issues = Issues()
    issues.add("name", name_error(d.name))
    if d.provider not in known.providers:
        issues.add("provider", f"unknown provider {d.provider!r}")
    elif d.provider in known.provider_kinds:
        issues.add("provider", deployment_provider_error(d.provider, known.provider_kinds[d.provider]))
    if not d.deployment.strip():
        issues.add("deployment", "must not be empty")
    issues.add("deployment", length_error(d.deployment, DEPLOYMENT_CHARS))
    if not d.model.strip():
        issues.add("model", "must not be empty")
    issues.add("model", length_error(d.model, MODEL_CHARS))
    issues.add("api_version", length_error(d.api_version, API_VERSION_CHARS))
    return issues
