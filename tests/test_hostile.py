"""Hostile local stores: symlinks, FIFOs and device nodes planted inside an archive folder.

What is proved, through the public API on a real folder: nothing is followed
through a symlink for a write (a folder outside the store stays exactly as it
was), and a symlink, FIFO or device where a recording, a stream, a chunk or a
ledger folder should be gives a StorageError (or DamagedRecordingError) naming
the path at once. Calls that could block run in a thread joined with a
timeout, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from signals import make_signal

import wildzarr
from wildzarr import DamagedRecordingError, StorageError, WildzarrError
from wildzarr.verify import verify

#: Seconds a call may take before it counts as hanging.
HANG_SECONDS = 5.0


def signal(seed: int, samples: int = 20_000) -> np.ndarray:
    return make_signal(samples, 2, 16, seed)


def tree(root: Path) -> dict[str, str]:
    """Every entry below ``root`` without following symlinks: files by content hash, others by kind."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):  # os.walk does not descend into symlinked folders
        for name in dirs + files:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            key = str(path.relative_to(root))
            if stat.S_ISLNK(mode):
                found[key] = f"symlink to {os.readlink(path)}"
            elif stat.S_ISREG(mode):
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISDIR(mode):
                found[key] = "folder"
            else:
                found[key] = f"special {stat.S_IFMT(mode):o}"
    return found


