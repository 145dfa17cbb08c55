from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from ruamel.yaml import YAML

from streams.domain.located_yaml import DefinitionError, SourceFile
from streams.domain.qr_codes import QrCode, dump_qr_codes, parse_qr_codes, qr_names
from streams.domain.scenes import touch_of
from streams.domain.tag_parsing import parse_definitions
from streams.domain.tags import apply_events, compute_tags
from streams.yaml_source import load_yaml, yaml_include
from tests.unit.streams.domain.tag_helpers import SCENES, T0, defs, ev

REGISTRY = """
codes:
  spring-poster:
    name: 春季海报
    channel: moments_poster
    material: poster_a
    campaign: spring_sale
    staff: zhangsan
    kind: live
  shop-counter:
    channel: store
    kind: static
  bare:
"""


def _parse(text: str) -> dict[str, QrCode]:
    return parse_qr_codes(SourceFile("qrcodes.yaml", None), load_yaml(text, "qrcodes.yaml"))


def test_registry_parses_every_field() -> None:
    codes = _parse(REGISTRY)
    assert codes["spring-poster"] == QrCode(
        id="spring-poster",
        name="春季海报",
        channel="moments_poster",
        material="poster_a",
        campaign="spring_sale",
        staff="zhangsan",
        kind="live",
    )
    assert codes["shop-counter"].kind == "static"
    assert codes["bare"] == QrCode(id="bare")
    assert _parse("") == {}
    assert _parse("codes:\n") == {}


def test_dump_reads_back_the_same_codes() -> None:
    codes = _parse(REGISTRY)
    buf: Any = __import__("io").StringIO()
    YAML().dump(dump_qr_codes(codes), buf)
    assert _parse(buf.getvalue()) == codes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("- a\n", "qrcodes.yaml:1: expected a mapping", id="not-a-mapping"),
        pytest.param("cods: {}\n", "unknown key 'cods'", id="unknown-top-key"),
        pytest.param("codes: [a]\n", "codes: expected a mapping", id="codes-not-mapping"),
        pytest.param("codes:\n  x: [1]\n", "code 'x': expected a mapping", id="fields-list"),
        pytest.param("codes:\n  x: {chanel: a}\n", "unknown key 'chanel'", id="unknown-field"),
        pytest.param("codes:\n  x: {kind: dead}\n", "kind must be live or static", id="kind"),
        pytest.param("codes:\n  ' ': {}\n", "must not be empty", id="empty-id"),
    ],
)
def test_registry_mistakes_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        _parse(text)


def test_names_of_registered_and_unregistered_codes() -> None:
    codes = _parse(REGISTRY)
    assert qr_names(codes, "") == {}
    assert qr_names(codes, "unknown-7") == {"qr_name": "unknown-7"}
    assert qr_names(codes, "shop-counter")["qr_name"] == "shop-counter"
    assert qr_names(codes, "spring-poster") == {
        "qr_name": "春季海报",
        "qr_channel": "moments_poster",
        "qr_material": "poster_a",
        "qr_campaign": "spring_sale",
        "qr_staff": "zhangsan",
        "qr_kind": "live",
    }


def test_envelope_entry_context_is_a_touch_named_from_the_registry() -> None:
    scenes = replace(SCENES, qr_codes=_parse(REGISTRY))
    touch = touch_of(scenes, ev("$MPLaunch", context={"qr": "spring-poster"}))
    assert touch is not None
    assert touch["channel"] == "qr"
    assert touch["qr_id"] == "spring-poster"
    assert touch["material_id"] == "poster_a"  # from the registry: the event named none
    assert touch["qr_channel"] == "moments_poster"
    sent = touch_of(
        scenes,
        ev("$MPLaunch", context={"qr": "spring-poster", "material": "m9", "channel": "ads"}),
    )
    assert sent is not None
    assert (sent["material_id"], sent["entry_channel"]) == ("m9", "ads")
    only_channel = touch_of(scenes, ev("$pageview", context={"channel": "kol_live"}))
    assert only_channel is not None
    assert (only_channel["channel"], only_channel["entry_channel"]) == ("other", "kol_live")


def test_source_tags_carry_the_code_names() -> None:
    d = defs(scenes=replace(SCENES, qr_codes=_parse(REGISTRY)))
    added = ev("wecom_add_external_contact", T0, platform="wecom", context={"qr": "spring-poster"})
    p = apply_events(d, None, [added], T0).profile
    p = apply_events(
        d, p, [ev("$MPLaunch", T0 + 1000, context={"qr": "walk-in"})], T0 + 1000
    ).profile
    tags, _ = compute_tags(d, p, T0 + 1000)
    assert tags["first_qr_id"] == "spring-poster"
    assert tags["first_qr_channel"] == "moments_poster"
    assert tags["first_qr_material"] == "poster_a"
    assert tags["first_material_id"] == "poster_a"
    assert tags["first_qr_kind"] == "live"
    assert tags["latest_qr_name"] == "walk-in"  # unregistered: the bare id
    assert "latest_qr_channel" not in tags


def test_tags_file_names_a_registry_or_uses_the_shipped_one() -> None:
    files = {"codes.yaml": REGISTRY, "siyu:qrcodes.yaml": "codes: {shipped: {kind: static}}"}

    def read(name: str) -> tuple[str, str]:
        if name not in files:
            raise FileNotFoundError(2, "No such file or directory")
        return files[name], name

    include = yaml_include(read)

    def parse(text: str, **kw: Any) -> Any:
        return parse_definitions(load_yaml(text, "t"), source="t", **kw)

    named = parse("sources: {qrcodes_file: codes.yaml}", include=include)
    assert set(named.scenes.qr_codes) == {"spring-poster", "shop-counter", "bare"}
    assert named.scenes.qr_codes_source == "codes.yaml"
    shipped = parse("sources: {share: s}", include=include)
    assert set(shipped.scenes.qr_codes) == {"shipped"}
    assert parse("sources: {share: s}").scenes.qr_codes == {}
    del files["siyu:qrcodes.yaml"]
    assert parse("sources: {share: s}", include=include).scenes.qr_codes == {}
    with pytest.raises(DefinitionError, match=r"qrcodes_file: cannot read nope\.yaml"):
        parse("sources: {qrcodes_file: nope.yaml}", include=include)
