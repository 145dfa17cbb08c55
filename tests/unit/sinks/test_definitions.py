"""The definitions the migrations share with the workers, written into the SQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from sinks.definitions import SqlDefinitions, quote
from sinks.sql_endpoint import build_sql_app
from sinks.writer import ClickHouseWriter, migration_statements
from siyu.settings import Settings
from streams.domain.funnel_defs import FunnelSet
from streams.domain.tag_definitions import SceneDictionary
from streams.funnel_config import load_funnels


def test_one_zone_is_a_plain_conversion() -> None:
    defs = SqlDefinitions(zones={"default": "Asia/Shanghai"})
    assert defs.render("{{local_date(project, time)}}") == "toDate(time, 'Asia/Shanghai')"
    assert defs.render("{{today(p)}}") == "toDate(now(), 'Asia/Shanghai')"


def test_projects_in_other_zones_get_their_own_days() -> None:
    defs = SqlDefinitions(zones={"cn": "Asia/Shanghai", "fr": "Europe/Paris"})
    assert defs.render("{{local_date(e.project, min(first_time))}}") == (
        "multiIf(e.project = 'fr', toDate(min(first_time), 'Europe/Paris'), "
        "toDate(min(first_time), 'Asia/Shanghai'))"
    )
    assert defs.zone("fr") == "Europe/Paris"
    assert defs.zone("unknown") == "Asia/Shanghai"
    assert defs.render("{{project_zones}}") == ("('cn', 'Asia/Shanghai'), ('fr', 'Europe/Paris')")


def test_fission_steps_come_from_the_funnel_file() -> None:
    funnels = load_funnels()
    defs = SqlDefinitions.build({}, funnels)
    fission = funnels.fission_funnel
    assert fission is not None
    names = [s.name for s in fission.steps]
    assert defs.visit_step == names.index("visit") + 1
    assert defs.success_step == names.index(funnels.fission.success_step) + 1
    assert defs.order_step == len(names)
    assert defs.render("{{fission_share_events}}") == "('$MPShare', 'share')"
    assert SqlDefinitions.build({}, FunnelSet(funnels=())) == SqlDefinitions()


def test_rfm_keys_get_the_operators_names() -> None:
    sql = SqlDefinitions().render("{{rfm_label(segment)}}")
    assert "'important_value'" in sql
    assert "'重要价值'" in sql
    assert sql.endswith(", segment)")


def test_unknown_markers_and_quotes() -> None:
    with pytest.raises(ValueError, match="unknown SQL definition"):
        SqlDefinitions().render("{{nope}}")
    assert quote("a'b\\c") == "'a\\'b\\\\c'"


def test_every_marker_of_the_migrations_is_written_in() -> None:
    for name, sql in migration_statements(SqlDefinitions.build({"x": "UTC"}, load_funnels())):
        assert "{{" not in sql, name


def test_pipeline_health_needs_a_read_key(tmp_path: Path) -> None:
    writer = ClickHouseWriter(url=None, chdb_path=tmp_path)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_sql_app(writer, Settings()))
        async with httpx.AsyncClient(transport=transport, base_url="http://sql") as client:
            return await client.get("/overview/health")

    try:
        answer = asyncio.run(ask())
    finally:
        writer.close()
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "missing_key"


def test_scene_values_get_their_names() -> None:
    defs = SqlDefinitions(scenes=SceneDictionary(names={1047: "扫描小程序码"}))
    assert defs.render("{{scene_name(scene)}}") == (
        "transform(toString(scene), ['1047'], ['扫描小程序码'], '')"
    )
    assert SqlDefinitions().render("{{scene_name(scene)}}") == "''"