def outcome(call: Callable[[], Any]) -> BaseException | None:
    """Run ``call`` in a thread; its exception (None if it returned). Fails if it runs past HANG_SECONDS."""
    result: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            result.append(exc)
        else:
            result.append(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    assert not thread.is_alive(), f"the call still runs after {HANG_SECONDS} s: it hangs"
    return result[0]


def assert_names(error: BaseException | None, kinds: tuple[type[BaseException], ...], path: Path) -> None:
    """``error`` is one of ``kinds``, a WildzarrError, and its message names ``path`` (and the recording)."""
    assert error is not None, "no error was raised"
    assert isinstance(error, kinds), repr(error)
    assert isinstance(error, WildzarrError)
    assert str(path) in str(error), str(error)
    if isinstance(error, DamagedRecordingError):
        assert f"recording {error.recording_id}" in str(error)


#: Nodes a format-2 read never opens (the stream document states the blob's size); ``verify`` does.
NOT_READ = ("2/0/blob/zarr.json",)


def assert_refused(archive: Path, node: str) -> None:
    """Opening and reading recording 2 fails at once, naming ``archive / node``.

    For a node that reads never open, the read may instead return the right
    samples; then ``verify`` must finish at once, with an error naming the
    node or a finding on recording 2 (and on no other).
    """
    arc = wildzarr.open(archive)
    windows: list[np.ndarray] = []
    error = outcome(lambda: windows.append(arc[2].read(1000, 5096)))
    if node in NOT_READ and error is None:
        assert np.array_equal(windows[0], signal(1)[1000:5096])
        reports: list[Any] = []
        error = outcome(lambda: reports.append(verify(arc)))
        if error is None:
            assert {f.recording for f in reports[0].findings if f.error} == {2}, reports[0].findings
            return
    assert_names(error, (StorageError, DamagedRecordingError), archive / node)


@pytest.fixture()
def archive(tmp_path: Path) -> Path:
    """A local archive of two recordings (ids 1 and 2)."""
    path = tmp_path / "a.zarr"
    arc = wildzarr.open(path)
    for seed in range(2):
        arc.add(signal(seed), samplerate=48_000, user_meta={"seed": seed})
    return path


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """An empty folder outside the store, where planted symlinks point."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


def plant_symlink(node: Path, outside: Path, how: str = "copy") -> Path:
    """Put ``node``'s data (file or folder) outside the store and a symlink to it in its place.

    Following the link would find exactly the data that was there, so only a
    refusal to follow it can make an operation fail. ``how``: ``"copy"`` copies
    the data out and deletes the original; ``"move"`` renames it out (the same
    folder, now outside: what an open descriptor of it would still reach).
    """
    moved = outside / node.name
    if how == "move":
        shutil.move(node, moved)
    elif node.is_dir():
        shutil.copytree(node, moved)
        shutil.rmtree(node)
    else:
        shutil.copy2(node, moved)
        node.unlink()
    node.symlink_to(moved, target_is_directory=moved.is_dir())
    return moved


#: How a symlink is planted under an archive that is already open (see :func:`plant_symlink`).
PLANTINGS = ["copy", "move"]


# -- (a) a symlink where the next recording's folder goes ----------------------------------------------


def test_a_symlink_at_the_next_id_is_not_written_through(archive: Path, outside: Path) -> None:
    """``add()`` with ``P/3`` a symlink to an outside folder: an error or a skipped id, nothing written there.

    Whatever happens, the archive stays consistent: ids 1 and 2 intact, no
    import left "in progress", and verify finds nothing wrong with them.
    """
    (archive / "3").symlink_to(outside, target_is_directory=True)
    arc = wildzarr.open(archive)
    error = outcome(lambda: arc.add(signal(7), samplerate=48_000))
    if error is not None:
        assert_names(error, (StorageError,), archive / "3")
        assert arc.ids() == [1, 2]
    else:
        assert arc.ids() == [1, 2, 4]  # 3 passed over
    assert list(outside.iterdir()) == []
    assert (archive / "3").is_symlink()
    assert not arc._location.ledger.is_importing(3), "a failed import left its id claim alive"
    report = verify(arc)
    assert [f for f in report.findings if f.recording in (1, 2)] == []
    assert not any("in progress" in str(f) for f in report.findings), [str(f) for f in report.findings]
    for rid in (1, 2):
        assert np.array_equal(arc[rid].read(), signal(rid - 1))


def test_a_user_folder_holding_a_symlink_at_the_next_id_is_passed_over(archive: Path, outside: Path) -> None:
    """A real folder ``P/3`` (not the archive's) holding a symlink ``0``: id 3 is skipped, not written to."""
    (archive / "3").mkdir()
    (archive / "3" / "0").symlink_to(outside, target_is_directory=True)
    arc = wildzarr.open(archive)
    rec = arc.add(signal(7), samplerate=48_000)
    assert rec.id == 4 and arc.ids() == [1, 2, 4]
    assert np.array_equal(rec.read(), signal(7))
    assert list(outside.iterdir()) == []
    assert sorted(os.listdir(archive / "3")) == ["0"] and (archive / "3" / "0").is_symlink()


# -- (b) symlinks inside an existing recording ----------------------------------------------------------


SYMLINKED_NODES = [
    "2",
    "2/zarr.json",
    "2/0",
    "2/0/zarr.json",
    "2/0/blob",
    "2/0/blob/zarr.json",
    "2/0/blob/c",
    "2/0/blob/c/0",
    "2/0/index",
    "2/0/index/c/0/0",
]


@pytest.mark.parametrize("node", SYMLINKED_NODES)
def test_a_symlink_inside_a_recording_is_refused_on_read(archive: Path, outside: Path, node: str) -> None:
    """A node of recording 2 replaced by a symlink to a copy of its data: opening or reading it fails.

    The error comes at once and names the symlink; recording 1 still reads;
    the data outside is not changed.
    """
    moved = plant_symlink(archive / node, outside)
    before = tree(outside)
    assert_refused(archive, node)
    assert np.array_equal(wildzarr.open(archive)[1].read(), signal(0))
    assert tree(outside) == before and moved.exists()


@pytest.mark.parametrize("node", ["2", "2/0", "2/0/blob", "2/0/blob/c"])
def test_a_symlink_planted_under_an_open_archive_is_refused_on_read(
    archive: Path, outside: Path, node: str
) -> None:
    """The same with the archive open and the recording read before the planting (folders cached).

    A blob chunk read before the planting may still be read through the
    descriptor opened then (blob chunks are never rewritten, and the local
    backend keeps recently read ones open): then the read returns the
    recording's own samples, never anything through the symlink.
    """
    arc = wildzarr.open(archive)
    assert np.array_equal(arc[2].read(), signal(1))
    plant_symlink(archive / node, outside)
    for handle in (arc, wildzarr.open(archive)):  # with and without descriptors kept open

        def open_and_read(handle: wildzarr.Archive = handle) -> np.ndarray:
            return handle[2].read(1000, 5096)

        error = outcome(open_and_read)
        if error is None and handle is arc and node.startswith("2/0/blob"):
            assert np.array_equal(open_and_read(), signal(1)[1000:5096])
        else:
            assert_names(error, (StorageError, DamagedRecordingError), archive / node)


@pytest.mark.parametrize("how", PLANTINGS)
@pytest.mark.parametrize("node", ["2", "2/0", "2/0/blob/c"])
def test_writes_to_a_symlinked_recording_stay_inside(
    archive: Path, outside: Path, node: str, how: str
) -> None:
    """``update_user_meta`` and ``remove`` of a recording with a symlinked folder never touch the outside.

    The archive is open, and recording 2 was read, before the symlink was
    planted: cached folders must not lead outside either.
    """
    arc = wildzarr.open(archive)
    rec = arc[2]
    assert np.array_equal(rec.read(), signal(1))
    moved = plant_symlink(archive / node, outside, how)
    before = tree(outside)
    update = outcome(lambda: rec.update_user_meta(x=1))
    removal = outcome(lambda: arc.remove(2))
    assert tree(outside) == before, "the operations wrote or deleted outside the store"
    assert moved.exists()
    if node == "2":
        assert_names(update, (StorageError, DamagedRecordingError), archive / node)
    else:
        assert update is None  # the document is not below the link
    if removal is not None:
        assert_names(removal, (StorageError,), archive / node)
    assert np.array_equal(arc[1].read(), signal(0))


# -- (c) FIFOs ---------------------------------------------------------------------------------------------


FIFO_NODES = ["2/zarr.json", "2/0/zarr.json", "2/0/blob/zarr.json", "2/0/blob/c/0", "2/0/index/c/0/0"]


@pytest.mark.parametrize("node", FIFO_NODES)
def test_a_fifo_never_blocks_a_read(archive: Path, node: str) -> None:
    """A FIFO (no writer) in place of a document or chunk: opening or reading fails at once, naming it."""
    path = archive / node
    path.unlink()
    os.mkfifo(path)
    assert_refused(archive, node)
    assert stat.S_ISFIFO(path.lstat().st_mode)


def test_a_fifo_never_blocks_a_read_of_an_opened_recording(archive: Path) -> None:
    """The recording opened (index loaded) before a chunk turns into a FIFO: ``read()`` never blocks.

    The chunk read before reads on through the descriptor opened then (its
    own samples); a fresh archive object fails at once, naming the FIFO.
    """
    arc = wildzarr.open(archive)
    rec = arc[2]
    assert np.array_equal(rec.read(0, 10), signal(1)[:10])
    chunk = archive / "2" / "0" / "blob" / "c" / "0"
    chunk.unlink()
    os.mkfifo(chunk)
    assert np.array_equal(rec.read(1000, 5096), signal(1)[1000:5096])
    fresh = wildzarr.open(archive)[2]
    assert_names(outcome(lambda: fresh.read(1000, 5096)), (StorageError, DamagedRecordingError), chunk)


def test_a_fifo_in_place_of_a_document_is_not_written_into(archive: Path) -> None:
    """``update_user_meta`` with the recording document a FIFO: an error at once, the FIFO left alone."""
    arc = wildzarr.open(archive)
    rec = arc[2]
    doc = archive / "2" / "zarr.json"
    doc.unlink()
    os.mkfifo(doc)
    assert_names(outcome(lambda: rec.update_user_meta(x=1)), (StorageError, DamagedRecordingError), doc)
    assert stat.S_ISFIFO(doc.lstat().st_mode)


# -- (d) symlinks in place of the ledger -----------------------------------------------------------------

#: Operations that must fail (not merely may) with each ledger folder symlinked.
MUST_FAIL = {
    "_wildzarr/complete": {"ids", "contains", "getitem", "add", "remove"},
    "_wildzarr/ids": {"add"},
    "_wildzarr/sha256": {"add"},
    "_wildzarr": {"ids", "contains", "getitem", "add", "remove", "reopen"},
}


@pytest.mark.parametrize("how", PLANTINGS)
@pytest.mark.parametrize("folder", list(MUST_FAIL))
def test_a_symlinked_ledger_folder_is_refused(archive: Path, outside: Path, folder: str, how: str) -> None:
    """A ledger folder replaced by a symlink to its own content: what touches it raises StorageError.

    The archive is open (its ledger folders cached) before the planting.
    Nothing is ever written through the link or through a cached folder: the
    content outside stays byte for byte as it was, whatever is attempted
    (listing, membership, adding, removing, updating, reopening), and a failed
    add leaves no recording behind.
    """
    arc = wildzarr.open(archive)
    rec = arc[1]
    assert arc.ids() == [1, 2] and 2 in arc
    moved = plant_symlink(archive / folder, outside, how)
    before = tree(outside)
    link = archive / folder
    attempts: dict[str, Callable[[], Any]] = {
        "ids": arc.ids,
        "contains": lambda: 1 in arc,
        "getitem": lambda: arc[1],
        "add": lambda: arc.add(signal(7), samplerate=48_000),
        "remove": lambda: arc.remove(2),
        "update": lambda: rec.update_user_meta(x=1),
        "reopen": lambda: wildzarr.open(archive),
    }
    raised = {name: outcome(call) for name, call in attempts.items()}
    assert tree(outside) == before, "an operation wrote outside the store"
    assert moved.exists() and link.is_symlink()
    for error in raised.values():
        if error is not None:
            assert_names(error, (StorageError,), link)
    assert {name for name, error in raised.items() if error is not None} >= MUST_FAIL[folder], raised
    assert not (archive / "3").exists()  # the failed add left nothing


def test_a_symlinked_commit_marker_is_refused(archive: Path, outside: Path) -> None:
    """A commit marker replaced by a symlink to a copy of itself: membership, removal raise StorageError."""
    marker = archive / "_wildzarr" / "complete" / "2"
    moved = plant_symlink(marker, outside)
    content = moved.read_bytes()
    arc = wildzarr.open(archive)
    for call in (lambda: 2 in arc, lambda: arc[2], lambda: arc.remove(2)):
        assert_names(outcome(call), (StorageError,), marker)
    assert moved.read_bytes() == content and marker.is_symlink()


# -- (e) a symlinked recording document and a metadata update -----------------------------------------------


def test_update_user_meta_never_writes_through_a_symlinked_document(archive: Path, outside: Path) -> None:
    """``zarr.json`` of recording 2 a symlink to a valid document outside: update fails, file unchanged."""
    arc = wildzarr.open(archive)
    rec = arc[2]
    doc = archive / "2" / "zarr.json"
    moved = plant_symlink(doc, outside)
    content = moved.read_bytes()
    assert_names(outcome(lambda: rec.update_user_meta(x=1)), (StorageError, DamagedRecordingError), doc)
    assert_names(outcome(lambda: arc[2].user_meta), (StorageError, DamagedRecordingError), doc)
    assert moved.read_bytes() == content and doc.is_symlink()
    assert sorted(os.listdir(outside)) == ["zarr.json"]


# -- (f) device nodes ---------------------------------------------------------------------------------------


def mknull(path: Path) -> None:
    """A character device with /dev/null's numbers at ``path`` (needs root; skips otherwise)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating device nodes needs root (CAP_MKNOD)")


@pytest.mark.parametrize("node", ["2/0/blob/c/0", "2/0/index/c/0/0", "2/zarr.json", "2/0/zarr.json"])
def test_a_device_where_a_chunk_or_document_should_be(archive: Path, node: str) -> None:
    """A character device (/dev/null's numbers) in place of a chunk or document: a clear error at once."""
    path = archive / node
    path.unlink()
    mknull(path)
    error = outcome(lambda: wildzarr.open(archive)[2].read(0, 4096))
    assert_names(error, (StorageError, DamagedRecordingError), path)
    assert "device" in str(error)
    assert stat.S_ISCHR(path.lstat().st_mode)


def test_a_device_chunk_of_an_opened_recording(archive: Path) -> None:
    """The index already loaded, a blob chunk turned device: a fresh read fails at once, naming a device.

    The archive object that read the chunk before reads on through the
    descriptor opened then: the recording's own samples, never the device.
    """
    arc = wildzarr.open(archive)
    rec = arc[2]
    rec.read(0, 10)
    chunk = archive / "2" / "0" / "blob" / "c" / "0"
    chunk.unlink()
    mknull(chunk)
    assert np.array_equal(rec.read(1000, 5096), signal(1)[1000:5096])
    error = outcome(lambda: wildzarr.open(archive)[2].read(1000, 5096))
    assert_names(error, (StorageError, DamagedRecordingError), chunk)
    assert "device" in str(error)


def test_verify_reports_hostile_nodes_without_hanging(archive: Path, outside: Path) -> None:
    """verify with a FIFO chunk in recording 2: it returns (or raises StorageError) at once; 1 stays clean."""
    chunk = archive / "2" / "0" / "blob" / "c" / "0"
    chunk.unlink()
    os.mkfifo(chunk)
    arc = wildzarr.open(archive, mode="r")
    reports: list[Any] = []
    error = outcome(lambda: reports.append(verify(arc)))
    if error is not None:
        assert_names(error, (StorageError,), chunk)
    else:
        report = reports[0]
        assert not report.ok and {f.recording for f in report.findings if f.error} == {2}
    assert list(outside.iterdir()) == []
