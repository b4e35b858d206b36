"""Zarr stores for the store benchmarks: a store with a fixed latency per request, counting its requests.

:class:`LatencyStore` wraps any zarr v3 store (a ``MemoryStore``, a ``LocalStore``
...) and makes every *read request* wait ``latency`` seconds (``await
asyncio.sleep``) before it is passed on, on the event loop the store runs on
(zarr's own loop when wildzarr calls it), so that concurrent requests wait
concurrently, as requests to an object store do. What counts as one request:

- ``get`` (a whole value or one byte range): one request;
- ``get_partial_values``: one request **per range**, all waiting at once
  (``asyncio.gather`` of one ``get`` per range), not one wait per call;
- ``exists``, ``is_empty`` and each listing (``list``, ``list_prefix``,
  ``list_dir``): one request each (a listing waits once, before its first name);
- ``getsize``: zarr's default, a ``get`` of the value (one request).

Writes (``set``, ``delete`` ...) pass through without waiting and are not
counted: the benchmarks open their archives with ``mode="r"``. Opened with
``wildzarr.open(LatencyStore(store), mode="r")``, wildzarr treats it as a
latency-bound store (any zarr store other than a local folder or a
``MemoryStore``), so ``wildzarr.set_options(fetch_concurrency=...)`` applies.

The counts are shared by the copies zarr makes of the store
(``with_read_only``); read them with :meth:`LatencyStore.counting`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Self

from zarr.abc.store import ByteRequest, Store
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import WrapperStore

__all__ = ["LatencyStore"]


class LatencyStore(WrapperStore[Store]):
    """``store`` with ``latency`` seconds of waiting before every read request, and a count of them.

    Parameters
    ----------
    store : zarr.abc.store.Store
        The store holding the data.
    latency : float
        Seconds each request waits (default 0.020: 20 ms, a round trip to a
        nearby object store).

    Attributes
    ----------
    counts : collections.Counter
        Requests so far by kind (``"get"``, ``"exists"``, ``"list"`` ...);
        ``get_partial_values`` counts one ``"get"`` per range.
    """

    def __init__(self, store: Store, latency: float = 0.020, *, counts: Counter[str] | None = None) -> None:
        super().__init__(store)
        self.latency = float(latency)
        self.counts: Counter[str] = Counter() if counts is None else counts
        self._lock = threading.Lock()

    def _with_store(self, store: Store) -> Self:
        return type(self)(store, self.latency, counts=self.counts)

    def __str__(self) -> str:
        return f"latency-{self.latency * 1e3:g}ms-{self._store}"

    def __repr__(self) -> str:
        return f"LatencyStore({self._store!r}, latency={self.latency})"

    @property
    def requests(self) -> int:
        """Read requests counted so far."""
        with self._lock:
            return sum(self.counts.values())

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        """The requests made inside the ``with`` block, by kind (filled in when the block ends)."""
        with self._lock:
            before = Counter(self.counts)
        result: Counter[str] = Counter()
        try:
            yield result
        finally:
            with self._lock:
                result.update(self.counts - before)

    async def _wait(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1
        await asyncio.sleep(self.latency)

    # -- reads: each waits ---------------------------------------------------------------------

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        await self._wait("get")
        return await self._store.get(key, prototype, byte_range)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(key, prototype, rng) for key, rng in key_ranges)))

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncGenerator[tuple[str, Buffer | None], None]:
        for key, prototype, byte_range in requests:
            yield key, await self.get(key, prototype, byte_range)

    async def exists(self, key: str) -> bool:
        await self._wait("exists")
        return await self._store.exists(key)

    async def is_empty(self, prefix: str) -> bool:
        await self._wait("list")
        return await self._store.is_empty(prefix)

    async def _listing(self, names: AsyncIterator[str]) -> AsyncIterator[str]:
        await self._wait("list")
        async for name in names:
            yield name

    def list(self) -> AsyncIterator[str]:
        return self._listing(self._store.list())

    def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        return self._listing(self._store.list_prefix(prefix))

    def list_dir(self, prefix: str) -> AsyncIterator[str]:
        return self._listing(self._store.list_dir(prefix))
