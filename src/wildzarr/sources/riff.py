"""A bounds-checked reader of the chunks of RIFF/WAVE files (also RF64 and BW64).

FFmpeg decodes WAV audio but hides most of what field recorders write around
it. This module walks the chunk list itself and returns, JSON-compatible:

``"chunks"``
    every top-level chunk in file order: ``{"id", "offset", "size"}`` with the
    offset of the chunk header in the file and the chunk's data size (the
    RF64 ``ds64`` size where the header says 0xFFFFFFFF); ``"list_type"`` for
    ``LIST`` chunks; ``"truncated": True`` when the file ends inside the chunk;
    ``"size_unknown": True`` for a ``data`` chunk whose size is a placeholder
    (0xFFFFFFFF, or 0 followed by samples): its size is then taken to the end
    of the file, as FFmpeg does.
``"fmt"``
    the ``fmt `` chunk: ``format_tag``, ``channels``, ``samplerate``,
    ``byte_rate``, ``block_align``, ``bits_per_sample`` and, for
    WAVE_FORMAT_EXTENSIBLE, ``valid_bits``, ``channel_mask``, ``subformat``.
``"guano"``
    the ``guan`` chunk (GUANO v1.0, https://github.com/riggsd/guano-spec):
    UTF-8 text, one ``key: value`` per line, keys possibly namespaced
    (``NABat|Site Name``); returned as ``{key: value}`` with both stripped of
    surrounding whitespace and the value otherwise as written.
``"bext"``
    the Broadcast Wave ``bext`` chunk (EBU Tech 3285 v2): Description,
    Originator, OriginatorReference, OriginationDate, OriginationTime,
    TimeReference (int, samples since midnight), Version, UMID (hex, ``""``
    when all zero), for Version >= 2 LoudnessValue, LoudnessRange,
    MaxTruePeakLevel, MaxMomentaryLoudness, MaxShortTermLoudness (ints in
    hundredths of LU / dB as stored), and CodingHistory.
``"ixml"``, ``"xmp"``
    the text of the ``iXML`` and ``_PMX`` chunks.
``"info"``
    ``LIST``/``INFO`` entries by four-letter id (``"ICMT"``, ``"ISFT"`` ...),
    at most :data:`~wildzarr.sources.limits.MAX_ENTRIES`.
``"truncated"``
    the texts read only in part, as records ``{"field": "info.ICMT", "bytes":
    <size in the file>}`` (see :mod:`wildzarr.sources.limits`), only when some
    were.
``"riff_warnings"``
    what looked wrong (truncated chunks, unreadable ids), only when something
    did.

Text is decoded as UTF-8 and, when that fails, as latin-1, so every byte
string gives some text; nothing is otherwise repaired (mojibake stays). Each
text (the ``guan``, ``iXML`` and ``_PMX`` chunks, every ``LIST``/``INFO``
entry, the bext CodingHistory) is read up to
:data:`~wildzarr.sources.limits.MAX_TEXT_BYTES` from the file, whatever its
size, and cut to that many UTF-8 bytes once decoded; a text cut short is
recorded under ``"truncated"``.

Chunk layout per the Microsoft/IBM RIFF specification (1991): a 12-byte header
``RIFF <size> WAVE``, then chunks of a four-character id, a little-endian
uint32 size and the data, padded to an even length. RF64 (EBU Tech 3306) and
BW64 (ITU-R BS.2088) put 64-bit sizes in a ``ds64`` chunk. Hostile input gives
a result with warnings, never an exception other than
:class:`~wildzarr.errors.SourceError` (for a file that cannot be read at all).
"""

from __future__ import annotations

import codecs
import os
import struct
from dataclasses import dataclass, field
from typing import IO, Any

from wildzarr.errors import SourceError
from wildzarr.sources.limits import MAX_ENTRIES, MAX_TEXT_BYTES, TRUNCATED, cap_text
from wildzarr.sources.names import display_name

__all__ = ["MAX_CHUNKS", "RiffInfo", "is_riff_wave", "parse_riff", "read_riff"]

#: Most chunks listed; the walk stops after this many.
MAX_CHUNKS = 4096

_FORMS = (b"RIFF", b"RF64", b"BW64")
_UNKNOWN_SIZE = 0xFFFFFFFF
_BEXT_FIXED = 602  # bytes before CodingHistory (EBU Tech 3285 v2)
_LOUDNESS = (
    "LoudnessValue",
    "LoudnessRange",
    "MaxTruePeakLevel",
    "MaxMomentaryLoudness",
    "MaxShortTermLoudness",
)


