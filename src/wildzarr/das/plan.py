"""The plan of a DAS store: a clip table checked, and everything fixed before the first byte is written.

:func:`plan_das` checks the clips against their recordings (inside them, one
sample rate, time expansion and channel count) and groups them by split;
:class:`DasPlan` holds the result and gives the store's attributes.
:func:`check_das_path` checks the store's path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from wildzarr._version import __version__
from wildzarr.errors import ArgumentError, RangeError

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = [
    "DTYPES",
    "LAYOUTS",
    "NOISE",
    "SPLIT_ORDER",
    "Y_DTYPE",
    "DasPlan",
    "check_das_path",
    "plan_das",
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
