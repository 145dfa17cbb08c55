"""The domain is a leaf: it imports without Kafka, Faust, ClickHouse, YAML or the
``schemas`` package, and ``schemas`` reaches into ``streams`` only for domain records."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[4]
BANNED = {"faust", "aiokafka", "kafka", "clickhouse_connect", "chdb", "yaml", "ruamel", "schemas"}
FIRST_PARTY = {"collectors", "lookup", "schemas", "sinks", "siyu", "streams", "webhooks"}
# The domain may use the root error class; nothing else outside it.
ALLOWED_OUTSIDE = {"streams", "siyu", "siyu.exceptions"}

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import streams.domain as domain
names = [m.name for m in pkgutil.walk_packages(domain.__path__, "streams.domain.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def test_every_domain_module_imports_without_frameworks_yaml_or_schemas() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found = json.loads(run.stdout)
    files = {p.stem for p in (ROOT / "streams" / "domain").glob("*.py")} - {"__init__"}
    assert {m.rsplit(".", 1)[1] for m in found["modules"]} == files
    loaded: set[str] = set(found["loaded"])
    assert {m.split(".")[0] for m in loaded} & BANNED == set()
    ours = {m for m in loaded if m.split(".")[0] in FIRST_PARTY}
    assert {m for m in ours if not m.startswith("streams.domain")} <= ALLOWED_OUTSIDE


def test_schemas_import_only_the_domain_from_streams() -> None:
    reached: dict[str, str] = {}
    for path in sorted((ROOT / "schemas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.split(".")[0] in FIRST_PARTY - {"schemas", "siyu"}:
                    reached[f"{path.name}: {name}"] = name
    assert reached, "schemas uses no domain record: this test checks nothing"
    assert {k for k, name in reached.items() if not name.startswith("streams.domain.")} == set()
