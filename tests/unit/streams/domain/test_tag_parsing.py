from __future__ import annotations

from pathlib import Path

import pytest

from streams.domain.tag_definitions import DAY_MS, HOUR_MS
from streams.domain.tag_parsing import DefinitionError, parse_definitions, parse_duration
from streams.yaml_source import load_yaml, yaml_include

CONFIG = Path(__file__).parents[4] / "streams" / "config"


def _include(files: dict[str, str]):  # type: ignore[no-untyped-def]
    files = {
        "siyu:scenes.yaml": (CONFIG / "scenes.yaml").read_text(),
        "siyu:qrcodes.yaml": (CONFIG / "qrcodes.yaml").read_text(),
        **files,
    }

    def read(name: str) -> tuple[str, str]:
        if name not in files:
            raise FileNotFoundError(2, "No such file or directory")
        return files[name], name

    return yaml_include(read)


def _parse(text: str, **files: str):  # type: ignore[no-untyped-def]
    return parse_definitions(
        load_yaml(text, "tags.yaml"), source="tags.yaml", include=_include(files)
    )


def test_shipped_defaults_parse() -> None:
    text = (CONFIG / "tags.yaml").read_text()
    scenes = (CONFIG / "scenes.yaml").read_text()
    d = _parse(
        text, **{"scenes.yaml": scenes, "qrcodes.yaml": (CONFIG / "qrcodes.yaml").read_text()}
    )
    assert d.scenes.qr_codes["demo-live-poster"].channel == "moments_poster"
    assert d.windows_days == (7, 30, 90)
    assert d.scenes.scenes[1007] == "share"
    assert d.scenes.scenes[1047] == "qr"
    assert d.scenes.scenes[1035] == "official_account"
    assert d.scenes.scenes[1089] == "direct"
    assert [r.name for r in d.rules][:3] == [
        "visited_yesterday_no_order",
        "first_order_only",
        "second_order",
    ]
    assert d.lifecycle is not None
    assert d.lifecycle.silent_after == 14 * DAY_MS
    assert [t.name for t in d.value_tiers] == ["low", "mid", "high", "vip"]
    assert d.utc_offset == 8 * HOUR_MS


def test_empty_file_means_defaults_with_the_shipped_scene_dictionary() -> None:
    d = _parse("")
    assert d.source == "tags.yaml"
    assert d.rules == ()
    assert d.scenes.scenes[1047] == "qr"
    assert parse_definitions(None, source="t.yaml").scenes.scenes == {}


FULL = """
version: 1
timezone: "-05:30"
windows: [1d, 3d]
dedupe_ids: 8
events: {visits: [open], counted: [open, buy], order: buy, amount_property: total,
         cart: cart, product: item, category_property: cat}
sources:
  scenes_file: s.yaml
  utm_mediums: {PAID: ads}
  share: shared
lifecycle: {new_for: 3s, silent_after: 5s, churned_after: 9s}
rfm:
  window: 30d
  recency: [1, 2]
  frequency: [2, 4]
  monetary: [10.5, 99]
  high_from: 2
  segments: {HHH: best}
value_tiers: {small: 1, big: 100}
referral: {success_events: [buy], koc_min: 2}
content:
  weights: {read: 1.5}
  half_life: 2h
  top_n: 1
  min_score: 0.5
  max_kept: 4
  tags_properties: [t]
  id_property: cid
  type_property: kind
  catalogue_file: cat.yaml
  catalogue: {c2: [b]}
timers: {hourly_horizon: 2h}
rules:
  - name: heavy
    description: bought twice
    when: count_3d['buy'] >= 2
  - name: tier
    value: "orders > 0 ? 'x' : ''"
"""


def test_a_full_custom_file() -> None:
    d = _parse(
        FULL,
        **{"s.yaml": "scenes:\n  qr: [1047]\nutm_default: paid\n", "cat.yaml": "c1: [a, b]\n"},
    )
    assert d.utc_offset == -(5 * 60 + 30) * 60_000
    assert d.windows_days == (1, 3)
    assert d.events.order == "buy"
    assert d.scenes.scenes == {1047: "qr"}
    assert d.scenes.utm_mediums == {"paid": "ads"}
    assert (d.scenes.utm_default, d.scenes.share) == ("paid", "shared")
    assert d.lifecycle is not None
    assert d.lifecycle.churned_after == 9000
    assert d.rfm is not None
    assert d.rfm.segments["HHH"] == "best"
    assert d.rfm.segments["LLL"] == "general_win_back"
    assert d.referral is not None
    assert d.referral.koc_min == 2
    assert d.content is not None
    assert d.content.catalogue == {"c1": ("a", "b"), "c2": ("b",)}
    assert d.content.id_properties == ("cid",)
    assert d.content.type_property == "kind"
    assert d.content.half_life == 2 * HOUR_MS
    assert d.hourly_horizon == 2 * HOUR_MS
    lines = FULL.splitlines()
    when = lines.index("    when: count_3d['buy'] >= 2") + 1
    value = lines.index("    value: \"orders > 0 ? 'x' : ''\"") + 1
    assert [(r.name, r.kind, r.line) for r in d.rules] == [
        ("heavy", "flag", when),
        ("tier", "value", value),
    ]


