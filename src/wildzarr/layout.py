"""The storage layout: node names, keys and the documents stored in them (docs/format.md).

Keys are relative to the archive group (the prefix ``P`` the archive attaches at)::

    P/zarr.json                     group; attributes["wildzarr"] = ArchiveAttrs
    P/<id>/zarr.json                group; attributes["wildzarr"] = RecordingAttrs
    P/<id>/<k>/zarr.json            group; attributes["wildzarr"] = StreamAttrs  (k = 0, 1, ...)
    P/<id>/<k>/blob                 array uint8 (stream bytes,), the codec byte stream
    P/<id>/<k>/index                array int64 (frames, 2 or 3): byte offset, first decoded sample[, CRC-32]
    P/_wildzarr/zarr.json           group; the ledger of the many-writer protocol (format 2):
    P/_wildzarr/ids/<id>            id claims, never deleted (ledger.IdClaim)
    P/_wildzarr/complete/<id>       commit markers: a recording is listed iff its marker exists
    P/_wildzarr/sha256/<hex>        content claims, for duplicate detection (ledger.ContentClaim)
    P/_wildzarr/next_id             where the search for a free id starts (a hint, not a truth)

All wildzarr attributes sit under the one key ``"wildzarr"``, so a user's own
attributes and groups beside them are left alone.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wildzarr.metadata import FORMAT_VERSION, RecordingInfo, RecordingTime

__all__ = [
    "ATTRS_KEY",
    "BLOB",
    "INDEX",
    "LEDGER",
    "ArchiveAttrs",
    "LedgerAttrs",
    "RecordingAttrs",
    "StreamAttrs",
    "is_recording_name",
]

#: The attribute key every wildzarr document is stored under.
ATTRS_KEY = "wildzarr"
#: Array names inside a stream group.
BLOB = "blob"
INDEX = "index"
#: The ledger group's name; it cannot be a recording id.
LEDGER = "_wildzarr"
#: The document of a Zarr v3 node (Zarr v3 spec, "Metadata").
ZARR_JSON = "zarr.json"

_RECORDING_NAME = re.compile(r"[1-9][0-9]{0,17}")


def is_recording_name(name: str) -> bool:
    """True if ``name`` has the form of a recording id (a decimal number without leading zeros)."""
    return _RECORDING_NAME.fullmatch(name) is not None


class _Document(BaseModel):
    """Fields a newer writer adds are kept (``extra="allow"``) and written back on rewrite."""

    model_config = ConfigDict(extra="allow")


class ArchiveAttrs(_Document):
    """Attributes of the group an archive attaches at.

    ``next_id`` is the format-1 counter of ids handed out; format 2 keeps ids in
    the ledger and has no such field.
    """

    kind: Literal["archive"] = "archive"
    format: int = FORMAT_VERSION
    next_id: int | None = Field(default=None, ge=1, description="Format 1: smallest id never handed out.")
    time_zone: str | None = Field(
        default=None,
        description="Zone applied at import to local times that carry none (IANA name or offset).",
    )


class LedgerAttrs(_Document):
    """Attributes of the ledger group ``P/_wildzarr``."""

    kind: Literal["ledger"] = "ledger"
    format: int = FORMAT_VERSION


class StreamAttrs(_Document):
    """Attributes of one codec stream of a recording."""

    kind: Literal["stream"] = "stream"
    codec: dict[str, Any] = Field(description='Codec configuration, e.g. {"id": "flac", ...}.')
    decoder_config: dict[str, Any] = Field(description="What the codec's decoder needs (FLAC: STREAMINFO).")
    first_channel: int = Field(ge=0, description="Channel of the recording this stream's channel 0 is.")
    channels: int = Field(ge=1)
    samples: int = Field(ge=1, description="Source samples per channel (delay and padding excluded).")
    stored_format: dict[str, Any] | None = Field(
        default=None,
        description="The AudioFormat the codec stores and decodes to (samplerate, channels, dtype, "
        "bits_per_sample); absent in streams written before it was recorded: FLAC integers.",
    )
    delay: int = Field(
        default=0, ge=0, description="Encoder delay (priming): decoded samples before sample 0."
    )
    padding: int = Field(default=0, ge=0, description="Decoded samples after the last source sample.")
    preroll: int = Field(
        default=0, ge=0, description="Frames decoded and discarded before a range's first frame."
    )
    stored_bytes: int | None = Field(
        default=None, ge=1, description="Format 2: length of the stream in bytes."
    )
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="Format 2: sha256 of the stream's bytes."
    )
    token: str | None = Field(default=None, description="Format 2: the import that wrote the stream.")


class RecordingAttrs(_Document):
    """Attributes of a recording group.

    Format 1 writes the group first in state ``"importing"`` and turns it
    ``"complete"`` at the end; format 2 writes the document once, complete,
    just before the commit marker, and lists a recording by its marker.
    """

    kind: Literal["recording"] = "recording"
    format: int = FORMAT_VERSION
    state: Literal["importing", "complete"] = "complete"
    streams: int = Field(ge=1, description="Number of stream groups, named 0, 1, ...")
    info: RecordingInfo | None = None
    file_meta: dict[str, Any] = Field(default_factory=dict)
    user_meta: dict[str, Any] = Field(default_factory=dict)
    time: RecordingTime | None = Field(
        default=None,
        description="Start time and time expansion; absent in documents written before times were kept.",
    )
    token: str | None = Field(default=None, description="Format 2: the import that wrote the recording.")


def recording_key(prefix: str, rid: int, *parts: str) -> str:
    """Key of ``parts`` in recording ``rid``'s group: ``recording_key("", 3, "0") == "3/0"``."""
    return "/".join(p for p in (prefix, str(rid), *parts) if p)
