"""The storage layer: one contract suite run against every backend, then what is particular to each.

Backends: a local folder, S3 (a real moto server), an fsspec ``memory://`` file
system, a zarr MemoryStore and a zarr ZipStore. Concurrency is tested with
real processes (spawn), leases with SIGKILL, hostile folders with real
symlinks and FIFOs.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import pickle
import random
import signal
import stat
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import fsspec
import fsspec.asyn
import pytest
import zarr
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore, MemoryStore, ZipStore

from wildzarr.errors import ArchiveError, ArgumentError, MissingDependencyError, ReadOnlyError, StorageError
from wildzarr.storage import Backend, Lease, open_backend
from wildzarr.storage.base import storage_error
from wildzarr.storage.fsspec import FsspecBackend, S3Backend
from wildzarr.storage.local import LocalBackend
from wildzarr.storage.zarrstore import ZarrStoreBackend

#: Seconds an S3 lease outlives its last heartbeat in these tests.
LEASE_SECONDS = 2.0

KINDS = ["local", "s3", "memory", "memorystore", "zip"]


# -- the backends under test ------------------------------------------------------------


@dataclass
class Kind:
    """How to open backends of one kind over the same data (writable or read-only)."""

    name: str
    make: Callable[[bool], Backend]

    @property
    def can_delete(self) -> bool:
        return self.name != "zip"


def _s3fs(options: dict[str, Any]) -> Any:
    import s3fs

    return s3fs.S3FileSystem(**options)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kind]:
    name = request.param
    if name == "local":
        yield Kind(name, lambda ro: LocalBackend(tmp_path / "root", read_only=ro))
    elif name == "s3":
        url, options = request.getfixturevalue("s3_url")
        fs = _s3fs(options)
        yield Kind(name, lambda ro: S3Backend(fs, url, read_only=ro, lease_seconds=LEASE_SECONDS))
    elif name == "memory":
        root = f"memory://wz-{uuid.uuid4().hex}"
        fs, path = fsspec.core.url_to_fs(root)
        yield Kind(name, lambda ro: FsspecBackend(fs, path, read_only=ro))
        if fs.exists(path):
            fs.rm(path, recursive=True)
    elif name == "memorystore":
        memory = MemoryStore()
        yield Kind(name, lambda ro: ZarrStoreBackend(memory, read_only=ro))
    else:
        store = ZipStore(tmp_path / "archive.zip", mode="w")
        yield Kind(name, lambda ro: ZarrStoreBackend(store, read_only=ro))
        store.close()


@pytest.fixture
def backend(kind: Kind) -> Backend:
    return kind.make(False)


def _write_once_error() -> Any:
    return pytest.raises(StorageError, match="zip archives are write-once")


# -- the contract, on every backend ---------------------------------------------------


def test_put_get_and_missing_keys(backend: Backend) -> None:
    assert backend.get("a/b") is None
    assert backend.get_versioned("a/b") is None
    assert not backend.exists("a/b")
    backend.put("a/b", b"hello world")
    assert backend.get("a/b") == b"hello world"
    assert backend.exists("a/b")
    assert not backend.exists("a")  # a prefix is not an object
    assert backend.get("a") is None
    versioned = backend.get_versioned("a/b")
    assert versioned is not None and versioned.data == b"hello world" and isinstance(versioned.version, str)


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_put_overwrites_with_shorter_data(backend: Backend) -> None:
    backend.put("a/b", b"a much longer first version")
    backend.put("a/b", memoryview(b"short"))
    assert backend.get("a/b") == b"short"


def test_byte_ranges(backend: Backend) -> None:
    data = bytes(range(100))
    backend.put("r/blob", data)
    assert backend.get_range("r/blob", 10, 20) == data[10:20]
    assert backend.get_range("r/blob", 90, 200) == data[90:]
    assert backend.get_range("r/blob", 100, 110) == b""
    assert backend.get_range("r/blob", 150, 160) == b""
    assert backend.get_range("r/blob", 5, 5) == b""
    assert backend.get_range("r/missing", 0, 10) is None
    got = backend.get_ranges([("r/blob", 0, 3), ("r/missing", 0, 3), ("r/blob", 98, 120)])
    assert got == [data[:3], None, data[98:]]
    assert backend.get_ranges([]) == []
    with pytest.raises(ArgumentError):
        backend.get_range("r/blob", 5, 3)


def test_listing(backend: Backend) -> None:
    objects = {
        "1/zarr.json": b"{}",
        "1/0/c/0": b"abc",
        "1/0/c/1": b"de",
        "2/zarr.json": b"{ }",
        "zarr.json": b"x",
    }
    for key, value in objects.items():
        backend.put(key, value)
    assert backend.list_dir("") == ["1", "2", "zarr.json"]
    assert backend.list_dir("1") == ["0", "zarr.json"]
    assert backend.list_dir("1/0/c") == ["0", "1"]
    assert backend.list_dir("nope") == []
    assert backend.list_keys("") == sorted((key, len(value)) for key, value in objects.items())
    assert backend.list_keys("1/0") == [("1/0/c/0", 3), ("1/0/c/1", 2)]
    assert backend.list_keys("nope") == []
    with pytest.raises(ArgumentError):
        backend.list_dir("../x")
    with pytest.raises(ArgumentError):
        backend.get("/abs")


def test_create_is_exclusive(backend: Backend) -> None:
    assert backend.create("c/doc", b"first")
    assert not backend.create("c/doc", b"second")
    assert backend.get("c/doc") == b"first"


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_compare_and_swap(kind: Kind, backend: Backend) -> None:
    assert backend.create("cas/doc", b"v1")
    first = backend.get_versioned("cas/doc")
    assert first is not None
    assert backend.replace("cas/doc", b"v2", first.version)
    assert not backend.replace("cas/doc", b"v3", first.version)  # stale version
    assert backend.get("cas/doc") == b"v2"
    assert not backend.replace("cas/missing", b"x", first.version)
    second = backend.get_versioned("cas/doc")
    assert second is not None and second.version != first.version
    if not kind.can_delete:
        with _write_once_error():
            backend.delete_if("cas/doc", second.version)
        return
    assert not backend.delete_if("cas/doc", first.version)
    assert backend.get("cas/doc") == b"v2"
    assert backend.delete_if("cas/doc", second.version)
    assert backend.get("cas/doc") is None
    assert not backend.delete_if("cas/doc", second.version)


def test_leases(backend: Backend) -> None:
    lease = backend.claim("l/1", b"me")
    assert lease is not None and lease.key == "l/1"
    assert backend.is_alive("l/1")
    assert backend.claim("l/1", b"again") is None
    assert backend.get("l/1") == b"me"
    assert backend.create("l/2", b"plain")
    assert not backend.is_alive("l/2")  # created, never claimed
    assert backend.claim("l/2", b"x") is None
    assert not backend.is_alive("l/none")
    lease.release()
    assert not backend.is_alive("l/1")
    lease.release()  # idempotent
    assert backend.get("l/1") == b"me"  # the key stays
    with backend.claim("l/3", b"ctx") as held:
        assert held.key == "l/3" and backend.is_alive("l/3")
    assert not backend.is_alive("l/3")


def test_delete_and_delete_prefix(kind: Kind, backend: Backend) -> None:
    backend.put("d/1/a", b"123")
    backend.put("d/1/b/c", b"45")
    backend.put("d/2", b"6")
    backend.put("keep", b"7")
    if not kind.can_delete:
        with _write_once_error():
            backend.delete("d/2")
        with _write_once_error():
            backend.delete_prefix("d")
        return
    backend.delete("d/2")
    backend.delete("d/2")  # missing is fine
    assert backend.get("d/2") is None
    assert backend.delete_prefix("d/1") == 5
    assert backend.list_dir("") == ["keep"]
    assert backend.delete_prefix("d") == 0
    assert backend.delete_prefix("") == 1
    assert backend.list_keys("") == []


def test_read_only_refuses_writes(kind: Kind) -> None:
    writer = kind.make(False)
    writer.put("ro/doc", b"x")
    reader = kind.make(True)
    assert reader.read_only and reader.get("ro/doc") == b"x"
    writes: list[Callable[[], object]] = [
        lambda: reader.put("ro/doc", b"y"),
        lambda: reader.create("ro/new", b"y"),
        lambda: reader.replace("ro/doc", b"y", "v"),
        lambda: reader.delete("ro/doc"),
        lambda: reader.delete_if("ro/doc", "v"),
        lambda: reader.delete_prefix("ro"),
        lambda: reader.claim("ro/lease", b"y"),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError, match="read-only"):
            write()
    assert writer.get("ro/doc") == b"x"
    view = reader.zarr_store()
    assert view.read_only
    with pytest.raises(ValueError, match="read-only"):
        sync(view.set("ro/doc", default_buffer_prototype().buffer.from_bytes(b"y")))


def test_pickle_round_trip(kind: Kind, backend: Backend) -> None:
    backend.put("p/doc", b"x")
    if kind.name == "zip":
        backend.zarr_store().close()  # a zip archive is shared once written out; it reopens read-only
    clone = pickle.loads(pickle.dumps(backend))
    assert type(clone) is type(backend)
    assert clone.get("p/doc") == b"x"
    assert clone.describe("p/doc") == backend.describe("p/doc") or kind.name == "memorystore"
    if kind.name == "zip":
        assert clone.read_only
        clone.close()
        return
    clone.put("p/other", b"y")
    if kind.name != "memorystore":  # a pickled MemoryStore is a copy
        assert backend.get("p/other") == b"y"


def test_describe(kind: Kind, backend: Backend) -> None:
    where = backend.describe("d/k")
    assert where.endswith("d/k")
    prefix = {
        "local": "/",
        "s3": "s3://wz-",
        "memory": "memory://",
        "memorystore": "memory://",
        "zip": "zip://",
    }
    assert where.startswith(prefix[kind.name])
    assert type(backend).__name__ in repr(backend)


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_zarr_store_sees_the_same_data(backend: Backend) -> None:
    # mode "a": zarr 3.1.6 clears a store for mode "w", which on an S3 bucket root deletes the bucket
    zarr.open_group(store=backend.zarr_store(), mode="a", zarr_format=3).attrs["site"] = "A"
    document = backend.get("zarr.json")
    assert document is not None and json.loads(document)["attributes"] == {"site": "A"}


# -- many processes ----------------------------------------------------------------------


def _wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def _create_many(backend: Backend, keys: list[str], token: str, start_at: float) -> list[str]:
    """Try to create every key (in a random order) with ``token``; return the keys this worker created."""
    order = list(keys)
    random.shuffle(order)
    _wait_until(start_at)
    return [key for key in order if backend.create(key, token.encode())]


def _increment(backend: Backend, key: str, times: int, start_at: float) -> int:
    """Add 1 to the counter document ``times`` times with compare-and-swap; return the retries."""
    retries = 0
    _wait_until(start_at)
    for _ in range(times):
        while True:
            current = backend.get_versioned(key)
            assert current is not None
            count = json.loads(current.data)["count"]
            if backend.replace(key, json.dumps({"count": count + 1}).encode(), current.version):
                break
            retries += 1
    return retries


def _hold_lease(backend: Backend, key: str, ready: Any) -> None:
    """Claim ``key`` and hold the lease until killed."""
    lease = backend.claim(key, b"held by a child")
    assert lease is not None
    ready.set()
    time.sleep(600)


def _import_storage(_: int) -> int:
    import wildzarr.storage  # noqa: F401  (warm the worker up)

    return os.getpid()


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """Four spawn-started workers (fork can deadlock inside asyncio loops, NOTES), shared by the module."""
    with multiprocessing.get_context("spawn").Pool(4) as workers:
        workers.map(_import_storage, range(4))
        yield workers


@pytest.fixture(params=["local", "s3"])
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A backend whose primitives are atomic across processes."""
    if request.param == "local":
        return LocalBackend(tmp_path / "root")
    url, options = request.getfixturevalue("s3_url")
    return S3Backend(_s3fs(options), url, lease_seconds=LEASE_SECONDS)


