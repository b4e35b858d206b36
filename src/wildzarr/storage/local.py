"""A folder on a local POSIX file system as a :class:`~wildzarr.storage.base.Backend`.

Hostile stores are expected: nothing below the root is ever reached through a
symlink, a FIFO never blocks a read, and nothing is written outside the root.
Folders are walked with ``O_NOFOLLOW`` (:mod:`wildzarr.storage._folders`);
objects are opened with ``O_NOFOLLOW | O_NONBLOCK`` relative to their folder
and must be regular files (``fstat``), else :class:`~wildzarr.errors.StorageError`
names the path. A folder where an object is asked for reads as missing, as a
prefix does on an object store.

The many-writer primitives rest on POSIX guarantees:

- ``create``: a complete, fsynced temporary file is hard-linked to the key;
  link(2) fails with ``EEXIST`` if the name exists (also a dangling symlink), so
  exactly one of many concurrent creators wins and readers never see a partial
  object.
- ``replace`` / ``delete_if``: an exclusive ``flock`` on the key's folder
  serializes compare-and-swaps on keys of that folder across processes; the
  new content is renamed over the key (rename(2) is atomic for readers).
- leases: the claimed file itself stays ``flock``-ed while its lease is held.
  flock(2): "Locks created by flock() are associated with an open file
  description" and are released when every descriptor of it is closed, which
  the kernel does when the holder dies, SIGKILL included.

Version tokens are the sha256 of the content, so a compare-and-swap compares
content (no ABA problem with rewritten-but-equal files).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import secrets
import stat
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from zarr.storage import LocalStore

from wildzarr.errors import StorageError, UnsafeNodeError
from wildzarr.storage._folders import DIR_FLAGS, Folder, FolderCache
from wildzarr.storage.base import Backend, Lease, Versioned, check_key, check_range, storage_error

__all__ = ["TEMP_PREFIX", "LocalBackend"]

#: Name prefix of temporary files; never listed as keys.
TEMP_PREFIX = ".wildzarr-tmp-"

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

#: Files :meth:`LocalBackend.get_immutable_ranges` keeps open per backend (the oldest unused one is closed).
OPEN_FILES = 128

#: Largest single pread/write: Linux transfers at most 0x7ffff000 bytes per call (read(2), write(2)).
_IO_MAX = 0x7FFFF000


def _kind(mode: int) -> str:
    """What a non-regular file is, for messages."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _not_an_object(path: str, mode: int) -> StorageError:
    return UnsafeNodeError(f"{path}: is {_kind(mode)}, not a stored object", path)


def _lstat_mode(folder: Folder, name: str) -> int | None:
    """``st_mode`` of ``name`` in ``folder`` without following a symlink, or None if it does not exist."""
    try:
        return os.stat(name, dir_fd=folder.fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pread(fd: int, start: int, size: int) -> bytes:
    """Up to ``size`` bytes at ``start``, looping over short reads until end of file."""
    first = os.pread(fd, min(size, _IO_MAX), start)
    if len(first) == size or not first:
        return first
    chunks = [first]
    done = len(first)
    while done < size:
        chunk = os.pread(fd, min(size - done, _IO_MAX), start + done)
        if not chunk:
            break
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, view: memoryview) -> None:
    """Write all of ``view`` (bytes) at the current offset, looping over short writes.

    Every slice is released at once, also when a write fails, so that no view
    of the caller's buffer (an mmap) outlives the call in a traceback.
    """
    done = 0
    while done < len(view):
        with view[done : done + _IO_MAX] as piece:
            done += os.write(fd, piece)


class _Handle:
    """An open descriptor and the threads reading through it."""

    __slots__ = ("evicted", "fd", "readers")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.readers = 0
        self.evicted = False


def _close_handles(handles: OrderedDict[str, _Handle]) -> None:
    """Close the descriptors of a collected :class:`_OpenFiles` (no thread can be reading through them)."""
    for handle in handles.values():
        with contextlib.suppress(OSError):
            os.close(handle.fd)
    handles.clear()


