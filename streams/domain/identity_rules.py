"""Identity rules: which identity types exist, how they rank, how many a user may hold,
how their values are normalized, and which values are junk.

Pure configuration as frozen dataclasses. :data:`DEFAULT_RULES` holds the shipped
defaults; :func:`rules_from_mapping` builds rules from a parsed TOML/JSON document (the
caller reads the file). Nothing here reads files, the clock or the environment.

An identity key is ``type`` or ``type:namespace`` (``wx_openid:wx1234`` is an openid of
mini-program/official account ``wx1234``). A limit is counted per type, or per
namespace for types marked ``per_namespace`` (one openid per appid).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

__all__ = [
    "DEFAULT_JUNK_VALUES",
    "DEFAULT_RULES",
    "RESERVED_TYPES",
    "Identity",
    "IdentityRules",
    "IdentityType",
    "Normalizer",
    "RulesError",
    "rules_from_mapping",
]

Normalizer = Literal["trim", "lower", "mobile"]
Hashing = Literal["none", "sha256"]

# Values SDKs send when an id is missing. They must never link two people. Compared
# after trimming and lowercasing.
DEFAULT_JUNK_VALUES: frozenset[str] = frozenset(
    {
        "",
        "null",
        "none",
        "nil",
        "nan",
        "undefined",
        "0",
        "-1",
        "anonymous",
        "unknown",
        "(null)",
        "[object object]",
        "00000000-0000-0000-0000-000000000000",  # zeroed IDFA / advertising id
        "0000000000000000",
        "02:00:00:00:00:00",  # the MAC address Android reports to apps
    }
)

# Identity types siyu itself owns: a client cannot send them as identities.
RESERVED_TYPES: frozenset[str] = frozenset({"user_id"})

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTL_MOBILE = re.compile(r"^\+\d{7,15}$")
_MOBILE_NOISE = re.compile(r"[\s\-().]")


class RulesError(ValueError):
    """Identity rules that cannot be built from the given configuration."""


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """One normalized identity: ``key`` is ``type`` or ``type:namespace``."""

    key: str
    value: str

    @property
    def type(self) -> str:
        return self.key.partition(":")[0]


@dataclass(frozen=True, slots=True)
class IdentityType:
    """How one identity type behaves.

    ``priority``: higher wins when links conflict and decides which identity names the
    user of an event. ``limit``: values one user may hold (per namespace when
    ``per_namespace``); ``None`` is unlimited. ``identified``: a user holding this type
    is logged in, and two logged-in users are never merged.
    """

    name: str
    priority: int
    limit: int | None = None
    per_namespace: bool = False
    normalize: Normalizer = "trim"
    hash: Hashing = "none"
    salt: str = ""
    identified: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.priority, int) or isinstance(self.priority, bool):
            raise RulesError(f"{self.name}: priority must be an integer")
        if self.limit is not None and self.limit < 1:
            raise RulesError(f"{self.name}: limit must be at least 1 or unset (unlimited)")
        if self.normalize not in get_args(Normalizer):
            raise RulesError(f"{self.name}: unknown normalizer {self.normalize!r}")
        if self.hash not in get_args(Hashing):
            raise RulesError(f"{self.name}: unknown hash {self.hash!r}")
        if self.name in RESERVED_TYPES or not self.name or ":" in self.name:
            raise RulesError(f"{self.name!r} cannot be an identity type name")


@dataclass(frozen=True, slots=True)
class IdentityRules:
    """Every identity type siyu links, plus the junk values that never link."""

    types: Mapping[str, IdentityType]
    junk_values: frozenset[str] = DEFAULT_JUNK_VALUES
    max_value_length: int = 256
    _cache: dict[str, IdentityType | None] = field(default_factory=dict, compare=False, repr=False)

    def spec(self, key: str) -> IdentityType | None:
        """The type of an identity key (``wx_openid:wx1`` → ``wx_openid``); None if unknown."""
        try:
            return self._cache[key]
        except KeyError:
            found = self.types.get(key.partition(":")[0])
            self._cache[key] = found
            return found

    def scope(self, identity: Identity) -> str:
        """What a limit counts within: the namespace key, or the type."""
        spec = self.spec(identity.key)
        return identity.key if spec is not None and spec.per_namespace else identity.type

    def limit(self, identity: Identity) -> int | None:
        spec = self.spec(identity.key)
        return spec.limit if spec is not None else None

    def priority(self, identity: Identity) -> int:
        spec = self.spec(identity.key)
        return spec.priority if spec is not None else 0

    def identified(self, identity: Identity) -> bool:
        spec = self.spec(identity.key)
        return spec is not None and spec.identified

    def normalize(self, key: str, value: str) -> Identity | None:
        """The normalized identity, or None when the type is unknown or the value junk."""
        key = key.strip()
        spec = self.spec(key)
        if spec is None or not isinstance(value, str):
            return None
        text = value.strip()
        if text.lower() in self.junk_values or len(text) > self.max_value_length:
            return None
        if spec.normalize == "lower":
            text = text.lower()
        elif spec.normalize == "mobile":
            normalized = _mobile(text)
            if normalized is None:
                return None
            text = normalized
        if spec.hash == "sha256" and not _HEX64.match(text):
            text = hashlib.sha256((spec.salt + text).encode()).hexdigest()
        return Identity(key, text)

    def normalize_all(self, identities: Mapping[str, str]) -> list[Identity]:
        """Usable identities of an event, highest priority first (ties by key, then value)."""
        found = []
        for key, value in identities.items():
            identity = self.normalize(key, value)
            if identity is not None:
                found.append(identity)
        found.sort(key=lambda i: (-self.priority(i), i.key, i.value))
        return found


def _mobile(text: str) -> str | None:
    """Digits of a phone number; mainland numbers lose their +86 prefix. None if invalid.

    An already hashed value (64 hex digits) is kept, lowercased, so clients may send
    hashed mobiles.
    """
    lowered = text.lower()
    if _HEX64.match(lowered):
        return lowered
    digits = _MOBILE_NOISE.sub("", text)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if _CN_MOBILE.match(digits) or _INTL_MOBILE.match(digits):
        return digits
    return None


def _defaults() -> dict[str, IdentityType]:
    types = (
        IdentityType("login_id", 100, limit=1, identified=True),
        IdentityType("member_id", 90, limit=1),
        IdentityType("mobile", 80, limit=1, normalize="mobile"),
        IdentityType("wx_unionid", 70, limit=1),
        IdentityType("wecom_external_id", 60, limit=1, per_namespace=True),
        IdentityType("wx_openid", 50, limit=1, per_namespace=True),
        IdentityType("device_id", 30, normalize="lower"),
        IdentityType("cookie_id", 20),
        IdentityType("anonymous_id", 10, normalize="lower"),
    )
    return {t.name: t for t in types}


DEFAULT_RULES = IdentityRules(types=_defaults())

_TYPE_FIELDS = frozenset(
    {"priority", "limit", "per_namespace", "normalize", "hash", "salt", "identified"}
)


def rules_from_mapping(
    doc: Mapping[str, Any], base: IdentityRules = DEFAULT_RULES
) -> IdentityRules:
    """Rules from a parsed configuration document, on top of ``base``.

    ``[types.<name>]`` tables override fields of a default type or add a type
    (``priority`` required for a new one); ``enabled = false`` removes a type;
    ``limit = 0`` means unlimited. ``junk_values`` replaces the junk list and
    ``extra_junk_values`` adds to it; ``max_value_length`` caps values.
    """
    unknown = set(doc) - {"types", "junk_values", "extra_junk_values", "max_value_length"}
    if unknown:
        raise RulesError(f"unknown identity rule settings: {sorted(unknown)}")
    types = dict(base.types)
    for name, raw in (doc.get("types") or {}).items():
        if not isinstance(raw, Mapping):
            raise RulesError(f"types.{name} must be a table")
        fields = dict(raw)
        if fields.pop("enabled", True) is False:
            types.pop(name, None)
            continue
        bad = set(fields) - _TYPE_FIELDS
        if bad:
            raise RulesError(f"types.{name}: unknown fields {sorted(bad)}")
        if fields.get("limit") == 0:
            fields["limit"] = None
        if name in types:
            types[name] = replace(types[name], **fields)
        elif "priority" not in fields:
            raise RulesError(f"types.{name}: a new type needs a priority")
        else:
            types[name] = IdentityType(name=name, **fields)
    junk = frozenset(str(v).strip().lower() for v in doc.get("junk_values", base.junk_values))
    junk |= frozenset(str(v).strip().lower() for v in doc.get("extra_junk_values", ()))
    length = doc.get("max_value_length", base.max_value_length)
    if not isinstance(length, int) or length < 1:
        raise RulesError("max_value_length must be a positive integer")
    return IdentityRules(types=types, junk_values=junk, max_value_length=length)
