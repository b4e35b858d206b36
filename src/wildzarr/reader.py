"""The slice reader: plan, fetch, check, decode, trim, for every codec and every read.

Every read, one range or a batch of windows (:mod:`wildzarr.batch`), runs the
same steps. :meth:`wildzarr.index.FrameIndex.plan_many` plans the spans of
frames that cover the ranges (pre-roll, encoder delay and span bounds are the
index's work). :func:`plan_tasks` sorts them by byte offset, merges the byte
ranges of neighbouring spans into fetches (:func:`wildzarr.index.group_ranges`)
and packs the fetches into :class:`Task` objects, one thread's work each.
:func:`run_tasks` runs them on a thread pool: each task fetches its byte
ranges in one backend call, checks each frame's CRC-32 when the index stores
one, and has this thread's decoder write the kept samples straight into their
place in the result. The GIL is released during the fetch (``pread``, network
I/O) and the decoding (FFmpeg, libFLAC, Blosc).

Nothing shared is mutated during a read: decoders live in thread-local
storage, the index and blob are read-only, and the tasks of a read write
disjoint rows of the result.
"""

from __future__ import annotations

import itertools
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from wildzarr.audio import AudioFormat
from wildzarr.blob import Blob
from wildzarr.codecs.base import Codec, FrameDecoder
from wildzarr.errors import StreamError
from wildzarr.index import TASK_FRAMES, FrameIndex, SpanTable, group_ranges
from wildzarr.settings import get_options, thread_pool

__all__ = [
    "FETCH_BYTES",
    "MIN_FETCH_BYTES",
    "REMOTE_FETCH_BYTES",
    "REMOTE_GAP",
    "StreamReader",
    "Task",
    "TaskRunner",
    "plan_tasks",
    "run_tasks",
]

#: Most bytes of one fetch from a local folder (neighbouring spans merge up to this size), and
#: of the fetches of one task together: a read holds at most ``threads`` times this in fetched bytes.
FETCH_BYTES = 2 * 1024 * 1024

#: Most bytes of one request to a latency-bound store: the fetches in flight hold at most
#: ``fetch_concurrency`` times this.
REMOTE_FETCH_BYTES = 2 * 1024 * 1024

#: Fetches are not split below this size to make more tasks.
MIN_FETCH_BYTES = 256 * 1024

#: On a latency-bound store, spans at most this many bytes apart are fetched in one request
#: (reading 64 KiB more costs far less than a second round trip).
REMOTE_GAP = 64 * 1024

#: Tasks per thread a read is split into at least, so that uneven tasks still keep every thread busy.
TASKS_PER_THREAD = 4


