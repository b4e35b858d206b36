"""PyTorch datasets of archive clips: exact audio, spectrograms, labels, masks and metadata.

:class:`ClipDataset` is a map-style :class:`torch.utils.data.Dataset` over a clip
table (``recording``, ``start``, ``stop`` in samples, one 0/1 column per class:
:class:`wildzarr.clips.Clips` makes one, ``clips.torch(...)`` wraps it). A
:class:`~torch.utils.data.DataLoader` with automatic batching calls
:meth:`ClipDataset.__getitems__` with the indices of a batch (torch's batched
fetch protocol: ``torch.utils.data._utils.fetch._MapDatasetFetcher`` calls
``dataset.__getitems__(indices)`` when the dataset defines it and hands the list
of items it returns to ``collate_fn``); the whole batch, time-jittered ranges and
background clips included, is one :meth:`wildzarr.Archive.read_many` call into
one preallocated array. Datasets without ``__getitems__`` around it
(:class:`torch.utils.data.ConcatDataset` in torch 2.13) fetch item by item
through :meth:`ClipDataset.__getitem__`, with the same results.

The dataset pickles as the archive's location, the clip table and the options
(no zarr objects, locks or open files), and opens the archive once per process,
on first use: a DataLoader worker started by ``spawn`` or ``forkserver`` opens
its own, and a worker forked from a process that had used the dataset sees
another process id and opens its own too.

Importing this module needs PyTorch (``pip install "wildzarr[torch]"``);
``import wildzarr`` never imports it.
"""

from __future__ import annotations

import math
import operator
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import wildzarr
from wildzarr.archive import Archive
from wildzarr.errors import ArgumentError, MissingDependencyError, RangeError
from wildzarr.labels import clip_masks

try:
    import torch
    from torch.utils.data import Dataset
except ImportError as exc:
    raise MissingDependencyError('wildzarr.torchdata needs PyTorch: pip install "wildzarr[torch]"') from exc

if TYPE_CHECKING:
    from wildzarr.clips import Clips

__all__ = ["OUTPUTS", "TARGETS", "ClipDataset", "Spectrogram"]

#: What an item may hold, in any order (the ``outputs`` argument).
OUTPUTS = ("audio", "spectrogram", "label", "mask", "meta")

#: Label encodings (the ``target`` argument); None means no label.
TARGETS = ("multihot", "index")

#: Meta names every item knows: the dataset index and the range actually read.
BUILTIN_META = ("index", "recording", "start", "stop")

#: Columns of a clip table that are neither classes nor metadata by default.
CLIP_COLUMNS = ("recording", "start", "stop", "channel", "split")


@dataclass(frozen=True)
class Spectrogram:
    """Magnitude spectrogram in dB full scale, by :func:`torch.stft` with a periodic Hann window.

    Called on float32 audio of shape ``(..., samples)`` (a batch ``(batch,
    channels, samples)`` or one item ``(channels, samples)``), returns float32
    of shape ``(..., n_fft // 2 + 1, frames)`` with ``frames = 1 + samples //
    hop_length`` (``center=True``, reflect padding: the defaults of
    :func:`torch.stft`, PyTorch documentation). Values are ``20 * log10(2 *
    |X| / sum(window))``: a full-scale sine centred on a frequency bin reads
    0 dB there (a periodic Hann window sums to ``n_fft / 2``); values below
    ``floor_db`` are raised to it.

    Attributes
    ----------
    n_fft : int
        FFT length in samples (the window length); frequency bins are
        ``k * samplerate / n_fft`` Hz, ``k = 0 ... n_fft // 2``.
    hop_length : int, optional
        Samples between frames (default ``n_fft // 4``).
    floor_db : float
        The lowest value returned, in dB.
    """

    n_fft: int = 512
    hop_length: int | None = None
    floor_db: float = -120.0

    def __post_init__(self) -> None:
        if isinstance(self.n_fft, bool) or not isinstance(self.n_fft, int) or self.n_fft < 2:
            raise ArgumentError(f"Spectrogram: n_fft must be an integer >= 2, not {self.n_fft!r}")
        if self.hop_length is not None and (
            isinstance(self.hop_length, bool) or not isinstance(self.hop_length, int) or self.hop_length < 1
        ):
            raise ArgumentError(
                f"Spectrogram: hop_length must be a positive integer, not {self.hop_length!r}"
            )

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """The spectrogram of ``audio`` (float32 ``(..., samples)``, more than ``n_fft // 2`` samples)."""
        hop = self.hop_length or self.n_fft // 4
        window = torch.hann_window(self.n_fft, dtype=audio.dtype, device=audio.device)
        flat = audio.reshape(-1, audio.shape[-1])
        stft = torch.stft(flat, self.n_fft, hop_length=hop, window=window, center=True, return_complex=True)
        magnitude = stft.abs() * (2.0 / float(window.sum()))
        db = 20.0 * torch.log10(magnitude.clamp_min(10.0 ** (self.floor_db / 20.0)))
        return db.reshape(*audio.shape[:-1], *db.shape[-2:])


