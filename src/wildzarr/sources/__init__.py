"""Sources: what the archive imports from, as format facts plus sample blocks.

:func:`open_source` takes a file path (anything FFmpeg decodes, read with PyAV:
WAV, FLAC, MP3, Ogg Vorbis/Opus, M4A, the audio track of MP4/MKV videos ...)
or a NumPy array and returns a :class:`Source`::

    with open_source("bat.wav") as src:
        src.format.samplerate, src.format.bits_per_sample, src.file_meta["guano"]
        src.source_info().sha256        # name, path, size, digest, container, codec
        for block in src.blocks():      # (n, channels) uint8 / int16 / int32 / float, as decoded
            ...

Modules: :mod:`.base` (the contract: :class:`SourceFormat`, :class:`Source`),
:mod:`.pyav` (files), :mod:`.array` (arrays),
:mod:`.riff` (the WAV chunk reader: GUANO, bext, iXML, LIST/INFO),
:mod:`.limits` (size limits of ``file_meta``), :mod:`.names` (file names as
valid Unicode), :mod:`.digest` (the sha256 of files and arrays),
:mod:`.interrupts` (Ctrl-C held while native code runs), :mod:`.convert`
(sample conversions).
"""

from __future__ import annotations

import os

import numpy as np

from wildzarr.errors import SourceError
from wildzarr.sources.array import ARRAY_NAME, ArraySource, open_array
from wildzarr.sources.base import BLOCK_BYTES, Source, SourceFormat
from wildzarr.sources.pyav import FileSource, open_file

__all__ = [
    "BLOCK_BYTES",
    "ArraySource",
    "FileSource",
    "Source",
    "SourceFormat",
    "open_source",
]


def open_source(
    source: str | bytes | os.PathLike[str] | os.PathLike[bytes] | np.ndarray,
    *,
    samplerate: int | None = None,
    allow_truncated: bool = False,
) -> Source:
    """Open a file or wrap an array as a :class:`Source`.

    Parameters
    ----------
    source : str, bytes, os.PathLike or numpy.ndarray
        A file path (any name the OS allows, see :mod:`wildzarr.sources.names`),
        or samples of shape ``(samples,)`` / ``(samples, channels)`` (see
        :mod:`wildzarr.sources.array` for the dtype rules).
    samplerate : int, optional
        Sample rate in Hz; required for arrays. For files it may be given only
        if it equals the file's rate.
    allow_truncated : bool
        Files only: import the samples a truncated file holds instead of
        raising (see :func:`~wildzarr.sources.pyav.open_file`).

    Returns
    -------
    Source
        A :class:`~wildzarr.sources.pyav.FileSource` or
        :class:`~wildzarr.sources.array.ArraySource`; close it (or use ``with``).

    Raises
    ------
    SourceError
        When the source cannot be imported: missing, empty, truncated or
        non-audio files, folders, videos without audio, bad arrays or sample
        rates. The message names the file (or ``"<array>"``).
    """
    if isinstance(source, np.ndarray):
        return open_array(source, samplerate)
    if isinstance(source, str | bytes | os.PathLike):
        return open_file(source, samplerate, allow_truncated=allow_truncated)
    raise SourceError(f"{ARRAY_NAME}: expected a file path or a numpy.ndarray, not {type(source).__name__}")
