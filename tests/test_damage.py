"""Damage is contained and reported: damaged documents, bit flips found by verify, repair of leftovers."""

from __future__ import annotations

import json
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from signals import make_signal

import wildzarr
from wildzarr import DamagedRecordingError, DamagedRecordingWarning, RecordingNotFoundError, WildzarrError
from wildzarr.documents import encode_group, parse_group
from wildzarr.repair import repair
from wildzarr.verify import verify

FLIPS = 50


def signal(seed: int, samples: int = 20_000) -> np.ndarray:
    return make_signal(samples, 2, 16, seed)


@pytest.fixture()
def archive(tmp_path: Path) -> Path:
    """An archive of three recordings (ids 1, 2, 3)."""
    path = tmp_path / "a.zarr"
    arc = wildzarr.open(path)
    for seed in range(3):
        arc.add(signal(seed), samplerate=48_000, user_meta={"seed": seed, "site": "Ébène\n"})
    return path


def flip(path: Path, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


def rewrite_document(path: Path, change: dict[str, object], keep_checksum: bool = False) -> None:
    """Change fields of a recording document; recompute its checksum unless told to keep the old one."""
    fields, attributes = parse_group(path.read_bytes(), require_checksum=True)
    assert fields is not None
    stored = json.loads(path.read_bytes())["attributes"]["wildzarr"]["checksum"]
    fields = {**fields, **change}
    data = encode_group(fields, attributes)
    if keep_checksum:
        doc = json.loads(data)
        doc["attributes"]["wildzarr"]["checksum"] = stored
        data = json.dumps(doc).encode()
    path.write_bytes(data)


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "flipped",
        "not json",
        "empty",
        "wrong id",
        "lowered samples",
        "lowered samples, new checksum",
    ],
)
def test_a_damaged_document_is_contained(archive: Path, damage: str) -> None:
    doc = archive / "2" / "zarr.json"
    if damage == "truncated":
        doc.write_bytes(doc.read_bytes()[:100])
    elif damage == "flipped":
        flip(doc, 8 * 300 + 3)
    elif damage == "not json":
        doc.write_bytes(b"\xff\xfe garbage")
    elif damage == "empty":
        doc.write_bytes(b"")
    elif damage == "wrong id":
        fields, _ = parse_group(doc.read_bytes(), require_checksum=True)
        assert fields is not None
        rewrite_document(doc, {"info": {**fields["info"], "id": 1}})
    elif damage == "lowered samples":
        fields, _ = parse_group(doc.read_bytes(), require_checksum=True)
        assert fields is not None
        rewrite_document(
            doc, {"info": {**fields["info"], "samples": 10_000, "duration": 10_000 / 48_000}}, True
        )
    else:  # a consistent-looking document whose sample count disagrees with its stream
        fields, _ = parse_group(doc.read_bytes(), require_checksum=True)
        assert fields is not None
        rewrite_document(doc, {"info": {**fields["info"], "samples": 10_000, "duration": 10_000 / 48_000}})

    arc = wildzarr.open(archive)
    assert arc.ids() == [1, 2, 3] and len(arc) == 3 and 2 in arc
    with pytest.raises(DamagedRecordingError, match="recording 2 is damaged") as info:
        arc[2].read()
    assert isinstance(info.value, WildzarrError) and info.value.recording_id == 2
    document_intact = damage == "lowered samples, new checksum"  # only its stream disagrees: found on read
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = [1, 2, 3] if document_intact else [1, 3]
        assert [r.id for r in arc] == expected
        assert [r.id for r in arc] == expected
    damaged = [str(w.message) for w in caught if w.category is DamagedRecordingWarning]
    assert damaged == ([] if document_intact else [str(info.value)])
    assert arc.add(signal(9), samplerate=48_000).id == 4
    assert np.array_equal(arc[3].read(), signal(2))
    report = verify(arc)
    assert not report.ok and [f.recording for f in report.findings] == [2]
    arc.remove(2)  # removes group 2 and nothing else
    assert arc.ids() == [1, 3, 4] and not (archive / "2").exists() and (archive / "1").exists()


def test_extra_fields_of_a_newer_writer_are_kept(archive: Path) -> None:
    doc = archive / "1" / "zarr.json"
    fields, _ = parse_group(doc.read_bytes(), require_checksum=True)
    assert fields is not None
    rewrite_document(doc, {"colour": "blue", "info": {**fields["info"], "gain_db": 6}})
    arc = wildzarr.open(archive)
    rec = arc[1]
    assert np.array_equal(rec.read(), signal(0))
    rec.update_user_meta(verified=True)
    kept, _ = parse_group(doc.read_bytes(), require_checksum=True)
    assert kept is not None and kept["colour"] == "blue" and kept["info"]["gain_db"] == 6
    assert kept["user_meta"]["verified"] is True

    rewrite_document(doc, {"format": 3})
    with pytest.raises(DamagedRecordingError, match="format 3, newer than this wildzarr reads \\(2\\)"):
        arc[1]
    rewrite_document(archive / "zarr.json", {"format": 3})
    with pytest.raises(wildzarr.ArchiveError, match="format 3 is newer than this wildzarr reads \\(2\\)"):
        wildzarr.open(archive)


