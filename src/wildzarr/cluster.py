"""Dask integration (the ``wildzarr[dask]`` extra): recordings as lazy dask arrays.

:meth:`Recording.to_dask` wraps a recording in a :func:`dask.array.from_array`
array whose chunks are sample ranges read with :meth:`Recording.read`: exact at
every chunk border for every codec (each chunk is an exact sample-range read,
with the codec's pre-roll decoded and discarded). The graph holds the pickled
recording once (its archive location, id and document: a few KB); workers
reopen its streams on their first chunk. Each chunk decodes on one thread:
dask already runs chunks in parallel.

Spreading a :meth:`wildzarr.Archive.read_many` batch over a dask cluster is
:func:`wildzarr.batch.spread` with a ``distributed.Client`` as the executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from wildzarr.batch import kept_open
from wildzarr.errors import ArgumentError, MissingDependencyError

if TYPE_CHECKING:
    import dask.array

    from wildzarr.recording import Recording

__all__ = ["DEFAULT_CHUNK_SAMPLES", "RecordingArray", "to_dask"]

#: Samples per chunk of :meth:`Recording.to_dask` unless told (about 22 s at 48 kHz; 8 MB of stereo int32).
DEFAULT_CHUNK_SAMPLES = 1 << 20


class RecordingArray:
    """A read-only array view of a recording for :func:`dask.array.from_array`.

    Indexing with a tuple of two step-1 slices (what dask asks for) reads those
    samples and channels with :meth:`Recording.read` on one thread.

    Parameters
    ----------
    recording : Recording
    channels : list of int
        Channels of the view, in order.
    dtype : numpy.dtype
        What reads return (as :meth:`Recording.read`'s ``dtype``).
    """

    ndim = 2

    def __init__(self, recording: Recording, channels: list[int], dtype: np.dtype) -> None:
        self.recording = recording
        self.channels = channels
        self.dtype = dtype
        self.shape = (recording.samples, len(channels))

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        rows, columns = key
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            raise ArgumentError(f"recording {self.recording.id}: sample step must be 1, not {step}")
        picked = self.channels[columns]
        if stop <= start or not picked:
            return np.zeros((max(stop - start, 0), len(picked)), dtype=self.dtype)
        recording = kept_open(self.recording)  # opened once per worker process, not once per chunk
        return recording.read(start, stop, channels=picked, dtype=self.dtype, workers=1)


def to_dask(
    recording: Recording, chunks: int | None = None, *, channels: Any = None, dtype: Any = None
) -> dask.array.Array:
    """The recording as a lazy dask array; see :meth:`Recording.to_dask`."""
    try:
        import dask.array
    except ImportError as exc:
        raise MissingDependencyError('to_dask needs dask: pip install "wildzarr[dask]"') from exc
    size = DEFAULT_CHUNK_SAMPLES if chunks is None else chunks
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ArgumentError(
            f"recording {recording.id}: chunks must be a positive number of samples, not {chunks!r}"
        )
    selected = recording.channel_list(channels)
    wanted = recording.read_format(dtype).numpy_dtype
    view = RecordingArray(recording, selected, wanted)
    location = recording.location_key()
    name = f"wildzarr-{location}-{recording.id}-{'.'.join(map(str, selected))}-{wanted.name}-{size}"
    return dask.array.from_array(
        view, chunks=(int(size), len(selected)), name=name, asarray=False, fancy=False, lock=False
    )
