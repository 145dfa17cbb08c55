"""Funnel definitions: defaults, durations and every way a file can be wrong."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from streams.domain.funnel_defs import FunnelDefinitionError, parse_duration, parse_funnels
from tests.unit.streams.domain.funnel_factories import COMMERCE_SPEC, FISSION_SPEC


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("90", 90), (90, 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), (" 5 s ", 5)],
)
def test_durations(raw: Any, seconds: int) -> None:
    assert parse_duration(raw, ()) == seconds


@pytest.mark.parametrize("raw", ["0", 0, -1, "1w", True, None, "h"])
def test_bad_durations(raw: Any) -> None:
    with pytest.raises(FunnelDefinitionError, match="positive duration"):
        parse_duration(raw, ("x",))


def test_defaults() -> None:
    defs = parse_funnels(COMMERCE_SPEC)
    assert defs.fission_funnel is None
    assert [f.name for f in defs.ordered] == ["shop"]
    assert defs.fission.attribution == "first"
    fission = parse_funnels(FISSION_SPEC)
    assert fission.fission_funnel is not None
    assert [s.actor for s in fission.fission_funnel.steps] == [
        "sharer",
        "invitee",
        "invitee",
        "invitee",
    ]
    assert fission.fission.rewards == (2, 3)


def _shop(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(COMMERCE_SPEC)
    spec["funnels"]["shop"].update(changes)
    return spec


def _step(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(COMMERCE_SPEC)
    spec["funnels"]["shop"]["steps"][1].update(changes)
    return spec


def _fission(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(FISSION_SPEC)
    spec["fission"].update(changes)
    return spec


def _fission_step(index: int, **changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(FISSION_SPEC)
    spec["funnels"]["fission"]["steps"][index].update(changes)
    return spec


@pytest.mark.parametrize(
    ("spec", "where", "reason"),
    [
        pytest.param([], "<root>", "mapping", id="root"),
        pytest.param({"funnels": {}, "extra": 1}, "extra", "unknown key", id="root-key"),
        pytest.param({"funnels": {}}, "funnels", "at least one", id="empty"),
        pytest.param(_shop(color="red"), "funnels.shop.color", "unknown key", id="funnel-key"),
        pytest.param({"funnels": {"bad-name": {}}}, "funnels.bad-name", "letters", id="name"),
        pytest.param(_shop(kind="circle"), "funnels.shop.kind", "ordered or fission", id="kind"),
        pytest.param(_shop(steps=[]), "funnels.shop.steps", "1 to 32", id="no-steps"),
        pytest.param(_shop(window=None), "funnels.shop.window", "duration", id="window"),
        pytest.param(_shop(breakdown="platform"), "funnels.shop.breakdown", "list", id="breakdown"),
        pytest.param(
            _shop(breakdown=["nope"]), "funnels.shop.breakdown.0", "field", id="dimension"
        ),
        pytest.param(
            _shop(breakdown=["properties."]), "funnels.shop.breakdown.0", "field path", id="path"
        ),
        pytest.param(
            _shop(max_entries=0), "funnels.shop.max_entries", "positive", id="max-entries"
        ),
        pytest.param(_step(name="a b"), "funnels.shop.steps.1.name", "name", id="step-name"),
        pytest.param(_step(name="visit"), "funnels.shop.steps", "unique", id="dup-step"),
        pytest.param(_step(color=1), "funnels.shop.steps.1.color", "unknown key", id="step-key"),
        pytest.param(_step(events=[]), "funnels.shop.steps.1.events", "event name", id="events"),
        pytest.param(_step(actor="sharer"), "funnels.shop.steps.1.actor", "fission", id="actor"),
        pytest.param(_step(first=True), "funnels.shop.steps.1", "fission", id="first"),
        pytest.param(
            _fission_step(3, first="no"),
            "funnels.fission.steps.3.first",
            "true or false",
            id="first-text",
        ),
        pytest.param(
            _step(where={"price": 1}), "funnels.shop.steps.1.where.price", "field", id="field"
        ),
        pytest.param(
            _step(where={"properties.p": {"like": 1}}),
            "funnels.shop.steps.1.where.properties.p.like",
            "operator",
            id="op",
        ),
        pytest.param(
            _step(where={"properties.p": {"in": []}}),
            "funnels.shop.steps.1.where.properties.p.in",
            "non-empty",
            id="in",
        ),
        pytest.param(
            _step(where={"properties.p": {"gt": "a"}}),
            "funnels.shop.steps.1.where.properties.p.gt",
            "number",
            id="gt",
        ),
        pytest.param(
            _step(where={"properties.p": {"eq": None}}),
            "funnels.shop.steps.1.where.properties.p.eq",
            "string or a number",
            id="scalar",
        ),
        pytest.param(_step(where=[1]), "funnels.shop.steps.1.where", "mapping", id="where"),
        pytest.param(
            _fission_step(1, via_share=False),
            "funnels.fission.steps.1",
            "via_share",
            id="via-share",
        ),
        pytest.param(
            _fission_step(0, actor="invitee"),
            "funnels.fission.steps.0.actor",
            "sharer",
            id="fission-actor",
        ),
        pytest.param(
            _fission(attribution="middle"), "fission.attribution", "first or last", id="attribution"
        ),
        pytest.param(
            _fission(success_step="share"), "fission.success_step", "invitee step", id="success"
        ),
        pytest.param(_fission(rewards=[0]), "fission.rewards", "positive", id="rewards"),
        pytest.param(_fission(prize=1), "fission.prize", "unknown key", id="fission-key"),
    ],
)
def test_errors_name_the_bad_item(spec: Any, where: str, reason: str) -> None:
    with pytest.raises(FunnelDefinitionError, match=reason) as info:
        parse_funnels(spec)
    assert ".".join(str(p) for p in info.value.path) == ("" if where == "<root>" else where)
    assert str(info.value).startswith(where)


def test_custom_breakdown_and_missing_window() -> None:
    defs = parse_funnels(_shop(breakdown=["properties.experiment"]))
    assert defs.funnels[0].breakdown[0].path == ("properties", "experiment")
    spec = copy.deepcopy(COMMERCE_SPEC)
    del spec["funnels"]["shop"]["window"]
    with pytest.raises(FunnelDefinitionError, match="needs a window"):
        parse_funnels(spec)


def test_step_without_events() -> None:
    spec = copy.deepcopy(COMMERCE_SPEC)
    del spec["funnels"]["shop"]["steps"][0]["events"]
    with pytest.raises(FunnelDefinitionError, match="needs events"):
        parse_funnels(spec)


def test_fission_rules() -> None:
    spec = copy.deepcopy(FISSION_SPEC)
    spec["funnels"]["fission"]["steps"] = spec["funnels"]["fission"]["steps"][:1]
    with pytest.raises(FunnelDefinitionError, match="share step and a visit step"):
        parse_funnels(spec)
    twice = copy.deepcopy(FISSION_SPEC)
    twice["funnels"]["again"] = twice["funnels"]["fission"]
    with pytest.raises(FunnelDefinitionError, match="at most one fission"):
        parse_funnels(twice)
