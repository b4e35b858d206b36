"""Samples a read returned, written to ``.npy``, ``.wav`` or ``.flac`` (``wildzarr read -o``)."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

from wildzarr.audio import AudioFormat
from wildzarr.codecs import FlacCodec
from wildzarr.errors import ArgumentError, StorageError
from wildzarr.export.riff import chunk

__all__ = ["SUFFIXES", "write_samples"]

SUFFIXES = (".npy", ".wav", ".flac")


def write_samples(path: str | Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    """Write samples as a recording read returns them to ``path``; the suffix picks the format.

    Parameters
    ----------
    path : str or Path
        Ends in ``.npy`` (the array as is), ``.wav`` (integer PCM at
        ``fmt.bits_per_sample`` rounded up to whole bytes, 8-bit unsigned as WAV
        requires; float samples as IEEE float WAV of their width) or ``.flac``
        (integers of 4 to 32 bits, FLAC at ``fmt.bits_per_sample``).
    samples : numpy.ndarray
        Shape ``(n, channels)``, dtype ``fmt.dtype``.
    fmt : AudioFormat
        Sample rate (Hz), channels, dtype and bit depth of ``samples``.

    Raises
    ------
    ArgumentError
        If the suffix is not one of ``.npy``, ``.wav``, ``.flac``, or the
        format cannot hold the samples (float or 64-bit samples as FLAC,
        64-bit integers as WAV).
    StorageError
        If the file cannot be written (no such folder, permission denied, disk full).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ArgumentError(f"{path}: output must end in one of {', '.join(SUFFIXES)}")
    try:
        if suffix == ".npy":
            np.save(path, samples)
        elif suffix == ".wav":
            _write_wav(path, samples, fmt)
        else:
            _write_flac(path, samples, fmt)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the file: {exc.strerror or exc}", str(path)) from exc


def _write_flac(path: Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    codec = FlacCodec()
    if fmt.kind == "float" or codec.check(fmt).bits_per_sample != fmt.bits_per_sample:
        raise ArgumentError(
            f"{path}: FLAC holds 4- to 32-bit integers, not {fmt.describe()}; write .wav or .npy"
        )
    stored = codec.check(fmt)
    block = np.ascontiguousarray(samples.astype(stored.numpy_dtype) - (128 if fmt.kind == "uint" else 0))
    with path.open("wb") as out:
        codec.encode([block], out, stored)


def _write_wav(path: Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    """PCM WAV: format tag 1 for integers (8-bit unsigned, offset 128; wider signed), 3 for floats."""
    if fmt.kind == "float":
        _write_float_wav(path, samples, fmt)
        return
    if fmt.bits_per_sample > 32:
        raise ArgumentError(f"{path}: WAV holds at most 32-bit integers, not {fmt.describe()}; write .npy")
    width = (fmt.bits_per_sample + 7) // 8
    if width == 1:
        centred = samples.astype(np.int16) + (0 if fmt.kind == "uint" else 128)
        data = centred.astype(np.uint8).tobytes()
    else:
        values = samples.astype("<i4")
        data = values.view(np.uint8).reshape(*values.shape, 4)[..., :width].tobytes()
    with path.open("wb") as file, wave.open(file, "wb") as out:  # open first: a bad path fails cleanly
        out.setnchannels(samples.shape[1])
        out.setsampwidth(width)
        out.setframerate(fmt.samplerate)
        out.writeframes(data)


def _write_float_wav(path: Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    """IEEE float WAV: ``fmt `` chunk with format tag 3 and ``cbSize`` 0, a ``fact`` chunk, then ``data``.

    Python's :mod:`wave` writes integer PCM only. Layout from Microsoft's
    WAVEFORMATEX (mmreg.h: ``WAVE_FORMAT_IEEE_FLOAT = 3``; non-PCM formats need
    ``cbSize`` and a ``fact`` chunk holding the sample frames).
    """
    width = samples.dtype.itemsize
    channels = samples.shape[1]
    data = np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<")).tobytes()
    fmt_chunk = struct.pack(
        "<HHIIHHH",
        3,
        channels,
        fmt.samplerate,
        fmt.samplerate * channels * width,
        channels * width,
        8 * width,
        0,
    )
    fact_chunk = struct.pack("<I", len(samples))
    body = b"WAVE" + chunk(b"fmt ", fmt_chunk) + chunk(b"fact", fact_chunk) + chunk(b"data", data)
    with path.open("wb") as out:
        out.write(chunk(b"RIFF", body))
