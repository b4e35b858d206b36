"""The map-style dataset: a clip table, its options, and batches read in one call."""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

import wildzarr
from wildzarr.archive import Archive
from wildzarr.errors import ArgumentError, RangeError
from wildzarr.torchdata.augment import background_requests, draws, jittered, mix
from wildzarr.torchdata.meta import item_meta, meta_names, meta_values
from wildzarr.torchdata.opened import Opened, open_here
from wildzarr.torchdata.options import (
    check_annotations,
    check_channels,
    check_outputs,
    check_spectrogram,
    check_target,
    db_range,
    non_negative,
)
from wildzarr.torchdata.outputs import label_tensor, mask_tensor
from wildzarr.torchdata.table import (
    background_clips,
    class_columns,
    class_labels,
    clip_ranges,
    index_target,
    row_channels,
)

if TYPE_CHECKING:
    from wildzarr.clips import Clips

__all__ = ["ClipDataset"]


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
        self._target = check_target(target)
        self._outputs, self._single = check_outputs(outputs, target)
        self._recording, self._start, self._stop, self._window = clip_ranges(clips, "clips")
        self._classes = class_columns(clips, classes)
        self._labels = class_labels(clips, self._classes)
        self._index_target = index_target(clips, self._labels, self._classes) if target == "index" else None
        self._channels = check_channels(channels)
        self._row_channels = row_channels(clips, "clips")
        if self._row_channels is not None and self._channels is not None:
            raise ArgumentError("the clips have a channel column: channels= would contradict it")
        self._n_channels = self._channel_count()
        self._spectrogram = check_spectrogram(spectrogram, self._outputs)
        self._annotations, self._mask_classes = check_annotations(
            annotations, self._outputs, self._classes, self._recording
        )
        self._event_width = non_negative(event_width, "event_width")
        if self._event_width == 0:
            raise ArgumentError("event_width must be at least 1 sample")
        self._meta_names = meta_names(meta)
        self._meta_values = meta_values(self._archive, clips, self._meta_names, self._recording)
        self._jitter = non_negative(jitter, "jitter")
        self._gain_db = None if gain_db is None else db_range(gain_db, "gain_db")
        self._background, self._background_channels = background_clips(background, self._window)
        self._background_gain_db = db_range(background_gain_db, "background_gain_db")
        self._seed = non_negative(seed, "seed")
        if transform is not None and not callable(transform):
            raise ArgumentError(f"transform must be callable, not {type(transform).__name__}")
        self._transform = transform
        self._epoch = 0
        self._opened: Opened | None = None

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
        self._epoch = non_negative(epoch, "epoch")

    # -- pickling and opening ---------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Everything but what this process opened (the archive pickles as its location)."""
        state = self.__dict__.copy()
        state["_opened"] = None
        return state

    def _open(self) -> Opened:
        """This process's copy of the archive, opened on first use (a forked copy sees another pid)."""
        self._opened = open_here(self._archive, self._opened)
        return self._opened

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
        augmented = bool(self._jitter or self._gain_db is not None or self._background is not None)
        u = draws(self._seed, self._epoch, rows, augmented)
        if self._jitter:
            limits = np.array([opened.facts(int(r))[0] - self._window for r in recordings.tolist()])
            starts = jittered(starts, u[:, 0], self._jitter, limits)
        stops = starts + self._window
        channels = self._item_channels(rows)
        requests: list[tuple[int, int, int, list[int] | None]] = [
            (int(r), int(a), int(b), c)
            for r, a, b, c in zip(recordings.tolist(), starts.tolist(), stops.tolist(), channels, strict=True)
        ]
        if self._background is not None:
            requests += background_requests(self._background, self._background_channels, u[:, 2], channels)
        out = np.empty(
            (len(requests), self._window, self._batch_channels(opened, requests)), dtype=np.float32
        )
        if requests:
            opened.archive.read_many(requests, out=out)
        audio = torch.from_numpy(np.ascontiguousarray(out.transpose(0, 2, 1)))  # (items, channels, samples)
        background_gain_db = self._background_gain_db if self._background is not None else None
        audio = mix(audio, n, u, self._gain_db, background_gain_db)
        metas = (
            [
                item_meta(int(i), recordings[k], starts[k], stops[k], self._meta_values)
                for k, i in enumerate(rows.tolist())
            ]
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

    def _item_channels(self, rows: np.ndarray) -> list[list[int] | None]:
        """The channels each item reads: its row's channel, else ``channels`` (None: all)."""
        if self._row_channels is not None:
            return [[c] for c in self._row_channels[rows].tolist()]
        return [self._channels] * len(rows)

    def _batch_channels(self, opened: Opened, requests: Sequence[tuple[Any, ...]]) -> int:
        if self._channels is not None or self._row_channels is not None or not requests:
            return self._n_channels
        return opened.facts(requests[0][0])[1]

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
            return label_tensor(self._labels, self._index_target, rows)
        if name == "mask":
            assert self._annotations is not None  # checked in __init__
            return mask_tensor(
                self._annotations,
                self._mask_classes,
                self._event_width,
                recordings,
                starts,
                stops,
                self._mask_channel(rows),
            )
        return [{key: meta[key] for key in self._meta_names} for meta in metas]

    def _mask_channel(self, rows: np.ndarray) -> np.ndarray | int | None:
        """The one channel each item reads, whose annotations count for its mask (None: every channel)."""
        if self._row_channels is not None:
            return self._row_channels[rows]
        if self._channels is not None and len(self._channels) == 1:
            return self._channels[0]
        return None
