"""An archive attached at a Zarr group: opening, numbering, listing, removal.

Imports are done by :mod:`wildzarr.importer`, the records that let many writers
share an archive by :mod:`wildzarr.ledger`, the bytes moved by
:mod:`wildzarr.storage`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import zarr
from zarr.abc.store import Store

from wildzarr.batch import RecordingCache, check_out, parse_requests, read_batch, resolve_threads, spread
from wildzarr.catalog import change_note, load_catalog, query_ids, sql
from wildzarr.codecs import Codec
from wildzarr.documents import DocumentError, encode_group, parse_group
from wildzarr.errors import (
    ArchiveError,
    ArgumentError,
    DamagedRecordingError,
    DamagedRecordingWarning,
    RecordingNotFoundError,
)
from wildzarr.importer import import_recording
from wildzarr.layout import LEDGER, ZARR_JSON, ArchiveAttrs, LedgerAttrs, recording_key
from wildzarr.location import Location
from wildzarr.metadata import FORMAT_VERSION
from wildzarr.recording import Recording, open_recording
from wildzarr.storage import Backend, join, open_backend
from wildzarr.timing import TimeSlice, read_time
from wildzarr.upgrade import legacy_ids

if TYPE_CHECKING:
    from wildzarr.annotations import AnnotationSet
    from wildzarr.clips import Clips
    from wildzarr.curate import Curation

__all__ = ["MODES", "Archive", "DamagedRecordingWarning", "open"]

#: Recordings :meth:`Archive.read_many` keeps open (documents and frame indexes) per Archive object.
OPENED_RECORDINGS = 1024

#: Modes of :func:`open`.
MODES = ("r", "r+", "a", "w")


def _check_path(path: str | None) -> str:
    """The group path inside the store as a key prefix; ArgumentError for ``..``, empty parts and the like."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise ArgumentError(f"path must be a str naming a group, not {type(path).__name__}")
    parts = path.strip("/").split("/") if path.strip("/") else []
    for part in parts:
        if part in ("", ".", "..") or part.startswith("__") or "\x00" in part:
            raise ArgumentError(
                f"path {path!r}: group names must not be empty, '.' or '..', nor start with '__' "
                "(Zarr v3 spec, node names)"
            )
    return "/".join(parts)


def open(
    target: str | os.PathLike[str] | Store | zarr.Group,
    path: str | None = None,
    mode: str = "a",
    *,
    storage_options: dict[str, Any] | None = None,
) -> Archive:
    """Open (or create) the archive at a Zarr group.

    Parameters
    ----------
    target : str, os.PathLike, zarr.abc.store.Store or zarr.Group
        A local folder (``"recordings.zarr"``), a ``.zip`` file (write-once,
        read-many), an fsspec URL (``"s3://bucket/key"`` with the ``s3`` extra,
        ``"memory://x"``), a zarr store, or a group.
    path : str, optional
        The group inside ``target`` the archive attaches at (``"sites/A/2024"``).
    mode : {"r", "r+", "a", "w"}
        ``"r"``: read only (every write raises ReadOnlyError); ``"r+"``: read and
        write an existing archive; ``"a"`` (default): like ``"r+"``, created if
        missing; ``"w"``: create, deleting whatever was at the group.
    storage_options : dict, optional
        Options of the fsspec filesystem of a URL, e.g. ``{"endpoint_url":
        "http://127.0.0.1:9000", "key": ..., "secret": ...}`` for S3 (s3fs).

    Returns
    -------
    Archive

    Raises
    ------
    ArchiveError
        If the group does not exist (``"r"``, ``"r+"``), holds no archive
        (``"r"``, ``"r+"``), names an array or a file, or was written by a newer
        format version.
    ArgumentError
        For an unknown mode or a malformed ``path``.
    MissingDependencyError
        If a URL needs an optional extra (``pip install "wildzarr[s3]"``).
    StorageError
        If the store fails (permission denied, disk full, network).

    A format-1 archive (written by wildzarr 0.1) opens read-only; ``wildzarr
    upgrade ARCHIVE`` converts it to format 2 in place.
    """
    if mode not in MODES:
        raise ArgumentError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    sub = _check_path(path)
    backend, base = open_backend(target, mode=mode, storage_options=storage_options)
    prefix = join(base, sub)
    owns = not isinstance(target, (Store, zarr.Group))
    try:
        location = _attach(backend, prefix, mode)
    except BaseException:
        if owns:
            backend.close()
        raise
    return Archive(location, owns_backend=owns)


