"""Training data for DAS, the "deep audio segmenter" (janclemenslab/das): audio ``x``, labels ``y``.

The layout is the one DAS's loader reads (``das.io.load`` of das 0.32 and its
``das.npy_dir`` module; ``das.make_dataset.init_store`` writes the same
fields)::

    data.zarr/ or data.npy/           das.io.load picks the reader by this ending
        train/x   (samples, channels)  the clips of the split, one after the other, in clip order
        train/y   (samples, 1 + classes) float32, 1 where a class is active; column 0 "noise"
        val/x, val/y, test/x, test/y   the same for every other split
        attrs: samplerate_x_Hz, samplerate_y_Hz, class_names, class_types,
               filename_<split>, filename_startsample_<split>, filename_endsample_<split>

``layout="zarr"`` writes a Zarr **format 2** group (attributes in ``.zattrs``):
das 0.32 requires ``zarr<3`` and opens the store with zarr-python 2's
``DirectoryStore``, which reads format 2 only. ``layout="npy_dir"`` writes a
folder per split holding ``x.npy`` and ``y.npy`` and the attributes as a
pickled dict in ``attrs.npy`` (``das.npy_dir.save``/``load``). See docs/das.md.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

import numcodecs  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import zarr

from wildzarr import labels
from wildzarr._version import __version__
from wildzarr.errors import ArgumentError, RangeError, StorageError

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = [
    "DTYPES",
    "LAYOUTS",
    "NOISE",
    "Y_DTYPE",
    "DasPlan",
    "DasWriter",
    "check_das_path",
    "fsync_tree",
    "plan_das",
    "publish",
    "read_blocks",
    "write_das",
]

#: Layouts :func:`write_das` writes, and the ending das.io.load wants for each.
LAYOUTS = {"zarr": ".zarr", "npy_dir": ".npy"}
#: ``"stored"``: the recordings' own sample dtype; ``"float32"``: scaled to [-1, 1).
DTYPES = ("stored", "float32")
#: DAS's name of class 0, active where no other class is (das.make_dataset.infer_class_info).
NOISE = "noise"
#: dtype of ``y``: DAS treats its columns as class probabilities (its loaders cast them to float32).
Y_DTYPE = np.dtype(np.float32)
#: Splits in the order they are written when none are named; others follow, sorted.
SPLIT_ORDER = ("train", "val", "test")
#: Rows per Zarr chunk: ``chunk_len`` of das.make_dataset.init_store.
CHUNK_ROWS = 1_000_000
#: Bytes of samples one read_many batch may return (memory stays a few times this).
BATCH_BYTES = 64 * 2**20
#: Bytes the working arrays of one mask computation may take (about 16 per sample and class).
MASK_BYTES = 32 * 2**20
#: DAS's compressor: zarr-python 2's default for format 2 arrays.
_COMPRESSOR = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


class ClipTable(Protocol):
    """What :func:`write_das` needs of a clip table (:class:`wildzarr.clips.Clips`)."""

    @property
    def df(self) -> pd.DataFrame: ...

    @property
    def archive(self) -> Archive: ...

    @property
    def classes(self) -> list[str]: ...


class AnnotationTable(Protocol):
    """What :func:`write_das` needs of annotations (:class:`wildzarr.annotations.AnnotationSet`)."""

    @property
    def df(self) -> pd.DataFrame: ...

    @property
    def classes(self) -> Mapping[str, str]: ...


# -- durable files -----------------------------------------------------------------------------------


def fsync_tree(path: Path) -> None:
    """fsync every file and folder below ``path`` (and ``path``): all of it is on disk afterwards.

    Raises StorageError naming the path that failed.
    """
    try:
        for folder, _, files in os.walk(path):
            for name in files:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            _fsync_folder(Path(folder))
    except OSError as exc:
        raise StorageError(f"{path}: cannot write to disk: {exc.strerror or exc}", str(path)) from exc


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(temp: Path, final: Path) -> bool:
    """Rename the complete, fsynced ``temp`` to ``final`` and fsync its folder: all or nothing.

    Returns False, removing ``temp``, when ``final`` exists already (another
    writer got there first); rename(2) is atomic, so ``final`` is never seen
    half written.
    """
    if final.exists():
        _remove(temp)
        return False
    try:
        os.rename(temp, final)
    except OSError as exc:
        if final.exists():  # ENOTEMPTY / EEXIST: lost a race to an equal result
            _remove(temp)
            return False
        raise StorageError(
            f"{final}: cannot rename {temp.name} to it: {exc.strerror or exc}", str(final)
        ) from exc
    try:
        _fsync_folder(final.parent)
    except OSError as exc:
        raise StorageError(
            f"{final.parent}: cannot write to disk: {exc.strerror or exc}", str(final)
        ) from exc
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# -- the plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DasPlan:
    """Everything fixed before the first byte is written: formats, classes and the clips of each split.

    Attributes
    ----------
    samplerate : int
        The recordings' stored sample rate, Hz.
    rate : int or float
        Samples per real second, ``samplerate * time_expansion`` (:mod:`wildzarr.timebase`):
        DAS's ``samplerate_x_Hz``.
    channels : int
        Channels of every clip.
    x_dtype : numpy.dtype
        dtype of ``x``.
    read_dtype : str or None
        The ``dtype`` of the reads (None: stored).
    classes : list of str
        The classes, without "noise": columns 1.. of ``y``.
    class_types : list of str
        ``"segment"`` or ``"event"`` per class.
    splits : dict
        Split name -> DataFrame of its clips (``recording``, ``start``, ``stop``), in clip order.
    names : dict
        Recording id -> its source file name.
    event_width : int
        Samples an event marks in ``y``, centred on it (:func:`wildzarr.labels.masks`).
    extra : dict
        More fields of the ``wildzarr`` attribute.
    """

    samplerate: int
    rate: int | float
    channels: int
    x_dtype: np.dtype
    read_dtype: str | None
    classes: list[str]
    class_types: list[str]
    splits: dict[str, pd.DataFrame]
    names: dict[int, str]
    event_width: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def length(self, split: str) -> int:
        """Samples of ``split``: the sum of its clips' lengths."""
        rows = self.splits[split]
        return int((rows["stop"] - rows["start"]).sum())

    def attrs(self) -> dict[str, Any]:
        """The store's attributes: DAS's fields, then ``wildzarr`` (where every clip came from).

        DAS's names and meanings: das.make_dataset.init_store (``samplerate_x_Hz``,
        ``samplerate_y_Hz``, ``class_names``, ``class_types``, and per split
        ``filename_<split>``, ``filename_startsample_<split>``,
        ``filename_endsample_<split>``: the source of each clip and the
        samples ``[start, end)`` of ``x`` it fills).
        """
        attrs: dict[str, Any] = {
            "samplerate_x_Hz": self.rate,
            "samplerate_y_Hz": self.rate,
            "class_names": [NOISE, *self.classes],
            "class_types": ["segment", *self.class_types],
        }
        clips: dict[str, Any] = {}
        for split, rows in self.splits.items():
            lengths = (rows["stop"] - rows["start"]).to_numpy(dtype=np.int64)
            ends = np.cumsum(lengths)
            attrs[f"filename_{split}"] = [self.names[int(r)] for r in rows["recording"]]
            attrs[f"filename_startsample_{split}"] = [int(v) for v in ends - lengths]
            attrs[f"filename_endsample_{split}"] = [int(v) for v in ends]
            clips[split] = {
                "recording": [int(v) for v in rows["recording"]],
                "start": [int(v) for v in rows["start"]],
                "stop": [int(v) for v in rows["stop"]],
            }
        attrs["wildzarr"] = {
            "version": __version__,
            "samplerate": self.samplerate,
            "x_dtype": self.x_dtype.name,
            "event_width": self.event_width,
            "clips": clips,
            **self.extra,
        }
        return attrs


