"""Tags for the lookup API (``GET /v1/users/{id_type}/{id_value}`` → ``"tags"``).

The seam: the lookup service resolves the identity to a user id, then calls
:func:`read_user_tags` with any ``query(sql) -> rows`` callable (the embedded SQL
endpoint, or a ClickHouse server through clickhouse-connect). ``siyu.user_tags`` is fed
from the tag agents' state changelog, so it trails the live state by the sink's linger
(0.5 s by default): well within the 2 s freshness goal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["UserTags", "read_user_tags", "user_tags_sql"]


@dataclass(frozen=True, slots=True)
class UserTags:
    user_id: str
    tags: dict[str, Any]
    """Tag name → value (text, number or boolean) as the tag engine computed it."""
    updated_at: int
    """Epoch ms of the last evaluation."""


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def user_tags_sql(project: str, user_ids: Sequence[str]) -> str:
    """The query for the current tags of some users (merged-away users excluded)."""
    ids = ", ".join(_quote(u) for u in user_ids) or "''"
    return _USER_TAGS_SQL.format(project=_quote(project), ids=ids)


# Values are quoted by _quote (backslash and quote escaped), never pasted raw.
_USER_TAGS_SQL = (
    "SELECT user_id, tags_json, toUnixTimestamp64Milli(updated_at) AS updated_at "
    "FROM siyu.user_tags FINAL WHERE project = {project} "
    "AND user_id IN ({ids}) AND deleted = 0"
)


def read_user_tags(
    query: Callable[[str], Sequence[Sequence[Any]]], project: str, user_id: str
) -> UserTags | None:
    """The user's current tags, None when the user has none (yet)."""
    rows = query(user_tags_sql(project, [user_id]))
    if not rows:
        return None
    uid, tags_json, updated_at = rows[0]
    return UserTags(str(uid), orjson.loads(tags_json or "{}"), int(updated_at))
