from __future__ import annotations

from aiokafka import TopicPartition

from webhooks.service import Watermarks


def test_commit_stops_at_the_first_unfinished_record() -> None:
    tp, other = TopicPartition("t", 0), TopicPartition("t", 1)
    marks = Watermarks()
    marks.read(tp, 0, 0)
    marks.read(tp, 1, 2)  # two deliveries
    marks.read(tp, 2, 1)
    marks.read(other, 5, 0)
    assert marks.committable() == {tp: 1, other: 6}
    marks.finished(tp, 2)
    assert marks.committable()[tp] == 1
    marks.finished(tp, 1)
    assert marks.committable()[tp] == 1
    marks.finished(tp, 1)
    assert marks.committable()[tp] == 3
    marks.finished(tp, 1)  # already released: no effect
    marks.finished(TopicPartition("t", 9), 0)
    assert marks.committable() == {tp: 3, other: 6}
