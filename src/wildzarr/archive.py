"""An archive attached at a Zarr group: numbering, import, removal, listing."""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import zarr
import zarr.abc.store

from wildzarr import stores
from wildzarr._version import __version__
from wildzarr.blob import write_blob
from wildzarr.codecs import Codec, StreamLayout, get_codec
from wildzarr.errors import (
    ArchiveError,
    ArgumentError,
    DuplicateRecordingError,
    ReadOnlyError,
    RecordingNotFoundError,
    SourceError,
    UnsupportedSourceError,
)
from wildzarr.layout import (
    ATTRS_KEY,
    BLOB,
    INDEX,
    ArchiveAttrs,
    RecordingAttrs,
    StreamAttrs,
    is_recording_name,
)
from wildzarr.metadata import FORMAT_VERSION, RecordingInfo, SourceInfo, check_json_dict
from wildzarr.recording import Recording
from wildzarr.sources import Source, open_source

__all__ = ["Archive", "open"]


def open(target: stores.Target, path: str | None = None, mode: stores.Mode = "a") -> Archive:
    """Open (or create) the archive at a Zarr group.

    Parameters
    ----------
    target : str, os.PathLike, zarr.abc.store.Store or zarr.Group
        A local folder (``"recordings.zarr"``), a ``.zip`` file (read-mostly:
        every attribute rewrite appends to a zip), an fsspec URL
        (``"memory://x"``, ``"s3://bucket/key"``), a zarr store, or a group.
    path : str, optional
        The group inside ``target`` the archive attaches at (``"sites/A/2024"``).
    mode : {"r", "r+", "a", "w"}
        ``"r"``: read only (every write raises ReadOnlyError); ``"r+"``: read and
        write an existing archive; ``"a"`` (default): like ``"r+"``, created if
        missing; ``"w"``: create, deleting whatever was at the group.

    Returns
    -------
    Archive

    Raises
    ------
    ArchiveError
        If the group does not exist (``"r"``, ``"r+"``), holds no archive
        (``"r"``, ``"r+"``), or was written by a newer format version.
    """
    group = stores.open_group(target, path, mode)
    return Archive(group, mode=mode, owns_store=not isinstance(target, (zarr.abc.store.Store, zarr.Group)))


