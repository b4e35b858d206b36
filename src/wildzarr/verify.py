"""``wildzarr verify``: check everything stored against everything that vouches for it.

For each recording (all listed ones, or those asked for):

- the recording document: readable, its checksum, its fields consistent with
  each other and with its group name, its bytes exactly as written (a flip that
  leaves the parsed content equal, like ``e`` to ``E`` in an exponent, still
  changes the bytes), and its commit marker naming the same content;
- each stream: its document (checksum, bytes), the blob and index arrays, the
  sha256 of the stream's bytes, the codec's full validation of the stream
  (FLAC: every frame header's CRC-8 and every frame's CRC-16), the stored frame
  index against the frames the codec finds, the zero padding of the last blob
  chunk, and the decoded audio against the checksum the stream carries (FLAC:
  the STREAMINFO MD5).

For the whole archive (when no ids are given): imports that were interrupted
and removals that did not finish (leftover nodes of ids that are neither
listed nor being imported), which ``wildzarr repair`` deletes; every
annotation set (readable, its checksums) and the table versions killed
writers left; the catalog served from its snapshot against one built from
every recording document (without writing anything).
"""

from __future__ import annotations

import hashlib
import itertools
import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from wildzarr.arrays import blob_chunk_key, blob_layout
from wildzarr.catalog import load_rows
from wildzarr.codecs import Encoded
from wildzarr.documents import DocumentError, is_canonical_bytes, parse_group
from wildzarr.errors import (
    DamagedAnnotationsError,
    DamagedRecordingError,
    DamagedRecordingWarning,
    RecordingNotFoundError,
    StorageError,
    StreamError,
)
from wildzarr.layout import ZARR_JSON, StreamAttrs, is_recording_name, recording_key
from wildzarr.location import Location
from wildzarr.reader import StreamReader
from wildzarr.storage import join

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["Finding", "Leftover", "Report", "find_leftovers", "verify"]

#: Frames decoded per step when checking the decoded audio.
_DECODE_FRAMES = 256


@dataclass(frozen=True)
class Finding:
    """One problem (or, with ``error`` False, one notice) found by :func:`verify`."""

    message: str
    recording: int | None = None
    stream: int | None = None
    frame: int | None = None
    error: bool = True

    def __str__(self) -> str:
        where = []
        if self.recording is not None:
            where.append(f"recording {self.recording}")
        if self.stream is not None:
            where.append(f"stream {self.stream}")
        if self.frame is not None:
            where.append(f"frame {self.frame}")
        label = "error" if self.error else "note"
        return f"{label}: {' '.join(where)}{': ' if where else ''}{self.message}"


@dataclass(frozen=True)
class Leftover:
    """Nodes of an id that is neither listed nor being imported: an interrupted import or removal."""

    id: int
    files: int
    bytes: int


@dataclass
class Report:
    """What :func:`verify` checked and found."""

    checked: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (notices aside)."""
        return not any(f.error for f in self.findings)

    def summary(self) -> str:
        """One line: how many recordings were checked and how many problems were found."""
        errors = sum(f.error for f in self.findings)
        return f"checked {len(self.checked)} recordings: {errors} problem{'s' if errors != 1 else ''}"

    def to_json(self) -> dict[str, Any]:
        """JSON-compatible form of the report."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "findings": [asdict(f) for f in self.findings],
            "leftovers": [asdict(x) for x in self.leftovers],
        }


def find_leftovers(location: Location) -> tuple[list[Leftover], list[int]]:
    """Leftover nodes of interrupted imports and removals, and the ids whose import is running now.

    Only nodes named by an id this archive claimed (and did not skip because a
    node of that name was already there) are considered: a group of the user's
    own that happens to be named like an id is never reported nor touched.
    """
    backend, ledger = location.backend, location.ledger
    names = {int(n) for n in backend.list_dir(location.prefix) if is_recording_name(n)}
    candidates = names - set(ledger.complete_ids())
    if not candidates:
        return [], []
    claimed = set(ledger.claimed_ids())
    leftovers, running = [], []
    for rid in sorted(candidates & claimed):
        record = ledger.id_record(rid)
        if record is not None and record.get("state") == "skipped":
            continue
        if ledger.is_importing(rid):
            running.append(rid)
            continue
        keys = backend.list_keys(recording_key(location.prefix, rid))
        if not _is_ours(location, rid, record):
            continue
        leftovers.append(Leftover(rid, len(keys), sum(size for _, size in keys)))
    return leftovers, running


