"""One description of audio samples, and the exact conversions between descriptions.

:class:`AudioFormat` is what a source hands over, what a codec accepts and stores,
and what its decoder returns: sample rate, channels, the NumPy dtype of the
samples and how many of their bits are significant. Samples always travel as
C-contiguous arrays of shape ``(n, channels)``.

Conversions (:func:`convert`) are exact wherever the target can hold the value
(integer widening, integers to floats of enough mantissa) and documented where
it cannot (floats to integers round half to even and clip; integers scale by
``2 ** -(bits_per_sample - 1)`` into [-1, 1), unsigned ones centred on
``2 ** (bits_per_sample - 1)`` first, as WAV stores 8-bit samples).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from wildzarr.errors import ArgumentError

__all__ = [
    "SAMPLE_DTYPES",
    "AudioFormat",
    "convert",
    "convert_read_dtype",
    "first_nonfinite",
    "int_dtype_for",
]

#: dtypes samples may have: every dtype the entropy-coded numpy codec stores losslessly.
SAMPLE_DTYPES = ("uint8", "int8", "int16", "int32", "int64", "float32", "float64")

SampleKind = Literal["int", "uint", "float"]


@dataclass(frozen=True)
class AudioFormat:
    """Sample rate, channels and sample representation of audio.

    Attributes
    ----------
    samplerate : int
        Samples per second per channel, Hz (>= 1).
    channels : int
        Channels (>= 1).
    dtype : str
        NumPy dtype name of the sample arrays, one of :data:`SAMPLE_DTYPES`.
    bits_per_sample : int
        Significant bits: for integers at most the dtype's width (24-bit audio
        travels in int32 holding values within 24 signed bits, not
        left-justified); for floats the dtype's width (32 or 64).

    Raises
    ------
    ArgumentError
        If a field is out of range or the bit depth does not fit the dtype.
    """

    samplerate: int
    channels: int
    dtype: str
    bits_per_sample: int

    def __post_init__(self) -> None:
        if self.dtype not in SAMPLE_DTYPES:
            raise ArgumentError(
                f"samples must have one of the dtypes {', '.join(SAMPLE_DTYPES)}, not {self.dtype}"
            )
        width = np.dtype(self.dtype).itemsize * 8
        low = width if self.kind == "float" else 1
        if not low <= self.bits_per_sample <= width:
            raise ArgumentError(f"{self.bits_per_sample} bits per sample do not fit {self.dtype} samples")
        if self.samplerate < 1 or self.channels < 1:
            raise ArgumentError(f"invalid audio: {self.samplerate} Hz, {self.channels} channels")

    @property
    def kind(self) -> SampleKind:
        """``"int"`` (signed), ``"uint"`` (unsigned, offset binary) or ``"float"``."""
        return {"i": "int", "u": "uint", "f": "float"}[np.dtype(self.dtype).kind]  # type: ignore[return-value]

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        """The dtype as a :class:`numpy.dtype`."""
        return np.dtype(self.dtype)

    def with_(self, **changes: Any) -> AudioFormat:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    def describe(self) -> str:
        """``"48000 Hz, 2 ch, 24-bit int32"`` for messages and listings."""
        depth = f"{self.bits_per_sample}-bit " if self.kind != "float" else ""
        return f"{self.samplerate} Hz, {self.channels} ch, {depth}{self.dtype}"

    def to_json(self) -> dict[str, Any]:
        """JSON fields ``samplerate``, ``channels``, ``dtype``, ``bits_per_sample``."""
        return {
            "samplerate": self.samplerate,
            "channels": self.channels,
            "dtype": self.dtype,
            "bits_per_sample": self.bits_per_sample,
        }

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> AudioFormat:
        """Inverse of :meth:`to_json`; raises ArgumentError for invalid fields."""
        try:
            return cls(
                samplerate=int(fields["samplerate"]),
                channels=int(fields["channels"]),
                dtype=str(fields["dtype"]),
                bits_per_sample=int(fields["bits_per_sample"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArgumentError(f"invalid audio format {fields!r}: {exc}") from None


def int_dtype_for(bits: int) -> str:
    """The signed dtype name for ``bits``-bit values: int16 up to 16 bits, int32 up to 32, else int64.

    (int8 is never chosen: 8-bit audio widens to int16 like FLAC decoders return it.)
    """
    return "int16" if bits <= 16 else "int32" if bits <= 32 else "int64"


def _scale(bits: int) -> float:
    return float(2.0 ** -(bits - 1))


def convert(samples: np.ndarray, source: AudioFormat, target: AudioFormat) -> np.ndarray:
    """Convert samples of format ``source`` to ``target`` (same rate and channels).

    - int/uint to float: ``x * 2 ** -(bits - 1)`` (unsigned centred first),
      exact when the float has enough mantissa (float64 always; float32 up to
      24 bits).
    - float to int: ``round(x * 2 ** (bits - 1))``, half to even, clipped to
      the target's signed range (values at or beyond full scale saturate).
    - uint to int: ``x - 2 ** (bits - 1)`` (exact); int to int: the same
      values in another dtype (the target must be wide enough).
    - float to float: a cast (float64 to float32 rounds).

    Parameters
    ----------
    samples : numpy.ndarray
        Shape ``(n, channels)``, dtype ``source.dtype``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, channels)``, dtype ``target.dtype``, C-contiguous; ``samples``
        itself when the formats share a dtype and bit depth.
    """
    if source.dtype == target.dtype and source.bits_per_sample == target.bits_per_sample:
        return np.ascontiguousarray(samples)
    out_dtype = target.numpy_dtype
    if source.kind == "uint":
        samples = samples.astype(np.int64) - (1 << (source.bits_per_sample - 1))
        source = source.with_(dtype="int64")
    if target.kind == "float":
        if source.kind == "float":
            return np.ascontiguousarray(samples, dtype=out_dtype)
        result = samples.astype(out_dtype)
        result *= out_dtype.type(_scale(source.bits_per_sample))
        return result
    high = (1 << (target.bits_per_sample - 1)) - 1
    low = -high - 1
    if source.kind == "float":
        work = np.rint(samples * samples.dtype.type(2.0 ** (target.bits_per_sample - 1)))
        np.clip(work, low, high, out=work)
        result = work.astype(out_dtype if target.kind == "int" else np.int64)
    else:  # integers keep their values; the caller chose a target wide enough
        result = samples.astype(np.int64 if target.kind == "uint" else out_dtype)
    if target.kind == "uint":
        result = (result + (1 << (target.bits_per_sample - 1))).astype(out_dtype)
    return np.ascontiguousarray(result)


def convert_read_dtype(stored: AudioFormat, dtype: Any, what: str) -> AudioFormat:
    """The format a read returns for the requested ``dtype`` (None: as stored).

    Integers may be read as any integer dtype wide enough for their bits and
    as float32/float64 (scaled into [-1, 1)); floats only as float32 or
    float64: an integer request for float samples is an error, not a
    rounding (store integers to read integers).

    Raises
    ------
    ArgumentError
        If ``dtype`` is not a dtype, or cannot hold the stored samples; the
        message starts with ``what`` and lists what can be asked for.
    """
    if dtype is None:
        return stored
    try:
        wanted = np.dtype(dtype)
    except TypeError:
        raise ArgumentError(f"{what}: {dtype!r} is not a dtype") from None
    if wanted.kind == "f" and wanted.itemsize in (4, 8):
        return stored.with_(dtype=wanted.name, bits_per_sample=wanted.itemsize * 8)
    if stored.kind != "float" and wanted.kind in "iu" and wanted.name in SAMPLE_DTYPES:
        bits = stored.bits_per_sample
        if stored.dtype == wanted.name:
            return stored
        if wanted.kind == "i" and (
            wanted.itemsize * 8 > bits or (stored.kind == "int" and wanted.itemsize * 8 >= bits)
        ):
            return stored.with_(dtype=wanted.name, bits_per_sample=bits if stored.kind == "int" else bits + 1)
    allowed = ["None", "float32", "float64"]
    if stored.kind != "float":
        allowed[1:1] = [
            d
            for d in ("int16", "int32", "int64")
            if np.dtype(d).itemsize * 8 >= stored.bits_per_sample + (stored.kind == "uint")
        ]
    raise ArgumentError(
        f"{what}: cannot read {stored.describe()} samples as {wanted}; ask for {', '.join(allowed)}"
    )


def first_nonfinite(samples: np.ndarray, chunk: int = 1 << 20) -> int | None:
    """Row of the first NaN or infinite value of a float array of shape ``(n, channels)``, or None.

    Works through slices of about ``chunk`` values, so no full-size mask is made.
    Integer arrays have none.
    """
    if samples.dtype.kind != "f" or samples.size == 0:
        return None
    rows = samples.reshape(samples.shape[0], -1)
    step = max(1, chunk // rows.shape[1])
    for start in range(0, rows.shape[0], step):
        part = rows[start : start + step]
        if not np.isfinite(part).all():
            return start + int(np.argwhere(~np.isfinite(part))[0][0])
    return None
