"""The import transaction: decode, hash, encode, scan, claim an id, write, commit, undo.

:func:`import_recording` turns a source into a committed recording, or leaves
the archive as it was. The steps (docs/design.md, "Import"; the records are
described in :mod:`wildzarr.ledger`):

1. **Checks before any work**: user metadata, codec parameters, the source's
   format against the codec.
2. **Duplicate check** by the source's sha256: the content claim, one read.
3. **Encode** into a temporary file and **scan** it with the codec's (C)
   scanner, which validates every frame. Nothing is written to the archive yet,
   so bad input fails here with the archive untouched.
4. **Claim an id** (exclusive create of ``ids/<id>`` with a lease marking the
   import alive) and **claim the content** (``sha256/<hex>``): the second of two
   imports of the same content stops here with DuplicateRecordingError.
5. **Write** the stream nodes under ``P/<id>/`` (stream document, blob array and
   chunks, index array), then make them durable (``Backend.sync``: fsync on a
   local folder).
6. **Write the recording document** ``P/<id>/zarr.json`` (exclusive create,
   durable), then **commit**: create the marker ``complete/<id>`` (durable).
   The recording is listed from this moment on.
7. **Undo** on any failure or interrupt (KeyboardInterrupt included) before the
   commit: delete what this import wrote under ``P/<id>/``, free its content
   claim and give its id back, then re-raise. A crash (SIGKILL) instead leaves an
   interrupted import that is never listed; ``wildzarr repair`` removes it.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
from datetime import UTC, datetime
from typing import Any

import numpy as np

from wildzarr._version import __version__
from wildzarr.arrays import blob_chunk_ranges, blob_document, index_nodes
from wildzarr.codecs import Codec, StreamLayout, get_codec
from wildzarr.documents import DocumentError, encode_group
from wildzarr.errors import (
    ArgumentError,
    DuplicateRecordingError,
    MetadataError,
    SourceError,
    UnsupportedSourceError,
)
from wildzarr.layout import BLOB, INDEX, ZARR_JSON, RecordingAttrs, StreamAttrs, recording_key
from wildzarr.ledger import IdClaim, new_token
from wildzarr.location import Location
from wildzarr.metadata import USER_META_BYTES, RecordingInfo, SourceInfo, check_json_dict
from wildzarr.recording import Recording
from wildzarr.sources import Source, open_source
from wildzarr.storage import join

__all__ = ["import_recording", "make_codec"]


def make_codec(codec: str | dict[str, Any] | Codec, params: dict[str, Any]) -> Codec:
    """The codec named by ``codec`` (an id, a config dict or an instance) with ``params``.

    Raises
    ------
    ArgumentError
        For an unknown codec id or invalid parameters, or parameters given
        beside a Codec instance.
    """
    if isinstance(codec, Codec):
        if params:
            raise ArgumentError("give codec parameters either in the Codec object or as keywords, not both")
        return codec
    try:
        return get_codec(codec, **params)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"codec {codec!r}: {exc}") from None


def import_recording(
    location: Location,
    source: str | os.PathLike[str] | np.ndarray,
    *,
    codec: Codec,
    user_meta: dict[str, Any],
    samplerate: int | None,
    allow_duplicates: bool,
) -> Recording:
    """Import ``source`` as a new recording of the archive at ``location`` and return it.

    See :meth:`wildzarr.Archive.add` for the parameters and errors. On any
    error or interrupt the archive is left as it was.
    """
    user_meta = check_json_dict(user_meta, "user metadata", max_bytes=USER_META_BYTES)
    ledger = location.ledger
    with open_source(source, samplerate=samplerate) as src:
        fmt = src.format
        try:
            codec.check(fmt.samplerate, fmt.channels, fmt.bits_per_sample, fmt.is_float)
        except UnsupportedSourceError as exc:
            raise UnsupportedSourceError(f"{src.name}: {exc}") from None
        source_info = src.source_info()
        if not allow_duplicates:
            _raise_if_duplicate(ledger.find(source_info.sha256), src.name)
        with tempfile.TemporaryFile(prefix="wildzarr-") as spool:
            samples = codec.encode(
                src.blocks(),
                spool,
                samplerate=fmt.samplerate,
                channels=fmt.channels,
                bits_per_sample=fmt.bits_per_sample,
            )
            if samples == 0:
                raise SourceError(f"{src.name}: holds no samples")
            spool.flush()
            with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                stream = memoryview(mapped)
                try:
                    layout = codec.scan(stream)
                    if layout.samples != samples:
                        raise SourceError(
                            f"{src.name}: the encoder wrote {samples} samples "
                            f"but the stream holds {layout.samples}"
                        )
                    payload = stream[: layout.end]
                    try:
                        return _store(
                            location, src, codec, layout, payload, source_info, user_meta, allow_duplicates
                        )
                    finally:
                        payload.release()  # no view of the mmap may outlive it, not even in a traceback
                finally:
                    stream.release()


def _raise_if_duplicate(existing: int | None, name: str) -> None:
    if existing is not None:
        raise DuplicateRecordingError(
            f"{name}: the same content is already recording {existing} "
            "(pass allow_duplicates=True to import it again)",
            existing,
        )


def _store(
    location: Location,
    src: Source,
    codec: Codec,
    layout: StreamLayout,
    stream: memoryview,
    source_info: SourceInfo,
    user_meta: dict[str, Any],
    allow_duplicates: bool,
) -> Recording:
    """Steps 4 to 7 of the module docstring: claim, write, commit, or undo."""
    backend, ledger, prefix = location.backend, location.ledger, location.prefix
    fmt = src.format
    token = new_token()
    stream_sha256 = hashlib.sha256(stream).hexdigest()
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
        stream_key = recording_key(prefix, rid, "0")
        stream_attrs = StreamAttrs(
            codec=codec.get_config(),
            decoder_config=layout.decoder_config,
            first_channel=0,
            channels=fmt.channels,
            samples=layout.samples,
            stored_bytes=len(stream),
            sha256=stream_sha256,
            token=token,
        )
        backend.put(join(stream_key, ZARR_JSON), encode_group(stream_attrs.model_dump(mode="json")))
        backend.put(join(stream_key, BLOB, ZARR_JSON), blob_document(len(stream)))
        for key, begin, end, padding in blob_chunk_ranges(len(stream)):
            with stream[begin:end] as piece:  # released at once: no view of the mmap may outlive it
                backend.put(join(stream_key, BLOB, key), bytes(piece) + bytes(padding) if padding else piece)
        table = np.stack([layout.offsets, layout.first_samples], axis=1).astype(np.int64)
        for key, data in index_nodes(table).items():
            backend.put(join(stream_key, INDEX, key), data)
        backend.sync()
        info = RecordingInfo(
            id=rid,
            samplerate=fmt.samplerate,
            channels=fmt.channels,
            samples=layout.samples,
            duration=layout.samples / fmt.samplerate,
            bits_per_sample=fmt.bits_per_sample,
            codec=codec.get_config(),
            stored_bytes=len(stream),
            source=source_info,
            imported_at=datetime.now(UTC),
            wildzarr_version=__version__,
        )
        attrs = RecordingAttrs(
            streams=1, info=info, file_meta=src.file_meta, user_meta=user_meta, token=token
        )
        fields = attrs.model_dump(mode="json")
        try:
            document = encode_group(fields)
        except DocumentError as exc:
            raise MetadataError(f"{src.name}: {exc} (file metadata plus user metadata)") from None
        if not backend.create(recording_key(prefix, rid, ZARR_JSON), document):
            raise SourceError(f"{src.name}: the document of recording {rid} appeared during the import")
        _commit(location, claim, source_info.sha256)
    except BaseException:
        _undo(location, claim, source_info.sha256 if content_claimed else None)
        raise
    claim.release()
    ledger.advance_hint(rid)
    return Recording(location, rid, RecordingAttrs.model_validate(fields), {})  # as stored: no re-read


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