@dataclass
class _Opened:
    """What one process opened: its own copy of the archive and facts about recordings it read."""

    pid: int
    archive: Archive
    recordings: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (samples, channels)


class ClipDataset(Dataset[Any]):
    """Clips of an archive as a map-style PyTorch dataset.

    Item ``i`` is clip row ``i`` of the table: its samples ``[start, stop)``
    read exactly (``rec.read(start, stop, dtype="float32")``), turned into the
    ``outputs`` asked for. A DataLoader batches items with its ``collate_fn``
    (the default stacks tensors, makes tensors of numbers and lists of
    strings).

    Parameters
    ----------
    archive : Archive, str or os.PathLike
        The archive holding the recordings (a path or URL is opened read-only).
    clips : pandas.DataFrame
        One row per clip: ``recording`` (int id), ``start``, ``stop`` (int
        samples, every clip the same length ``stop - start > 0``), then any
        columns: class columns (0/1), ``split``, metadata, and ``channel``
        (the one channel a clip reads; ``<NA>`` in every row, or no such
        column: all channels, or those of ``channels``).
    outputs : str or sequence of str, optional
        What each item holds, from :data:`OUTPUTS`. A string gives that value
        alone; a sequence gives a tuple in its order. Default ``("audio",
        "label")``, or ``"audio"`` when ``target`` is None.

        ``"audio"``
            float32 tensor ``(channels, samples)``, channels first as in
            torchaudio; values in ``[-1, 1)`` (the stored integers divided by
            ``2 ** (bits - 1)``, :meth:`wildzarr.Recording.read`) before gain
            and background mixing, which may leave that range.
        ``"spectrogram"``
            ``spectrogram(audio)``: float32 ``(channels, freq, frames)`` in dB
            with the default :class:`Spectrogram`.
        ``"label"``
            ``target="multihot"``: float32 ``(n_classes,)``, the clip's class
            columns; ``target="index"``: int64 scalar, the position in
            :attr:`classes` of the clip's one class.
        ``"mask"``
            float32 ``(n_classes + 1, samples)``: row 0 is 1 where no class is
            active ("noise", the DAS layout), row ``k + 1`` is 1 where class
            ``k`` is annotated, for the samples actually read
            (:func:`wildzarr.labels.clip_masks` on ``annotations``, the rules of
            :func:`wildzarr.labels.masks`; with one channel selected, only
            annotations of that channel or of every channel count).
        ``"meta"``
            dict of the ``meta`` names: Python ints, floats and strings.
    classes : sequence of str, optional
        The class columns, in label order. Default: every uint8 or bool
        column of ``clips`` (the :class:`~wildzarr.clips.Clips` contract).
    target : {"multihot", "index"} or None
        Label encoding (see ``outputs``). ``"index"`` needs exactly one class
        per clip.
    channels : int or sequence of int, optional
        The channels to read from every recording (default all; the
        recordings of one batch must then have the same number). Not with a
        ``channel`` column.
    spectrogram : callable, optional
        For ``"spectrogram"``: called on the float32 batch ``(batch,
        channels, samples)`` (one item: ``(1, channels, samples)``), returns
        ``(batch, channels, freq, frames)``. Default :class:`Spectrogram`
        ``()``; a torchaudio transform such as
        ``Sequential(Spectrogram(), AmplitudeToDB())`` works the same way.
    annotations : AnnotationSet or pandas.DataFrame, optional
        For ``"mask"``: the annotation set (or its ``df``) whose labels make
        the masks; classes are :attr:`classes`, else the set's classes.
    event_width : int
        Samples a mask marks for an event (an annotation with ``start ==
        stop``), centred on it; default 1 (DAS marks 61).
    meta : sequence of str
        Names for ``"meta"`` and the transform: ``index`` (dataset index),
        ``recording``, ``start``, ``stop`` (the range read, after jitter), any
        column of ``clips``, or any column of :meth:`Archive.catalog` (e.g.
        ``site``, ``start_time``: times as ISO 8601 strings, missing values as
        NaN or ``""``).
    jitter : int
        Time jitter in samples: each item reads its range shifted by a whole
        number drawn uniformly from ``[-jitter, jitter]``, then moved back
        inside the recording if it leaves it. Labels stay the clip's; masks
        follow the range read.
    gain_db : (float, float), optional
        Multiply each item's audio by ``10 ** (g / 20)``, ``g`` uniform in
        this range (dB).
    background : Clips or pandas.DataFrame, optional
        Background clips (``recording``, ``start``, ``stop``, the clips'
        length; e.g. :func:`wildzarr.clips.background`) of the same archive:
        each item adds one, chosen uniformly, read in the same batch (its
        ``channel`` column's channel, else the channels the item reads),
        scaled by ``background_gain_db``.
    background_gain_db : (float, float)
        Gain range in dB of the added background (relative to its stored
        level).
    seed : int
        Augmentation seed: item ``i`` in epoch ``e`` draws from
        ``numpy.random.default_rng([seed, e, i])``, so an epoch is the same
        whatever the number of workers or the batch it lands in.
    transform : callable, optional
        ``transform(audio, meta) -> audio`` on each item's audio tensor
        ``(channels, samples)`` after gain and background, before the
        spectrogram; ``meta`` holds ``index``, ``recording``, ``start``,
        ``stop`` and the ``meta`` names. Must pickle for ``spawn`` workers.

    Raises
    ------
    ArgumentError
        If the table lacks a column, clips differ in length, a value or option
        is invalid; the message names the row (by its table index) or option.
    RecordingNotFoundError
        If the archive lacks the first clip's recording (its channels are
        looked up when ``channels`` is None).

    Notes
    -----
    Augmentation changes with :meth:`set_epoch`. DataLoader workers receive
    the dataset when an epoch's iteration starts, so call ``set_epoch``
    before iterating; with ``persistent_workers=True`` workers keep the epoch
    they started with.
    """

    def __init__(
        self,
        archive: Archive | str | os.PathLike[str],
        clips: pd.DataFrame,
        *,
        outputs: str | Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        target: str | None = "multihot",
        channels: int | Sequence[int] | None = None,
        spectrogram: Callable[[torch.Tensor], torch.Tensor] | None = None,
        annotations: Any = None,
        event_width: int = 1,
        meta: Sequence[str] = ("recording", "start", "stop"),
        jitter: int = 0,
        gain_db: tuple[float, float] | None = None,
        background: Clips | pd.DataFrame | None = None,
        background_gain_db: tuple[float, float] = (-20.0, 0.0),
        seed: int = 0,
        transform: Callable[[torch.Tensor, dict[str, Any]], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self._archive = archive if isinstance(archive, Archive) else wildzarr.open(archive, mode="r")
        if not isinstance(clips, pd.DataFrame):
            raise ArgumentError(f"clips must be a pandas DataFrame, not {type(clips).__name__}")
        self._target = _check_target(target)
        self._outputs, self._single = _check_outputs(outputs, target)
        self._recording, self._start, self._stop, self._window = _ranges(clips, "clips")
        self._classes = _class_columns(clips, classes)
        self._labels = _labels(clips, self._classes)
        self._index_target = _index_target(clips, self._labels, self._classes) if target == "index" else None
        self._channels = _check_channels(channels)
        self._row_channels = _row_channels(clips, "clips")
        if self._row_channels is not None and self._channels is not None:
            raise ArgumentError("the clips have a channel column: channels= would contradict it")
        self._n_channels = self._channel_count()
        self._spectrogram = _check_spectrogram(spectrogram, self._outputs)
        self._annotations, self._mask_classes = _check_annotations(
            annotations, self._outputs, self._classes, self._recording
        )
        self._event_width = _non_negative(event_width, "event_width")
        if self._event_width == 0:
            raise ArgumentError("event_width must be at least 1 sample")
        self._meta_names = _meta_names(meta)
        self._meta_values = _meta_values(self._archive, clips, self._meta_names, self._recording)
        self._jitter = _non_negative(jitter, "jitter")
        self._gain_db = None if gain_db is None else _db_range(gain_db, "gain_db")
        self._background, self._background_channels = _background(background, self._window)
        self._background_gain_db = _db_range(background_gain_db, "background_gain_db")
        self._seed = _non_negative(seed, "seed")
        if transform is not None and not callable(transform):
            raise ArgumentError(f"transform must be callable, not {type(transform).__name__}")
        self._transform = transform
        self._epoch = 0
        self._opened: _Opened | None = None

    @classmethod
    def from_clips(cls, clips: Clips, *, split: str | None = None, **options: Any) -> ClipDataset:
        """The dataset of a :class:`~wildzarr.clips.Clips` (what ``clips.torch(...)`` returns).

        Parameters
        ----------
        clips : Clips
            Its ``archive``, ``df`` and ``classes`` are used.
        split : str, optional
            Keep only the rows whose ``split`` column equals this.
        **options
            As for :class:`ClipDataset` (``classes`` defaults to ``clips.classes``).

        Raises
        ------
        ArgumentError
            If ``split`` is given and the table has no ``split`` column or no
            row of that split.
        """
        df = clips.df
        if split is not None:
            if "split" not in df.columns:
                raise ArgumentError(f"split={split!r}: the clips have no split column (call .split() first)")
            df = df[df["split"] == split]
            if df.empty:
                present = sorted(str(s) for s in clips.df["split"].dropna().unique())
                raise ArgumentError(f"split={split!r}: no clip has this split; present: {present}")
        options.setdefault("classes", list(clips.classes))
        return cls(clips.archive, df.reset_index(drop=True), **options)

    # -- description ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._recording)

    def __repr__(self) -> str:
        return (
            f"<wildzarr.ClipDataset {len(self)} clips of {self._window} samples, outputs {self._outputs}, "
            f"{len(self._classes)} classes, {self._archive!r}>"
        )

    @property
    def classes(self) -> list[str]:
        """The class names, in label order (label ``k`` and mask row ``k + 1`` are class ``k``)."""
        return list(self._classes)

    @property
    def outputs(self) -> tuple[str, ...]:
        """What each item holds, in order."""
        return self._outputs

    @property
    def window(self) -> int:
        """Samples per clip."""
        return self._window

    @property
    def epoch(self) -> int:
        """The epoch whose augmentation items get (:meth:`set_epoch`)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentation of epoch ``epoch`` (a non-negative integer) from now on."""
        self._epoch = _non_negative(epoch, "epoch")

    # -- pickling and opening ---------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Everything but what this process opened (the archive pickles as its location)."""
        state = self.__dict__.copy()
        state["_opened"] = None
        return state

    def _open(self) -> _Opened:
        """This process's copy of the archive, opened on first use (a forked copy sees another pid)."""
        pid = os.getpid()
        if self._opened is None or self._opened.pid != pid:
            # A pickle round trip is the documented way to reopen in another process (docs/hpc.md):
            # only the location travels, so nothing opened by another process (or before a fork) is used.
            self._opened = _Opened(pid, pickle.loads(pickle.dumps(self._archive)))
        return self._opened

    def _recording_facts(self, opened: _Opened, rid: int) -> tuple[int, int]:
        facts = opened.recordings.get(rid)
        if facts is None:
            rec = opened.archive[rid]
            facts = opened.recordings[rid] = (rec.samples, rec.channels)
        return facts

    def _channel_count(self) -> int:
        if self._row_channels is not None:
            return 1
        if self._channels is not None:
            return len(self._channels)
        if len(self._recording) == 0:
            return 0
        return self._archive[int(self._recording[0])].channels

    # -- items ------------------------------------------------------------------------------------

    def __getitem__(self, index: int) -> Any:
        """Item ``index`` (see the class description); negative indices count from the end.

        Raises
        ------
        RangeError
            If ``index`` is outside ``[-len, len)``.
        """
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """The items of ``indices``, read in one :meth:`~wildzarr.Archive.read_many` call.

        Returns
        -------
        list
            One item per index, in order: a tuple in the order of
            :attr:`outputs`, or the value alone when ``outputs`` was a string.
            Tensors of a batch are views of one batch tensor.

        Raises
        ------
        RangeError
            If an index is outside ``[-len, len)``, or a clip's range falls
            outside its recording.
        ArgumentError
            If the recordings of a batch differ in their number of channels
            (select ``channels``).
        RecordingNotFoundError, DamagedRecordingError, StreamError
            As :meth:`wildzarr.Archive.read_many`.
        """
        rows = np.array([self._row(i) for i in indices], dtype=np.int64)
        n = len(rows)
        opened = self._open()
        recordings, starts = self._recording[rows], self._start[rows].copy()
        draws = self._draws(rows)
        if self._jitter:
            starts = self._jittered(opened, recordings, starts, draws[:, 0])
        stops = starts + self._window
        channels = self._item_channels(rows)
        requests: list[tuple[int, int, int, list[int] | None]] = [
            (int(r), int(a), int(b), c)
            for r, a, b, c in zip(recordings.tolist(), starts.tolist(), stops.tolist(), channels, strict=True)
        ]
        if self._background is not None:
            picks = np.minimum(
                (draws[:, 2] * len(self._background)).astype(np.int64), len(self._background) - 1
            )
            if self._background_channels is not None:  # its own channels, else those of the clip
                channels = [[int(c)] for c in self._background_channels[picks].tolist()]
            requests += [
                (int(r), int(a), int(b), c)
                for (r, a, b), c in zip(self._background[picks].tolist(), channels, strict=True)
            ]
        out = np.empty(
            (len(requests), self._window, self._batch_channels(opened, requests)), dtype=np.float32
        )
        if requests:
            opened.archive.read_many(requests, out=out)
        audio = torch.from_numpy(np.ascontiguousarray(out.transpose(0, 2, 1)))  # (items, channels, samples)
        if self._gain_db is not None:
            audio[:n] *= torch.from_numpy(_gains(self._gain_db, draws[:, 1]))[:, None, None]
        if self._background is not None:
            audio = (
                audio[:n]
                + audio[n:] * torch.from_numpy(_gains(self._background_gain_db, draws[:, 3]))[:, None, None]
            )
        metas = (
            [self._meta(int(i), recordings[k], starts[k], stops[k]) for k, i in enumerate(rows.tolist())]
            if self._transform is not None or "meta" in self._outputs
            else []
        )
        if self._transform is not None:
            audio = torch.stack([self._transform(audio[k], metas[k]) for k in range(n)]) if n else audio
        values = [self._output(name, audio, rows, recordings, starts, stops, metas) for name in self._outputs]
        if self._single:
            return list(values[0])
        return [tuple(v[k] for v in values) for k in range(n)]

    def _row(self, index: Any) -> int:
        try:
            i = operator.index(index)
        except TypeError:
            raise ArgumentError(f"a dataset index must be an integer, not {index!r}") from None
        n = len(self._recording)
        if not -n <= i < n:
            raise RangeError(f"index {i} is outside the dataset of {n} clips")
        return i % n

    def _draws(self, rows: np.ndarray) -> np.ndarray:
        """Four uniforms in [0, 1) per item (jitter, gain, background choice, background gain)."""
        if not (self._jitter or self._gain_db is not None or self._background is not None):
            return np.zeros((len(rows), 4))
        return np.array(
            [np.random.default_rng([self._seed, self._epoch, row]).random(4) for row in rows.tolist()]
        ).reshape(len(rows), 4)

    def _jittered(
        self, opened: _Opened, recordings: np.ndarray, starts: np.ndarray, u: np.ndarray
    ) -> np.ndarray:
        shifts = np.floor(u * (2 * self._jitter + 1)).astype(np.int64) - self._jitter
        limits = np.array(
            [self._recording_facts(opened, int(r))[0] - self._window for r in recordings.tolist()]
        )
        return np.clip(starts + shifts, 0, np.maximum(limits, 0))

    def _item_channels(self, rows: np.ndarray) -> list[list[int] | None]:
        """The channels each item reads: its row's channel, else ``channels`` (None: all)."""
        if self._row_channels is not None:
            return [[c] for c in self._row_channels[rows].tolist()]
        return [self._channels] * len(rows)

    def _batch_channels(self, opened: _Opened, requests: Sequence[tuple[Any, ...]]) -> int:
        if self._channels is not None or self._row_channels is not None or not requests:
            return self._n_channels
        return self._recording_facts(opened, requests[0][0])[1]

    def _meta(self, index: int, recording: Any, start: Any, stop: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "index": index,
            "recording": int(recording),
            "start": int(start),
            "stop": int(stop),
        }
        for name, values in self._meta_values.items():
            meta[name] = values[index]
        return meta

    def _output(
        self,
        name: str,
        audio: torch.Tensor,
        rows: np.ndarray,
        recordings: np.ndarray,
        starts: np.ndarray,
        stops: np.ndarray,
        metas: list[dict[str, Any]],
    ) -> torch.Tensor | list[dict[str, Any]]:
        if name == "audio":
            return audio
        if name == "spectrogram":
            assert self._spectrogram is not None  # checked in __init__
            return self._spectrogram(audio)
        if name == "label":
            if self._index_target is not None:
                return torch.from_numpy(self._index_target[rows])
            return torch.from_numpy(self._labels[rows].astype(np.float32))
        if name == "mask":
            return self._masks(rows, recordings, starts, stops)
        return [{key: meta[key] for key in self._meta_names} for meta in metas]

    def _masks(
        self, rows: np.ndarray, recordings: np.ndarray, starts: np.ndarray, stops: np.ndarray
    ) -> torch.Tensor:
        assert self._annotations is not None  # checked in __init__
        ranges = pd.DataFrame({"recording": recordings, "start": starts, "stop": stops})
        if self._row_channels is not None:
            ranges["channel"] = self._row_channels[rows]  # annotations of other channels do not count
        elif self._channels is not None and len(self._channels) == 1:
            ranges["channel"] = self._channels[0]
        marks = clip_masks(ranges, self._annotations, self._mask_classes, event_width=self._event_width)
        return torch.from_numpy(np.ascontiguousarray(marks.transpose(0, 2, 1), dtype=np.float32))


# -- checking the arguments -----------------------------------------------------------------------


def _check_target(target: str | None) -> str | None:
    if target is not None and target not in TARGETS:
        raise ArgumentError(f"target must be one of {TARGETS} or None, not {target!r}")
    return target


def _check_outputs(outputs: str | Sequence[str] | None, target: str | None) -> tuple[tuple[str, ...], bool]:
    """The output names and whether an item is one value (``outputs`` a string) rather than a tuple."""
    if outputs is None:
        outputs = ("audio", "label") if target is not None else "audio"
    single = isinstance(outputs, str)
    names = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    if not names:
        raise ArgumentError("outputs must name at least one of " + ", ".join(OUTPUTS))
    for name in names:
        if name not in OUTPUTS:
            raise ArgumentError(f"outputs: {name!r} is not one of {OUTPUTS}")
    if len(set(names)) != len(names):
        raise ArgumentError(f"outputs names a value twice: {names}")
    if "label" in names and target is None:
        raise ArgumentError('outputs has "label" but target is None')
    return names, single


def _integers(df: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in df.columns:
        raise ArgumentError(f"{what} has no {column!r} column (columns: {list(df.columns)})")
    values = df[column]
    if not (pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any()):
        raise ArgumentError(f"{what}: column {column!r} must hold integers without missing values")
    return values.to_numpy(dtype=np.int64)


def _ranges(df: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``recording``, ``start``, ``stop`` as int64 arrays and the common clip length."""
    recording = _integers(df, "recording", what)
    start, stop = _integers(df, "start", what), _integers(df, "stop", what)
    if len(df) == 0:
        return recording, start, stop, 0
    lengths = stop - start
    window = int(lengths[0])
    bad = np.flatnonzero((lengths != window) | (start < 0) | (lengths <= 0))
    if len(bad):
        k = int(bad[0])
        raise ArgumentError(
            f"{what}: row {df.index[k]!r} (recording {recording[k]}) is [{start[k]}, {stop[k]}); every clip "
            f"must start at 0 or later and hold {window} samples like the first (clips of one length batch)"
            if window > 0
            else f"{what}: row {df.index[0]!r} (recording {recording[0]}) is empty: [{start[0]}, {stop[0]})"
        )
    return recording, start, stop, window


def _class_columns(df: pd.DataFrame, classes: Sequence[str] | None) -> tuple[str, ...]:
    if classes is None:
        return tuple(
            str(c)
            for c in df.columns
            if c not in CLIP_COLUMNS and (df[c].dtype == np.uint8 or pd.api.types.is_bool_dtype(df[c].dtype))
        )
    names = tuple(classes)
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise ArgumentError(f"classes {missing} are not columns of the clips (columns: {list(df.columns)})")
    if len(set(names)) != len(names):
        raise ArgumentError(f"classes names a class twice: {list(names)}")
    return names


def _labels(df: pd.DataFrame, classes: tuple[str, ...]) -> np.ndarray:
    """The class columns as uint8 ``(clips, classes)``; ArgumentError naming a row with a value not 0/1."""
    if not classes:
        return np.zeros((len(df), 0), dtype=np.uint8)
    frame = df[list(classes)]
    if frame.isna().to_numpy().any():
        raise ArgumentError(f"class columns {list(classes)} hold missing values")
    values = frame.to_numpy()
    bad = np.argwhere((values != 0) & (values != 1))
    if len(bad):
        k, c = (int(x) for x in bad[0])
        raise ArgumentError(
            f"clips: row {df.index[k]!r}, class {classes[c]!r} is {values[k, c].item()!r}, not 0 or 1"
        )
    return values.astype(np.uint8)


def _index_target(df: pd.DataFrame, labels: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    counts = labels.sum(axis=1, dtype=np.int64)
    bad = np.flatnonzero(counts != 1)
    if len(bad):
        k = int(bad[0])
        raise ArgumentError(
            f'target="index" needs exactly one class per clip: row {df.index[k]!r} has {counts[k]} '
            f'of {list(classes)} (use target="multihot")'
        )
    return labels.argmax(axis=1).astype(np.int64)


def _check_channels(channels: int | Sequence[int] | None) -> list[int] | None:
    if channels is None:
        return None
    items = [channels] if isinstance(channels, (int, np.integer)) else list(channels)
    if not items or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 for c in items):
        raise ArgumentError(
            f"channels must be a channel index or a non-empty sequence of them, not {channels!r}"
        )
    return [int(c) for c in items]


def _check_spectrogram(
    spectrogram: Callable[[torch.Tensor], torch.Tensor] | None, outputs: tuple[str, ...]
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if "spectrogram" not in outputs:
        if spectrogram is not None:
            raise ArgumentError('spectrogram= is given but outputs has no "spectrogram"')
        return None
    if spectrogram is None:
        return Spectrogram()
    if not callable(spectrogram):
        raise ArgumentError(f"spectrogram must be callable, not {type(spectrogram).__name__}")
    return spectrogram


def _check_annotations(
    annotations: Any, outputs: tuple[str, ...], classes: tuple[str, ...], recordings: np.ndarray
) -> tuple[pd.DataFrame | None, list[str]]:
    """The annotation rows of the dataset's recordings and the mask classes (for ``"mask"``)."""
    if "mask" not in outputs:
        if annotations is not None:
            raise ArgumentError('annotations= is given but outputs has no "mask"')
        return None, []
    if annotations is None:
        raise ArgumentError('outputs has "mask": give annotations= (an annotation set or its df)')
    df = annotations if isinstance(annotations, pd.DataFrame) else getattr(annotations, "df", None)
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"annotations must be an annotation set or a DataFrame, not {type(annotations)}")
    missing = [c for c in ("recording", "start", "stop", "label") if c not in df.columns]
    if missing:
        raise ArgumentError(f"annotations lack the columns {missing}")
    if classes:
        mask_classes = list(classes)
    elif isinstance(getattr(annotations, "classes", None), Mapping):
        mask_classes = list(annotations.classes)
    else:
        mask_classes = sorted(str(v) for v in df["label"].dropna().unique())
    kept = df[df["recording"].isin(np.unique(recordings))].reset_index(drop=True)
    return kept, mask_classes


def _meta_names(meta: Sequence[str]) -> tuple[str, ...]:
    if isinstance(meta, str) or any(not isinstance(n, str) for n in meta):
        raise ArgumentError(f"meta must be a sequence of names, not {meta!r}")
    return tuple(meta)


def _meta_values(
    archive: Archive, clips: pd.DataFrame, names: tuple[str, ...], recordings: np.ndarray
) -> dict[str, list[Any]]:
    """Per clip, the value of each meta name that is not built in: from the clips, else the catalog."""
    values: dict[str, list[Any]] = {}
    wanted = [n for n in names if n not in BUILTIN_META]
    for name in wanted:
        if name in clips.columns:
            values[name] = [_scalar(v) for v in clips[name].tolist()]
    rest = [n for n in wanted if n not in values]
    if rest:
        catalog = archive.catalog()
        missing = [n for n in rest if n not in catalog.columns]
        if missing:
            raise ArgumentError(
                f"meta {missing} are neither built in {BUILTIN_META}, columns of the clips nor of the "
                f"catalog (columns: {list(catalog.columns)})"
            )
        rows = catalog.reindex(recordings)
        for name in rest:
            values[name] = [_scalar(v) for v in rows[name].tolist()]
    return values


def _scalar(value: Any) -> Any:
    """A value default_collate can batch: int, float or str (times ISO 8601; missing: NaN or "")."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _non_negative(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ArgumentError(f"{what} must be a non-negative integer, not {value!r}")
    return int(value)


def _db_range(value: Any, what: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ArgumentError(f"{what} must be a (low, high) pair of dB values, not {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ArgumentError(f"{what} must be finite with low <= high, not {value!r}")
    return low, high


def _gains(db_range: tuple[float, float], u: np.ndarray) -> np.ndarray:
    """Linear gains for uniforms ``u``: ``10 ** (g / 20)`` with ``g`` uniform in ``db_range``."""
    low, high = db_range
    return (10.0 ** ((low + u * (high - low)) / 20.0)).astype(np.float32)


def _row_channels(df: pd.DataFrame, what: str) -> np.ndarray | None:
    """The ``channel`` column as int64 (None when absent or all ``<NA>``: every channel)."""
    if "channel" not in df.columns or df["channel"].isna().all():
        return None
    values = df["channel"]
    if values.isna().any():
        k = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ArgumentError(
            f"{what}: row {df.index[k]!r} has channel <NA> (every channel) beside one-channel rows; the "
            "clips of a batch need one shape"
        )
    if not pd.api.types.is_integer_dtype(values.dtype) or (values < 0).any():
        raise ArgumentError(f"{what}: the channel column must hold channel indexes (integers >= 0)")
    return values.to_numpy(dtype=np.int64)


def _background(background: Any, window: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The background clips as int64 rows ``(recording, start, stop)`` and their channels (or None)."""
    if background is None:
        return None, None
    df = background if isinstance(background, pd.DataFrame) else getattr(background, "df", None)
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"background must be Clips or a DataFrame, not {type(background).__name__}")
    recording, start, stop, length = _ranges(df, "background")
    if len(df) == 0:
        raise ArgumentError("background holds no clips")
    if length != window:
        raise ArgumentError(f"background clips hold {length} samples, the clips {window}: they must match")
    return np.stack([recording, start, stop], axis=1), _row_channels(df, "background")
