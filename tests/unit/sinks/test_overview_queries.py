"""The overview's queries, filled as the page fills them, on an empty database: zeros and
empty lists, never an error."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from sinks.definitions import SqlDefinitions
from sinks.overview import OVERVIEW_HTML
from sinks.writer import ClickHouseWriter

QUERIES = dict(re.findall(r'^  (\w+): "(SELECT .*)",$', OVERVIEW_HTML, re.M))


def fill(sql: str, project: str, zone: str, days: int) -> str:
    tz = f"'{zone}'"
    d0 = f"toDate(now(), {tz}) - {days - 1}"
    values = {"P": f"project = '{project}'", "TZ": tz, "D0": d0, "T0": f"toDateTime({d0}, {tz})"}
    return re.sub(r"[{](P|TZ|D0|T0)[}]", lambda m: values[m[1]], sql)


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(url=None, chdb_path=tmp_path_factory.mktemp("empty"))
    w.migrate(SqlDefinitions(zones={"default": "Asia/Shanghai", "eu": "Europe/Paris"}))
    yield w
    w.close()


def test_the_page_has_its_queries() -> None:
    assert {"events", "dau", "users", "kfactor", "funnel", "lifecycle", "reasons"} <= set(QUERIES)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_an_empty_database_gives_zeros(empty: ClickHouseWriter, name: str) -> None:
    rows = empty.rows(fill(QUERIES[name], "eu", "Europe/Paris", 7))
    assert all(value in (0, 0.0) for row in rows for value in row)


def test_the_projects_and_their_zones(empty: ClickHouseWriter) -> None:
    assert empty.rows("SELECT project, timezone FROM siyu.project_zones ORDER BY project") == [
        ("default", "Asia/Shanghai"),
        ("eu", "Europe/Paris"),
    ]