def check_das_path(path: str | os.PathLike[str], layout: str) -> Path:
    """``path`` as a Path, checked: the ending das.io.load reads for ``layout``, not there yet.

    Raises
    ------
    ArgumentError
        For an unknown layout, the wrong ending (``.zarr`` for ``"zarr"``,
        ``.npy`` for ``"npy_dir"``: das.io.load dispatches on it), or an
        existing path.
    """
    if layout not in LAYOUTS:
        raise ArgumentError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, not {layout!r}")
    out = Path(path)
    if out.suffix != LAYOUTS[layout]:
        raise ArgumentError(
            f"{out}: a DAS {layout} store must end in {LAYOUTS[layout]!r} (das.io.load picks its reader "
            "by the ending)"
        )
    if out.exists() or out.is_symlink():
        raise ArgumentError(f"{out}: exists already; remove it or choose another path")
    return out


def plan_das(
    archive: Archive,
    clips: pd.DataFrame,
    classes: Sequence[str],
    class_types: Mapping[str, str],
    *,
    dtype: str = "stored",
    splits: Sequence[str] | None = None,
    event_width: int = 1,
    extra: dict[str, Any] | None = None,
) -> DasPlan:
    """Check a clip table for a DAS export and fix what will be written (reads recording documents only).

    Parameters
    ----------
    archive : Archive
    clips : pandas.DataFrame
        Columns ``recording``, ``start``, ``stop`` (samples) and optionally
        ``split`` (str); one row per clip, in the order the clips are written.
    classes : sequence of str
        The classes, in ``y``'s column order (after "noise").
    class_types : mapping
        Class -> ``"segment"`` or ``"event"``; every class must be in it.
    dtype : {"stored", "float32"}
        dtype of ``x``.
    splits : sequence of str, optional
        The splits to write, in order; default every split in the table
        (``train``, ``val``, ``test`` first), or ``["train"]`` without a
        ``split`` column. A split named but without clips is written empty.
    event_width : int
        Samples an event marks in ``y``, at least 1.
    extra : dict, optional
        More fields for the ``wildzarr`` attribute.

    Returns
    -------
    DasPlan

    Raises
    ------
    ArgumentError
        Missing columns, a class without type or named "noise", clips of
        recordings that differ in sample rate, time expansion or channels,
        recordings with different stored dtypes under ``dtype="stored"``, or
        an unknown dtype; the message names the clip's row and recording.
    RangeError
        A clip outside its recording (row and recording named).
    RecordingNotFoundError
        A clip of a recording that is not in the archive.
    """
    if dtype not in DTYPES:
        raise ArgumentError(f"dtype must be one of {', '.join(map(repr, DTYPES))}, not {dtype!r}")
    if isinstance(event_width, bool) or not isinstance(event_width, (int, np.integer)) or event_width < 1:
        raise ArgumentError(f"event_width must be an int >= 1 (samples), not {event_width!r}")
    missing = [c for c in ("recording", "start", "stop") if c not in clips.columns]
    if missing:
        raise ArgumentError(f"the clip table has no column {', '.join(map(repr, missing))}")
    classes = [str(c) for c in classes]
    types: list[str] = []
    for name in classes:
        if name == NOISE:
            raise ArgumentError(f"class {NOISE!r} is DAS's class 0 (no class active); rename that class")
        kind = class_types.get(name)
        if kind not in ("segment", "event"):
            raise ArgumentError(f"class {name!r} has no type 'segment' or 'event' in the annotations")
        types.append(str(kind))
    recordings, starts, stops = (_int_column(clips, name) for name in ("recording", "start", "stop"))
    if not len(recordings):
        raise ArgumentError("the clip table is empty: nothing to export")
    table = _split_table(
        clips, pd.DataFrame({"recording": recordings, "start": starts, "stop": stops}), splits
    )
    facts = _check_recordings(archive, recordings, starts, stops, dtype)
    first = facts[int(recordings[0])]
    rate = first.samplerate * first.time_expansion
    return DasPlan(
        samplerate=first.samplerate,
        rate=int(rate) if float(rate).is_integer() else float(rate),
        channels=first.channels,
        x_dtype=np.dtype(first.dtype) if dtype == "stored" else np.dtype(np.float32),
        read_dtype=None if dtype == "stored" else "float32",
        classes=classes,
        class_types=types,
        splits=table,
        names={rid: fact.name for rid, fact in facts.items()},
        event_width=int(event_width),
        extra=dict(extra or {}),
    )


