"""How a client IP is stored (``SIYU_PRIVACY_IP``): as received, truncated or hashed.

The region enrichment and the per-IP rate limit use the full address in memory; only
what is stored (events, dead letters) follows the setting. Truncation keeps the IPv4
/24 and the IPv6 /48 network; hashing is HMAC-SHA256 with ``SIYU_PRIVACY_IP_SALT``, so
one address maps to one stable token that cannot be reversed by trying all addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

__all__ = ["IpPolicy"]


class IpPolicy:
    def __init__(self, mode: str, salt: str) -> None:
        self.mode = mode
        self._salt = salt.encode()

    def __call__(self, ip: str) -> str:
        if self.mode == "keep" or not ip:
            return ip
        if self.mode == "hash":
            return hmac.new(self._salt, ip.encode(), hashlib.sha256).hexdigest()[:32]
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return ""
        prefix = 24 if addr.version == 4 else 48
        return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)