def _attach(backend: Backend, prefix: str, mode: str) -> Location:
    """Check (and in modes "a" and "w" create) the archive document at ``prefix``; return the location."""
    where = backend.describe(prefix)
    key = join(prefix, ZARR_JSON)
    if mode == "w" and backend.list_dir(prefix):
        backend.delete_prefix(prefix)
    while True:
        current = backend.get_versioned(key)
        if current is None:
            if mode in ("r", "r+"):
                raise ArchiveError(f"{where}: no archive here (no group document {ZARR_JSON})")
            _create_parents(backend, prefix)
            backend.create(key, encode_group(ArchiveAttrs().model_dump(exclude_none=True)))
            continue  # read back what this or another process created
        try:
            fields, attributes = parse_group(current.data, require_checksum=False)
        except DocumentError as exc:  # an array, or a damaged document
            raise ArchiveError(f"{where}: not a wildzarr archive: {exc}") from None
        if fields is None:
            if mode in ("r", "r+"):
                raise ArchiveError(f"{where}: this group holds no wildzarr archive")
            data = encode_group(ArchiveAttrs().model_dump(exclude_none=True), attributes)
            backend.replace(key, data, current.version)
            continue
        break
    try:
        attrs = ArchiveAttrs.model_validate(fields)
    except ValueError as exc:
        raise ArchiveError(f"{where}: attribute 'wildzarr' does not describe an archive ({exc})") from None
    if attrs.format > FORMAT_VERSION:
        raise ArchiveError(
            f"{where}: archive format {attrs.format} is newer than this wildzarr reads ({FORMAT_VERSION}); "
            "upgrade wildzarr"
        )
    writable = mode != "r" and not backend.read_only
    if attrs.format < FORMAT_VERSION:
        return Location(
            backend,
            prefix,
            writable=False,
            format=attrs.format,
            why_read_only=f"it is a format-{attrs.format} archive: run `wildzarr upgrade` to write to it",
        )
    if writable:
        backend.create(join(prefix, LEDGER, ZARR_JSON), encode_group(LedgerAttrs().model_dump()))
    if mode != "r" and backend.read_only:
        return Location(backend, prefix, writable=False, why_read_only=backend.read_only_reason)
    return Location(backend, prefix, writable=writable)


def _create_parents(backend: Backend, prefix: str) -> None:
    """Give every group above ``prefix`` a group document, so that plain zarr finds the archive."""
    parts = prefix.split("/") if prefix else []
    for depth in range(len(parts)):
        key = join(*parts[:depth], ZARR_JSON)
        if backend.get(key) is None:
            backend.create(key, b'{"zarr_format":3,"node_type":"group","attributes":{}}')