@dataclass
class RiffInfo:
    """What :func:`parse_riff` found.

    Attributes
    ----------
    form : str
        ``"RIFF"``, ``"RF64"`` or ``"BW64"``.
    data_offset : int or None
        File offset of the first byte of the (first) ``data`` chunk's samples.
    data_size : int or None
        The ``data`` chunk's announced size in bytes; None when there is no
        ``data`` chunk or its size is a placeholder (0, or 0xFFFFFFFF without a
        ``ds64`` chunk), as written by recorders that never finalized the file.
    data_available : int
        Bytes of the ``data`` chunk actually present in the file.
    meta : dict
        JSON-compatible results, keys described in the module docstring.
    """

    form: str
    data_offset: int | None = None
    data_size: int | None = None
    data_available: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def block_align(self) -> int | None:
        """Bytes per sample frame from the ``fmt `` chunk, or None."""
        fmt = self.meta.get("fmt")
        align = fmt.get("block_align") if fmt else None
        return align if isinstance(align, int) and align > 0 else None


def is_riff_wave(head: bytes) -> bool:
    """True when ``head`` (the first 12 bytes of a file) starts a RIFF/RF64/BW64 WAVE file."""
    return len(head) >= 12 and head[:4] in _FORMS and head[8:12] == b"WAVE"


def read_riff(path: str | os.PathLike[str], name: str | None = None) -> RiffInfo | None:
    """Parse the RIFF chunks of a file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    name : str, optional
        Name for error messages (default: ``path`` as valid Unicode, see
        :func:`~wildzarr.sources.names.display_name`).

    Returns
    -------
    RiffInfo or None
        None when the file is not a RIFF/RF64/BW64 WAVE file.

    Raises
    ------
    SourceError
        When the file cannot be opened or read.
    """
    label = name if name is not None else display_name(path)
    try:
        with open(path, "rb") as f:
            return parse_riff(f)
    except OSError as e:
        raise SourceError(f"{label}: cannot read the file: {e.strerror or e}") from e


def parse_riff(f: IO[bytes]) -> RiffInfo | None:
    """Parse the RIFF chunks of a seekable binary file object.

    Reads only chunk headers and the metadata chunks (at most
    :data:`~wildzarr.sources.limits.MAX_TEXT_BYTES` of each text); the sample
    data is skipped, never read.

    Returns
    -------
    RiffInfo or None
        None when ``f`` does not start with a RIFF/RF64/BW64 WAVE header.
    """
    f.seek(0)
    head = f.read(12)
    if not is_riff_wave(head):
        return None
    file_size = f.seek(0, os.SEEK_END)
    info = RiffInfo(form=head[:4].decode("ascii"))
    return _Walker(f, file_size, info).walk()


