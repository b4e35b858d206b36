"""The frame index of a stream and range planning over it: the one frame-index type.

A scanner (:mod:`wildzarr.scan`) builds a :class:`FrameIndex` from a stream's
bytes; the importer adds the stream's encoder delay, padding, pre-roll and
(for codecs whose frames carry no checksum) per-frame CRC-32s; the stored
table is :meth:`FrameIndex.to_table`; the reader plans every read with
:meth:`FrameIndex.plan`. Planning is a pure function of the index: no I/O, no
codec knowledge.

Samples are counted two ways. **Decoded samples** are what the frames decode
to, from the first frame on (``first_samples``). **Source samples** are what a
reader asks for: decoded sample ``delay + n`` is source sample ``n``, and the
last ``padding`` decoded samples follow the source's last sample.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from wildzarr.errors import StreamError

__all__ = ["TASK_FRAMES", "FrameIndex", "FrameSpan", "SpanTable", "group_ranges"]

#: Most frames decoded by one task; longer reads are split into tasks that run on a thread pool.
TASK_FRAMES = 32


@dataclass(frozen=True)
class FrameSpan:
    """One decode task of a read: consecutive frames fetched and decoded together.

    Attributes
    ----------
    lead : int
        First frame decoded (pre-roll included).
    stop : int
        One past the last frame decoded.
    byte_start, byte_stop : int
        Byte range ``[byte_start, byte_stop)`` of the stream holding frames ``[lead, stop)``.
    skip : int
        Decoded samples of the span to drop before those kept (pre-roll, and
        the part of the first frame before the requested start).
    count : int
        Samples of the span kept.
    out : int
        Where the kept samples go in the result (row offset).
    """

    lead: int
    stop: int
    byte_start: int
    byte_stop: int
    skip: int
    count: int
    out: int


@dataclass(frozen=True, eq=False)
class SpanTable:
    """The spans of many reads, as columns: what :meth:`FrameIndex.plan_many` returns.

    Every attribute is an int64 array of shape ``(n_spans,)``; row ``k`` is one
    span with the fields of :class:`FrameSpan`, and ``request[k]`` is the
    position of the range it belongs to in the planned batch. ``out`` counts
    rows from the start of that range's result.
    """

    request: np.ndarray
    lead: np.ndarray
    stop: np.ndarray
    byte_start: np.ndarray
    byte_stop: np.ndarray
    skip: np.ndarray
    count: np.ndarray
    out: np.ndarray

    def __len__(self) -> int:
        return len(self.lead)

    def take(self, rows: np.ndarray | slice) -> SpanTable:
        """The spans at ``rows`` (an index array or slice), in that order."""
        return SpanTable(**{name: getattr(self, name)[rows] for name in _SPAN_COLUMNS})


_SPAN_COLUMNS = ("request", "lead", "stop", "byte_start", "byte_stop", "skip", "count", "out")


@dataclass(frozen=True, eq=False)
class FrameIndex:
    """Byte offset and first decoded sample of every frame of one stream.

    Attributes
    ----------
    offsets : numpy.ndarray
        int64, shape ``(n_frames + 1,)``: byte offset of each frame; the last
        entry is the byte offset one past the last frame.
    first_samples : numpy.ndarray
        int64, shape ``(n_frames + 1,)``: first decoded sample of each frame;
        the last entry is the number of decoded samples (per channel).
    delay : int
        Encoder delay (priming): decoded samples before source sample 0.
    padding : int
        Decoded samples after the source's last sample.
    preroll : int
        Frames before the first frame covering a range that must be decoded
        and discarded.
    checksums : numpy.ndarray or None
        uint32-valued int64, shape ``(n_frames,)``: CRC-32 (ISO-HDLC, as
        :func:`zlib.crc32` computes it) of each frame's bytes, for codecs whose
        frames carry no checksum; None otherwise.
    """

    offsets: np.ndarray
    first_samples: np.ndarray
    delay: int = 0
    padding: int = 0
    preroll: int = 0
    checksums: np.ndarray | None = None

    @classmethod
    def from_table(
        cls, table: np.ndarray, *, end: int, decoded: int, delay: int = 0, padding: int = 0, preroll: int = 0
    ) -> FrameIndex:
        """Build from the stored table (:meth:`to_table`): shape ``(n_frames, 2)`` or ``(n_frames, 3)``.

        Columns: byte offset, first decoded sample, and (3 columns) the frame's
        CRC-32. ``end`` is the stream length in bytes, ``decoded`` the number of
        decoded samples.
        """
        table = np.asarray(table, dtype=np.int64)
        offsets = np.append(table[:, 0], np.int64(end))
        first_samples = np.append(table[:, 1], np.int64(decoded))
        checksums = table[:, 2].copy() if table.shape[1] == 3 else None
        return cls(offsets, first_samples, delay=delay, padding=padding, preroll=preroll, checksums=checksums)

    def to_table(self) -> np.ndarray:
        """The table to store: int64 of shape ``(n_frames, 2)``, or ``(n_frames, 3)`` with checksums."""
        columns = [self.offsets[:-1], self.first_samples[:-1]]
        if self.checksums is not None:
            columns.append(self.checksums)
        return np.stack(columns, axis=1).astype(np.int64)

    def with_trim(self, *, delay: int, padding: int, preroll: int) -> FrameIndex:
        """A copy with the stream's delay, padding and pre-roll set."""
        return replace(self, delay=delay, padding=padding, preroll=preroll)

    def with_checksums(self, checksums: np.ndarray) -> FrameIndex:
        """A copy carrying per-frame CRC-32s (int64 of shape ``(n_frames,)``)."""
        return replace(self, checksums=np.asarray(checksums, dtype=np.int64))

    def check(self) -> None:
        """Raise StreamError unless the index is well formed.

        Frames must start at byte offsets that strictly increase from 0 or more
        and hold decoded samples that strictly increase from 0; delay and
        padding must leave at least one source sample; pre-roll and checksums
        must be sensible. A damaged index must never silently cut or shift a read.
        """
        offsets, first_samples = self.offsets, self.first_samples
        if self.n_frames < 1:
            raise StreamError("the frame index holds no frames")
        if offsets[0] < 0 or np.any(np.diff(offsets) <= 0):
            raise StreamError("the frame index's byte offsets do not increase strictly inside the stream")
        if first_samples[0] != 0 or np.any(np.diff(first_samples) <= 0):
            raise StreamError(
                "the frame index's first samples do not increase strictly from 0 to the sample count"
            )
        if self.delay < 0 or self.padding < 0 or self.delay + self.padding >= self.decoded:
            raise StreamError(
                f"delay {self.delay} and padding {self.padding} leave no samples of {self.decoded} decoded"
            )
        if not 0 <= self.preroll <= self.n_frames:
            raise StreamError(f"pre-roll of {self.preroll} frames is impossible")
        if self.checksums is not None and (
            self.checksums.shape != (self.n_frames,)
            or np.any(self.checksums < 0)
            or np.any(self.checksums > 0xFFFFFFFF)
        ):
            raise StreamError("the frame index's checksums are not one CRC-32 per frame")

    @property
    def n_frames(self) -> int:
        """Number of frames in the stream."""
        return len(self.offsets) - 1

    @property
    def decoded(self) -> int:
        """Decoded samples per channel (delay and padding included)."""
        return int(self.first_samples[-1])

    @property
    def samples(self) -> int:
        """Source samples per channel: decoded samples without delay and padding."""
        return self.decoded - self.delay - self.padding

    @property
    def end(self) -> int:
        """Stream length in bytes (one past the last frame)."""
        return int(self.offsets[-1])

    def frame_of(self, decoded_sample: int) -> int:
        """The frame holding decoded sample ``decoded_sample``."""
        return int(np.searchsorted(self.first_samples, decoded_sample, side="right")) - 1

    def plan(self, start: int, stop: int, task_frames: int = TASK_FRAMES) -> list[FrameSpan]:
        """Plan the read of source samples ``[start, stop)``: :meth:`plan_many` of one range, as FrameSpans.

        Parameters
        ----------
        start, stop : int
            Source sample range, ``0 <= start < stop <= samples`` (checked by the caller).
        task_frames : int
            Most frames per span (pre-roll not counted).

        Returns
        -------
        list of FrameSpan
            In order; the kept counts add up to ``stop - start``.
        """
        table = self.plan_many(np.array([start]), np.array([stop]), task_frames)
        return [
            FrameSpan(*row)
            for row in zip(
                table.lead.tolist(),
                table.stop.tolist(),
                table.byte_start.tolist(),
                table.byte_stop.tolist(),
                table.skip.tolist(),
                table.count.tolist(),
                table.out.tolist(),
                strict=True,
            )
        ]

    def plan_many(self, starts: np.ndarray, stops: np.ndarray, task_frames: int = TASK_FRAMES) -> SpanTable:
        """Plan the reads of source samples ``[starts[i], stops[i])`` for every ``i``: the one planner.

        Every read (one range or a batch of windows) is planned here. For each
        range it finds the frames holding it (two binary searches over
        ``first_samples``, vectorized over all ranges), adds the pre-roll
        frames before them, trims the encoder delay (source sample ``n`` is
        decoded sample ``delay + n``) and splits ranges of more than
        ``task_frames`` frames into spans that can be decoded in parallel,
        each with its own pre-roll.

        Parameters
        ----------
        starts, stops : numpy.ndarray
            Integer arrays of one shape ``(n,)``: source sample ranges with
            ``0 <= start < stop <= samples`` (checked by the caller).
        task_frames : int
            Most frames per span (pre-roll not counted).

        Returns
        -------
        SpanTable
            One row per span, ranges in the given order and each range's spans
            in stream order; ``out`` counts from the start of each range, and
            the kept counts of range ``i`` add up to ``stops[i] - starts[i]``.
        """
        first_samples, offsets = self.first_samples, self.offsets
        begin = np.asarray(starts, dtype=np.int64) + self.delay
        end = np.asarray(stops, dtype=np.int64) + self.delay
        first = np.searchsorted(first_samples, begin, side="right") - 1
        last = np.searchsorted(first_samples, end, side="left")  # one past the last frame needed
        n_spans = (last - first + task_frames - 1) // task_frames
        if len(n_spans) == int(n_spans.sum()):  # one span per range (windows): no repetition needed
            request = np.arange(len(begin))
            a, b = first, last
        else:
            request = np.repeat(np.arange(len(begin)), n_spans)
            position = np.arange(len(request)) - np.repeat(np.cumsum(n_spans) - n_spans, n_spans)
            a = first[request] + position * task_frames
            b = np.minimum(a + task_frames, last[request])
            begin, end = begin[request], end[request]
        lead = np.maximum(a - self.preroll, 0)
        keep_from = np.maximum(begin, first_samples[a])
        keep_to = np.minimum(end, first_samples[b])
        return SpanTable(
            request=request,
            lead=lead,
            stop=b,
            byte_start=offsets[lead],
            byte_stop=offsets[b],
            skip=keep_from - first_samples[lead],
            count=keep_to - keep_from,
            out=keep_from - begin,
        )


