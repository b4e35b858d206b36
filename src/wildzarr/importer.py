"""The import transaction: decode, hash, encode, scan, claim an id, write, commit, undo.

:func:`import_recording` turns a source into a committed recording, or leaves
the archive as it was. The steps (docs/design.md, "Import"; the records are
described in :mod:`wildzarr.ledger`):

1. **Checks before any work**: user metadata, the codec choice
   (:mod:`wildzarr.codecs.auto`), the source's format against the codec, for
   each stream (a codec holding at most N channels gets several streams); the
   start time (:mod:`wildzarr.starttime`: file metadata, a file-name pattern,
   the declared time zone, or the caller's ``start_time``).
2. **Duplicate check** by the source's sha256: the content claim, one read.
3. **Encode** each stream into a temporary file (or let a codec keep the
   source's own compressed frames) and **scan** it with the codec's scanner,
   which validates every frame; the frame index gets the stream's encoder
   delay, padding, pre-roll and, for codecs whose frames carry no checksum, a
   CRC-32 per frame. Nothing is written to the archive yet, so bad input fails
   here with the archive untouched.
4. **Claim an id** (exclusive create of ``ids/<id>`` with a lease marking the
   import alive) and **claim the content** (``sha256/<hex>``): the second of two
   imports of the same content stops here with DuplicateRecordingError.
5. **Write** the stream nodes under ``P/<id>/<k>/`` (stream document, blob array
   and chunks, index array), then make them durable (``Backend.sync``: fsync on a
   local folder).
6. **Write the recording document** ``P/<id>/zarr.json`` (exclusive create,
   durable), then **commit**: create the marker ``complete/<id>`` (durable).
   The recording is listed from this moment on. Both happen under a catalog
   change note (:func:`wildzarr.catalog.change_note`).
7. **Undo** on any failure or interrupt (KeyboardInterrupt included) before the
   commit: delete what this import wrote under ``P/<id>/``, free its content
   claim and give its id back, then re-raise. A crash (SIGKILL) instead leaves an
   interrupted import that is never listed; ``wildzarr repair`` removes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import mmap
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import numpy as np

from wildzarr._version import __version__
from wildzarr.arrays import blob_chunk_ranges, blob_document, index_nodes
from wildzarr.audio import AudioFormat, convert, first_nonfinite
from wildzarr.catalog import change_note
from wildzarr.codecs import Codec, Encoded
from wildzarr.codecs.auto import CodecChoice, choose_codec
from wildzarr.documents import DocumentError, encode_group
from wildzarr.errors import (
    DuplicateRecordingError,
    MetadataError,
    SourceError,
    StreamError,
    UnsupportedSourceError,
)
from wildzarr.index import FrameIndex
from wildzarr.layout import BLOB, INDEX, ZARR_JSON, RecordingAttrs, StreamAttrs, recording_key
from wildzarr.ledger import IdClaim, new_token
from wildzarr.location import Location
from wildzarr.metadata import USER_META_BYTES, RecordingInfo, RecordingTime, SourceInfo, check_json_dict
from wildzarr.recording import Recording
from wildzarr.sources import Source, open_source
from wildzarr.starttime import find_start_time
from wildzarr.storage import join
from wildzarr.timebase import to_utc

__all__ = ["import_recording"]


@dataclass(frozen=True)
class _Stream:
    """One encoded and scanned stream, ready to be written."""

    first_channel: int
    stored: AudioFormat
    index: FrameIndex
    decoder_config: dict[str, Any]
    data: memoryview


def import_recording(
    location: Location,
    source: str | os.PathLike[str] | np.ndarray,
    *,
    codec: str | dict[str, Any] | Codec,
    codec_params: dict[str, Any],
    user_meta: dict[str, Any],
    samplerate: int | None,
    allow_duplicates: bool,
    allow_truncated: bool,
    time_zone: str | None = None,
    filename_time: str | None = None,
    start_time: Any = None,
) -> Recording:
    """Import ``source`` as a new recording of the archive at ``location`` and return it.

    See :meth:`wildzarr.Archive.add` for the parameters and errors. On any
    error or interrupt the archive is left as it was.
    """
    user_meta = check_json_dict(user_meta, "user metadata", max_bytes=USER_META_BYTES)
    user_start = None if start_time is None else to_utc(start_time, "start_time")
    with open_source(source, samplerate=samplerate, allow_truncated=allow_truncated) as src:
        time = find_start_time(src.file_meta, src.name, time_zone=time_zone, filename_pattern=filename_time)
        if user_start is not None:
            time = RecordingTime(
                start=user_start.to_pydatetime(warn=False),
                source="user",
                time_zone="UTC",
                time_expansion=time.time_expansion,
            )
        choice = choose_codec(codec, codec_params, src.format)
        groups = _channel_groups(choice.codec, src.format.channels)
        stored = [_check(choice.codec, src.format.audio.with_(channels=n), src.name) for _, n in groups]
        source_info = src.source_info()
        if not allow_duplicates:
            _raise_if_duplicate(location.ledger.find(source_info.sha256), src.name)
        with contextlib.ExitStack() as stack:
            kept = _keep(choice, src, stack) if len(groups) == 1 else None
            if kept is not None:
                used, reason, streams = kept[0], kept[1], [kept[2]]
            else:
                used, reason = choice.codec, choice.reason
                streams = [
                    _encode(used, src, first, fmt, stack)
                    for (first, _), fmt in zip(groups, stored, strict=True)
                ]
            samples = {s.index.samples for s in streams}
            if len(samples) != 1:
                raise SourceError(
                    f"{src.name}: the streams hold different numbers of samples: {sorted(samples)}"
                )
            return _store(
                location, src, used, reason, streams, source_info, user_meta, time, allow_duplicates
            )


def _channel_groups(codec: Codec, channels: int) -> list[tuple[int, int]]:
    """(first channel, channels) of each stream: at most ``codec.max_channels`` each."""
    most = codec.max_channels or channels
    return [(first, min(most, channels - first)) for first in range(0, channels, most)]


def _check(codec: Codec, fmt: AudioFormat, name: str) -> AudioFormat:
    """The stored format of ``codec`` for ``fmt``; its refusal names the source."""
    try:
        return codec.check(fmt)
    except UnsupportedSourceError as exc:
        raise UnsupportedSourceError(f"{name}: {exc}") from None


def _raise_if_duplicate(existing: int | None, name: str) -> None:
    if existing is not None:
        raise DuplicateRecordingError(
            f"{name}: the same content is already recording {existing} "
            "(pass allow_duplicates=True to import it again)",
            existing,
        )


def _spool(stack: contextlib.ExitStack) -> IO[bytes]:
    return stack.enter_context(tempfile.TemporaryFile(prefix="wildzarr-"))


def _keep(choice: CodecChoice, src: Source, stack: contextlib.ExitStack) -> tuple[Codec, str, _Stream] | None:
    """The first codec of ``choice.keepers`` that keeps the source's frames, with its reason and stream."""
    for keeper in choice.keepers:
        try:
            fmt = keeper.check(src.format.audio)
        except UnsupportedSourceError:
            continue  # it could not store this audio anyway: the chosen codec encodes it
        spool = _spool(stack)
        encoded = keeper.keep(src, spool)
        if encoded is not None:
            stream = _scan(keeper, src, 0, fmt, encoded, spool, stack)
            return keeper, choice.kept_reason(keeper, src.format.codec), stream
    return None


