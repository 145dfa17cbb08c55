"""The scaled-out stack (infra/) cannot start here: check it agrees with the settings."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema
import pytest
from ruamel.yaml import YAML

from siyu.settings import Settings

ROOT = Path(__file__).parents[3]
INFRA = ROOT / "infra"


def _load(name: str) -> Any:
    return YAML(typ="safe").load((INFRA / name).read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = _load("docker-compose.yml")
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


def test_prometheus_scrapes_every_siyu_process(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    dumper, out = YAML(typ="safe"), io.StringIO()
    dumper.default_flow_style = False
    dumper.dump(_load("prometheus.yml"), out)
    text = out.getvalue()
    s = _compose_settings(compose, monkeypatch)
    assert f"collector:{s.collector.port}" in text
    assert f"sink:{s.sink.metrics_port}" in text
    assert f"port: {s.worker.metrics_port}" in text
    assert f"lookup:{s.lookup.port}" in text
    assert f"webhooks:{s.webhooks.metrics_port}" in text
    # Scraped from other containers: the metrics listeners must not be loopback-only.
    assert s.worker.metrics_host == "0.0.0.0"
    assert s.sink.metrics_host == "0.0.0.0"
    assert s.webhooks.metrics_host == "0.0.0.0"


def _compose_settings(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var, value in _siyu_env(compose).items():
        monkeypatch.setenv(var, value)
    return Settings()


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((INFRA / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(compose)


def test_compose_spec_check_catches_a_wrong_key(compose: dict[str, Any]) -> None:
    schema = json.loads((INFRA / "schemas" / "compose-spec.json").read_text())
    broken = copy.deepcopy(compose)
    broken["services"]["sink"]["healthcheck"]["intervall"] = "10s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_siyu_services_wait_for_topics_and_report_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("sink", "worker", "collector", "lookup"):
        service = services[name]
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        probe = " ".join(service["healthcheck"]["test"])
        assert "urlopen('http://127.0.0.1:" in probe, name


def test_kafka_keeps_its_log_on_the_volume(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    log_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert any(v.split(":")[1] == log_dir for v in kafka["volumes"])


def test_grafana_reads_as_a_read_only_user(compose: dict[str, Any]) -> None:
    datasources = _load("grafana/provisioning/datasources/siyu.yaml")
    clickhouse = next(d for d in datasources["datasources"] if "clickhouse" in d["type"])
    user = clickhouse["jsonData"]["username"]
    assert user != compose["services"]["clickhouse"]["environment"]["CLICKHOUSE_USER"]
    users = ElementTree.parse(INFRA / "clickhouse/users.d/grafana.xml").getroot()  # noqa: S314 - our file
    declared = users.find(f"users/{user}")
    assert declared is not None
    profile = users.find(f"profiles/{declared.findtext('profile')}")
    assert profile is not None
    assert profile.findtext("readonly") in {"1", "2"}
    assert [q.text for q in declared.iterfind("grants/query")] == ["GRANT SELECT ON siyu.*"]
    password_var = declared.find("password")
    assert password_var is not None
    env = password_var.get("from_env")
    assert env in compose["services"]["clickhouse"]["environment"]
    assert f"$__env{{{env}}}" == clickhouse["secureJsonData"]["password"]


def test_image_runs_a_service_as_an_unprivileged_user() -> None:
    lines = (INFRA / "Dockerfile").read_text().splitlines()
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user, "the image runs as root"
    assert user[-1] not in {"root", "0"}
    cmd = next(line for line in lines if line.startswith("CMD "))
    assert "--help" not in cmd


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
