"""The live-code registry (活码): QR code id → channel, material, campaign, staff, kind.

A code reaches siyu as ``context.qr`` (the siyu SDK, a WeCom ``State``, an official
account's ``qrscene_<id>``) or ``qr_id`` in the query or properties. The registry names it:
source tags carry the entry's names, and the bare id when the code is not registered.
The file format (``qrcodes.yaml``, docs/wechat.md)::

    codes:
      spring-poster:
        name: 春季海报
        channel: moments_poster
        material: poster_a
        campaign: spring_sale
        staff: zhangsan
        kind: live          # live (活码, reassignable) or static (死码)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from streams.domain.located_yaml import SourceFile, check_keys, get, line_of

__all__ = [
    "KINDS",
    "SHIPPED_QR_CODES",
    "QrCode",
    "dump_qr_codes",
    "parse_qr_codes",
    "qr_names",
    "registry_from_sources",
]

KINDS = ("live", "static")
# The live-code registry used when the tags file names none (streams/config/qrcodes.yaml).
SHIPPED_QR_CODES = "siyu:qrcodes.yaml"
_FIELDS = frozenset({"name", "channel", "material", "campaign", "staff", "kind"})


@dataclass(frozen=True, slots=True)
class QrCode:
    """One registered code. Empty strings are names the registry does not give."""

    id: str
    name: str = ""
    channel: str = ""
    material: str = ""
    campaign: str = ""
    staff: str = ""
    kind: Literal["live", "static"] = "live"


def parse_qr_codes(f: SourceFile, doc: Any) -> dict[str, QrCode]:
    """The codes of a loaded registry document; mistakes fail with file and line."""
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        f.fail(1, "expected a mapping with a 'codes' key at the top level")
    check_keys(f, doc, "qr registry", frozenset({"codes"}))
    codes = doc.get("codes") or {}
    if not isinstance(codes, Mapping):
        f.fail(line_of(doc, "codes"), "codes: expected a mapping of code id → fields")
    out: dict[str, QrCode] = {}
    for code_id, fields in codes.items():
        line = line_of(codes, code_id)
        name = str(code_id).strip()
        if not name:
            f.fail(line, "a code id must not be empty")
        fields = fields or {}
        if not isinstance(fields, Mapping):
            f.fail(line, f"code {name!r}: expected a mapping of fields")
        check_keys(f, fields, f"code {name!r}", _FIELDS)
        values = {k: str(v).strip() for k, v in fields.items() if v is not None}
        kind = values.pop("kind", "live")
        if kind not in KINDS:
            f.fail(line_of(fields, "kind"), f"code {name!r}: kind must be live or static")
        out[name] = QrCode(id=name, kind=kind, **values)  # type: ignore[arg-type]
    return out


def dump_qr_codes(codes: Mapping[str, QrCode]) -> dict[str, Any]:
    """The registry document of ``codes`` (what :func:`parse_qr_codes` reads back)."""
    doc: dict[str, Any] = {}
    for code in sorted(codes.values(), key=lambda c: c.id):
        fields = {
            "name": code.name,
            "channel": code.channel,
            "material": code.material,
            "campaign": code.campaign,
            "staff": code.staff,
        }
        doc[code.id] = {k: v for k, v in fields.items() if v} | {"kind": code.kind}
    return {"codes": doc}


def qr_names(codes: Mapping[str, QrCode], qr_id: str) -> dict[str, str]:
    """The touch fields naming a code: the registry's names, or the bare id."""
    if not qr_id:
        return {}
    code = codes.get(qr_id)
    if code is None:
        return {"qr_name": qr_id}
    return {
        "qr_name": code.name or code.id,
        "qr_channel": code.channel,
        "qr_material": code.material,
        "qr_campaign": code.campaign,
        "qr_staff": code.staff,
        "qr_kind": code.kind,
    }


def registry_from_sources(f: SourceFile, node: Mapping[str, Any]) -> tuple[dict[str, QrCode], str]:
    """The live-code registry named by ``sources.qrcodes_file`` of a tags file (default:
    the shipped one, and no codes when that cannot be read), and the file it came from."""
    if f.include is None:
        return {}, ""
    named = "qrcodes_file" in node
    name = get(f, node, "qrcodes_file", "str", SHIPPED_QR_CODES)
    try:
        loaded, source = f.include(name)
    except OSError as exc:
        if not named:
            return {}, ""  # no registry shipped alongside: codes keep their bare ids
        f.fail(
            line_of(node, "qrcodes_file"),
            f"qrcodes_file: cannot read {name}: {exc.strerror or exc}",
        )
    return parse_qr_codes(SourceFile(source, None), loaded), source