class StreamReader:
    """Decodes spans of one codec stream into caller-owned arrays.

    Parameters
    ----------
    blob : Blob
        The stream's bytes.
    index : FrameIndex
        The stream's frame index, with its delay, padding, pre-roll and checksums.
    codec : Codec
        The codec that wrote the stream.
    stored : AudioFormat
        What the stream decodes to (channels, dtype).
    decoder_config : dict
        What the codec's decoder needs (stored with the stream).
    name : str
        The recording and stream, for error messages.
    """

    def __init__(
        self,
        blob: Blob,
        index: FrameIndex,
        codec: Codec,
        stored: AudioFormat,
        decoder_config: dict[str, Any],
        name: str,
    ) -> None:
        self.blob = blob
        self.index = index
        self.codec = codec
        self.stored = stored
        self.decoder_config = decoder_config
        self.name = name
        self.frame_samples = np.diff(index.first_samples)
        self._local = threading.local()

    @property
    def channels(self) -> int:
        """Channels in the stream."""
        return self.stored.channels

    def _decoder(self) -> FrameDecoder:
        decoder: FrameDecoder | None = getattr(self._local, "decoder", None)
        if decoder is None:
            decoder = self.codec.decoder(self.stored, self.decoder_config)
            self._local.decoder = decoder
        return decoder

    def read(self, start: int, stop: int, *, threads: int = 1) -> np.ndarray:
        """Decode source samples ``[start, stop)``, ``0 <= start < stop <= samples`` (checked by the caller).

        Returns an array of shape ``(stop - start, channels)`` in the stored
        dtype; raises StreamError as :meth:`decode_spans`.
        """
        out = np.empty((stop - start, self.channels), dtype=self.stored.numpy_dtype)
        starts, stops = np.array([start], dtype=np.int64), np.array([stop], dtype=np.int64)
        run_tasks(plan_tasks(self, starts, stops, out, np.zeros(1, dtype=np.int64), threads=threads), threads)
        return out

    def decode_spans(
        self, data: bytes, data_start: np.ndarray, spans: SpanTable, target: np.ndarray, rows: np.ndarray
    ) -> None:
        """Decode spans whose bytes are in ``data``; write their kept samples into ``target``.

        Parameters
        ----------
        data : bytes
            Fetched stream bytes.
        data_start : numpy.ndarray
            int64 of shape ``(n_spans,)``: where each span's first byte
            (``spans.byte_start``) is in ``data``.
        spans : SpanTable
            The spans (from :meth:`FrameIndex.plan_many` of this stream).
        target : numpy.ndarray
            Shape ``(rows, channels)``, the stored dtype; rows may be strided
            (a column block of a wider array).
        rows : numpy.ndarray
            int64 of shape ``(n_spans,)``: span ``k``'s kept samples go to
            ``target[rows[k] : rows[k] + spans.count[k]]``.

        Raises
        ------
        StreamError
            If a frame's CRC-32 does not match the index, or the bytes do not
            decode to the samples the index promises; the message names the
            recording, the stream, the frame and its samples.
        """
        decoder = self._decoder()
        native = decoder.span_decoder
        if native is not None:
            table = np.stack(
                [
                    data_start,
                    data_start + (spans.byte_stop - spans.byte_start),
                    spans.lead,
                    spans.stop - spans.lead,
                    spans.skip,
                    spans.count,
                    rows,
                ],
                axis=1,
            )
            try:
                native.decode_spans(
                    data, table, self.frame_samples, target, first_samples=self.index.first_samples
                )
            except StreamError as exc:
                raise self._frame_error(exc, exc.frame, int(spans.byte_start[0])) from exc
            return
        view = memoryview(data)
        offsets = self.index.offsets
        for lead, stop, byte_start, skip, count, row, start in zip(
            spans.lead.tolist(),
            spans.stop.tolist(),
            spans.byte_start.tolist(),
            spans.skip.tolist(),
            spans.count.tolist(),
            rows.tolist(),
            data_start.tolist(),
            strict=True,
        ):
            shift = start - byte_start
            bounds = (offsets[lead : stop + 1] + shift).tolist()
            frames = [view[a:b] for a, b in itertools.pairwise(bounds)]
            if self.index.checksums is not None:
                self._check_frames(lead, frames)
            try:
                decoded = decoder.decode(frames)
            except StreamError as exc:
                frame = lead + exc.frame if exc.frame >= 0 else -1
                raise self._frame_error(exc, frame, byte_start, span=(lead, stop)) from exc
            expected = int(self.index.first_samples[stop] - self.index.first_samples[lead])
            if len(decoded) != expected:
                raise StreamError(
                    f"{self.name} {self._frames_label(lead, stop)}: decoded to {len(decoded)} samples, "
                    f"the frame index says {expected}",
                    offset=byte_start,
                )
            target[row : row + count] = decoded[skip : skip + count]

    def _frame_error(
        self, exc: StreamError, frame: int, fallback_offset: int, span: tuple[int, int] | None = None
    ) -> StreamError:
        """``exc`` restated with the recording, stream, frame and its samples in front."""
        if frame >= 0:
            label, offset = self._frames_label(frame, frame + 1), int(self.index.offsets[frame])
        else:
            label = self._frames_label(*span) if span else "frames"
            offset = fallback_offset
        return StreamError(f"{self.name} {label}: {exc}", code=exc.code, offset=offset, frame=frame)

    def _check_frames(self, lead: int, frames: list[memoryview]) -> None:
        """Raise StreamError naming the first frame from ``lead`` on whose CRC-32 differs from the index's."""
        assert self.index.checksums is not None
        expected = self.index.checksums[lead : lead + len(frames)].tolist()
        for position, (frame, crc) in enumerate(zip(frames, expected, strict=True)):
            if zlib.crc32(frame) != crc:
                number = lead + position
                raise StreamError(
                    f"{self.name} {self._frames_label(number, number + 1)}: its bytes do not match the "
                    "CRC-32 stored in the frame index (corrupt data)",
                    offset=int(self.index.offsets[number]),
                    frame=number,
                )

    def _frames_label(self, lead: int, stop: int) -> str:
        """``"frame 17 (samples 69632-73727)"`` or ``"frames 3-5 (...)"``, in source samples."""
        first_samples, delay = self.index.first_samples, self.index.delay
        a, b = int(first_samples[lead]) - delay, int(first_samples[stop]) - delay - 1
        what = f"frame {lead}" if stop == lead + 1 else f"frames {lead}-{stop - 1}"
        return f"{what} (samples {max(a, 0)}-{b})"