def _is_ours(location: Location, rid: int, record: dict[str, Any] | None) -> bool:
    """Whether the group document at ``P/<rid>`` (if any) is a wildzarr recording of this import's token."""
    data = location.backend.get(recording_key(location.prefix, rid, ZARR_JSON))
    if data is None:
        return True
    try:
        fields, _ = parse_group(data, require_checksum=False)
    except DocumentError:
        return True  # a damaged document of ours: the group was claimed by this archive
    if fields is None or fields.get("kind") != "recording":
        return False
    return record is None or fields.get("token") in (None, record.get("token"))


def verify(archive: Archive, ids: list[int] | None = None) -> Report:
    """Check the archive (or the recordings ``ids``) as the module docstring describes.

    Returns
    -------
    Report
        ``report.ok`` is False when anything is wrong; every finding names the
        recording, the stream and the frame concerned.
    """
    location: Location = archive._location
    report = Report()
    for rid in ids if ids is not None else archive.ids():
        report.checked.append(rid)
        try:
            report.findings.extend(_check_recording(archive, location, rid))
        except StorageError as exc:  # an unsafe node, or the store failing: report it, go on
            report.findings.append(Finding(str(exc), recording=rid))
    if ids is None and location.format >= 2:
        leftovers, running = find_leftovers(location)
        report.leftovers = leftovers
        for item in leftovers:
            report.findings.append(
                Finding(
                    f"leftover of an interrupted import or removal: {item.files} files, {item.bytes} bytes "
                    "(wildzarr repair removes them)",
                    recording=item.id,
                )
            )
        for rid in running:
            report.findings.append(Finding("an import is in progress", recording=rid, error=False))
        report.findings.extend(_check_annotations(archive))
        report.findings.extend(_check_catalog(location))
    return report


def _check_annotations(archive: Archive) -> list[Finding]:
    """Every annotation set readable; table versions left by killed writers (``repair`` removes them)."""
    from wildzarr.annotations import find_leftovers as annotation_leftovers
    from wildzarr.annotations import list_sets, open_set

    findings = []
    for name in list_sets(archive):
        try:
            open_set(archive, name).df  # noqa: B018  (reading the table checks it)
        except DamagedAnnotationsError as exc:
            findings.append(Finding(str(exc)))
    for item in annotation_leftovers(archive):
        findings.append(
            Finding(
                f"annotation set {item.set_name!r}: a table version left by an interrupted change "
                f"({item.node}: {item.files} files, {item.bytes} bytes; wildzarr repair removes it)"
            )
        )
    return findings


def _check_catalog(location: Location) -> list[Finding]:
    """The catalog as served (snapshot and change notes) against the recording documents."""
    with warnings.catch_warnings():  # damaged recordings are reported by their own checks
        warnings.simplefilter("ignore", DamagedRecordingWarning)
        served = load_rows(location, write=False)
        truth = load_rows(location, refresh=True, write=False)

    def values(rows: dict[int, dict[str, Any]], rid: int) -> dict[str, Any] | None:
        row = rows.get(rid)
        return (
            None if row is None else {k: v for k, v in row.items() if v is not None}
        )  # as a snapshot keeps it

    differ = sorted(rid for rid in served.keys() | truth.keys() if values(served, rid) != values(truth, rid))
    if not differ:
        return []
    shown = ", ".join(map(str, differ[:10])) + (" ..." if len(differ) > 10 else "")
    return [
        Finding(
            f"the catalog snapshot disagrees with the documents of {len(differ)} recordings ({shown}); "
            "wildzarr repair rebuilds it"
        )
    ]


def _check_recording(archive: Archive, location: Location, rid: int) -> list[Finding]:
    try:
        rec = archive[rid]
    except RecordingNotFoundError:
        return [Finding("no such recording", recording=rid)]
    except DamagedRecordingError as exc:
        return [Finding(exc.reason, recording=rid)]
    findings = []
    backend = location.backend
    raw = backend.get(recording_key(location.prefix, rid, ZARR_JSON))
    if raw is not None and not is_canonical_bytes(raw):
        findings.append(Finding("zarr.json bytes differ from their canonical form", recording=rid))
    if location.format >= 2:
        marker = location.ledger.marker(rid)
        if marker is None or marker.get("sha256") != rec.info.source.sha256:
            findings.append(Finding("its commit marker does not name its content", recording=rid))
    try:
        readers = rec._stream_readers()
    except DamagedRecordingError as exc:
        return [*findings, Finding(exc.reason, recording=rid)]
    for k, (_, reader) in enumerate(readers):
        findings.extend(_check_stream(location, rid, k, reader))
    return findings