def test_concurrent_creates_win_once(pool: Pool, shared_backend: Backend) -> None:
    assert shared_backend.multiprocess_safe
    keys = [f"race/{i}" for i in range(25)]
    tokens = [f"worker-{i}-{uuid.uuid4().hex}" for i in range(4)]
    start_at = time.time() + 0.3
    won = pool.starmap(_create_many, [(shared_backend, keys, token, start_at) for token in tokens])
    assert sorted(key for keys_won in won for key in keys_won) == sorted(keys)  # each exactly once
    for token, keys_won in zip(tokens, won, strict=True):
        for key in keys_won:
            assert shared_backend.get(key) == token.encode()


def test_concurrent_compare_and_swap_loses_no_update(pool: Pool, shared_backend: Backend) -> None:
    assert shared_backend.create("counter", json.dumps({"count": 0}).encode())
    start_at = time.time() + 0.3
    pool.starmap(_increment, [(shared_backend, "counter", 50, start_at)] * 2)
    final = shared_backend.get("counter")
    assert final is not None and json.loads(final)["count"] == 100


def _start_holder(backend: Backend, key: str) -> multiprocessing.process.BaseProcess:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold_lease, args=(backend, key, ready), daemon=True)
    holder.start()
    assert ready.wait(60), "the child did not claim the lease"
    return holder


