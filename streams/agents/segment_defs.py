"""The segment definitions a worker evaluates: the file's, plus those made at run time.

Run-time definitions arrive on ``segments.definitions`` (``POST /v1/segments``), read
whole by every worker. When the definitions in force change (file edited, a definition
posted, or the first load after start), the tag timer asks for every user this worker
holds to be re-evaluated (:attr:`SegmentDefinitions.dirty`), so a new segment fills
without waiting for the users' next events.
"""

from __future__ import annotations

import logging

from schemas.exceptions import SchemaError
from schemas.segment_records import decode_definition
from siyu.config_topics import ConfigTopic
from siyu.settings import Settings
from streams.domain.segments import SegmentError, SegmentSet, compile_segment
from streams.segment_files import SegmentsWatcher

__all__ = ["SegmentDefinitions"]

logger = logging.getLogger(__name__)


class SegmentDefinitions:
    def __init__(self, settings: Settings) -> None:
        self.watcher = SegmentsWatcher(settings.segments.file)
        self.current = SegmentSet(shipped=self.watcher.current)
        self.topic = ConfigTopic(settings.kafka, "segments.definitions", self._apply)
        self._evaluated: object = None

    def _apply(self, value: bytes) -> None:
        try:
            record = decode_definition(value)
            definition = (
                None
                if record.deleted
                else compile_segment(
                    record.name,
                    record.expression,
                    description=record.description,
                    updated_at=record.updated_at,
                )
            )
        except (SchemaError, SegmentError) as exc:
            # Skip policy: the API checks definitions before publishing them.
            logger.warning("segment definition skipped: %s", exc)
            return
        self.current = self.current.with_runtime(record.project, definition, record.name)

    def poll(self) -> None:
        if self.watcher.poll():
            self.current = self.current.with_shipped(self.watcher.current)

    @property
    def dirty(self) -> bool:
        """Users must be re-evaluated: the definitions changed since the last time."""
        return self.topic.caught_up.is_set() and self.current.fingerprint() != self._evaluated

    def mark_evaluated(self) -> None:
        self._evaluated = self.current.fingerprint()
