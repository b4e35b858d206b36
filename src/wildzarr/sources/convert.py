"""Sample conversions shared by the sources, and a fixed-length block builder.

All functions are pure NumPy; they raise :class:`~wildzarr.errors.SourceError`
with the source name in the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from wildzarr.errors import SourceError

__all__ = ["BlockBuilder", "unshift"]


def unshift(a: np.ndarray, shift: int, name: str) -> np.ndarray:
    """Undo the left-justification of a decoder (e.g. 24-bit samples in s32 << 8).

    Parameters
    ----------
    a : numpy.ndarray
        int16 or int32 samples whose low ``shift`` bits must be zero.
    shift : int
        Number of bits to shift right (0: ``a`` is returned as is).
    name : str
        Source name for error messages.

    Raises
    ------
    SourceError
        When a low bit is set: the decoder did not left-justify as expected
        and shifting would lose data.
    """
    if shift <= 0:
        return a
    mask = a.dtype.type((1 << shift) - 1)
    if np.bitwise_and(a, mask).any():
        raise SourceError(
            f"{name}: decoded samples are not left-justified by {shift} bits as the bit depth implies; "
            "refusing to drop low bits"
        )
    return a >> shift


class BlockBuilder:
    """Gather pieces of any length into blocks of exactly ``block_samples`` samples.

    Parameters
    ----------
    block_samples : int
        Samples per channel of each block (the last may be shorter).
    channels : int
        Channels per sample.
    dtype : numpy.dtype
        dtype of the blocks.
    """

    def __init__(self, block_samples: int, channels: int, dtype: np.dtype[Any]) -> None:
        self.block_samples = block_samples
        self.channels = channels
        self.dtype = dtype
        self._buf = self._new()
        self._fill = 0
        self.total = 0

    def _new(self) -> np.ndarray:
        return np.empty((self.block_samples, self.channels), dtype=self.dtype)

    def add(self, piece: np.ndarray) -> Iterator[np.ndarray]:
        """Append ``piece`` (shape ``(n, channels)``) and yield every block it completes."""
        n = piece.shape[0]
        self.total += n
        pos = 0
        while pos < n:
            take = min(n - pos, self.block_samples - self._fill)
            self._buf[self._fill : self._fill + take] = piece[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self.block_samples:
                yield self._buf
                self._buf = self._new()
                self._fill = 0

    def finish(self) -> np.ndarray | None:
        """The last, partial block (a C-contiguous copy), or None when nothing is pending."""
        if self._fill == 0:
            return None
        last = self._buf[: self._fill].copy()
        self._fill = 0
        return last
