"""Format-1 archives (written by wildzarr 0.1, frozen in tests/fixtures): read-only, and upgraded in place."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import wildzarr
from wildzarr import ReadOnlyError
from wildzarr.cli import main
from wildzarr.verify import verify

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture()
def format1(tmp_path: Path) -> Path:
    path = tmp_path / "old.zarr"
    shutil.copytree(FIXTURES / "format1.zarr", path)
    return path


def expected(rid: int) -> np.ndarray:
    return np.load(FIXTURES / f"format1_expected_{rid}.npy").reshape(-1, 1)


def test_a_format1_archive_opens_read_only(format1: Path) -> None:
    arc = wildzarr.open(format1)
    assert arc.format == 1 and arc.read_only
    assert arc.ids() == [1, 3] and 3 in arc and 2 not in arc
    assert np.array_equal(arc[1].read(), expected(1)) and np.array_equal(
        arc[3].read(123, 2000), expected(3)[123:2000]
    )
    assert arc[1].user_meta == {"site": "A", "n": 1}
    assert arc.find(arc[3].info.source.sha256) == 3
    with pytest.raises(ReadOnlyError, match="wildzarr upgrade"):
        arc.add(expected(1), samplerate=8000)
    with pytest.raises(ReadOnlyError, match="wildzarr upgrade"):
        arc[1].update_user_meta(x=1)
    assert verify(arc).ok


def test_upgrade_keeps_every_recording_and_never_reuses_an_id(format1: Path) -> None:
    assert main(["upgrade", str(format1)]) == 0
    arc = wildzarr.open(format1)
    assert arc.format == 2 and not arc.read_only
    assert arc.ids() == [1, 3]
    assert np.array_equal(arc[1].read(), expected(1)) and np.array_equal(arc[3].read(), expected(3))
    assert arc[1].user_meta == {"site": "A", "n": 1}
    report = verify(arc)
    assert report.ok, [str(f) for f in report.findings]
    with pytest.raises(wildzarr.DuplicateRecordingError, match="recording 1"):
        arc.add(expected(1).reshape(-1), samplerate=8000, user_meta={"site": "A", "n": 1})
    rec = arc.add(np.arange(5000, dtype=np.int16), samplerate=8000)
    assert rec.id == 4  # 2 was removed in format 1: never handed out again
    assert (format1 / "notes" / "zarr.json").exists()  # the user's group is untouched
    assert main(["upgrade", str(format1)]) == 0  # a second upgrade changes nothing
    assert wildzarr.open(format1, mode="r").ids() == [1, 3, 4]
