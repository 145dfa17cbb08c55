from __future__ import annotations

import pytest

from collectors.replay import plan, select_query


@pytest.mark.parametrize(
    ("route", "index", "payload", "expected"),
    [
        pytest.param(
            "/v1/batch",
            2,
            '{"event":"e"}',
            ("POST", "/v1/batch", b'[{"event":"e"}]'),
            id="native-event",
        ),
        pytest.param("/v1/batch", -1, "[1,2]", ("POST", "/v1/batch", b"[1,2]"), id="native-body"),
        pytest.param(
            "/v1/pixel.gif",
            0,
            '{"event":"e"}',
            ("POST", "/v1/batch", b'[{"event":"e"}]'),
            id="pixel-event",
        ),
        pytest.param(
            "/v1/pixel.gif", -1, "data=abc", ("GET", "/v1/pixel.gif", b""), id="pixel-query"
        ),
        pytest.param(
            "/sa.gif",
            1,
            '{"distinct_id":"d"}',
            ("POST", "/sa", b'{"distinct_id":"d"}'),
            id="sensors-event",
        ),
        pytest.param(
            "/sa",
            -1,
            "data_list=xyz&gzip=1",
            ("POST", "/sa", b"data_list=xyz&gzip=1"),
            id="sensors-body",
        ),
    ],
)
def test_plan(route: str, index: int, payload: str, expected: tuple[str, str, bytes]) -> None:
    request = plan(
        {"route": route, "project": "shop", "event_index": index, "payload": payload}, "wk"
    )
    assert request is not None
    assert (request.method, request.path, request.body) == expected
    if route.startswith("/sa"):
        assert request.params == {"project": "shop"}
    else:
        assert request.params["key"] == "wk"
    if expected[0] == "GET":
        assert request.params["data"] == "abc"


def test_sink_dead_letters_are_not_replayed() -> None:
    row = {"route": "sink:siyu.events.stitched", "project": "", "event_index": -1, "payload": ""}
    assert plan(row, "wk") is None


def test_select_query_quotes_values() -> None:
    q = select_query(
        project="a'b", reason="too_many", route="/sa", since="2026-11-25 10:00:00", limit=5
    )
    assert "project = 'a\\'b'" in q
    assert "reason LIKE '%too_many%'" in q
    assert "route = '/sa'" in q
    assert q.endswith("LIMIT 5")
