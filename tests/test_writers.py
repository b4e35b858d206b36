"""Many writers on one archive: processes, threads and Archive objects at once, on a folder and S3 (moto)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from writers import add_many, add_same, set_keys, signal_for

import wildzarr
from wildzarr import DuplicateRecordingError, RecordingNotFoundError

Target = tuple[str, dict[str, Any] | None]


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """An empty archive location: a local folder, or a fresh bucket of a moto S3 server."""
    if request.param == "local":
        return str(tmp_path / "a.zarr"), None
    url, options = request.getfixturevalue("s3_url")
    return f"{url}/archive", options


def assert_holds_exactly(target: Target, pairs: list[tuple[int, int]]) -> None:
    """Each (seed, id): the id is listed and holds exactly that seed's audio and metadata; ids distinct."""
    ids = [rid for _, rid in pairs]
    assert len(set(ids)) == len(ids), "an id was handed out twice"
    arc = wildzarr.open(target[0], mode="r", storage_options=target[1])
    assert arc.ids() == sorted(ids)
    for seed, rid in pairs:
        rec = arc[rid]
        assert rec.user_meta == {"seed": seed}
        assert np.array_equal(rec.read(), signal_for(seed))


def test_processes_import_at_once(target: Target) -> None:
    spawn = multiprocessing.get_context("spawn")
    pairs: list[tuple[int, int]] = []
    for repetition in range(2):
        with ProcessPoolExecutor(4, mp_context=spawn) as pool:
            jobs = [
                pool.submit(
                    add_many,
                    *target,
                    list(range(1000 * repetition + 25 * w, 1000 * repetition + 25 * w + 25)),
                )
                for w in range(4)
            ]
            for job in jobs:
                pairs.extend(job.result())
        assert len(pairs) == 100 * (repetition + 1)
        assert_holds_exactly(target, pairs)


def test_threads_share_one_archive(target: Target) -> None:
    arc = wildzarr.open(target[0], storage_options=target[1])
    pairs: list[tuple[int, int]] = []
    for repetition in range(2):

        def work(w: int, repetition: int = repetition) -> list[tuple[int, int]]:
            seeds = range(1000 * repetition + 25 * w, 1000 * repetition + 25 * w + 25)
            return [(s, arc.add(signal_for(s), samplerate=8000, user_meta={"seed": s}).id) for s in seeds]

        with ThreadPoolExecutor(4) as pool:
            for result in pool.map(work, range(4)):
                pairs.extend(result)
        assert_holds_exactly(target, pairs)


def test_two_archive_objects_interleave(target: Target) -> None:
    first = wildzarr.open(target[0], storage_options=target[1])
    second = wildzarr.open(target[0], storage_options=target[1])
    pairs = []
    with ThreadPoolExecutor(2) as pool:
        for repetition in range(2):
            seeds = [[100 * repetition + 2 * i + k for i in range(10)] for k in range(2)]

            def work(arc: wildzarr.Archive, batch: list[int]) -> list[tuple[int, int]]:
                return [(s, arc.add(signal_for(s), samplerate=8000, user_meta={"seed": s}).id) for s in batch]

            for result in pool.map(work, (first, second), seeds):
                pairs.extend(result)
            assert_holds_exactly(target, pairs)
    assert first.ids() == second.ids()


def test_the_same_content_from_two_processes_is_stored_once(target: Target) -> None:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        for seed in range(5):
            results = list(pool.map(add_same, [target[0]] * 2, [target[1]] * 2, [seed] * 2))
            ids = [r for r in results if isinstance(r, int)]
            assert len(ids) == 1, results
            assert [r for r in results if isinstance(r, str)] == [f"duplicate of {ids[0]}"]
    arc = wildzarr.open(target[0], mode="r", storage_options=target[1])
    assert len(arc) == 5


def test_removal_elsewhere_frees_the_content(target: Target) -> None:
    first = wildzarr.open(target[0], storage_options=target[1])
    second = wildzarr.open(target[0], storage_options=target[1])
    rec = first.add(signal_for(1), samplerate=8000)
    with pytest.raises(DuplicateRecordingError):
        second.add(signal_for(1), samplerate=8000)
    second.remove(rec.id)
    assert first.add(signal_for(1), samplerate=8000).id == rec.id + 1


def test_an_archive_sees_what_other_writers_did(target: Target) -> None:
    mine = wildzarr.open(target[0], storage_options=target[1])
    other = wildzarr.open(target[0], storage_options=target[1])
    kept = mine.add(signal_for(1), samplerate=8000)
    assert other.add(signal_for(2), samplerate=8000).id == 2
    assert mine.ids() == [1, 2] and 2 in mine and len(mine) == 2
    opened = mine[2]
    other.remove(2)
    assert mine.ids() == [1] and 2 not in mine
    with pytest.raises(RecordingNotFoundError):
        mine[2]
    with pytest.raises(RecordingNotFoundError):
        opened.read(0, 10)  # opened before the removal, never read: its streams are gone
    with pytest.raises(RecordingNotFoundError):
        opened.update_user_meta(x=1)
    assert np.array_equal(kept.read(), signal_for(1))


def test_metadata_updates_merge_into_the_stored_document(target: Target) -> None:
    arc = wildzarr.open(target[0], storage_options=target[1])
    rid = arc.add(signal_for(1), samplerate=8000, user_meta={"draft": True}).id
    ra, rb = arc[rid], wildzarr.open(target[0], storage_options=target[1])[rid]
    ra.update_user_meta(verified=True)
    rb.update_user_meta(observer="JS")
    assert arc[rid].user_meta == {"draft": True, "verified": True, "observer": "JS"}
    ra.update_user_meta(remove=["draft", "never-there"])
    assert arc[rid].user_meta == {"verified": True, "observer": "JS"}

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        list(pool.map(set_keys, [target[0]] * 2, [target[1]] * 2, [rid] * 2, ["a", "b"], [50, 50]))
    meta = arc[rid].user_meta
    assert {k for k in meta if k[0] in "ab" and k[1:].isdigit()} == {
        f"{p}{i}" for p in "ab" for i in range(50)
    }
    assert meta["verified"] is True
