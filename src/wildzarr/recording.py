"""One archived recording: its metadata and sample-accurate reads."""

from __future__ import annotations

import contextlib
import copy
import operator
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import ValidationError

from wildzarr import timebase
from wildzarr.arrays import blob_chunk_size, blob_layout, decode_index, index_chunk_keys
from wildzarr.audio import AudioFormat, convert, convert_read_dtype
from wildzarr.blob import Blob
from wildzarr.catalog import change_note
from wildzarr.codecs import get_codec
from wildzarr.documents import DocumentError, encode_group, parse_group
from wildzarr.errors import (
    ArgumentError,
    DamagedRecordingError,
    RangeError,
    RecordingNotFoundError,
    StorageError,
    StreamError,
    UnsafeNodeError,
)
from wildzarr.index import FrameIndex
from wildzarr.layout import BLOB, INDEX, ZARR_JSON, RecordingAttrs, StreamAttrs, recording_key
from wildzarr.location import Location
from wildzarr.metadata import FORMAT_VERSION, USER_META_BYTES, RecordingInfo, RecordingTime, check_json_dict
from wildzarr.reader import StreamReader, Task, plan_tasks, run_tasks
from wildzarr.settings import decode_threads
from wildzarr.storage import join
from wildzarr.timing import locate, resolve_range, stored_time

__all__ = ["Recording", "open_recording", "read_attrs"]

#: Compare-and-swap attempts of a metadata update before giving up (each loses only to another update).
_UPDATE_ATTEMPTS = 1000