@dataclass(eq=False)
class Task:
    """One thread's share of a read: spans of one stream, their byte ranges and where their samples go.

    Attributes
    ----------
    reader : StreamReader
        The stream.
    ranges : list of (int, int)
        Byte ranges of the stream to fetch, in one backend call.
    spans : SpanTable
        The spans decoded, each inside one range.
    range_of_span : numpy.ndarray
        int64 of shape ``(n_spans,)``: the range holding each span.
    target : numpy.ndarray
        Where the samples go, shape ``(rows, stream channels)``.
    rows : numpy.ndarray
        int64 of shape ``(n_spans,)``: the first row of ``target`` each span writes.
    guard : callable or None
        Returns a context manager the task runs in, which restates its errors
        (the recording's: a removed recording is RecordingNotFoundError).
    """

    reader: StreamReader
    ranges: list[tuple[int, int]]
    spans: SpanTable
    range_of_span: np.ndarray
    target: np.ndarray
    rows: np.ndarray
    guard: Callable[[], AbstractContextManager[None]] | None = None

    def run(self) -> None:
        """Fetch the ranges and decode the spans into ``target`` (StreamError, StorageError)."""
        if self.guard is None:
            self._run()
        else:
            with self.guard():
                self._run()

    def _run(self) -> None:
        parts = self.reader.blob.read_ranges(self.ranges)
        placed = np.cumsum([0, *(len(part) for part in parts[:-1])], dtype=np.int64)  # each range in data
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        del parts  # the joined copy is all a task holds while it decodes
        range_starts = np.array([start for start, _ in self.ranges], dtype=np.int64)
        which = self.range_of_span
        data_start = placed[which] + (self.spans.byte_start - range_starts[which])
        self.reader.decode_spans(data, data_start, self.spans, self.target, self.rows)


