"""Reading a clip table: ranges, class columns and labels, the channel column, background clips."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from wildzarr.errors import ArgumentError

__all__ = [
    "CLIP_COLUMNS",
    "background_clips",
    "class_columns",
    "class_labels",
    "clip_ranges",
    "index_target",
    "row_channels",
]

#: Columns of a clip table that are neither classes nor metadata by default.
CLIP_COLUMNS = ("recording", "start", "stop", "channel", "split")


def _integers(df: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in df.columns:
        raise ArgumentError(f"{what} has no {column!r} column (columns: {list(df.columns)})")
    values = df[column]
    if not (pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any()):
        raise ArgumentError(f"{what}: column {column!r} must hold integers without missing values")
    return values.to_numpy(dtype=np.int64)


def clip_ranges(df: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``recording``, ``start``, ``stop`` as int64 arrays and the common clip length."""
    recording = _integers(df, "recording", what)
    start, stop = _integers(df, "start", what), _integers(df, "stop", what)
    if len(df) == 0:
        return recording, start, stop, 0
    lengths = stop - start
    window = int(lengths[0])
    bad = np.flatnonzero((lengths != window) | (start < 0) | (lengths <= 0))
    if len(bad):
        k = int(bad[0])
        raise ArgumentError(
            f"{what}: row {df.index[k]!r} (recording {recording[k]}) is [{start[k]}, {stop[k]}); every clip "
            f"must start at 0 or later and hold {window} samples like the first (clips of one length batch)"
            if window > 0
            else f"{what}: row {df.index[0]!r} (recording {recording[0]}) is empty: [{start[0]}, {stop[0]})"
        )
    return recording, start, stop, window


def class_columns(df: pd.DataFrame, classes: Sequence[str] | None) -> tuple[str, ...]:
    """The class columns: ``classes`` checked, else every uint8 or bool column but :data:`CLIP_COLUMNS`."""
    if classes is None:
        return tuple(
            str(c)
            for c in df.columns
            if c not in CLIP_COLUMNS and (df[c].dtype == np.uint8 or pd.api.types.is_bool_dtype(df[c].dtype))
        )
    names = tuple(classes)
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise ArgumentError(f"classes {missing} are not columns of the clips (columns: {list(df.columns)})")
    if len(set(names)) != len(names):
        raise ArgumentError(f"classes names a class twice: {list(names)}")
    return names


def class_labels(df: pd.DataFrame, classes: tuple[str, ...]) -> np.ndarray:
    """The class columns as uint8 ``(clips, classes)``; ArgumentError naming a row with a value not 0/1."""
    if not classes:
        return np.zeros((len(df), 0), dtype=np.uint8)
    frame = df[list(classes)]
    if frame.isna().to_numpy().any():
        raise ArgumentError(f"class columns {list(classes)} hold missing values")
    values = frame.to_numpy()
    bad = np.argwhere((values != 0) & (values != 1))
    if len(bad):
        k, c = (int(x) for x in bad[0])
        raise ArgumentError(
            f"clips: row {df.index[k]!r}, class {classes[c]!r} is {values[k, c].item()!r}, not 0 or 1"
        )
    return values.astype(np.uint8)


def index_target(df: pd.DataFrame, labels: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """The position of each clip's one class, int64 (``target="index"``)."""
    counts = labels.sum(axis=1, dtype=np.int64)
    bad = np.flatnonzero(counts != 1)
    if len(bad):
        k = int(bad[0])
        raise ArgumentError(
            f'target="index" needs exactly one class per clip: row {df.index[k]!r} has {counts[k]} '
            f'of {list(classes)} (use target="multihot")'
        )
    return labels.argmax(axis=1).astype(np.int64)


def row_channels(df: pd.DataFrame, what: str) -> np.ndarray | None:
    """The ``channel`` column as int64 (None when absent or all ``<NA>``: every channel)."""
    if "channel" not in df.columns or df["channel"].isna().all():
        return None
    values = df["channel"]
    if values.isna().any():
        k = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ArgumentError(
            f"{what}: row {df.index[k]!r} has channel <NA> (every channel) beside one-channel rows; the "
            "clips of a batch need one shape"
        )
    if not pd.api.types.is_integer_dtype(values.dtype) or (values < 0).any():
        raise ArgumentError(f"{what}: the channel column must hold channel indexes (integers >= 0)")
    return values.to_numpy(dtype=np.int64)


def background_clips(background: Any, window: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The background clips as int64 rows ``(recording, start, stop)`` and their channels (or None)."""
    if background is None:
        return None, None
    df = background if isinstance(background, pd.DataFrame) else getattr(background, "df", None)
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"background must be Clips or a DataFrame, not {type(background).__name__}")
    recording, start, stop, length = clip_ranges(df, "background")
    if len(df) == 0:
        raise ArgumentError("background holds no clips")
    if length != window:
        raise ArgumentError(f"background clips hold {length} samples, the clips {window}: they must match")
    return np.stack([recording, start, stop], axis=1), row_channels(df, "background")