def _check_stream(location: Location, rid: int, k: int, reader: StreamReader) -> list[Finding]:
    backend = location.backend
    stream_key = recording_key(location.prefix, rid, str(k))
    findings = []

    def finding(message: str, frame: int | None = None) -> Finding:
        return Finding(message, recording=rid, stream=k, frame=frame)

    raw = backend.get(join(stream_key, ZARR_JSON)) or b""
    if not is_canonical_bytes(raw):
        findings.append(finding("zarr.json bytes differ from their canonical form"))
    try:
        fields, _ = parse_group(raw, require_checksum=location.format >= 2)
        attrs = StreamAttrs.model_validate(fields)
    except (DocumentError, ValueError) as exc:  # changed since the stream was opened
        return [*findings, finding(f"zarr.json: {exc}")]
    blob, index = reader.blob, reader.index
    try:
        layout_found = blob_layout(backend.get(join(blob.key, ZARR_JSON)) or b"")
    except DocumentError as exc:
        return [*findings, finding(f"blob/zarr.json: {exc}")]
    if layout_found != (blob.size, blob.chunk_size):
        findings.append(
            finding(
                f"the blob array holds {layout_found} (bytes, chunk), the stream document implies "
                f"{(blob.size, blob.chunk_size)}"
            )
        )
    try:
        data = blob.read(0, blob.size)
    except StreamError as exc:
        return [*findings, finding(str(exc))]
    if attrs.sha256 is not None and hashlib.sha256(data).hexdigest() != attrs.sha256:
        findings.append(finding("the stream's bytes do not match their sha256"))
    padding = -blob.size % blob.chunk_size
    if padding:
        last = (blob.size - 1) // blob.chunk_size
        tail = backend.get_range(
            join(blob.key, blob_chunk_key(last)), blob.chunk_size - padding, blob.chunk_size
        )
        if tail is None or len(tail) != padding or any(tail):
            findings.append(finding("the padding of the last blob chunk is not zero bytes"))
    try:
        hints = Encoded(
            samples=index.samples,
            delay=index.delay,
            frame_bytes=np.diff(index.offsets),
            decoder_config=reader.decoder_config,
        )
        found_index = reader.codec.scan(data, reader.stored, hints).index
    except StreamError as exc:
        frame = int(np.searchsorted(index.offsets, exc.offset, side="right")) - 1 if exc.offset >= 0 else -1
        label = (
            f" (samples {index.first_samples[frame]}-{index.first_samples[frame + 1] - 1})"
            if frame >= 0
            else ""
        )
        return [*findings, finding(f"{exc}{label}", frame if frame >= 0 else None)]
    stored = index.to_table()[:, :2]
    found = found_index.to_table()[:, :2]
    if stored.shape != found.shape or not np.array_equal(stored, found):
        rows = min(len(stored), len(found))
        differ = np.flatnonzero(np.any(stored[:rows] != found[:rows], axis=1))
        frame = int(differ[0]) if len(differ) else rows
        findings.append(finding("the stored frame index disagrees with the frames in the stream", frame))
        return findings
    findings.extend(_check_audio(reader, finding))
    return findings


def _check_audio(reader: StreamReader, finding: Any) -> list[Finding]:
    """Decode every frame and compare the samples with the stream's own checksum (if it has one)."""
    digest = reader.codec.audio_digest(reader.stored, reader.decoder_config)
    index = reader.index
    # Source-sample bounds of every _DECODE_FRAMES frames (delay and padding trimmed).
    bounds = np.clip(index.first_samples[::_DECODE_FRAMES] - index.delay, 0, index.samples).tolist()
    for start, stop in itertools.pairwise([*bounds, index.samples]):
        if start >= stop:
            continue
        try:
            samples = reader.read(start, stop)
        except StreamError as exc:
            return [finding(str(exc), exc.frame if exc.frame >= 0 else None)]
        if digest is not None:
            digest.update(samples)
    if digest is not None and digest.matches() is False:
        return [finding(f"the decoded audio does not match its {digest.name}")]
    return []
