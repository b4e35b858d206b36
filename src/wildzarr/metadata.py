"""Technical metadata of a recording (pydantic models) and JSON checks for free-form metadata.

The models allow fields they do not know (``extra="allow"``): a document written
by a newer writer of the same format version is read, and its extra fields are
kept when it is rewritten.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wildzarr.audio import AudioFormat, int_dtype_for
from wildzarr.errors import MetadataError

__all__ = [
    "FORMAT_VERSION",
    "USER_META_BYTES",
    "USER_META_DEPTH",
    "RecordingInfo",
    "RecordingTime",
    "SourceInfo",
    "check_json_dict",
]

#: Version of the storage layout described in docs/format.md.
FORMAT_VERSION = 2
#: Largest user metadata, in bytes of compact UTF-8 JSON. With file metadata
#: capped at 1 MiB (:mod:`wildzarr.sources.limits`) a recording document stays under 2 MB.
USER_META_BYTES = 512 * 1024
#: Deepest nesting of dicts and lists in user metadata (the top-level dict is depth 1).
USER_META_DEPTH = 32


class SourceInfo(BaseModel):
    """Where a recording came from, as found at import."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str = Field(description='File name, or "<array>" for a numpy array.')
    path: str | None = Field(description="Absolute path of the file at import; None for arrays.")
    size: int | None = Field(ge=0, description="File size in bytes; None for arrays.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of the file's bytes; for arrays, of dtype, shape, sample rate and data.",
    )
    container: str | None = Field(description="PyAV container format name; None for arrays.")
    codec: str | None = Field(description="PyAV codec name of the audio stream; None for arrays.")
    sample_format: str = Field(description='Decoded sample format ("s16", "fltp", ...) or numpy dtype name.')
    bits_per_sample: int = Field(
        ge=1,
        le=64,
        description="Significant bits of the source's decoded samples (floats: 32 or 64).",
    )


class RecordingInfo(BaseModel):
    """Technical metadata of one recording, stored as JSON with it.

    Units: ``samplerate`` in Hz, ``samples`` per channel, ``duration`` in
    seconds, ``stored_bytes`` in bytes, ``imported_at`` in UTC.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    id: int = Field(ge=1)
    samplerate: int = Field(ge=1, description="Sample rate in Hz.")
    channels: int = Field(ge=1)
    samples: int = Field(ge=1, description="Samples per channel.")
    duration: float = Field(ge=0, description="samples / samplerate, in seconds.")
    bits_per_sample: int = Field(
        ge=1, le=64, description="Significant bits of the stored samples (floats: 32 or 64)."
    )
    dtype: str | None = Field(
        default=None,
        description="NumPy dtype a read returns by default (the codec's decoded samples); "
        "None in documents written before it was recorded: int16 up to 16 bits, else int32.",
    )
    codec: dict[str, Any] = Field(description='Codec configuration, e.g. {"id": "flac", ...}.')
    codec_choice: str | None = Field(
        default=None, description='Why this codec was used ("chosen: ...", "automatic: ...").'
    )
    lossy: bool = Field(
        default=False, description="True when reads do not return the source's samples exactly."
    )
    truncated: dict[str, int] | None = Field(
        default=None,
        description="For a truncated source imported on request: the samples its header announced "
        '("announced") and those it held ("found"); None otherwise.',
    )
    stored_bytes: int = Field(ge=0, description="Size of the stored codec streams in bytes.")
    source: SourceInfo
    imported_at: datetime = Field(description="End of the import, UTC.")
    wildzarr_version: str
    format_version: int = FORMAT_VERSION

    def stored_format(self) -> AudioFormat:
        """The format reads return by default: rate, channels, dtype and bit depth of the decoded samples."""
        dtype = self.dtype or int_dtype_for(self.bits_per_sample)
        return AudioFormat(self.samplerate, self.channels, dtype, self.bits_per_sample)

    @field_validator("imported_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() != timedelta(0):
            raise ValueError("imported_at must be timezone-aware UTC")
        return value


class RecordingTime(BaseModel):
    """When a recording started, where that came from, and its time expansion.

    Stored in the recording document under ``"time"`` (docs/format.md). Found
    at import by :func:`wildzarr.starttime.find_start_time`; set or corrected
    with :meth:`wildzarr.Recording.set_start_time`.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    start: datetime | None = Field(
        default=None, description="UTC time of the first sample; None when nothing tells it."
    )
    source: str | None = Field(
        default=None,
        description='Where the start time came from: "guano" (GUANO Timestamp), "audiomoth" (AudioMoth '
        'comment), "bext" (BWF origination date and time), "filename" (a pattern), "user"; None without one.',
    )
    time_zone: str | None = Field(
        default=None,
        description='The zone the source time was written in ("UTC", "+02:00", "Europe/Berlin").',
    )
    time_zone_assumed: bool = Field(
        default=False,
        description="True when the source gave no zone and the declared one (archive, import) was applied.",
    )
    time_expansion: float = Field(
        default=1.0, gt=0, description="GUANO TE: real time = stored time / time_expansion; 1 for none."
    )
    text: str | None = Field(default=None, description="The text the start time was read from.")
    note: str | None = Field(
        default=None, description="Why start is None: what was found and why it could not be used."
    )

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() != timedelta(0)):
            raise ValueError("start must be timezone-aware UTC")
        return value


def check_json_dict(
    value: object, what: str, *, max_bytes: int | None = None, max_depth: int = USER_META_DEPTH
) -> dict[str, Any]:
    """Check that ``value`` is a dict that survives JSON unchanged, within size limits.

    Allowed: dicts with str keys, lists, str, int, finite float, bool, None. Text
    must be encodable as UTF-8 (no lone surrogates).

    Parameters
    ----------
    value : object
        The candidate.
    what : str
        What to call it in messages ("user metadata of recording 3").
    max_bytes : int, optional
        Largest size of its compact UTF-8 JSON serialization, in bytes.
    max_depth : int
        Deepest nesting of dicts and lists (``value`` itself is depth 1); checked
        before anything else, without recursion, so hostile nesting cannot
        exhaust the stack. Default :data:`USER_META_DEPTH`.

    Returns
    -------
    dict
        ``value`` itself.

    Raises
    ------
    MetadataError
        Naming ``what`` and the path of the first offending value, or the size.
    """
    if not isinstance(value, dict):
        raise MetadataError(f"{what} must be a dict, not {type(value).__name__}")
    _check_depth(value, what, max_depth)
    _check(value, what, "")
    if max_bytes is not None:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size > max_bytes:
            raise MetadataError(f"{what} takes {size:,} bytes as JSON; at most {max_bytes:,} are allowed")
    return value


def _check_depth(value: object, what: str, max_depth: int) -> None:
    """Raise MetadataError if dicts/lists nest deeper than ``max_depth`` (iterative walk)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise MetadataError(f"{what} nests dicts and lists deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)


def _check(value: object, what: str, where: str) -> None:
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MetadataError(
                f"{what}: {where or 'value'} holds text that is not valid Unicode (a lone surrogate)"
            ) from None
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MetadataError(f"{what}: {where or 'value'} is {value}, which JSON cannot hold")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, what, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MetadataError(f"{what}: key {key!r} at {where or 'top level'} is not a string")
            _check(key, what, f"{where}.<key>" if where else "<key>")
            _check(item, what, f"{where}.{key}" if where else key)
        return
    raise MetadataError(
        f"{what}: {where or 'value'} has type {type(value).__name__}, which is not JSON-compatible"
    )
