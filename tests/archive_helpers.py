"""Helpers for archive tests: store snapshots and a store wrapper that counts the bytes it serves."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import MemoryStore, WrapperStore


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root`` with the sha256 of its content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def expected_values(data: np.ndarray) -> np.ndarray:
    """What a read returns for an integer array source: 2-D, uint8 shifted to signed int16."""
    data = data.reshape(len(data), -1)
    if data.dtype == np.uint8:
        return data.astype(np.int16) - 128
    if data.dtype == np.int8:
        return data.astype(np.int16)
    return data


class CountingStore(WrapperStore[MemoryStore]):
    """A MemoryStore wrapper that counts the bytes and requests its ``get`` serves."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        super().__init__(store if store is not None else MemoryStore())
        self.bytes_read = 0
        self.requests = 0
        self.keys: list[str] = []

    def reset(self) -> None:
        self.bytes_read = 0
        self.requests = 0
        self.keys = []

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        result = await super().get(key, prototype, byte_range)
        self._count(key, result)
        return result

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        results = await super().get_partial_values(prototype, key_ranges)
        for (key, _), result in zip(key_ranges, results, strict=True):
            self._count(key, result)
        return results

    def _count(self, key: str, result: Buffer | None) -> None:
        self.requests += 1
        self.keys.append(key)
        if result is not None:
            self.bytes_read += len(result)
