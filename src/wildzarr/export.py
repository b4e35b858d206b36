"""Write samples read from an archive to a file: ``.npy``, ``.wav`` or ``.flac``."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from wildzarr.codecs import FlacCodec
from wildzarr.errors import ArgumentError, StorageError

__all__ = ["SUFFIXES", "write_samples"]

SUFFIXES = (".npy", ".wav", ".flac")


def write_samples(path: str | Path, samples: np.ndarray, samplerate: int, bits_per_sample: int) -> None:
    """Write integer samples to ``path``; the suffix picks the format.

    Parameters
    ----------
    path : str or Path
        Ends in ``.npy`` (the array as is), ``.wav`` (integer PCM at
        ``bits_per_sample``, rounded up to whole bytes; 8-bit written unsigned
        as WAV requires) or ``.flac`` (FLAC at ``bits_per_sample``).
    samples : numpy.ndarray
        int16 or int32 of shape ``(n, channels)``, true values (as ``Recording.read`` returns).
    samplerate : int
        Hz.
    bits_per_sample : int
        Bit depth of the values.

    Raises
    ------
    ArgumentError
        If the suffix is not one of ``.npy``, ``.wav``, ``.flac``.
    StorageError
        If the file cannot be written (no such folder, permission denied, disk full).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ArgumentError(f"{path}: output must end in one of {', '.join(SUFFIXES)}")
    try:
        _write(path, suffix, samples, samplerate, bits_per_sample)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the file: {exc.strerror or exc}", str(path)) from exc


def _write(path: Path, suffix: str, samples: np.ndarray, samplerate: int, bits_per_sample: int) -> None:
    if suffix == ".npy":
        np.save(path, samples)
    elif suffix == ".wav":
        _write_wav(path, samples, samplerate, bits_per_sample)
    elif suffix == ".flac":
        with path.open("wb") as out:
            FlacCodec().encode(
                [np.ascontiguousarray(samples)],
                out,
                samplerate=samplerate,
                channels=samples.shape[1],
                bits_per_sample=bits_per_sample,
            )


def _write_wav(path: Path, samples: np.ndarray, samplerate: int, bits_per_sample: int) -> None:
    """PCM WAV (RIFF WAVE, format tag 1); 8-bit is unsigned with offset 128, wider is signed little-endian."""
    width = (bits_per_sample + 7) // 8
    values = samples.astype("<i4")
    if width == 1:
        data = (values + 128).astype(np.uint8).tobytes()
    else:
        data = values.view(np.uint8).reshape(*values.shape, 4)[..., :width].tobytes()
    with path.open("wb") as file, wave.open(file, "wb") as out:  # open first: a bad path fails cleanly
        out.setnchannels(samples.shape[1])
        out.setsampwidth(width)
        out.setframerate(samplerate)
        out.writeframes(data)
