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

from platformctl.stack import KEEP_ALIVE, SERVER
from tests.deploy.test_deploy_files import (
    APP_SERVICES,
    OPERATOR_SET,
    AppService,
    app_services,
    connections_per_process,
    downstream_settings,
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
    for flag, module in SERVER:  # the event loop and HTTP parser platformctl runs the services on
        assert f"{flag} {module}" in command
    assert " ".join(KEEP_ALIVE) in command  # idle connections outlive the clients' (platformctl/stack.py)
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
def test_each_service_is_told_the_cluster_address_of_every_service_it_calls(svc: AppService) -> None:
    env = env_of(svc)
    by_name = {s.name: s for s in APP_SERVICES}
    for variable, downstream in downstream_settings(svc).items():
        assert variable in env, f"{svc.name}: {variable} unset, it would call a loopback address"
        assert env[variable] == f"http://{downstream}:{by_name[downstream].port}", variable


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


# ------------------------------------------------------------------ schemas, disruption budgets, network


#: The Kubernetes version the manifests are checked against (schemas shipped in kubernetes-validate: offline).
K8S_VERSION = "1.30"


def test_every_manifest_is_valid_against_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    for doc in manifests():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # unknown fields refused too


def _labels(svc: AppService) -> dict[str, str]:
    labels: dict[str, str] = find("Deployment", svc.name)["spec"]["template"]["metadata"]["labels"]
    return labels


@app_services
def test_each_service_has_a_disruption_budget_that_keeps_one_pod_serving(svc: AppService) -> None:
    [budget] = [
        d for d in manifests() if d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == svc.name
    ]
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector.items() <= _labels(svc).items(), "the budget selects the service's pods"
    replicas = find("Deployment", svc.name)["spec"]["replicas"]
    if replicas >= 2:  # never the last ready pod, and a drain can still proceed
        assert budget["spec"].get("minAvailable") == 1 or budget["spec"].get("maxUnavailable") == 1
        assert budget["spec"].get("minAvailable", 0) < replicas
    else:  # one replica: a budget of minAvailable 1 would block every node drain
        assert budget["spec"].get("maxUnavailable") == 1


# A pod seen by the policies: (namespace is ours?, labels).
Peer = tuple[bool, dict[str, str]]
OUTSIDE: Peer = (False, {})  # an institution's HIS, through the ingress: no labels we know, another namespace
POSTGRES: Peer = (True, {"app.kubernetes.io/name": "postgres"})
KAFKA: Peer = (True, {"app.kubernetes.io/name": "kafka"})
PROMETHEUS: Peer = (False, {"app.kubernetes.io/name": "prometheus"})


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return dict(selector.get("matchLabels") or {}).items() <= labels.items()


def _peer_matches(rule_peers: list[dict[str, Any]] | None, peer: Peer) -> bool:
    if rule_peers is None:  # no "from"/"to": every peer
        return True
    ours, labels = peer
    for entry in rule_peers:
        assert "ipBlock" not in entry, "no address ranges: peers are named by labels"
        # namespaceSelector {}: every namespace; none: this namespace only.
        namespace_ok = not entry["namespaceSelector"] if "namespaceSelector" in entry else ours
        if namespace_ok and _matches(entry.get("podSelector") or {}, labels):
            return True
    return False


def _allowed(direction: str, pod: dict[str, str], peer: Peer, port: int) -> bool:
    """Whether the namespace's NetworkPolicies let ``pod`` receive from (``Ingress``) or send to (``Egress``)
    ``peer`` on TCP ``port``: denied unless a policy that selects the pod and has the direction allows it."""
    policies = [
        d
        for d in manifests()
        if d["kind"] == "NetworkPolicy"
        and direction in d["spec"].get("policyTypes", [])
        and _matches(d["spec"]["podSelector"], pod)
    ]
    assert policies, f"no {direction} policy selects {pod}: it would be open"
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in policies:
        for rule in policy["spec"].get(key, []):
            ports = {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])}
            if ports and ("TCP", port) not in ports:
                continue
            if _peer_matches(rule.get(peers_key), peer):
                return True
    return False


def _calls(svc: AppService) -> dict[str, int]:
    """The services ``svc`` is configured to call (its *_URL settings): name -> port."""
    called: dict[str, int] = {}
    for name, value in env_of(svc).items():
        if name.endswith("_URL") and isinstance(value, str) and value.startswith("http://"):
            host, _, port = value.removeprefix("http://").split("/")[0].partition(":")
            called[host] = int(port or 80)
    return called


def test_only_the_gateway_is_reachable_from_outside_and_each_service_only_by_its_callers() -> None:
    by_name = {svc.name: svc for svc in APP_SERVICES}
    callers = {name: {c.name for c in APP_SERVICES if name in _calls(c)} for name in by_name}
    for svc in APP_SERVICES:
        pod = _labels(svc)
        assert _allowed("Ingress", pod, OUTSIDE, svc.port) == (svc.name == "gateway"), svc.name
        assert _allowed("Ingress", pod, PROMETHEUS, svc.port), f"{svc.name}: Prometheus cannot scrape it"
        assert not _allowed("Ingress", pod, OUTSIDE, 5432)
        for other in APP_SERVICES:
            if other is svc:
                continue
            expected = svc.name == "gateway" or other.name in callers[svc.name]
            assert _allowed("Ingress", pod, (True, _labels(other)), svc.port) == expected, (
                other.name,
                svc.name,
            )
    assert callers["enrollment"] == {"gateway", "settlement", "fund-ledger"}
    assert callers["fund-ledger"] == {"gateway", "settlement"}


@app_services
def test_each_service_reaches_its_database_the_brokers_and_the_services_it_calls_only(
    svc: AppService,
) -> None:
    pod = _labels(svc)
    assert _allowed("Egress", pod, POSTGRES, 5432)
    assert _allowed("Egress", pod, KAFKA, 9092)
    assert _allowed("Egress", pod, (False, {"k8s-app": "kube-dns"}), 53)
    called = _calls(svc)
    for other in APP_SERVICES:
        if other is svc:
            continue
        allowed = _allowed("Egress", pod, (True, _labels(other)), other.port)
        assert allowed == (other.name in called), (svc.name, other.name)
        if other.name in called:
            assert called[other.name] == other.port
    assert not _allowed("Egress", pod, OUTSIDE, 443), "no way out to the internet"
    assert not _allowed("Egress", pod, POSTGRES, 9092) and not _allowed("Egress", pod, KAFKA, 5432)
