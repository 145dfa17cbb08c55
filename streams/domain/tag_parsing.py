"""Parse a tag definition file (YAML) into :class:`Definitions`.

Every mistake is reported as a :class:`DefinitionError` naming the file, the line and the
reason (``tags.yaml:42: rule 'x': unknown fact(s) ordrs``), before anything runs. The
format is documented in docs/tags.md. Parsing is pure: included files (the scene
dictionary, the content catalogue) are read through the ``include`` callable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from streams.domain.located_yaml import (
    DefinitionError,
    Include,
    SourceFile,
    check_keys,
    convert,
    get,
    get_names,
    line_of,
    mapping,
    parse_duration,
)
from streams.domain.profile import new_profile
from streams.domain.qr_codes import SHIPPED_QR_CODES, registry_from_sources
from streams.domain.scenes import TOUCH_FIELDS, parse_scene
from streams.domain.tag_definitions import (
    DAY_MS,
    ContentDef,
    Definitions,
    EventNames,
    LifecycleDef,
    ReferralDef,
    RfmDef,
    Rule,
    SceneDictionary,
    ValueTier,
)
from streams.domain.tag_facts import Facts
from streams.domain.tag_rules import RuleError, compile_rule, evaluate_rules, fact_names

__all__ = [
    "BUILTIN_TAGS",
    "SHIPPED_QR_CODES",
    "SHIPPED_SCENES",
    "DefinitionError",
    "parse_definitions",
    "parse_duration",
]

# Included-file name of the scene dictionary shipped with siyu (streams/config/scenes.yaml).
SHIPPED_SCENES = "siyu:scenes.yaml"

# Tags the engine computes itself; rule names may not reuse them.
BUILTIN_TAGS = frozenset(
    {
        "first_seen", "last_seen", "first_platform", "platforms", "orders", "total_paid",
        "first_order_at", "last_order_at", "favourite_category", "lifecycle", "paying",
        "repeat_buyer", "rfm_r", "rfm_f", "rfm_m", "rfm_segment", "value_tier", "inviter",
        "invitees", "koc",
    }
)  # fmt: skip
# Touch tags (first_channel, latest_scene …); count_<w>d:<event> and interest:<tag> hold a
# colon, which rule names cannot.
_TOUCH_TAGS = frozenset(f"{when}_{name}" for when in ("first", "latest") for name in TOUCH_FIELDS)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})?$")


def _offset(f: SourceFile, doc: Mapping[str, Any]) -> int:
    raw = doc.get("timezone", "+08:00")
    found = _OFFSET.match(str(raw).strip())
    if found is None or int(found.group(2)) > 14:
        f.fail(
            line_of(doc, "timezone"), f"timezone: expected an offset such as +08:00, got {raw!r}"
        )
    sign = -1 if found.group(1) == "-" else 1
    return sign * (int(found.group(2)) * 60 + int(found.group(3) or 0)) * 60_000


def _events(f: SourceFile, doc: Mapping[str, Any]) -> EventNames:
    base = EventNames()
    if "events" not in doc:
        return base
    keys = ("visits", "counted", "order", "amount_property", "cart", "product")
    node = mapping(f, doc, "events", frozenset({*keys, "category_property"}))
    return EventNames(
        visits=frozenset(get(f, node, "visits", "strs", base.visits)),
        counted=get(f, node, "counted", "strs", base.counted),
        order=get(f, node, "order", "str", base.order),
        amount_property=get(f, node, "amount_property", "str", base.amount_property),
        cart=get(f, node, "cart", "str", base.cart),
        product=get(f, node, "product", "str", base.product),
        category_property=get(f, node, "category_property", "str", base.category_property),
    )


def _included(
    f: SourceFile, node: Mapping[str, Any], key: str
) -> tuple[SourceFile, Mapping[str, Any]]:
    name = get(f, node, key, "str", "")
    if f.include is None:
        f.fail(line_of(node, key), f"{key}: this file cannot include other files")
    try:
        loaded, source = f.include(name)
    except OSError as exc:
        f.fail(line_of(node, key), f"{key}: cannot read {name}: {exc.strerror or exc}")
    inner = SourceFile(source, f.include)
    if not isinstance(loaded, Mapping):
        inner.fail(1, "expected a mapping at the top level")
    return inner, loaded


def _scene_values(f: SourceFile, parent: Mapping[str, Any]) -> dict[int, str]:
    node = mapping(f, parent, "scenes")
    scenes: dict[int, str] = {}
    for channel, values in node.items():
        if not isinstance(values, list):
            f.fail(line_of(node, channel), f"scenes.{channel}: expected a list of scene values")
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, int):
                f.fail(line_of(values, i), f"scenes.{channel}: {value!r} is not a scene number")
            if value in scenes:
                f.fail(line_of(values, i), f"scene {value} is listed under {scenes[value]} too")
            scenes[value] = str(channel)
    return scenes


_SOURCE_KEYS = frozenset(
    {"scenes", "names", "utm_mediums", "utm_default", "share", "qr", "direct", "other"}
)


def _sources(f: SourceFile, doc: Mapping[str, Any]) -> SceneDictionary:
    if "sources" not in doc:
        if f.include is None:
            return SceneDictionary()
        # No sources section: the shipped scene dictionary.
        doc = {"sources": {"scenes_file": SHIPPED_SCENES}}
    node = mapping(f, doc, "sources", _SOURCE_KEYS | {"scenes_file", "qrcodes_file"})
    parts: list[tuple[SourceFile, Mapping[str, Any]]] = []
    if "scenes_file" in node:
        inner, loaded = _included(f, node, "scenes_file")
        check_keys(inner, loaded, "scene dictionary", _SOURCE_KEYS)
        parts.append((inner, loaded))
    parts.append((f, node))
    # A key given in the tags file replaces the same key of the scene dictionary file.
    owner = {
        key: part for part in parts for key in part[1] if key not in ("scenes_file", "qrcodes_file")
    }
    scenes: dict[int, str] = {}
    if "scenes" in owner:
        scenes = _scene_values(*owner["scenes"])
    mediums: dict[str, str] = {}
    if "utm_mediums" in owner:
        src, holder = owner["utm_mediums"]
        table = mapping(src, holder, "utm_mediums")
        mediums = {str(k).lower(): str(v) for k, v in table.items()}
    scene_names: dict[int, str] = {}
    if "names" in owner:
        src, holder = owner["names"]
        for key, value in mapping(src, holder, "names").items():
            if parse_scene(key) is None:
                src.fail(line_of(holder, "names"), f"names: {key!r} is not a scene value")
            scene_names[int(str(key))] = str(value)
    base = SceneDictionary()
    names = {}
    for key in ("utm_default", "share", "qr", "direct", "other"):
        src, holder = owner.get(key, (f, {}))
        names[key] = get(src, holder, key, "str", getattr(base, key))
    codes, codes_source = registry_from_sources(f, node)
    return SceneDictionary(
        scenes=scenes,
        names=scene_names,
        utm_mediums=mediums,
        qr_codes=codes,
        qr_codes_source=codes_source,
        **names,
    )


def _lifecycle(f: SourceFile, doc: Mapping[str, Any]) -> LifecycleDef | None:
    if doc.get("lifecycle", True) is False:
        return None
    base = LifecycleDef()
    if "lifecycle" not in doc:
        return base
    node = mapping(f, doc, "lifecycle", frozenset({"new_for", "silent_after", "churned_after"}))
    found = LifecycleDef(
        new_for=get(f, node, "new_for", "duration", base.new_for),
        silent_after=get(f, node, "silent_after", "duration", base.silent_after),
        churned_after=get(f, node, "churned_after", "duration", base.churned_after),
    )
    if found.churned_after <= found.silent_after:
        f.fail(
            line_of(doc, "lifecycle"), "lifecycle: churned_after must be longer than silent_after"
        )
    return found


def _rfm(f: SourceFile, doc: Mapping[str, Any]) -> RfmDef | None:
    if doc.get("rfm", True) is False:
        return None
    base = RfmDef()
    if "rfm" not in doc:
        return base
    keys = {"window", "recency", "frequency", "monetary", "high_from", "segments"}
    node = mapping(f, doc, "rfm", frozenset(keys))
    segments = dict(base.segments)
    if "segments" in node:
        given = mapping(f, node, "segments", frozenset(base.segments))
        segments.update({k: str(v) for k, v in given.items()})
    recency = get(f, node, "recency", "numbers", base.recency_days)
    found = RfmDef(
        window_days=get(f, node, "window", "days", base.window_days),
        recency_days=tuple(int(d) for d in recency),
        frequency=get(f, node, "frequency", "numbers", base.frequency),
        monetary=get(f, node, "monetary", "numbers", base.monetary),
        high_from=get(f, node, "high_from", "int", base.high_from),
        segments=segments,
    )
    lengths = {len(found.recency_days), len(found.frequency), len(found.monetary)}
    if len(lengths) != 1 or not 1 < found.high_from <= lengths.pop() + 1:
        f.fail(
            line_of(doc, "rfm"),
            "rfm: recency, frequency and monetary need as many thresholds each, "
            "and high_from must be a score between 2 and that number + 1",
        )
    return found


def _value_tiers(f: SourceFile, doc: Mapping[str, Any]) -> tuple[ValueTier, ...]:
    if "value_tiers" not in doc or doc["value_tiers"] is False:
        return ()
    node = mapping(f, doc, "value_tiers")
    tiers = [ValueTier(str(name), get(f, node, name, "number", 0)) for name in node]
    if [t.min_paid for t in tiers] != sorted({t.min_paid for t in tiers}):
        f.fail(line_of(doc, "value_tiers"), "value_tiers: minimum amounts must be ascending")
    return tuple(tiers)


def _referral(f: SourceFile, doc: Mapping[str, Any]) -> ReferralDef | None:
    if doc.get("referral", True) is False:
        return None
    base = ReferralDef()
    if "referral" not in doc:
        return base
    node = mapping(f, doc, "referral", frozenset({"success_events", "koc_min"}))
    return ReferralDef(
        success_events=frozenset(get(f, node, "success_events", "strs", base.success_events)),
        koc_min=get(f, node, "koc_min", "int", base.koc_min),
    )


def _catalogue(f: SourceFile, parent: Mapping[str, Any], key: str) -> dict[str, tuple[str, ...]]:
    node = mapping(f, parent, key)
    items: dict[str, tuple[str, ...]] = {}
    for item in node:
        items[str(item)] = get(f, node, item, "strs", ())
    return items


def _content(f: SourceFile, doc: Mapping[str, Any]) -> ContentDef | None:
    if doc.get("content", True) is False:
        return None
    base = ContentDef()
    if "content" not in doc:
        return base
    keys = {"weights", "half_life", "top_n", "min_score", "max_kept", "tags_properties"}
    keys |= {"id_property", "type_property", "catalogue", "catalogue_file"}
    node = mapping(f, doc, "content", frozenset(keys))
    weights = {}
    if "weights" in node:
        table = mapping(f, node, "weights")
        weights = {str(name): float(get(f, table, name, "number", 0)) for name in table}
    catalogue: dict[str, tuple[str, ...]] = {}
    if "catalogue_file" in node:
        inner, loaded = _included(f, node, "catalogue_file")
        catalogue.update(_catalogue(inner, {"catalogue": loaded}, "catalogue"))
    if "catalogue" in node:
        catalogue.update(_catalogue(f, node, "catalogue"))
    return ContentDef(
        weights=weights,
        half_life=get(f, node, "half_life", "duration", base.half_life),
        top_n=get(f, node, "top_n", "int", base.top_n),
        min_score=float(get(f, node, "min_score", "number", base.min_score)),
        max_kept=get(f, node, "max_kept", "int", base.max_kept),
        tags_properties=get(f, node, "tags_properties", "strs", base.tags_properties),
        id_properties=get_names(f, node, "id_property", base.id_properties),
        type_property=get(f, node, "type_property", "str", base.type_property),
        catalogue=catalogue,
    )


def _rules(f: SourceFile, doc: Mapping[str, Any], windows: tuple[int, ...]) -> tuple[Rule, ...]:
    if "rules" not in doc:
        return ()
    node = doc["rules"]
    if not isinstance(node, list):
        f.fail(line_of(doc, "rules"), "rules: expected a list of rules")
    known = fact_names(windows)
    rules: list[Rule] = []
    for i, item in enumerate(node):
        line = line_of(node, i)
        if not isinstance(item, Mapping):
            f.fail(line, "rules: each rule is a mapping with name and when (or value)")
        check_keys(f, item, "rule", frozenset({"name", "when", "value", "description"}))
        name = get(f, item, "name", "str", "")
        if not _NAME.match(name):
            f.fail(line, f"rule name {name!r}: use lower-case letters, digits and _")
        if name in BUILTIN_TAGS or name in _TOUCH_TAGS:
            f.fail(line, f"rule name {name!r} is taken by a built-in tag")
        if any(r.name == name for r in rules):
            f.fail(line, f"rule {name!r} is defined twice")
        if ("when" in item) == ("value" in item):
            f.fail(line, f"rule {name!r}: give exactly one of when (a flag) or value")
        kind: Literal["flag", "value"] = "flag" if "when" in item else "value"
        key = "when" if kind == "flag" else "value"
        expression = get(f, item, key, "str", "")
        try:
            rules.append(compile_rule(name, expression, kind, known, line_of(item, key)))
        except RuleError as exc:
            f.fail(line_of(item, key), str(exc))
    return tuple(rules)


def _try_rules(f: SourceFile, defs: Definitions) -> None:
    """Evaluate every rule once against a sample user, so type mistakes (comparing text
    with a number, an event missing from a window map) fail now, not per event."""
    sample = new_profile("sample", "sample")
    now = 400 * DAY_MS
    sample["first_seen"] = now - DAY_MS
    sample["last_seen"] = sample["last_visit"] = now
    sample["orders"], sample["paid"] = 1, 1.0
    tags: dict[str, Any] = {}
    for rule in defs.rules:
        errors = evaluate_rules((rule,), Facts(defs, sample, now, tags).get, tags)
        if errors:
            f.fail(rule.line, f"rule {rule.name!r}: {errors[0][1]}")


_TOP_KEYS = frozenset(
    {
        "version", "timezone", "windows", "dedupe_ids", "events", "sources", "lifecycle",
        "timers", "rfm", "value_tiers", "referral", "content", "rules",
    }
)  # fmt: skip


def parse_definitions(doc: Any, *, source: str, include: Include | None = None) -> Definitions:
    """Check a loaded tag file (``source`` names it in errors); raise
    :class:`DefinitionError` (file, line, reason) when unusable."""
    f = SourceFile(source, include)
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        f.fail(1, "expected a mapping at the top level")
    check_keys(f, doc, "tag file", _TOP_KEYS)
    if doc.get("version", 1) != 1:
        f.fail(line_of(doc, "version"), f"version {doc['version']!r} is not supported (use 1)")
    windows: tuple[int, ...] = (7, 30, 90)
    if "windows" in doc:
        if not isinstance(doc["windows"], list) or not doc["windows"]:
            f.fail(line_of(doc, "windows"), "windows: expected a list such as [7d, 30d, 90d]")
        found: set[int] = set()
        for i, raw in enumerate(doc["windows"]):
            try:
                found.add(convert(raw, "days"))
            except ValueError as exc:
                f.fail(line_of(doc["windows"], i), f"windows: {exc}")
        windows = tuple(sorted(found))
    timers = mapping(f, doc, "timers", frozenset({"hourly_horizon"})) if "timers" in doc else {}
    defs = Definitions(
        source=source,
        utc_offset=_offset(f, doc),
        windows_days=windows,
        events=_events(f, doc),
        scenes=_sources(f, doc),
        lifecycle=_lifecycle(f, doc),
        rfm=_rfm(f, doc),
        value_tiers=_value_tiers(f, doc),
        referral=_referral(f, doc),
        content=_content(f, doc),
        rules=_rules(f, doc, windows),
        dedupe_ids=get(f, doc, "dedupe_ids", "int", 64),
        hourly_horizon=get(f, timers, "hourly_horizon", "duration", 48 * 3_600_000),
    )
    _try_rules(f, defs)
    return defs