class Archive:
    """The recordings stored below one Zarr group, numbered 1, 2, 3, ...

    Ids are never reused, also not after :meth:`remove`. Only complete
    recordings are listed; groups of other kinds beside them are ignored.
    Any number of processes and threads may add, remove and update recordings
    of one archive at the same time (on a local folder or S3; within one
    process on other stores): see docs/format.md, "Many writers". Every call
    sees the archive as it is in the store now, including other writers'
    changes. Use :func:`wildzarr.open` to get one.
    """

    def __init__(self, location: Location, *, owns_backend: bool = False) -> None:
        self._location = location
        self._owns_backend = owns_backend
        self._warned: set[int] = set()
        self._opened = RecordingCache(OPENED_RECORDINGS)  # read_many's recordings, by id

    def __getstate__(self) -> dict[str, Any]:
        """The location (store, group, mode, format): no open recordings, locks or descriptors.

        The receiving process reopens the store lazily; it does not own (and
        does not close) the store of the sender.
        """
        return {"location": self._location}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["location"])  # type: ignore[misc]

    # -- description ----------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<wildzarr.Archive {self._location.where()}>"

    @property
    def backend(self) -> Backend:
        """The storage backend (the store's root)."""
        return self._location.backend

    @property
    def group(self) -> zarr.Group:
        """The archive's Zarr group, opened read-only with plain zarr (for browsing; not needed otherwise)."""
        store = self._location.backend.zarr_store()
        return zarr.open_group(store, path=self._location.prefix, mode="r", zarr_format=3)

    @property
    def read_only(self) -> bool:
        """True when writes are refused: mode ``"r"``, a read-only store, or a format-1 archive."""
        return not self._location.writable

    @property
    def format(self) -> int:
        """The archive's format version (docs/format.md)."""
        return self._location.format

    def close(self) -> None:
        """Release the store if :func:`open` opened it from a path or URL (a zip file is written out then).

        A store or group the caller passed in stays open: it is the caller's to close.
        """
        if self._owns_backend:
            self._location.backend.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- listing -------------------------------------------------------------------------

    def ids(self) -> list[int]:
        """Ids of the complete recordings, ascending.

        Reads no recording document: one listing of the commit markers (one
        request per 1,000 recordings on S3).
        """
        location = self._location
        if location.format < 2:
            return legacy_ids(location.backend, location.prefix)
        return location.ledger.complete_ids()

    def __len__(self) -> int:
        return len(self.ids())

    def __contains__(self, rid: object) -> bool:
        """Whether ``rid`` is the id of a complete recording (one existence check, no document read)."""
        if isinstance(rid, bool) or not isinstance(rid, (int, np.integer)) or int(rid) < 1:
            return False
        if self._location.format < 2:
            return int(rid) in self.ids()
        return self._location.ledger.is_complete(int(rid))

    def __iter__(self) -> Iterator[Recording]:
        """The complete recordings in id order.

        A damaged recording is skipped with a :class:`DamagedRecordingWarning`
        naming it (once per Archive object); one removed meanwhile is skipped.
        """
        for rid in self.ids():
            try:
                yield open_recording(self._location, rid)  # listed: no second check of its marker
            except RecordingNotFoundError:
                continue
            except DamagedRecordingError as exc:
                if rid not in self._warned:
                    self._warned.add(rid)
                    warnings.warn(str(exc), DamagedRecordingWarning, stacklevel=2)

    def __getitem__(self, rid: int) -> Recording:
        """The recording with id ``rid`` (reads its document).

        Raises
        ------
        RecordingNotFoundError
            (a KeyError) if no complete recording has that id.
        DamagedRecordingError
            If its document is unreadable, fails its checksum or contradicts
            itself or its group name.
        """
        if isinstance(rid, bool) or not isinstance(rid, (int, np.integer)) or int(rid) < 1:
            raise RecordingNotFoundError(rid, self._location.where())
        rid = int(rid)
        if self._location.format >= 2 and not self._location.ledger.is_complete(rid):
            raise RecordingNotFoundError(rid, self._location.where())
        return open_recording(self._location, rid)

    # -- reading ------------------------------------------------------------------------

    def read_many(
        self,
        requests: Iterable[Sequence[Any]],
        *,
        workers: int | Any | None = None,
        dtype: npt.DTypeLike | None = None,
        out: np.ndarray | None = None,
    ) -> list[np.ndarray]:
        """Read many sample ranges of many recordings in one call: planned together, decoded in parallel.

        Every request is checked before anything is decoded. Then all frames
        are planned at once, the byte ranges of neighbouring frames merged per
        recording, fetched concurrently and decoded on a thread pool with the
        GIL released; each result is exact (sample ``n`` of result ``i`` is
        sample ``start + n`` of its recording).

        Parameters
        ----------
        requests : iterable
            ``(id, start, stop)`` or ``(id, start, stop, channels)`` each: a
            recording id, a sample range ``0 <= start <= stop <= samples`` and
            the channels to return (an int, a sequence of ints, or None for all).
        workers : int, executor or dask Client, optional
            An int: threads in this process (default: :func:`wildzarr.set_options`'
            ``threads``, else the cores available, 1 inside a worker process).
            A ``concurrent.futures`` executor (e.g. a ``ProcessPoolExecutor``)
            or a dask ``distributed.Client``: the batch is sorted by recording,
            cut into parts of :data:`wildzarr.batch.PART_REQUESTS` requests and
            read by the executor's workers, each receiving the part's
            recordings pickled (a worker keeps what it opened for later parts).
        dtype : numpy dtype, optional
            As in :meth:`Recording.read` (None: each recording's stored dtype).
            With ``out`` and no ``dtype``, ``out``'s dtype.
        out : numpy.ndarray, optional
            Shape ``(n_requests, window, channels)`` for a batch of equal
            windows: result ``i`` is written to ``out[i]``. With a C-contiguous
            ``out`` of the stored dtype, windows that return every channel
            decode straight into it (no allocation per window).

        Returns
        -------
        list of numpy.ndarray
            In request order; result ``i`` has shape ``(stop - start,
            n_channels)``. Results of one recording may be views of one array
            holding all its windows of the batch. With ``out``, ``out[i]``.

        Raises
        ------
        ArgumentError
            If a request is malformed, an index is not an integer, the dtype
            does not suit a recording, ``out`` does not fit the batch, or
            ``workers`` is of another type; the message names the request's
            position and recording.
        RangeError
            If a range or channel falls outside its recording.
        RecordingNotFoundError, DamagedRecordingError
            If a request's recording is missing or damaged, before anything is
            decoded (spread over an executor or a Client, damage to its streams
            and frame index is found by the worker that reads them), or was
            removed meanwhile.
        StreamError
            If stored bytes do not decode as their index promises; the message
            names the recording, stream and frame.

        Recordings opened by ``read_many`` (their documents and frame
        indexes) are kept, the last :data:`OPENED_RECORDINGS` of them, for the
        next call on this object.
        """
        if out is not None and dtype is None and isinstance(out, np.ndarray):
            dtype = out.dtype
        threads = resolve_threads(workers)
        # Spread over other processes, the workers open the streams: reading them here would be wasted.
        parsed = parse_requests(requests, self._opened_recording, dtype, open_streams=threads is not None)
        if out is not None:
            check_out(out, parsed)
        if threads is None:
            return spread(parsed, workers, dtype, out)
        return read_batch(parsed, threads=threads, out=out)

    def _opened_recording(self, rid: int) -> Recording:
        """``self[rid]``, kept open for later batches (the last :data:`OPENED_RECORDINGS`)."""
        if isinstance(rid, (int, np.integer)) and not isinstance(rid, bool):
            return self._opened.get(int(rid), lambda: self[rid])
        return self[rid]

    def find(self, sha256: str) -> int | None:
        """Id of the recording whose source had this sha256 (hex), or None (one read).

        The id of an import of that content still in progress is returned too.
        """
        if self._location.format < 2:
            wanted = sha256.lower()
            return next((rec.id for rec in self if rec.info.source.sha256 == wanted), None)
        return self._location.ledger.find(sha256.lower())

    # -- writing --------------------------------------------------------------------------

    def add(
        self,
        source: str | os.PathLike[str] | np.ndarray,
        *,
        codec: str | dict[str, Any] | Codec = "auto",
        user_meta: dict[str, Any] | None = None,
        samplerate: int | None = None,
        allow_duplicates: bool = False,
        allow_truncated: bool = False,
        time_zone: str | None = None,
        filename_time: str | None = None,
        start_time: Any = None,
        **codec_params: Any,
    ) -> Recording:
        """Import a recording and return it.

        Safe to call from many threads and processes at once: every call gets
        its own id, which holds exactly its own audio and metadata.

        Parameters
        ----------
        source : path or numpy.ndarray
            A file PyAV decodes (wav, flac, mp3, ogg vorbis/opus, m4a/aac, the
            audio stream of mp4/mkv...) or an array of shape ``(samples,
            channels)`` or ``(samples,)`` (then give ``samplerate``), dtype
            uint8, int8, int16, int32, int64, float32 or float64. An array is
            neither copied nor changed; do not change it during the call.
        codec : str, dict or Codec
            ``"auto"`` (default: FLAC for integer PCM, npy for float PCM and
            64-bit integers, the source's own frames for AAC, 24-bit FLAC for
            other lossy sources; see :mod:`wildzarr.codecs.auto` and
            docs/codecs.md), a registered codec id (``"flac"``, ``"aac"``,
            ``"npy"``), a codec config or a Codec instance. The choice and its
            reason are recorded in ``info.codec_choice``.
        user_meta : dict, optional
            JSON-compatible metadata stored with the recording: at most
            512 KiB as JSON, nested at most 32 deep.
        samplerate : int, optional
            Sample rate in Hz of an array source (required for arrays).
        allow_duplicates : bool
            Import even if a recording with the same content (sha256) exists.
        allow_truncated : bool
            Import the samples a truncated WAV or FLAC file holds (its header
            announces more, as when a recorder's battery died); ``info.truncated``
            records both counts. Default False: such a file raises SourceError.
        time_zone : str, optional
            The zone of local times in the file's metadata that carry none
            (a GUANO ``Timestamp`` without offset, BWF ``bext`` date and time, a
            file-name time): an IANA name (``"Europe/Berlin"``), ``"UTC"`` or an
            offset (``"+02:00"``). Default: the archive's (:attr:`time_zone`).
            The recording's time records that the zone was assumed.
        filename_time : str, optional
            A ``datetime.strptime`` pattern of a time in the file name, e.g.
            ``"%Y%m%d_%H%M%S"`` for ``S4A03895_20190522_001500.wav``, used
            when the metadata tell no time (docs/time.md).
        start_time : str, datetime or pandas.Timestamp, optional
            The UTC time of the first sample, with a zone; overrides whatever
            the file tells (source ``"user"``). The way to time an array.
        **codec_params
            Parameters of a named codec, e.g. ``compression_level=8, blocksize=4096`` for FLAC.

        Returns
        -------
        Recording

        Raises
        ------
        SourceError
            The file or array cannot be imported (empty, truncated, not audio...).
        UnsupportedSourceError
            The codec cannot store this audio (AAC: a sample rate above 96 kHz
            without time expansion, more than 8 channels; FLAC: more than 32 bits).
        DuplicateRecordingError
            The same content is already archived, or being imported by another
            writer right now (its id is in the message and in ``existing_id``).
        MetadataError
            ``user_meta`` is not JSON-compatible, too large or too deep.
        ReadOnlyError
            The archive is read-only.
        StorageError
            The store failed (disk full, permission denied, network).
        KeyboardInterrupt
            Propagated at once; the archive is left as it was.

        On any error the archive is left exactly as it was.
        """
        location = self._location
        location.check_writable("add a recording")
        return import_recording(
            location,
            source,
            codec=codec,
            codec_params=codec_params,
            user_meta={} if user_meta is None else user_meta,
            samplerate=samplerate,
            allow_duplicates=allow_duplicates,
            allow_truncated=allow_truncated,
            time_zone=self.time_zone if time_zone is None else time_zone,
            filename_time=filename_time,
            start_time=start_time,
        )

    def remove(self, rid: int) -> None:
        """Delete recording ``rid``; its id is never handed out again.

        Removes the group named ``rid`` and nothing else. The recording stops
        being listed at the first step (its commit marker is deleted); a
        removal interrupted after that leaves files that ``wildzarr repair``
        deletes.

        Raises
        ------
        RecordingNotFoundError
            If no complete recording has that id (also when another writer
            removed it first).
        ReadOnlyError
            If the archive is read-only.
        """
        location = self._location
        location.check_writable(f"remove recording {rid}")
        if isinstance(rid, bool) or not isinstance(rid, (int, np.integer)) or int(rid) < 1:
            raise RecordingNotFoundError(rid, location.where())
        rid = int(rid)
        with change_note(location, rid):
            marker = location.ledger.uncommit(rid)
        if marker is None:
            raise RecordingNotFoundError(rid, location.where())
        sha256 = marker.get("sha256")
        if isinstance(sha256, str):
            location.ledger.release_content(sha256, rid)
        location.backend.delete_prefix(recording_key(location.prefix, rid))

    # -- time ---------------------------------------------------------------------------

    @property
    def time_zone(self) -> str | None:
        """The zone applied at import to local times without one (:meth:`set_time_zone`), or None."""
        return self._document().time_zone

    def set_time_zone(self, time_zone: str | None) -> None:
        """Declare the zone of local times without one in recordings imported from now on (None: no zone).

        ``time_zone``: an IANA name (``"America/Chicago"``), ``"UTC"`` or an
        offset (``"-05:00"``). Recordings already imported keep their times;
        correct them with :meth:`Recording.set_start_time`.

        Raises
        ------
        ArgumentError
            For an unknown zone.
        ReadOnlyError
            If the archive is read-only.
        """
        location = self._location
        location.check_writable("set the archive's time zone")
        if time_zone is not None:
            from wildzarr.starttime import check_time_zone

            check_time_zone(time_zone)
        key = join(location.prefix, ZARR_JSON)
        while True:
            current = location.backend.get_versioned(key)
            if current is None:
                raise ArchiveError(f"{location.where()}: the archive document vanished")
            fields, attributes = parse_group(current.data, require_checksum=False)
            updated = {**(fields or {}), "time_zone": time_zone}
            if location.backend.replace(key, encode_group(updated, attributes), current.version):
                return

    def _document(self) -> ArchiveAttrs:
        location = self._location
        data = location.backend.get(join(location.prefix, ZARR_JSON))
        try:
            fields, _ = parse_group(data or b"", require_checksum=False)
            return ArchiveAttrs.model_validate(fields or {})
        except (DocumentError, ValueError) as exc:
            raise ArchiveError(f"{location.where()}: the archive document is damaged: {exc}") from None

    def read_time(
        self,
        begin: Any,
        end: Any,
        *,
        where: str | None = None,
        channels: int | Sequence[int] | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> list[TimeSlice]:
        """The samples of every recording overlapping the UTC range ``[begin, end)``, across file boundaries.

        Per recording with a start time (:attr:`Recording.start_time`), the
        samples from ``floor((begin - start_time) * rate)`` to ``ceil((end -
        start_time) * rate)`` (``rate = samplerate * time_expansion``; the rule
        of :mod:`wildzarr.timebase`), clipped to the recording, read in one
        :meth:`read_many` call.

        Parameters
        ----------
        begin, end : str, datetime or pandas.Timestamp
            UTC times with a zone (``"2022-09-25T22:34:50Z"``).
        where : str, optional
            A :meth:`query` expression selecting the recordings (e.g. ``"site
            == 'A'"``); default all.
        channels, dtype
            As in :meth:`read_many`.

        Returns
        -------
        list of TimeSlice
            Ordered by start time: each with the recording id, the sample range,
            the UTC time of its first sample, its offset in seconds from
            ``begin`` and the samples, shape ``(stop - start, n_channels)``.
            Gaps between recordings are gaps between slices: nothing is filled.

        Raises
        ------
        ArgumentError
            If a time has no zone, ``end`` precedes ``begin``, or ``where`` does
            not evaluate.
        """
        return read_time(self, begin, end, where=where, channels=channels, dtype=dtype)

    # -- catalog --------------------------------------------------------------------------

    def catalog(self, *, refresh: bool = False) -> pd.DataFrame:
        """Every complete recording as one row of a pandas DataFrame, indexed by id.

        Columns: the technical metadata (``samplerate``, ``channels``,
        ``samples``, ``duration`` in s, ``bits_per_sample``, ``dtype``,
        ``codec``, ``lossy``, ``stored_bytes``, ``imported_at``,
        ``source.name``, ``source.path``, ``source.sha256`` ...), the time
        (``start_time``, ``stop_time`` as UTC datetimes, ``time_source``,
        ``time_zone``, ``time_zone_assumed``, ``time_expansion``), every user
        metadata key as its own column (nested keys joined with ``.``), the
        file metadata as ``guano.<field>``, ``info.<field>``, ``bext.<field>``,
        ``tags.<field>`` (GUANO number fields as numbers), and ``latitude``,
        ``longitude`` from GUANO ``Loc Position``. See
        :func:`wildzarr.catalog.catalog_row`.

        Served from a snapshot that the archive keeps beside the ledger and
        corrects with every change made since (docs/format.md, "Catalog"):
        never stale, whichever writer changed what. ``refresh=True`` rebuilds it
        from every recording document. A damaged recording is left out with a
        :class:`DamagedRecordingWarning`.

        Returns
        -------
        pandas.DataFrame
            One row per recording, index ``id`` (int64), ascending.
        """
        return load_catalog(self._location, refresh=refresh)

    def query(self, expr: str) -> list[int]:
        """Ids of the recordings whose catalog row satisfies ``expr`` (pandas ``DataFrame.query`` syntax).

        ``arc.query("site == 'A' and samplerate >= 192000")``; dotted columns in
        backticks: ``"`guano.Species Manual ID` == 'Myotis'"``.

        Raises
        ------
        ArgumentError
            If ``expr`` does not evaluate on the catalog (an unknown column, a syntax error).
        """
        return query_ids(self.catalog(), expr)

    def sql(self, query: str) -> pd.DataFrame:
        """The result of SQL ``query`` on the catalog as table ``catalog`` (``pip install "wildzarr[sql]"``).

        ``arc.sql('SELECT site, count(*) AS n FROM catalog GROUP BY site')``;
        quote dotted columns: ``"guano.Make"``. Runs in duckdb (in memory).

        Raises
        ------
        MissingDependencyError
            If duckdb is not installed.
        ArgumentError
            If duckdb rejects the query.
        """
        return sql(self.catalog(), query)

    # -- annotations and clips --------------------------------------------------------------

    def annotations(self, name: str) -> AnnotationSet:
        """The annotation set ``name`` (created on its first write); see :mod:`wildzarr.annotations`."""
        from wildzarr.annotations import open_set

        return open_set(self, name)

    def annotation_sets(self) -> list[str]:
        """Names of the annotation sets stored in the archive, sorted."""
        from wildzarr.annotations import list_sets

        return list_sets(self)

    def curate(self, spec: str | os.PathLike[str] | pd.DataFrame) -> Curation:
        """A curation spec (CSV, Parquet or DataFrame) read and checked against the archive.

        Use it as a clip table (``.clips()``, nothing copied) or write it out
        (``.materialise(out, format=...)``); see :mod:`wildzarr.curate` and docs/curate.md.
        """
        from wildzarr.curate import Curation

        return Curation.read(spec, self)

    def clips(self, size: int | None = None, hop: int | None = None, **options: Any) -> Clips:
        """A clip table of sliding windows over the recordings; see :func:`wildzarr.clips.sliding`."""
        from wildzarr.clips import sliding

        return sliding(self, size, hop, **options)
