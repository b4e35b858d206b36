"""Many windows in one call: the engine of :meth:`wildzarr.Archive.read_many`.

A batch is checked whole before anything is decoded (:func:`parse_requests`):
every request's recording must exist and its range, channels and dtype must be
valid, else the error names the request's position and recording. Then every
recording's requests are planned together (:meth:`Recording.plan_reads`, one
planner: :meth:`wildzarr.index.FrameIndex.plan_many`), the byte ranges of
neighbouring frames merged, and all tasks of the batch run on one thread pool
(:func:`wildzarr.reader.run_tasks`). With ``out=``, windows decode straight
into the caller's array when its dtype is the stored one.

Spreading a batch over processes or a cluster (an executor or a dask
``Client`` as ``workers``) sends parts of it, sorted by recording so that each
part touches few recordings, to :func:`read_part` in the workers, with those
recordings pickled (location, id and document: about 1.5 KB each); a worker
process keeps what it opened for later parts, and sends each part back as one
array.
"""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from wildzarr.audio import AudioFormat
from wildzarr.errors import ArgumentError, RangeError, WildzarrError
from wildzarr.reader import TaskRunner
from wildzarr.settings import decode_threads

if TYPE_CHECKING:
    from wildzarr.recording import ReadPlan, Recording

__all__ = [
    "PART_REQUESTS",
    "RecordingCache",
    "Request",
    "check_out",
    "kept_open",
    "parse_requests",
    "read_batch",
    "read_part",
    "resolve_threads",
    "spread",
]

#: Requests per part when a batch is spread over worker processes or a cluster.
PART_REQUESTS = 256


@dataclass(frozen=True)
class Request:
    """One checked request of a batch.

    Attributes
    ----------
    position : int
        Its position in the batch (0-based).
    recording : Recording
    start, stop : int
        Sample range, ``0 <= start <= stop <= samples``.
    channels : tuple of int
        Channels to return, in order.
    wanted : AudioFormat
        What the result holds (its dtype).
    """

    position: int
    recording: Recording
    start: int
    stop: int
    channels: tuple[int, ...]
    wanted: AudioFormat


def _as_int(value: object, what: str, where: str) -> int:
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ArgumentError(f"{where}: {what} must be an integer sample index, not {value!r}") from None


def parse_requests(
    requests: Iterable[Sequence[Any]],
    recording: Callable[[int], Recording],
    dtype: npt.DTypeLike | None,
    *,
    open_streams: bool = True,
) -> list[Request]:
    """Check every request of a batch and open its recording.

    Parameters
    ----------
    requests : iterable
        ``(id, start, stop)`` or ``(id, start, stop, channels)`` each;
        ``channels`` an int, a sequence of ints or None (all).
    recording : callable
        Returns the recording of an id (may raise RecordingNotFoundError or
        DamagedRecordingError).
    dtype : numpy dtype or None
        The dtype of the results (see :meth:`Recording.read`).
    open_streams : bool
        Also read and check each recording's streams and frame indexes (the
        reads that follow need them); False when other processes will read.

    Raises
    ------
    ArgumentError
        If a request is not a tuple of 3 or 4, an index is not an integer, or
        the dtype does not suit a recording; the message names the request's
        position and recording.
    RangeError
        If a range or channel falls outside its recording.
    RecordingNotFoundError, DamagedRecordingError
        If a request's recording is missing or damaged (the message names the
        request).
    """
    parsed = []
    opened: dict[Any, tuple[Recording, tuple[int, ...], AudioFormat]] = {}  # per id: the checks done once
    for position, request in enumerate(requests):
        if (
            type(request) not in (tuple, list)
            and (isinstance(request, (str, bytes)) or not isinstance(request, Sequence))
        ) or len(request) not in (3, 4):
            raise ArgumentError(
                f"request {position}: expected (id, start, stop) or (id, start, stop, channels), "
                f"not {request!r}"
            )
        rid, start, stop = request[0], request[1], request[2]
        try:
            rec, every, wanted = opened[rid]
        except (KeyError, TypeError):
            rec, every, wanted = _open(position, rid, recording, dtype, open_streams)
            if isinstance(rid, int):
                opened[rid] = rec, every, wanted
        if type(start) is not int or type(stop) is not int:
            where = f"request {position} (recording {rid!r})"
            start, stop = _as_int(start, "start", where), _as_int(stop, "stop", where)
        if not 0 <= start <= stop <= rec.samples:
            raise RangeError(
                f"request {position} (recording {rid!r}): cannot read [{start}, {stop}); "
                f"it holds samples [0, {rec.samples})"
            )
        channels = every
        if len(request) == 4 and request[3] is not None:
            try:
                channels = tuple(rec.channel_list(request[3]))
            except WildzarrError as exc:
                exc.args = (f"request {position}: {exc}", *exc.args[1:])
                raise
        parsed.append(Request(position, rec, start, stop, channels, wanted))
    return parsed


