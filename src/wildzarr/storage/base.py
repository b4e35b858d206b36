"""The storage contract: keys and bytes below one root of one store, and the primitives the archive needs.

Everything the archive writes or reads goes through a :class:`Backend`. A key is
a ``/``-separated path relative to the backend's root (``"3/0/blob/c/0"``), never
starting or ending with ``/``, without empty, ``.`` or ``..`` components
(:func:`check_key`). Values are bytes.

Besides plain reads and writes, a backend offers the three primitives on which
the archive's many-writer protocol rests (``docs/format.md``, "Many writers"):

``create(key, data)``
    exclusive create: writes ``data`` only if ``key`` does not exist, and says
    whether it did. Readers see all of ``data`` or nothing.
``replace(key, data, version)`` / ``delete_if(key, version)``
    compare-and-swap: rewrite or delete ``key`` only if it still holds the
    version read by :meth:`Backend.get_versioned`.
``claim(key, data)`` / ``is_alive(key)``
    a lease: an exclusive create whose key stays "alive" while the returned
    :class:`Lease` is held, and stops being alive when it is released or its
    holder dies (SIGKILL included), so that other processes can tell an import
    in progress from one that was interrupted.

``multiprocess_safe`` says whether these are atomic across processes (local
folders and S3) or only across the threads of one process (memory, zip and
other stores).

Errors: every failure of the store becomes :class:`~wildzarr.errors.StorageError`
naming the location (:meth:`Backend.describe`); a missing key is not an error
for reads (``None``). A write to a read-only backend raises
:class:`~wildzarr.errors.ReadOnlyError`.
"""

from __future__ import annotations

import errno
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

from zarr.abc.store import Store

from wildzarr.errors import ArgumentError, ReadOnlyError, StorageError, UnsafeNodeError

__all__ = ["Backend", "Lease", "Versioned", "check_key", "check_range", "join", "storage_error"]


class Versioned(NamedTuple):
    """A key's bytes and an opaque version token for :meth:`Backend.replace`."""

    data: bytes
    version: str