def _split_table(
    clips: pd.DataFrame, rows: pd.DataFrame, splits: Sequence[str] | None
) -> dict[str, pd.DataFrame]:
    """Split name -> its ``rows`` (recording, start, stop), in clip order, by ``clips``' split column."""
    if "split" in clips.columns:
        labels_ = clips["split"].astype(object)
        bad = [i for i, v in enumerate(labels_) if not isinstance(v, str) or not v]
        if bad:
            raise ArgumentError(
                f"clip row {bad[0]}: split must be a non-empty str, not {labels_.iloc[bad[0]]!r}"
            )
        present = list(dict.fromkeys(labels_))
    else:
        labels_ = pd.Series(["train"] * len(clips), dtype=object)
        present = ["train"]
    if splits is None:
        names = [s for s in SPLIT_ORDER if s in present] + sorted(s for s in present if s not in SPLIT_ORDER)
    else:
        if isinstance(splits, str):
            raise ArgumentError(f"splits must be a sequence of split names, not the str {splits!r}")
        names = [str(s) for s in splits]
        if len(set(names)) != len(names) or not names:
            raise ArgumentError(f"splits must name each split once, not {list(splits)!r}")
    for name in names:
        if not name or "/" in name or name.startswith(".") or name == "attrs":
            raise ArgumentError(f"split {name!r} cannot name a folder of the store")
    values = labels_.to_numpy()
    return {name: rows[values == name].reset_index(drop=True) for name in names}