def _summarize(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _gone(location: Location, rid: int) -> bool:
    """Whether ``rid`` is no longer (or never was) a listed recording."""
    if location.format >= 2:
        return not location.ledger.is_complete(rid)
    return not location.backend.exists(recording_key(location.prefix, rid, ZARR_JSON))


def _read_document(location: Location, rid: int) -> tuple[RecordingAttrs, dict[str, Any], str]:
    """The validated recording document of ``rid``, the group's other attributes, and its version.

    Raises RecordingNotFoundError when ``rid`` is not a listed recording and
    DamagedRecordingError when its document is unreadable or inconsistent.
    """
    try:
        current = location.backend.get_versioned(recording_key(location.prefix, rid, ZARR_JSON))
    except UnsafeNodeError as exc:
        raise DamagedRecordingError(rid, str(exc)) from None
    if current is None:
        if _gone(location, rid):
            raise RecordingNotFoundError(rid, location.where())
        raise DamagedRecordingError(rid, "its document (zarr.json) is missing")
    try:
        fields, attributes = parse_group(current.data, require_checksum=location.format >= 2)
    except DocumentError as exc:
        raise DamagedRecordingError(rid, f"zarr.json: {exc}") from None
    if fields is None or fields.get("kind") != "recording":
        if location.format < 2:  # format 1 lists groups by name: a user's group named like an id is not ours
            raise RecordingNotFoundError(rid, location.where())
        raise DamagedRecordingError(rid, "zarr.json holds no wildzarr recording document")
    version = fields.get("format")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise DamagedRecordingError(
            rid,
            f"written in format {version}, newer than this wildzarr reads ({FORMAT_VERSION}): "
            "upgrade wildzarr",
        )
    try:
        attrs = RecordingAttrs.model_validate(fields)
    except ValidationError as exc:
        raise DamagedRecordingError(rid, f"invalid document: {_summarize(exc)}") from None
    if attrs.state != "complete":
        if location.format < 2:
            raise RecordingNotFoundError(rid, location.where())
        raise DamagedRecordingError(rid, f"its document is in state {attrs.state!r}")
    info = attrs.info
    if info is None:
        raise DamagedRecordingError(rid, "its document has no technical metadata (info)")
    if info.id != rid:
        raise DamagedRecordingError(rid, f"its document names id {info.id}, but its group is {rid}")
    if abs(info.duration - info.samples / info.samplerate) > 1e-6 * max(1.0, info.duration):
        raise DamagedRecordingError(rid, f"duration {info.duration} s disagrees with {info.samples} samples")
    return attrs, attributes, current.version


def read_attrs(location: Location, rid: int) -> RecordingAttrs:
    """The validated recording document of ``rid`` (errors as :func:`open_recording`)."""
    return _read_document(location, rid)[0]


def open_recording(location: Location, rid: int) -> Recording:
    """The recording ``rid`` of the archive at ``location``, its document read and checked.

    Raises
    ------
    RecordingNotFoundError
        If ``rid`` is not a listed recording.
    DamagedRecordingError
        If its document is missing, unreadable, fails its checksum, or
        contradicts itself or its group name.
    """
    attrs, attributes, _ = _read_document(location, rid)
    return Recording(location, rid, attrs, attributes)


@dataclass(eq=False)
class ReadPlan:
    """Planned reads of one recording: the tasks, the array they fill, and how to cut results from it.

    Attributes
    ----------
    recording : Recording
    tasks : list of Task
        Run them with :func:`wildzarr.reader.run_tasks` (any order, any thread).
    target : numpy.ndarray
        Shape ``(rows, width)``, the stored dtype: the streams' channels side by side.
    rows : numpy.ndarray
        int64 of shape ``(n_ranges,)``: the first row of each range in ``target``.
    columns : dict
        Channel number -> column of ``target``.
    """

    recording: Recording
    tasks: list[Task]
    target: np.ndarray
    rows: np.ndarray
    columns: dict[int, int]

    def result(self, i: int, length: int, channels: Sequence[int], wanted: AudioFormat) -> np.ndarray:
        """Range ``i`` (``length`` samples) after the tasks ran: ``(length, len(channels))`` of ``wanted``.

        A view of ``target`` when the channels are its columns in order and the
        dtype is the stored one; otherwise a new C-contiguous array.
        """
        row = int(self.rows[i])
        samples = self.target[row : row + length]
        picked = [self.columns[c] for c in channels]
        if picked != list(range(samples.shape[1])):
            samples = np.ascontiguousarray(samples[:, picked])  # fancy indexing may give Fortran order
        stored = self.recording.read_format(None)
        if wanted is stored:
            return samples
        return convert(samples, stored.with_(channels=len(picked)), wanted.with_(channels=len(picked)))


class Recording:
    """One complete recording of an archive.

    Get one with ``archive[id]``; do not construct it directly. Its frame
    index is loaded on the first read and kept for the life of the object.

    Attributes
    ----------
    id : int
        The recording's id in its archive.
    info : RecordingInfo
        Technical metadata (sample rate, channels, samples, codec, source...).
    file_meta : dict
        Everything the source file carried (tags, GUANO, bext, iXML, INFO).
    """

    def __init__(
        self, location: Location, rid: int, attrs: RecordingAttrs, attributes: dict[str, Any]
    ) -> None:
        assert attrs.info is not None
        self._location = location
        self._attrs = attrs
        self.id: int = rid
        self.info: RecordingInfo = attrs.info
        self.file_meta: dict[str, Any] = attrs.file_meta
        self._readers: list[tuple[int, StreamReader]] | None = None
        self._stored = self.info.stored_format()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """The archive location, id and document; no open streams, locks or thread-local decoders.

        The receiving process reopens the streams on its first read, from the
        same document (the recording as this object saw it).
        """
        return {"location": self._location, "id": self.id, "attrs": self._attrs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["location"], state["id"], state["attrs"], {})  # type: ignore[misc]

    def __repr__(self) -> str:
        i = self.info
        return (
            f"<Recording {self.id}: {i.source.name}, {i.samples} samples x {i.channels} ch "
            f"at {i.samplerate} Hz, {self._stored.dtype} {i.codec['id']}>"
        )

    # -- metadata ---------------------------------------------------------------

    @property
    def samplerate(self) -> int:
        """Sample rate in Hz."""
        return self.info.samplerate

    @property
    def channels(self) -> int:
        """Number of channels."""
        return self.info.channels

    @property
    def samples(self) -> int:
        """Number of samples per channel."""
        return self.info.samples

    def __len__(self) -> int:
        """Number of samples per channel (so that slicing follows numpy rules)."""
        return self.info.samples

    @property
    def user_meta(self) -> dict[str, Any]:
        """A copy of the user metadata as of opening or the last update through this object.

        Change it with :meth:`update_user_meta`; ``archive[id]`` gives a fresh copy.
        """
        return copy.deepcopy(self._attrs.user_meta)

    def update_user_meta(
        self, values: Mapping[str, Any] | None = None, /, *, remove: Iterable[str] = (), **more: Any
    ) -> None:
        """Merge keys into the stored user metadata and remove others, atomically.

        ``rec.update_user_meta({"site": "A"}, observer="JS", remove=["draft"])``
        works like ``dict.update`` followed by deleting ``remove``'s keys (missing
        ones are ignored), applied to the document as stored now, not to a copy
        read earlier: concurrent updates from other processes are never lost (a
        compare-and-swap loop; see docs/format.md, "Many writers"). Values must be
        JSON-compatible (dict with str keys, list, str, int, finite float, bool,
        None), the result at most :data:`~wildzarr.metadata.USER_META_BYTES`
        bytes as JSON and nested at most
        :data:`~wildzarr.metadata.USER_META_DEPTH` deep.

        Raises
        ------
        MetadataError
            If a value is not JSON-compatible or the result too large or deep;
            nothing is stored then.
        ReadOnlyError
            If the archive is read-only (mode ``"r"``, or format 1).
        RecordingNotFoundError
            If the recording was removed.
        DamagedRecordingError
            If its stored document is damaged.
        """
        location = self._location
        location.check_writable(f"update the user metadata of recording {self.id}")
        what = f"user metadata of recording {self.id}"
        changes = check_json_dict({**dict(values or {}), **more}, what, max_bytes=USER_META_BYTES)
        drop = [remove] if isinstance(remove, str) else list(remove)

        def change(attrs: RecordingAttrs) -> RecordingAttrs:
            merged = {**attrs.user_meta, **copy.deepcopy(changes)}
            for name in drop:
                merged.pop(name, None)
            check_json_dict(merged, what, max_bytes=USER_META_BYTES)
            return attrs.model_copy(update={"user_meta": merged})

        self._update(change)

    def _update(self, change: Callable[[RecordingAttrs], RecordingAttrs]) -> None:
        """Apply ``change`` to the document as stored now (compare-and-swap) under a catalog change note."""
        location = self._location
        key = recording_key(location.prefix, self.id, ZARR_JSON)
        with change_note(location, self.id):
            for _ in range(_UPDATE_ATTEMPTS):
                attrs, attributes, version = _read_document(location, self.id)
                updated = change(attrs)
                data = encode_group(updated.model_dump(mode="json"), attributes)
                if location.backend.replace(key, data, version):
                    self._attrs = updated
                    self.file_meta = updated.file_meta
                    return
        raise StorageError(
            f"recording {self.id}: the document kept changing under {_UPDATE_ATTEMPTS} update attempts",
            location.backend.describe(key),
        )

    # -- time -------------------------------------------------------------------

    @property
    def time(self) -> RecordingTime:
        """Start time (UTC), where it came from, and time expansion (:class:`~wildzarr.RecordingTime`)."""
        return stored_time(self._attrs)

    @property
    def time_expansion(self) -> float:
        """GUANO ``TE``: samples per real second are ``samplerate * time_expansion`` (1: none)."""
        return self.time.time_expansion

    @property
    def start_time(self) -> pd.Timestamp | None:
        """UTC time of sample 0 (a pandas Timestamp), or None when nothing tells it."""
        start = self.time.start
        return None if start is None else pd.Timestamp(start)

    @property
    def stop_time(self) -> pd.Timestamp | None:
        """UTC time just after the last sample: ``start_time + samples / (samplerate * time_expansion)``."""
        start = self.start_time
        if start is None:
            return None
        return start + pd.Timedelta(
            seconds=timebase.seconds_at(self.samples, self.samplerate, self.time_expansion)
        )

    def sample_at(self, time: Any) -> int:
        """The sample UTC ``time`` falls in: ``floor((time - start_time) * samplerate * time_expansion)``.

        ``time``: ISO 8601 text with a zone, a timezone-aware datetime or
        pandas Timestamp (nanoseconds kept). See :mod:`wildzarr.timebase`.

        Returns
        -------
        int
            In ``[0, samples]`` (``samples`` for :attr:`stop_time` itself).

        Raises
        ------
        ArgumentError
            If the recording has no start time, or ``time`` is not a time with a zone.
        RangeError
            If ``time`` lies before the start or after the stop time.
        """
        return locate(self, time, "start")

    def set_start_time(self, start: Any, *, time_expansion: float | None = None) -> None:
        """Set or correct the start time (source ``"user"``), or remove it with None; atomically.

        Parameters
        ----------
        start : str, datetime, pandas.Timestamp or None
            The UTC time of sample 0, with a zone (ISO 8601 text, a
            timezone-aware datetime); None forgets it.
        time_expansion : float, optional
            A new time expansion factor (GUANO ``TE``), kept when None.

        Raises
        ------
        ArgumentError
            If ``start`` has no zone or ``time_expansion`` is not positive.
        ReadOnlyError, RecordingNotFoundError, DamagedRecordingError
            As :meth:`update_user_meta`.
        """
        self._location.check_writable(f"set the start time of recording {self.id}")
        stamp = None if start is None else timebase.to_utc(start, "start")
        te = self.time_expansion if time_expansion is None else time_expansion
        float(timebase.samples_per_second(self.samplerate, te))  # checks te

        def change(attrs: RecordingAttrs) -> RecordingAttrs:
            current = stored_time(attrs)
            time = RecordingTime(
                start=None if stamp is None else stamp.to_pydatetime(warn=False),
                source=None if stamp is None else "user",
                time_zone="UTC" if stamp is not None else None,
                time_zone_assumed=False,
                time_expansion=float(te),
                text=current.text,
            )
            return attrs.model_copy(update={"time": time})

        self._update(change)

    # -- reading ------------------------------------------------------------------

    def open_streams(self) -> None:
        """Read and check the stream documents and frame indexes now (a read does it on first use).

        Raises DamagedRecordingError or RecordingNotFoundError as :meth:`read` would.
        """
        with self._read_errors():
            self._stream_readers()

    def _stream_readers(self) -> list[tuple[int, StreamReader]]:
        if self._readers is None:
            with self._lock:
                if self._readers is None:
                    readers = [self._open_stream(k) for k in range(self._attrs.streams)]
                    readers.sort(key=operator.itemgetter(0))
                    self._check_streams(readers)
                    self._readers = readers
        return self._readers

    def _damaged(self, reason: str) -> Exception:
        """DamagedRecordingError, or RecordingNotFoundError if the recording was removed meanwhile."""
        if _gone(self._location, self.id):
            return RecordingNotFoundError(self.id, self._location.where())
        return DamagedRecordingError(self.id, reason)

    def _open_stream(self, k: int) -> tuple[int, StreamReader]:
        """Read stream ``k``'s document, blob layout and frame index, and check them against each other."""
        location = self._location
        backend = location.backend
        stream_key = recording_key(location.prefix, self.id, str(k))
        name = f"recording {self.id} stream {k}"
        try:
            raw = backend.get(join(stream_key, ZARR_JSON))
            index_doc = backend.get(join(stream_key, INDEX, ZARR_JSON))
            if raw is None or index_doc is None:
                raise self._damaged(f"stream {k} is incomplete (a zarr.json is missing)")
            fields, _ = parse_group(raw, require_checksum=location.format >= 2)
            if fields is None or fields.get("kind") != "stream":
                raise self._damaged(f"stream {k}: zarr.json holds no stream document")
            attrs = StreamAttrs.model_validate(fields)
            size, chunk_size = self._blob_layout(attrs, join(stream_key, BLOB, ZARR_JSON))
            nodes = {ZARR_JSON: index_doc}
            for chunk_key in index_chunk_keys(index_doc):
                data = backend.get(join(stream_key, INDEX, chunk_key))
                if data is not None:
                    nodes[chunk_key] = data
            table = decode_index(nodes)
            index = FrameIndex.from_table(
                table,
                end=size,
                decoded=attrs.delay + attrs.samples + attrs.padding,
                delay=attrs.delay,
                padding=attrs.padding,
                preroll=attrs.preroll,
            )
            index.check()
            stored = self._stored_format(attrs)
        except DocumentError as exc:
            raise self._damaged(f"stream {k}: {exc}") from None
        except ValidationError as exc:
            raise self._damaged(f"stream {k}: invalid document: {_summarize(exc)}") from None
        except (StreamError, UnsafeNodeError, ArgumentError) as exc:
            raise self._damaged(f"stream {k}: {exc}") from None
        try:
            codec = get_codec(attrs.codec)
        except ArgumentError as exc:
            raise self._damaged(f"stream {k}: {exc}") from None
        if codec.frame_checksums and index.checksums is None:
            raise self._damaged(
                f"stream {k}: its frame index holds no CRC-32 per frame, which {codec.codec_id} needs"
            )
        blob = Blob(backend, join(stream_key, BLOB), size, chunk_size, name)
        return attrs.first_channel, StreamReader(blob, index, codec, stored, attrs.decoder_config, name)

    def _stored_format(self, attrs: StreamAttrs) -> AudioFormat:
        """The format stream ``attrs`` decodes to (streams that do not state it: FLAC integers)."""
        if attrs.stored_format is not None:
            stored = AudioFormat.from_json(attrs.stored_format)
        else:
            stored = self.info.stored_format().with_(channels=attrs.channels)
        if stored.channels != attrs.channels or stored.samplerate != self.info.samplerate:
            raise ArgumentError(f"its stored format {stored.describe()} disagrees with the document")
        return stored

    def _blob_layout(self, attrs: StreamAttrs, document_key: str) -> tuple[int, int]:
        """Size and chunk size of a stream's blob, in bytes.

        Format 2 stream documents state the size, and the chunk size follows from
        it (:func:`wildzarr.arrays.blob_chunk_size`; ``wildzarr verify`` checks the
        blob's own document agrees), which saves a request per stream on object
        stores. Format 1 reads the blob's ``zarr.json``.
        """
        if attrs.stored_bytes is not None:
            return attrs.stored_bytes, blob_chunk_size(attrs.stored_bytes)
        document = self._location.backend.get(document_key)
        if document is None:
            raise DocumentError("blob/zarr.json is missing")
        return blob_layout(document)

    def _check_streams(self, readers: list[tuple[int, StreamReader]]) -> None:
        """The streams together must hold exactly the recording's channels, samples, format and bytes."""
        info = self.info
        expected = info.stored_format()
        channels = 0
        for first, reader in sorted(readers, key=operator.itemgetter(0)):
            if first != channels:
                raise self._damaged(f"its streams do not cover channels 0..{info.channels - 1} in order")
            channels += reader.channels
            if reader.index.samples != info.samples:
                raise self._damaged(
                    f"{reader.name} holds {reader.index.samples} samples, the document says {info.samples}"
                )
            if reader.stored != expected.with_(channels=reader.channels):
                raise self._damaged(
                    f"{reader.name} decodes to {reader.stored.describe()}, "
                    f"the document says {expected.describe()}"
                )
        if channels != info.channels:
            raise self._damaged(f"its streams hold {channels} channels, the document says {info.channels}")
        stored = sum(reader.blob.size for _, reader in readers)
        if stored != info.stored_bytes:
            raise self._damaged(f"its streams hold {stored} bytes, the document says {info.stored_bytes}")

    def read(
        self,
        start: int | None = None,
        stop: int | None = None,
        *,
        start_s: float | None = None,
        stop_s: float | None = None,
        start_time: Any = None,
        stop_time: Any = None,
        channels: int | Sequence[int] | None = None,
        dtype: npt.DTypeLike | None = None,
        workers: int | None = None,
    ) -> np.ndarray:
        """Read samples ``[start, stop)`` of every (or the selected) channel.

        Parameters
        ----------
        start, stop : int
            Sample indices, ``0 <= start <= stop <= samples``; ``start=None``
            means 0, ``stop=None`` means ``samples``. Sample ``n`` of the
            result is sample ``start + n`` of the source.
        start_s, stop_s : float, optional
            Instead of samples: real seconds from sample 0 (time expansion
            undone), converted by the rule of :mod:`wildzarr.timebase`:
            ``floor(start_s * rate)``, ``ceil(stop_s * rate)`` with ``rate =
            samplerate * time_expansion``, floats at their decimal value.
            ``rec.read(start_s=5.25, stop_s=7.25)`` at 32 kHz is
            ``rec.read(168000, 232000)``.
        start_time, stop_time : str, datetime or pandas.Timestamp, optional
            Instead of samples: UTC times with a zone, converted by the same
            rule from :attr:`start_time` (:meth:`sample_at` for the start,
            ``ceil`` for the stop).
        channels : int or sequence of int, optional
            Channels to return, in that order (0-based); default all. Only the
            streams holding those channels are fetched and decoded.
        dtype : numpy dtype or None
            ``None``: the stored samples as the codec decodes them
            (``info.dtype``: int16 for FLAC up to 16 bits, else int32, true
            values, not left-shifted; float32 in [-1, 1) for AAC; the source's
            own dtype for npy). ``"float32"`` / ``"float64"``: integers scaled
            by ``2 ** -(bits_per_sample - 1)`` into [-1, 1) (unsigned 8-bit
            centred on 128 first), floats cast. An integer dtype wide enough
            for the stored integers returns the same values; asking for
            integers from float samples (AAC, float npy) is an ArgumentError,
            never a silent rounding.
        workers : int, optional
            Threads that fetch and decode a long read (a short one runs in the
            calling thread). Default: :func:`wildzarr.set_options`' ``threads``,
            else the cores available (1 inside a worker process; see
            :mod:`wildzarr.settings`).

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start, n_channels)``, C-contiguous.

        Raises
        ------
        RangeError
            If ``start``/``stop`` fall outside ``[0, samples]``, ``start > stop``,
            or a channel is outside ``[0, channels)``.
        ArgumentError
            If ``dtype`` is not one of the above, an index is not an integer,
            a range is given in two forms, or by time for a recording without
            a start time.
        StreamError
            If the stored bytes do not decode as the index promises; the message
            names the recording, the stream, the frame and its sample range.
        DamagedRecordingError
            If the recording's stream documents or frame index are damaged or
            disagree with its document (checked on the first read).
        RecordingNotFoundError
            If the recording was removed since it was opened.
        """
        start_i, stop_i = resolve_range(self, start, stop, start_s, stop_s, start_time, stop_time)
        if not 0 <= start_i <= stop_i <= self.samples:
            raise RangeError(
                f"recording {self.id}: cannot read [{start_i}, {stop_i}); "
                f"it holds samples [0, {self.samples})"
            )
        wanted = self.read_format(dtype)
        selected = self.channel_list(channels)
        if start_i == stop_i:
            return np.zeros((0, len(selected)), dtype=wanted.numpy_dtype)
        threads = decode_threads(workers)
        starts, stops = np.array([start_i], dtype=np.int64), np.array([stop_i], dtype=np.int64)
        plan = self.plan_reads(starts, stops, selected, threads=threads)
        run_tasks(plan.tasks, threads)
        return plan.result(0, stop_i - start_i, selected, wanted)

    def export(self, path: str | os.PathLike[str] | None = None, **options: Any) -> Path:
        """Write samples of the recording to an audio file of any format FFmpeg encodes (through PyAV).

        ``rec.export("call.mp3", start=a, stop=b)``; the range in samples,
        seconds (``start_s``, ``stop_s``) or the whole recording; with no
        ``path``, the source's file name extended by the range. WAV exports
        of recordings that came with GUANO carry it, the start time shifted
        to the exported range. See :func:`wildzarr.export.export_recording`
        for every option, the formats and how lossy formats stay sample-aligned
        (docs/export.md).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from wildzarr.export import export_recording

        return export_recording(self, path, **options)

    def to_dask(
        self,
        chunks: int | None = None,
        *,
        channels: int | Sequence[int] | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> Any:
        """The recording as a lazy dask array of shape ``(samples, n_channels)`` (``wildzarr[dask]`` extra).

        Each chunk is read with :meth:`read` when computed, so values are
        exactly those of ``read`` at every chunk border, for every codec. The
        graph carries this recording pickled (location, id, document); dask
        workers reopen it. Works with any dask scheduler, also a
        ``distributed`` cluster (``LocalCluster``, dask-jobqueue's ``SLURMCluster``).

        Parameters
        ----------
        chunks : int, optional
            Samples per chunk (default :data:`wildzarr.cluster.DEFAULT_CHUNK_SAMPLES`,
            1,048,576); all channels are in each chunk.
        channels, dtype
            As in :meth:`read`.

        Returns
        -------
        dask.array.Array
            Shape ``(samples, n_channels)``, dtype as :meth:`read` returns.

        Raises
        ------
        MissingDependencyError
            If dask is not installed.
        ArgumentError, RangeError
            For a bad ``chunks``, ``channels`` or ``dtype``.
        """
        from wildzarr.cluster import to_dask

        return to_dask(self, chunks, channels=channels, dtype=dtype)

    def location_key(self) -> str:
        """Where the recording's archive is (store and group), as text: part of dask graph names."""
        return self._location.backend.describe(self._location.prefix)

    def read_format(self, dtype: npt.DTypeLike | None) -> AudioFormat:
        """The format a read with ``dtype`` returns (ArgumentError if it cannot; see :meth:`read`)."""
        return (
            self._stored if dtype is None else convert_read_dtype(self._stored, dtype, f"recording {self.id}")
        )

    def plan_reads(
        self,
        starts: np.ndarray,
        stops: np.ndarray,
        channels: Iterable[int],
        *,
        threads: int,
        target: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> ReadPlan:
        """Plan reads of ``[starts[i], stops[i])`` (checked, non-empty) into one array; run the tasks after.

        Used by :meth:`read` and :meth:`wildzarr.Archive.read_many`. The
        streams holding ``channels`` are planned into ``target`` (shape
        ``(rows, width)``, the stored dtype, where ``width`` is the channels of
        those streams), or into a new array with range ``i`` at row
        ``sum(stops[:i] - starts[:i])`` when ``target`` is None; ``rows`` gives
        the row of each range otherwise.

        Raises DamagedRecordingError or RecordingNotFoundError when the streams
        cannot be opened (their documents and frame indexes are read on the
        first call).
        """
        with self._read_errors():
            readers = self._stream_readers()  # in channel order
        wanted = set(channels)
        needed = (
            readers
            if len(readers) == 1
            else [
                (first, reader)
                for first, reader in readers
                if any(first + c in wanted for c in range(reader.channels))
            ]
        )
        width = sum(reader.channels for _, reader in needed)
        if target is None:
            lengths = stops - starts
            rows = np.cumsum(lengths) - lengths
            target = np.empty((int(lengths.sum()), width), dtype=self._stored.numpy_dtype)
        assert rows is not None
        tasks: list[Task] = []
        columns: dict[int, int] = {}
        column = 0
        for first, reader in needed:
            block = target[:, column : column + reader.channels]
            tasks += plan_tasks(reader, starts, stops, block, rows, threads=threads)
            columns.update({first + c: column + c for c in range(reader.channels)})
            column += reader.channels
        for task in tasks:
            task.guard = self._read_errors
        return ReadPlan(self, tasks, target, rows, columns)

    @contextlib.contextmanager
    def _read_errors(self) -> Iterator[None]:
        """Restate errors of a read: a removed recording, an unsafe node in the store."""
        try:
            yield
        except StreamError:
            if _gone(self._location, self.id):
                raise RecordingNotFoundError(self.id, self._location.where()) from None
            raise
        except UnsafeNodeError as exc:
            raise self._damaged(str(exc)) from None

    def __getitem__(self, key: int | slice | tuple[int | slice, Any]) -> Any:
        """``rec[a:b]``, ``rec[a:b, c]``, ``rec[a:b, [c, d]]``, ``rec[i]``, ``rec[i, c]``: numpy's rules.

        The result has exactly the shape numpy gives for the same index of a
        ``(samples, channels)`` array: a slice of samples keeps its axis, an
        integer sample drops it; an integer channel drops the channel axis, a
        list, slice or boolean mask of channels keeps it (``rec[5, 1]`` is a
        numpy scalar). Negative indices count from the end. Samples must be
        sliced with step 1 (ArgumentError otherwise: a strided read would
        decode every frame anyway; read and slice the result); channels may
        use any numpy index. Raises RangeError for an index out of range.
        """
        channel_key: Any = slice(None)
        if isinstance(key, tuple):
            if len(key) != 2:
                raise ArgumentError(f"recording {self.id}: index with [samples] or [samples, channels]")
            key, channel_key = key
        try:
            picked = np.arange(self.channels)[channel_key]
        except IndexError as exc:
            raise RangeError(f"recording {self.id}: channel index {channel_key!r}: {exc}") from None
        channels = picked.reshape(-1).tolist()
        if isinstance(key, slice):
            start, stop, step = key.indices(self.samples)
            if step != 1:
                raise ArgumentError(f"recording {self.id}: slice step must be 1, not {step}")
            if not channels:
                return np.zeros((max(stop - start, 0), 0), dtype=self._stored.numpy_dtype)
            samples = self.read(start, max(start, stop), channels=channels)
            return samples[:, 0] if picked.ndim == 0 else samples
        row = self.check_index(key, "index")
        if not -self.samples <= row < self.samples:
            raise RangeError(f"recording {self.id}: index {row} out of range for {self.samples} samples")
        row %= self.samples
        if not channels:
            return np.zeros(0, dtype=self._stored.numpy_dtype)
        samples = self.read(row, row + 1, channels=channels)[0]
        return samples[0] if picked.ndim == 0 else samples

    # -- argument checks --------------------------------------------------------

    def check_index(self, value: object, what: str) -> int:
        """``value`` as an int index (``operator.index``); ArgumentError naming ``what`` otherwise."""
        try:
            return operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            raise ArgumentError(
                f"recording {self.id}: {what} must be an integer sample index, not {value!r}"
            ) from None

    def channel_list(self, channels: int | Sequence[int] | None) -> list[int]:
        """The channel numbers ``channels`` selects (None: all), checked.

        Raises RangeError for a channel outside ``[0, channels)``, ArgumentError
        for a non-integer or an empty selection.
        """
        if channels is None:
            return list(range(self.channels))
        if isinstance(channels, (int, np.integer)):
            wanted: list[Any] = [channels]
        elif isinstance(channels, Iterable) and not isinstance(channels, (str, bytes)):
            wanted = list(channels)
        else:
            raise ArgumentError(
                f"recording {self.id}: channels must be an integer or a sequence of integers, "
                f"not {channels!r}"
            )
        result = []
        for c in wanted:
            c = self.check_index(c, "channel")
            if not 0 <= c < self.channels:
                raise RangeError(
                    f"recording {self.id}: no channel {c}; it has channels 0..{self.channels - 1}"
                )
            result.append(c)
        if not result:
            raise ArgumentError(f"recording {self.id}: select at least one channel")
        return result
