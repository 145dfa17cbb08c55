from __future__ import annotations

from pathlib import Path

from collectors.spool import Spool

Message = tuple[str, bytes, bytes]


def _msgs(start: int, n: int) -> list[Message]:
    return [
        ("siyu.events.raw", f"k{i}".encode(), f"value-{i}".encode() * 10)
        for i in range(start, start + n)
    ]


def _open(path: Path, **kw: int) -> Spool:
    return Spool(
        path, max_bytes=kw.get("max_bytes", 1 << 20), segment_bytes=kw.get("segment_bytes", 1024)
    )


def _drain(spool: Spool) -> list[Message]:
    out: list[Message] = []
    while records := spool.read(7):
        out += [r.message for r in records]
        spool.commit(records[-1].end)
    return out


def test_append_read_commit_in_order_across_segments(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    assert spool.append([_msgs(0, 10), _msgs(10, 10)]) == [True, True]
    spool.append([_msgs(20, 30)])
    assert len(list(tmp_path.glob("*.seg"))) > 2
    assert not spool.empty()
    assert _drain(spool) == _msgs(0, 50)
    assert spool.empty()
    assert spool.size_bytes == 0
    assert len(list(tmp_path.glob("*.seg"))) <= 1


def test_reopen_resumes_at_the_cursor(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    spool.append([_msgs(0, 20)])
    records = spool.read(5)
    spool.commit(records[-1].end)
    spool.close()
    again = _open(tmp_path)
    assert _drain(again) == _msgs(5, 15)
    again.append([_msgs(100, 3)])
    again.close()
    assert _drain(_open(tmp_path)) == _msgs(100, 3)


def test_torn_tail_is_cut_at_open(tmp_path: Path) -> None:
    spool = _open(tmp_path, segment_bytes=1 << 20)
    spool.append([_msgs(0, 5)])
    spool.close()
    (segment,) = tmp_path.glob("*.seg")
    with segment.open("ab") as f:
        f.write(b"\xa7\x00\x01\x00\x00garbage")  # a frame cut short by a crash
    again = _open(tmp_path, segment_bytes=1 << 20)
    again.append([_msgs(5, 2)])
    assert _drain(again) == _msgs(0, 7)


def test_full_spool_refuses_whole_groups(tmp_path: Path) -> None:
    spool = _open(tmp_path, max_bytes=1 << 16, segment_bytes=1 << 14)
    verdicts = spool.append([_msgs(i * 50, 50) for i in range(30)])
    assert True in verdicts
    assert verdicts[-1] is False
    kept = sum(50 for v in verdicts if v)
    assert spool.size_bytes <= 1 << 16
    assert len(_drain(spool)) == kept
    assert spool.append([_msgs(0, 50)]) == [True]


def test_oldest_age(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    assert spool.oldest_age_s(10_000) == 0.0
    spool.append([_msgs(0, 1)], now_ms=1_000)
    spool.append([_msgs(1, 1)], now_ms=5_000)
    assert spool.oldest_age_s(11_000) == 10.0
    records = spool.read(1)
    spool.commit(records[-1].end)
    assert spool.oldest_age_s(11_000) == 6.0
