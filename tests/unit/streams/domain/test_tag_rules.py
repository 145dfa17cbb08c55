from __future__ import annotations

from typing import Any, Literal

import pytest

from streams.domain.profile import local_day, new_profile
from streams.domain.tag_definitions import TagValue
from streams.domain.tag_facts import Facts
from streams.domain.tag_rules import RuleError, compile_rule, evaluate_rules, fact_names
from tests.unit.streams.domain.tag_helpers import DAY, T0, defs

KNOWN = fact_names((7, 30))


def _rule(expression: str, kind: Literal["flag", "value"] = "flag", name: str = "r"):  # type: ignore[no-untyped-def]
    return compile_rule(name, expression, kind, KNOWN, line=3)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param("orders >= && 1", "Syntax error", id="syntax"),
        pytest.param("ordrs > 1", r"unknown fact\(s\) ordrs", id="unknown-fact"),
        pytest.param("count_14d['x'] > 1", r"unknown fact\(s\) count_14d", id="window-not-defined"),
    ],
)
def test_compile_errors_name_the_rule_and_reason(expression: str, reason: str) -> None:
    with pytest.raises(RuleError, match=reason) as info:
        _rule(expression)
    assert "rule 'r'" in str(info.value)


def test_compiled_rule_keeps_its_line_and_variables() -> None:
    rule = _rule("orders > 1 && count_7d['view_product'] > 0")
    assert rule.line == 3
    assert rule.variables == {"orders", "count_7d"}


@pytest.mark.parametrize(
    ("expression", "kind", "facts", "expected"),
    [
        pytest.param("orders >= 1", "flag", {"orders": 1}, True, id="flag-true"),
        pytest.param("orders >= 1", "flag", {"orders": 0}, None, id="flag-false-absent"),
        pytest.param("orders > 0 ? 'buyer' : ''", "value", {"orders": 0}, None, id="empty-absent"),
        pytest.param("orders > 0 ? 'buyer' : ''", "value", {"orders": 2}, "buyer", id="value"),
        pytest.param("orders * 2", "value", {"orders": 2}, 4, id="number-value"),
        pytest.param("null", "value", {}, None, id="null-absent"),
    ],
)
def test_rule_kinds(
    expression: str,
    kind: Literal["flag", "value"],
    facts: dict[str, Any],
    expected: TagValue | None,
) -> None:
    tags: dict[str, TagValue] = {}
    assert evaluate_rules((_rule(expression, kind),), facts.__getitem__, tags) == []
    assert tags.get("r") == expected


@pytest.mark.parametrize(
    ("expression", "kind", "reason"),
    [
        pytest.param("orders", "flag", "must give a bool", id="flag-not-bool"),
        pytest.param("[orders]", "value", "must give a scalar", id="value-list"),
        pytest.param("count_7d['nope'] > 1", "flag", "nope", id="missing-key"),
        pytest.param("lifecycle > 1", "flag", "", id="type-mismatch"),
    ],
)
def test_failing_rules_are_reported_and_leave_no_tag(
    expression: str, kind: Literal["flag", "value"], reason: str
) -> None:
    facts = {"orders": 1, "count_7d": {"view_product": 1}, "lifecycle": "new"}
    tags: dict[str, TagValue] = {}
    errors = evaluate_rules((_rule(expression, kind),), facts.__getitem__, tags)
    assert [name for name, _ in errors] == ["r"]
    assert reason in errors[0][1]
    assert tags == {}


def test_later_rules_see_earlier_rule_tags() -> None:
    first = _rule("orders > 0", name="buyer")
    second = _rule("'buyer' in tags && tags.buyer", name="confirmed")
    tags: dict[str, TagValue] = {}
    evaluate_rules((first, second), {"orders": 1}.__getitem__, tags)
    assert tags == {"buyer": True, "confirmed": True}


def test_every_documented_fact_resolves() -> None:
    d = defs(windows_days=(7, 30))
    p = new_profile("u1", "p")
    p["first_seen"] = p["last_seen"] = p["last_visit"] = T0
    p["visit_days"] = [local_day(d, T0)]
    facts = Facts(d, p, T0 + DAY, {})
    values = {name: facts.get(name) for name in sorted(KNOWN - {"tags"})}
    assert values["days_since_last_visit"] == 1
    assert values["days_since_last_order"] == -1
    assert values["hours_since_cart"] == -1.0
    assert values["visited_yesterday"] is True
    assert values["count_7d"] == {"view_product": 0, "add_to_cart": 0, "pay_order": 0}
    assert values["visit_days_30d"] == 1
    assert values["first_touch"]["channel"] == ""
    assert facts.get("now") is facts.get("now")