def _open(
    position: int,
    rid: Any,
    recording: Callable[[int], Recording],
    dtype: npt.DTypeLike | None,
    open_streams: bool,
) -> tuple[Recording, tuple[int, ...], AudioFormat]:
    """The recording of request ``position``, its channels and the format reads of ``dtype`` return."""
    try:
        rec = recording(rid)
    except WildzarrError as exc:
        exc.args = (f"request {position} (recording {rid!r}): {exc}", *exc.args[1:])
        raise
    try:
        wanted = rec.read_format(dtype)
        if open_streams:
            rec.open_streams()  # damaged streams or index: an error now, before anything is decoded
    except WildzarrError as exc:
        exc.args = (f"request {position}: {exc}", *exc.args[1:])
        raise
    return rec, tuple(range(rec.channels)), wanted


def check_out(out: np.ndarray, parsed: list[Request]) -> None:
    """ArgumentError unless ``out`` has shape ``(n_requests, window, channels)`` fitting every request."""
    if not isinstance(out, np.ndarray) or out.ndim != 3:
        raise ArgumentError("out must be a numpy array of shape (n_windows, window, channels)")
    if not out.flags.writeable:
        raise ArgumentError("out is read-only")
    if out.shape[0] != len(parsed):
        raise ArgumentError(f"out holds {out.shape[0]} windows, the batch has {len(parsed)} requests")
    for request in parsed:
        shape = (request.stop - request.start, len(request.channels))
        if shape != out.shape[1:]:
            raise ArgumentError(
                f"request {request.position} (recording {request.recording.id}) returns shape {shape}, "
                f"out holds windows of shape {out.shape[1:]}"
            )
        if request.wanted.numpy_dtype != out.dtype:
            raise ArgumentError(
                f"request {request.position} (recording {request.recording.id}) returns "
                f"{request.wanted.numpy_dtype}, out is {out.dtype}"
            )


def read_batch(parsed: list[Request], *, threads: int, out: np.ndarray | None = None) -> list[np.ndarray]:
    """Read checked requests on ``threads`` threads; results in request order.

    Empty ranges return empty arrays. With ``out`` (checked by the caller),
    result ``i`` is ``out[i]``, filled in place.
    """
    by_recording: dict[int, list[Request]] = {}
    for request in parsed:
        if request.stop > request.start:
            by_recording.setdefault(request.recording.id, []).append(request)
    direct = out is not None and out.flags.c_contiguous
    flat = out.reshape(-1, out.shape[2]) if out is not None and direct else None
    results: list[np.ndarray] = [
        out[r.position] if out is not None else np.zeros((0, len(r.channels)), dtype=r.wanted.numpy_dtype)
        for r in parsed
    ]
    runner = TaskRunner(threads)  # decoding starts while later recordings are planned
    later: list[tuple[ReadPlan, list[Request]]] = []  # results to cut once decoded (converted, picked)
    for group in by_recording.values():
        rec = group[0].recording
        starts = np.array([r.start for r in group], dtype=np.int64)
        stops = np.array([r.stop for r in group], dtype=np.int64)
        every = tuple(range(rec.channels))
        stored = rec.read_format(None)
        plain = all(r.channels == every and r.wanted is stored for r in group)  # results are slices
        if flat is not None and plain:
            window = flat.shape[0] // len(parsed)
            rows = np.array([r.position * window for r in group], dtype=np.int64)
            runner.submit(rec.plan_reads(starts, stops, every, threads=threads, target=flat, rows=rows).tasks)
            continue  # decoded in place: out[i] is the result
        channels = sorted({c for r in group for c in r.channels})
        plan = rec.plan_reads(starts, stops, channels, threads=threads)
        runner.submit(plan.tasks)
        if out is None and plain:
            for i, r in enumerate(group):  # views of the array being decoded
                results[r.position] = plan.result(i, r.stop - r.start, r.channels, r.wanted)
        else:
            later.append((plan, group))
    runner.wait()
    for plan, group in later:
        for i, r in enumerate(group):
            samples = plan.result(i, r.stop - r.start, r.channels, r.wanted)
            if out is not None:
                out[r.position] = samples
            else:
                results[r.position] = samples
    return results


