"""Identity rules for a process: the defaults, or the TOML file the settings name."""

from __future__ import annotations

import logging
import tomllib

from siyu.settings import Settings
from streams.domain.identity_rules import DEFAULT_RULES, IdentityRules, rules_from_mapping

__all__ = ["load_rules"]

logger = logging.getLogger(__name__)


def load_rules(settings: Settings) -> IdentityRules:
    """``SIYU_IDENTITY_RULES_PATH`` applied on top of the defaults, else the defaults."""
    path = settings.identity.rules_path
    if path is None:
        return DEFAULT_RULES
    with path.open("rb") as f:
        rules = rules_from_mapping(tomllib.load(f))
    logger.info("identity rules from %s: %s", path, ", ".join(sorted(rules.types)))
    return rules
