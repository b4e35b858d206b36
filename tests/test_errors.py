"""Every error the public API raises is a WildzarrError subclass whose message names what it is about.

Each case of the list measured on the old code (where these escaped as
ValueError, TypeError, RecursionError, PermissionError, OSError or zarr's own
errors) is checked for its subclass, for being a WildzarrError, and for a
message naming the file, path or recording. Storage failures are produced for
real: disk full on a 2 MiB tmpfs mounted for the test, permission denied in a
forked child that drops root to uid/gid 65534.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from archive_helpers import snapshot
from signals import make_bad_file, make_signal, write_wav

import wildzarr
from wildzarr import (
    ArchiveError,
    ArgumentError,
    DamagedRecordingError,
    MetadataError,
    MissingDependencyError,
    SourceError,
    StorageError,
    StreamError,
    WildzarrError,
)
from wildzarr.documents import encode_group, parse_group
from wildzarr.verify import verify


def signal_(seed: int, samples: int = 20_000, channels: int = 2) -> np.ndarray:
    return make_signal(samples, channels, 16, seed)


def check(error: BaseException, kind: type[WildzarrError], *names: object) -> None:
    """``error`` is a ``kind`` (so a WildzarrError) and its message names each of ``names``."""
    assert isinstance(error, kind), repr(error)
    assert isinstance(error, WildzarrError)
    for name in names:
        assert str(name) in str(error), f"{name!s} not in {error!s}"


@pytest.fixture()
def archive(tmp_path: Path) -> Path:
    """A local archive of two recordings (ids 1 and 2), 20,000 samples x 2 channels at 48 kHz."""
    path = tmp_path / "a.zarr"
    arc = wildzarr.open(path)
    for seed in range(2):
        arc.add(signal_(seed), samplerate=48_000, user_meta={"seed": seed})
    return path


# -- opening ------------------------------------------------------------------------------------


def test_opening_an_audio_file_is_an_archive_error(tmp_path: Path) -> None:
    """``wildzarr.open("x.wav")`` on an existing audio file: ArchiveError naming it; the file is untouched."""
    wav = tmp_path / "x.wav"
    write_wav(wav, signal_(1, 1000), 8000)
    content = wav.read_bytes()
    for mode in ("r", "r+", "a", "w"):
        with pytest.raises(ArchiveError) as raised:
            wildzarr.open(wav, mode=mode)
        check(raised.value, ArchiveError, wav)
    assert wav.read_bytes() == content


def test_s3_without_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``s3://`` URL without s3fs installed: MissingDependencyError (an ImportError) naming the extra."""
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(MissingDependencyError) as raised:
        wildzarr.open("s3://bucket/archive", mode="r", storage_options={"anon": True})
    check(raised.value, MissingDependencyError, 'pip install "wildzarr[s3]"')
    assert isinstance(raised.value, ImportError)


@pytest.mark.parametrize("path", ["../x", "a/../../x", "./x", "a//b", "__x", "a/\x00"])
def test_a_malformed_group_path_is_an_argument_error(tmp_path: Path, path: str) -> None:
    """``open(folder, path="../x")`` and other malformed group paths: ArgumentError naming the path."""
    with pytest.raises(ArgumentError) as raised:
        wildzarr.open(tmp_path / "a.zarr", path=path)
    check(raised.value, ArgumentError, repr(path))
    assert not (tmp_path / "x").exists()


def test_a_path_naming_a_zarr_array_is_an_archive_error(tmp_path: Path) -> None:
    """``path`` naming a Zarr array (in any mode): ArchiveError saying so; the array is left as it was."""
    store = tmp_path / "data.zarr"
    group = zarr.open_group(store, mode="w")
    group.create_array("waveform", shape=(100,), dtype="int16")[...] = np.arange(100, dtype=np.int16)
    before = snapshot(store)
    for mode in ("r", "r+", "a"):
        with pytest.raises(ArchiveError, match="array") as raised:
            wildzarr.open(store, path="waveform", mode=mode)
        check(raised.value, ArchiveError, "waveform")
    with pytest.raises(ArchiveError, match="array"):
        wildzarr.open(store / "waveform", mode="a")
    assert snapshot(store) == before


