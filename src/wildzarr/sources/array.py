"""Array sources: samples already in memory as a NumPy array.

Rules (checked when the source is opened, so errors come before any work):

- shape ``(samples,)`` (one channel) or ``(samples, channels)``; at least one
  sample and one channel; at most :data:`MAX_CHANNELS` channels (a wider array
  is almost surely ``(channels, samples)`` by mistake);
- dtypes: ``uint8`` (8-bit offset binary as in WAV, 128 = silence),
  ``int8``, ``int16``, ``int32``, ``int64``, ``float32`` and ``float64``,
  yielded as they are (NaN and infinities included: the npy codec stores them
  exactly; codecs that store integers refuse them when converting). Other
  dtypes (bool, wider unsigned, float16, complex, objects, strings) are refused;
- ``samplerate``: an ``int`` (or NumPy integer) from 1 to 2**31 - 1 Hz. Floats
  are refused even when integral, so a rate is never silently truncated.

The array is not copied: do not modify it while its blocks are being read or
hashed. Blocks are C-contiguous copies in native byte order.
:meth:`ArraySource.source_info` hashes the array as given (its dtype, shape
and samples, see :mod:`wildzarr.sources.digest`), in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from wildzarr.errors import SourceError
from wildzarr.metadata import SourceInfo
from wildzarr.sources.base import Source, SourceFormat
from wildzarr.sources.digest import array_sha256

__all__ = ["ARRAY_NAME", "MAX_CHANNELS", "MAX_SAMPLERATE", "ArraySource", "open_array"]

ARRAY_NAME = "<array>"
MAX_CHANNELS = 1024
MAX_SAMPLERATE = 2**31 - 1

_BITS = {"int8": 8, "uint8": 8, "int16": 16, "int32": 32, "int64": 64, "float32": 32, "float64": 64}


def open_array(array: np.ndarray, samplerate: int | None) -> ArraySource:
    """Wrap a NumPy array as a source.

    Parameters
    ----------
    array : numpy.ndarray
        Shape ``(samples,)`` or ``(samples, channels)``; dtype per the module
        docstring.
    samplerate : int
        Sample rate in Hz, 1 to 2**31 - 1.

    Returns
    -------
    ArraySource

    Raises
    ------
    SourceError
        For a missing, non-integer or out-of-range ``samplerate``, an
        unsupported dtype, a wrong number of dimensions, an empty array or too
        many channels. The message starts with ``"<array>"``.
    """
    return ArraySource(array, samplerate)


class ArraySource(Source):
    """A NumPy array as a source; see :func:`open_array`."""

    def __init__(self, array: np.ndarray, samplerate: int | None) -> None:
        super().__init__()
        self.name = ARRAY_NAME
        self.path = None
        self.file_meta = {}
        rate = _check_samplerate(samplerate)
        a = _check_array(array)
        self._given = array
        self._array = a
        self._info: SourceInfo | None = None
        dtype = a.dtype.name
        self.format = SourceFormat(
            samplerate=rate,
            channels=a.shape[1],
            sample_format=dtype,
            bits_per_sample=_BITS[dtype],
            is_float=a.dtype.kind == "f",
            is_lossy=False,
            container=None,
            codec=None,
            samples=a.shape[0],
        )

    def blocks(self, block_samples: int | None = None) -> Iterator[np.ndarray]:
        """Yield the array in blocks; see :meth:`Source.blocks`."""
        self._check_open()
        return self._blocks(self._block_samples(block_samples))

    def source_info(self) -> SourceInfo:
        """Describe the array: ``"<array>"``, no path or size, the digest of dtype, shape, rate and samples.

        See :meth:`Source.source_info`.
        """
        if self._info is None:
            self._check_open()
            digest = array_sha256(self._given, self.format.samplerate)
            self._info = self._make_info(path=None, size=None, sha256=digest)
        return self._info

    def close(self) -> None:
        """Drop the references to the array."""
        super().close()
        self._array = self._given = np.empty((0, self.format.channels))

    def _blocks(self, block_samples: int) -> Iterator[np.ndarray]:
        a = self._array
        out = self.format.dtype
        for start in range(0, a.shape[0], block_samples):
            yield np.array(a[start : start + block_samples], dtype=out, order="C", copy=True)


def _check_samplerate(samplerate: Any) -> int:
    if samplerate is None:
        raise SourceError(f"{ARRAY_NAME}: samplerate= is required for an array")
    if isinstance(samplerate, bool | np.bool_) or not isinstance(samplerate, int | np.integer):
        raise SourceError(
            f"{ARRAY_NAME}: samplerate must be an integer number of Hz, not {type(samplerate).__name__} "
            f"{samplerate!r}"
        )
    rate = int(samplerate)
    if not 1 <= rate <= MAX_SAMPLERATE:
        raise SourceError(f"{ARRAY_NAME}: samplerate must be 1 to {MAX_SAMPLERATE} Hz, not {rate}")
    return rate


def _check_array(array: np.ndarray) -> np.ndarray:
    """Validate and return a 2-D view ``(samples, channels)`` of ``array``."""
    kind = array.dtype.kind
    if kind not in "iuf":
        what = {"b": "boolean", "c": "complex"}.get(kind, "not numeric")
        raise SourceError(f"{ARRAY_NAME}: dtype {array.dtype} is {what}; audio samples must be real numbers")
    name = array.dtype.name
    if name not in _BITS:
        raise SourceError(
            f"{ARRAY_NAME}: dtype {name} is not supported; use uint8 (offset binary), int8, int16, int32, "
            "int64, float32 or float64"
        )
    if array.ndim not in (1, 2):
        raise SourceError(
            f"{ARRAY_NAME}: has {array.ndim} dimensions; expected (samples,) or (samples, channels)"
        )
    a = array.reshape(-1, 1) if array.ndim == 1 else array
    samples, channels = a.shape
    if samples == 0 or channels == 0:
        raise SourceError(f"{ARRAY_NAME}: is empty (shape {array.shape})")
    if channels > MAX_CHANNELS:
        raise SourceError(
            f"{ARRAY_NAME}: has {channels} channels (more than {MAX_CHANNELS}); "
            "arrays are (samples, channels): transpose a (channels, samples) array"
        )
    return a
