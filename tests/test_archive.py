"""The archive: attaching at groups, numbering, modes, metadata, atomic imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from archive_helpers import snapshot
from signals import make_signal
from zarr.storage import LocalStore, MemoryStore

import wildzarr
from wildzarr import (
    ArchiveError,
    DuplicateRecordingError,
    MetadataError,
    ReadOnlyError,
    RecordingNotFoundError,
    StorageError,
    WildzarrError,
)


def tone(samples: int = 5000, channels: int = 1, seed: int = 0) -> np.ndarray:
    return make_signal(samples, channels, 16, seed)


def test_ids_count_up_and_are_never_reused(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    recs = [arc.add(tone(seed=i), samplerate=8000) for i in range(3)]
    assert [r.id for r in recs] == [1, 2, 3]
    assert arc.ids() == [1, 2, 3] and len(arc) == 3
    assert [r.id for r in arc] == [1, 2, 3]
    arc.remove(3)
    arc.remove(1)
    assert arc.ids() == [2]
    assert arc.add(tone(seed=9), samplerate=8000).id == 4
    again = wildzarr.open(tmp_path / "a.zarr", mode="r")
    assert again.ids() == [2, 4]
    assert 2 in again and 1 not in again and 3 not in again


def test_unknown_id_is_a_key_error_naming_it(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    arc.add(tone(), samplerate=8000)
    for bad in (2, 0, -1, "1", 1.0):
        with pytest.raises(RecordingNotFoundError, match=repr(bad)) as info:
            arc[bad]  # type: ignore[index]
        assert isinstance(info.value, KeyError) and isinstance(info.value, WildzarrError)
    with pytest.raises(RecordingNotFoundError):
        arc.remove(7)


def test_archives_at_groups_share_a_store_and_ignore_user_nodes() -> None:
    store = MemoryStore()
    a = wildzarr.open(store, path="sites/A/2024")
    b = wildzarr.open(store, path="sites/B")
    root = zarr.open_group(store, mode="a")
    user = root.create_group("sites/A/2024/7")  # a user's own group with a number for a name
    user.attrs["mine"] = True
    root["sites/A/2024"].create_array("notes", shape=(3,), dtype="int8")
    a.add(tone(seed=1), samplerate=8000)
    a.add(tone(seed=2), samplerate=8000)
    b.add(tone(seed=3), samplerate=8000)
    assert a.ids() == [1, 2] and b.ids() == [1]
    assert len(wildzarr.open(store, path="sites/A/2024", mode="r")) == 2
    assert a[1].info.source.sha256 != b[1].info.source.sha256
    # the 7 group is the user's: never listed, never overwritten
    for _ in range(6):
        a.add(tone(seed=int(np.random.default_rng().integers(1 << 30))), samplerate=8000)
    assert 7 not in a.ids() and a.ids()[-1] == 9
    assert root["sites/A/2024/7"].attrs["mine"] is True


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # zip members are appended on rewrite
def test_open_accepts_group_url_and_zip(tmp_path: Path) -> None:
    group = zarr.open_group(LocalStore(tmp_path / "g.zarr"), mode="w").create_group("deep/er")
    arc = wildzarr.open(group, path="x")
    arc.add(tone(), samplerate=8000)
    assert wildzarr.open(tmp_path / "g.zarr", path="deep/er/x", mode="r").ids() == [1]

    url = f"memory://wildzarr-test-{tmp_path.name}"
    wildzarr.open(url, path="p").add(tone(), samplerate=8000)
    assert wildzarr.open(url, path="p", mode="r")[1].read(0, 10).shape == (10, 1)

    with wildzarr.open(tmp_path / "a.zip", mode="w") as zarc:
        zarc.add(tone(channels=2), samplerate=8000)
    with wildzarr.open(tmp_path / "a.zip", mode="r") as zarc:
        assert np.array_equal(zarc[1].read(), tone(channels=2))


def test_modes(tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    with pytest.raises(ArchiveError):
        wildzarr.open(path, mode="r")
    with pytest.raises(ArchiveError):
        wildzarr.open(path, mode="r+")
    with pytest.raises(wildzarr.ArgumentError):
        wildzarr.open(path, mode="x")
    arc = wildzarr.open(path, mode="a")
    arc.add(tone(), samplerate=8000)
    zarr.open_group(path, mode="a").create_group("plain")
    with pytest.raises(ArchiveError, match="no wildzarr archive"):
        wildzarr.open(path, path="plain", mode="r+")

    before = snapshot(path)
    ro = wildzarr.open(path, mode="r")
    assert ro.read_only
    rec = ro[1]
    for write in (
        lambda: ro.add(tone(seed=5), samplerate=8000),
        lambda: ro.remove(1),
        lambda: rec.update_user_meta(a=1),
    ):
        with pytest.raises(ReadOnlyError) as info:
            write()
        assert isinstance(info.value, PermissionError)
    assert snapshot(path) == before

    wildzarr.open(path, mode="r+").add(tone(seed=6), samplerate=8000)
    assert wildzarr.open(path, mode="r").ids() == [1, 2]
    assert wildzarr.open(path, mode="w").ids() == []
    assert wildzarr.open(path, mode="r").ids() == []


def test_archive_reopens_in_a_new_process(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    data = tone(9000, 2)
    arc.add(data, samplerate=44100, user_meta={"site": "Mykines"})
    code = (
        "import sys, json, wildzarr; a = wildzarr.open(sys.argv[1], mode='r'); r = a[1];"
        "x = r.read(100, 8100); print(json.dumps([a.ids(), r.user_meta, x.tolist()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "a.zarr")], capture_output=True, text=True, check=True
    ).stdout
    ids, meta, values = json.loads(out)
    assert ids == [1] and meta == {"site": "Mykines"}
    assert np.array_equal(np.array(values), data[100:8100])


def test_user_meta_round_trip_and_validation(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    rec = arc.add(tone(), samplerate=8000, user_meta={"site": "A", "depth_m": 12.5, "tags": ["x"]})
    rec.update_user_meta({"site": "B"}, verified=True)
    assert wildzarr.open(tmp_path / "a.zarr", mode="r")[1].user_meta == {
        "site": "B",
        "depth_m": 12.5,
        "tags": ["x"],
        "verified": True,
    }
    before = snapshot(tmp_path / "a.zarr")
    for bad in ({"when": object()}, {"x": float("nan")}, {1: "int key"}, {"s": {1, 2}}, {"b": b"bytes"}):
        with pytest.raises(MetadataError):
            rec.update_user_meta(bad)
        with pytest.raises(MetadataError):
            arc.add(tone(seed=3), samplerate=8000, user_meta=bad)
    with pytest.raises(MetadataError):
        arc.add(tone(seed=3), samplerate=8000, user_meta=["not", "a", "dict"])  # type: ignore[arg-type]
    assert snapshot(tmp_path / "a.zarr") == before
    assert rec.user_meta["site"] == "B"


def test_duplicates_are_refused_unless_allowed(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    arc.add(tone(seed=1), samplerate=8000)
    with pytest.raises(DuplicateRecordingError, match="recording 1") as info:
        arc.add(tone(seed=1), samplerate=8000)
    assert info.value.existing_id == 1
    assert arc.add(tone(seed=1), samplerate=8000, allow_duplicates=True).id == 2
    assert wildzarr.open(tmp_path / "a.zarr", mode="r").find(arc[2].info.source.sha256) in (1, 2)
    arc.remove(1)
    arc.remove(2)
    assert arc.add(tone(seed=1), samplerate=8000).id == 3


@pytest.mark.parametrize("error", [StorageError, KeyboardInterrupt])
@pytest.mark.parametrize("failing_put", [1, 3, 5])  # stream document, blob chunk, index chunk
def test_a_failed_write_leaves_the_archive_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_put: int, error: type[BaseException]
) -> None:
    from wildzarr.storage.local import LocalBackend

    path = tmp_path / "a.zarr"
    arc = wildzarr.open(path)
    arc.add(tone(seed=1), samplerate=8000)
    before = snapshot(path)
    put = LocalBackend.put
    calls = []

    def broken(self: LocalBackend, key: str, data: bytes | memoryview) -> None:
        calls.append(key)
        if len(calls) == failing_put:
            if error is KeyboardInterrupt:  # Ctrl-C in the middle of the writes
                raise KeyboardInterrupt
            raise StorageError(f"{key}: no space left on the device", key)
        put(self, key, data)

    monkeypatch.setattr(LocalBackend, "put", broken)
    with pytest.raises(error):
        arc.add(tone(seed=2), samplerate=8000)
    assert snapshot(path) == before
    monkeypatch.undo()
    assert arc.add(tone(seed=2), samplerate=8000).id == 2


def test_an_unfinished_import_is_never_listed(tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    arc = wildzarr.open(path)
    arc.add(tone(seed=1), samplerate=8000)
    arc.add(tone(seed=2), samplerate=8000)
    # what a crash just before the commit of an import leaves behind: everything but its marker
    (path / "_wildzarr" / "complete" / "2").unlink()
    again = wildzarr.open(path)
    assert again.ids() == [1] and 2 not in again
    with pytest.raises(RecordingNotFoundError):
        again[2]
    assert again.add(tone(seed=3), samplerate=8000).id == 3


def test_info_describes_the_recording(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    rec = arc.add(make_signal(10_000, 3, 24, 0), samplerate=96_000)
    info = rec.info
    assert (info.id, info.samplerate, info.channels, info.samples) == (1, 96_000, 3, 10_000)
    assert info.duration == pytest.approx(10_000 / 96_000)
    assert info.bits_per_sample == 32 and info.source.sample_format == "int32"  # an int32 array is 32-bit
    assert info.codec == {"id": "flac", "compression_level": 5, "blocksize": 4096, "float_bits": 24}
    assert info.stored_bytes == zarr.open_group(tmp_path / "a.zarr", mode="r")["1/0/blob"].shape[0]
    assert info.source.name == "<array>" and info.source.path is None
    assert info.imported_at.utcoffset().total_seconds() == 0
    assert info.wildzarr_version == wildzarr.__version__ and info.format_version == wildzarr.FORMAT_VERSION
    assert json.loads(info.model_dump_json())["samplerate"] == 96_000


def test_two_archive_objects_on_one_group_never_share_an_id(tmp_path: Path) -> None:
    first = wildzarr.open(tmp_path / "a.zarr")
    second = wildzarr.open(tmp_path / "a.zarr")
    assert first.add(tone(seed=1), samplerate=8000).id == 1
    assert second.add(tone(seed=2), samplerate=8000).id == 2
    second.remove(2)
    assert first.add(tone(seed=3), samplerate=8000).id == 3
    assert wildzarr.open(tmp_path / "a.zarr", mode="r").ids() == [1, 3]


def test_a_zipped_folder_archive_opens_read_only(tmp_path: Path) -> None:
    import zipfile

    folder = tmp_path / "a.zarr"
    data = tone(7000, 2)
    wildzarr.open(folder).add(data, samplerate=8000)
    with zipfile.ZipFile(tmp_path / "a.zip", "w", compression=zipfile.ZIP_STORED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder).as_posix())
    with wildzarr.open(tmp_path / "a.zip", mode="r") as arc:
        assert arc.ids() == [1] and np.array_equal(arc[1].read(123, 6543), data[123:6543])


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # zip members are appended on rewrite
def test_closing_leaves_a_callers_store_open(tmp_path: Path) -> None:
    from zarr.storage import ZipStore

    store = ZipStore(tmp_path / "a.zip", mode="w")
    with wildzarr.open(store) as arc:
        arc.add(tone(seed=1), samplerate=8000)
    with wildzarr.open(store) as arc:  # still open: the caller closes it
        arc.add(tone(seed=2), samplerate=8000)
    store.close()
    with wildzarr.open(tmp_path / "a.zip", mode="r") as arc:
        assert arc.ids() == [1, 2]
