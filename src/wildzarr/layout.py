"""The storage layout: node names and attribute documents (docs/format.md describes them).

::

    <archive group>/zarr.json            attributes["wildzarr"] = ArchiveAttrs
    <archive group>/<id>/zarr.json       attributes["wildzarr"] = RecordingAttrs
    <archive group>/<id>/<k>/zarr.json   attributes["wildzarr"] = StreamAttrs  (k = 0, 1, ...)
    <archive group>/<id>/<k>/blob        uint8 (stream bytes,), the codec byte stream
    <archive group>/<id>/<k>/index       int64 (n_frames, 2): byte offset, first sample

All wildzarr attributes sit under the one key ``"wildzarr"``, so a user's own
attributes and groups beside them are left alone.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wildzarr.metadata import FORMAT_VERSION, RecordingInfo

__all__ = [
    "ATTRS_KEY",
    "BLOB",
    "INDEX",
    "ArchiveAttrs",
    "RecordingAttrs",
    "StreamAttrs",
    "is_recording_name",
]

#: The attribute key every wildzarr document is stored under.
ATTRS_KEY = "wildzarr"
#: Array names inside a stream group.
BLOB = "blob"
INDEX = "index"

_RECORDING_NAME = re.compile(r"[1-9][0-9]*")


def is_recording_name(name: str) -> bool:
    """True if ``name`` has the form of a recording id (a decimal number without leading zeros)."""
    return _RECORDING_NAME.fullmatch(name) is not None


class ArchiveAttrs(BaseModel):
    """Attributes of the group an archive attaches at."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["archive"] = "archive"
    format: int = FORMAT_VERSION
    next_id: int = Field(default=1, ge=1, description="Smallest id never handed out.")


class StreamAttrs(BaseModel):
    """Attributes of one codec stream of a recording."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["stream"] = "stream"
    codec: dict[str, Any] = Field(description='Codec configuration, e.g. {"id": "flac", ...}.')
    decoder_config: dict[str, Any] = Field(description="What the codec's decoder needs (FLAC: STREAMINFO).")
    first_channel: int = Field(ge=0, description="Channel of the recording this stream's channel 0 is.")
    channels: int = Field(ge=1)
    samples: int = Field(ge=1, description="Samples per channel.")


class RecordingAttrs(BaseModel):
    """Attributes of a recording group; ``state`` turns "complete" as the last step of an import."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["recording"] = "recording"
    format: int = FORMAT_VERSION
    state: Literal["importing", "complete"]
    streams: int = Field(ge=1, description="Number of stream groups, named 0, 1, ...")
    info: RecordingInfo | None = None
    file_meta: dict[str, Any] = Field(default_factory=dict)
    user_meta: dict[str, Any] = Field(default_factory=dict)