def _kill(holder: multiprocessing.process.BaseProcess) -> None:
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)


def test_local_lease_dies_with_its_holder(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root")
    holder = _start_holder(backend, "3/.import")
    try:
        assert backend.is_alive("3/.import")  # held by another live process
        assert backend.claim("3/.import", b"mine") is None
    finally:
        _kill(holder)
    assert holder.exitcode == -signal.SIGKILL
    assert not backend.is_alive("3/.import")  # the kernel dropped the flock
    assert backend.get("3/.import") == b"held by a child"


def test_s3_lease_lapses_after_its_holder_dies(s3_url: tuple[str, dict[str, Any]]) -> None:
    url, options = s3_url
    backend = S3Backend(_s3fs(options), url, lease_seconds=LEASE_SECONDS)
    holder = _start_holder(backend, "3/.import")
    try:
        assert backend.is_alive("3/.import")
    finally:
        _kill(holder)
    time.sleep(LEASE_SECONDS + 0.2)
    assert not backend.is_alive("3/.import")
    assert backend.get("3/.import") == b"held by a child"


# -- local folders ------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "root")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the root that a hostile symlink points to."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


def test_local_lease_excludes_threads_of_one_process(local: LocalBackend) -> None:
    leases: list[Lease | None] = []
    threads = [threading.Thread(target=lambda: leases.append(local.claim("l/k", b"x"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(lease is None for lease in leases) == [False, True]
    probe: list[bool] = []
    prober = threading.Thread(target=lambda: probe.append(local.is_alive("l/k")))
    prober.start()
    prober.join()
    assert probe == [True]  # flock(2) excludes separate open file descriptions of one process
    for lease in leases:
        if lease is not None:
            lease.release()
    assert not local.is_alive("l/k")


def test_local_symlink_where_a_folder_should_be(local: LocalBackend, outside: Path) -> None:
    local.put("keep", b"x")
    (Path(local.root) / "3").symlink_to(outside)
    attempts: list[Callable[[], object]] = [
        lambda: local.put("3/zarr.json", b"x"),
        lambda: local.create("3/zarr.json", b"x"),
        lambda: local.claim("3/zarr.json", b"x"),
        lambda: local.put("3/0/blob/c/0", b"x"),
        lambda: local.get("3/zarr.json"),
        lambda: local.get_range("3/0/blob/c/0", 0, 10),
        lambda: local.exists("3/zarr.json"),
        lambda: local.list_dir("3"),
        lambda: local.list_keys("3"),
        lambda: local.delete("3/zarr.json"),
        lambda: local.delete_prefix("3"),
    ]
    for attempt in attempts:
        with pytest.raises(StorageError, match="a symlink or file where a folder should be") as raised:
            attempt()
        assert raised.value.path.startswith(local.root)
    with pytest.raises(StorageError, match=r"root/3: is a symlink"):
        local.list_keys("")
    assert list(outside.iterdir()) == []


def test_local_symlink_deeper_down(local: LocalBackend, outside: Path) -> None:
    local.put("3/0/zarr.json", b"{}")
    (Path(local.root) / "3" / "0" / "blob").symlink_to(outside)
    with pytest.raises(StorageError, match="where a folder should be"):
        local.put("3/0/blob/c/0", b"chunk")
    assert list(outside.iterdir()) == []


def test_local_symlink_where_a_file_should_be(local: LocalBackend, outside: Path) -> None:
    secret = outside / "secret"
    secret.write_bytes(b"secret")
    local.put("3/other", b"x")
    link = Path(local.root) / "3" / "zarr.json"
    link.symlink_to(secret)
    for attempt in (
        lambda: local.get("3/zarr.json"),
        lambda: local.get_range("3/zarr.json", 0, 3),
        lambda: local.exists("3/zarr.json"),
        lambda: local.put("3/zarr.json", b"overwritten"),
        lambda: local.replace("3/zarr.json", b"overwritten", "v"),
        lambda: local.is_alive("3/zarr.json"),
    ):
        with pytest.raises(StorageError, match=r"3/zarr.json: is a symlink, not a stored object"):
            attempt()
    assert not local.create("3/zarr.json", b"overwritten")
    assert local.claim("3/zarr.json", b"overwritten") is None
    with pytest.raises(StorageError, match="is a symlink"):
        local.list_keys("3")
    local.delete("3/zarr.json")  # removes the link, not its target
    assert not link.is_symlink() and secret.read_bytes() == b"secret"


def test_local_dangling_symlink_is_not_followed(local: LocalBackend, outside: Path) -> None:
    local.put("3/other", b"x")
    (Path(local.root) / "3" / "zarr.json").symlink_to(outside / "planted")
    assert not local.create("3/zarr.json", b"x")  # link(2) fails with EEXIST on any existing name
    with pytest.raises(StorageError, match="is a symlink"):
        local.put("3/zarr.json", b"x")
    assert list(outside.iterdir()) == []


def test_local_fifo_never_blocks(local: LocalBackend) -> None:
    local.put("3/0/blob/c/1", b"chunk")
    fifo = Path(local.root) / "3" / "0" / "blob" / "c" / "0"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            local.get_range("3/0/blob/c/0", 0, 100)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "get_range blocked on a FIFO"
    assert len(outcome) == 1 and isinstance(outcome[0], StorageError)
    assert str(outcome[0]) == f"{fifo}: is a FIFO, not a stored object"
    for attempt in (lambda: local.get("3/0/blob/c/0"), lambda: local.put("3/0/blob/c/0", b"x")):
        with pytest.raises(StorageError, match="FIFO"):
            attempt()
    with pytest.raises(StorageError, match=f"{fifo}: is a FIFO"):
        local.list_keys("")


def _as_nobody(action: Callable[[], object]) -> str:
    """Run ``action`` in a forked child that dropped to uid/gid 65534 (root bypasses permissions).

    Returns the child's report: ``"ok"`` or ``"<ExceptionType>: <message>"``.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            action()
            report = "ok"
        except BaseException as exc:  # reported to the parent, whatever it is
            report = f"{type(exc).__name__}: {exc}"
        os.write(write_end, report.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(pid, 0)
    return report


def test_local_permission_denied() -> None:
    """Writes into a folder the process may not write give StorageError naming the path."""
    with tempfile.TemporaryDirectory() as top:  # not below pytest's 0700 folder: uid 65534 must reach it
        Path(top).chmod(0o755)
        local = LocalBackend(Path(top) / "root")
        local.put("3/zarr.json", b"{}")
        folder = Path(local.root) / "3"
        folder.chmod(0o555)
        for action in (
            lambda: local.put("3/new", b"x"),
            lambda: LocalBackend(local.root).create("3/other", b"x"),
            lambda: LocalBackend(local.root).delete("3/zarr.json"),
        ):
            report = _as_nobody(action)
            assert report.startswith("StorageError: ") and "permission denied" in report, report
            assert str(folder) in report
        folder.chmod(0o700)
        assert sorted(p.name for p in folder.iterdir()) == ["zarr.json"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EACCES, "permission denied"),
        (errno.EPERM, "permission denied"),
        (errno.EROFS, "read-only file system"),
        (errno.ELOOP, "a symlink or file where a folder should be"),
        (errno.ENOTDIR, "a symlink or file where a folder should be"),
        (errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG)),
    ],
)
def test_os_errors_become_storage_errors(code: int, reason: str) -> None:
    error = storage_error(OSError(code, os.strerror(code)), "/data/archive/3/zarr.json")
    assert isinstance(error, StorageError) and isinstance(error, OSError)
    assert str(error) == f"/data/archive/3/zarr.json: {reason}"
    assert error.path == "/data/archive/3/zarr.json" and error.errno == code


def test_local_root_may_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    backend = LocalBackend(tmp_path / "link")
    backend.put("3/zarr.json", b"{}")
    assert (real / "3" / "zarr.json").read_bytes() == b"{}"
    assert backend.describe("3/zarr.json") == str(tmp_path / "link" / "3" / "zarr.json")


def test_local_delete_prefix_unlinks_symlinks_below(local: LocalBackend, outside: Path) -> None:
    (outside / "precious").write_bytes(b"keep me")
    local.put("3/zarr.json", b"0123456789")
    (Path(local.root) / "3" / "link").symlink_to(outside)
    (Path(local.root) / "3" / "file-link").symlink_to(outside / "precious")
    assert local.delete_prefix("3") == 10
    assert not (Path(local.root) / "3").exists()
    assert (outside / "precious").read_bytes() == b"keep me"


def test_local_folder_is_not_an_object(local: LocalBackend) -> None:
    local.put("3/zarr.json", b"{}")
    assert local.get("3") is None and not local.exists("3")
    with pytest.raises(StorageError, match="a folder where a stored object should be"):
        local.put("3", b"x")
    with pytest.raises(StorageError, match="a folder where a stored object should be"):
        local.delete("3")


def test_local_cached_folders_follow_a_rewrite_by_another_writer(local: LocalBackend) -> None:
    local.put("3/zarr.json", b"old")
    assert local.get("3/zarr.json") == b"old"  # its folder is now cached
    other = LocalBackend(local.root)
    other.delete_prefix("3")
    assert local.get("3/zarr.json") is None
    other.put("3/zarr.json", b"new")
    assert local.get("3/zarr.json") == b"new"
    other.delete_prefix("")
    local.put("3/0/c/0", b"chunk")  # recreates the folders
    assert other.get("3/0/c/0") == b"chunk"


def test_local_many_folders_beyond_the_cache(local: LocalBackend) -> None:
    for i in range(600):
        local.put(f"{i}/zarr.json", str(i).encode())
    local.sync()
    assert [local.get(f"{i}/zarr.json") for i in range(600)] == [str(i).encode() for i in range(600)]
    local.close()
    assert local.get("599/zarr.json") == b"599"


def test_local_temporary_files_are_hidden(local: LocalBackend) -> None:
    assert local.create("3/zarr.json", b"{}")
    lease = local.claim("3/.lease", b"x")
    assert lease is not None
    assert sorted(os.listdir(Path(local.root) / "3")) == [".lease", "zarr.json"]  # no temporary file left
    (Path(local.root) / "3" / ".wildzarr-tmp-abandoned").write_bytes(b"x")
    assert local.list_dir("3") == [".lease", "zarr.json"]
    assert [key for key, _ in local.list_keys("")] == ["3/.lease", "3/zarr.json"]
    lease.release()


def test_local_sync_makes_puts_durable(local: LocalBackend) -> None:
    local.put("3/0/c/0", b"a")
    local.put("3/0/c/1", b"b")
    local.delete("3/0/c/1")
    local.sync()  # fsyncs what remains, skips what is gone
    local.sync()
    assert stat.S_ISREG(os.lstat(Path(local.root) / "3" / "0" / "c" / "0").st_mode)


# -- S3 ------------------------------------------------------------------------------------


@pytest.fixture
def s3(s3_url: tuple[str, dict[str, Any]]) -> S3Backend:
    url, options = s3_url
    return S3Backend(_s3fs(options), url, lease_seconds=LEASE_SECONDS)


class _Requests:
    """Counts the HTTP requests an S3 backend's client sends."""

    def __init__(self, backend: S3Backend) -> None:
        self.count = 0
        self._client = fsspec.asyn.sync(backend.fs.loop, backend._client)

    def _count(self, **_: object) -> None:
        self.count += 1

    def __enter__(self) -> _Requests:
        self._client.meta.events.register("before-send.s3", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.meta.events.unregister("before-send.s3", self._count)


def test_s3_costs_one_request_per_operation(s3: S3Backend) -> None:
    s3.put("3/zarr.json", b"{}")
    version = s3.get_versioned("3/zarr.json")
    assert version is not None
    operations: list[Callable[[], object]] = [
        lambda: s3.get("3/zarr.json"),
        lambda: s3.get("3/missing"),
        lambda: s3.get_versioned("3/zarr.json"),
        lambda: s3.get_range("3/zarr.json", 0, 1),
        lambda: s3.put("3/blob", b"x"),
        lambda: s3.create("3/new", b"x"),
        lambda: s3.create("3/new", b"x"),
        lambda: s3.replace("3/zarr.json", b"{1}", version.version),
        lambda: s3.replace("3/zarr.json", b"{2}", version.version),
        lambda: s3.delete_if("3/blob", "stale"),
        lambda: s3.delete("3/blob"),
        lambda: s3.exists("3/new"),
        lambda: s3.is_alive("3/new"),
        lambda: s3.list_dir("3"),
        lambda: s3.list_keys(""),
    ]
    for operation in operations:
        with _Requests(s3) as requests:
            operation()
        assert requests.count == 1


def test_s3_lists_one_request_per_thousand_names(s3: S3Backend) -> None:
    async def put_many() -> None:
        import asyncio

        client = await s3._client()
        limit = asyncio.Semaphore(32)

        async def put(i: int) -> None:
            async with limit:
                await client.put_object(Bucket=s3.bucket, Key=f"ids/{i:04d}/zarr.json", Body=b"{}")

        await asyncio.gather(*(put(i) for i in range(1001)))

    fsspec.asyn.sync(s3.fs.loop, put_many)
    with _Requests(s3) as requests:
        names = s3.list_dir("ids")
    assert names == [f"{i:04d}" for i in range(1001)] and requests.count == 2
    with _Requests(s3) as requests:
        keys = s3.list_keys("ids")
    assert len(keys) == 1001 and keys[0] == ("ids/0000/zarr.json", 2) and requests.count == 2
    with _Requests(s3) as requests:
        assert s3.delete_prefix("ids") == 2002
    assert requests.count == 2 + 2  # two listings, two DeleteObjects of at most 1,000 keys
    assert s3.list_dir("") == []


def test_s3_heartbeat_keeps_a_lease_alive(s3: S3Backend) -> None:
    lease = s3.claim("3/.import", b"importing")
    assert lease is not None
    time.sleep(LEASE_SECONDS * 1.5)
    assert s3.is_alive("3/.import")  # older than lease_seconds but for the heartbeat
    lease.release()
    assert not s3.is_alive("3/.import")
    assert s3.get("3/.import") == b"importing"


def test_s3_lease_is_lost_when_another_writer_rewrites_the_key(s3: S3Backend) -> None:
    lease = s3.claim("3/.import", b"importing")
    assert lease is not None
    current = s3.get_versioned("3/.import")
    assert current is not None and s3.replace("3/.import", b"taken over", current.version)
    assert not s3.is_alive("3/.import")
    time.sleep(LEASE_SECONDS / 2)  # a heartbeat fails its precondition and stops
    lease.release()
    assert s3.get("3/.import") == b"taken over"


class _FaultyClient:
    """An S3 client whose chosen methods are replaced (to play lost responses and old servers)."""

    def __init__(self, client: Any, **overrides: Callable[..., Any]) -> None:
        self._client = client
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(self._client, name)


def _client_error(status: int, code: str, retries: int = 0) -> Exception:
    from botocore.exceptions import ClientError

    response: Any = {
        "Error": {"Code": code, "Message": "played by the test"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries},
    }
    return ClientError(response, "PutObject")


def _fault(monkeypatch: pytest.MonkeyPatch, backend: S3Backend, **overrides: Callable[..., Any]) -> Any:
    client = fsspec.asyn.sync(backend.fs.loop, backend._client)

    async def faulty() -> _FaultyClient:
        return _FaultyClient(client, **overrides)

    monkeypatch.setattr(backend, "_client", faulty)
    return client


def test_s3_create_recognises_its_own_lost_response(s3: S3Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    async def put_then_lose_response(**kwargs: Any) -> Any:
        await client.put_object(**kwargs)
        raise _client_error(412, "PreconditionFailed", retries=1)

    client = _fault(monkeypatch, s3, put_object=put_then_lose_response)
    assert s3.create("3/zarr.json", b"ours")  # the retry's 412 answers our own first attempt
    assert not s3.create("3/zarr.json", b"different bytes")
    assert s3.get("3/zarr.json") == b"ours"


def test_s3_create_retries_a_conflict(s3: S3Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    conflicts = [_client_error(409, "ConditionalRequestConflict")]

    async def conflict_once(**kwargs: Any) -> Any:
        if conflicts:
            raise conflicts.pop()
        return await client.put_object(**kwargs)

    client = _fault(monkeypatch, s3, put_object=conflict_once)
    assert s3.create("3/zarr.json", b"x")
    assert not conflicts


def test_s3_delete_if_without_conditional_delete(s3: S3Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    async def old_server(**kwargs: Any) -> Any:
        if "IfMatch" in kwargs:
            raise _client_error(501, "NotImplemented")
        return await client.delete_object(**kwargs)

    s3.put("3/zarr.json", b"{}")
    current = s3.get_versioned("3/zarr.json")
    assert current is not None
    client = _fault(monkeypatch, s3, delete_object=old_server)
    assert not s3.delete_if("3/zarr.json", '"stale"')
    assert s3.get("3/zarr.json") == b"{}"
    assert s3.delete_if("3/zarr.json", current.version)
    assert s3.get("3/zarr.json") is None


def test_s3_errors_name_the_object(s3_url: tuple[str, dict[str, Any]]) -> None:
    _, options = s3_url
    missing = S3Backend(_s3fs(options), "wz-no-such-bucket-here")
    with pytest.raises(StorageError, match=r"s3://wz-no-such-bucket-here/3/zarr.json: S3 GetObject failed: "):
        missing.get("3/zarr.json")


def test_s3_root_with_a_prefix(s3_url: tuple[str, dict[str, Any]]) -> None:
    url, options = s3_url
    inner = S3Backend(_s3fs(options), f"{url}/sites/A")
    inner.put("3/zarr.json", b"{}")
    outer = S3Backend(_s3fs(options), url)
    assert outer.list_keys("") == [("sites/A/3/zarr.json", 2)]
    assert inner.list_dir("") == ["3"]
    assert inner.describe("3/zarr.json") == f"{url}/sites/A/3/zarr.json"


# -- open_backend -------------------------------------------------------------------------------


def test_open_local_folder(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no such archive folder"):
        open_backend(tmp_path / "archive", mode="r")
    with pytest.raises(ArchiveError, match="no such archive folder"):
        open_backend(str(tmp_path / "archive"), mode="r+")
    backend, prefix = open_backend(tmp_path / "deep" / "archive", mode="a")
    assert isinstance(backend, LocalBackend) and prefix == "" and not backend.read_only
    assert (tmp_path / "deep" / "archive").is_dir()
    reader, _ = open_backend(str(tmp_path / "deep" / "archive"), mode="r")
    assert isinstance(reader, LocalBackend) and reader.read_only
    by_url, _ = open_backend(f"file://{tmp_path}/deep/archive", mode="r+")
    assert isinstance(by_url, LocalBackend) and by_url.root == str(tmp_path / "deep" / "archive")


def test_open_a_file_that_is_no_archive(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"RIFF")
    for mode in ("r", "a", "w"):
        with pytest.raises(ArchiveError, match=r"x.wav: is a file, not an archive folder or .zip file"):
            open_backend(tmp_path / "x.wav", mode=mode)


def test_open_zip_file(tmp_path: Path) -> None:
    path = tmp_path / "Archive.ZIP"
    with pytest.raises(ArchiveError, match="no such zip file"):
        open_backend(path, mode="r")
    writer, prefix = open_backend(path, mode="w")
    assert isinstance(writer, ZarrStoreBackend) and prefix == "" and not writer.read_only
    writer.put("zarr.json", b"{}")
    writer.close()
    assert zipfile.ZipFile(path).namelist() == ["zarr.json"]
    reader, _ = open_backend(str(path), mode="r")
    assert reader.read_only and reader.get("zarr.json") == b"{}"
    reader.close()
    nested, _ = open_backend(tmp_path / "new" / "folder" / "a.zip", mode="a")
    nested.close()
    assert zipfile.is_zipfile(tmp_path / "new" / "folder" / "a.zip")


def test_open_memory_url() -> None:
    name = f"memory://wz-{uuid.uuid4().hex}"
    backend, prefix = open_backend(name, mode="a")
    assert isinstance(backend, FsspecBackend) and not isinstance(backend, S3Backend) and prefix == ""
    backend.put("zarr.json", b"{}")
    again, _ = open_backend(name, mode="r")
    assert again.read_only and again.get("zarr.json") == b"{}"
    backend.delete_prefix("")


def test_open_s3_url(s3_url: tuple[str, dict[str, Any]]) -> None:
    url, options = s3_url
    backend, prefix = open_backend(f"{url}/sites/A/", mode="a", storage_options=options)
    assert isinstance(backend, S3Backend) and prefix == "" and backend.root == f"{url[5:]}/sites/A"
    backend.put("zarr.json", b"{}")
    store = FsspecStore.from_url(f"{url}/sites/A", storage_options=options)
    through_store, _ = open_backend(store, mode="r")
    assert isinstance(through_store, S3Backend) and through_store.read_only
    assert through_store.get("zarr.json") == b"{}"


def test_open_s3_without_s3fs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "wildzarr\[s3\]"'):
        open_backend("s3://bucket/archive", mode="r", storage_options={"anon": True})


def test_open_unknown_protocol() -> None:
    with pytest.raises(ArchiveError, match="nosuchprotocol://x"):
        open_backend("nosuchprotocol://x", mode="r")


def test_open_zarr_stores_and_groups(tmp_path: Path) -> None:
    local, _ = open_backend(LocalStore(tmp_path), mode="r+")
    assert isinstance(local, LocalBackend) and local.root == str(tmp_path) and not local.read_only
    read_only_store, _ = open_backend(LocalStore(tmp_path, read_only=True), mode="a")
    assert read_only_store.read_only
    memory = MemoryStore()
    group = zarr.open_group(store=memory, mode="w").create_group("sites/A")
    backend, prefix = open_backend(group, mode="r")
    assert isinstance(backend, ZarrStoreBackend) and prefix == "sites/A" and backend.read_only
    assert backend.get("sites/A/zarr.json") is not None
    fsspec_store = FsspecStore.from_url(f"memory://wz-{uuid.uuid4().hex}")
    on_fsspec, _ = open_backend(fsspec_store, mode="a")
    assert isinstance(on_fsspec, FsspecBackend) and not isinstance(on_fsspec, S3Backend)
    on_fsspec.put("zarr.json", b"{}")
    assert sync(fsspec_store.exists("zarr.json"))
    on_fsspec.delete_prefix("")


def test_open_refuses_wrong_arguments(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="storage_options"):
        open_backend(tmp_path, mode="a", storage_options={"anon": True})
    with pytest.raises(ArgumentError, match="storage_options"):
        open_backend(MemoryStore(), mode="a", storage_options={})
    with pytest.raises(ArgumentError, match="int"):
        open_backend(42, mode="r")
    with pytest.raises(ArgumentError, match="mode"):
        open_backend(tmp_path, mode="x")


def test_archives_dropped_without_close_release_their_descriptors(tmp_path: Path) -> None:
    """Reads keep chunk files open (at most 128 per backend); a collected backend closes them."""
    import gc

    import numpy as np

    import wildzarr

    arc = wildzarr.open(tmp_path / "a.zarr")
    for seed in range(5):
        arc.add(np.random.default_rng(seed).integers(-100, 100, 48_000, dtype=np.int16), samplerate=48_000)

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    gc.collect()
    before = open_descriptors()
    for _ in range(50):
        reader = wildzarr.open(tmp_path / "a.zarr", mode="r")
        for rec in reader:
            rec.read(0, 100)
        kept = open_descriptors() - before
        del reader, rec
    gc.collect()
    assert kept >= 5  # the last reader kept its five chunk files open while it lived
    assert open_descriptors() <= before
