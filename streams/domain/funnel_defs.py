"""Funnel definitions from plain data (a parsed YAML/TOML file), checked strictly.

Shape (see ``streams/config/funnels.yaml``)::

    funnels:
      <name>:
        title: text                      # optional
        kind: ordered | fission          # default ordered
        window: 24h                      # s, m, h, d suffix or seconds
        lateness: 1d                     # optional, default 1d
        breakdown: [platform, channel, campaign, properties.experiment]
        steps:
          - name: view_product
            events: [view_product]       # or a single name
            where: {properties.price: {gte: 100}, platform: miniprogram}
    fission:
      attribution: first | last
      success_step: register
      rewards: [3, 5]
      reward_tag: referral_reward

A ``where`` value is a scalar (equals), a list (one of) or ``{op: value}`` with op in
eq, ne, in, not_in, gt, gte, lt, lte, exists. Every error names the path of the bad
item so the loader can point at its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from siyu.exceptions import TrackingError
from streams.domain.funnel_model import (
    BUILTIN_DIMENSIONS,
    DAY_S,
    FILTER_OPS,
    JSON_FIELDS,
    TOP_FIELDS,
    Dimension,
    FieldPath,
    Filter,
    FilterOp,
    Funnel,
    Scalar,
    Step,
)
from streams.domain.tag_definitions import SceneDictionary

__all__ = ["FissionConfig", "FunnelDefinitionError", "FunnelSet", "parse_funnels"]

Path = tuple[str | int, ...]
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": DAY_S}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FUNNEL_KEYS = {"title", "kind", "window", "lateness", "breakdown", "steps", "max_entries"}
_STEP_KEYS = {"name", "events", "where", "actor", "via_share", "first"}
_FISSION_KEYS = {"attribution", "success_step", "rewards", "reward_tag"}


class FunnelDefinitionError(TrackingError):
    """A funnel file that cannot be used; ``path`` locates the bad item."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        where = ".".join(str(p) for p in path) or "<root>"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class FissionConfig:
    """How share chains credit inviters and when they earn rewards."""

    attribution: Literal["first", "last"] = "first"
    """Invitee steps after the visit credit the first (or the latest) inviter."""
    success_step: str = "register"
    """An invite succeeds when the invitee reaches this step of the fission funnel."""
    rewards: tuple[int, ...] = (3, 5)
    """Successful-invite counts at which the sharer earns a reward tag."""
    reward_tag: str = "referral_reward"


@dataclass(frozen=True, slots=True)
class FunnelSet:
    funnels: tuple[Funnel, ...]
    fission: FissionConfig = FissionConfig()

    @property
    def ordered(self) -> tuple[Funnel, ...]:
        return tuple(f for f in self.funnels if f.kind == "ordered")

    @property
    def fission_funnel(self) -> Funnel | None:
        return next((f for f in self.funnels if f.kind == "fission"), None)

    def with_scenes(self, scenes: SceneDictionary) -> FunnelSet:
        """The same funnels, their channel breakdowns classed by the scene dictionary."""
        return replace(
            self,
            funnels=tuple(
                replace(f, breakdown=tuple(replace(d, scenes=scenes) for d in f.breakdown))
                for f in self.funnels
            ),
        )

    def in_zone(self, offset_s: int) -> FunnelSet:
        """The same funnels counting days of a timezone ``offset_s`` seconds east of UTC."""
        return replace(self, funnels=tuple(replace(f, offset_s=offset_s) for f in self.funnels))


def _fail(path: Path, reason: str) -> FunnelDefinitionError:
    return FunnelDefinitionError(path, reason)


def _mapping(value: Any, path: Path) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "expected a mapping")
    return value


def _keys(value: Mapping[str, Any], allowed: set[str], path: Path) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail((*path, unknown[0]), f"unknown key (allowed: {', '.join(sorted(allowed))})")