def test_a_group_copied_from_another_archive(archive: Path, tmp_path: Path) -> None:
    other = tmp_path / "b.zarr"
    wildzarr.open(other).add(signal(7), samplerate=48_000)
    shutil.rmtree(archive / "3")
    shutil.copytree(other / "1", archive / "3")  # its document says id 1
    arc = wildzarr.open(archive)
    with pytest.raises(DamagedRecordingError, match="names id 1, but its group is 3"):
        arc[3]
    arc.remove(3)
    assert arc.ids() == [1, 2] and np.array_equal(arc[1].read(), signal(0))


def _files(archive: Path, pattern: str) -> list[Path]:
    return sorted(p for p in archive.glob(pattern) if p.is_file())


@pytest.mark.parametrize("part", ["stream bytes", "index", "recording document", "stream document"])
def test_every_bit_flip_is_reported(archive: Path, tmp_path: Path, part: str) -> None:
    targets = {
        "stream bytes": _files(archive, "2/0/blob/c/*"),
        "index": _files(archive, "2/0/index/c/0/0"),
        "recording document": [archive / "2" / "zarr.json"],
        "stream document": [archive / "2" / "0" / "zarr.json"],
    }[part]
    pristine = tmp_path / "pristine.zarr"
    shutil.copytree(archive, pristine)
    rng = random.Random(part)
    for _ in range(FLIPS):
        target = rng.choice(targets)
        relative = target.relative_to(archive)
        bit = rng.randrange(8 * target.stat().st_size)
        flip(target, bit)
        report = verify(wildzarr.open(archive, mode="r"))
        assert not report.ok, f"flip of bit {bit} in {relative} not reported"
        assert {f.recording for f in report.findings if f.error} == {2}, [str(f) for f in report.findings]
        shutil.copyfile(pristine / relative, target)
    assert verify(wildzarr.open(archive, mode="r")).ok


def test_verify_names_the_frame(archive: Path) -> None:
    chunk = archive / "2" / "0" / "blob" / "c" / "0"
    table = zarr.open_array(archive / "2" / "0" / "index", mode="r")[...]
    flip(chunk, 8 * int(table[3, 0] + 20))  # inside frame 3
    report = verify(wildzarr.open(archive, mode="r"))
    frames = [f for f in report.findings if f.frame is not None]
    assert frames and frames[0].frame == 3 and frames[0].stream == 0 and frames[0].recording == 2
    assert "frame 3" in str(frames[0])
    with pytest.raises(wildzarr.StreamError, match=r"recording 2 stream 0 frame 3 \(samples 12288-16383\)"):
        wildzarr.open(archive, mode="r")[2].read(13_000, 13_100)


def test_repair_removes_leftovers_only(archive: Path) -> None:
    arc = wildzarr.open(archive)
    ledger = arc._location.ledger
    # an import that died after writing its stream: claim made, no marker, nobody alive holds it
    (archive / "_wildzarr" / "complete" / "3").unlink()
    # a user's own group named like an id, and a group of their own beside the recordings
    zarr.open_group(archive / "77", mode="w").attrs["mine"] = 1
    zarr.open_group(archive / "notes", mode="w").attrs["mine"] = 2
    assert arc.ids() == [1, 2]
    report = verify(arc)
    assert not report.ok and [x.id for x in report.leftovers] == [3]
    assert "leftover" in str(report.findings[-1]) and report.findings[-1].recording == 3
    fixed = repair(arc)
    assert [x.id for x in fixed.removed] == [3] and fixed.freed_bytes > 20_000
    assert verify(arc).ok and not (archive / "3").exists()
    assert (archive / "77" / "zarr.json").exists() and (archive / "notes" / "zarr.json").exists()
    assert ledger.content_record(wildzarr.open(archive, mode="r")[1].info.source.sha256) is not None
    assert arc.add(signal(2), samplerate=48_000).id == 4  # its content claim was freed: not a duplicate
    assert arc.ids() == [1, 2, 4]


def test_a_removed_recording_is_not_found_not_damaged(archive: Path) -> None:
    arc = wildzarr.open(archive)
    rec = arc[2]
    wildzarr.open(archive).remove(2)
    with pytest.raises(RecordingNotFoundError):
        rec.read()
    with pytest.raises(RecordingNotFoundError):
        arc.remove(2)
