"""One version of an annotation table as Zarr v3 arrays: encoded to keys and bytes, decoded back.

A version group (``docs/annotations.md``, "Layout") holds one 1-D array per
column, all of the table's length, and the reviewed extents below
``reviewed/``::

    zarr.json                group; attributes["wildzarr"]: {"kind": "annotation_table", "format": 1,
                             "rows": n, "reviewed_rows": m, "columns": [{"name", "array", "dtype"}, ...]}
    recording  channel  start  stop  low_freq  high_freq  extra_0 ...   int64 / float64 / bool
    label                    vlen UTF-8 strings (Zarr data type "string")
    reviewed/zarr.json       group
    reviewed/recording  reviewed/start  reviewed/stop                   int64 (m,)

``channel`` holds -1 for "all channels" (``<NA>`` in the table); a missing
text is ``""``. Every array's codecs are zstd and crc32c (a damaged chunk fails
its CRC-32C), and empty chunks are written too, so a missing chunk is damage.
zarr-python writes and reads the arrays, in memory (as :mod:`wildzarr.arrays`
does); the caller moves the bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import MemoryStore

from wildzarr.annotations.table import CORE, REVIEWED, extra_kind
from wildzarr.documents import DocumentError, encode_group, parse_group
from wildzarr.layout import ZARR_JSON

__all__ = ["TABLE_FORMAT", "decode_version", "encode_version"]

#: Format of a version group's document.
TABLE_FORMAT = 1
_KIND = "annotation_table"
_REVIEWED = "reviewed"
#: Rows per chunk of every column.
_CHUNK_ROWS = 1 << 20
_NUMPY = {"int64": np.dtype("int64"), "float64": np.dtype("float64"), "bool": np.dtype("bool")}
_FILL: dict[str, Any] = {"int64": 0, "float64": 0.0, "bool": False, "string": ""}
_GROUP = b'{"zarr_format":3,"node_type":"group","attributes":{}}'


def _kind_of(name: str, series: pd.Series) -> str:
    fixed = {"recording": "int64", "channel": "int64", "start": "int64", "stop": "int64", "label": "string"}
    return fixed.get(name) or ("float64" if name in CORE else extra_kind(series))


def _values(name: str, series: pd.Series, kind: str) -> np.ndarray:
    if name == "channel":
        return series.fillna(-1).to_numpy(dtype=np.int64)
    if kind == "string":
        return np.array(series.tolist(), dtype=object).reshape(-1)
    return series.to_numpy(dtype=_NUMPY[kind])


def _write(store: MemoryStore, path: str, values: np.ndarray, kind: str) -> None:
    array = zarr.create_array(
        store,
        name=path,
        shape=values.shape,
        chunks=(min(max(len(values), 1), _CHUNK_ROWS),),
        dtype=str if kind == "string" else _NUMPY[kind],
        fill_value=_FILL[kind],
        compressors=[ZstdCodec(level=3), Crc32cCodec()],
        config={"write_empty_chunks": True},
    )
    if len(values):
        array[...] = values


def encode_version(table: pd.DataFrame, reviewed: pd.DataFrame) -> dict[str, bytes]:
    """Keys (relative to the version group) and bytes of a version holding ``table`` and ``reviewed``."""
    store = MemoryStore()
    columns = []
    for position, name in enumerate(table.columns):
        series = table[name]
        kind = _kind_of(str(name), series)
        array = str(name) if name in CORE else f"extra_{position - len(CORE)}"
        _write(store, array, _values(str(name), series, kind), kind)
        columns.append({"name": str(name), "array": array, "dtype": kind})
    for name in REVIEWED:
        _write(store, f"{_REVIEWED}/{name}", reviewed[name].to_numpy(dtype=np.int64), "int64")
    nodes = {key: buffer.to_bytes() for key, buffer in store._store_dict.items()}
    fields = {
        "kind": _KIND,
        "format": TABLE_FORMAT,
        "rows": len(table),
        "reviewed_rows": len(reviewed),
        "columns": columns,
    }
    nodes[ZARR_JSON] = encode_group(fields)
    nodes[f"{_REVIEWED}/{ZARR_JSON}"] = _GROUP
    return nodes


def _read(store: MemoryStore, nodes: dict[str, bytes], path: str, kind: str, rows: int) -> np.ndarray:
    try:
        array = zarr.open_array(store, path=path, mode="r", zarr_format=3)
    except Exception as exc:  # zarr raises many kinds on a missing or damaged document
        raise DocumentError(f"array {path!r} cannot be opened ({type(exc).__name__}: {exc})") from None
    if array.ndim != 1 or array.shape[0] != rows:
        raise DocumentError(f"array {path!r} has shape {array.shape}, the document says ({rows},)")
    wanted_kind = "TOU" if kind == "string" else _NUMPY[kind].kind
    if array.dtype.kind not in wanted_kind or (kind != "string" and array.dtype != _NUMPY[kind]):
        raise DocumentError(f"array {path!r} holds {array.dtype}, the document says {kind}")
    encode = array.metadata.encode_chunk_key
    for coords in np.ndindex(*array.cdata_shape):
        if f"{path}/{encode(tuple(coords))}" not in nodes:
            raise DocumentError(f"array {path!r}: chunk {encode(tuple(coords))} is missing")
    try:
        return np.asarray(array[...])
    except Exception as exc:  # crc32c mismatch (ValueError), zstd errors (RuntimeError) ...
        raise DocumentError(f"array {path!r} does not decode ({type(exc).__name__}: {exc})") from None


def _column(name: str, values: np.ndarray, kind: str) -> pd.Series:
    if name == "channel":
        return pd.Series(values, dtype="Int64").mask(values == -1)
    if kind == "string":
        return pd.Series([str(v) for v in values.tolist()], dtype="str")
    return pd.Series(values, dtype=_NUMPY[kind])


def _check_columns(fields: dict[str, Any]) -> list[dict[str, str]]:
    columns = fields.get("columns")
    if not isinstance(columns, list) or not all(
        isinstance(c, dict) and all(isinstance(c.get(k), str) for k in ("name", "array", "dtype"))
        for c in columns
    ):
        raise DocumentError("the table document lists no valid columns")
    names = [c["name"] for c in columns]
    if tuple(names[: len(CORE)]) != CORE or len(set(names)) != len(names):
        raise DocumentError(f"the table's columns {names[: len(CORE) + 1]}... do not start with {list(CORE)}")
    for c in columns:
        if c["dtype"] not in _FILL or c["array"] in ("", _REVIEWED) or "/" in c["array"]:
            raise DocumentError(f"column {c['name']!r}: invalid array {c['array']!r} or dtype {c['dtype']!r}")
    return columns


def decode_version(nodes: dict[str, bytes]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table and the reviewed extents of a version, from its keys and bytes.

    Raises
    ------
    DocumentError
        If the document is missing, fails its checksum or is invalid, or an
        array is missing, of the wrong shape or dtype, or does not decode.
    """
    if ZARR_JSON not in nodes:
        raise DocumentError("the table's zarr.json is missing")
    fields, _ = parse_group(nodes[ZARR_JSON], require_checksum=True)
    if fields is None or fields.get("kind") != _KIND:
        raise DocumentError("the table's zarr.json holds no annotation table document")
    version = fields.get("format")
    if not isinstance(version, int) or version > TABLE_FORMAT:
        raise DocumentError(f"table format {version!r} is not one this wildzarr reads ({TABLE_FORMAT})")
    rows, reviewed_rows = fields.get("rows"), fields.get("reviewed_rows")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (rows, reviewed_rows)):
        raise DocumentError("the table document's row counts are invalid")
    assert isinstance(rows, int) and isinstance(reviewed_rows, int)
    prototype = default_buffer_prototype()
    store = MemoryStore({key: prototype.buffer.from_bytes(data) for key, data in nodes.items()})
    table = pd.DataFrame(
        {
            c["name"]: _column(c["name"], _read(store, nodes, c["array"], c["dtype"], rows), c["dtype"])
            for c in _check_columns(fields)
        }
    )
    reviewed = pd.DataFrame(
        {name: _read(store, nodes, f"{_REVIEWED}/{name}", "int64", reviewed_rows) for name in REVIEWED}
    )
    return table, reviewed