def test_groups_can_be_switched_off() -> None:
    d = _parse(
        "lifecycle: false\nrfm: false\nreferral: false\ncontent: false\nvalue_tiers: false\n"
    )
    assert (d.lifecycle, d.rfm, d.referral, d.content, d.value_tiers) == (
        None,
        None,
        None,
        None,
        (),
    )


def test_inline_scenes_without_a_file() -> None:
    d = _parse("sources:\n  scenes:\n    share: [1007]\n  names: {1007: 单人聊天}\n")
    assert d.scenes.scenes == {1007: "share"}
    assert d.scenes.names == {1007: "单人聊天"}


BAD = [
    pytest.param("a: [1,\n", 2, "not valid YAML", id="yaml-syntax"),
    pytest.param("a: 1\na: 2\n", 2, "duplicate key", id="duplicate-key"),
    pytest.param("- 1\n", 1, "expected a mapping at the top level", id="top-level-list"),
    pytest.param("version: 1\nrulez: []\n", 2, "unknown key 'rulez'", id="unknown-top-key"),
    pytest.param("version: 2\n", 1, "version 2 is not supported", id="version"),
    pytest.param("timezone: Asia/Shanghai\n", 1, "expected an offset", id="timezone"),
    pytest.param("windows: 7d\n", 1, "windows: expected a list", id="windows-not-list"),
    pytest.param("windows: [7d, 36h]\n", 1, "whole days", id="window-not-whole-days"),
    pytest.param("windows: [7]\n", 1, "expected a duration", id="window-without-unit"),
    pytest.param("dedupe_ids: 0\n", 1, "whole number", id="dedupe-zero"),
    pytest.param("dedupe_ids: x\n", 1, "expected a number", id="dedupe-text"),
    pytest.param("events: [a]\n", 1, "events: expected a mapping", id="events-not-mapping"),
    pytest.param("events:\n  visits: view\n", 2, "expected a list of names", id="visits-not-list"),
    pytest.param("events:\n  order: ''\n", 2, "expected text", id="empty-name"),
    pytest.param("events:\n  orders: x\n", 2, "unknown key 'orders'", id="events-unknown"),
    pytest.param(
        "lifecycle:\n  silent_after: 30d\n  churned_after: 7d\n",
        1,
        "churned_after must be longer",
        id="lifecycle-order",
    ),
    pytest.param("lifecycle:\n  new_for: soon\n", 2, "expected a duration", id="bad-duration"),
    pytest.param("rfm:\n  recency: [30, 7]\n", 2, "strictly ascending", id="rfm-descending"),
    pytest.param("rfm:\n  frequency: [1, x]\n", 2, "list of numbers", id="rfm-not-numbers"),
    pytest.param("rfm:\n  monetary: [1]\n", 1, "as many thresholds", id="rfm-lengths"),
    pytest.param("rfm:\n  high_from: 9\n", 1, "high_from", id="rfm-high-from"),
    pytest.param("rfm:\n  segments: {XYZ: a}\n", 2, "unknown key 'XYZ'", id="rfm-segment-key"),
    pytest.param("value_tiers: {a: 10, b: 5}\n", 1, "ascending", id="tiers-order"),
    pytest.param("value_tiers: {a: x}\n", 1, "expected a number", id="tier-not-number"),
    pytest.param("value_tiers: [1]\n", 1, "expected a mapping", id="tiers-not-mapping"),
    pytest.param("referral:\n  koc_min: -1\n", 2, "whole number", id="koc-min"),
    pytest.param("content:\n  weights: {a: b}\n", 2, "expected a number", id="weight"),
    pytest.param("content:\n  catalogue: {c: 1}\n", 2, "list of names", id="catalogue-item"),
    pytest.param("content:\n  id_property: [a, 1]\n", 2, "list of names", id="id-names"),
    pytest.param("content:\n  id_property: ''\n", 2, "expected text", id="id-empty"),
    pytest.param("sources:\n  scenes: [1]\n", 2, "scenes: expected a mapping", id="scenes-list"),
    pytest.param("sources:\n  scenes:\n    qr: 1047\n", 3, "list of scene values", id="scene-int"),
    pytest.param(
        "sources:\n  scenes:\n    qr: [1047, x]\n", 3, "'x' is not a scene number", id="scene-text"
    ),
    pytest.param(
        "sources:\n  scenes:\n    qr: [1047]\n    ads:\n      - 1047\n",
        5,
        "scene 1047 is listed under qr too",
        id="scene-twice",
    ),
    pytest.param(
        "sources:\n  scenes_file: nope.yaml\n", 2, "cannot read nope.yaml", id="missing-include"
    ),
    pytest.param("sources:\n  names: {x: a}\n", 2, "'x' is not a scene value", id="scene-name"),
    pytest.param("rules: {a: b}\n", 1, "expected a list of rules", id="rules-not-list"),
    pytest.param("rules:\n  - orders > 1\n", 2, "each rule is a mapping", id="rule-not-mapping"),
    pytest.param("rules:\n  - name: Big\n    when: 'true'\n", 2, "lower-case", id="rule-name"),
    pytest.param("rules:\n  - name: lifecycle\n    when: 'true'\n", 2, "built-in", id="builtin"),
    pytest.param("rules:\n  - name: first_channel\n    when: 'true'\n", 2, "built-in", id="touch"),
    pytest.param(
        "rules:\n  - name: a\n    when: 'true'\n  - name: a\n    when: 'true'\n",
        4,
        "defined twice",
        id="rule-twice",
    ),
    pytest.param("rules:\n  - name: a\n", 2, "exactly one of when", id="rule-no-expression"),
    pytest.param(
        "rules:\n  - name: a\n    when: 'true'\n    value: '1'\n", 2, "exactly one", id="rule-both"
    ),
    pytest.param("rules:\n  - name: a\n    if: 'true'\n", 3, "unknown key 'if'", id="rule-key"),
    pytest.param("rules:\n  - name: a\n    when: orders >\n", 3, "Syntax error", id="cel-syntax"),
    pytest.param(
        "rules:\n  - name: a\n    when: ordrs > 1\n", 3, "unknown fact(s) ordrs", id="cel-unknown"
    ),
    pytest.param(
        "rules:\n  - name: a\n    when: lifecycle > 3\n", 3, "rule 'a':", id="cel-type-error"
    ),
    pytest.param(
        "rules:\n  - name: a\n    when: \"count_7d['nope'] > 0\"\n",
        3,
        "rule 'a':",
        id="cel-missing-event",
    ),
    pytest.param("rules:\n  - name: a\n    when: orders\n", 3, "must give a bool", id="not-bool"),
]


