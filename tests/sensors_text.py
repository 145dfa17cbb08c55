"""Text for the Unicode tests of the Sensors routes, and the mini-program SDK's encoder.

``sdk_utf8_encode`` writes text the way sa-sdk-miniprogram 1.22's ``utf8Encode`` does:
each UTF-16 code unit on its own, so a surrogate half becomes a 3-byte sequence (CESU-8).
"""

from __future__ import annotations

__all__ = ["TEXTS", "sdk_utf8_encode"]

# Text people type: every case must land exactly as the SDK was given it.
TEXTS = {
    "cjk": "中文测试：繁體字、日本語のテキスト、한국어",
    "cjk_ext_b": "𠀀𠮷野家𪚥",
    "emoji": "好物分享🎉👍🏽🔥",
    "zwj": "👨‍👩‍👧‍👦👩🏻‍💻🧑‍🤝‍🧑",
    "flags": "🇨🇳🇯🇵🇺🇸🏳️‍🌈🏴‍☠️",
    "rtl": "مرحبا بالعالم שלום עולם",
    "combining": "e\u0301 n\u0303 Z\u0351\u0352\u0353 ก\u0e34\u0e4a",
    # 8,000 UTF-16 units (7,000 characters): longer than both SDKs' default limits.
    "long": "长文本🎉abc." * 1000,
}


def sdk_utf8_encode(text: str) -> bytes:
    """sa-sdk-miniprogram's utf8Encode: every UTF-16 code unit encoded on its own."""
    units = text.encode("utf-16-le", "surrogatepass")
    out = bytearray()
    for i in range(0, len(units), 2):
        c = units[i] | units[i + 1] << 8
        if c < 0x80:
            out.append(c)
        elif c < 0x800:
            out += bytes([c >> 6 | 0xC0, c & 0x3F | 0x80])
        else:
            out += bytes([c >> 12 | 0xE0, c >> 6 & 0x3F | 0x80, c & 0x3F | 0x80])
    return bytes(out)