@pytest.mark.parametrize("inside", ["1", "1/0", "1/0/blob", "1/0/index", "_wildzarr"])
def test_opening_a_node_inside_an_archive_is_an_archive_error(archive: Path, inside: str) -> None:
    """A path (or folder) pointing inside an archive, e.g. a recording's group: a clear ArchiveError.

    Not a traceback from zarr or pydantic, and nothing is written there (not even in mode "a").
    """
    before = snapshot(archive)
    for mode in ("r", "a"):
        with pytest.raises(ArchiveError) as raised:
            wildzarr.open(archive, path=inside, mode=mode)
        check(raised.value, ArchiveError, inside)
        with pytest.raises(ArchiveError) as raised:
            wildzarr.open(archive / inside, mode=mode)
        check(raised.value, ArchiveError, archive / inside)
    assert snapshot(archive) == before


# -- reading ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"channels": 1.0}, "channels"),
        ({"channels": [0, 1.0]}, "channel"),
        ({"channels": "0"}, "channels"),
        ({"start": 0.5}, "start"),
        ({"stop": "10"}, "stop"),
        ({"dtype": "int8"}, "int8"),
        ({"dtype": "no such type"}, "dtype"),
    ],
)
def test_bad_read_arguments_are_argument_errors(archive: Path, kwargs: dict[str, Any], what: str) -> None:
    """``rec.read(channels=1.0)`` and other wrongly typed arguments: ArgumentError naming the recording."""
    rec = wildzarr.open(archive, mode="r")[1]
    with pytest.raises(ArgumentError) as raised:
        rec.read(**kwargs)
    check(raised.value, ArgumentError, "recording 1", what)


def test_a_damaged_index_chunk_is_a_damaged_recording(archive: Path) -> None:
    """Overwritten bytes of ``P/<id>/0/index/c/0/0``: DamagedRecordingError naming the id on read."""
    chunk = archive / "2" / "0" / "index" / "c" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4] = b"\xde\xad\xbe\xef"
    chunk.write_bytes(bytes(data))
    arc = wildzarr.open(archive, mode="r")
    with pytest.raises(DamagedRecordingError) as raised:
        arc[2].read(0, 100)
    check(raised.value, DamagedRecordingError, "recording 2", "index")
    assert raised.value.recording_id == 2
    assert np.array_equal(arc[1].read(), signal_(0))


#: Fields given values of the wrong type (with a valid checksum: only the types are wrong), per document.
WRONG_TYPES: dict[str, list[dict[str, Any]]] = {
    "2/zarr.json": [{"info": [1, 2]}, {"user_meta": "x"}, {"streams": "one"}],
    "2/0/zarr.json": [{"codec": ["flac"]}, {"channels": "two"}, {"decoder_config": "x"}],
    "2/0/blob/zarr.json": [{"shape": "many"}, {"data_type": 7}, {"codecs": {"name": "bytes"}}],
    "2/0/index/zarr.json": [{"shape": "many"}, {"data_type": 7}, {"codecs": {"name": "bytes"}}],
}

DAMAGES = [
    "not UTF-8",
    "not JSON",
    "a JSON list",
    "a JSON string",
    "JSON null",
    "wrong type 0",
    "wrong type 1",
    "wrong type 2",
    "attributes not an object",
    "truncated",
    "empty",
    "deeply nested",
]