class _OpenFiles:
    """Descriptors of recently read immutable files, at most :data:`OPEN_FILES`, least recently used first.

    A descriptor is closed only when no thread is reading through it, so a
    ``pread`` never meets a closed (or reused) descriptor number. After a fork
    the child starts with an empty cache (the parent's lock may be held).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: OrderedDict[str, _Handle] = OrderedDict()
        self._pid = os.getpid()
        # A backend dropped without close() must not keep its descriptors open for the life of the process.
        weakref.finalize(self, _close_handles, self._handles)

    def acquire(self, key: str, open_file: Callable[[], int | None]) -> _Handle | None:
        """The handle of ``key`` with one more reader, opened with ``open_file`` if not cached."""
        if self._pid != os.getpid():
            self.__init__()  # type: ignore[misc]
        with self._lock:
            handle = self._handles.get(key)
            if handle is not None:
                self._handles.move_to_end(key)
                handle.readers += 1
                return handle
        fd = open_file()
        if fd is None:
            return None
        with self._lock:
            handle = self._handles.get(key)
            if handle is not None:  # another thread opened it meanwhile: use that one
                os.close(fd)
            else:
                handle = self._handles[key] = _Handle(fd)
            handle.readers += 1
            while len(self._handles) > OPEN_FILES:
                _, oldest = self._handles.popitem(last=False)
                oldest.evicted = True
                if oldest.readers == 0:
                    os.close(oldest.fd)
        return handle

    def release(self, handle: _Handle) -> None:
        """One reader is done with ``handle``; close it if it was evicted and this was its last reader."""
        with self._lock:
            handle.readers -= 1
            close = handle.evicted and handle.readers == 0
        if close:
            os.close(handle.fd)

    def clear(self) -> None:
        """Forget every descriptor; those in use are closed by their last reader."""
        with self._lock:
            for handle in self._handles.values():
                handle.evicted = True
                if handle.readers == 0:
                    os.close(handle.fd)
            self._handles.clear()


class _FlockLease(Lease):
    """A lease held by an open, ``flock``-ed descriptor of the claimed file."""

    def __init__(self, key: str, fd: int) -> None:
        self.key = key
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # drops the flock (flock(2): released when the open file description is closed)


class LocalBackend(Backend):
    """The keys below a local folder; keys map to files, prefixes to folders.

    Parameters
    ----------
    root : str or os.PathLike
        The folder (may be a symlink; everything below it is checked). Made on
        the first write if missing.
    read_only : bool
        Refuse every write with ReadOnlyError.

    Notes
    -----
    Thread-safe. Pickles to its root and mode; open descriptors stay behind.
    ``put`` is not durable until :meth:`sync`; ``create``, ``replace``,
    ``delete_if`` and ``claim`` are durable when they return (the new file and
    its folder are fsynced, and so is every folder above it that got a new
    subfolder). ``list_dir`` lists empty folders too (left by deleting a
    folder's last key with ``delete``, or by a crash), where an object store
    would not; ``delete_prefix`` removes the folders it empties.
    """

    multiprocess_safe = True
    latency_bound = False

    def __init__(self, root: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.read_only = read_only
        self._folders = FolderCache(self.root, on_mkdir=self._mark_dirty)
        self._pending_lock = threading.Lock()
        self._pending_files: set[str] = set()
        self._dirty_folders: set[tuple[str, ...]] = set()
        self._open_files = _OpenFiles()

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "read_only": self.read_only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"], read_only=state["read_only"])  # type: ignore[misc]

    def describe(self, key: str = "") -> str:
        return self._folders.path(key.split("/")) if key else self.root

    def zarr_store(self) -> LocalStore:
        return LocalStore(self.root, read_only=self.read_only)

    def close(self) -> None:
        self._folders.clear()
        self._open_files.clear()

    # -- reading -------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        fd = self._open(key, fresh=True)
        return None if fd is None else self._read_whole(fd, key)

    def _read_whole(self, fd: int, key: str) -> bytes:
        """All bytes of the open regular file ``fd`` (closed afterwards)."""
        try:
            return _pread(fd, 0, os.fstat(fd).st_size)
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        finally:
            os.close(fd)

    def get_versioned(self, key: str) -> Versioned | None:
        data = self.get(key)
        return None if data is None else Versioned(data, _sha256(data))

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        check_range(start, stop)
        fd = self._open(key)
        if fd is None:
            return None
        try:
            return _pread(fd, start, stop - start)
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        finally:
            os.close(fd)

    def get_immutable_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        """One ``pread`` per range through a descriptor kept open (at most :data:`OPEN_FILES` files)."""
        results: list[bytes | None] = []
        for key, start, stop in requests:
            check_range(start, stop)
            handle = self._open_files.acquire(key, functools.partial(self._open, key))
            if handle is None:
                results.append(None)
                continue
            try:
                results.append(_pread(handle.fd, start, stop - start))
            except OSError as exc:
                raise storage_error(exc, self.describe(key)) from exc
            finally:
                self._open_files.release(handle)
        return results

    def exists(self, key: str) -> bool:
        parts = check_key(key).split("/")
        folder = self._folders.acquire(tuple(parts[:-1]), create=False, fresh=True)
        if folder is None:
            return False
        try:
            mode = os.stat(parts[-1], dir_fd=folder.fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        finally:
            self._folders.release(folder)
        if stat.S_ISDIR(mode):
            return False
        if not stat.S_ISREG(mode):
            raise _not_an_object(self.describe(key), mode)
        return True

    def list_dir(self, prefix: str) -> list[str]:
        parts = self._prefix_parts(prefix)
        with self._folders.folder(parts, create=False, fresh=True) as folder:
            if folder is None:
                return []
            try:
                fd = os.open(".", DIR_FLAGS, dir_fd=folder.fd)  # a private offset for getdents
                try:
                    names = os.listdir(fd)
                finally:
                    os.close(fd)
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise storage_error(exc, self._folders.path(parts)) from exc
        return sorted(name for name in names if not name.startswith(TEMP_PREFIX))

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        """Every key below ``prefix`` with its size in bytes (``lstat``), sorted by key.

        Raises
        ------
        StorageError
            Naming the first symlink, FIFO, device or socket found: a hostile
            entry is reported, not skipped.
        """
        parts = self._prefix_parts(prefix)
        found: list[tuple[str, int]] = []
        with self._folders.folder(parts, create=False, fresh=True) as folder:
            if folder is None:
                return []
            self._walk(folder, parts, found)
        found.sort()
        return found

    def _walk(self, folder: Folder, parts: tuple[str, ...], found: list[tuple[str, int]]) -> None:
        try:
            fd = os.open(".", DIR_FLAGS, dir_fd=folder.fd)
        except OSError as exc:
            raise storage_error(exc, self._folders.path(parts)) from exc
        try:
            self._walk_fd(fd, parts, found)
        finally:
            os.close(fd)

    def _walk_fd(self, fd: int, parts: tuple[str, ...], found: list[tuple[str, int]]) -> None:
        try:
            names = os.listdir(fd)
        except OSError as exc:
            raise storage_error(exc, self._folders.path(parts)) from exc
        for name in names:
            if name.startswith(TEMP_PREFIX):
                continue
            child = (*parts, name)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    sub = os.open(name, DIR_FLAGS, dir_fd=fd)
                    try:
                        self._walk_fd(sub, child, found)
                    finally:
                        os.close(sub)
                    continue
            except FileNotFoundError:
                continue  # deleted while listed
            except OSError as exc:
                raise storage_error(exc, self._folders.path(child)) from exc
            if not stat.S_ISREG(st.st_mode):
                raise _not_an_object(self._folders.path(child), st.st_mode)
            found.append(("/".join(child), st.st_size))

    # -- writing -------------------------------------------------------------------

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._check_writable(check_key(key))
        fd = self._open(key, _WRITE_FLAGS, create=True)
        assert fd is not None  # create=True makes the folders or raises
        try:
            with memoryview(data) as given, given.cast("B") as view:  # released even on failure
                _write_all(fd, view)
                if os.fstat(fd).st_size > len(view):  # was longer (no O_TRUNC before the S_ISREG check)
                    os.ftruncate(fd, len(view))
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        finally:
            os.close(fd)
        with self._pending_lock:
            self._pending_files.add(key)
            self._dirty_folders.add(tuple(key.split("/")[:-1]))

    def sync(self) -> None:
        with self._pending_lock:
            files, self._pending_files = self._pending_files, set()
            folders, self._dirty_folders = self._dirty_folders, set()
        for key in sorted(files):
            fd = self._open(key)
            if fd is None:
                continue  # deleted since it was written
            try:
                os.fsync(fd)
            except OSError as exc:
                raise storage_error(exc, self.describe(key)) from exc
            finally:
                os.close(fd)
        for parts in sorted(folders, key=len, reverse=True):
            self._fsync_folder(parts)

    def create(self, key: str, data: bytes) -> bool:
        self._check_writable(check_key(key))
        *parent, name = key.split("/")
        with self._folders.folder(tuple(parent), create=True, fresh=True) as folder:
            assert folder is not None
            if self._taken(folder, name, key):
                return False
            temp, fd = self._write_temp(folder, key, data)
            os.close(fd)
            if not self._link_temp(folder, temp, name, key):
                return False
            self._make_durable(folder)
        return True

    def replace(self, key: str, data: bytes, version: str) -> bool:
        def rename_over(folder: Folder, name: str) -> None:
            temp, fd = self._write_temp(folder, key, data)
            os.close(fd)
            try:
                os.rename(temp, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
            except OSError as exc:
                self._unlink_temp(folder, temp)
                raise storage_error(exc, self.describe(key)) from exc

        return self._if_version(key, version, rename_over)

    def delete(self, key: str) -> None:
        self._check_writable(check_key(key))
        *parent, name = key.split("/")
        with self._folders.folder(tuple(parent), create=False, fresh=True) as folder:
            if folder is None:
                return
            try:
                os.unlink(name, dir_fd=folder.fd)
            except FileNotFoundError:
                pass
            except OSError as exc:  # EISDIR: unlink(2) refuses folders
                raise storage_error(exc, self.describe(key)) from exc

    def delete_if(self, key: str, version: str) -> bool:
        def unlink(folder: Folder, name: str) -> None:
            try:
                os.unlink(name, dir_fd=folder.fd)
            except OSError as exc:
                raise storage_error(exc, self.describe(key)) from exc

        return self._if_version(key, version, unlink)

    def _if_version(self, key: str, version: str, change: Callable[[Folder, str], None]) -> bool:
        """Run ``change(folder, name)`` if ``key`` holds ``version``, under ``flock`` on its folder.

        Every writer of a key changes it with the folder locked (flock(2): the
        lock belongs to this open file description, so threads exclude each other
        too); the comparison is of the content's sha256, so there is no ABA problem.
        """
        self._check_writable(check_key(key))
        *parent, name = key.split("/")
        with self._folders.folder(tuple(parent), create=False, fresh=True) as folder:
            if folder is None:
                return False
            lock_fd = self._lock_folder(folder)
            try:
                current = self._read_in(folder, name, key)
                if current is None or _sha256(current) != version:
                    return False
                change(folder, name)
                self._make_durable(folder)
                return True
            finally:
                os.close(lock_fd)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every file and folder below ``prefix``, the prefix folder, and folders it leaves empty.

        Symlinks, FIFOs and devices found below are unlinked, never followed;
        only regular files count towards the bytes freed. The root stays, and
        so does a folder that a concurrent writer refilled meanwhile.
        """
        self._check_writable(prefix)
        parts = self._prefix_parts(prefix)
        with self._folders.folder(parts, create=False, fresh=True) as folder:
            if folder is None:
                return 0
            try:
                fd = os.open(".", DIR_FLAGS, dir_fd=folder.fd)
            except OSError as exc:
                raise storage_error(exc, self._folders.path(parts)) from exc
            try:
                freed = self._remove_below(fd, parts)
            finally:
                os.close(fd)
        self._prune(parts)
        self._folders.clear()  # cached descriptors of removed folders are stale
        return freed

    def _prune(self, parts: tuple[str, ...]) -> None:
        """Remove the empty folder ``parts``, then each folder above it that this leaves empty."""
        while parts:
            with self._folders.folder(parts[:-1], create=False, fresh=True) as parent:
                if parent is None or not self._rmdir(parent.fd, parts):
                    return
            parts = parts[:-1]

    def _remove_below(self, fd: int, parts: tuple[str, ...]) -> int:
        freed = 0
        try:
            names = os.listdir(fd)
        except OSError as exc:
            raise storage_error(exc, self._folders.path(parts)) from exc
        for name in names:
            child = (*parts, name)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    sub = os.open(name, DIR_FLAGS, dir_fd=fd)
                    try:
                        freed += self._remove_below(sub, child)
                    finally:
                        os.close(sub)
                    self._rmdir(fd, child)
                else:
                    os.unlink(name, dir_fd=fd)
                    if stat.S_ISREG(st.st_mode):
                        freed += st.st_size
            except FileNotFoundError:
                continue  # removed concurrently
            except OSError as exc:
                raise storage_error(exc, self._folders.path(child)) from exc
        return freed

    def _rmdir(self, parent_fd: int, parts: tuple[str, ...]) -> bool:
        """Remove an empty folder; False if it is not empty (refilled meanwhile) or gone."""
        try:
            os.rmdir(parts[-1], dir_fd=parent_fd)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # rmdir(2) allows either for a non-empty folder
                return False
            raise storage_error(exc, self._folders.path(parts)) from exc
        return True

    # -- leases --------------------------------------------------------------------

    def claim(self, key: str, data: bytes) -> Lease | None:
        self._check_writable(check_key(key))
        *parent, name = key.split("/")
        with self._folders.folder(tuple(parent), create=True, fresh=True) as folder:
            assert folder is not None
            if self._taken(folder, name, key):
                return None
            temp, fd = self._write_temp(folder, key, data, lock=True)
            try:
                linked = self._link_temp(folder, temp, name, key)
                if linked:
                    self._make_durable(folder)
            except BaseException:
                os.close(fd)
                raise
        if not linked:
            os.close(fd)
            return None
        return _FlockLease(key, fd)

    def is_alive(self, key: str) -> bool:
        fd = self._open(key, fresh=True)
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: probes never exclude each other
        except BlockingIOError:
            return True
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        finally:
            os.close(fd)  # also drops the shared lock, if taken
        return False

    # -- helpers -------------------------------------------------------------------

    def _prefix_parts(self, prefix: str) -> tuple[str, ...]:
        return tuple(check_key(prefix).split("/")) if prefix else ()

    def _open(
        self, key: str, flags: int = _READ_FLAGS, *, create: bool = False, fresh: bool = False
    ) -> int | None:
        """A descriptor of the regular file ``key`` (None if missing and not created).

        One ``openat`` relative to the cached folder and one ``fstat``. A miss
        under a cached folder that was deleted since (another process rewrote
        the archive) clears the cache and walks again. Writes (``create``) and
        ``fresh`` reads walk from the root by name instead (see
        :meth:`FolderCache.acquire`): everything but the hot byte-range reads of
        blob chunks, which use the cache.
        """
        *parent, name = check_key(key).split("/")
        parts = tuple(parent)
        retried = False
        while True:
            folder = self._folders.acquire(parts, create=create, fresh=fresh or create)
            if folder is None:
                return None
            try:
                mode = _lstat_mode(folder, name)
                if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    raise _not_an_object(self.describe(key), mode)  # never open(2) a device or FIFO
                fd = os.open(name, flags, 0o666, dir_fd=folder.fd)
            except FileNotFoundError:
                if not retried and self._folders.is_deleted(folder):
                    self._folders.clear()
                    retried = True
                    continue
                if create:
                    path = self.describe(key)
                    raise StorageError(f"{path}: its folder was deleted meanwhile", path) from None
                return None
            except StorageError:
                raise
            except OSError as exc:
                raise self._open_error(exc, key) from exc
            finally:
                self._folders.release(folder)
            return self._check_regular(fd, key)

    def _read_in(self, folder: Folder, name: str, key: str) -> bytes | None:
        """The content of ``name`` in an acquired folder, or None if missing (or a folder)."""
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=folder.fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._open_error(exc, key) from exc
        checked = self._check_regular(fd, key)
        return None if checked is None else self._read_whole(checked, key)

    def _check_regular(self, fd: int, key: str) -> int | None:
        """``fd`` if it is a regular file; None (closed) for a folder; else close and raise."""
        try:
            mode = os.fstat(fd).st_mode
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, self.describe(key)) from exc
        if stat.S_ISREG(mode):
            return fd
        os.close(fd)
        if stat.S_ISDIR(mode):
            return None
        raise _not_an_object(self.describe(key), mode)

    def _open_error(self, exc: OSError, key: str) -> StorageError:
        path = self.describe(key)
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW on a symlink (open(2))
            return UnsafeNodeError(f"{path}: is a symlink, not a stored object", path)
        if exc.errno == errno.ENXIO:  # O_WRONLY | O_NONBLOCK on a FIFO without reader, or a socket
            return UnsafeNodeError(f"{path}: is a FIFO or socket, not a stored object", path)
        return storage_error(exc, path)

    def _write_temp(self, folder: Folder, key: str, data: bytes, *, lock: bool = False) -> tuple[str, int]:
        """Write ``data`` to a new fsynced temporary file in ``folder``; return its name and open descriptor.

        With ``lock`` the file is ``flock``-ed exclusively before anything else
        can see it (a lease).
        """
        temp = TEMP_PREFIX + secrets.token_hex(8)
        try:
            fd = os.open(temp, _TEMP_FLAGS, 0o666, dir_fd=folder.fd)
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        try:
            if lock:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with memoryview(data) as view:
                _write_all(fd, view)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            self._unlink_temp(folder, temp)
            raise storage_error(exc, self.describe(key)) from exc
        return temp, fd

    def _taken(self, folder: Folder, name: str, key: str) -> bool:
        """Whether any entry is named ``name`` already: a create that would fail, skipped before writing.

        Only an early exit (one ``fstatat``): the hard link decides.
        """
        try:
            os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        return True

    def _link_temp(self, folder: Folder, temp: str, name: str, key: str) -> bool:
        """Hard-link ``temp`` to ``name`` unless ``name`` exists (link(2): ``EEXIST``); remove ``temp``."""
        try:
            os.link(temp, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        finally:
            self._unlink_temp(folder, temp)
        return True

    def _unlink_temp(self, folder: Folder, temp: str) -> None:
        try:
            os.unlink(temp, dir_fd=folder.fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise storage_error(exc, self._folders.path((*folder.parts, temp))) from exc

    def _lock_folder(self, folder: Folder) -> int:
        """A fresh descriptor of ``folder``, exclusively ``flock``-ed (blocks until granted).

        Fresh, not the cached one: flock(2) locks belong to the open file
        description, and every thread shares the cached one.
        """
        try:
            fd = os.open(".", DIR_FLAGS, dir_fd=folder.fd)
        except OSError as exc:
            raise storage_error(exc, self._folders.path(folder.parts)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, self._folders.path(folder.parts)) from exc
        return fd

    def _mark_dirty(self, parts: tuple[str, ...]) -> None:
        with self._pending_lock:
            self._dirty_folders.add(parts)

    def _make_durable(self, folder: Folder) -> None:
        """fsync ``folder`` and every folder above it that got a new, not yet durable subfolder."""
        parts = folder.parts
        with self._pending_lock:
            self._dirty_folders.discard(parts)
            above = [parts[:i] for i in range(len(parts) - 1, -1, -1) if parts[:i] in self._dirty_folders]
            self._dirty_folders.difference_update(above)
        try:
            os.fsync(folder.fd)
        except OSError as exc:
            raise storage_error(exc, self._folders.path(parts)) from exc
        for ancestor in above:
            self._fsync_folder(ancestor)

    def _fsync_folder(self, parts: tuple[str, ...]) -> None:
        with self._folders.folder(parts, create=False) as folder:
            if folder is None:
                return  # deleted since
            try:
                os.fsync(folder.fd)
            except OSError as exc:
                raise storage_error(exc, self._folders.path(parts)) from exc
