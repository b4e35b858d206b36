"""Writing a DAS store: a Zarr format 2 group or an npy_dir folder, complete at its path or absent."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path

import numcodecs  # type: ignore[import-untyped]
import numpy as np
import zarr

from wildzarr import das  # for das.CHUNK_ROWS, looked up when used (see das/__init__.py)
from wildzarr.das.files import fsync_tree, publish, remove
from wildzarr.das.plan import Y_DTYPE, DasPlan
from wildzarr.errors import ArgumentError, StorageError

__all__ = ["DasWriter"]

#: DAS's compressor: zarr-python 2's default for format 2 arrays.
_COMPRESSOR = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


class DasWriter:
    """A DAS store written into a temporary folder beside its path and renamed to it when complete.

    Write every split with :meth:`write_split`, in ``plan.splits`` order, then
    :meth:`commit`; :meth:`abort` removes what was written.
    """

    def __init__(self, path: Path, layout: str, plan: DasPlan, *, temp: Path | None = None) -> None:
        self.path = path
        self.layout = layout
        self.plan = plan
        self.temp = temp if temp is not None else path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
        remove(self.temp)
        self._written: list[str] = []
        try:
            self.temp.mkdir(parents=False)
            if layout == "zarr":
                self._group = zarr.open_group(str(self.temp), mode="w", zarr_format=2)
                self._group.attrs.update(plan.attrs())
            else:
                np.save(self.temp / "attrs.npy", np.array(plan.attrs(), dtype=object), allow_pickle=True)
        except OSError as exc:
            remove(self.temp)
            raise StorageError(f"{self.temp}: cannot write: {exc.strerror or exc}", str(self.temp)) from exc

    def write_split(self, split: str, blocks: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Write ``split``'s ``x`` and ``y`` from ``(x, y)`` blocks that fill it exactly, in order.

        Raises ArgumentError if the blocks hold more or fewer samples than the plan's clips.
        """
        plan = self.plan
        length = plan.length(split)
        shapes = {"x": (length, plan.channels), "y": (length, 1 + len(plan.classes))}
        dtypes = {"x": plan.x_dtype, "y": Y_DTYPE}
        try:
            if self.layout == "zarr":
                filled = self._write_zarr(split, shapes, dtypes, blocks)
            else:
                filled = self._write_npy(split, shapes, dtypes, blocks)
        except OSError as exc:
            raise StorageError(
                f"{self.temp}: cannot write {split}: {exc.strerror or exc}", str(self.temp)
            ) from exc
        if filled != length:
            raise ArgumentError(f"split {split!r}: got {filled} samples for its {length}")
        self._written.append(split)

    def _write_zarr(
        self,
        split: str,
        shapes: dict[str, tuple[int, int]],
        dtypes: dict[str, np.dtype],
        blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    ) -> int:
        """Arrays of chunk :data:`CHUNK_ROWS` rows, written chunk by chunk through one buffer each."""
        length = shapes["x"][0]
        rows = min(das.CHUNK_ROWS, max(length, 1))
        arrays = {
            name: self._group.create_array(
                f"{split}/{name}",
                shape=shape,
                chunks=(rows, shape[1]),
                dtype=dtypes[name],
                compressors=_COMPRESSOR,
                fill_value=0,
                config={"write_empty_chunks": True},
            )
            for name, shape in shapes.items()
        }
        buffers = {name: np.zeros((rows, shape[1]), dtype=dtypes[name]) for name, shape in shapes.items()}
        done = held = 0  # rows written, rows in the buffers
        for x, y in blocks:
            at = 0
            while at < len(x):
                take = min(rows - held, len(x) - at)
                if done + held + take > length:
                    return done + held + len(x) - at
                buffers["x"][held : held + take] = x[at : at + take]
                buffers["y"][held : held + take] = y[at : at + take]
                held += take
                at += take
                if held == rows:
                    for name, array in arrays.items():
                        array[done : done + rows] = buffers[name]
                    done, held = done + rows, 0
        if held:
            for name, array in arrays.items():
                array[done : done + held] = buffers[name][:held]
        return done + held

    def _write_npy(
        self,
        split: str,
        shapes: dict[str, tuple[int, int]],
        dtypes: dict[str, np.dtype],
        blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    ) -> int:
        """``<split>/x.npy`` and ``y.npy`` (npy format 1.0), filled in place through memory maps."""
        folder = self.temp / split
        folder.mkdir()
        length = shapes["x"][0]
        if length == 0:
            for name, shape in shapes.items():
                np.save(folder / f"{name}.npy", np.zeros(shape, dtype=dtypes[name]))
            return sum(len(x) for x, _ in blocks)
        maps = {
            name: np.lib.format.open_memmap(
                folder / f"{name}.npy", mode="w+", dtype=dtypes[name], shape=shape
            )
            for name, shape in shapes.items()
        }
        try:
            done = 0
            for x, y in blocks:
                if done + len(x) > length:
                    return done + len(x)
                maps["x"][done : done + len(x)] = x
                maps["y"][done : done + len(x)] = y
                done += len(x)
            for array in maps.values():
                array.flush()
        finally:
            maps.clear()  # unmaps the files
        return done

    def commit(self) -> Path:
        """fsync everything and rename the temporary folder to the path; returns the path.

        Raises
        ------
        ArgumentError
            If a split of the plan was not written, or the path appeared meanwhile.
        StorageError
            If the disk fails.
        """
        missing = [s for s in self.plan.splits if s not in self._written]
        if missing:
            self.abort()
            raise ArgumentError(f"splits {missing} were not written")
        fsync_tree(self.temp)
        if not publish(self.temp, self.path):
            raise ArgumentError(f"{self.path}: was created by someone else meanwhile")
        return self.path

    def abort(self) -> None:
        """Remove the temporary folder."""
        remove(self.temp)