def group_ranges(byte_start: np.ndarray, byte_stop: np.ndarray, *, gap: int, max_bytes: int) -> np.ndarray:
    """Group byte ranges, sorted by ``byte_start``, into ranges to fetch with one request each.

    A range joins the group before it when it starts at most ``gap`` bytes
    after the group's end (overlapping and adjacent ranges always do, unless
    ``gap`` is negative) and the group then spans at most ``max_bytes`` (a
    range longer than that forms a group of its own).

    Parameters
    ----------
    byte_start, byte_stop : numpy.ndarray
        int64 arrays of shape ``(n,)``, ``byte_start`` non-decreasing.
    gap : int
        Most bytes between two ranges fetched together (bytes fetched for nothing).
    max_bytes : int
        Most bytes of one group.

    Returns
    -------
    numpy.ndarray
        int64 of shape ``(n,)``: the group number of each range, non-decreasing
        from 0. Group ``g`` is fetched as ``[byte_start[first of g], max of
        byte_stop over g)``.
    """
    n = len(byte_start)
    groups = np.zeros(n, dtype=np.int64)
    if n == 0:
        return groups
    starts, stops = byte_start.tolist(), byte_stop.tolist()
    group, group_start, group_stop = 0, starts[0], stops[0]
    for k in range(1, n):
        a, b = starts[k], stops[k]
        if a - group_stop > gap or max(b, group_stop) - group_start > max_bytes:
            group, group_start, group_stop = group + 1, a, b
        else:
            group_stop = max(group_stop, b)
        groups[k] = group
    return groups