def _encode(
    codec: Codec, src: Source, first: int, stored: AudioFormat, stack: contextlib.ExitStack
) -> _Stream:
    """Encode channels ``[first, first + stored.channels)`` of the source into a spool and scan it."""
    spool = _spool(stack)
    encoded = codec.encode(_conformed(src, first, stored), spool, stored)
    return _scan(codec, src, first, stored, encoded, spool, stack)


def _conformed(src: Source, first: int, stored: AudioFormat) -> Iterator[np.ndarray]:
    """The source's blocks, channels ``[first, first + stored.channels)``, converted to the stored format."""
    given = src.format.audio.with_(channels=stored.channels)
    whole = stored.channels == src.format.channels
    position = 0
    for block in src.blocks():
        part = block if whole else np.ascontiguousarray(block[:, first : first + stored.channels])
        if stored.kind != "float":
            bad = first_nonfinite(part)
            if bad is not None:
                raise SourceError(
                    f"{src.name}: NaN or infinite sample at sample {position + bad}; "
                    "codec='npy' stores such samples exactly"
                )
        yield convert(part, given, stored)
        position += len(block)


def _scan(
    codec: Codec,
    src: Source,
    first: int,
    stored: AudioFormat,
    encoded: Encoded,
    spool: IO[bytes],
    stack: contextlib.ExitStack,
) -> _Stream:
    """Map the spooled stream, index it, and add delay, padding, pre-roll and checksums to the index."""
    if encoded.samples == 0:
        raise SourceError(f"{src.name}: holds no samples")
    spool.flush()
    mapped = stack.enter_context(mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ))
    whole = memoryview(mapped)
    stack.callback(whole.release)  # no view of the mmap may outlive it, not even in a traceback
    scanned = codec.scan(whole, stored, encoded)
    index = scanned.index
    padding = index.decoded - encoded.delay - encoded.samples
    if padding < 0 or encoded.delay < 0:
        raise StreamError(
            f"{src.name}: the stream decodes to {index.decoded} samples, fewer than its delay "
            f"{encoded.delay} plus the {encoded.samples} samples encoded"
        )
    preroll = codec.preroll if scanned.preroll is None else scanned.preroll
    index = index.with_trim(delay=encoded.delay, padding=padding, preroll=preroll)
    data = whole[: index.end]
    stack.callback(data.release)
    if codec.frame_checksums:
        bounds = index.offsets.tolist()
        index = index.with_checksums(
            np.array([zlib.crc32(data[a:b]) for a, b in itertools.pairwise(bounds)], dtype=np.int64)
        )
    index.check()
    return _Stream(first, stored, index, scanned.decoder_config, data)