def damaged(document: str, data: bytes, damage: str) -> bytes:
    """The stored ``document`` (a key below the archive) with ``damage`` done to its bytes ``data``."""
    doc = json.loads(data)
    if damage.startswith("wrong type"):
        change = WRONG_TYPES[document][int(damage[-1])]
        if doc["node_type"] == "array":
            return json.dumps({**doc, **change}).encode()
        fields, attributes = parse_group(data, require_checksum=True)
        assert fields is not None
        return encode_group({**fields, **change}, attributes)
    return {
        "not UTF-8": b"\xff\xfe\x00" + data[3:],
        "not JSON": b"{" + data[1:-1],
        "a JSON list": b"[1, 2, 3]",
        "a JSON string": b'"recording"',
        "JSON null": b"null",
        "attributes not an object": json.dumps({**doc, "attributes": ["wildzarr"]}).encode(),
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "deeply nested": b'{"zarr_format":3,"attributes":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    }[damage]


#: (document, damage) pairs; an array document's attributes are not read, so a list there is no damage.
DOCUMENT_CASES = [
    (document, damage)
    for document in WRONG_TYPES
    for damage in DAMAGES
    if not (damage == "attributes not an object" and document.endswith(("blob/zarr.json", "index/zarr.json")))
]


@pytest.mark.parametrize(("document", "damage"), DOCUMENT_CASES)
def test_a_damaged_document_is_a_damaged_recording(archive: Path, document: str, damage: str) -> None:
    """A recording's, stream's or array's ``zarr.json`` not UTF-8, not JSON, of the wrong type, truncated...

    ``arc[id]`` or the first read raises DamagedRecordingError naming the id
    (format 2 reads need no blob document: its stream document states the
    size, so a read may also return the right samples); ``verify`` reports
    recording 2, and only it, without raising; the other recording reads.
    """
    path = archive / document
    path.write_bytes(damaged(document, path.read_bytes(), damage))
    arc = wildzarr.open(archive, mode="r")
    try:
        window = arc[2].read(0, 100)
    except DamagedRecordingError as exc:
        check(exc, DamagedRecordingError, "recording 2")
        assert exc.recording_id == 2
    else:
        assert document == "2/0/blob/zarr.json", "the damage was not noticed"
        assert np.array_equal(window, signal_(1)[:100])
    report = verify(arc)
    assert not report.ok and {f.recording for f in report.findings if f.error} == {2}, report.findings
    assert np.array_equal(arc[1].read(), signal_(0))


def test_a_decode_error_names_recording_stream_frame_and_samples(archive: Path) -> None:
    """A bit flipped inside frame k of a blob chunk: StreamError naming ``recording 2 stream 0 frame k``.

    With the frame's sample range, for a window inside the frame and for a
    long read that spans it (decoded on the thread pool); windows elsewhere read.
    """
    k = 3
    table = np.asarray(zarr.open_array(archive / "2" / "0" / "index", mode="r")[...])
    a, b = int(table[k, 1]), int(table[k + 1, 1]) - 1
    chunk = archive / "2" / "0" / "blob" / "c" / "0"
    data = bytearray(chunk.read_bytes())
    data[int(table[k, 0]) + 40] ^= 0x10
    chunk.write_bytes(bytes(data))
    rec = wildzarr.open(archive, mode="r")[2]
    for start, stop in ((a + 10, a + 20), (0, rec.samples)):
        with pytest.raises(StreamError) as raised:
            rec.read(start, stop)
        check(raised.value, StreamError, f"recording 2 stream 0 frame {k} (samples {a}-{b})")
        assert raised.value.frame == k
    assert np.array_equal(rec.read(0, a), signal_(1)[:a])
    assert np.array_equal(rec.read(b + 1, rec.samples), signal_(1)[b + 1 :])


# -- importing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["empty", "one-byte", "random", "text-wav", "truncated-wav", "truncated-flac", "wav-no-samples"]
)
def test_a_file_that_is_not_audio_is_a_source_error(archive: Path, tmp_path: Path, kind: str) -> None:
    """``add()`` of an empty, truncated or non-audio file: SourceError naming the file; archive unchanged."""
    path = make_bad_file(tmp_path, kind)
    before = snapshot(archive)
    arc = wildzarr.open(archive)
    with pytest.raises(SourceError) as raised:
        arc.add(path)
    check(raised.value, SourceError, path.name)
    assert snapshot(archive) == before and arc.ids() == [1, 2]