class Archive:
    """The recordings stored below one Zarr group, numbered 1, 2, 3, ...

    Ids are never reused, also not after :meth:`remove`. Only complete
    recordings are listed; groups of other kinds beside them are ignored.
    Use :func:`wildzarr.open` to get one.
    """

    def __init__(self, group: zarr.Group, mode: stores.Mode = "a", *, owns_store: bool = False) -> None:
        self._group = group
        self._owns_store = owns_store
        self._writable = mode != "r" and not group.store.read_only
        self._recordings: dict[int, Recording] = {}
        self._sha256: dict[str, int] | None = None
        raw = group.attrs.get(ATTRS_KEY)
        if raw is None:
            if not self._writable or mode == "r+":
                raise ArchiveError(f"{self._where()}: this group holds no wildzarr archive")
            raw = ArchiveAttrs().model_dump()
            group.attrs[ATTRS_KEY] = raw
        if not isinstance(raw, dict) or raw.get("kind") != "archive":
            raise ArchiveError(f"{self._where()}: attribute {ATTRS_KEY!r} does not describe an archive")
        if int(raw.get("format", 0)) > FORMAT_VERSION:
            raise ArchiveError(
                f"{self._where()}: archive format {raw['format']} is newer than this wildzarr "
                f"reads ({FORMAT_VERSION}); upgrade wildzarr"
            )

    # -- description ----------------------------------------------------------------

    def _where(self) -> str:
        return f"archive at group {self._group.path or '/'!r} of {self._group.store}"

    def __repr__(self) -> str:
        return f"<wildzarr.Archive at {self._group.path or '/'!r} of {self._group.store}>"

    @property
    def group(self) -> zarr.Group:
        """The Zarr group the archive is attached at."""
        return self._group

    @property
    def read_only(self) -> bool:
        """True when opened with mode ``"r"`` (or on a read-only store)."""
        return not self._writable

    def close(self) -> None:
        """Close the store if :func:`open` opened it from a path or URL (a zip file is written out then).

        A store or group the caller passed in stays open: it is the caller's to close.
        """
        if self._owns_store:
            self._group.store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- listing -------------------------------------------------------------------------

    def _complete(self) -> dict[int, RecordingAttrs]:
        """Attributes of every complete recording, by id (one metadata read per child, concurrent)."""
        found: dict[int, RecordingAttrs] = {}
        for name, node in self._group.members():
            if not (is_recording_name(name) and isinstance(node, zarr.Group)):
                continue
            attrs = _recording_attrs(node)
            if attrs is not None and attrs.state == "complete":
                found[int(name)] = attrs
        return dict(sorted(found.items()))

    def ids(self) -> list[int]:
        """Ids of the complete recordings, ascending."""
        return list(self._complete())

    def __len__(self) -> int:
        return len(self._complete())

    def __iter__(self) -> Iterator[Recording]:
        """The complete recordings in id order."""
        for rid in self.ids():
            yield self[rid]

    def __contains__(self, rid: object) -> bool:
        try:
            self[rid]  # type: ignore[index]
        except RecordingNotFoundError:
            return False
        return True

    def __getitem__(self, rid: int) -> Recording:
        """The recording with id ``rid``.

        Raises
        ------
        RecordingNotFoundError
            (a KeyError) if no complete recording has that id.
        """
        if isinstance(rid, bool) or not isinstance(rid, (int, np.integer)):
            raise RecordingNotFoundError(rid, self._where())
        rid = int(rid)
        cached = self._recordings.get(rid)
        if cached is not None:
            return cached
        try:
            node = self._group[str(rid)]
        except KeyError:
            raise RecordingNotFoundError(rid, self._where()) from None
        attrs = _recording_attrs(node) if isinstance(node, zarr.Group) else None
        if attrs is None or attrs.state != "complete":
            raise RecordingNotFoundError(rid, self._where())
        assert isinstance(node, zarr.Group)
        recording = Recording(node, attrs, writable=self._writable)
        self._recordings[rid] = recording
        return recording

    def find(self, sha256: str) -> int | None:
        """Id of the recording whose source had this sha256 (hex), or None."""
        return self._sha_index().get(sha256.lower())

    def _sha_index(self) -> dict[str, int]:
        if self._sha256 is None:
            self._sha256 = {
                a.info.source.sha256: rid for rid, a in self._complete().items() if a.info is not None
            }
        return self._sha256

    # -- writing --------------------------------------------------------------------------

    def _check_writable(self, action: str) -> None:
        if not self._writable:
            raise ReadOnlyError(f"{self._where()}: cannot {action}, the archive is open read-only")

    def add(
        self,
        source: str | os.PathLike[str] | np.ndarray,
        *,
        codec: str | dict[str, Any] | Codec = "flac",
        user_meta: dict[str, Any] | None = None,
        samplerate: int | None = None,
        allow_duplicates: bool = False,
        **codec_params: Any,
    ) -> Recording:
        """Import a recording and return it.

        Parameters
        ----------
        source : path or numpy.ndarray
            A file PyAV decodes (wav, flac, mp3, ogg vorbis/opus, m4a/aac, the
            audio stream of mp4/mkv...) or an integer array of shape
            ``(samples, channels)`` or ``(samples,)`` (then give ``samplerate``).
        codec : str, dict or Codec
            ``"flac"`` (default), a codec config or instance.
        user_meta : dict, optional
            JSON-compatible metadata stored with the recording.
        samplerate : int, optional
            Sample rate in Hz of an array source (required for arrays).
        allow_duplicates : bool
            Import even if a recording with the same content (sha256) exists.
        **codec_params
            Codec parameters, e.g. ``compression_level=8, blocksize=4096`` for FLAC.

        Returns
        -------
        Recording

        Raises
        ------
        SourceError
            The file or array cannot be imported (empty, truncated, not audio...).
        UnsupportedSourceError
            The codec cannot store this audio (FLAC: floating-point PCM, > 8 channels).
        DuplicateRecordingError
            The same content is already archived (its id is in the message and
            in ``existing_id``).
        MetadataError
            ``user_meta`` is not JSON-compatible.
        ReadOnlyError
            The archive is open read-only.

        On any error the archive is left exactly as it was.
        """
        self._check_writable("add a recording")
        user_meta = check_json_dict({} if user_meta is None else user_meta, "user metadata")
        codec_obj = _make_codec(codec, codec_params)
        with open_source(source, samplerate=samplerate) as src:
            fmt = src.format
            try:
                codec_obj.check(fmt.samplerate, fmt.channels, fmt.bits_per_sample, fmt.is_float)
            except UnsupportedSourceError as exc:
                raise UnsupportedSourceError(f"{src.name}: {exc}") from None
            source_info = _source_info(src, source, samplerate)
            existing = self.find(source_info.sha256)
            if existing is not None and not allow_duplicates:
                raise DuplicateRecordingError(
                    f"{src.name}: the same content is already recording {existing} "
                    "(pass allow_duplicates=True to import it again)",
                    existing,
                )
            with tempfile.TemporaryFile(prefix="wildzarr-") as spool:
                samples = codec_obj.encode(
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
                        layout = codec_obj.scan(stream)
                        if layout.samples != samples:
                            raise SourceError(
                                f"{src.name}: the encoder wrote {samples} samples "
                                f"but the stream holds {layout.samples}"
                            )
                        recording = self._store(src, codec_obj, layout, stream, source_info, user_meta)
                    finally:
                        stream.release()
        if self._sha256 is not None:
            self._sha256.setdefault(source_info.sha256, recording.id)
        return recording

    def _allocate_id(self) -> tuple[int, dict[str, Any]]:
        """Reserve the next id; returns it and the archive attributes before the change."""
        # read the attributes afresh: another Archive object may have handed out ids since we opened
        self._group = zarr.open_group(self._group.store, path=self._group.path, mode="r+")
        before = ArchiveAttrs.model_validate(self._group.attrs[ATTRS_KEY]).model_dump()
        attrs = ArchiveAttrs.model_validate(before)
        taken = set(self._group.keys())
        rid = attrs.next_id
        while str(rid) in taken:  # a node of that name exists (the user's own, or a crashed import's)
            rid += 1
        self._group.attrs[ATTRS_KEY] = attrs.model_copy(update={"next_id": rid + 1}).model_dump()
        return rid, before

    def _store(
        self,
        src: Source,
        codec: Codec,
        layout: StreamLayout,
        stream: memoryview,
        source_info: SourceInfo,
        user_meta: dict[str, Any],
    ) -> Recording:
        """Write a scanned stream as a new recording; the archive is unchanged if this fails."""
        fmt = src.format
        rid, archive_attrs_before = self._allocate_id()
        try:
            attrs = RecordingAttrs(state="importing", streams=1)
            group = self._group.create_group(str(rid), attributes={ATTRS_KEY: attrs.model_dump(mode="json")})
            stream_attrs = StreamAttrs(
                codec=codec.get_config(),
                decoder_config=layout.decoder_config,
                first_channel=0,
                channels=fmt.channels,
                samples=layout.samples,
            )
            stream_group = group.create_group("0", attributes={ATTRS_KEY: stream_attrs.model_dump()})
            payload = stream[: layout.end]
            try:
                write_blob(stream_group, BLOB, payload)
            finally:
                payload.release()  # no view of the mmap may outlive it, not even in a traceback
            table = np.stack([layout.offsets, layout.first_samples], axis=1).astype(np.int64)
            index = stream_group.create_array(INDEX, shape=table.shape, chunks=table.shape, dtype="int64")
            index[...] = table
            info = RecordingInfo(
                id=rid,
                samplerate=fmt.samplerate,
                channels=fmt.channels,
                samples=layout.samples,
                duration=layout.samples / fmt.samplerate,
                bits_per_sample=fmt.bits_per_sample,
                codec=codec.get_config(),
                stored_bytes=layout.end,
                source=source_info,
                imported_at=datetime.now(UTC),
                wildzarr_version=__version__,
            )
            complete = attrs.model_copy(
                update={"state": "complete", "info": info, "file_meta": src.file_meta, "user_meta": user_meta}
            )
            group.attrs[ATTRS_KEY] = complete.model_dump(mode="json")  # the commit point
        except BaseException:
            self._undo(rid, archive_attrs_before)
            raise
        return self[rid]

    def _undo(self, rid: int, archive_attrs_before: dict[str, Any]) -> None:
        """Remove a half-written recording and give its id back."""
        if str(rid) in self._group:
            del self._group[str(rid)]
        current = self._group.attrs.get(ATTRS_KEY)
        if isinstance(current, dict) and current.get("next_id") == rid + 1:
            self._group.attrs[ATTRS_KEY] = archive_attrs_before

    def remove(self, rid: int) -> None:
        """Delete recording ``rid``; its id is never handed out again.

        Raises
        ------
        RecordingNotFoundError
            If no complete recording has that id.
        ReadOnlyError
            If the archive is open read-only.
        """
        self._check_writable(f"remove recording {rid}")
        recording = self[rid]
        self._recordings.pop(recording.id, None)
        if self._sha256 is not None:
            self._sha256.pop(recording.info.source.sha256, None)
        del self._group[str(recording.id)]


def _recording_attrs(group: zarr.Group) -> RecordingAttrs | None:
    raw = group.attrs.get(ATTRS_KEY)
    if not isinstance(raw, dict) or raw.get("kind") != "recording":
        return None
    try:
        return RecordingAttrs.model_validate(raw)
    except ValueError:
        return None


def _make_codec(codec: str | dict[str, Any] | Codec, params: dict[str, Any]) -> Codec:
    if isinstance(codec, Codec):
        if params:
            raise ArgumentError("give codec parameters either in the Codec object or as keywords, not both")
        return codec
    try:
        return get_codec(codec, **params)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"codec {codec!r}: {exc}") from None


def _source_info(src: Source, source: object, samplerate: int | None) -> SourceInfo:
    """Describe the source; its sha256 is of the file, or of an array's dtype, shape, rate and bytes."""
    fmt = src.format
    if src.path is not None:
        with src.path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        size: int | None = src.path.stat().st_size
        path: str | None = str(src.path)
    else:
        array = np.ascontiguousarray(source)
        hasher = hashlib.sha256(f"{array.dtype.str}|{array.shape}|{samplerate}|".encode())
        hasher.update(array.tobytes())
        digest = hasher.hexdigest()
        size = None
        path = None
    bits = fmt.bits_per_sample
    if fmt.is_lossy and fmt.sample_format.startswith(("flt", "dbl")):  # decoded to float, stored at 24 bits
        bits = 64 if fmt.sample_format.startswith("dbl") else 32
    return SourceInfo(
        name=src.name,
        path=path,
        size=size,
        sha256=digest,
        container=fmt.container,
        codec=fmt.codec,
        sample_format=fmt.sample_format,
        bits_per_sample=bits,
    )
