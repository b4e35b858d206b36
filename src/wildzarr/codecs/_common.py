"""Checks every codec makes: integer parameters, and the shape, dtype and values of sample blocks.

Private to :mod:`wildzarr.codecs`. The codec modules word their own limits;
these helpers only test them and raise in one wording.
"""

from __future__ import annotations

import numpy as np

from wildzarr.errors import ArgumentError, SourceError

__all__ = ["check_block_shape", "check_float_block", "parse_int"]


def parse_int(what: str, value: object, low: int, high: int, *, grouped: bool = True) -> int:
    """Return ``value`` as an int if it is an integer from ``low`` to ``high``.

    Parameters
    ----------
    what : str
        The parameter as messages name it, codec first: ``"AAC bitrate"``.
    value : object
        What the caller gave: a Python or NumPy integer, not a bool.
    low, high : int
        The inclusive range.
    grouped : bool
        Whether the message of a value out of range writes the numbers with
        thousands separators (``"16,000"``, default) or plain (``"16000"``).

    Returns
    -------
    int

    Raises
    ------
    ArgumentError
        (a ValueError) If ``value`` is not an integer, or is outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentError(f"{what} must be an integer from {low} to {high}, not {value!r}")
    if not low <= value <= high:
        if grouped:
            raise ArgumentError(f"{what} must be from {low:,} to {high:,}, not {value:,}")
        raise ArgumentError(f"{what} must be from {low} to {high}, not {value}")
    return int(value)


def check_block_shape(block: object, channels: int) -> np.ndarray:
    """Return ``block`` if it is a numpy array of shape ``(n, channels)``; else raise SourceError."""
    if not isinstance(block, np.ndarray) or block.ndim != 2 or block.shape[1] != channels:
        shape = getattr(block, "shape", type(block).__name__)
        raise SourceError(f"a block of samples must have shape (n, {channels}), not {shape}")
    return block


def check_float_block(block: object, channels: int, position: int, codec: str) -> None:
    """Raise SourceError unless ``block`` is float32 of shape ``(n, channels)`` holding finite values only.

    Parameters
    ----------
    block : object
        The block to check.
    channels : int
        Columns it must have.
    position : int
        Samples per channel before this block in the stream, to locate a NaN
        or infinity in the message.
    codec : str
        The codec as messages name it (``"AAC"``).
    """
    array = check_block_shape(block, channels)
    if array.dtype != np.float32:
        raise SourceError(f"a block of samples must be float32, not {array.dtype}")
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(np.argmin(finite.all(axis=1)))
        raise SourceError(
            f"NaN or infinite sample at sample {position + bad}: {codec} codes finite samples only"
        )
