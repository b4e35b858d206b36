"""Group documents (``zarr.json``) carrying a checksummed wildzarr attribute, and small ledger records.

A wildzarr group document is a Zarr v3 group metadata document (Zarr v3 spec,
"Group metadata") whose ``attributes["wildzarr"]`` holds our fields plus
``"checksum"``: the sha256 (hex) of the canonical JSON of those fields without
the checksum (keys sorted, no whitespace, UTF-8, RFC 8259). Any change to the
fields that does not also recompute the checksum is detected when the document
is read, so a bit flip, a truncation or a hand edit cannot slip through as a
valid document.

Documents are written compactly (no whitespace) with the keys in the order
given; :func:`is_canonical_bytes` tells whether stored bytes are exactly what
this module (or zarr-python, for a document a user rewrote with zarr) would
write for their content, which ``wildzarr verify`` uses to report flips that
leave the parsed content unchanged (an ``e`` turned ``E`` in an exponent).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from wildzarr.layout import ATTRS_KEY

__all__ = [
    "DOCUMENT_LIMIT",
    "READ_LIMIT",
    "DocumentError",
    "checksum",
    "dumps_record",
    "encode_group",
    "is_canonical_bytes",
    "loads_record",
    "parse_group",
]

#: Largest group document written, in bytes: the archive promises no recording
#: document exceeds 2 MB (file metadata is capped at 1 MiB, user metadata at 512 KiB).
DOCUMENT_LIMIT = 2_000_000
#: Larger stored documents are reported damaged without being parsed (a guard
#: against memory exhaustion by a hostile store).
READ_LIMIT = 8 * 1024 * 1024


class DocumentError(ValueError):
    """A stored document is unreadable or invalid; callers turn it into a public error naming the node."""


def _canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def checksum(fields: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of ``fields`` without their ``"checksum"`` key."""
    return hashlib.sha256(_canonical({k: v for k, v in fields.items() if k != "checksum"})).hexdigest()


def encode_group(fields: dict[str, Any], other_attributes: dict[str, Any] | None = None) -> bytes:
    """The ``zarr.json`` bytes of a group whose ``attributes["wildzarr"]`` is ``fields`` plus a checksum.

    ``other_attributes`` (a user's own attributes of the group) are kept beside ours.

    Raises
    ------
    DocumentError
        If the document would exceed :data:`DOCUMENT_LIMIT` bytes.
    """
    value = {k: v for k, v in fields.items() if k != "checksum"}
    value["checksum"] = checksum(value)
    attributes = {k: v for k, v in (other_attributes or {}).items() if k != ATTRS_KEY}
    attributes[ATTRS_KEY] = value
    data = _dumps({"zarr_format": 3, "node_type": "group", "attributes": attributes})
    if len(data) > DOCUMENT_LIMIT:
        raise DocumentError(
            f"the document would take {len(data):,} bytes; at most {DOCUMENT_LIMIT:,} are allowed"
        )
    return data


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _loads(data: bytes, what: str) -> Any:
    if len(data) > READ_LIMIT:
        raise DocumentError(f"{what} takes {len(data):,} bytes, more than the {READ_LIMIT:,} a document may")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{what} is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{what} is not valid JSON ({exc.msg} at byte {exc.pos})") from None
    except RecursionError:
        raise DocumentError(f"{what} nests too deeply to parse") from None


def parse_group(data: bytes, *, require_checksum: bool) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Parse a group's ``zarr.json``.

    Returns
    -------
    (fields, attributes)
        ``fields``: ``attributes["wildzarr"]`` without its checksum, or None when
        the group has no such attribute; ``attributes``: all of the group's
        attributes (the user's own included).

    Raises
    ------
    DocumentError
        Not UTF-8 JSON, not a Zarr v3 group document, a wildzarr attribute that
        is not an object, or (``require_checksum``) a missing or wrong checksum.
    """
    doc = _loads(data, "zarr.json")
    if not isinstance(doc, dict):
        raise DocumentError("zarr.json does not hold a JSON object")
    if doc.get("zarr_format") != 3:
        raise DocumentError(f"zarr.json has zarr_format {doc.get('zarr_format')!r}, not 3")
    if doc.get("node_type") != "group":
        raise DocumentError(f"zarr.json describes a node of type {doc.get('node_type')!r}, not a group")
    attributes = doc.get("attributes", {})
    if not isinstance(attributes, dict):
        raise DocumentError("zarr.json attributes are not a JSON object")
    fields = attributes.get(ATTRS_KEY)
    if fields is None:
        return None, attributes
    if not isinstance(fields, dict):
        raise DocumentError(f"attribute {ATTRS_KEY!r} is not a JSON object")
    stored = fields.get("checksum")
    if stored is not None or require_checksum:
        if not isinstance(stored, str):
            raise DocumentError("the document has no checksum")
        actual = checksum(fields)
        if stored != actual:
            raise DocumentError(f"checksum mismatch: stored {stored[:16]}..., content gives {actual[:16]}...")
    return {k: v for k, v in fields.items() if k != "checksum"}, attributes


def is_canonical_bytes(data: bytes) -> bool:
    """Whether ``data`` is exactly how this module, or zarr-python, serializes its own parsed content."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    if _dumps(value) == data:
        return True
    # zarr-python 3 writes json.dumps(..., indent=2) with ASCII escapes (zarr.core.metadata); a user who
    # set attributes of their own through zarr leaves a document in that form.
    return json.dumps(value, indent=2, allow_nan=False).encode() == data


def dumps_record(record: dict[str, Any]) -> bytes:
    """Bytes of a small ledger record (compact JSON)."""
    return _dumps(record)


def loads_record(data: bytes | None) -> dict[str, Any] | None:
    """A ledger record, or None if ``data`` is None or not a JSON object."""
    if data is None:
        return None
    try:
        value = _loads(data, "ledger record")
    except DocumentError:
        return None
    return value if isinstance(value, dict) else None