def _store(
    location: Location,
    src: Source,
    codec: Codec,
    reason: str,
    streams: list[_Stream],
    source_info: SourceInfo,
    user_meta: dict[str, Any],
    time: RecordingTime,
    allow_duplicates: bool,
) -> Recording:
    """Steps 4 to 7 of the module docstring: claim, write, commit, or undo."""
    backend, ledger, prefix = location.backend, location.ledger, location.prefix
    fmt = src.format
    token = new_token()
    samples = streams[0].index.samples
    stored = streams[0].stored
    claim = ledger.claim_id(
        token,
        source_info.sha256,
        source_info.name,
        node_taken=lambda rid: bool(backend.list_dir(recording_key(prefix, rid))),
    )
    rid = claim.id
    content_claimed = False
    try:
        holder = ledger.claim_content(source_info.sha256, rid, token)
        if holder is not None and not allow_duplicates:
            _raise_if_duplicate(holder, src.name)
        content_claimed = holder is None
        for k, stream in enumerate(streams):
            _write_stream(location, recording_key(prefix, rid, str(k)), codec, stream, token)
        backend.sync()
        stored_bytes = sum(len(s.data) for s in streams)
        info = RecordingInfo(
            id=rid,
            samplerate=fmt.samplerate,
            channels=fmt.channels,
            samples=samples,
            duration=samples / fmt.samplerate,
            bits_per_sample=stored.bits_per_sample,
            dtype=stored.dtype,
            codec=codec.get_config(),
            codec_choice=reason,
            lossy=codec.lossy,
            truncated=None
            if src.truncated is None
            else {"announced": src.truncated[0], "found": src.truncated[1]},
            stored_bytes=stored_bytes,
            source=source_info,
            imported_at=datetime.now(UTC),
            wildzarr_version=__version__,
        )
        attrs = RecordingAttrs(
            streams=len(streams),
            info=info,
            file_meta=src.file_meta,
            user_meta=user_meta,
            time=time,
            token=token,
        )
        fields = attrs.model_dump(mode="json")
        try:
            document = encode_group(fields)
        except DocumentError as exc:
            raise MetadataError(f"{src.name}: {exc} (file metadata plus user metadata)") from None
        with change_note(location, rid):
            if not backend.create(recording_key(prefix, rid, ZARR_JSON), document):
                raise SourceError(f"{src.name}: the document of recording {rid} appeared during the import")
            _commit(location, claim, source_info.sha256)
    except BaseException:
        _undo(location, claim, source_info.sha256 if content_claimed else None)
        raise
    claim.release()
    ledger.advance_hint(rid)
    return Recording(location, rid, RecordingAttrs.model_validate(fields), {})  # as stored: no re-read


def _write_stream(location: Location, stream_key: str, codec: Codec, stream: _Stream, token: str) -> None:
    """Write one stream group: its document, blob array and chunks, index array."""
    backend = location.backend
    data, index = stream.data, stream.index
    attrs = StreamAttrs(
        codec=codec.get_config(),
        decoder_config=stream.decoder_config,
        first_channel=stream.first_channel,
        channels=stream.stored.channels,
        samples=index.samples,
        stored_format=stream.stored.to_json(),
        delay=index.delay,
        padding=index.padding,
        preroll=index.preroll,
        stored_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        token=token,
    )
    backend.put(join(stream_key, ZARR_JSON), encode_group(attrs.model_dump(mode="json")))
    backend.put(join(stream_key, BLOB, ZARR_JSON), blob_document(len(data)))
    for key, begin, end, padding in blob_chunk_ranges(len(data)):
        with data[begin:end] as piece:  # released at once: no view of the mmap may outlive it
            backend.put(join(stream_key, BLOB, key), bytes(piece) + bytes(padding) if padding else piece)
    for key, node in index_nodes(index.to_table()).items():
        backend.put(join(stream_key, INDEX, key), node)


def _commit(location: Location, claim: IdClaim, sha256: str) -> None:
    """Create the commit marker; a marker of this import found after an error counts as committed."""
    try:
        if location.ledger.commit(claim, sha256):
            return
    except BaseException:
        marker = location.ledger.marker(claim.id)
        if marker is not None and marker.get("token") == claim.token:
            return  # the marker was written; only the answer was lost
        raise
    raise SourceError(f"recording {claim.id}: another writer committed this id")


def _undo(location: Location, claim: IdClaim, sha256: str | None) -> None:
    """Remove what an import wrote before its commit, free its content claim, give its id back."""
    location.backend.delete_prefix(recording_key(location.prefix, claim.id))
    if sha256 is not None:
        location.ledger.release_content(sha256, claim.id)
    location.ledger.release_id(claim)
