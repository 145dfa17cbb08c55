"""The one codec for every Kafka record: Avro single-object encoding.

Each record is ``C3 01`` + the 8-byte CRC-64-AVRO fingerprint of its writer schema +
the Avro binary body. Schemas are parsed once, when a :class:`Codec` is built. The
current schema of a name is ``schemas/<name>.avsc``; earlier versions live in
``schemas/history/<name>.v<N>.avsc`` so records written by an older producer are read
with their writer schema and resolved to the current one (Avro schema evolution).
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
import orjson
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.exceptions import SchemaError

__all__ = ["Codec", "codec", "legacy_json", "schema_path"]

_MAGIC = b"\xc3\x01"
_HEADER = len(_MAGIC) + 8
_DIR = Path(__file__).parent


def schema_path(name: str) -> Path:
    return _DIR / f"{name}.avsc"


def _load(path: Path) -> Any:
    try:
        return fastavro.parse_schema(json.loads(path.read_text()))
    except (ValueError, fastavro.schema.SchemaParseException) as exc:
        raise SchemaError(str(exc), schema=path.name) from exc


def _fingerprint(parsed: Any) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


class Codec:
    """Encode and decode one record type. Thread-safe; build once and reuse."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.schema = _load(schema_path(name))
        self._header = _MAGIC + _fingerprint(self.schema)
        self._writers: dict[bytes, Any] = {self._header[2:]: self.schema}
        for old in sorted((_DIR / "history").glob(f"{name}.v*.avsc")):
            parsed = _load(old)
            self._writers[_fingerprint(parsed)] = parsed

    def encode(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header)
        try:
            fastavro.schemaless_writer(buf, self.schema, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SchemaError(f"cannot encode: {exc}", schema=self.name) from exc
        return buf.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        if len(data) < _HEADER or data[:2] != _MAGIC:
            raise SchemaError("not an Avro single-object record", schema=self.name)
        writer = self._writers.get(data[2:_HEADER])
        if writer is None:
            raise SchemaError(f"unknown writer schema {data[2:_HEADER].hex()}", schema=self.name)
        try:
            record: dict[str, Any] = fastavro.schemaless_reader(  # type: ignore[assignment]
                io.BytesIO(data[_HEADER:]),
                writer,
                self.schema if writer is not self.schema else None,
            )
        except (ValueError, TypeError, EOFError, IndexError, UnicodeDecodeError) as exc:
            raise SchemaError(f"cannot decode: {exc}", schema=self.name) from exc
        return record


@cache
def codec(name: str) -> Codec:
    """The shared codec of a schema name (parsed once per process)."""
    return Codec(name)


def legacy_json(data: bytes) -> dict[str, Any] | None:
    """The JSON object of a record written before its topic had a schema, else None.

    ``tags.signals``, ``state.transfer`` and ``funnels.fission`` carried JSON objects
    before; records still on those topics after an upgrade are read once this way (an
    Avro record starts with ``C3 01``, never with ``{``).
    """
    if data[:1] != b"{":
        return None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"unreadable JSON record: {exc}", schema="legacy") from exc
    return doc if isinstance(doc, dict) else None
