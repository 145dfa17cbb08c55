"""Text that breaks naive encoders: the cases of the siyu SDK's Unicode round trip.

Every case is an event name and property values an SDK is given; the tests assert that
``siyu.events`` holds exactly the same text. Lengths stay inside the collector's limits
(128 characters per name, 16,384 per value), counted in code points as the collector does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CASES", "PROFILE", "unicode_cases"]

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # ZWJ sequence, 7 code points
# Regional-indicator flags (CN, JP) and a tag-sequence flag (Scotland).
FLAGS = (
    "\U0001f1e8\U0001f1f3\U0001f1ef\U0001f1f5"
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
)
SKIN = "\U0001f44d\U0001f3fd"  # emoji with a skin-tone modifier
COMBINING = "e\u0301\u0302 a\u0308 Z\u0324\u0354\u0367\u0311\u0313"  # stacked marks, not NFC
NFD_CAFE = "cafe\u0301"  # decomposed: must not come back composed
HEBREW = "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd"
ARABIC = "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645"
BIDI = "abc \u05d0\u05d1\u05d2 123 \u202bembedded\u202c \u200f"
CJK = (
    "\u8d2d\u4e70\u5546\u54c1 \u7fa4\u804a\u6d3b\u7801 "
    "\ud55c\uad6d\uc5b4 \u65e5\u672c\u8a9e\u304b\u306a"
)
ASTRAL_CJK = "\U00020bb7\u91ce\u5bb6 \U0002a6b2"  # CJK extension B characters


def unicode_cases(run: str) -> list[dict[str, Any]]:
    """``[{"event": name, "properties": {...}}]``; ``run`` makes names unique per test run."""
    cases: list[tuple[str, dict[str, Any]]] = [
        (f"\u8d2d\u4e70\u5546\u54c1_{run}", {"title": CJK, "\u989c\u8272": "\u7ea2\u8272"}),
        (
            f"\U0001f600\u70b9\u51fb_{run}",
            {"emoji": "\U0001f600\U0001f680\u2764\ufe0f", "skin": SKIN},
        ),
        (f"{FAMILY}_family_{run}", {"family": FAMILY * 3, FAMILY: "key with a ZWJ sequence"}),
        (f"{FLAGS}_flags_{run}", {"flags": FLAGS, "mixed": f"{FLAGS}{FAMILY}{SKIN}"}),
        (f"\u05e9\u05dc\u05d5\u05dd_{run}", {"hebrew": HEBREW, "arabic": ARABIC, "bidi": BIDI}),
        (f"{NFD_CAFE}_{run}", {"combining": COMBINING, "nfd": NFD_CAFE, "nfc": "caf\u00e9"}),
        (
            f"{ASTRAL_CJK}_{run}",
            {"astral": ASTRAL_CJK, "nested": {"\u6807\u7b7e": [FAMILY, CJK, ARABIC]}},
        ),
        (
            f"long_{run}",
            {
                "cjk_16000": "\u6c49\u5b57" * 8000,
                "emoji_3000": "\U0001f600" * 3000,
                "family_500": FAMILY * 500,
                "mixed_long": (CJK + FAMILY + HEBREW + COMBINING) * 150,
            },
        ),
    ]
    return [
        {"event": name, "properties": {"case": i, **props}} for i, (name, props) in enumerate(cases)
    ]


# Case names without the run suffix, for messages.
CASES = ["cjk", "emoji", "zwj", "flags", "rtl", "combining", "astral", "long"]

# User properties with the same kinds of text (profile_set carries exactly these values).
PROFILE: dict[str, Any] = {
    "nickname": f"\u963f\u660e{SKIN}",
    "motto": f"{HEBREW} {COMBINING}",
    "family": FAMILY,
    "flags": [FLAGS, ASTRAL_CJK],
}
