"""Format-1 archives: listing them, and upgrading them in place to format 2 (``wildzarr upgrade``).

Format 1 (wildzarr 0.1) kept no ledger: a recording was a group named by its id
whose document said ``"state": "complete"``, and the archive document counted
ids in ``next_id``. Such an archive opens read-only; listing it reads every
recording document. :func:`upgrade` adds what format 2 needs: checksums and
tokens in the recording and stream documents, the sha256 of each stream, a
crc32c on each frame index chunk, and the ledger (claims for every id ever
handed out, commit markers, content claims). It may be interrupted and run
again; the archive document turns format 2 last. No other writer may use the
archive meanwhile.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import zarr
from zarr.abc.store import Store

from wildzarr.arrays import blob_layout, decode_index, index_chunk_keys, index_nodes
from wildzarr.blob import Blob
from wildzarr.documents import DocumentError, encode_group, parse_group
from wildzarr.errors import ArchiveError, DamagedRecordingError
from wildzarr.layout import (
    BLOB,
    INDEX,
    LEDGER,
    ZARR_JSON,
    ArchiveAttrs,
    LedgerAttrs,
    StreamAttrs,
    is_recording_name,
    recording_key,
)
from wildzarr.ledger import Ledger, new_token
from wildzarr.metadata import FORMAT_VERSION
from wildzarr.storage import Backend, join, open_backend

__all__ = ["legacy_ids", "upgrade"]


def _recording_fields(
    backend: Backend, prefix: str, rid: int
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    data = backend.get(recording_key(prefix, rid, ZARR_JSON))
    if data is None:
        return None, {}
    try:
        fields, attributes = parse_group(data, require_checksum=False)
    except DocumentError as exc:
        raise DamagedRecordingError(rid, f"zarr.json: {exc}") from None
    if fields is None or fields.get("kind") != "recording":
        return None, attributes
    return fields, attributes


def legacy_ids(backend: Backend, prefix: str) -> list[int]:
    """Ids of the complete recordings of a format-1 archive, ascending (reads every recording document)."""
    found = []
    for name in backend.list_dir(prefix):
        if not is_recording_name(name):
            continue
        try:
            fields, _ = _recording_fields(backend, prefix, int(name))
        except DamagedRecordingError:
            found.append(int(name))  # listed, so that opening it reports the damage
            continue
        if fields is not None and fields.get("state") == "complete":
            found.append(int(name))
    return sorted(found)


def upgrade(
    target: str | os.PathLike[str] | Store | zarr.Group,
    path: str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> int:
    """Upgrade the archive at ``target``/``path`` to the current format in place.

    Returns the number of recordings upgraded.

    An archive already in the current format is left as it is (returns 0).

    Raises
    ------
    ArchiveError
        If there is no archive there, or its format is newer than this wildzarr.
    DamagedRecordingError
        If a recording document cannot be read (nothing of that recording is changed).
    """
    backend, base = open_backend(target, mode="r+", storage_options=storage_options)
    prefix = join(base, (path or "").strip("/"))
    try:
        key = join(prefix, ZARR_JSON)
        current = backend.get_versioned(key)
        fields, attributes = parse_group(current.data, require_checksum=False) if current else (None, {})
        if current is None or fields is None or fields.get("kind") != "archive":
            raise ArchiveError(f"{backend.describe(prefix)}: no wildzarr archive here")
        attrs = ArchiveAttrs.model_validate(fields)
        if attrs.format == FORMAT_VERSION:
            return 0
        if attrs.format > FORMAT_VERSION:
            raise ArchiveError(
                f"{backend.describe(prefix)}: format {attrs.format} is newer than {FORMAT_VERSION}"
            )
        ledger = Ledger(backend, prefix)
        backend.create(join(prefix, LEDGER, ZARR_JSON), encode_group(LedgerAttrs().model_dump()))
        count = 0
        highest = (attrs.next_id or 1) - 1
        for name in backend.list_dir(prefix):
            if is_recording_name(name):
                count += _upgrade_recording(backend, prefix, ledger, int(name))
                highest = max(highest, int(name))
        for rid in range(1, highest + 1):  # removed ids too: never hand them out again
            ledger.record_claim(rid, {"id": rid, "state": "removed"})
        ledger.advance_hint(highest)
        backend.sync()
        upgraded = attrs.model_copy(update={"format": FORMAT_VERSION, "next_id": None})
        document = encode_group(upgraded.model_dump(exclude_none=True), attributes)
        if not backend.replace(key, document, current.version):
            raise ArchiveError(f"{backend.describe(prefix)}: the archive document changed during the upgrade")
        return count
    finally:
        backend.close()


def _upgrade_recording(backend: Backend, prefix: str, ledger: Ledger, rid: int) -> int:
    """Bring one format-1 group to format 2 and record it in the ledger; return 1 if it is a recording."""
    fields, attributes = _recording_fields(backend, prefix, rid)
    if fields is None:  # a user's group named like an id: never hand that id out
        ledger.record_claim(rid, {"id": rid, "state": "skipped"})
        return 0
    token = fields.get("token") or new_token()
    if fields.get("state") != "complete":  # an interrupted format-1 import: repair removes it
        ledger.record_claim(rid, {"id": rid, "token": token, "state": "importing"})
        return 0
    for k in range(int(fields.get("streams", 1))):
        _upgrade_stream(backend, recording_key(prefix, rid, str(k)), token, f"recording {rid} stream {k}")
    sha256 = fields["info"]["source"]["sha256"]
    fields = {**fields, "format": FORMAT_VERSION, "token": token}
    backend.put(recording_key(prefix, rid, ZARR_JSON), encode_group(fields, attributes))
    backend.sync()
    ledger.record_claim(rid, {"id": rid, "token": token, "sha256": sha256, "state": "importing"})
    ledger.record_content(sha256, rid, token)
    ledger.restore_marker({"id": rid, "token": token, "sha256": sha256})
    return 1


def _upgrade_stream(backend: Backend, stream_key: str, token: str, name: str) -> None:
    """Add the stream's sha256, length and token to its document, and a crc32c to its index chunk."""
    fields, attributes = parse_group(backend.get(join(stream_key, ZARR_JSON)) or b"", require_checksum=False)
    attrs = StreamAttrs.model_validate(fields)
    size, chunk = blob_layout(backend.get(join(stream_key, BLOB, ZARR_JSON)) or b"")
    index_doc = backend.get(join(stream_key, INDEX, ZARR_JSON)) or b""
    nodes = {ZARR_JSON: index_doc}
    for chunk_key in index_chunk_keys(index_doc):
        nodes[chunk_key] = backend.get(join(stream_key, INDEX, chunk_key)) or b""
    table = decode_index(nodes)
    for key, data in index_nodes(table).items():
        backend.put(join(stream_key, INDEX, key), data)
    stream = Blob(backend, join(stream_key, BLOB), size, chunk, name).read(0, size)
    updated = attrs.model_copy(
        update={"stored_bytes": size, "sha256": hashlib.sha256(stream).hexdigest(), "token": token}
    )
    backend.put(
        join(stream_key, ZARR_JSON),
        encode_group(updated.model_dump(mode="json"), attributes),
    )
