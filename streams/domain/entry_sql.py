"""The entry fields of one event in SQL, generated from the scene dictionary.

The tag engine classifies an entry with :func:`streams.domain.scenes.touch_of`; views
that need the same fields per event (``siyu.events_enriched``) read them from these
expressions, built from the same :class:`SceneDictionary` (``scenes.yaml``) and the same
field order (``context.qr`` before ``context.query.qr_id`` before ``properties.qr_id``,
…), so SQL never keeps a rule of its own. Each function takes the SQL expressions of
the event's ``context`` and ``properties`` JSON strings.
"""

from __future__ import annotations

from streams.domain.tag_definitions import SceneDictionary

__all__ = ["ENTRY_FIELDS", "EntrySql"]

ENTRY_FIELDS = ("channel", "campaign", "material", "utm_source", "utm_medium", "scene")


def _q(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pick(*candidates: str) -> str:
    """The first candidate that is not empty once trimmed (``_pick`` of touch_of)."""
    return "coalesce(" + ", ".join(f"nullIf(trim({c}), '')" for c in candidates) + ", '')"


class EntrySql:
    """SQL expressions of one event's entry fields, as ``touch_of`` reads them."""

    def __init__(self, scenes: SceneDictionary) -> None:
        self.scenes = scenes

    @staticmethod
    def _get(doc: str, *path: str) -> str:
        return f"JSONExtractString({doc}, {', '.join(_q(p) for p in path)})"

    def utm_source(self, ctx: str, props: str) -> str:
        g = self._get
        return _pick(g(ctx, "utm", "source"), g(props, "utm_source"), g(props, "$utm_source"))

    def utm_medium(self, ctx: str, props: str) -> str:
        g = self._get
        return _pick(g(ctx, "utm", "medium"), g(props, "utm_medium"), g(props, "$utm_medium"))

    def campaign(self, ctx: str, props: str) -> str:
        g = self._get
        return _pick(
            g(ctx, "utm", "campaign"),
            g(props, "utm_campaign"),
            g(props, "$utm_campaign"),
            g(ctx, "query", "campaign"),
            g(props, "campaign"),
        )

    def qr(self, ctx: str, props: str) -> str:
        g = self._get
        return _pick(g(ctx, "qr"), g(ctx, "query", "qr_id"), g(props, "qr_id"))

    def material(self, ctx: str, props: str) -> str:
        """The material id, else the QR code's id (as ``siyu.user_first_touch``)."""
        g = self._get
        return _pick(
            g(ctx, "material"), g(ctx, "query", "material_id"), g(props, "material_id"),
            self.qr(ctx, props),
        )  # fmt: skip

    def scene(self, ctx: str, props: str) -> str:
        """The scene value as a number (``1007``, ``"1007"``, ``"wx-1007"``), else NULL."""
        raw = (
            f"if(JSONHas({ctx}, 'scene'), {self._get(ctx, 'scene')}, {self._get(props, '$scene')})"
        )
        return f"toInt64OrNull(trim(splitByChar('-', {raw})[-1]))"

    def channel(self, ctx: str, props: str) -> str:
        """The channel class: scene, else share, else QR code, else utm medium, else other
        (an entry without a known class) or direct (no entry)."""
        s = self.scenes
        keys = sorted(s.scenes)
        scene = self.scene(ctx, props)
        by_scene = (
            f"transform(assumeNotNull({scene}), [{', '.join(str(k) for k in keys)}], "
            f"[{', '.join(_q(s.scenes[k]) for k in keys)}], '')"
            if keys
            else "''"
        )
        mediums = sorted(s.utm_mediums)
        by_medium = (
            f"transform(lower({self.utm_medium(ctx, props)}), "
            f"[{', '.join(_q(m) for m in mediums)}], "
            f"[{', '.join(_q(s.utm_mediums[m]) for m in mediums)}], {_q(s.utm_default)})"
            if mediums
            else _q(s.utm_default)
        )
        utm = " OR ".join(
            f"{f(ctx, props)} != ''" for f in (self.utm_source, self.utm_medium, self.campaign)
        )
        own = _pick(self._get(ctx, "material"), self._get(ctx, "query", "material_id"),
                    self._get(props, "material_id"), self._get(ctx, "channel"))  # fmt: skip
        share = f"JSONType({ctx}, 'share') = 'Object' AND JSONLength({ctx}, 'share') > 0"
        return (
            f"multiIf({by_scene} != '', {by_scene}, {share}, {_q(s.share)}, "
            f"{self.qr(ctx, props)} != '', {_q(s.qr)}, {utm}, {by_medium}, "
            f"{scene} IS NOT NULL OR {own} != '', {_q(s.other)}, {_q(s.direct)})"
        )
