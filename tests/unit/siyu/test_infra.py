"""The scaled-out stack (infra/) cannot start here: check it agrees with the settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from siyu.settings import Settings

ROOT = Path(__file__).parents[3]
INFRA = ROOT / "infra"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    return doc


def _siyu_env(compose: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = compose["x-siyu-env"]
    return env


def test_services_of_the_scaled_out_stack(compose: dict[str, Any]) -> None:
    expected = {"kafka", "clickhouse", "prometheus", "grafana", "sink", "worker", "collector"}
    assert expected | {"lookup"} <= set(compose["services"])
    for name in ("sink", "worker", "collector", "lookup", "topics"):
        service = compose["services"][name]
        assert service["command"][0] == "siyu"
        assert service["environment"] == _siyu_env(compose)


def test_every_siyu_variable_is_a_setting(compose: dict[str, Any]) -> None:
    sections = set(Settings.model_fields)
    for var in _siyu_env(compose):
        name = var.removeprefix("SIYU_").lower()
        if name in sections:
            continue
        section, _, field = name.partition("_")
        assert section in sections, var
        model = type(getattr(Settings(), section))
        assert field in model.model_fields, var


def test_settings_built_from_the_compose_environment(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, value in _siyu_env(compose).items():
        monkeypatch.setenv(var, value)
    s = Settings()
    assert s.kafka.bootstrap == "kafka:9092"
    assert not s.kafka.embedded
    assert s.clickhouse.url is not None
    assert not s.clickhouse.embedded
    assert s.collector.host == "0.0.0.0"
    advertised = compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert advertised.endswith("//" + s.kafka.bootstrap)
    published = {p.split(":")[1] for p in compose["services"]["collector"]["ports"]}
    assert str(s.collector.port) in published
    assert str(s.sink.metrics_port) in compose["services"]["sink"]["ports"][0]
    assert f"{s.lookup.port}:{s.lookup.port}" in compose["services"]["lookup"]["ports"]


def test_prometheus_scrapes_every_siyu_process() -> None:
    config = yaml.safe_load((INFRA / "prometheus.yml").read_text())
    text = yaml.safe_dump(config)
    s = Settings()
    assert f"collector:{s.collector.port}" in text
    assert f"sink:{s.sink.metrics_port}" in text
    assert f"port: {s.worker.metrics_port}" in text
    assert f"lookup:{s.lookup.port}" in text


def test_image_contains_every_package() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"include = \[(.*?)\]", pyproject)
    assert include is not None
    for package in re.findall(r'"(\w+)\*"', include.group(1)):
        assert f"COPY {package} {package}" in dockerfile, package


def test_compose_mounts_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (INFRA / source).exists(), source
