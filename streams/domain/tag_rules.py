"""Rule tags: CEL expressions over a user's facts.

Expressions are Common Expression Language (CEL, https://cel.dev), compiled once when the
definitions load (``common-expression-language``, a maintained Rust implementation) and
evaluated against the facts of :func:`streams.domain.tags.facts`. CEL has no side
effects, no loops and no I/O, so a tag file cannot do more than compute a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import cel

from streams.domain.tag_definitions import Rule, TagValue

__all__ = [
    "HOURLY_FACTS",
    "RuleError",
    "compile_rule",
    "evaluate_rules",
    "fact_names",
]

# Facts that change every hour of a user's absence, with the profile field they count
# from: rules using them are re-checked hourly (see Definitions.hourly_horizon).
HOURLY_FACTS: Mapping[str, str] = {
    "hours_since_first_seen": "first_seen",
    "hours_since_last_seen": "last_seen",
    "hours_since_last_visit": "last_visit",
    "hours_since_last_order": "last_order_at",
    "hours_since_cart": "last_cart_at",
}

_FIXED_FACTS = frozenset(
    {
        "now",
        "first_seen",
        "last_seen",
        "last_visit",
        "days_since_first_seen",
        "days_since_last_seen",
        "days_since_last_visit",
        "visited_today",
        "visited_yesterday",
        "orders",
        "total_paid",
        "first_order_at",
        "last_order_at",
        "days_since_last_order",
        "last_cart_at",
        "cart_open",
        "favourite_category",
        "categories",
        "platforms",
        "first_touch",
        "latest_touch",
        "interests",
        "lifecycle",
        "paying",
        "repeat_buyer",
        "rfm_segment",
        "value_tier",
        "inviter",
        "invitees",
        "koc",
        "tags",
        "properties",
        *HOURLY_FACTS,
    }
)


class RuleError(ValueError):
    """A rule expression that cannot be compiled or refers to unknown facts."""


def fact_names(windows_days: Iterable[int]) -> frozenset[str]:
    """Every variable a rule may use, given the rolling windows in days."""
    windowed = {f"{kind}_{w}d" for w in windows_days for kind in ("count", "visit_days")}
    return _FIXED_FACTS | windowed


def compile_rule(
    name: str, expression: str, kind: Literal["flag", "value"], known: frozenset[str], line: int
) -> Rule:
    """Compile one rule; raise :class:`RuleError` with the reason when it is unusable."""
    try:
        program = cel.compile(expression)
    except ValueError as exc:
        raise RuleError(f"rule {name!r}: {_first_line(str(exc))}") from exc
    used = frozenset(program.variables())
    unknown = sorted(used - known)
    if unknown:
        raise RuleError(f"rule {name!r}: unknown fact(s) {', '.join(unknown)}")
    return Rule(name, expression, kind, program, line, used)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " ".join(lines[:2]) if lines else text


def evaluate_rules(
    rules: Iterable[Rule], resolve: Callable[[str], Any], tags: dict[str, TagValue]
) -> list[tuple[str, str]]:
    """Evaluate rules in order into ``tags`` (in place); later rules see earlier ones
    through the ``tags`` fact. ``resolve(name)`` gives a fact's value; each rule gets only
    the facts it uses. Returns ``(rule, reason)`` for each rule that failed (its tag is
    then absent)."""
    errors: list[tuple[str, str]] = []
    for rule in rules:
        variables = {v: tags if v == "tags" else resolve(v) for v in rule.variables}
        try:
            tag = _as_tag(rule, rule.program.execute(variables))
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            errors.append((rule.name, str(exc)))
            continue
        if tag is not None:
            tags[rule.name] = tag
    return errors


def _as_tag(rule: Rule, value: Any) -> TagValue | None:
    if rule.kind == "flag":
        if not isinstance(value, bool):
            raise TypeError(f"a flag rule must give a bool, got {type(value).__name__}")
        return True if value else None
    if value is None or value == "":
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a value rule must give a scalar, got {type(value).__name__}")