@pytest.mark.parametrize(("text", "line", "reason"), BAD)
def test_bad_definitions_fail_with_file_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(DefinitionError) as info:
        _parse(text)
    err = info.value
    assert (err.file, err.line) == ("tags.yaml", line), str(err)
    assert reason in err.reason
    assert str(err).startswith(f"tags.yaml:{line}: ")


@pytest.mark.parametrize(
    ("files", "line", "reason"),
    [
        pytest.param(
            {"s.yaml": "- 1\n"}, 1, "expected a mapping at the top level", id="not-mapping"
        ),
        pytest.param({"s.yaml": "scenes:\n  qr: [x]\n"}, 2, "not a scene number", id="bad-scene"),
        pytest.param({"s.yaml": "scenez: {}\n"}, 1, "unknown key 'scenez'", id="unknown-key"),
    ],
)
def test_errors_in_included_files_name_that_file(
    files: dict[str, str], line: int, reason: str
) -> None:
    with pytest.raises(DefinitionError) as info:
        _parse("sources:\n  scenes_file: s.yaml\n", **files)
    assert (info.value.file, info.value.line) == ("s.yaml", line)
    assert reason in info.value.reason


def test_includes_need_an_include_function() -> None:
    with pytest.raises(DefinitionError, match="cannot include"):
        parse_definitions({"sources": {"scenes_file": "s.yaml"}}, source="t.yaml")


@pytest.mark.parametrize(
    ("raw", "ms"),
    [
        pytest.param("500ms", 500, id="ms"),
        pytest.param("3s", 3000, id="s"),
        pytest.param("1.5m", 90_000, id="fractional-minutes"),
        pytest.param("24h", 24 * HOUR_MS, id="h"),
        pytest.param("7d", 7 * DAY_MS, id="d"),
    ],
)
def test_parse_duration(raw: str, ms: int) -> None:
    assert parse_duration(raw) == ms


def test_parse_duration_rejects_bare_numbers() -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(7)


def test_line_of_plain_values_and_whole_nodes() -> None:
    from ruamel.yaml import YAML

    from streams.domain.located_yaml import line_of

    node = YAML(typ="rt").load("\n\na:\n  b: 1\n")
    assert line_of({"a": 1}, "a") == 0
    assert line_of(node["a"]) == 4
    assert line_of(node, "a") == 3
