"""The funnel file loader: shipped defaults, TOML, and errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.funnel_config import FunnelFileError, load_funnels


def test_shipped_defaults_are_the_design_funnels() -> None:
    defs = load_funnels()
    commerce = next(f for f in defs.funnels if f.name == "commerce")
    assert [s.name for s in commerce.steps] == [
        "page_view",
        "view_product",
        "add_to_cart",
        "submit_order",
        "pay_order",
    ]
    assert commerce.steps[0].events == {"$pageview", "$MPViewScreen", "$AppViewScreen"}
    assert commerce.window_s == 24 * 3600
    fission = defs.fission_funnel
    assert fission is not None
    assert [s.name for s in fission.steps] == ["share", "visit", "register", "first_order"]
    assert fission.window_s == 7 * 86400
    assert fission.steps[3].first
    assert defs.fission.rewards == (3, 5)


def test_toml_files_load(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text('[funnels.a]\nwindow = "1h"\nsteps = [{name = "x", events = "x"}]\n')
    assert load_funnels(path).funnels[0].window_s == 3600


_STEP = "funnels:\n  a:\n    window: 1h\n    steps:\n      - name: x\n        events: [x]\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            _STEP + "        color: 1\n",
            7,
            "color: unknown key",
        ),
        (
            _STEP + "        where: {properties.p: {gt: a}}\n",
            7,
            "comparisons need a number",
        ),
        (
            "funnels:\n  a:\n    steps: [{name: x, events: x}]\n    window: nope\n",
            4,
            "positive duration",
        ),
        ("funnels:\n  a:\n    window: 1h\n    steps: [1]\n", 4, "mapping"),
        ("funnels:\n  a:\n    window: 1h\n    steps:\n      - name: x\n", 5, "needs events"),
        ("funnels: [\n", 2, "expected"),
        # YAML 1.2: `no` is text, so it is refused rather than read as false.
        (_STEP + "        first: no\n", 7, "first: expected true or false, got 'no'"),
    ],
)
def test_errors_point_at_the_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "funnels.yaml"
    path.write_text(text)
    with pytest.raises(FunnelFileError, match=reason) as info:
        load_funnels(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(FunnelFileError, match="cannot read"):
        load_funnels(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[[")
    with pytest.raises(FunnelFileError):
        load_funnels(bad)


def test_yaml_values_reach_the_definitions_as_plain_types(tmp_path: Path) -> None:
    path = tmp_path / "funnels.yaml"
    path.write_text(
        _STEP
        + "        where:\n"
        + "          properties.note:\n            eq: |-\n              two\n              lines\n"
        + "          properties.price: {gte: 1e2}\n"
    )
    step = load_funnels(path).funnels[0].steps[0]
    values = {f.field[-1]: f.value for f in step.filters}
    assert values == {"note": "two\nlines", "price": 100.0}
    assert {type(v) for v in values.values()} == {str, float}
    assert {type(e) for e in step.events} == {str}
