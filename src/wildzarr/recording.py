"""One archived recording: its metadata and sample-accurate reads."""

from __future__ import annotations

import copy
import operator
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import zarr

from wildzarr.blob import Blob
from wildzarr.codecs import get_codec
from wildzarr.errors import ArgumentError, RangeError, ReadOnlyError, StreamError
from wildzarr.index import FrameIndex
from wildzarr.layout import ATTRS_KEY, BLOB, INDEX, RecordingAttrs, StreamAttrs
from wildzarr.metadata import RecordingInfo, check_json_dict
from wildzarr.reader import StreamReader

__all__ = ["Recording"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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

    def __init__(self, group: zarr.Group, attrs: RecordingAttrs, *, writable: bool) -> None:
        assert attrs.info is not None
        self._group = group
        self._attrs = attrs
        self._writable = writable
        self.id: int = attrs.info.id
        self.info: RecordingInfo = attrs.info
        self.file_meta: dict[str, Any] = attrs.file_meta
        self._readers: list[tuple[int, StreamReader]] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        i = self.info
        return (
            f"<Recording {self.id}: {i.source.name}, {i.samples} samples x {i.channels} ch "
            f"at {i.samplerate} Hz, {i.bits_per_sample}-bit {i.codec['id']}>"
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
        """A copy of the user metadata; change it with :meth:`update_user_meta`."""
        return copy.deepcopy(self._attrs.user_meta)

    def update_user_meta(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Merge keys into the user metadata and store it.

        ``rec.update_user_meta({"site": "A"}, observer="JS")`` works like
        ``dict.update``. Values must be JSON-compatible (dict with str keys,
        list, str, int, finite float, bool, None).

        Raises
        ------
        MetadataError
            If a value is not JSON-compatible; nothing is stored then.
        ReadOnlyError
            If the archive was opened with mode ``"r"``.
        """
        if not self._writable:
            raise ReadOnlyError(f"recording {self.id}: the archive is open read-only (mode 'r')")
        merged = {**self._attrs.user_meta, **dict(values or {}), **more}
        check_json_dict(merged, f"user metadata of recording {self.id}")
        attrs = self._attrs.model_copy(update={"user_meta": copy.deepcopy(merged)})
        self._group.attrs[ATTRS_KEY] = attrs.model_dump(mode="json")
        self._attrs = attrs

    # -- reading ------------------------------------------------------------------

    def _stream_readers(self) -> list[tuple[int, StreamReader]]:
        if self._readers is None:
            with self._lock:
                if self._readers is None:
                    self._readers = [self._open_stream(k) for k in range(self._attrs.streams)]
        return self._readers

    def _open_stream(self, k: int) -> tuple[int, StreamReader]:
        name = f"recording {self.id} stream {k}"
        try:
            group = self._group[str(k)]
            assert isinstance(group, zarr.Group)
            attrs = StreamAttrs.model_validate(group.attrs[ATTRS_KEY])
            table = group[INDEX]
            blob_array = group[BLOB]
            assert isinstance(table, zarr.Array) and isinstance(blob_array, zarr.Array)
        except (KeyError, AssertionError, ValueError) as exc:
            raise StreamError(f"{name}: stream group is incomplete or damaged ({exc})") from exc
        blob = Blob(blob_array, name)
        index = FrameIndex.from_table(np.asarray(table[...]), end=blob.size, samples=attrs.samples)
        codec = get_codec(attrs.codec)
        return attrs.first_channel, StreamReader(blob, index, codec, attrs.decoder_config, name)

    def read(
        self,
        start: int = 0,
        stop: int | None = None,
        *,
        channels: int | Sequence[int] | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> np.ndarray:
        """Read samples ``[start, stop)`` of every (or the selected) channel.

        Parameters
        ----------
        start, stop : int
            Sample indices, ``0 <= start <= stop <= samples``; ``stop=None``
            means ``samples``. Sample ``n`` of the result is sample
            ``start + n`` of the source.
        channels : int or sequence of int, optional
            Channels to return, in that order (0-based); default all.
        dtype : {None, "int16", "int32", "float32", "float64"}
            ``None``: int16 when the stored bit depth is at most 16, else
            int32, holding the true integer values (not left-shifted; 8-bit
            unsigned sources read back as signed, value - 128). Floating
            types scale by ``2 ** -(bits_per_sample - 1)`` into [-1, 1).
            ``"int16"`` is refused for deeper recordings (values would not fit).

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
            If ``dtype`` is not one of the above or an index is not an integer.
        StreamError
            If the stored bytes do not decode as the index promises.
        """
        start_i = self._as_int(start, "start")
        stop_i = self.samples if stop is None else self._as_int(stop, "stop")
        if not 0 <= start_i <= stop_i <= self.samples:
            raise RangeError(
                f"recording {self.id}: cannot read [{start_i}, {stop_i}); "
                f"it holds samples [0, {self.samples})"
            )
        out_dtype = self._out_dtype(dtype)
        selected = self._channel_list(channels)
        if start_i == stop_i:
            return np.zeros((0, len(selected)), dtype=out_dtype)
        parts = [(first, reader.read(start_i, stop_i)) for first, reader in self._stream_readers()]
        if len(parts) == 1:
            samples = parts[0][1]
        else:
            samples = np.concatenate([p for _, p in sorted(parts, key=operator.itemgetter(0))], axis=1)
        if selected != list(range(self.channels)):
            samples = samples[:, selected]
        if out_dtype.kind == "f":
            scaled = samples.astype(out_dtype)
            scaled *= out_dtype.type(2.0 ** -(self.info.bits_per_sample - 1))
            return scaled
        return np.ascontiguousarray(samples, dtype=out_dtype)

    def __getitem__(self, key: int | slice | tuple[int | slice, Any]) -> np.ndarray:
        """``rec[a:b]`` and ``rec[a:b, channels]`` with numpy slicing rules (step 1 only).

        An integer row index returns shape ``(n_channels,)``; a slice returns
        ``(n, n_channels)``. Raises RangeError for an integer index out of
        range, ArgumentError for a step other than 1.
        """
        channels: Any = None
        if isinstance(key, tuple):
            if len(key) != 2:
                raise ArgumentError(f"recording {self.id}: index with [samples] or [samples, channels]")
            key, channel_key = key
            try:
                channels = np.arange(self.channels)[channel_key].reshape(-1).tolist()
            except IndexError as exc:
                raise RangeError(f"recording {self.id}: channel index {channel_key!r}: {exc}") from None
        if isinstance(key, slice):
            start, stop, step = key.indices(self.samples)
            if step != 1:
                raise ArgumentError(f"recording {self.id}: slice step must be 1, not {step}")
            return self.read(start, max(start, stop), channels=channels)
        row = self._as_int(key, "index")
        if not -self.samples <= row < self.samples:
            raise RangeError(f"recording {self.id}: index {row} out of range for {self.samples} samples")
        row %= self.samples
        return self.read(row, row + 1, channels=channels)[0]

    # -- argument checks --------------------------------------------------------

    def _as_int(self, value: object, what: str) -> int:
        try:
            return operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            raise ArgumentError(
                f"recording {self.id}: {what} must be an integer sample index, not {value!r}"
            ) from None

    def _out_dtype(self, dtype: npt.DTypeLike | None) -> np.dtype:
        bits = self.info.bits_per_sample
        if dtype is None:
            return np.dtype(np.int16 if bits <= 16 else np.int32)
        try:
            wanted = np.dtype(dtype)
        except TypeError:
            raise ArgumentError(f"recording {self.id}: {dtype!r} is not a dtype") from None
        if wanted in _FLOAT_DTYPES or wanted == np.int32 or (wanted == np.int16 and bits <= 16):
            return wanted
        raise ArgumentError(
            f"recording {self.id}: cannot read {bits}-bit samples as {wanted}; "
            "use None, int32, float32 or float64" + (" or int16" if bits <= 16 else "")
        )

    def _channel_list(self, channels: int | Sequence[int] | None) -> list[int]:
        if channels is None:
            return list(range(self.channels))
        wanted = [channels] if isinstance(channels, (int, np.integer)) else list(channels)
        result = []
        for c in wanted:
            c = self._as_int(c, "channel")
            if not 0 <= c < self.channels:
                raise RangeError(
                    f"recording {self.id}: no channel {c}; it has channels 0..{self.channels - 1}"
                )
            result.append(c)
        if not result:
            raise ArgumentError(f"recording {self.id}: select at least one channel")
        return result
