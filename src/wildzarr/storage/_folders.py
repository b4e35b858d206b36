"""Open folders below a root without following symlinks, and keep the verified ones open.

A folder below the root is reached one component at a time with
``openat(parent_fd, name, O_DIRECTORY | O_NOFOLLOW)``, so a symlink (or a file)
planted where a folder should be fails the walk instead of leading outside the
root (open(2): "O_NOFOLLOW: if the trailing component of pathname is a symbolic
link, then the open fails"; Linux reports ``ENOTDIR`` when ``O_DIRECTORY`` is
also given, ``ELOOP`` otherwise). The root itself is opened by path and may be
a symlink.

Opened folders stay in a bounded LRU cache of file descriptors, so that a hot
read costs one ``openat`` of the file relative to its cached folder. Entries
are reference-counted: evicting or clearing an entry that a thread is using
closes its descriptor only when that thread releases it, so a descriptor
number is never reused under a running operation.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wildzarr.errors import StorageError
from wildzarr.storage.base import storage_error

__all__ = ["DIR_FLAGS", "Folder", "FolderCache"]

#: Flags of every folder opened below the root.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

#: Attempts at opening a folder that concurrent writers keep creating and deleting.
_ATTEMPTS = 3


class _Stale(Exception):
    """A cached folder was deleted (or its parent was): the cache must be cleared and the walk redone."""


class Folder:
    """A verified, open folder: ``fd`` is valid until :meth:`FolderCache.release`."""

    __slots__ = ("fd", "parts", "stale", "users")

    def __init__(self, fd: int, parts: tuple[str, ...]) -> None:
        self.fd = fd
        self.parts = parts
        self.users = 0
        self.stale = False


class FolderCache:
    """Descriptors of the folders below ``root``, keyed by their path components.

    Parameters
    ----------
    root : str
        Absolute path of the root folder (may be a symlink).
    on_mkdir : callable
        Called with the components of a folder that got a new subfolder from
        :meth:`acquire` (its entry is not durable until that folder is fsynced).
    capacity : int
        Most descriptors kept open (256: a quarter of the usual soft limit of
        1,024 open files, RLIMIT_NOFILE, so that a few backends fit in one
        process).
    """

    def __init__(self, root: str, on_mkdir: Callable[[tuple[str, ...]], None], capacity: int = 256) -> None:
        self.root = root
        self._on_mkdir = on_mkdir
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, ...], Folder] = OrderedDict()
        weakref.finalize(self, _close_unused, self._entries)

    def path(self, parts: tuple[str, ...] | list[str]) -> str:
        """The absolute path of the entry with these components, for messages."""
        return os.path.join(self.root, *parts)

    @contextmanager
    def folder(self, parts: tuple[str, ...], *, create: bool, fresh: bool = False) -> Iterator[Folder | None]:
        """:meth:`acquire` and :meth:`release` around a block; a folder found deleted is reopened first."""
        folder = self.acquire(parts, create=create, fresh=fresh)
        if not fresh and folder is not None and os.fstat(folder.fd).st_nlink == 0:
            self.release(folder)
            self.clear()
            folder = self.acquire(parts, create=create)
        try:
            yield folder
        finally:
            if folder is not None:
                self.release(folder)

    def acquire(self, parts: tuple[str, ...], *, create: bool, fresh: bool = False) -> Folder | None:
        """The open folder with these components; :meth:`release` it after use.

        Returns None if it (or a folder above it) does not exist and ``create``
        is false; with ``create`` missing folders are made (``mkdir``, mode
        0o777 less the umask).

        ``fresh`` walks from the root instead of using the cache, and does not
        cache what it opens: writes and deletes use it, so that a cached folder
        that was renamed away (out of the store, with a symlink put in its
        place) is never written into. A cached descriptor follows its folder
        wherever it is moved; only a walk by name sees the symlink.

        Raises
        ------
        StorageError
            If a component is a symlink, a file or anything but a folder, or the
            file system refuses (permission denied, no space ...).
        """
        if fresh:
            return self._walk(parts, create)
        try:
            return self._acquire(parts, create)
        except _Stale:
            self.clear()
            return self._acquire(parts, create)

    def release(self, folder: Folder) -> None:
        """Give back a folder from :meth:`acquire`."""
        with self._lock:
            folder.users -= 1
            close = folder.stale and folder.users == 0
        if close:
            os.close(folder.fd)

    def is_deleted(self, folder: Folder) -> bool:
        """Whether an acquired folder was deleted since it was opened (a deleted folder has no links)."""
        return os.fstat(folder.fd).st_nlink == 0

    def clear(self) -> None:
        """Forget every cached folder (closing those no thread uses now, the others on release)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for folder in entries:
                folder.stale = True
            unused = [folder.fd for folder in entries if folder.users == 0]
        for fd in unused:
            os.close(fd)

    # -- walking -------------------------------------------------------------------

    def _walk(self, parts: tuple[str, ...], create: bool) -> Folder | None:
        """Open the folder by walking from the root, uncached (released = closed)."""
        fd = self._open_root(create)
        if fd is None:
            return None
        folder: Folder | None = _uncached(fd, ())
        try:
            for depth in range(1, len(parts) + 1):
                assert folder is not None
                try:
                    child = self._open_child(folder, parts[:depth], create)
                except _Stale:
                    path = self.path(parts[:depth])
                    raise StorageError(f"{path}: its folder was deleted meanwhile", path) from None
                if child is None:
                    return None
                self.release(folder)
                folder = _uncached(child, parts[:depth])
            found, folder = folder, None
            return found
        finally:
            if folder is not None:
                self.release(folder)

    def _acquire(self, parts: tuple[str, ...], create: bool) -> Folder | None:
        with self._lock:
            folder = self._entries.get(parts)
            if folder is not None:
                folder.users += 1
                self._entries.move_to_end(parts)
                return folder
        fd = self._open(parts, create)
        if fd is None:
            return None
        return self._insert(parts, fd)

    def _insert(self, parts: tuple[str, ...], fd: int) -> Folder:
        evicted: list[int] = []
        with self._lock:
            folder = self._entries.get(parts)
            if folder is not None:  # another thread opened it meanwhile
                evicted.append(fd)
            else:
                folder = self._entries[parts] = Folder(fd, parts)
                while len(self._entries) > self._capacity:
                    _, old = self._entries.popitem(last=False)
                    old.stale = True
                    if old.users == 0:
                        evicted.append(old.fd)
            folder.users += 1
        for old_fd in evicted:
            os.close(old_fd)
        return folder

    def _open(self, parts: tuple[str, ...], create: bool) -> int | None:
        if not parts:
            return self._open_root(create)
        parent = self._acquire(parts[:-1], create)
        if parent is None:
            return None
        try:
            return self._open_child(parent, parts, create)
        finally:
            self.release(parent)

    def _open_root(self, create: bool) -> int | None:
        try:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                return None
        except OSError as exc:
            raise storage_error(exc, self.root) from exc
        try:
            os.makedirs(self.root, exist_ok=True)
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise storage_error(exc, self.root) from exc

    def _open_child(self, parent: Folder, parts: tuple[str, ...], create: bool) -> int | None:
        name = parts[-1]
        for _ in range(_ATTEMPTS):
            try:
                return os.open(name, DIR_FLAGS, dir_fd=parent.fd)
            except FileNotFoundError:
                if self.is_deleted(parent):
                    raise _Stale() from None
                if not create:
                    return None
            except OSError as exc:
                raise storage_error(exc, self.path(parts)) from exc
            try:
                os.mkdir(name, 0o777, dir_fd=parent.fd)
            except FileExistsError:
                pass  # made by a concurrent writer, or not a folder: the next open tells
            except FileNotFoundError:
                raise _Stale() from None  # the parent was deleted under us
            except OSError as exc:
                raise storage_error(exc, self.path(parts)) from exc
            else:
                self._on_mkdir(parts[:-1])
        path = self.path(parts)
        raise StorageError(f"{path}: the folder keeps vanishing while it is created", path)


def _uncached(fd: int, parts: tuple[str, ...]) -> Folder:
    """A folder held by one user and closed when released (never in the cache)."""
    folder = Folder(fd, parts)
    folder.users = 1
    folder.stale = True
    return folder


def _close_unused(entries: OrderedDict[tuple[str, ...], Folder]) -> None:
    """Finalizer of a garbage-collected cache: close the descriptors it still holds."""
    for folder in entries.values():
        if folder.users == 0:
            os.close(folder.fd)
    entries.clear()