class _Walker:
    def __init__(self, f: IO[bytes], file_size: int, info: RiffInfo) -> None:
        self.f = f
        self.file_size = file_size
        self.info = info
        self.chunks: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.truncated: list[dict[str, Any]] = []
        self.ds64: dict[str, int] = {}

    def read_at(self, offset: int, size: int) -> bytes:
        size = max(0, min(size, self.file_size - offset))
        self.f.seek(offset)
        return self.f.read(size)

    def walk(self) -> RiffInfo:
        meta = self.info.meta
        meta["chunks"] = self.chunks
        pos = 12
        while pos + 8 <= self.file_size:
            if len(self.chunks) >= MAX_CHUNKS:
                self.warnings.append(f"more than {MAX_CHUNKS} chunks; stopped listing at offset {pos}")
                break
            header = self.read_at(pos, 8)
            cid = header[:4]
            if len(header) < 8 or not _valid_id(cid):
                self.warnings.append(f"no valid chunk id at offset {pos}; ignored the remaining bytes")
                break
            size = struct.unpack("<I", header[4:])[0]
            sid = cid.decode("ascii")
            if size == _UNKNOWN_SIZE and self.info.form != "RIFF":
                size = self.ds64.get(sid, size)
            body = pos + 8
            entry: dict[str, Any] = {"id": sid, "offset": pos, "size": size}
            if sid == "data" and self.placeholder_size(size, body):
                # A recorder that never finalized the header: the samples run to the end.
                size = self.file_size - body
                entry["size"] = size
                entry["size_unknown"] = True
            available = max(0, min(size, self.file_size - body))
            if available < size:
                entry["truncated"] = True
                self.warnings.append(
                    f"chunk {sid!r} at offset {pos} announces {size} bytes, file holds {available}"
                )
            self.chunks.append(entry)
            self.handle(sid, entry, body, size, available)
            pos = self.next_pos(body, size)
        else:
            if pos < self.file_size:
                self.warnings.append(f"{self.file_size - pos} trailing bytes after the last chunk")
        if self.truncated:
            meta[TRUNCATED] = self.truncated
        if self.warnings:
            meta["riff_warnings"] = self.warnings
        return self.info

    def placeholder_size(self, size: int, body: int) -> bool:
        """True when a data chunk's size is a placeholder (0xFFFFFFFF, or 0 before more bytes
        that are not a chunk header)."""
        if size == _UNKNOWN_SIZE:
            return True
        return size == 0 and body + 8 <= self.file_size and not _valid_id(self.read_at(body, 4))

    def next_pos(self, body: int, size: int) -> int:
        end = body + size
        if size % 2 == 0:
            return end
        # Odd size: a pad byte follows, but some writers omit it. Use the unpadded
        # position only when it holds a chunk id and the padded one does not.
        padded = self.read_at(end + 1, 4)
        if end + 1 + 8 <= self.file_size and _valid_id(padded):
            return end + 1
        unpadded = self.read_at(end, 4)
        if _valid_id(unpadded):
            return end
        return end + 1

    def handle(self, sid: str, entry: dict[str, Any], body: int, size: int, available: int) -> None:
        meta = self.info.meta
        if sid == "data":
            if self.info.data_offset is None:
                self.info.data_offset = body
                self.info.data_available = available
                if not entry.get("size_unknown"):
                    self.info.data_size = size
            return
        if sid == "ds64":
            self.parse_ds64(self.read_at(body, min(available, 4096)))
            return
        if sid == "fmt ":
            fmt = _parse_fmt(self.read_at(body, min(available, 256)))
            if fmt is not None and "fmt" not in meta:
                meta["fmt"] = fmt
            return
        if sid == "LIST":
            list_type = self.read_at(body, min(available, 4))
            if len(list_type) == 4 and _valid_id(list_type):
                entry["list_type"] = list_type.decode("ascii")
            if list_type == b"INFO":
                self.read_info(body + 4, body + available)
            return
        if sid == "bext":
            data, cut = self.read_capped(body, available, _BEXT_FIXED + MAX_TEXT_BYTES)
            fields = parse_bext(data, cut)
            if "CodingHistory" in fields:
                history_cut = cut and b"\0" not in data[_BEXT_FIXED:]
                stored = available - _BEXT_FIXED
                fields["CodingHistory"] = self.note(
                    "bext.CodingHistory", fields["CodingHistory"], stored, history_cut
                )
            meta["bext"] = fields
            return
        key = {"guan": "guano", "iXML": "ixml", "_PMX": "xmp"}.get(sid)
        if key is None:
            return
        data, cut = self.read_capped(body, available)
        text = self.note(key, decode_text(data, cut), available, cut)
        meta[key] = _guano_fields(text) if key == "guano" else text

    def read_capped(self, offset: int, size: int, limit: int = MAX_TEXT_BYTES) -> tuple[bytes, bool]:
        """At most ``limit`` of the ``size`` bytes at ``offset``, and whether that is fewer than ``size``."""
        return self.read_at(offset, min(size, limit)), size > limit

    def note(self, field: str, text: str, stored: int, cut: bool) -> str:
        """``text`` cut to MAX_TEXT_BYTES, recording a truncation when it was read in part or is cut here.

        ``cut`` tells that the text was read in part; the record's size is then
        its size in the file (``stored``), else its UTF-8 size.
        """
        capped, size = cap_text(text)
        if cut or size > MAX_TEXT_BYTES:
            self.truncated.append({"field": field, "bytes": stored if cut else size})
        return capped

    def read_info(self, start: int, end: int) -> None:
        """Read the LIST/INFO entries between file offsets ``start`` and ``end`` into ``meta["info"]``.

        Each value is read up to MAX_TEXT_BYTES; after MAX_ENTRIES entries the
        rest of the list is recorded as dropped, not read.
        """
        info: dict[str, str] = self.info.meta.setdefault("info", {})
        pos = start
        while pos + 8 <= end:
            header = self.read_at(pos, 8)
            cid = header[:4]
            if len(header) < 8 or not _valid_id(cid):
                break
            if len(info) >= MAX_ENTRIES:
                self.truncated.append({"field": f"info[{MAX_ENTRIES}:]", "bytes": end - pos, "dropped": True})
                break
            (size,) = struct.unpack("<I", header[4:])
            stored = max(0, min(size, end - pos - 8))
            data, cut = self.read_capped(pos + 8, stored)
            key = cid.decode("ascii")
            info[key] = self.note(f"info.{key}", _zstr(data, cut), stored, cut and b"\0" not in data)
            pos += 8 + size + (size & 1)

    def parse_ds64(self, data: bytes) -> None:
        if len(data) < 24:
            self.warnings.append("ds64 chunk shorter than 24 bytes; ignored")
            return
        _riff_size, data_size, _sample_count = struct.unpack_from("<QQQ", data, 0)
        self.ds64["data"] = data_size
        if len(data) >= 28:
            (table_length,) = struct.unpack_from("<I", data, 24)
            for i in range(min(table_length, (len(data) - 28) // 12)):
                cid, csize = struct.unpack_from("<4sQ", data, 28 + 12 * i)
                if _valid_id(cid):
                    self.ds64[cid.decode("ascii")] = csize


def _valid_id(cid: bytes) -> bool:
    return len(cid) == 4 and all(0x20 <= b <= 0x7E for b in cid)


def decode_text(data: bytes, cut: bool = False) -> str:
    """Decode chunk text: trailing NUL padding removed, UTF-8, else latin-1.

    ``cut`` tells that ``data`` is the start of a longer text: a UTF-8 sequence
    left incomplete at its end is dropped (instead of making the text latin-1).
    """
    data = data.rstrip(b"\0")
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=not cut)
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _zstr(data: bytes, cut: bool = False) -> str:
    """A NUL-terminated (or NUL-padded) string field; ``cut`` as in :func:`decode_text`."""
    head, nul, _ = data.partition(b"\0")
    return decode_text(head, cut and not nul)


def _parse_fmt(data: bytes) -> dict[str, Any] | None:
    if len(data) < 16:
        return None
    tag, channels, rate, byte_rate, align, bits = struct.unpack_from("<HHIIHH", data, 0)
    fmt: dict[str, Any] = {
        "format_tag": tag,
        "channels": channels,
        "samplerate": rate,
        "byte_rate": byte_rate,
        "block_align": align,
        "bits_per_sample": bits,
    }
    if tag == 0xFFFE and len(data) >= 40:
        _cb, valid, mask = struct.unpack_from("<HHI", data, 16)
        fmt["valid_bits"] = valid
        fmt["channel_mask"] = mask
        fmt["subformat"] = data[24:40].hex()
    return fmt


def parse_guano(data: bytes) -> dict[str, str]:
    """Fields of a GUANO ``guan`` chunk, keyed by their GUANO names.

    GUANO v1.0: UTF-8 text, lines separated by LF (CR LF tolerated), each
    ``key: value`` split at the first colon; keys may carry a namespace
    (``GUANO|Version``, ``NABat|Site Name``). Whitespace around keys and values
    is stripped; lines without a colon are ignored; a repeated key keeps its
    last value. Non-UTF-8 text is decoded as latin-1.
    """
    return _guano_fields(decode_text(data))


def _guano_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and key:
            out[key] = value.strip()
    return out


def parse_bext(data: bytes, cut: bool = False) -> dict[str, Any]:
    """Fields of a Broadcast Wave ``bext`` chunk (EBU Tech 3285 v2).

    Layout: Description (256 bytes), Originator (32), OriginatorReference (32),
    OriginationDate (10, ``yyyy-mm-dd``), OriginationTime (8, ``hh-mm-ss``),
    TimeReferenceLow/High (2 x uint32: samples since midnight), Version
    (uint16), UMID (64 bytes, v1+), five int16 loudness values in hundredths
    (v2), 180 reserved bytes, then CodingHistory (text). A short chunk yields
    the fields it holds whole. ``cut`` tells that ``data`` is the start of a
    longer chunk (see :func:`decode_text`).
    """
    out: dict[str, Any] = {}
    for key, start, length in (
        ("Description", 0, 256),
        ("Originator", 256, 32),
        ("OriginatorReference", 288, 32),
        ("OriginationDate", 320, 10),
        ("OriginationTime", 330, 8),
    ):
        if len(data) >= start + length:
            out[key] = _zstr(data[start : start + length])
    if len(data) >= 346:
        low, high = struct.unpack_from("<II", data, 338)
        out["TimeReference"] = (high << 32) | low
    if len(data) >= 348:
        (version,) = struct.unpack_from("<H", data, 346)
        out["Version"] = version
        if len(data) >= 412:
            umid = data[348:412]
            out["UMID"] = umid.hex() if any(umid) else ""
        if version >= 2 and len(data) >= 422:
            values = struct.unpack_from("<5h", data, 412)
            out.update(zip(_LOUDNESS, values, strict=True))
    if len(data) > _BEXT_FIXED:
        out["CodingHistory"] = _zstr(data[_BEXT_FIXED:], cut)
    return out