def plan_tasks(
    reader: StreamReader,
    starts: np.ndarray,
    stops: np.ndarray,
    target: np.ndarray,
    rows: np.ndarray,
    *,
    threads: int,
) -> list[Task]:
    """Plan reads of ``[starts[i], stops[i])`` of one stream into ``target`` as tasks.

    Parameters
    ----------
    reader : StreamReader
        The stream.
    starts, stops : numpy.ndarray
        int64 of shape ``(n,)``: source sample ranges, ``0 <= start < stop <= samples``.
    target : numpy.ndarray
        Shape ``(rows, stream channels)``, the stream's stored dtype.
    rows : numpy.ndarray
        int64 of shape ``(n,)``: the row of ``target`` where range ``i``'s first sample goes.
    threads : int
        Threads that will run the tasks: on a local folder a read is split into
        at least ``threads * TASKS_PER_THREAD`` tasks when it has that many
        spans; on a latency-bound store each fetch is a task of its own.

    Returns
    -------
    list of Task
        In stream byte order.
    """
    spans = reader.index.plan_many(starts, stops, TASK_FRAMES)
    span_rows = rows[spans.request] + spans.out
    if len(spans) == 1:  # a short read: no sorting or grouping to do
        only = [(int(spans.byte_start[0]), int(spans.byte_stop[0]))]
        return [Task(reader, only, spans, np.zeros(1, dtype=np.int64), target, span_rows)]
    order = np.argsort(spans.byte_start, kind="stable")
    spans, span_rows = spans.take(order), span_rows[order]
    latency_bound = reader.blob.backend.latency_bound
    # Fetches of neighbouring spans, small enough that a long read makes threads * 4 of them at least.
    share = int((spans.byte_stop - spans.byte_start).sum()) // (threads * TASKS_PER_THREAD)
    groups = group_ranges(
        spans.byte_start,
        spans.byte_stop,
        gap=REMOTE_GAP if latency_bound else 0,
        max_bytes=min(max(share, MIN_FETCH_BYTES), REMOTE_FETCH_BYTES if latency_bound else FETCH_BYTES),
    )
    n_groups = int(groups[-1]) + 1
    if n_groups == 1:
        return [Task(reader, _ranges(spans, groups), spans, groups, target, span_rows)]
    # A task is one fetch on a latency-bound store; on a local folder, about n / (threads * 4)
    # fetches (of short windows), never more than FETCH_BYTES together (the bytes a task holds).
    per_task = 1 if latency_bound else max(1, -(-n_groups // (threads * TASKS_PER_THREAD)))
    task_of_group = _pack(_ranges(spans, groups), per_task, FETCH_BYTES)
    cuts = np.flatnonzero(np.diff(task_of_group[groups])) + 1
    tasks = []
    for a, b in itertools.pairwise([0, *cuts.tolist(), len(spans)]):
        first_group = int(groups[a])
        tasks.append(
            Task(
                reader,
                _ranges(spans.take(slice(a, b)), groups[a:b] - first_group),
                spans.take(slice(a, b)),
                groups[a:b] - first_group,
                target,
                span_rows[a:b],
            )
        )
    return tasks


def _pack(ranges: list[tuple[int, int]], most: int, budget: int) -> np.ndarray:
    """Task number of each range: consecutive ranges, at most ``most`` and ``budget`` bytes per task.

    A range larger than ``budget`` is a task of its own.
    """
    tasks = np.empty(len(ranges), dtype=np.int64)
    task, count, size = 0, 0, 0
    for k, (start, stop) in enumerate(ranges):
        if count and (count == most or size + stop - start > budget):
            task, count, size = task + 1, 0, 0
        tasks[k] = task
        count, size = count + 1, size + stop - start
    return tasks


def _ranges(spans: SpanTable, groups: np.ndarray) -> list[tuple[int, int]]:
    """The byte range of each group (numbered from 0): from its first span's start to its furthest stop."""
    firsts = np.searchsorted(groups, np.arange(int(groups[-1]) + 1))
    starts = spans.byte_start[firsts]
    ends = np.maximum.reduceat(spans.byte_stop, firsts)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def run_tasks(tasks: list[Task], threads: int) -> None:
    """Run ``tasks``: inline when there is one task or one thread, else on the shared thread pool.

    The first failure (in task order) is raised once the running tasks have
    stopped; tasks not yet started are cancelled. See :class:`TaskRunner`.
    """
    if len(tasks) == 1:
        tasks[0].run()
        return
    runner = TaskRunner(threads)
    runner.submit(tasks)
    runner.wait()


class TaskRunner:
    """Runs tasks as they are planned, so that decoding starts while later reads are still planned.

    With one thread, :meth:`submit` runs the tasks at once in the calling
    thread. Otherwise they go to the shared pool of ``threads`` threads, or of
    ``max(threads, fetch_concurrency)`` on a latency-bound store
    (:mod:`wildzarr.settings`): requests wait on the network, not on a core.
    """

    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._futures: list[Future[None]] = []

    def submit(self, tasks: list[Task]) -> None:
        """Start ``tasks``; with one thread, run them (their errors raise here, else from :meth:`wait`)."""
        if not tasks:
            return
        size = self._threads
        if tasks[0].reader.blob.backend.latency_bound:
            size = max(size, get_options().fetch_concurrency)
        if size == 1:
            for task in tasks:
                task.run()
            return
        pool = thread_pool(size)
        self._futures += [pool.submit(task.run) for task in tasks]

    def wait(self) -> None:
        """Wait for every task; raise the first failure (in submission order) after cancelling the rest."""
        futures, self._futures = self._futures, []
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        wait(pending)
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
