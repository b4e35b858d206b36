"""Packed zip archives: ``wildzarr pack`` and the read-only :class:`ZipBackend`.

One module-wide source archive at a group path of a folder holds FLAC, npy
(two blob chunks) and AAC recordings (and real recordings when the corpus is
there), an interrupted import, an import in progress and a group of the
user's own. Packed, it must read exactly as the folder does, hold only the
complete recordings, refuse every write, pickle, survive a fork, and reject
hostile zip files with errors that name the file and the member.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import pickle
import random
import shutil
import struct
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarr
from commands import run
from conftest import CORPUS_DIR
from signals import make_signal
from zarr.storage import MemoryStore

import wildzarr
from wildzarr import ArchiveError, ArgumentError, ReadOnlyError, StorageError, WildzarrError
from wildzarr.arrays import MAX_CHUNK_BYTES, blob_chunk_size
from wildzarr.catalog import SNAPSHOT
from wildzarr.ledger import new_token
from wildzarr.pack import pack
from wildzarr.storage import LocalBackend, ZarrStoreBackend, ZipBackend, join, open_backend
from wildzarr.storage.zipped import PACKED_COMMENT

GROUP = "sites/A"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: Real recordings added to the source when the corpus is present (an MP3 kept as frames, GUANO metadata).
CORPUS_FILES = ("bird_soundscape_XC563936_48k.mp3", "bat_batlogger_312k_guano.wav")


@dataclass
class Source:
    """The folder archive, its zip, and what the zip must and must not hold."""

    root: Path  # the folder store; the archive is at GROUP inside it
    zip: Path
    ids: list[int]
    leftover: int  # an interrupted import's id
    in_progress: int  # an import holding its lease while the zip was written

    def folder(self) -> wildzarr.Archive:
        return wildzarr.open(self.root, path=GROUP, mode="r")


def noise(samples: int, seed: int) -> np.ndarray:
    """float32 white noise, (samples, 2): the npy codec cannot shrink it; its blob is as large as the data."""
    return np.random.default_rng(seed).standard_normal((samples, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    root = tmp_path_factory.mktemp("zip") / "store.zarr"
    arc = wildzarr.open(root, path=GROUP)
    arc.add(make_signal(30_000, 2, 16, 1), samplerate=48_000, codec="flac", user_meta={"site": "A", "n": 1})
    arc.add(noise(1_200_000, 2), samplerate=96_000, codec="npy")  # 9.6 MB: two blob chunks
    arc.add(make_signal(48_000, 2, 16, 3), samplerate=48_000, codec="aac", user_meta={"lossy": True})
    if CORPUS_DIR.is_dir():
        for name in CORPUS_FILES:
            arc.add(CORPUS_DIR / name)
    leftover = arc.add(make_signal(5000, 1, 16, 4), samplerate=8000).id
    (root / GROUP / "_wildzarr" / "complete" / str(leftover)).unlink()  # as a crash before the commit
    location = arc._location
    claim = location.ledger.claim_id(new_token(), "0" * 64, "in progress", node_taken=lambda rid: False)
    location.backend.put(join(GROUP, str(claim.id), "0", "zarr.json"), b"{}")
    zarr.open_group(root / GROUP / "notes", mode="w").attrs["mine"] = 1
    out = root.parent / "packed.zip"
    try:
        report = pack(root, out, path=GROUP)
    finally:
        claim.release()
    assert report.path == str(out) and report.zip_bytes == out.stat().st_size
    yield Source(root, out, report.recordings, leftover, claim.id)


# -- what is packed -------------------------------------------------------------------------------


def test_only_the_complete_recordings_are_packed(source: Source) -> None:
    folder = source.folder()
    assert source.ids == folder.ids() and len(source.ids) == 3 + (2 if CORPUS_DIR.is_dir() else 0)
    with zipfile.ZipFile(source.zip) as z:
        names = z.namelist()
        assert z.comment.startswith(PACKED_COMMENT)
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    assert len(names) == len(set(names))
    markers = [f"_wildzarr/complete/{rid}" for rid in source.ids]
    expected = {"zarr.json", "_wildzarr/zarr.json", SNAPSHOT, *markers}
    local = LocalBackend(source.root / GROUP)
    for rid in source.ids:
        expected.update(key for key, _ in local.list_keys(str(rid)))
        sha256 = folder[rid].info.source.sha256
        expected.add(f"_wildzarr/sha256/{sha256}")
    assert set(names) == expected
    assert not any(n.startswith(("_wildzarr/ids/", "notes/", f"{source.leftover}/")) for n in names)
    assert not any(n.startswith(f"{source.in_progress}/") for n in names)
    assert "_wildzarr/next_id" not in names


def test_reads_equal_the_folder(source: Source) -> None:
    folder = source.folder()
    with wildzarr.open(source.zip) as packed:  # the default mode: a packed zip opens read-only
        assert packed.read_only and packed.ids() == folder.ids() and len(packed) == len(folder)
        assert isinstance(packed.backend, ZipBackend)
        rng = np.random.default_rng(7)
        for rid in folder.ids():
            want, got = folder[rid], packed[rid]
            assert got.info == want.info
            assert got.user_meta == want.user_meta and got.file_meta == want.file_meta
            assert packed.find(want.info.source.sha256) == rid
            whole = want.read()
            assert np.array_equal(got.read(), whole)
            samples = want.info.samples
            starts = [0, samples - 4096, *rng.integers(0, samples - 4096, 40).tolist()]
            for start in starts:
                assert np.array_equal(got.read(start, start + 4096), whole[start : start + 4096])


def test_windows_across_blob_chunk_borders(source: Source) -> None:
    folder, packed = source.folder(), wildzarr.open(source.zip, mode="r")
    rec = folder[2]
    stored, samples = rec.info.stored_bytes, rec.info.samples
    assert stored > MAX_CHUNK_BYTES  # more than one blob chunk
    border = samples * blob_chunk_size(stored) // stored  # about where chunk 1 starts
    whole = rec.read()
    for start in range(border - 20_000, border + 20_000, 997):
        assert np.array_equal(packed[2].read(start, start + 4096), whole[start : start + 4096])


def test_member_bytes_equal_the_folder(source: Source) -> None:
    local = LocalBackend(source.root / GROUP)
    zipped = ZipBackend(source.zip)
    keys = [(key, size) for key, size in zipped.list_keys("") if key != SNAPSHOT]  # derived: see below
    assert keys == sorted(keys) and keys
    for key, size in keys:
        data = local.get(key)
        assert data is not None and zipped.get(key) == data and size == len(data)
        for start, stop in ((0, 1), (size // 3, size // 2), (size - 5, size + 100), (size, size + 1)):
            start = max(start, 0)
            assert zipped.get_range(key, start, stop) == data[start:stop]
    for prefix in ("", "1", "2/0", "_wildzarr", "_wildzarr/complete"):
        listed = [name for name in zipped.list_dir(prefix) if join(prefix, name) != "_wildzarr/catalog"]
        assert listed == sorted(
            name for name in local.list_dir(prefix) if any(k.startswith(join(prefix, name)) for k, _ in keys)
        )
    assert zipped.list_keys("2") == local.list_keys("2")
    assert zipped.list_keys("2/0/blob/c") == local.list_keys("2/0/blob/c")
    zipped.close()


def test_the_packed_catalog_snapshot_serves_the_zip(source: Source) -> None:
    """The zip holds its own snapshot (no change notes): the catalog of exactly the packed recordings."""
    folder = source.folder()
    packed = wildzarr.open(source.zip, mode="r")
    data = ZipBackend(source.zip).get(SNAPSHOT)
    assert data is not None and data.startswith(b"wildzarr-catalog 1\n")
    catalog = packed.catalog()
    pd.testing.assert_frame_equal(catalog, folder.catalog().loc[source.ids])
    pd.testing.assert_frame_equal(catalog, packed.catalog(refresh=True))


def test_the_backend_contract_for_reads(source: Source) -> None:
    backend = ZipBackend(source.zip)
    assert backend.read_only and backend.packed and backend.describe() == str(source.zip)
    assert backend.get("nothing/here") is None and backend.get_range("nothing", 0, 1) is None
    assert backend.get_versioned("nothing") is None
    assert backend.exists("zarr.json") and not backend.exists("1") and not backend.exists("1/0")
    assert backend.list_dir("nothing") == [] and backend.list_keys("nothing") == []
    assert backend.get_range("zarr.json", 0, 0) == b""
    with pytest.raises(ArgumentError):
        backend.get_range("zarr.json", 5, 2)
    with pytest.raises(ArgumentError):
        backend.get("../zarr.json")
    first, second = backend.get_versioned("zarr.json"), backend.get_versioned("zarr.json")
    assert first is not None and first == second and first.data == backend.get("zarr.json")
    assert not backend.is_alive("_wildzarr/ids/1")
    backend.close()
    assert backend.get("zarr.json") == first.data  # reopened on use
    backend.close()


def test_every_write_is_refused_naming_the_file(source: Source) -> None:
    before = source.zip.read_bytes()
    backend = ZipBackend(source.zip)
    writes = {
        "put": lambda: backend.put("k", b"x"),
        "create": lambda: backend.create("k", b"x"),
        "replace": lambda: backend.replace("zarr.json", b"x", "v"),
        "delete": lambda: backend.delete("zarr.json"),
        "delete_if": lambda: backend.delete_if("zarr.json", "v"),
        "delete_prefix": lambda: backend.delete_prefix("1"),
        "claim": lambda: backend.claim("_wildzarr/ids/99", b"x"),
    }
    for name, write in writes.items():
        with pytest.raises(ReadOnlyError, match="wildzarr pack") as caught:
            write()
        assert str(source.zip) in str(caught.value), name
    for mode in ("a", "r+"):
        with wildzarr.open(source.zip, mode=mode) as arc:
            assert arc.read_only
            for action in (
                lambda: arc.add(make_signal(100, 1, 16), samplerate=8000),
                lambda: arc.remove(1),
                lambda: arc[1].update_user_meta(x=1),
            ):
                with pytest.raises(ReadOnlyError, match=str(source.zip)) as refused:
                    action()
                message = str(refused.value)
                assert "written by wildzarr pack" in message and "mode 'r'" not in message
    with pytest.raises(ReadOnlyError, match=str(source.zip)):
        wildzarr.open(source.zip, mode="w")  # would delete the archive group first
    assert source.zip.read_bytes() == before


def test_which_backend_opens_a_zip(source: Source, tmp_path: Path) -> None:
    for mode in ("r", "r+", "a", "w"):
        backend, prefix = open_backend(source.zip, mode=mode)
        assert isinstance(backend, ZipBackend) and prefix == ""
        backend.close()
    handmade = tmp_path / "handmade.zip"
    shutil.copy(source.zip, handmade)
    with zipfile.ZipFile(handmade, "a") as z:
        z.comment = b"zipped by hand"
    reader, _ = open_backend(handmade, mode="r")
    assert isinstance(reader, ZipBackend) and not reader.packed
    reader.close()
    writer, _ = open_backend(handmade, mode="a")  # not packed: appended to through zarr's ZipStore
    assert isinstance(writer, ZarrStoreBackend) and not writer.read_only
    writer.close()
    (tmp_path / "junk.zip").write_bytes(b"not a zip file at all")
    with pytest.raises(ArchiveError, match=r"junk\.zip: not a readable zip file"):
        open_backend(tmp_path / "junk.zip", mode="r")


def test_plain_zarr_browses_the_zip(source: Source) -> None:
    backend = ZipBackend(source.zip)
    group = zarr.open_group(backend.zarr_store(), mode="r", zarr_format=3)
    assert "wildzarr" in group.attrs
    blob = group["1/0/blob"]
    assert isinstance(blob, zarr.Array)
    local = LocalBackend(source.root / GROUP).get("1/0/blob/c/0")
    assert local is not None and blob[:100].tobytes() == local[:100]
    backend.close()
    with wildzarr.open(source.zip, mode="r") as arc:
        assert sorted(arc.group.group_keys()) == sorted([*map(str, source.ids), "_wildzarr"])


# -- processes and threads --------------------------------------------------------------------


def _read_range(backend: ZipBackend, key: str, start: int, stop: int) -> bytes | None:
    return backend.get_range(key, start, stop)


def _read_after_fork(backend: ZipBackend, key: str, queue: Any) -> None:
    queue.put((backend._opened is None, backend.get_range(key, 100, 200)))


def _read_window(arc: wildzarr.Archive, rid: int, start: int) -> np.ndarray:
    return arc[rid].read(start, start + 4096)


def test_the_backend_pickles_to_its_path(source: Source) -> None:
    backend = ZipBackend(source.zip)
    key = "2/0/blob/c/1"
    expected = backend.get_range(key, 1000, 5000)
    assert backend.__getstate__() == {"path": str(source.zip), "packed": True}  # no descriptor
    clone = pickle.loads(pickle.dumps(backend))
    assert clone._opened is None  # reopened lazily
    assert clone.get_range(key, 1000, 5000) == expected and clone.describe(key) == backend.describe(key)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_read_range, backend, key, 1000, 5000).result(120) == expected
    clone.close()
    backend.close()


def test_a_forked_child_reopens(source: Source) -> None:
    backend = ZipBackend(source.zip)
    key = "1/0/blob/c/0"
    expected = backend.get_range(key, 100, 200)
    parent_fd = backend._opened.fd if backend._opened else -1
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_after_fork, args=(backend, key, queue))
    child.start()
    forgot, data = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0 and forgot and data == expected
    assert backend._opened is not None and backend._opened.fd == parent_fd
    assert backend.get_range(key, 100, 200) == expected  # the parent's descriptor is untouched
    backend.close()


def test_an_archive_from_the_zip_pickles_if_archives_do(source: Source, tmp_path: Path) -> None:
    try:
        pickle.loads(pickle.dumps(source.folder()))
    except Exception as exc:  # Archive pickling is not there yet
        pytest.skip(f"wildzarr.Archive does not pickle yet ({type(exc).__name__})")
    with wildzarr.open(source.zip, mode="r") as arc:
        whole = arc[2].read(50_000, 54_096)
        clone = pickle.loads(pickle.dumps(arc))
        assert np.array_equal(clone[2].read(50_000, 54_096), whole)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            assert np.array_equal(pool.submit(_read_window, arc, 2, 50_000).result(120), whole)


def test_threads_share_one_backend(source: Source) -> None:
    backend = ZipBackend(source.zip)
    local = LocalBackend(source.root / GROUP)
    keys = [key for key, size in backend.list_keys("") if size > 1000 and key != SNAPSHOT]
    rng = random.Random(3)
    requests = []
    for _ in range(400):
        key = rng.choice(keys)
        start = rng.randrange(0, 1000)
        requests.append((key, start, start + rng.randrange(1, 100_000)))
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda r: backend.get_range(*r), requests))
    assert got == [local.get_range(*r) for r in requests]
    backend.close()


# -- zips written by other tools --------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_compressed_members_directory_entries_and_duplicates(source: Source, tmp_path: Path) -> None:
    """A zip of the folder by another tool: deflated documents, directory entries, a rewritten member."""
    folder_root = source.root / GROUP
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        for file in sorted(folder_root.rglob("*")):
            name = file.relative_to(folder_root).as_posix()
            if file.is_dir():
                z.writestr(name + "/", b"")
                continue
            method = zipfile.ZIP_STORED if "/blob/c/" in name else zipfile.ZIP_DEFLATED
            z.write(file, name, compress_type=method)
        z.writestr("notes/zarr.json", b"old", compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("notes/zarr.json", b'{"zarr_format":3,"node_type":"group","attributes":{}}')
    backend = ZipBackend(path)
    assert not any(key.endswith("/") for key, _ in backend.list_keys(""))
    assert backend.get("notes/zarr.json") == b'{"zarr_format":3,"node_type":"group","attributes":{}}'
    assert backend.list_dir("2/0") == ["blob", "index", "zarr.json"]
    index = LocalBackend(folder_root).get("2/0/index/c/0/0")
    assert index is not None and backend.get_range("2/0/index/c/0/0", 3, 40) == index[3:40]
    backend.close()
    folder = source.folder()
    with wildzarr.open(path, mode="r") as arc:
        assert arc.ids() == folder.ids()
        for rid in arc.ids():
            assert np.array_equal(arc[rid].read(), folder[rid].read())


def test_zip64_members_and_offsets(source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ZIP64 records as a > 4 GiB archive has them, forced on a small one by a low ZIP64 limit."""
    out = tmp_path / "zip64.zip"
    with monkeypatch.context() as patch:
        patch.setattr(zipfile, "ZIP64_LIMIT", 1 << 16)
        pack(source.root, out, path=GROUP)
    data = out.read_bytes()
    with zipfile.ZipFile(out) as z:
        big = next(i for i in z.infolist() if i.file_size > 1 << 20)
    assert struct.unpack_from("<LL", data, big.header_offset + 18) == (0xFFFFFFFF, 0xFFFFFFFF)
    assert b"PK\x06\x06" in data[-200:]  # a ZIP64 end of central directory record
    folder = source.folder()
    with wildzarr.open(out, mode="r") as arc:
        assert np.array_equal(arc[2].read(), folder[2].read())


