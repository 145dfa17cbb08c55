"""Each events.stitched record is decoded once for the agents reading it."""

from __future__ import annotations

from streams.shared_decode import SharedDecode


def test_three_readers_share_one_decode_and_nothing_is_kept_after() -> None:
    shared: SharedDecode[str] = SharedDecode(bytes.decode)
    counts, tags, funnels = shared.reader(), shared.reader(), shared.reader()
    for offset in range(100):
        value = f"record {offset}".encode()
        got = {counts(0, offset, value), tags(0, offset, value), funnels(0, offset, value)}
        assert got == {f"record {offset}"}
    assert shared.decoded == 100
    assert len(shared) == 0


def test_readers_a_few_records_apart_still_share_and_memory_stays_bounded() -> None:
    shared: SharedDecode[str] = SharedDecode(bytes.decode, capacity=10)
    ahead, behind = shared.reader(), shared.reader()
    records = [(p, o, f"{p}/{o}".encode()) for o in range(50) for p in range(2)]
    for i, (p, o, v) in enumerate(records):
        assert ahead(p, o, v) == f"{p}/{o}"
        if i >= 8:  # eight records behind
            bp, bo, bv = records[i - 8]
            assert behind(bp, bo, bv) == f"{bp}/{bo}"
        assert len(shared) <= 10
    for bp, bo, bv in records[-8:]:
        assert behind(bp, bo, bv) == f"{bp}/{bo}"
    assert shared.decoded == len(records)
    assert len(shared) == 0


def test_a_reader_too_far_behind_decodes_again_and_memory_stays_bounded() -> None:
    shared: SharedDecode[str] = SharedDecode(bytes.decode, capacity=10)
    ahead, behind = shared.reader(), shared.reader()
    records = [(0, o, str(o).encode()) for o in range(100)]
    for p, o, v in records:
        ahead(p, o, v)
    assert len(shared) == 10
    assert [behind(p, o, v) for p, o, v in records] == [str(o) for o in range(100)]
    assert len(shared) <= 10
