"""Range planning over a frame index: a pure function, tested without any store or codec."""

from __future__ import annotations

import numpy as np
import pytest

from wildzarr.index import FrameIndex


def make_index(block_sizes: list[int], frame_bytes: list[int], header: int = 42) -> FrameIndex:
    first = np.concatenate([[0], np.cumsum(block_sizes)[:-1]]).astype(np.int64)
    offsets = (header + np.concatenate([[0], np.cumsum(frame_bytes)[:-1]])).astype(np.int64)
    table = np.stack([offsets, first], axis=1)
    return FrameIndex.from_table(table, end=header + sum(frame_bytes), samples=sum(block_sizes))


def brute_force(index: FrameIndex, start: int, stop: int) -> list[int]:
    """Frames whose samples intersect [start, stop)."""
    fs = index.first_samples
    return [i for i in range(index.n_frames) if fs[i] < stop and fs[i + 1] > start]


@pytest.mark.parametrize("blocks", [[4096] * 5 + [17], [16], [100, 7, 3000, 1, 1, 50], [4096] * 3])
def test_plan_covers_exactly_the_frames_needed(blocks: list[int]) -> None:
    rng = np.random.default_rng(1)
    sizes = [int(s) for s in rng.integers(20, 5000, len(blocks))]
    index = make_index(blocks, sizes)
    total = sum(blocks)
    cases = [(0, total), (0, 1), (total - 1, total)]
    cases += [tuple(sorted(rng.integers(0, total + 1, 2))) for _ in range(300)]
    for start, stop in cases:
        if start == stop:
            continue
        plan = index.plan(int(start), int(stop))
        frames = list(range(plan.first_frame, plan.stop_frame))
        assert frames == brute_force(index, start, stop)
        assert plan.byte_start == index.offsets[plan.first_frame]
        assert plan.byte_stop == index.offsets[plan.stop_frame]
        assert plan.skip == start - index.first_samples[plan.first_frame]
        assert plan.count == stop - start
        assert (
            plan.skip + plan.count
            <= index.first_samples[plan.stop_frame] - index.first_samples[plan.first_frame]
        )


def test_preroll_adds_frames_before_and_stops_at_zero() -> None:
    index = make_index([1024] * 10, [300] * 10)
    plan = index.plan(5000, 5100, preroll=1)
    assert (plan.first_frame, plan.stop_frame) == (3, 5)
    assert plan.skip == 5000 - 3 * 1024
    plan = index.plan(10, 20, preroll=2)
    assert plan.first_frame == 0 and plan.skip == 10


def test_table_round_trip() -> None:
    index = make_index([4096, 4096, 5], [1000, 900, 20])
    table = index.to_table()
    assert table.dtype == np.int64 and table.shape == (3, 2)
    again = FrameIndex.from_table(table, end=int(index.offsets[-1]), samples=index.samples)
    assert np.array_equal(again.offsets, index.offsets)
    assert np.array_equal(again.first_samples, index.first_samples)
    assert index.samples == 8197 and index.n_frames == 3
    assert index.frame_sizes(0, 3).tolist() == [1000, 900, 20]
