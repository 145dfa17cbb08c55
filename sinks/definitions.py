"""The definitions SQL shares with the stream workers, written into the migrations.

Migrations name them with ``{{…}}`` markers instead of repeating a rule:

- ``{{local_date(<project column>, <time expression>)}}``: the calendar day of a UTC
  time in the project's timezone (``Project.timezone``). One expression per project,
  generated from the settings, so every day bucket in SQL uses the same zone as the
  stream workers.
- ``{{today(<project column>)}}``: today in the project's timezone.
- ``{{rfm_label(<segment key expression>)}}``: the operators' (Chinese) name of an RFM
  segment key (:data:`streams.domain.rfm.SEGMENT_LABELS`); an unknown key is shown as is.
- ``{{scene_name(<scene expression>)}}``: the name of a WeChat scene value from the scene
  dictionary (``scenes.yaml`` ``names``); empty for a scene without a name.
- ``{{entry_channel(<context>, <properties>)}}`` and ``entry_campaign``,
  ``entry_material``, ``entry_utm_source``, ``entry_utm_medium``, ``entry_scene``: one
  event's entry fields as the tag engine reads them (:mod:`streams.domain.entry_sql`, from the
  scene dictionary ``scenes.yaml``).
- ``{{project_zones}}``: ``(project, timezone)`` tuples of every configured project.
- ``{{fission_share_events}}``, ``{{fission_visit_step}}``, ``{{fission_success_step}}``,
  ``{{fission_order_step}}``: the fission funnel of the funnel file (step numbers found
  by their names), so SQL never hard-codes a step number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.domain.entry_sql import ENTRY_FIELDS, EntrySql
from streams.domain.funnel_defs import FunnelSet
from streams.domain.rfm import SEGMENT_LABELS
from streams.domain.tag_definitions import SceneDictionary
from streams.zones import DEFAULT_ZONE

__all__ = ["DEFAULT_ZONE", "SqlDefinitions", "quote"]

_MARKER = re.compile(r"\{\{(\w+)(?:\((.*?)\))?\}\}")


def quote(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class SqlDefinitions:
    zones: Mapping[str, str] = field(default_factory=dict)
    """Timezone per project; projects not listed use ``default_zone``."""
    default_zone: str = DEFAULT_ZONE
    share_events: tuple[str, ...] = ("share",)
    visit_step: int = 2
    success_step: int = 3
    order_step: int = 4
    scenes: SceneDictionary = field(default_factory=SceneDictionary)
    """The scene dictionary: channel classes and scene names."""

    @property
    def scene_names(self) -> Mapping[int, str]:
        return self.scenes.names

    @classmethod
    def build(
        cls,
        zones: Mapping[str, str],
        funnels: FunnelSet,
        scenes: SceneDictionary | None = None,
    ) -> SqlDefinitions:
        """From the projects' zones, the funnel file's fission funnel and the scene
        dictionary."""
        fission = funnels.fission_funnel
        names = scenes or SceneDictionary()
        if fission is None:
            return cls(zones=dict(zones), scenes=names)
        steps = [s.name for s in fission.steps]
        visit = next((i for i, s in enumerate(fission.steps, 1) if s.via_share), 2)
        success = steps.index(funnels.fission.success_step) + 1
        return cls(
            zones=dict(zones),
            share_events=tuple(sorted(fission.steps[0].events)),
            visit_step=visit,
            success_step=success,
            order_step=len(steps),
            scenes=names,
        )

    def zone(self, project: str) -> str:
        return self.zones.get(project, self.default_zone)

    def local_date(self, project_column: str, time: str) -> str:
        others = {z for z in self.zones.values() if z != self.default_zone}
        fallback = f"toDate({time}, {quote(self.default_zone)})"
        if not others:
            return fallback
        arms = ", ".join(
            f"{project_column} = {quote(p)}, toDate({time}, {quote(z)})"
            for p, z in sorted(self.zones.items())
            if z != self.default_zone
        )
        return f"multiIf({arms}, {fallback})"

    def render(self, sql: str) -> str:
        """``sql`` with every ``{{…}}`` marker replaced."""

        def one(m: re.Match[str]) -> str:
            name, args = m.group(1), [a.strip() for a in (m.group(2) or "").split(",", 1)]
            if name == "local_date":
                return self.local_date(args[0], args[1])
            if name == "today":
                return self.local_date(args[0], "now()")
            if name == "rfm_label":
                keys = ", ".join(quote(k) for k in SEGMENT_LABELS)
                labels = ", ".join(quote(v) for v in SEGMENT_LABELS.values())
                return f"transform({args[0]}, [{keys}], [{labels}], {args[0]})"
            if name == "scene_name":
                if not self.scene_names:
                    return "''"
                keys = ", ".join(quote(str(k)) for k in sorted(self.scene_names))
                labels = ", ".join(quote(self.scene_names[k]) for k in sorted(self.scene_names))
                return f"transform(toString({args[0]}), [{keys}], [{labels}], '')"
            if name.removeprefix("entry_") in ENTRY_FIELDS:
                field_sql = getattr(EntrySql(self.scenes), name.removeprefix("entry_"))
                return str(field_sql(args[0], args[1]))
            if name == "project_zones":
                zones = dict(self.zones) or {"default": self.default_zone}
                return ", ".join(f"({quote(p)}, {quote(z)})" for p, z in sorted(zones.items()))
            if name == "fission_share_events":
                return "(" + ", ".join(quote(e) for e in self.share_events) + ")"
            steps = {
                "fission_visit_step": self.visit_step,
                "fission_success_step": self.success_step,
                "fission_order_step": self.order_step,
            }
            if name in steps:
                return str(steps[name])
            raise ValueError(f"unknown SQL definition {{{{{name}}}}}")

        return _MARKER.sub(one, sql)
