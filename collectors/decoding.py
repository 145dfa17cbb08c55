"""Reading JSON as real SDKs write it, without losing a good event for a bad neighbour.

The fast path is one ``orjson.loads`` of the whole document; it holds for nearly every
request. Only when it fails does :func:`load_json` look closer:

- **CESU-8**: sa-sdk-miniprogram base64-encodes with its own ``utf8Encode``, which writes
  each UTF-16 half of a character outside the BMP (emoji, rare CJK) as its own 3-byte
  sequence. Such a pair is decoded to the one character it stands for.
- **Lone surrogates** (half a pair, raw or as a ``\\udXXX`` escape, from a string cut in
  the middle of an emoji) become U+FFFD and the event carries the warning
  ``lone_surrogate``; the event is kept.
- **One unreadable element** of a JSON array (bytes that are not UTF-8, broken JSON,
  ``NaN``) is reported alone, by index, with its bytes; the other elements are read.

What is still unreadable is a whole-body :class:`~collectors.exceptions.BadBody`
(not an array whose elements can be told apart, or one bad object).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from collectors.exceptions import BadBody

__all__ = [
    "LONE_SURROGATE",
    "Loaded",
    "Unreadable",
    "UnreadableElement",
    "load_element",
    "load_json",
]

LONE_SURROGATE = "lone_surrogate"
"""Warning of an event in which half a surrogate pair was replaced by U+FFFD."""

# Top-level structure of a JSON array: whole strings (skipped as one token), brackets,
# braces and commas. Strings are matched byte-wise, so bytes that are not UTF-8 inside a
# string do not stop the split; only that element fails to load.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_SURROGATES = re.compile("[\ud800-\udfff]")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An array element that could not be read: rejected alone, its bytes kept."""

    index: int
    code: str
    reason: str
    payload: bytes


@dataclass
class Loaded:
    """The document, with what the careful path found (empty on the fast path)."""

    doc: Any
    unreadable: dict[int, Unreadable] = field(default_factory=dict)
    """Array elements that could not be read; ``doc`` holds ``None`` at their index."""
    warnings: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Per array index (0 for a lone object): warnings of repaired elements."""


class UnreadableElement(Exception):
    """One JSON value that cannot be read, with a stable ``code`` and the ``reason``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def load_json(raw: bytes) -> Loaded:
    """The JSON document in ``raw`` (see the module docstring for what is repaired)."""
    try:
        return Loaded(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        first_error = exc
    body = raw.strip()
    if body[:1] != b"[":
        try:
            doc, warnings = load_element(body)
        except UnreadableElement as exc:
            raise BadBody(exc.reason, code=exc.code) from first_error
        return Loaded(doc, warnings={0: warnings} if warnings else {})
    spans = _split_array(body)
    if spans is None:
        raise BadBody(f"invalid JSON: {first_error}", code="bad_json") from first_error
    loaded = Loaded([])
    for index, chunk in enumerate(spans):
        try:
            doc, warnings = load_element(chunk)
        except UnreadableElement as exc:
            loaded.doc.append(None)
            loaded.unreadable[index] = Unreadable(index, exc.code, exc.reason, chunk)
            continue
        loaded.doc.append(doc)
        if warnings:
            loaded.warnings[index] = warnings
    return loaded


def _split_array(body: bytes) -> list[bytes] | None:
    """The byte spans of the elements of the array ``body``; None when it is not one."""
    spans: list[bytes] = []
    depth, start = 0, 1
    for m in _TOKENS.finditer(body):
        token = m.group()[0]
        if token in _OPEN:
            depth += 1
        elif token in _CLOSE:
            depth -= 1
            if depth == 0:
                last = body[start : m.start()].strip()
                if last or spans:
                    spans.append(last)
                return spans if not body[m.end() :].strip() else None
            if depth < 0:
                return None
        elif token == ord(",") and depth == 1:
            spans.append(body[start : m.start()].strip())
            start = m.end()
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_element(chunk: bytes) -> tuple[Any, tuple[str, ...]]:
    """One JSON value and its warnings; CESU-8 pairs joined, lone surrogates replaced.

    Raises :class:`UnreadableElement` when it cannot be read.
    """
    try:
        return orjson.loads(chunk), ()
    except orjson.JSONDecodeError:
        pass
    try:
        text = chunk.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise UnreadableElement(
            "bad_utf8", f"not UTF-8 text at byte {exc.start}: {exc.reason}"
        ) from exc
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise UnreadableElement("bad_json", f"invalid JSON: {exc}") from exc
    lone: list[int] = [0]
    doc = _repair(doc, lone)
    return doc, ((LONE_SURROGATE,) if lone[0] else ())


def _repair(value: Any, lone: list[int]) -> Any:
    if isinstance(value, str):
        return _repair_text(value, lone)
    if isinstance(value, list):
        return [_repair(item, lone) for item in value]
    if isinstance(value, dict):
        return {_repair_text(k, lone): _repair(v, lone) for k, v in value.items()}
    return value


def _repair_text(text: str, lone: list[int]) -> str:
    if not _SURROGATES.search(text):
        return text
    # UTF-16 round trip: a high + low half become their character, a half alone U+FFFD.
    fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    lone[0] += fixed.count("\ufffd") - text.count("\ufffd")
    return fixed
