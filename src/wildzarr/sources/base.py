"""The source contract: format facts and a stream of sample blocks.

A :class:`Source` is what the archive imports from. It states the facts of the
audio in a frozen :class:`SourceFormat`, carries the file's metadata in
``file_meta`` and yields the samples, in order, as blocks of shape
``(n, channels)`` exactly as they were decoded, without quantizing or
rescaling them (the codec decides how it stores them, see
:mod:`wildzarr.audio`):

- integer PCM: ``uint8`` (8-bit offset binary, as WAV stores it), ``int16``,
  ``int32`` (24-bit samples hold their true values, not left-justified) or
  ``int64`` (arrays);
- floating-point samples, from float PCM or from a lossy decoder (mp3,
  vorbis, opus, aac ... decode to floats): ``float32`` or ``float64`` as
  decoded, NaN and infinities included.

``blocks()`` may be called more than once; each call starts at the first sample.
Blocks hold :data:`BLOCK_BYTES` or a little more (a multiple of 4096 samples),
except the last, unless the caller asks for another block length.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from wildzarr.audio import AudioFormat
from wildzarr.errors import SourceError
from wildzarr.metadata import SourceInfo

__all__ = ["BLOCK_BYTES", "Source", "SourceFormat", "default_block_samples"]

#: NumPy dtype of the samples of each packed PyAV sample format (FFmpeg ``AVSampleFormat``).
_PYAV_DTYPES = {
    "u8": "uint8",
    "s16": "int16",
    "s32": "int32",
    "s64": "int64",
    "flt": "float32",
    "dbl": "float64",
}

#: Approximate size of one block yielded by :meth:`Source.blocks`.
BLOCK_BYTES = 1 << 20

_BLOCK_MULTIPLE = 4096


@dataclass(frozen=True)
class SourceFormat:
    """Facts about a source's audio, read from its header or array.

    Attributes
    ----------
    samplerate : int
        Samples per second per channel, Hz.
    channels : int
        Number of channels, >= 1.
    sample_format : str
        The decoded sample format as PyAV names it (``"u8"``, ``"s16"``,
        ``"s32"``, ``"flt"``, ``"fltp"``, ``"dbl"`` ...) for files; the NumPy
        dtype name (``"int16"``, ``"float32"`` ...) for arrays.
    bits_per_sample : int
        Significant bits of the samples: for integers the true bit depth (8,
        16, 24, 32; from the codec name, e.g. ``pcm_s24le``, from FLAC
        STREAMINFO or the ALAC magic cookie, else the decoded format's width);
        for floats 32 or 64.
    is_float : bool
        True when ``blocks()`` yields floats (float PCM, or a lossy decoder's output).
    is_lossy : bool
        True when decoded from a lossy codec (mp3, vorbis, opus, aac, mu-law ...).
    container : str or None
        PyAV's container format name (``"wav"``, ``"mov,mp4,m4a,3gp,3g2,mj2"``
        ...); None for arrays.
    codec : str or None
        PyAV's codec name of the audio stream (``"pcm_s16le"``, ``"flac"``,
        ``"mp3"``, ``"aac"`` ...); None for arrays.
    samples : int or None
        Samples per channel announced by the header when it states an exact
        count (WAV ``data`` chunk size, FLAC STREAMINFO, the array's length);
        None otherwise. ``blocks()`` raises when the file holds fewer.
    """

    samplerate: int
    channels: int
    sample_format: str
    bits_per_sample: int
    is_float: bool
    is_lossy: bool
    container: str | None
    codec: str | None
    samples: int | None

    @property
    def audio(self) -> AudioFormat:
        """The samples ``blocks()`` yields, as one :class:`~wildzarr.audio.AudioFormat`."""
        packed = self.sample_format.removesuffix("p") if self.container is not None else self.sample_format
        dtype = _PYAV_DTYPES.get(packed, packed)
        return AudioFormat(self.samplerate, self.channels, dtype, self.bits_per_sample)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of the arrays ``blocks()`` yields."""
        return np.dtype(self.audio.dtype)


def default_block_samples(fmt: SourceFormat) -> int:
    """Block length (samples per channel) giving blocks of about :data:`BLOCK_BYTES`.

    A multiple of 4096, at least 4096.
    """
    per_sample = fmt.channels * fmt.dtype.itemsize
    n = BLOCK_BYTES // per_sample // _BLOCK_MULTIPLE * _BLOCK_MULTIPLE
    return max(_BLOCK_MULTIPLE, n)


class Source(ABC):
    """Audio to import: format facts, metadata and sample blocks.

    Use :func:`wildzarr.sources.open_source` to get one. A source is a context
    manager; :meth:`close` releases the file.

    Attributes
    ----------
    name : str
        The file name as valid Unicode (bytes that are not UTF-8 shown as
        ``\\xe9``, see :func:`wildzarr.sources.names.display_name`), or
        ``"<array>"``. Error messages name the file the same way.
    path : pathlib.Path or None
        The resolved path of a file source, as the OS names it: for opening the
        file, not for display (it may hold surrogate escapes of non-UTF-8
        bytes); None for arrays.
    format : SourceFormat
        Facts about the audio.
    file_meta : dict
        JSON-compatible metadata found in the file (``"tags"``,
        ``"stream_tags"``, and for WAV files ``"chunks"``, ``"guano"``,
        ``"bext"``, ``"ixml"``, ``"info"`` ...), within the size limits of
        :mod:`wildzarr.sources.limits` (``"truncated"`` lists what was cut);
        ``{}`` for arrays.
    stream_index : int or None
        Index of the container stream the samples come from (PyAV
        ``stream.index``); None for arrays.
    truncated : tuple of (int, int) or None
        Set by a ``blocks()`` pass that ran to the end of a truncated source
        opened with ``allow_truncated=True``: (samples the header announced,
        samples found). None otherwise.
    """

    name: str
    path: Path | None
    format: SourceFormat
    file_meta: dict[str, Any]
    stream_index: int | None = None
    truncated: tuple[int, int] | None = None

    def __init__(self) -> None:
        self._closed = False

    @abstractmethod
    def blocks(self, block_samples: int | None = None) -> Iterator[np.ndarray]:
        """Yield the samples in order, as blocks.

        Parameters
        ----------
        block_samples : int, optional
            Samples per channel of every block but the last (which may be
            shorter). Default: about :data:`BLOCK_BYTES` per block, a multiple of
            4096.

        Yields
        ------
        numpy.ndarray
            C-contiguous, shape ``(n, channels)``, ``n >= 1``; dtype
            ``format.dtype`` (int16, int32, float32 or float64, see the module
            docstring).

        Raises
        ------
        SourceError
            When the source is closed, when decoding fails, when the stream
            changes its sample rate or channel count, holds NaN or infinite
            floats, or ends short of ``format.samples``. The message names the
            file.
        """

    @abstractmethod
    def source_info(self) -> SourceInfo:
        """Describe where the samples come from: name, path, size, content digest and format.

        The sha256 is computed on the first call (reading the whole file, or
        the whole array without copying it) and kept for later calls; see
        :mod:`wildzarr.sources.digest` for the formulas.

        Returns
        -------
        wildzarr.metadata.SourceInfo
            ``bits_per_sample`` is the decoded samples' depth (floats: 32 or 64).

        Raises
        ------
        SourceError
            When the source was closed before the first call, or the file can
            no longer be read. The message names the file.
        """

    def _make_info(self, *, path: str | None, size: int | None, sha256: str) -> SourceInfo:
        """A SourceInfo of this source's name and format with the given path, size and digest."""
        fmt = self.format
        return SourceInfo(
            name=self.name,
            path=path,
            size=size,
            sha256=sha256,
            container=fmt.container,
            codec=fmt.codec,
            sample_format=fmt.sample_format,
            bits_per_sample=fmt.bits_per_sample,
        )

    def close(self) -> None:
        """Release the file (if any). Further ``blocks()`` calls raise."""
        self._closed = True

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        f = self.format
        kind = "float" if f.is_float else f"{f.bits_per_sample}-bit" + (" lossy" if f.is_lossy else "")
        return f"<{type(self).__name__} {self.name!r} {f.samplerate} Hz, {f.channels} ch, {kind}>"

    def _check_open(self) -> None:
        if self._closed:
            raise SourceError(f"{self.name}: the source is closed")

    def _block_samples(self, block_samples: int | None) -> int:
        if block_samples is None:
            return default_block_samples(self.format)
        if isinstance(block_samples, bool) or not isinstance(block_samples, int | np.integer):
            raise TypeError(f"block_samples must be an int, not {type(block_samples).__name__}")
        if block_samples < 1:
            raise ValueError(f"block_samples must be >= 1, not {block_samples}")
        return int(block_samples)
