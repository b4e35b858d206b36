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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from wildzarr.das.files import fsync_tree, publish
from wildzarr.das.plan import DTYPES, LAYOUTS, NOISE, Y_DTYPE, DasPlan, check_das_path, plan_das
from wildzarr.das.read import read_blocks
from wildzarr.das.writer import DasWriter

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

# Sizes that bound memory and chunks. read_blocks and DasWriter look them up here each time they run,
# so a value set on the package (wildzarr.das.CHUNK_ROWS = ...) takes effect.
#: Rows per Zarr chunk: ``chunk_len`` of das.make_dataset.init_store.
CHUNK_ROWS = 1_000_000
#: Bytes of samples one read_many batch may return (memory stays a few times this).
BATCH_BYTES = 64 * 2**20
#: Bytes the working arrays of one mask computation may take (about 16 per sample and class).
MASK_BYTES = 32 * 2**20


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