def parse_duration(value: Any, path: Path) -> int:
    """Seconds from ``90``, ``"30m"``, ``"24h"`` or ``"7d"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    found = _DURATION_RE.match(value) if isinstance(value, str) else None
    if found is None or int(found.group(1)) <= 0:
        raise _fail(path, f"not a positive duration: {value!r} (use e.g. 90, 30m, 24h, 7d)")
    return int(found.group(1)) * _UNITS[found.group(2)]


def parse_field(value: Any, path: Path) -> FieldPath:
    parts = tuple(value.split(".")) if isinstance(value, str) else ()
    if not parts or not all(parts):
        raise _fail(path, f"not a field path: {value!r}")
    if parts[0] in TOP_FIELDS and len(parts) == 1:
        return parts
    if parts[0] in JSON_FIELDS and len(parts) > 1:
        return parts
    raise _fail(
        path, f"field must be one of {sorted(TOP_FIELDS)} or properties.<key>/context.<key>"
    )


def _scalar(value: Any, path: Path) -> Scalar:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(path, f"expected a string or a number, got {value!r}")
    return value if isinstance(value, str) else float(value)


def _filters(where: Any, path: Path) -> tuple[Filter, ...]:
    out: list[Filter] = []
    for name, spec in _mapping(where, path).items():
        here = (*path, name)
        field = parse_field(name, here)
        ops = (
            spec if isinstance(spec, Mapping) else {"in" if isinstance(spec, list) else "eq": spec}
        )
        for op, value in ops.items():
            if op not in FILTER_OPS or op == "not_exists":
                raise _fail((*here, op), f"unknown operator (use {', '.join(sorted(FILTER_OPS))})")
            if op == "exists":
                out.append(Filter(field, "exists" if value else "not_exists"))
            elif op in ("in", "not_in"):
                if not isinstance(value, list) or not value:
                    raise _fail((*here, op), "expected a non-empty list")
                out.append(
                    Filter(field, cast(FilterOp, op), tuple(_scalar(v, (*here, op)) for v in value))
                )
            else:
                scalar = _scalar(value, (*here, op))
                if op in ("gt", "gte", "lt", "lte") and isinstance(scalar, str):
                    raise _fail((*here, op), "comparisons need a number")
                out.append(Filter(field, cast(FilterOp, op), scalar))
    return tuple(out)


def _names(value: Any, path: Path) -> frozenset[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise _fail(path, "expected an event name or a non-empty list of names")
    return frozenset(names)


def _flag(spec: Mapping[str, Any], key: str, path: Path) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):  # `no` or `off` are text, not false
        raise _fail((*path, key), f"expected true or false, got {value!r}")
    return value


def _step(raw: Any, path: Path, kind: str, index: int) -> Step:
    spec = _mapping(raw, path)
    _keys(spec, _STEP_KEYS, path)
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail((*path, "name"), "a step needs a name (letters, digits, _)")
    if "events" not in spec:
        raise _fail(path, "a step needs events")
    via_share, first = _flag(spec, "via_share", path), _flag(spec, "first", path)
    actor = spec.get(
        "actor", "user" if kind == "ordered" else ("sharer" if index == 0 else "invitee")
    )
    if kind == "ordered" and actor != "user":
        raise _fail((*path, "actor"), "only fission funnels name an actor")
    if kind == "fission":
        expected = "sharer" if index == 0 else "invitee"
        if actor != expected:
            raise _fail(
                (*path, "actor"), f"step {index + 1} of a fission funnel is the {expected}'s"
            )
        if via_share != (index == 1):
            raise _fail(path, "exactly the second step of a fission funnel has via_share: true")
    elif via_share or first:
        raise _fail(path, "via_share and first belong to fission funnels")
    return Step(
        name=name,
        events=_names(spec["events"], (*path, "events")),
        filters=_filters(spec.get("where", {}), (*path, "where")),
        actor=cast(Any, actor),
        via_share=via_share,
        first=first,
    )


def _dimension(value: Any, path: Path) -> Dimension:
    if value in BUILTIN_DIMENSIONS:
        return Dimension(value)
    field = parse_field(value, path)
    return Dimension(".".join(field), field)


def _funnel(name: str, raw: Any, path: Path) -> Funnel:
    spec = _mapping(raw, path)
    _keys(spec, _FUNNEL_KEYS, path)
    if not _NAME_RE.match(name):
        raise _fail(path, "funnel names use letters, digits and _")
    kind = spec.get("kind", "ordered")
    if kind not in ("ordered", "fission"):
        raise _fail((*path, "kind"), "kind is ordered or fission")
    steps_raw = spec.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw or len(steps_raw) > 32:
        raise _fail((*path, "steps"), "expected a list of 1 to 32 steps")
    if kind == "fission" and len(steps_raw) < 2:
        raise _fail((*path, "steps"), "a fission funnel has a share step and a visit step at least")
    steps = tuple(_step(s, (*path, "steps", i), kind, i) for i, s in enumerate(steps_raw))
    if len({s.name for s in steps}) != len(steps):
        raise _fail((*path, "steps"), "step names must be unique")
    if "window" not in spec:
        raise _fail(path, "a funnel needs a window")
    breakdown = spec.get("breakdown", [])
    if not isinstance(breakdown, list):
        raise _fail((*path, "breakdown"), "expected a list")
    max_entries = spec.get("max_entries", 2000)
    if not isinstance(max_entries, int) or max_entries < 1:
        raise _fail((*path, "max_entries"), "expected a positive integer")
    return Funnel(
        name=name,
        steps=steps,
        window_s=parse_duration(spec["window"], (*path, "window")),
        breakdown=tuple(_dimension(d, (*path, "breakdown", i)) for i, d in enumerate(breakdown)),
        kind=kind,
        title=str(spec.get("title", "")),
        lateness_s=parse_duration(spec.get("lateness", DAY_S), (*path, "lateness")),
        max_entries=max_entries,
    )


def _fission(raw: Any, funnels: Sequence[Funnel]) -> FissionConfig:
    path: Path = ("fission",)
    spec = _mapping(raw, path)
    _keys(spec, _FISSION_KEYS, path)
    default = FissionConfig()
    attribution = spec.get("attribution", default.attribution)
    if attribution not in ("first", "last"):
        raise _fail((*path, "attribution"), "first or last")
    success = spec.get("success_step", default.success_step)
    fission = next((f for f in funnels if f.kind == "fission"), None)
    if fission is not None and success not in [s.name for s in fission.steps[1:]]:
        raise _fail((*path, "success_step"), "must name an invitee step of the fission funnel")
    rewards = spec.get("rewards", list(default.rewards))
    if not isinstance(rewards, list) or not all(isinstance(r, int) and r > 0 for r in rewards):
        raise _fail((*path, "rewards"), "expected a list of positive invite counts")
    return FissionConfig(
        attribution=attribution,
        success_step=success,
        rewards=tuple(sorted(set(rewards))),
        reward_tag=str(spec.get("reward_tag", default.reward_tag)),
    )


def parse_funnels(data: Any) -> FunnelSet:
    """Check and convert a parsed funnel file; raise :class:`FunnelDefinitionError`."""
    root = _mapping(data, ())
    _keys(root, {"funnels", "fission"}, ())
    raw = _mapping(root.get("funnels"), ("funnels",))
    funnels = tuple(_funnel(str(n), spec, ("funnels", str(n))) for n, spec in raw.items())
    if not funnels:
        raise _fail(("funnels",), "define at least one funnel")
    if sum(f.kind == "fission" for f in funnels) > 1:
        raise _fail(("funnels",), "at most one fission funnel")
    return FunnelSet(funnels, _fission(root.get("fission", {}), funnels))
