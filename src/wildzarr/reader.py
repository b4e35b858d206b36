"""The slice reader: plan, fetch, decode, trim.

``StreamReader.read(start, stop)`` asks the frame index which frames cover
``[start, stop)`` (plus the codec's pre-roll), fetches exactly their bytes in
one range request, decodes them with this thread's decoder and trims the
result to the requested samples. Nothing shared is mutated during a read:
decoders live in thread-local storage, the index and blob are read-only.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from wildzarr.blob import Blob
from wildzarr.codecs.base import Codec, FrameDecoder
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex

__all__ = ["StreamReader"]


class StreamReader:
    """Sample-range reads of one codec stream.

    Parameters
    ----------
    blob : Blob
        The stream's bytes.
    index : FrameIndex
        The stream's frame index.
    codec : Codec
        The codec that wrote the stream.
    decoder_config : dict
        What the codec's decoder needs (stored with the stream).
    channels : int
        Channels in the stream.
    name : str
        The recording and stream, for error messages.
    """

    def __init__(
        self,
        blob: Blob,
        index: FrameIndex,
        codec: Codec,
        decoder_config: dict[str, Any],
        channels: int,
        name: str,
    ) -> None:
        self.blob = blob
        self.channels = channels
        self.index = index
        self.codec = codec
        self.decoder_config = decoder_config
        self.name = name
        self._local = threading.local()

    def _decoder(self) -> FrameDecoder:
        decoder: FrameDecoder | None = getattr(self._local, "decoder", None)
        if decoder is None:
            decoder = self.codec.decoder(self.decoder_config)
            self._local.decoder = decoder
        return decoder

    def read(self, start: int, stop: int) -> np.ndarray:
        """Decode samples ``[start, stop)``, ``0 <= start < stop <= samples`` (checked by the caller).

        A read of more than :data:`TASK_FRAMES` frames is split into tasks of
        that many frames, fetched and decoded on a shared thread pool (the
        decoders release the GIL).

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start, channels)``, the decoder's dtype (int16 or
            int32), true sample values. May be a view of a larger decoded array.

        Raises
        ------
        StreamError
            If the bytes fetched do not decode to the samples the index promises.
        """
        plan = self.index.plan(start, stop, self.codec.preroll)
        if plan.stop_frame - plan.first_frame <= TASK_FRAMES:
            decoded = self._decode(plan.first_frame, plan.first_frame, plan.stop_frame)
        else:
            bounds = [*range(plan.first_frame, plan.stop_frame, TASK_FRAMES), plan.stop_frame]
            tasks = [
                (max(plan.first_frame, a - self.codec.preroll), a, b) for a, b in itertools.pairwise(bounds)
            ]
            decoded = np.concatenate(list(_pool().map(lambda task: self._decode(*task), tasks)))
        return decoded[plan.skip : plan.skip + plan.count]

    def _decode(self, lead: int, first: int, stop: int) -> np.ndarray:
        """Fetch and decode frames ``[lead, stop)``; return the samples of frames ``[first, stop)``."""
        index = self.index
        offsets = index.offsets
        byte_start = int(offsets[lead])
        data = memoryview(self.blob.read(byte_start, int(offsets[stop])))
        bounds = (offsets[lead : stop + 1] - byte_start).tolist()
        frames = [data[a:b] for a, b in itertools.pairwise(bounds)]
        try:
            decoded = self._decoder().decode(frames)
        except StreamError as exc:
            frame = lead + exc.frame if exc.frame >= 0 else -1
            raise StreamError(
                f"{self.name} {self._frame_label(frame, lead, stop)}: {exc}",
                code=exc.code,
                offset=int(offsets[frame]) if frame >= 0 else byte_start,
                frame=frame,
            ) from exc
        expected = int(index.first_samples[stop] - index.first_samples[lead])
        if len(decoded) != expected:
            raise StreamError(
                f"{self.name} {self._frame_label(-1, lead, stop)}: decoded to {len(decoded)} samples, "
                f"the frame index says {expected}",
                offset=byte_start,
            )
        return decoded[int(index.first_samples[first] - index.first_samples[lead]) :]

    def _frame_label(self, frame: int, lead: int, stop: int) -> str:
        """``"frame 17 (samples 69632-73727)"``, or the span of frames ``[lead, stop)`` when ``frame`` < 0."""
        first_samples = self.index.first_samples
        if frame >= 0:
            return f"frame {frame} (samples {first_samples[frame]}-{first_samples[frame + 1] - 1})"
        return f"frames {lead}-{stop - 1} (samples {first_samples[lead]}-{first_samples[stop] - 1})"


#: Frames per task when a read is split across the thread pool.
TASK_FRAMES = 32

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The process-wide decoding thread pool, one thread per core, created on first use."""
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="wildzarr")
    return _POOL


def _forget_pool() -> None:
    """In a forked child the parent's pool threads do not exist: start a new pool there."""
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)
