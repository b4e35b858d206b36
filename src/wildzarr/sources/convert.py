"""Sample conversions shared by the sources, and a fixed-length block builder.

All functions are pure NumPy; they raise :class:`~wildzarr.errors.SourceError`
with the source name in the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from wildzarr.errors import SourceError

__all__ = ["BlockBuilder", "check_finite", "quantize", "unshift", "unsigned8_to_signed"]


def quantize(x: np.ndarray, bits: int, name: str) -> np.ndarray:
    """Quantize floats of full scale 1.0 to signed integers of ``bits`` bits.

    ``clip(round(x * 2**(bits-1)), -2**(bits-1), 2**(bits-1) - 1)``, rounding
    half to even. For ``bits <= 24`` and float32 input every step is exact
    (scaling by a power of two; float32 holds integers up to 2**24).

    Parameters
    ----------
    x : numpy.ndarray
        float32 or float64 samples, any shape; 1.0 is full scale.
    bits : int
        Target depth, 2 to 32.
    name : str
        Source name for error messages.

    Returns
    -------
    numpy.ndarray
        int32, same shape as ``x``, C-contiguous.

    Raises
    ------
    SourceError
        When ``x`` holds NaN or infinite values.
    """
    check_finite(x, name)
    scale = float(1 << (bits - 1))
    y = np.rint(x * x.dtype.type(scale))
    np.clip(y, -scale, scale - 1, out=y)
    return np.ascontiguousarray(y.astype(np.int32))


def check_finite(x: np.ndarray, name: str, chunk: int = 1 << 20) -> None:
    """Raise SourceError when a float array holds NaN or infinite values.

    Works through ``x`` (any shape, float dtype) in slices of about ``chunk``
    elements along the first axis, so a large array needs no full-size mask.
    """
    if x.dtype.kind != "f" or x.size == 0:
        return
    rows = x.reshape(x.shape[0], -1) if x.ndim else x.reshape(1, 1)
    step = max(1, chunk // rows.shape[1])
    for start in range(0, rows.shape[0], step):
        part = rows[start : start + step]
        if not np.isfinite(part).all():
            bad = start + int(np.argwhere(~np.isfinite(part))[0][0])
            raise SourceError(f"{name}: NaN or infinite sample at sample {bad}")


def unsigned8_to_signed(a: np.ndarray) -> np.ndarray:
    """Offset-binary 8-bit samples (uint8, 128 = silence) to signed int16 values -128..127."""
    out = a.astype(np.int16)
    out -= 128
    return out


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
