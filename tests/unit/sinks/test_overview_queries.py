"""The overview's queries, filled as the page fills them, on an empty database: zeros and
empty lists, never an error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sinks.definitions import SqlDefinitions
from sinks.overview import overview_queries
from sinks.writer import ClickHouseWriter

QUERIES = overview_queries("eu", "Europe/Paris", 7)


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
    rows = empty.rows(QUERIES[name])
    assert all(value in (0, 0.0) for row in rows for value in row)


def test_the_projects_and_their_zones(empty: ClickHouseWriter) -> None:
    assert empty.rows("SELECT project, timezone FROM siyu.project_zones ORDER BY project") == [
        ("default", "Asia/Shanghai"),
        ("eu", "Europe/Paris"),
    ]
