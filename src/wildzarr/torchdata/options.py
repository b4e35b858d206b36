"""The options of a :class:`~wildzarr.torchdata.ClipDataset`, checked: outputs, target, channels, numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from wildzarr.errors import ArgumentError
from wildzarr.torchdata.spectrogram import Spectrogram

__all__ = [
    "OUTPUTS",
    "TARGETS",
    "check_annotations",
    "check_channels",
    "check_outputs",
    "check_spectrogram",
    "check_target",
    "db_range",
    "non_negative",
]

#: What an item may hold, in any order (the ``outputs`` argument).
OUTPUTS = ("audio", "spectrogram", "label", "mask", "meta")

#: Label encodings (the ``target`` argument); None means no label.
TARGETS = ("multihot", "index")


def check_target(target: str | None) -> str | None:
    if target is not None and target not in TARGETS:
        raise ArgumentError(f"target must be one of {TARGETS} or None, not {target!r}")
    return target


def check_outputs(outputs: str | Sequence[str] | None, target: str | None) -> tuple[tuple[str, ...], bool]:
    """The output names and whether an item is one value (``outputs`` a string) rather than a tuple."""
    if outputs is None:
        outputs = ("audio", "label") if target is not None else "audio"
    single = isinstance(outputs, str)
    names = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    if not names:
        raise ArgumentError("outputs must name at least one of " + ", ".join(OUTPUTS))
    for name in names:
        if name not in OUTPUTS:
            raise ArgumentError(f"outputs: {name!r} is not one of {OUTPUTS}")
    if len(set(names)) != len(names):
        raise ArgumentError(f"outputs names a value twice: {names}")
    if "label" in names and target is None:
        raise ArgumentError('outputs has "label" but target is None')
    return names, single


def check_channels(channels: int | Sequence[int] | None) -> list[int] | None:
    if channels is None:
        return None
    items = [channels] if isinstance(channels, (int, np.integer)) else list(channels)
    if not items or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 for c in items):
        raise ArgumentError(
            f"channels must be a channel index or a non-empty sequence of them, not {channels!r}"
        )
    return [int(c) for c in items]


def check_spectrogram(
    spectrogram: Callable[[torch.Tensor], torch.Tensor] | None, outputs: tuple[str, ...]
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if "spectrogram" not in outputs:
        if spectrogram is not None:
            raise ArgumentError('spectrogram= is given but outputs has no "spectrogram"')
        return None
    if spectrogram is None:
        return Spectrogram()
    if not callable(spectrogram):
        raise ArgumentError(f"spectrogram must be callable, not {type(spectrogram).__name__}")
    return spectrogram


def check_annotations(
    annotations: Any, outputs: tuple[str, ...], classes: tuple[str, ...], recordings: np.ndarray
) -> tuple[pd.DataFrame | None, list[str]]:
    """The annotation rows of the dataset's recordings and the mask classes (for ``"mask"``)."""
    if "mask" not in outputs:
        if annotations is not None:
            raise ArgumentError('annotations= is given but outputs has no "mask"')
        return None, []
    if annotations is None:
        raise ArgumentError('outputs has "mask": give annotations= (an annotation set or its df)')
    df = annotations if isinstance(annotations, pd.DataFrame) else getattr(annotations, "df", None)
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"annotations must be an annotation set or a DataFrame, not {type(annotations)}")
    missing = [c for c in ("recording", "start", "stop", "label") if c not in df.columns]
    if missing:
        raise ArgumentError(f"annotations lack the columns {missing}")
    if classes:
        mask_classes = list(classes)
    elif isinstance(getattr(annotations, "classes", None), Mapping):
        mask_classes = list(annotations.classes)
    else:
        mask_classes = sorted(str(v) for v in df["label"].dropna().unique())
    kept = df[df["recording"].isin(np.unique(recordings))].reset_index(drop=True)
    return kept, mask_classes


def non_negative(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ArgumentError(f"{what} must be a non-negative integer, not {value!r}")
    return int(value)


def db_range(value: Any, what: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ArgumentError(f"{what} must be a (low, high) pair of dB values, not {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ArgumentError(f"{what} must be finite with low <= high, not {value!r}")
    return low, high
