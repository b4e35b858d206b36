"""The ``"label"`` and ``"mask"`` outputs of a batch (``"spectrogram"``: see its own module)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from wildzarr.labels import clip_masks

__all__ = ["label_tensor", "mask_tensor"]


def label_tensor(labels: np.ndarray, index_target: np.ndarray | None, rows: np.ndarray) -> torch.Tensor:
    """The labels of ``rows``: int64 class positions with ``index_target``, else float32 multi-hot rows."""
    if index_target is not None:
        return torch.from_numpy(index_target[rows])
    return torch.from_numpy(labels[rows].astype(np.float32))


def mask_tensor(
    annotations: pd.DataFrame,
    classes: list[str],
    event_width: int,
    recordings: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    channel: np.ndarray | int | None,
) -> torch.Tensor:
    """float32 ``(items, classes + 1, samples)`` masks of the ranges read.

    Made by :func:`wildzarr.labels.clip_masks`. ``channel``: the one channel
    each item reads (or all of them read), whose annotations and those of
    every channel count; None: every annotation counts.
    """
    ranges = pd.DataFrame({"recording": recordings, "start": starts, "stop": stops})
    if channel is not None:
        ranges["channel"] = channel  # annotations of other channels do not count
    marks = clip_masks(ranges, annotations, classes, event_width=event_width)
    return torch.from_numpy(np.ascontiguousarray(marks.transpose(0, 2, 1), dtype=np.float32))
