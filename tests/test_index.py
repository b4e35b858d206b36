"""Range planning over a frame index: a pure function, tested without any store or codec."""

from __future__ import annotations

import numpy as np
import pytest

from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex, FrameSpan


def make_index(
    block_sizes: list[int],
    frame_bytes: list[int],
    header: int = 42,
    *,
    delay: int = 0,
    padding: int = 0,
    preroll: int = 0,
) -> FrameIndex:
    first = np.concatenate([[0], np.cumsum(block_sizes)[:-1]]).astype(np.int64)
    offsets = (header + np.concatenate([[0], np.cumsum(frame_bytes)[:-1]])).astype(np.int64)
    table = np.stack([offsets, first], axis=1)
    return FrameIndex.from_table(
        table,
        end=header + sum(frame_bytes),
        decoded=sum(block_sizes),
        delay=delay,
        padding=padding,
        preroll=preroll,
    )


def brute_force(index: FrameIndex, start: int, stop: int) -> list[int]:
    """Frames whose decoded samples intersect source samples [start, stop)."""
    fs = index.first_samples - index.delay
    return [i for i in range(index.n_frames) if fs[i] < stop and fs[i + 1] > start]


def check_plan(index: FrameIndex, start: int, stop: int, task_frames: int) -> list[FrameSpan]:
    """The spans cover exactly the frames needed, with pre-roll, and their kept samples tile [start, stop)."""
    spans = index.plan(start, stop, task_frames)
    needed = brute_force(index, start, stop)
    decoded = sorted({f for span in spans for f in range(span.lead, span.stop)})
    assert decoded == list(range(max(needed[0] - index.preroll, 0), needed[-1] + 1))
    out = 0
    for span in spans:
        assert span.byte_start == index.offsets[span.lead] and span.byte_stop == index.offsets[span.stop]
        assert span.out == out and span.count > 0 and span.skip >= 0
        decoded = index.first_samples[span.stop] - index.first_samples[span.lead]
        assert span.skip + span.count <= decoded
        # the first kept sample is source sample start + out
        assert index.first_samples[span.lead] + span.skip - index.delay == start + span.out
        assert span.stop - max(span.lead, 0) <= task_frames + index.preroll
        out += span.count
    assert out == stop - start
    return spans


@pytest.mark.parametrize("blocks", [[4096] * 5 + [17], [16], [100, 7, 3000, 1, 1, 50], [4096] * 3])
@pytest.mark.parametrize(("delay", "padding", "preroll"), [(0, 0, 0), (1024, 500, 1), (7, 0, 2)])
def test_plan_covers_exactly_the_frames_needed(
    blocks: list[int], delay: int, padding: int, preroll: int
) -> None:
    rng = np.random.default_rng(1)
    sizes = [int(s) for s in rng.integers(20, 5000, len(blocks))]
    if delay + padding >= sum(blocks):
        delay = padding = 0
    index = make_index(blocks, sizes, delay=delay, padding=padding, preroll=preroll)
    total = index.samples
    cases = [(0, total), (0, 1), (total - 1, total)]
    cases += [tuple(sorted(rng.integers(0, total + 1, 2))) for _ in range(300)]
    for start, stop in cases:
        if start == stop:
            continue
        for task_frames in (1, 2, 32):
            check_plan(index, int(start), int(stop), task_frames)


def test_preroll_adds_frames_before_and_stops_at_zero() -> None:
    index = make_index([1024] * 10, [300] * 10, preroll=1)
    (span,) = index.plan(5000, 5100)
    assert (span.lead, span.stop) == (3, 5)
    assert span.skip == 5000 - 3 * 1024
    index = make_index([1024] * 10, [300] * 10, preroll=2)
    (span,) = index.plan(10, 20)
    assert span.lead == 0 and span.skip == 10


def test_delay_shifts_source_samples() -> None:
    """AAC-like: 1024 samples of priming, 1 frame of pre-roll: source sample 0 is in frame 1."""
    index = make_index([1024] * 10, [300] * 10, delay=1024, padding=1000, preroll=1)
    assert index.samples == 10 * 1024 - 2024 and index.decoded == 10240
    (span,) = index.plan(0, 10)
    assert (span.lead, span.stop, span.skip, span.count) == (0, 2, 1024, 10)
    (span,) = index.plan(index.samples - 1, index.samples)
    assert span.stop == 10 and index.first_samples[span.lead] + span.skip == 1024 + index.samples - 1


def test_spans_split_long_reads_each_with_its_preroll() -> None:
    index = make_index([100] * 100, [10] * 100, preroll=1)
    spans = index.plan(0, 10_000, task_frames=32)
    assert [(s.lead, s.stop) for s in spans] == [(0, 32), (31, 64), (63, 96), (95, 100)]
    assert [s.skip for s in spans] == [0, 100, 100, 100]
    assert sum(s.count for s in spans) == 10_000


def test_table_round_trip() -> None:
    index = make_index([4096, 4096, 5], [1000, 900, 20])
    table = index.to_table()
    assert table.dtype == np.int64 and table.shape == (3, 2)
    again = FrameIndex.from_table(table, end=index.end, decoded=index.decoded)
    assert np.array_equal(again.offsets, index.offsets)
    assert np.array_equal(again.first_samples, index.first_samples)
    assert index.samples == 8197 and index.n_frames == 3 and index.end == 42 + 1920
    with_crc = index.with_checksums(np.array([1, 2, 0xFFFFFFFF]))
    table = with_crc.to_table()
    assert table.shape == (3, 3)
    again = FrameIndex.from_table(table, end=index.end, decoded=index.decoded)
    assert again.checksums is not None and again.checksums.tolist() == [1, 2, 0xFFFFFFFF]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"delay": 9000, "padding": 9000}, "leave no samples"),
        ({"delay": -1}, "leave no samples"),
        ({"preroll": 99}, "pre-roll"),
    ],
)
def test_check_refuses_impossible_trims(change: dict[str, int], match: str) -> None:
    index = make_index([4096, 4096, 5], [1000, 900, 20])
    with pytest.raises(StreamError, match=match):
        index.with_trim(**{"delay": 0, "padding": 0, "preroll": 0, **change}).check()


def test_check_refuses_bad_checksums() -> None:
    index = make_index([4096, 4096, 5], [1000, 900, 20])
    for bad in (np.array([1, 2]), np.array([1, 2, -1]), np.array([1, 2, 1 << 32])):
        with pytest.raises(StreamError, match="CRC-32"):
            index.with_checksums(bad).check()