# -- hostile zip files ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A packed archive of two small recordings, as bytes."""
    base = tmp_path_factory.mktemp("hostile")
    arc = wildzarr.open(base / "a.zarr")
    arc.add(make_signal(20_000, 2, 16, 11), samplerate=48_000)
    arc.add(make_signal(9000, 1, 16, 12), samplerate=8000, codec="npy")
    pack(base / "a.zarr", base / "a.zip")
    return (base / "a.zip").read_bytes()


TARGET = "1/0/blob/c/0"


def central_record(data: bytes, name: str) -> int:
    """Offset of the central directory record of member ``name``."""
    position = data.index(b"PK\x05\x06")
    start = struct.unpack_from("<L", data, position + 16)[0]
    while data[start : start + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<HHH", data, start + 28)
        if data[start + 46 : start + 46 + n].decode() == name:
            return start
        start += 46 + n + m + k
    raise AssertionError(f"{name} not in the central directory")


def local_header(data: bytes, name: str) -> int:
    return int(struct.unpack_from("<L", data, central_record(data, name) + 42)[0])


def patched(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def _bad_signature(data: bytes) -> bytes:
    return patched(data, local_header(data, TARGET), b"XXXX")


def _other_name(data: bytes) -> bytes:
    return patched(data, local_header(data, TARGET) + 30, b"9")  # "1/0/..." -> "9/0/..." in the local header


def _other_size(data: bytes) -> bytes:
    at = local_header(data, TARGET) + 18
    return patched(data, at, struct.pack("<L", struct.unpack_from("<L", data, at)[0] - 1))


def _offset_outside(data: bytes) -> bytes:
    return patched(data, central_record(data, TARGET) + 42, struct.pack("<L", len(data) + 10))


def _encrypted(data: bytes) -> bytes:
    at = central_record(data, TARGET) + 8
    return patched(data, at, struct.pack("<H", struct.unpack_from("<H", data, at)[0] | 1))


def _data_outside(data: bytes) -> bytes:
    """Sizes in both headers grown past the end of the file (they agree, the range does not fit)."""
    big = struct.pack("<LL", len(data), len(data))
    out = patched(data, central_record(data, TARGET) + 20, big)
    return patched(out, local_header(data, TARGET) + 18, big)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_bad_signature, "no local file header"),
        (_other_name, "local header names '9/0/blob/c/0'"),
        (_other_size, "local header gives sizes"),
        (_offset_outside, "lies outside the file"),
        (_encrypted, "encrypted"),
        (_data_outside, "lies outside the file"),
    ],
)
def test_a_damaged_member_is_reported(small_zip: bytes, tmp_path: Path, damage: Any, message: str) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(damage(small_zip))
    backend = ZipBackend(path)
    for read in (lambda: backend.get(TARGET), lambda: backend.get_range(TARGET, 0, 10)):
        with pytest.raises(StorageError, match=message) as caught:
            read()
        assert str(path) in str(caught.value) and TARGET in str(caught.value)
    assert backend.get("2/zarr.json") is not None  # the other members still read
    backend.close()
    with wildzarr.open(path, mode="r") as arc:
        assert arc.ids() == [1, 2]
        assert arc[2].read().shape == (9000, 1)
        with pytest.raises(WildzarrError, match=TARGET):
            arc[1].read(0, 10)


