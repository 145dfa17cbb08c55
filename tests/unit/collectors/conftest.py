"""Collector test setup.

Starlette's TestClient warns at import that it would rather use ``httpx2``; the warning
is about the test transport, not our code, so it is silenced here once (the module is
cached, so test modules import it without the warning).
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import starlette.testclient  # noqa: F401
