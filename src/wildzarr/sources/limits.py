"""Size limits of the metadata a source reports (``file_meta``), and their enforcement.

A file may carry texts of any size: a 50 MB ``ICMT`` comment, a Vorbis comment
or ID3 frame of megabytes, thousands of tags. The archive promises that no
recording document exceeds 2 MB, and part of that belongs to user metadata
(:data:`wildzarr.metadata.USER_META_BYTES`), so every text a source reports is
capped:

- :data:`MAX_TEXT_BYTES` per text value (UTF-8), cut at a character boundary;
- :data:`MAX_KEY_BYTES` per key: an entry with a longer key is dropped;
- :data:`MAX_ENTRIES` entries per mapping (``tags``, ``stream_tags``,
  ``info``, ``guano`` ...): the entries after the first ones are dropped;
- :data:`MAX_FILE_META_BYTES` for the whole ``file_meta`` as JSON. When the
  capped values still exceed it, the largest texts are dropped until it fits
  (and, should keys and structure alone exceed it, the largest top-level
  sections).

What was cut or dropped is recorded in ``file_meta["truncated"]``, present only
when something was, as a list of records::

    {"field": "tags.comment", "bytes": 52428800}                   # cut to MAX_TEXT_BYTES
    {"field": "guano.Note", "bytes": 70000, "dropped": True}        # removed to fit the total
    {"field": "tags[1024:]", "bytes": 81234, "dropped": True}       # entries after the first 1024
    {"field": "info", "bytes": 900000, "dropped": True}             # a whole section

``field`` is the dotted path of the value (``[i]`` for list items, ``[n:]`` for
the entries of a mapping from the n-th on); ``bytes`` is the original size: of
a text, its size in UTF-8 (for a RIFF chunk text not read whole, its size in the
file); of entries or a section, the UTF-8 size of the keys and texts they held
(other values counted as their JSON). A text first cut and then dropped keeps
one record, with its original size. The total is measured as
``len(json.dumps(file_meta, ensure_ascii=False).encode("utf-8"))``, with the
default separators: at least the size of compact JSON.

Why these values: in the 14 real recordings of the test corpus the longest
text is a 615-byte ID3 comment (a 218-byte GUANO chunk, a 114-byte AudioMoth
``ICMT``), the most tags 6 and the largest ``file_meta`` 1.1 KB; iXML and XMP
written by recorders and editors take a few KiB. 64 KiB per text keeps all of
these whole, 1,024 entries are far more than any real tag set, and 256-byte
keys far longer than real tag names. 1 MiB of file metadata leaves the rest of
the 2 MB for user metadata (512 KiB) and the technical metadata (about 1 KiB).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MAX_ENTRIES",
    "MAX_FILE_META_BYTES",
    "MAX_KEY_BYTES",
    "MAX_TEXT_BYTES",
    "TRUNCATED",
    "cap_text",
    "cut_utf8",
    "limit_file_meta",
    "utf8_size",
]

#: Largest text value a source reports, in UTF-8 bytes.
MAX_TEXT_BYTES = 64 * 1024
#: Largest key of a metadata mapping, in UTF-8 bytes; an entry with a longer key is dropped.
MAX_KEY_BYTES = 256
#: Most entries kept in one metadata mapping (``tags``, ``stream_tags``, ``info``, ``guano`` ...).
MAX_ENTRIES = 1024
#: Largest ``file_meta``, in bytes of ``json.dumps(file_meta, ensure_ascii=False)`` encoded as UTF-8.
MAX_FILE_META_BYTES = 1024 * 1024
#: Key of ``file_meta`` holding the list of truncation records.
TRUNCATED = "truncated"

# Characters encoded at a time when measuring a long text (at most 4 bytes each).
_SLICE = MAX_TEXT_BYTES
# JSON text of the truncation list's key and separators, counted once when the list is added.
_TRUNCATED_OVERHEAD = len(json.dumps(TRUNCATED)) + len(": ") + len(", ")
# JSON text added to a record that is marked dropped.
_DROPPED_FLAG = len(', "dropped": true')


def utf8_size(text: str) -> int:
    """Size of ``text`` in UTF-8 bytes, without encoding a long text whole.

    ASCII text (checked in constant time by CPython) is measured by its length;
    other text is encoded in slices of :data:`MAX_TEXT_BYTES` characters.
    """
    if text.isascii():
        return len(text)
    return sum(len(text[i : i + _SLICE].encode("utf-8")) for i in range(0, len(text), _SLICE))


def cut_utf8(data: bytes, limit: int) -> bytes:
    """The longest prefix of UTF-8 ``data`` of at most ``limit`` bytes that ends at a character boundary."""
    if len(data) <= limit:
        return data
    end = limit
    while end > 0 and data[end] & 0xC0 == 0x80:  # a continuation byte: the character starts before
        end -= 1
    return data[:end]


def cap_text(text: str, limit: int = MAX_TEXT_BYTES) -> tuple[str, int]:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes at a character boundary.

    Returns
    -------
    tuple of (str, int)
        The text (``text`` itself when it fits) and its original size in UTF-8
        bytes. At most ``4 * limit`` bytes are encoded, whatever the length.
    """
    size = utf8_size(text)
    if size <= limit:
        return text, size
    return cut_utf8(text[:limit].encode("utf-8"), limit).decode("utf-8"), size


