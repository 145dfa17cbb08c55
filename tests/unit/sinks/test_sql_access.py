"""The SQL endpoint on a real chDB: keys, project scoping, forbidden access, limits."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from sinks.exceptions import SinkRejected
from sinks.sql_endpoint import build_sql_app
from sinks.writer import ClickHouseWriter
from siyu.ports import free_port
from siyu.settings import Project, Settings, SqlSettings

with warnings.catch_warnings():
    # Starlette's TestClient would rather use httpx2: about the test transport, not our code.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

KEYS = {"default": "demo-read-key", "other": "other-read-key"}
EVENT_COLUMNS = ["project", "event_id", "type", "event", "time", "received_at", "user_id"]
MARKER = "secret-line-3c1f9"


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = MARKER.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[int, list[str]]]:
    """A local HTTP server: a query that reached the network would show in ``hits``."""
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port, _Counting.hits
    server.shutdown()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "secret.txt"
    path.write_text(MARKER + "\n")
    return path


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    writer = ClickHouseWriter(url=None, chdb_path=tmp_path_factory.mktemp("chdb"))
    writer.migrate()
    now = 1_764_000_000_000
    rows = [("default", f"d{i}", "track", "view", now, now, f"du{i}") for i in range(3)] + [
        ("other", f"o{i}", "track", "view", now, now, f"ou{i}") for i in range(5)
    ]
    writer.insert("siyu.events", EVENT_COLUMNS, rows)
    writer.insert(
        "siyu.identity_map",
        ["project", "id_type", "id_value", "user_id", "version", "deleted", "time", "event_id"],
        [("other", "mobile", "13800138000", "ou1", 1, 0, now, "o1")],
    )
    projects = {
        "default": Project(
            write_key=SecretStr("demo-write-key"), read_key=SecretStr(KEYS["default"])
        ),
        "other": Project(write_key=SecretStr("other-write-key"), read_key=SecretStr(KEYS["other"])),
    }
    settings = Settings(
        projects=projects,
        sql=SqlSettings(max_execution_s=5.0, max_result_rows=50),
    )
    with TestClient(build_sql_app(writer, settings)) as client:
        yield client, writer
    writer.close()


def _refused(reason: str) -> float:
    return REGISTRY.get_sample_value("siyu_sql_refused_total", {"reason": reason}) or 0.0


def _ask(client: TestClient, sql: str, project: str = "default") -> Any:
    return client.post("/", content=sql, auth=(project, KEYS[project]))


def _rows(client: TestClient, sql: str, project: str = "default") -> list[dict[str, Any]]:
    answer = _ask(client, f"{sql} FORMAT JSONEachRow", project)
    assert answer.status_code == 200, answer.text
    return [orjson.loads(line) for line in answer.text.splitlines()]


def test_a_key_is_required_and_names_its_project(endpoint: tuple[TestClient, Any]) -> None:
    client, _ = endpoint
    before = {r: _refused(r) for r in ("missing_key", "wrong_key", "other_project")}
    missing = client.post("/", content="SELECT 1")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert missing.json()["error"]["code"] == "missing_key"
    assert client.post("/", content="SELECT 1", auth=("default", "nope")).status_code == 401
    assert (
        client.post("/", content="SELECT 1", auth=("default", "demo-write-key")).status_code == 401
    )
    other = client.post("/", content="SELECT 1", auth=("other", KEYS["default"]))
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "other_project"
    assert client.get("/overview").status_code == 401
    assert _refused("missing_key") == before["missing_key"] + 2
    assert _refused("wrong_key") == before["wrong_key"] + 2
    assert _refused("other_project") == before["other_project"] + 1
    # The ways ClickHouse clients and siyu tools send the key.
    ok = [
        client.post("/", content="SELECT 1", auth=("default", KEYS["default"])),
        client.post("/", content="SELECT 1", headers={"X-Siyu-Key": KEYS["default"]}),
        client.post(
            "/",
            content="SELECT 1",
            headers={"X-ClickHouse-User": "default", "X-ClickHouse-Key": KEYS["default"]},
        ),
        client.get("/", params={"query": "SELECT 1", "user": "other", "password": KEYS["other"]}),
        client.get("/overview", params={"key": KEYS["default"]}),
    ]
    assert [a.status_code for a in ok] == [200] * 5


def test_each_key_sees_its_own_project_rows(endpoint: tuple[TestClient, Any]) -> None:
    client, _ = endpoint
    assert _rows(client, "SELECT project, count() AS n FROM siyu.events GROUP BY project") == [
        {"project": "default", "n": 3}
    ]
    assert _rows(client, "SELECT project, count() AS n FROM events GROUP BY project", "other") == [
        {"project": "other", "n": 5}
    ]
    # Views, joins, subqueries and CTEs read the same scoped rows.
    assert _rows(client, "SELECT count() AS n FROM siyu.events_current") == [{"n": 3}]
    assert _rows(
        client,
        "WITH e AS (SELECT user_id FROM siyu.events) SELECT count() AS n FROM e "
        "WHERE user_id IN (SELECT user_id FROM siyu.events_current)",
    ) == [{"n": 3}]
    assert _rows(client, "SELECT count() AS n FROM siyu.identity_map") == [{"n": 0}]
    assert _rows(client, "SELECT count() AS n FROM siyu.identity_map", "other") == [{"n": 1}]
    listed = _ask(client, "SHOW TABLES").text.split()
    assert "events" in listed
    assert "stream_state" not in listed
    assert "project" in _ask(client, "DESCRIBE TABLE siyu.events").text


FORBIDDEN = [
    # Files: table function and scalar function, whatever the spelling.
    "SELECT * FROM file('{file}', 'LineAsString')",
    "SELECT * FROM file /* comment */ ('{file}', 'LineAsString')",
    "SELECT * FROM file--comment\n('{file}', 'LineAsString')",
    "SELECT * FROM FILE('{file}', 'LineAsString')",
    "SELECT * FROM `file`('{file}', 'LineAsString')",
    "SELECT * FROM \"file\"('{file}', 'LineAsString')",
    "SELECT file('{file}')",
    "SELECT FiLe /**/ ('{file}')",
    "SELECT length(file('{file}')) AS n",
    "SELECT * FROM (SELECT * FROM file('{file}', 'LineAsString'))",
    "WITH x AS (SELECT * FROM file('{file}', 'LineAsString')) SELECT * FROM x",
    "SELECT number FROM numbers(3) WHERE toString(number) IN "
    "(SELECT line FROM file('{file}', 'LineAsString'))",
    "SELECT * FROM numbers(file('{file}'))",
    "DESCRIBE TABLE file('{file}', 'LineAsString')",
    # Network.
    "SELECT * FROM url('{url}', 'LineAsString')",
    "SELECT * FROM url /* c */ ('{url}', 'LineAsString')",
    "SELECT * FROM URL('{url}', 'LineAsString')",
    "SELECT 1 UNION ALL SELECT count() FROM url('{url}', 'LineAsString')",
    "SELECT * FROM numbers(1) AS n JOIN url('{url}', 'LineAsString') AS u ON 1 = 1",
    "SELECT * FROM s3('{url}x.csv', 'CSV')",
    "SELECT * FROM remote('127.0.0.1', system.one)",
    "SELECT * FROM cluster('default', siyu.events)",
    "SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')",
    "SELECT * FROM postgresql('127.0.0.1:5432', 'db', 't', 'u', 'p')",
    "SELECT * FROM urlCluster('default', '{url}')",
    # Processes, dictionaries, other tables and projects.
    "SELECT * FROM executable('cat {file}', 'LineAsString', 'x String')",
    "SELECT dictGet('d', 'v', toUInt64(1))",
    "SELECT * FROM merge('siyu', '.*')",
    "SELECT * FROM view(SELECT * FROM siyu.events)",
    "SELECT * FROM siyu.stream_state",
    "SELECT * FROM system.tables",
    "SELECT * FROM siyu_project_other.events",
    "SELECT * FROM other.siyu.events",
    # Settings, writes, several statements.
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT * FROM (SELECT 1 SETTINGS max_execution_time = 0)",
    "SET readonly = 0",
    "INSERT INTO siyu.events (event_id) VALUES ('x')",
    "INSERT INTO FUNCTION file('{file}.out', 'CSV') SELECT 1",
    "ALTER TABLE siyu.events DELETE WHERE 1",
    "DROP TABLE siyu.events",
    "TRUNCATE TABLE siyu.events",
    "CREATE TABLE siyu.x (a Int8) ENGINE = Memory",
    "OPTIMIZE TABLE siyu.events FINAL",
    "SYSTEM SHUTDOWN",
    "KILL QUERY WHERE 1",
    "SELECT 1; DROP TABLE siyu.events",
    "SELECT 1; SELECT 2",
    "SELECT 1 INTO OUTFILE '{file}.out'",
    "EXPLAIN SELECT * FROM file('{file}', 'LineAsString')",
    "SELECT 1 FORMAT Parquet",
]


def test_forbidden_access_is_refused_in_every_spelling(
    endpoint: tuple[TestClient, Any],
    listener: tuple[int, list[str]],
    secret_file: Path,
) -> None:
    client, writer = endpoint
    port, hits = listener
    assert len(FORBIDDEN) >= 30
    url = f"http://127.0.0.1:{port}/"
    for template in FORBIDDEN:
        sql = template.format(file=secret_file, url=url)
        for answer in (
            _ask(client, sql),
            client.get("/", params={"query": sql}, auth=("default", KEYS["default"])),
        ):
            assert answer.status_code == 400, f"{sql!r} answered {answer.status_code}"
            assert answer.json()["error"]["code"], sql
            assert MARKER not in answer.text, sql
    assert hits == []
    assert not Path(f"{secret_file}.out").exists()
    # Nothing was written, dropped or changed.
    assert _rows(client, "SELECT count() AS n FROM siyu.events") == [{"n": 3}]
    assert [tuple(r) for r in writer.rows("SELECT count() FROM siyu.events")] == [(8,)]


def test_the_engine_itself_refuses_files_and_network_on_the_read_connection(
    endpoint: tuple[TestClient, Any], listener: tuple[int, list[str]], secret_file: Path
) -> None:
    """Second line: even SQL that skipped the parser cannot reach files or the network."""
    _, writer = endpoint
    port, hits = listener
    for sql in (
        f"SELECT * FROM file('{secret_file}', 'LineAsString')",
        f"SELECT * FROM url('http://127.0.0.1:{port}/', 'LineAsString')",
        "INSERT INTO siyu.events (event_id) SELECT 'x'",
    ):
        with pytest.raises(SinkRejected, match=r"(?i)readonly"):
            writer.read(sql, {"readonly": 1}, "TSV")
    assert hits == []


def test_a_query_that_would_run_forever_ends_by_its_limit_while_inserts_go_on(
    endpoint: tuple[TestClient, Any],
) -> None:
    client, writer = endpoint
    outcome: dict[str, Any] = {}

    def forever() -> None:
        outcome["answer"] = _ask(client, "SELECT count() FROM numbers(1e12)")
        outcome["ended"] = time.monotonic()

    thread = threading.Thread(target=forever)
    thread.start()
    time.sleep(0.2)
    inserted_at = []
    for i in range(3):
        writer.insert(
            "siyu.events",
            EVENT_COLUMNS,
            [("default", f"during-{i}", "track", "view", 0, 0, "u")],
        )
        inserted_at.append(time.monotonic())
    # Another query is answered meanwhile: reads do not queue behind a long one.
    assert _rows(client, "SELECT count() AS n FROM siyu.events WHERE event_id = 'd0'") == [{"n": 1}]
    read_at = time.monotonic()
    thread.join(60)
    assert not thread.is_alive()
    answer = outcome["answer"]
    assert answer.status_code == 400
    assert "TIMEOUT_EXCEEDED" in answer.json()["error"]["message"]
    # The inserts were written while the query was still running.
    assert max(inserted_at) < outcome["ended"]
    assert read_at < outcome["ended"]
    found = writer.rows("SELECT count() FROM siyu.events WHERE event_id LIKE 'during-%'")
    assert found == [(3,)]
    writer.command("ALTER TABLE siyu.events DELETE WHERE event_id LIKE 'during-%'")
    # Result rows are limited too.
    too_many = _ask(client, "SELECT number FROM numbers(100)")
    assert too_many.status_code == 400
    assert "TOO_MANY_ROWS" in too_many.text or "result rows" in too_many.text