class RecordingCache:
    """The last ``size`` recordings opened (documents and frame indexes loaded), by key; thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._recordings: OrderedDict[Hashable, Recording] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, open_recording: Callable[[], Recording]) -> Recording:
        """The recording kept under ``key``, else ``open_recording()``, kept from now on."""
        with self._lock:
            rec = self._recordings.get(key)
            if rec is not None:
                self._recordings.move_to_end(key)
                return rec
        rec = open_recording()  # outside the lock: it may read the store
        with self._lock:
            rec = self._recordings.setdefault(key, rec)
            while len(self._recordings) > self._size:
                self._recordings.popitem(last=False)
        return rec


#: Recordings :func:`read_part` (and dask chunks) keep open per process.
WORKER_RECORDINGS = 1024

#: Recordings opened in this (worker) process, by archive, id and import.
_WORKER_CACHE = RecordingCache(WORKER_RECORDINGS)


def kept_open(rec: Recording) -> Recording:
    """The copy of ``rec`` this process opened before (streams and frame index loaded), else ``rec``.

    Recordings are identified by archive location, id, import time and source
    hash, so a recording of an archive recreated at the same place (ids start
    again at 1) is never taken for another.
    """
    key = (rec.location_key(), rec.id, rec.info.imported_at.isoformat(), rec.info.source.sha256)
    return _WORKER_CACHE.get(key, lambda: rec)


def read_part(
    recordings: list[Recording], requests: list[tuple[Any, ...]], dtype: npt.DTypeLike | None
) -> np.ndarray | list[np.ndarray]:
    """Read part of a batch in a worker process.

    ``recordings`` are the part's recordings (pickled with their documents);
    each worker process keeps the last :data:`WORKER_RECORDINGS` it opened, so
    later parts do not read their documents and frame indexes again.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        One array of shape ``(n_requests, window, channels)`` when every
        result has the same shape and dtype (one object to send back), else
        the list of results.
    """
    by_id = {rec.id: kept_open(rec) for rec in recordings}
    parsed = parse_requests(requests, by_id.__getitem__, dtype)
    shapes = {(r.stop - r.start, len(r.channels), r.wanted.numpy_dtype) for r in parsed}
    if len(shapes) == 1:
        (window, channels, result_dtype) = shapes.pop()
        out = np.empty((len(parsed), window, channels), dtype=result_dtype)
        read_batch(parsed, threads=decode_threads(), out=out)
        return out
    return read_batch(parsed, threads=decode_threads())


def spread(
    parsed: list[Request], executor: Any, dtype: npt.DTypeLike | None, out: np.ndarray | None
) -> list[np.ndarray]:
    """Read a checked batch through ``executor``'s workers (``submit(fn, *args)`` returning futures).

    The requests are sorted by recording and start and cut into parts of
    :data:`PART_REQUESTS`; each part is one :func:`read_part` call in a worker,
    which receives the part's recordings pickled (location, id, document).
    Works with a ``concurrent.futures`` executor and with a dask
    ``distributed.Client`` (whose futures also have ``result()``).
    """
    order = sorted(range(len(parsed)), key=lambda i: (parsed[i].recording.id, parsed[i].start))
    parts = [order[k : k + PART_REQUESTS] for k in range(0, len(order), PART_REQUESTS)]
    dask_client = type(executor).__module__.split(".")[0] == "distributed"
    options = {"pure": False} if dask_client else {}  # every part is new work, never a cached result
    futures = []
    for part in parts:
        chunk = [
            (parsed[i].recording.id, parsed[i].start, parsed[i].stop, list(parsed[i].channels)) for i in part
        ]
        recordings = list({parsed[i].recording.id: parsed[i].recording for i in part}.values())
        futures.append(executor.submit(read_part, recordings, chunk, dtype, **options))
    results: list[np.ndarray] = [np.empty(0)] * len(parsed)
    for part, future in zip(parts, futures, strict=True):
        for i, window in zip(part, future.result(), strict=True):
            if out is not None:
                out[i] = window
                results[i] = out[i]
            else:
                results[i] = window
    return results


def resolve_threads(workers: Any) -> int | None:
    """The thread count ``workers`` names (None or an int), or None when it is an executor or client."""
    if workers is None or (isinstance(workers, (int, np.integer)) and not isinstance(workers, bool)):
        return decode_threads(None if workers is None else int(workers))
    if callable(getattr(workers, "submit", None)):
        return None
    raise ArgumentError(
        f"workers must be a number of threads, an executor or a dask Client, not {type(workers).__name__}"
    )