def limit_file_meta(meta: dict[str, Any]) -> None:
    """Apply the limits of this module to ``meta`` in place.

    Parameters
    ----------
    meta : dict
        JSON-compatible ``file_meta`` (dicts with str keys, lists, str, numbers,
        bool, None). Texts longer than :data:`MAX_TEXT_BYTES` are cut, entries
        with keys longer than :data:`MAX_KEY_BYTES` and entries after the first
        :data:`MAX_ENTRIES` of a mapping are dropped, then the largest texts (or
        sections) until the whole is at most :data:`MAX_FILE_META_BYTES`. A
        list of records already under ``meta["truncated"]`` (from the RIFF
        reader) is kept and extended; the key is present afterwards only when
        something was cut.
    """
    records: list[dict[str, Any]] = meta.pop(TRUNCATED, [])
    _cap(meta, "", records)
    _fit(meta, records)
    if records:
        meta[TRUNCATED] = records


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _cap(node: Any, path: str, records: list[dict[str, Any]]) -> None:
    """Cut texts, drop long keys and surplus entries, in every dict and list below ``node``."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, str):
                node[i] = _capped(item, f"{path}[{i}]", records)
            else:
                _cap(item, f"{path}[{i}]", records)
        return
    if not isinstance(node, dict):
        return
    if len(node) > MAX_ENTRIES:
        surplus = list(node)[MAX_ENTRIES:]
        size = sum(utf8_size(key) + _content_size(node.pop(key)) for key in surplus)
        records.append({"field": f"{path}[{MAX_ENTRIES}:]", "bytes": size, "dropped": True})
    for key in list(node):
        if utf8_size(key) > MAX_KEY_BYTES:
            short, size = cap_text(key, MAX_KEY_BYTES)
            size += _content_size(node.pop(key))
            records.append({"field": _join(path, short), "bytes": size, "dropped": True})
            continue
        value = node[key]
        if isinstance(value, str):
            node[key] = _capped(value, _join(path, key), records)
        else:
            _cap(value, _join(path, key), records)


def _capped(text: str, field: str, records: list[dict[str, Any]]) -> str:
    capped, size = cap_text(text)
    if size > MAX_TEXT_BYTES:
        records.append({"field": field, "bytes": size})
    return capped


def _content_size(value: Any) -> int:
    """UTF-8 size of the keys and texts in ``value``, other values counted as their JSON."""
    if isinstance(value, str):
        return utf8_size(value)
    if isinstance(value, dict):
        return sum(utf8_size(k) + _content_size(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_content_size(v) for v in value)
    return len(json.dumps(value))


def _json_size(value: Any) -> int:
    """``len(json.dumps(value, ensure_ascii=False).encode())`` without building the whole text."""
    if isinstance(value, dict):
        items = [_json_size(k) + 2 + _json_size(v) for k, v in value.items()]
        return 2 + sum(items) + 2 * max(0, len(items) - 1)
    if isinstance(value, list):
        return 2 + sum(_json_size(v) for v in value) + 2 * max(0, len(value) - 1)
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _texts(node: Any, path: str, out: list[tuple[int, dict[str, Any], str, str]]) -> None:
    """Collect (JSON size, owning dict, key, path) of every text value in a dict below ``node``."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            _texts(item, f"{path}[{i}]", out)
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                out.append((_json_size(value), node, key, _join(path, key)))
            else:
                _texts(value, _join(path, key), out)


def _fit(meta: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Drop the largest texts, then if need be the largest sections, until ``meta`` fits.

    The running total is an upper bound of the true size (a removed entry's
    separator is not subtracted, an added record's is), so stopping when it
    fits is safe.
    """
    total = _json_size(meta) + (_TRUNCATED_OVERHEAD + _json_size(records) if records else 0)
    if total <= MAX_FILE_META_BYTES:
        return
    texts: list[tuple[int, dict[str, Any], str, str]] = []
    _texts(meta, "", texts)
    texts.sort(key=lambda t: t[0], reverse=True)
    cut = {r["field"]: r for r in records}
    for size, owner, key, field in texts:
        if total <= MAX_FILE_META_BYTES:
            return
        earlier = cut.get(field)
        record = {"field": field, "bytes": utf8_size(owner[key]), "dropped": True}
        if earlier is not None:
            cost = _DROPPED_FLAG
        else:
            cost = _json_size(record) + 2 + (0 if records else _TRUNCATED_OVERHEAD + 2)
        freed = _json_size(key) + 2 + size
        if freed <= cost:
            continue  # a record longer than the text it replaces
        del owner[key]
        if earlier is not None:
            earlier["dropped"] = True
        else:
            records.append(record)
        total += cost - freed
    # Keys and structure alone are too large: drop whole sections, largest first.
    while _json_size(meta) + _TRUNCATED_OVERHEAD + _json_size(records) > MAX_FILE_META_BYTES:
        name = max(meta, key=lambda k: _json_size(meta[k]))
        size = _content_size(meta.pop(name))
        records[:] = [r for r in records if r["field"].partition(".")[0].partition("[")[0] != name]
        records.append({"field": name, "bytes": size, "dropped": True})