def _int_column(clips: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as int64 (ArgumentError naming the first row that is not an integer)."""
    column = clips[name]
    try:
        values = column.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentError(f"clip column {name!r} must hold integers") from None
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
    if len(bad):
        raise ArgumentError(f"clip row {bad[0]}: {name} must be an integer, not {column.iloc[bad[0]]!r}")
    return column.to_numpy().astype(np.int64)


class _Facts(NamedTuple):
    """What a DAS store needs to know of a recording."""

    samplerate: int
    time_expansion: float
    channels: int
    dtype: str  # stored sample dtype
    name: str  # source file name
    samples: int


def _check_recordings(
    archive: Archive, recordings: np.ndarray, starts: np.ndarray, stops: np.ndarray, dtype: str
) -> dict[int, _Facts]:
    """Facts of every clip's recording; every clip inside its recording, all alike (else the row is named)."""
    facts: dict[int, _Facts] = {}
    for row, (rid, start, stop) in enumerate(
        zip(recordings.tolist(), starts.tolist(), stops.tolist(), strict=True)
    ):
        if rid not in facts:
            rec = archive[rid]
            facts[rid] = _Facts(
                rec.samplerate,
                float(getattr(rec, "time_expansion", 1.0)),
                rec.channels,
                rec.info.stored_format().numpy_dtype.name,
                rec.info.source.name,
                rec.samples,
            )
        ours, first = facts[rid], facts[int(recordings[0])]
        if not 0 <= start <= stop <= ours.samples:
            raise RangeError(
                f"clip row {row} (recording {rid}): [{start}, {stop}) is not inside the recording's "
                f"samples [0, {ours.samples})"
            )
        if ours[:3] != first[:3]:
            raise ArgumentError(
                f"clip row {row} (recording {rid}): {ours.samplerate} Hz, time expansion "
                f"{ours.time_expansion:g}, {ours.channels} channels, but recording {recordings[0]} "
                f"(clip row 0) has {first.samplerate} Hz, time expansion {first.time_expansion:g}, "
                f"{first.channels} channels; a DAS store holds one sample rate and channel count"
            )
        if dtype == "stored" and ours.dtype != first.dtype:
            raise ArgumentError(
                f"clip row {row} (recording {rid}): stored as {ours.dtype}, but recording {recordings[0]} "
                f"as {first.dtype}; export with dtype='float32'"
            )
    return facts


# -- reading -----------------------------------------------------------------------------------------


def read_blocks(
    archive: Archive,
    plan: DasPlan,
    rows: pd.DataFrame,
    ann_df: pd.DataFrame,
    *,
    workers: Any = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(x, y)`` blocks of the clips in ``rows``, in order: their samples and their labels, clip after clip.

    Clips are read through :meth:`Archive.read_many` in batches of at most
    :data:`BATCH_BYTES` of samples (a longer clip in several pieces), so the
    memory used does not grow with the clips.

    Parameters
    ----------
    archive : Archive
    plan : DasPlan
        From :func:`plan_das`: dtype, channels and classes.
    rows : pandas.DataFrame
        ``recording``, ``start``, ``stop`` of the clips.
    ann_df : pandas.DataFrame
        Annotations as :attr:`AnnotationSet.df`.
    workers : int, executor or dask Client, optional
        As in :meth:`Archive.read_many`.

    Yields
    ------
    x : numpy.ndarray
        ``(n, channels)``, ``plan.x_dtype``: samples ``[a, a + n)`` of a clip's recording.
    y : numpy.ndarray
        ``(n, 1 + len(plan.classes))`` float32: :func:`wildzarr.labels.masks` of the same samples.
    """
    width = plan.channels * max(plan.x_dtype.itemsize, 4) + 4 * (1 + len(plan.classes))
    budget = max(1, BATCH_BYTES // width)
    piece = max(1, min(budget, MASK_BYTES // (16 * (1 + len(plan.classes)))))
    by_recording = {int(cast(Any, rid)): part for rid, part in ann_df.groupby("recording", sort=False)}
    empty = ann_df.iloc[0:0]
    batch: list[tuple[int, int, int]] = []
    size = 0
    for rid, start, stop in zip(rows["recording"], rows["start"], rows["stop"], strict=True):
        for a in range(int(start), int(stop), piece):
            b = min(a + piece, int(stop))
            batch.append((int(rid), a, b))
            size += b - a
            if size >= budget:
                yield from _read_batch(archive, plan, batch, by_recording, empty, workers)
                batch, size = [], 0
    if batch:
        yield from _read_batch(archive, plan, batch, by_recording, empty, workers)


def _read_batch(
    archive: Archive,
    plan: DasPlan,
    batch: list[tuple[int, int, int]],
    by_recording: Mapping[int, pd.DataFrame],
    empty: pd.DataFrame,
    workers: Any,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    samples = archive.read_many(batch, dtype=plan.read_dtype, workers=workers)
    for (rid, a, b), x in zip(batch, samples, strict=True):
        y = labels.masks(by_recording.get(rid, empty), plan.classes, rid, a, b, event_width=plan.event_width)
        yield x, np.asarray(y, dtype=Y_DTYPE)


# -- writing -----------------------------------------------------------------------------------------


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
        _remove(self.temp)
        self._written: list[str] = []
        try:
            self.temp.mkdir(parents=False)
            if layout == "zarr":
                self._group = zarr.open_group(str(self.temp), mode="w", zarr_format=2)
                self._group.attrs.update(plan.attrs())
            else:
                np.save(self.temp / "attrs.npy", np.array(plan.attrs(), dtype=object), allow_pickle=True)
        except OSError as exc:
            _remove(self.temp)
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
        rows = min(CHUNK_ROWS, max(length, 1))
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
        _remove(self.temp)


def write_das(
    clips: ClipTable,
    path: str | os.PathLike[str],
    ann: AnnotationTable,
    *,
    layout: str = "zarr",
    dtype: str = "stored",
    splits: Sequence[str] | None = None,
    workers: Any = None,
    event_width: int = 1,
) -> Path:
    """Write a clip table as DAS training data: ``x`` the clips' samples, ``y`` their per-sample labels.

    The clips of each split are concatenated along time in clip order
    (``clips.df`` row order); ``y`` is :func:`wildzarr.labels.masks` of the
    annotations over the same samples, as float32 (column 0 "noise": 1 where
    no class is active; a sample in two classes has both columns 1). Memory
    stays bounded (about :data:`BATCH_BYTES` plus one Zarr chunk): samples are
    read through :meth:`Archive.read_many` in batches and streamed into the
    store. The store appears at ``path`` complete or not at all (written
    beside it and renamed).

    Parameters
    ----------
    clips : Clips
        ``clips.df`` with ``recording``, ``start``, ``stop`` (samples) and
        optionally ``split``; ``clips.classes`` the classes of ``y`` (all of
        ``ann.classes`` when empty).
    path : str or os.PathLike
        Ends in ``.zarr`` (layout "zarr") or ``.npy`` (layout "npy_dir"), as
        das.io.load requires; must not exist.
    ann : AnnotationSet
        ``ann.df`` gives the labels, ``ann.classes`` each class's type
        (``class_types``: "segment" or "event").
    layout : {"zarr", "npy_dir"}
        A Zarr format 2 group (das 0.32 reads format 2 only: it needs
        ``zarr<3``), or DAS's folder of ``.npy`` files.
    dtype : {"stored", "float32"}
        ``x`` in the recordings' stored sample dtype (int16 for 16-bit FLAC;
        every clip's must be the same), or float32 scaled to [-1, 1). Never
        float16 (DAS's own default), which loses bits of 16-bit audio.
    splits : sequence of str, optional
        The splits to write; default every split of ``clips.df`` (train, val,
        test first), or all clips as "train" without a ``split`` column.
    workers : int, executor or dask Client, optional
        Passed to :meth:`Archive.read_many`.
    event_width : int
        Samples an event marks in ``y``, centred on it (DAS's
        ``events_to_probabilities`` uses 61); 1 marks the event's sample.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ArgumentError
        A bad path, layout, dtype or split; clips that differ in sample
        rate, time expansion or channels (the clip's row and recording are
        named), or in stored dtype under ``dtype="stored"``.
    RangeError
        A clip outside its recording.
    RecordingNotFoundError
        A clip of a recording not in the archive.
    StorageError
        The disk failed; nothing is left at ``path``.
    """
    out = check_das_path(path, layout)
    classes = list(clips.classes) or list(ann.classes)
    plan = plan_das(
        clips.archive, clips.df, classes, ann.classes, dtype=dtype, splits=splits, event_width=event_width
    )
    writer = DasWriter(out, layout, plan)
    try:
        for split, rows in plan.splits.items():
            writer.write_split(split, read_blocks(clips.archive, plan, rows, ann.df, workers=workers))
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
