"""The Kubernetes manifests in ``deploy/k8s`` against the code and the compose file: images, ports,
environment variables (each a field of the service's settings class, and loadable by it), probes on
``/healthz`` and ``/readyz``, Services selecting their Deployments, the Secret the database URLs come
from, and autoscaling for gateway and settlement. No cluster is needed."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tests.deploy.test_deploy_files import (
    APP_SERVICES,
    OPERATOR_SET,
    AppService,
    app_services,
    connections_per_process,
    env_prefix,
    environment,
    service,
    settings_class,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SECRET_EXAMPLE = K8S / "secrets.example.yaml"


@cache
def manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = K8S / resource
        assert path.is_file(), f"kustomization lists {resource}, which does not exist"
        docs += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return docs


def find(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(svc: AppService) -> dict[str, Any]:
    containers = find("Deployment", svc.name)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == svc.name)


def env_of(svc: AppService) -> dict[str, str | dict[str, Any]]:
    """What the service container's environment holds: ConfigMap values, and valueFrom references."""
    spec = container(svc)
    env: dict[str, str | dict[str, Any]] = {}
    for source in spec.get("envFrom", []):
        env.update(find("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in spec.get("env", []):
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def test_every_manifest_file_is_applied_except_the_secret_example() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", SECRET_EXAMPLE.name}
    assert listed == on_disk
    assert not [d for d in manifests() if d["kind"] == "Secret"], "secrets are not committed with values"


@app_services
def test_deployment_runs_the_compose_image_on_its_port(svc: AppService) -> None:
    spec = container(svc)
    assert spec["image"] == str(service(svc.name)["image"]).partition(":")[0]
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports == {"http": svc.port}
    command = " ".join(spec["command"])
    assert f"uvicorn {svc.package}.main:app" in command and f"--port {svc.port}" in command
    init = find("Deployment", svc.name)["spec"]["template"]["spec"]["initContainers"]
    assert [" ".join(c["command"]) for c in init] == [f"python -m platformctl migrate {svc.migrate_target}"]


@app_services
def test_probes_use_healthz_and_readyz(svc: AppService) -> None:
    spec = container(svc)
    assert spec["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert spec["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    annotations = find("Deployment", svc.name)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(svc.port)
    assert annotations["prometheus.io/path"] == "/metrics"


@app_services
def test_service_selects_the_deployment_pods(svc: AppService) -> None:
    deployment = find("Deployment", svc.name)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    k8s_service = find("Service", svc.name)
    assert k8s_service["spec"]["selector"].items() <= pod_labels.items()
    assert [(p["port"], p["targetPort"]) for p in k8s_service["spec"]["ports"]] == [(svc.port, "http")]


@app_services
def test_environment_is_made_of_real_settings_fields(svc: AppService) -> None:
    cls = settings_class(svc)
    prefix = env_prefix(cls)
    env = env_of(svc)
    for key in env:
        assert key.startswith(prefix), f"{svc.name}: {key} lacks the {prefix} prefix"
        assert key[len(prefix) :].lower() in cls.model_fields, f"{svc.name}: {key} is no settings field"
    # The same settings compose sets are set here (other values: cluster host names).
    assert set(env) == set(environment(svc.name)), (
        f"{svc.name}: compose and Kubernetes set different variables"
    )
    assert str(env[f"{prefix}KAFKA_IDEMPOTENCE"]).lower() == "true"


@app_services
def test_database_url_comes_from_the_secret(svc: AppService) -> None:
    prefix = env_prefix(settings_class(svc))
    reference = env_of(svc)[f"{prefix}DATABASE_URL"]
    assert isinstance(reference, dict), "the database URL carries a password: it must come from a Secret"
    key_ref = reference["secretKeyRef"]
    example = yaml.safe_load(SECRET_EXAMPLE.read_text(encoding="utf-8"))
    assert key_ref["name"] == example["metadata"]["name"]
    assert key_ref["key"] in example["stringData"], f"{key_ref['key']} is not in {SECRET_EXAMPLE.name}"
    init = find("Deployment", svc.name)["spec"]["template"]["spec"]["initContainers"][0]
    assert {"name": f"{prefix}DATABASE_URL", "valueFrom": reference} in init["env"]


@app_services
def test_auth_secret_comes_from_the_secret_and_the_pods_run_in_production(svc: AppService) -> None:
    prefix = env_prefix(settings_class(svc))
    env = env_of(svc)
    reference = env[f"{prefix}AUTH_SECRET"]
    assert isinstance(reference, dict), "the auth secret must come from a Secret, not a ConfigMap or a value"
    example = yaml.safe_load(SECRET_EXAMPLE.read_text(encoding="utf-8"))
    assert reference["secretKeyRef"] == {"name": example["metadata"]["name"], "key": "auth-secret"}
    assert "auth-secret" in example["stringData"]
    assert env[f"{prefix}ENVIRONMENT"] == "production"


@app_services
def test_settings_load_from_the_configmap_and_secret_example(
    svc: AppService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the example's values are filled in; applied as it is, its auth secret placeholder is refused."""
    cls = settings_class(svc)
    prefix = env_prefix(cls)
    for key in list(os.environ):
        if key.upper().startswith(prefix):
            monkeypatch.delenv(key)
    example = yaml.safe_load(SECRET_EXAMPLE.read_text(encoding="utf-8"))["stringData"]
    for key, value in env_of(svc).items():
        monkeypatch.setenv(key, example[value["secretKeyRef"]["key"]] if isinstance(value, dict) else value)
    with pytest.raises(ValidationError, match=f"{prefix}AUTH_SECRET"):
        cls()
    monkeypatch.setenv(f"{prefix}AUTH_SECRET", OPERATOR_SET["PLATFORM_AUTH_SECRET"])
    settings = cls()  # raises ValidationError on a bad value
    assert getattr(settings, "kafka_idempotence") is True  # noqa: B009
    assert getattr(settings, "environment") == "production"  # noqa: B009


def test_gateway_and_settlement_autoscale() -> None:
    scaled = {
        d["spec"]["scaleTargetRef"]["name"]: d for d in manifests() if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert set(scaled) == {"gateway", "settlement"}
    for name, hpa in scaled.items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        find("Deployment", name)
        assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        requests = container(next(s for s in APP_SERVICES if s.name == name))["resources"]["requests"]
        assert "cpu" in requests, "CPU utilisation needs a CPU request"


def test_the_deployment_notes_give_the_connections_the_pods_may_open() -> None:
    """Every pod, at the autoscalers' maximum, with its pools full: the figure deploy/README.md tells the
    operator to size PostgreSQL's ``max_connections`` for."""
    scaled = {
        d["spec"]["scaleTargetRef"]["name"]: d["spec"]["maxReplicas"]
        for d in manifests()
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    total = sum(
        scaled.get(svc.name, find("Deployment", svc.name)["spec"]["replicas"])
        * connections_per_process(svc, env_of(svc))
        for svc in APP_SERVICES
    )
    notes = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    assert f"**{total}** connections" in notes, total
