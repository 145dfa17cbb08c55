"""The Kubernetes manifests (infra/k8s/) against Kubernetes' own schemas and siyu's settings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from siyu.settings import Settings

K8S = Path(__file__).parents[3] / "infra" / "k8s"
# The oldest Kubernetes minor still supported upstream when these manifests were written.
VERSION = "1.33.0"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    yaml = YAML(typ="safe")
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend((f"{path.name}:{d['kind']}", d) for d in yaml.load_all(path.read_text()))
    return docs


DOCS = _documents()


def _kind(kind: str, name: str) -> dict[str, Any]:
    return next(d for _, d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name)


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for _, doc in DOCS
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}
    ]


@pytest.mark.parametrize(("where", "doc"), DOCS, ids=[w for w, _ in DOCS])
def test_manifest_is_valid_kubernetes(where: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, VERSION, strict=True)


def test_a_misspelt_field_is_caught() -> None:
    deployment = copy.deepcopy(_kind("Deployment", "siyu-collector"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSION, strict=True)


def test_every_part_runs_with_its_command() -> None:
    commands = {name: spec["containers"][0]["command"] for name, spec in _pod_specs()}
    assert commands == {
        "siyu-collector": ["siyu", "collector"],
        "siyu-lookup": ["siyu", "lookup"],
        "siyu-worker": ["siyu", "worker"],
        "siyu-sink": ["siyu", "sink"],
        "siyu-topics": ["siyu", "topics"],
    }


def _env() -> dict[str, str]:
    config = _kind("ConfigMap", "siyu-env")["data"]
    return {**config, **_kind("Secret", "siyu-secrets")["stringData"]}


@pytest.fixture
def k8s_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var, value in _env().items():
        monkeypatch.setenv(var, value)
    return Settings()


def test_config_is_siyu_settings(k8s_settings: Settings) -> None:
    fields = {
        f"SIYU_{section.upper()}_{name.upper()}"
        for section in Settings.model_fields
        for name in getattr(type(getattr(k8s_settings, section, None)), "model_fields", {})
    } | {f"SIYU_{name.upper()}" for name in Settings.model_fields}
    env = _env()
    assert set(env) <= fields, set(env) - fields
    assert not k8s_settings.kafka.embedded
    assert not k8s_settings.clickhouse.embedded
    assert k8s_settings.clickhouse.cluster == "siyu"


def test_ports_and_probes_match_the_settings(k8s_settings: Settings) -> None:
    expected = {
        "siyu-collector": k8s_settings.collector.port,
        "siyu-lookup": k8s_settings.lookup.port,
        "siyu-worker": k8s_settings.worker.metrics_port,
        "siyu-sink": k8s_settings.sink.metrics_port,
    }
    for name, spec in _pod_specs():
        container = spec["containers"][0]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        if name not in expected:
            continue
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert list(ports.values()) == [expected[name]], name
        probe = container.get("readinessProbe") or container["livenessProbe"]
        assert probe["httpGet"]["port"] in ports, name
    for host in ("collector", "lookup"):
        assert getattr(k8s_settings, host).host == "0.0.0.0"
    assert k8s_settings.worker.metrics_host == k8s_settings.sink.metrics_host == "0.0.0.0"
    assert k8s_settings.webhooks.metrics_host == "0.0.0.0"


def test_services_select_their_pods() -> None:
    pods = {
        doc["metadata"]["name"]: doc["spec"]["template"]
        for _, doc in DOCS
        if doc["kind"] in {"Deployment", "StatefulSet"}
    }
    for _, service in ((w, d) for w, d in DOCS if d["kind"] == "Service"):
        template = pods[service["metadata"]["name"]]
        labels = template["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        names = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


def test_workers_do_not_outnumber_partitions(k8s_settings: Settings) -> None:
    assert _kind("StatefulSet", "siyu-worker")["spec"]["replicas"] <= k8s_settings.kafka.partitions


def test_every_object_lives_in_the_siyu_namespace() -> None:
    for where, doc in DOCS:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "siyu", where
