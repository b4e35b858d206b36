"""Any other zarr v3 store (memory, zip, a user's own store) as a backend.

Calls go through the store's asynchronous API on zarr's event loop
(``zarr.core.sync.sync``). The many-writer primitives are atomic within one
process only (:mod:`wildzarr.storage._inprocess`): zarr's ``set_if_not_exists``
does not report whether it created the key (NOTES, "Atomic create in zarr's
stores").
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable, Iterable, Sequence
from typing import Any, TypeVar, cast

from zarr.abc.store import RangeByteRequest, Store
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import MemoryStore, WrapperStore, ZipStore

from wildzarr.errors import StorageError
from wildzarr.storage._inprocess import InProcessBackend, shared_state
from wildzarr.storage.base import check_key, check_range, join, storage_error

__all__ = ["ZarrStoreBackend"]

_T = TypeVar("_T")


def _identity(store: Store) -> Hashable:
    """What two store objects over the same data share, for the process-wide lock.

    ``MemoryStore.with_read_only`` makes a new object over the same dict, named
    by ``str`` (``memory://<id of the dict>``); zip stores are named by their
    path; any other store by the object itself.
    """
    if isinstance(store, MemoryStore):
        return ("memory", str(store))
    if isinstance(store, ZipStore):
        return ("zip", os.path.realpath(store.path))
    return ("store", id(store))


class _ReadOnlyView(WrapperStore[Store]):
    """A read-only view of a store whose type has no ``with_read_only`` (ZipStore in zarr 3.1).

    Writes raise zarr's own read-only error; closing the view leaves the
    store open (its backend owns it).
    """

    @property
    def read_only(self) -> bool:
        return True

    def _check_writable(self) -> None:
        raise ValueError("store was opened in read-only mode and does not support writing")

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._check_writable()

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        self._check_writable()

    async def delete(self, key: str) -> None:
        self._check_writable()

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()

    async def clear(self) -> None:
        self._check_writable()

    def close(self) -> None:
        """Leave the wrapped store open."""


async def _collect(names: AsyncIterator[str]) -> list[str]:
    return [name async for name in names]


class ZarrStoreBackend(InProcessBackend):
    """The keys below ``root`` of a zarr store.

    Parameters
    ----------
    store : zarr.abc.store.Store
        The store (opened on first use if it is not).
    root : str
        A key prefix inside the store (``""``: the whole store).
    read_only : bool
        Refuse every write with ReadOnlyError (also implied by a read-only store).
    owns_store : bool
        Whether :meth:`close` closes the store (a zip file is written out then).

    Notes
    -----
    Stores that cannot delete (``supports_deletes`` false: zip files) refuse
    ``delete``, ``delete_if`` and ``delete_prefix`` with StorageError; they
    can rewrite a key, which a zip file does by appending a second member
    (write once, read many). Pickles to the store and its settings, except
    that a writable zip store is reopened read-only (reopening it for writing
    would truncate the file): close the writer before sharing a zip archive.
    """

    def __init__(
        self, store: Store, root: str = "", *, read_only: bool = False, owns_store: bool = False
    ) -> None:
        self.store = store
        self.root = root.strip("/")
        self.read_only = read_only or store.read_only
        self.owns_store = owns_store
        self.latency_bound = not isinstance(store, MemoryStore)
        # A MemoryStore's read coroutines never wait: they run in the calling thread (_read_now).
        self._eager = type(store) is MemoryStore
        self._state = shared_state(_identity(store))
        self._run("", store._ensure_open())

    def __getstate__(self) -> dict[str, Any]:
        state = {"store": self.store, "root": self.root, "read_only": self.read_only}
        state["owns_store"] = self.owns_store
        if isinstance(self.store, ZipStore) and not self.store.read_only:
            state.update(store=ZipStore(self.store.path, mode="r"), read_only=True, owns_store=True)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def describe(self, key: str = "") -> str:
        return "/".join(part for part in (str(self.store).rstrip("/"), self._key(key)) if part)

    def zarr_store(self) -> Store:
        """The store itself (read-only if the backend is); ``root`` is a prefix inside it."""
        if self.read_only and not self.store.read_only:
            try:
                return self.store.with_read_only(True)
            except NotImplementedError:
                return _ReadOnlyView(self.store)
        return self.store

    def close(self) -> None:
        if self.owns_store:
            self.store.close()

    def _key(self, key: str) -> str:
        return join(self.root, key)

    def _run(self, key: str, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a store coroutine; failures of the store become StorageError naming ``key``."""
        try:
            return sync(coro)
        except OSError as exc:
            raise storage_error(exc, self.describe(key)) from exc
        except (NotImplementedError, ValueError, RuntimeError) as exc:
            where = self.describe(key)
            raise StorageError(f"{where}: {type(exc).__name__}: {exc}", where) from exc

    def _read_now(self, key: str, make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """Run a read coroutine of a MemoryStore in this thread, without zarr's event loop.

        A MemoryStore's reads never wait on anything, so their coroutines finish
        at the first step; handing them to zarr's loop thread and back would cost
        more than the read (about 50 us). A coroutine that does suspend (another
        store type, a future zarr) is closed and run again on the loop.
        """
        if self._eager:
            coro = make()
            try:
                coro.send(None)
            except StopIteration as done:
                return cast(_T, done.value)
            except OSError as exc:
                raise storage_error(exc, self.describe(key)) from exc
            except (NotImplementedError, ValueError, RuntimeError, KeyError, TypeError) as exc:
                where = self.describe(key)
                raise StorageError(f"{where}: {type(exc).__name__}: {exc}", where) from exc
            coro.close()
        return self._run(key, make())

    def _check_deletable(self, key: str) -> None:
        self._check_writable(key)
        if not self.store.supports_deletes:
            where = self.describe(key)
            if isinstance(self.store, ZipStore):
                reason = "zip archives are write-once: a member cannot be removed from a zip file"
            else:
                reason = f"{type(self.store).__name__} does not support deletes"
            raise StorageError(f"{where}: cannot delete: {reason}", where)

    # -- reading -------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        path = self._key(check_key(key))
        buffer = self._read_now(key, lambda: self.store.get(path, default_buffer_prototype()))
        return None if buffer is None else buffer.to_bytes()

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        check_range(start, stop)
        request = RangeByteRequest(start, stop)
        path = self._key(check_key(key))
        buffer = self._read_now(key, lambda: self.store.get(path, default_buffer_prototype(), request))
        return None if buffer is None else buffer.to_bytes()

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        """One ``get_partial_values`` call (concurrent where the store is); a MemoryStore's in this thread."""
        for key, start, stop in requests:
            check_key(key)
            check_range(start, stop)
        if self._eager:
            return [self.get_range(key, start, stop) for key, start, stop in requests]
        ranges = [(self._key(key), RangeByteRequest(start, stop)) for key, start, stop in requests]
        buffers = self._run("", self.store.get_partial_values(default_buffer_prototype(), ranges))
        return [None if buffer is None else buffer.to_bytes() for buffer in buffers]

    def exists(self, key: str) -> bool:
        return bool(self._run(key, self.store.exists(self._key(check_key(key)))))

    def list_dir(self, prefix: str) -> list[str]:
        base = self._key(check_key(prefix) if prefix else "")
        names = self._run(prefix, _collect(self.store.list_dir(base)))
        return sorted({name.strip("/") for name in names} - {""})

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        """Keys and sizes (``Store.getsize``: a read of each value where the store has nothing better)."""
        base = self._key(check_key(prefix) if prefix else "")
        below = f"{base}/" if base else ""
        names = self._run(prefix, _collect(self.store.list_prefix(below)))
        skip = len(f"{self.root}/") if self.root else 0
        keys = sorted({name[skip:] for name in names if not name.endswith("/")})
        return [(key, int(self._run(key, self.store.getsize(self._key(key))))) for key in keys]

    # -- writing -------------------------------------------------------------------

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._check_writable(check_key(key))
        buffer = default_buffer_prototype().buffer.from_bytes(bytes(data))
        self._run(key, self.store.set(self._key(key), buffer))

    def delete(self, key: str) -> None:
        self._check_deletable(check_key(key))
        self._run(key, self.store.delete(self._key(key)))

    def delete_if(self, key: str, version: str) -> bool:
        self._check_deletable(check_key(key))
        return super().delete_if(key, version)

    def delete_prefix(self, prefix: str) -> int:
        self._check_deletable(prefix)
        freed = sum(size for _, size in self.list_keys(prefix))
        self._run(prefix, self.store.delete_dir(self._key(check_key(prefix) if prefix else "")))
        return freed