def test_a_flipped_data_byte_fails_the_crc_of_a_whole_read(small_zip: bytes, tmp_path: Path) -> None:
    path = tmp_path / "flipped.zip"
    doc = "1/zarr.json"
    at = local_header(small_zip, doc) + 30 + len(doc) + 5
    path.write_bytes(patched(small_zip, at, bytes([small_zip[at] ^ 1])))
    backend = ZipBackend(path)
    with pytest.raises(StorageError, match="CRC-32"):
        backend.get(doc)
    backend.close()


@pytest.mark.parametrize("cut", [0, 10, 100, 0.5, -22])  # -22: into the end of central directory record
def test_a_truncated_or_foreign_file_is_no_zip(small_zip: bytes, tmp_path: Path, cut: float) -> None:
    path = tmp_path / "cut.zip"
    length = int(len(small_zip) * cut) if isinstance(cut, float) else cut % len(small_zip)
    path.write_bytes(small_zip[:length])
    with pytest.raises(ArchiveError, match=str(path)):
        ZipBackend(path)


def test_a_central_directory_outside_the_file(small_zip: bytes, tmp_path: Path) -> None:
    """zipfile trusts the end record's position over its offset: every member offset is then wrong."""
    end = small_zip.index(b"PK\x05\x06")
    path = tmp_path / "cd.zip"
    path.write_bytes(patched(small_zip, end + 16, struct.pack("<L", len(small_zip) * 4)))
    backend = ZipBackend(path)
    with pytest.raises(
        StorageError, match=r"zarr\.json: its local header at byte -\d+ lies outside the file"
    ):
        backend.get("zarr.json")
    backend.close()
    with pytest.raises(StorageError, match=str(path)):
        wildzarr.open(path)