def _nested(levels: int, kind: type = dict) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"a": value} if kind is dict else [value]
    return value


@pytest.mark.parametrize("kind", [dict, list])
def test_deeply_nested_user_meta_is_a_metadata_error(archive: Path, kind: type) -> None:
    """user_meta nested 10,000 deep: MetadataError (not RecursionError) for add and update; nothing stored."""
    deep = _nested(10_000, kind)
    before = snapshot(archive)
    arc = wildzarr.open(archive)
    with pytest.raises(MetadataError) as raised:
        arc.add(signal_(9), samplerate=48_000, user_meta={"deep": deep})
    check(raised.value, MetadataError, "user metadata", "deeper")
    rec = arc[1]
    with pytest.raises(MetadataError) as raised:
        rec.update_user_meta(deep=deep)
    check(raised.value, MetadataError, "recording 1", "deeper")
    assert snapshot(archive) == before and arc.ids() == [1, 2]
    assert arc[1].user_meta == {"seed": 0}


def test_a_megabyte_of_user_meta_is_a_metadata_error(archive: Path) -> None:
    """user_meta of 1 MB: MetadataError for add and update, also when an update would grow it too large."""
    big = {"notes": "x" * 1_000_000}
    before = snapshot(archive)
    arc = wildzarr.open(archive)
    with pytest.raises(MetadataError) as raised:
        arc.add(signal_(9), samplerate=48_000, user_meta=big)
    check(raised.value, MetadataError, "user metadata", "bytes")
    rec = arc[1]
    with pytest.raises(MetadataError) as raised:
        rec.update_user_meta(big)
    check(raised.value, MetadataError, "recording 1", "bytes")
    assert snapshot(archive) == before
    rec.update_user_meta(first="y" * 300_000)
    with pytest.raises(MetadataError) as raised:
        rec.update_user_meta(second="z" * 300_000)
    check(raised.value, MetadataError, "recording 1", "bytes")
    assert set(arc[1].user_meta) == {"seed", "first"}


