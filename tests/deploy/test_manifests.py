"""deploy/: the compose stack checked by Debian's `docker-compose config`, the Kustomize manifests rendered by
`kubectl kustomize` and validated offline against the Kubernetes schemas by `kubernetes-validate`.

`make test` installs the tools (make deploy-tools); CI sets ROUTER_REQUIRE_DEPLOY_TOOLS=1 so that a missing
one fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed (make deploy-tools)"
    if os.environ.get("ROUTER_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _run(*argv: str, cwd: Path) -> str:
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
    return done.stdout


# -- compose ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """`docker-compose config` of deploy/compose.yaml, with the env files made from their examples."""
    docker_compose = _tool("docker-compose")
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"router-compose-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(DEPLOY, work / "deploy")
    shutil.copy(ROOT / "Dockerfile", work / "Dockerfile")
    for example in (work / "deploy").glob("*.env.example"):
        shutil.copy(example, example.with_suffix(""))
    try:
        rendered = _run(docker_compose, "-f", "deploy/compose.yaml", "config", cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    parsed: dict[str, Any] = yaml.safe_load(rendered)
    return parsed


def test_compose_has_postgres_redis_a_migrations_job_two_replicas_and_a_load_balancer(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "router-1", "router-2", "lb"}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["router", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for replica in ("router-1", "router-2"):
        service = services[replica]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["environment"]["ROUTER_MIGRATE_ON_START"] == "false"
        assert service["environment"]["ROUTER_REDIS_URL"].startswith("redis://redis:")
        assert service["read_only"] is True
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert {p["published"] for p in services["lb"]["ports"]} == {8082}


def test_compose_secrets_come_only_from_env_files() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for secret in ("ROUTER_SECRET_KEY", "ROUTER_DATABASE_URL", "POSTGRES_PASSWORD", "ROUTER_METRICS_TOKEN"):
        assert secret not in text.split("# Secrets")[1], f"{secret} is set in compose.yaml itself"
    assert "ROUTER_SECRET_KEY" in (DEPLOY / "router.env.example").read_text()
    assert "ROUTER_SECRET_KEY" not in (DEPLOY / "postgres.env.example").read_text()


def test_load_balancer_checks_readiness_of_both_replicas() -> None:
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert "option httpchk GET /readyz" in config
    assert "server router-1 router-1:8082 check" in config and "server router-2 router-2:8082 check" in config


# -- kubernetes -----------------------------------------------------------------------------------------


def _kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = _tool("kubectl")
    return [doc for doc in yaml.safe_load_all(_run(kubectl, "kustomize", str(path), cwd=ROOT)) if doc]


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in _kustomize(KUBERNETES / "base")}


def test_rendered_manifests_are_valid_kubernetes_objects(manifests: dict[str, dict[str, Any]]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in manifests.values():
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    assert set(manifests) == {
        "ServiceAccount",
        "ConfigMap",
        "Job",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }


def test_deployment_probes_security_resources_and_secret_refs(manifests: dict[str, dict[str, Any]]) -> None:
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["router", "serve", "--no-migrate"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    refs = {next(iter(ref)): next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert refs == {"configMapRef": "router-config", "secretRef": "router-secrets"}
    config = manifests["ConfigMap"]["data"]
    drain = float(config["ROUTER_SHUTDOWN_DRAIN_SECONDS"]) + float(config["ROUTER_SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > drain
    assert not any("SECRET" in key or "PASSWORD" in key for key in config)


def test_migrations_job_and_server_pods_are_told_apart(manifests: dict[str, dict[str, Any]]) -> None:
    job = manifests["Job"]["spec"]["template"]
    assert job["spec"]["containers"][0]["command"] == ["router", "db", "upgrade"]
    assert job["spec"]["securityContext"]["runAsNonRoot"] is True
    job_labels = job["metadata"]["labels"]
    for kind in ("Deployment", "PodDisruptionBudget"):
        selector = manifests[kind]["spec"]["selector"]["matchLabels"]
        assert not selector.items() <= job_labels.items(), f"{kind} would select the migrations pod"
    assert not manifests["Service"]["spec"]["selector"].items() <= job_labels.items()
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert (
        hpa["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
        and hpa["minReplicas"] >= 2
    )


def test_the_example_overlay_adds_namespace_image_settings_and_the_service_monitor() -> None:
    docs = {doc["kind"]: doc for doc in _kustomize(KUBERNETES / "overlays" / "example")}
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in docs.values():
        if doc["kind"] != "ServiceMonitor":  # a CRD: not in the Kubernetes schemas
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    assert {doc["metadata"].get("namespace") for doc in docs.values()} == {"llm"}
    monitor = docs["ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["bearerTokenSecret"] == {
        "name": "router-secrets",
        "key": "ROUTER_METRICS_TOKEN",
    }
    assert monitor["spec"]["selector"]["matchLabels"].items() <= docs["Service"]["metadata"]["labels"].items()
    image = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/platform/router:0.1.0"
    assert docs["ConfigMap"]["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://")