def test_random_damage_never_crashes(small_zip: bytes, tmp_path: Path) -> None:
    """Bytes flipped in the headers and the central directory: data or a WildzarrError, nothing else."""
    rng = random.Random(11)
    directory = small_zip.index(b"PK\x05\x06")
    start = struct.unpack_from("<L", small_zip, directory + 16)[0]
    headers = [local_header(small_zip, n) for n in zipfile.ZipFile(io.BytesIO(small_zip)).namelist()]
    path = tmp_path / "random.zip"
    outcomes = {"opened": 0, "refused": 0}
    for _ in range(300):
        data = bytearray(small_zip)
        for _ in range(rng.randint(1, 4)):
            at = rng.choice([rng.randrange(start, len(data)), rng.choice(headers) + rng.randrange(0, 40)])
            data[at] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            backend = ZipBackend(path)
        except ArchiveError:
            outcomes["refused"] += 1
            continue
        outcomes["opened"] += 1
        try:
            for key, size in backend.list_keys(""):
                with contextlib.suppress(WildzarrError):
                    backend.get(key)
                with contextlib.suppress(WildzarrError):
                    backend.get_range(key, 1, 1 + size // 2)
        finally:
            backend.close()
    assert outcomes["opened"] and outcomes["refused"]


# -- pack: refusals and failures -------------------------------------------------------------


def test_pack_refuses_an_existing_output_unless_forced(source: Source, tmp_path: Path) -> None:
    out = tmp_path / "out.zip"
    out.write_bytes(b"precious")
    with pytest.raises(ArgumentError, match=f"{out}: already exists"):
        pack(source.root, out, path=GROUP)
    assert out.read_bytes() == b"precious"
    report = pack(source.root, out, path=GROUP, force=True)
    assert out.read_bytes() == source.zip.read_bytes()  # the same archive packs to the same bytes
    assert report.recordings == source.ids and report.members == len(zipfile.ZipFile(out).namelist())
    assert sorted(os.listdir(tmp_path)) == ["out.zip"]
    with pytest.raises(ArgumentError, match=r"must end in \.zip"):
        pack(source.root, tmp_path / "out.tar", path=GROUP)


def test_pack_refuses_a_format_1_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="wildzarr upgrade"):
        pack(FIXTURES / "format1.zarr", tmp_path / "old.zip")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_an_interrupted_pack_leaves_nothing(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    calls = []
    original = zipfile.ZipFile.writestr

    def failing(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 6:
            raise error
        original(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing)
    out = tmp_path / "out.zip"
    with pytest.raises(type(error)) as caught:
        pack(source.root, out, path=GROUP)
    if isinstance(error, OSError):
        assert isinstance(caught.value, StorageError) and str(out) in str(caught.value)
        assert "no space left" in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_a_source_changing_while_packed_is_reported(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = LocalBackend.get

    def vanishing(self: LocalBackend, key: str) -> bytes | None:
        return None if key.endswith("2/0/index/zarr.json") else original(self, key)

    monkeypatch.setattr(LocalBackend, "get", vanishing)
    with pytest.raises(ArchiveError, match=r"2/0/index/zarr.json: vanished while packing"):
        pack(source.root, tmp_path / "out.zip", path=GROUP)
    assert os.listdir(tmp_path) == []


def test_a_zip_failing_its_check_is_not_published(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ZipBackend.checked_members

    def one_wrong(self: ZipBackend) -> dict[str, tuple[int, int]]:
        found = original(self)
        found["1/zarr.json"] = (0, 0)
        return found

    monkeypatch.setattr(ZipBackend, "checked_members", one_wrong)
    with pytest.raises(ArchiveError, match=r"differs from the source in \['1/zarr.json'\]"):
        pack(source.root, tmp_path / "out.zip", path=GROUP)
    assert os.listdir(tmp_path) == []


def test_pack_from_a_store_and_from_a_zip(tmp_path: Path) -> None:
    store = MemoryStore()
    data = make_signal(6000, 1, 16, 21)
    arc = wildzarr.open(store)
    arc.add(data, samplerate=8000, user_meta={"k": "v"})
    pack(arc, tmp_path / "from_memory.zip")
    with wildzarr.open(tmp_path / "from_memory.zip") as packed:
        assert packed.ids() == [1] and np.array_equal(packed[1].read(), data)
    with (
        pytest.warns(UserWarning, match="Duplicate name"),  # the next_id hint, rewritten: appended again
        wildzarr.open(tmp_path / "built.zip", mode="w") as built,  # built in place through zarr's ZipStore
    ):
        built.add(data, samplerate=8000)
        built.add(data[::-1].copy(), samplerate=8000)
    pack(tmp_path / "built.zip", tmp_path / "repacked.zip")
    with wildzarr.open(tmp_path / "repacked.zip") as packed:
        assert np.array_equal(packed[1].read(), data) and np.array_equal(packed[2].read(), data[::-1])
    names = zipfile.ZipFile(tmp_path / "repacked.zip").namelist()
    assert len(names) == len(set(names)) and "_wildzarr/next_id" not in names


# -- the command line -------------------------------------------------------------------------


def test_the_pack_command(source: Source, tmp_path: Path) -> None:
    out = tmp_path / "cli.zip"
    result = run("pack", str(source.root), str(out), "--path", GROUP)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"packed {len(source.ids)} recordings into {out}: {out.stat().st_size} bytes "
        f"({len(zipfile.ZipFile(out).namelist())} members)"
    )
    assert out.read_bytes() == source.zip.read_bytes()
    listing = json.loads(run("ls", str(out), "--json").stdout)
    assert [row["id"] for row in listing] == source.ids
    verified = run("verify", str(out))
    assert verified.returncode == 0 and f"checked {len(source.ids)} recordings: 0 problems" in verified.stdout
    again = run("pack", str(source.root), str(out), "--path", GROUP)
    assert (
        again.returncode == 1 and f"{out}: already exists" in again.stderr and "Traceback" not in again.stderr
    )
    assert run("pack", str(source.root), str(out), "--path", GROUP, "--force").returncode == 0
    refused = run("rm", str(out), "1")
    assert refused.returncode == 1 and str(out) in refused.stderr and "read-only" in refused.stderr
    missing = run("pack", str(tmp_path / "nothing.zarr"), str(tmp_path / "x.zip"))
    assert missing.returncode == 1 and "no such archive folder" in missing.stderr
    assert sorted(os.listdir(tmp_path)) == ["cli.zip"]


def test_the_pack_command_on_s3(s3_url: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    url, options = s3_url
    target = f"{url}/archive"
    data = make_signal(7000, 2, 16, 31)
    wildzarr.open(target, storage_options=options).add(data, samplerate=16_000)
    flags = []
    for key, value in options.items():
        flags += ["--storage-option", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    out = tmp_path / "s3.zip"
    result = run("pack", target, str(out), *flags)
    assert result.returncode == 0, result.stderr
    with wildzarr.open(out) as packed:
        assert np.array_equal(packed[1].read(), data)