# -- disk full ----------------------------------------------------------------------------------------


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """A folder on a 2 MiB tmpfs mounted for the test and True; a plain folder and False if mount fails."""
    point = tmp_path / "disk"
    point.mkdir()
    mount = shutil.which("mount")
    command = [mount or "mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(point)]
    if mount is None or subprocess.run(command, capture_output=True, check=False).returncode != 0:
        yield point, False
        return
    try:
        yield point, True
    finally:
        if subprocess.run(["umount", str(point)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its file system is full (ENOSPC); return it."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65_536, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def no_space(fd: int, data: Any) -> None:
    """Stands in for the local backend's writes when no small file system can be mounted."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture()
def full_disk_archive(small_disk: tuple[Path, bool]) -> tuple[Path, bool]:
    """An archive of one recording (id 1, 5,000 samples) on the small disk, and whether that disk is real."""
    root, real = small_disk
    wildzarr.open(root / "a.zarr").add(signal_(1, 5000), samplerate=48_000)
    return root / "a.zarr", real


def test_disk_full_during_an_import_is_a_storage_error(
    full_disk_archive: tuple[Path, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC for real: an import of 3 MB of noise into an archive on a 2 MiB tmpfs.

    We run as root in a container, where mounting a tmpfs works. Only if
    mounting is refused (no privilege, which a loop-mounted ext4 image would
    need too) are the local backend's writes made to fail with ENOSPC instead
    (``wildzarr.storage.local._write_all`` monkeypatched). StorageError naming
    a path in the archive and saying the disk is full, errno ENOSPC; the
    archive exactly as it was; the next import (once there is room) gets id 2.
    """
    path, real = full_disk_archive
    before = snapshot(path)
    if not real:
        monkeypatch.setattr(wildzarr.storage.local, "_write_all", no_space)
    arc = wildzarr.open(path)
    noise = np.random.default_rng(5).integers(-(2**15), 2**15, size=(800_000, 2), dtype=np.int16)
    with pytest.raises(StorageError) as raised:
        arc.add(noise, samplerate=48_000)
    check(raised.value, StorageError, path, "no space left on the device")
    assert raised.value.errno == errno.ENOSPC and raised.value.path.startswith(str(path))
    assert snapshot(path) == before and arc.ids() == [1]
    monkeypatch.undo()
    assert arc.add(signal_(2, 5000), samplerate=48_000).id == 2  # the failed import gave its id back


def test_disk_full_during_a_metadata_update_is_a_storage_error(
    full_disk_archive: tuple[Path, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC for real: ``update_user_meta`` with the tmpfs filled up (see the test above for the fallback).

    StorageError naming the recording and the file it could not write (the
    catalog change note, the first write of an update), errno ENOSPC; the
    stored document unchanged; the update succeeds once the filler is deleted.
    """
    path, real = full_disk_archive
    rec = wildzarr.open(path)[1]
    before = snapshot(path)
    if real:
        filler = fill(path.parent)
    else:
        monkeypatch.setattr(wildzarr.storage.local, "_write_all", no_space)
    with pytest.raises(StorageError) as raised:
        rec.update_user_meta(note="n" * 10_000)
    check(raised.value, StorageError, "recording 1", path / "_wildzarr" / "catalog" / "notes" / "1.")
    check(raised.value, StorageError, "no space left on the device")
    assert raised.value.errno == errno.ENOSPC
    assert snapshot(path) == before and wildzarr.open(path, mode="r")[1].user_meta == {}
    if real:
        filler.unlink()
    monkeypatch.undo()
    rec.update_user_meta(note="fits now")
    assert wildzarr.open(path, mode="r")[1].user_meta == {"note": "fits now"}


# -- permission denied ----------------------------------------------------------------------------------

#: uid and gid of "nobody".
NOBODY = 65534


@pytest.fixture()
def shared_folder() -> Iterator[Path]:
    """A folder any user may enter and read (mode 0755); pytest's tmp_path is private to its owner."""
    path = Path(tempfile.mkdtemp(prefix="wildzarr-errors-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def as_nobody(calls: dict[str, Callable[[], Any]], timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Run each call in a forked child that dropped root to uid/gid 65534; what each returned or raised.

    The child reports through a pipe: per call ``{"returned": repr}`` or
    ``{"type", "message", "wildzarr", "storage", "path", "errno", "traceback"}``.
    A child that does not answer within ``timeout`` seconds is killed by its pid.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            report: dict[str, dict[str, Any]] = {}
            for name, call in calls.items():
                try:
                    report[name] = {"returned": repr(call())}
                except BaseException as exc:
                    report[name] = {
                        "type": type(exc).__name__,
                        "message": str(exc),
                        "wildzarr": isinstance(exc, WildzarrError),
                        "storage": isinstance(exc, StorageError),
                        "path": getattr(exc, "path", None),
                        "errno": getattr(exc, "errno", None),
                        "traceback": "".join(traceback.format_exception(exc)[-4:]),
                    }
            data = json.dumps(report).encode()
            while data:
                data = data[os.write(write_end, data) :]
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    poller = select.poll()  # not select.select: it refuses descriptor numbers above 1,023
    poller.register(read_end, select.POLLIN)
    try:
        while True:
            if not poller.poll(timeout * 1000):
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"the child running as uid {NOBODY} did not answer within {timeout} s")
            chunk = os.read(read_end, 65_536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    return dict(json.loads(b"".join(chunks)))


def test_permission_denied_is_a_storage_error(shared_folder: Path) -> None:
    """Writes by a user without write permission: StorageError naming the path, "permission denied".

    We run as root, which bypasses permissions: the operations run in a forked
    child as uid/gid 65534 on an archive root owns (folders 0755, files 0644),
    which that user may read but not change (and one blob chunk it may not
    read). Other reads still work; nothing changes.
    """
    path = shared_folder / "a.zarr"
    arc = wildzarr.open(path)
    for seed in range(2):
        arc.add(signal_(seed), samplerate=48_000)
    locked = shared_folder / "locked"
    locked.mkdir()
    for folder, dirs, files in os.walk(shared_folder):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    chunk = path / "2" / "0" / "blob" / "c" / "0"
    chunk.chmod(0o600)  # readable by root only
    before = snapshot(path)
    new_signal = signal_(5)

    report = as_nobody(
        {
            "read": lambda: wildzarr.open(path, mode="r")[1].read(0, 10).shape,
            "add": lambda: wildzarr.open(path).add(new_signal, samplerate=48_000),
            "update": lambda: wildzarr.open(path)[1].update_user_meta(x=1),
            "remove": lambda: wildzarr.open(path).remove(2),
            "new archive": lambda: wildzarr.open(locked / "new.zarr"),
            "new zip": lambda: wildzarr.open(locked / "new.zip"),
            "read unreadable": lambda: wildzarr.open(path, mode="r")[2].read(0, 10),
        }
    )
    problems = []
    if report["read"] != {"returned": "(10, 2)"}:
        problems.append(f"read: {report['read']}")
    for name in ("add", "update", "remove", "new archive", "new zip", "read unreadable"):
        outcome = report[name]
        expected = {"new archive": locked, "new zip": locked, "read unreadable": chunk}.get(name, path)
        if not (
            outcome.get("storage")
            and outcome["wildzarr"]
            and "permission denied" in outcome["message"]
            and outcome["path"]
            and outcome["path"] in outcome["message"]
            and str(expected) in outcome["path"]
            and outcome["errno"] in (errno.EACCES, errno.EPERM)
        ):
            problems.append(f"{name}: {outcome}")
    assert problems == []
    assert snapshot(path) == before
    assert os.listdir(locked) == []
    assert wildzarr.open(path, mode="r").ids() == [1, 2]


# -- errors cross process boundaries ------------------------------------------------------------

_RAISED = [
    ("DamagedRecordingError", (3, "zarr.json: checksum mismatch"), {"recording_id": 3}),
    ("DamagedAnnotationsError", ("birds", "a column is short"), {"set_name": "birds"}),
    ("DuplicateRecordingError", ("bat.wav: the same content is already recording 4", 4), {"existing_id": 4}),
    ("RecordingNotFoundError", (5, "archive.zarr"), {"recording_id": 5}),
    ("StorageError", ("disk full", "/data/a.zarr"), {"path": "/data/a.zarr"}),
    ("StreamError", ("bad frame", 2, 1000, 7), {"code": 2, "offset": 1000, "frame": 7}),
    ("ArgumentError", ("start must be an integer",), {}),
]


def _raise(name: str, args: tuple[Any, ...]) -> None:
    raise getattr(wildzarr.errors, name)(*args)


@pytest.mark.parametrize(("name", "args", "attributes"), _RAISED, ids=[r[0] for r in _RAISED])
def test_an_error_raised_in_a_worker_process_reaches_the_caller_whole(
    name: str, args: tuple[Any, ...], attributes: dict[str, Any]
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    cls = getattr(wildzarr.errors, name)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(cls) as caught:
            pool.submit(_raise, name, args).result()
        assert pool.submit(len, "still works").result() == 11  # the pool survived the error
    assert str(caught.value) == str(cls(*args))
    for key, value in attributes.items():
        assert getattr(caught.value, key) == value