class Lease(ABC):
    """Keeps a key created by :meth:`Backend.claim` alive until released.

    Release it exactly once (also usable as a context manager). After
    :meth:`release`, :meth:`Backend.is_alive` is false for the key; the key
    itself stays.
    """

    key: str

    @abstractmethod
    def release(self) -> None:
        """Stop keeping the key alive. Idempotent."""

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid relative key, else raise ArgumentError.

    Valid: non-empty components separated by single ``/``, none of them ``.`` or
    ``..``, no NUL character, no leading or trailing ``/``.
    """
    if not isinstance(key, str) or not key or "\x00" in key:
        raise ArgumentError(f"invalid store key {key!r}")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise ArgumentError(f"invalid store key {key!r}: components must not be empty, '.' or '..'")
    return key


def check_range(start: int, stop: int) -> None:
    """Raise ArgumentError unless ``0 <= start <= stop`` (a byte range ``[start, stop)``)."""
    if not (0 <= start <= stop):
        raise ArgumentError(f"invalid byte range [{start}, {stop}): need 0 <= start <= stop")


#: Plain-language reasons for the ``errno`` values a store commonly fails with (errno(3)).
_REASONS: dict[int, str] = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ELOOP: "a symlink or file where a folder should be",
    errno.ENOTDIR: "a symlink or file where a folder should be",
    errno.EISDIR: "a folder where a stored object should be",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error",
}


def storage_error(exc: OSError, where: str) -> StorageError:
    """Translate an OSError into a StorageError naming ``where`` (a path or URL) and the reason.

    The reason is plain language for the common cases (``ENOSPC`` "no space
    left on the device", ``EACCES``/``EPERM`` "permission denied", ``EROFS``
    "read-only file system", ``ELOOP``/``ENOTDIR`` from ``O_NOFOLLOW`` walks "a
    symlink or file where a folder should be"), else the system's message.
    ``errno`` of the result is that of ``exc``.
    """
    reason = _REASONS.get(exc.errno or 0) or exc.strerror or str(exc) or type(exc).__name__
    unsafe = exc.errno in (errno.ELOOP, errno.ENOTDIR)  # O_NOFOLLOW / O_DIRECTORY met a symlink or file
    error = (UnsafeNodeError if unsafe else StorageError)(f"{where}: {reason}", where)
    error.errno = exc.errno
    return error


def join(*parts: str) -> str:
    """Join key parts with ``/``, skipping empty ones: ``join("", "3", "zarr.json") == "3/zarr.json"``."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class Backend(ABC):
    """Byte-level access to the keys below one root of a store.

    Implementations: :class:`~wildzarr.storage.local.LocalBackend` (a folder),
    :class:`~wildzarr.storage.fsspec.FsspecBackend` and its subclass
    :class:`~wildzarr.storage.fsspec.S3Backend` (fsspec URLs, S3 with
    conditional requests), :class:`~wildzarr.storage.zarrstore.ZarrStoreBackend`
    (any other zarr store: memory, zip ...), :class:`~wildzarr.storage.zipped.ZipBackend` (zip files
    read-only, e.g. written by ``wildzarr pack``). Backends are thread-safe and pickle
    (to a description from which the receiving process reopens them).

    Attributes
    ----------
    read_only : bool
        Every write raises ReadOnlyError.
    multiprocess_safe : bool
        Whether ``create``, ``replace``, ``delete_if`` and leases are atomic
        across processes (True for folders and S3), or only across the threads
        of this process.
    latency_bound : bool
        Whether a request waits on a network rather than a core (object
        stores, fsspec URLs): reads then merge nearby byte ranges and keep
        ``fetch_concurrency`` requests in flight (:mod:`wildzarr.settings`).
        False for local folders and memory.
    """

    read_only: bool
    multiprocess_safe: bool
    latency_bound: bool = True

    @property
    def read_only_reason(self) -> str:
        """Why writes are refused, when :attr:`read_only` is true (for ReadOnlyError messages)."""
        return "the store is open read-only"

    # -- description -------------------------------------------------------------

    @abstractmethod
    def describe(self, key: str = "") -> str:
        """The location of ``key`` for messages: a path or URL (the root for ``""``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def _check_writable(self, key: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self.describe(key)}: the store is open read-only")

    # -- reading -----------------------------------------------------------------

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The bytes of ``key``, or None if it does not exist."""

    @abstractmethod
    def get_versioned(self, key: str) -> Versioned | None:
        """The bytes of ``key`` and their version token, or None if it does not exist."""

    @abstractmethod
    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes ``[start, stop)`` of ``key`` (fewer if the object is shorter), or None if it is missing."""

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        """:meth:`get_range` of each ``(key, start, stop)``, concurrently where the store allows."""
        return [self.get_range(key, start, stop) for key, start, stop in requests]

    def get_immutable_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        """:meth:`get_ranges` of keys that are never rewritten once they exist (blob chunks).

        A backend may keep such keys open between calls: a local folder keeps
        recently read files open, so that a read costs one ``pread``. A key
        deleted meanwhile may still read its old bytes, never another key's.
        """
        return self.get_ranges(requests)

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` exists (as an object, not as a prefix)."""

    @abstractmethod
    def list_dir(self, prefix: str) -> list[str]:
        """Names directly below ``prefix`` (``""``: the root): objects and non-empty prefixes, sorted.

        Returns ``[]`` if nothing is there. On object stores this is one listing
        request per 1,000 names.
        """

    @abstractmethod
    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        """Every key below ``prefix`` (recursively) with its size in bytes, sorted by key."""

    # -- writing -----------------------------------------------------------------

    @abstractmethod
    def put(self, key: str, data: bytes | memoryview) -> None:
        """Write ``key`` (creating or overwriting it).

        For objects that only this writer refers to (the data of an import in
        progress). Not durable on its own on a local folder: call :meth:`sync`.
        """

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist; True if this call created it.

        Atomic (readers see all of ``data`` or nothing) and durable once it returns.
        """

    @abstractmethod
    def replace(self, key: str, data: bytes, version: str) -> bool:
        """Rewrite ``key`` only if it still holds ``version``; True if it did.

        False when the key changed or vanished since it was read. Atomic and
        durable once it returns.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete ``key``; nothing happens if it does not exist."""

    @abstractmethod
    def delete_if(self, key: str, version: str) -> bool:
        """Delete ``key`` only if it still holds ``version``; True if it did."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key below ``prefix``; return the bytes freed."""
        self._check_writable(prefix)
        freed = 0
        for key, size in self.list_keys(prefix):
            self.delete(key)
            freed += size
        return freed

    def sync(self) -> None:  # noqa: B027  (a no-op where writes are durable when they return)
        """Make every :meth:`put` since the last call durable (local folders: fsync files and folders)."""

    # -- leases ------------------------------------------------------------------

    @abstractmethod
    def claim(self, key: str, data: bytes) -> Lease | None:
        """Create ``key`` exclusively and keep it alive until the lease is released.

        Returns None if ``key`` exists. While the lease is held,
        :meth:`is_alive` is true for ``key`` in every process (in this process
        only, where ``multiprocess_safe`` is false).
        """

    @abstractmethod
    def is_alive(self, key: str) -> bool:
        """Whether a lease from :meth:`claim` holds ``key`` (its holder lives and has not released it)."""

    # -- life --------------------------------------------------------------------

    @abstractmethod
    def zarr_store(self) -> Store:
        """A zarr store over the same root (read-only if the backend is), for browsing with plain zarr."""

    def close(self) -> None:  # noqa: B027  (nothing to release for most backends)
        """Release what the backend holds (open folders, a zip file written out)."""
