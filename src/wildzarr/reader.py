"""The slice reader: plan, fetch, check, decode, trim, for every codec.

``StreamReader.read(start, stop)`` asks the frame index for the spans of frames
that cover source samples ``[start, stop)`` (pre-roll, encoder delay and task
bounds are the index's work, :meth:`wildzarr.index.FrameIndex.plan`), fetches
each span's bytes in one range request, checks each frame's CRC-32 when the
index stores one, decodes the frames with this thread's decoder and copies the
kept samples straight into the result. Nothing shared is mutated during a
read: decoders live in thread-local storage, the index and blob are read-only.
"""

from __future__ import annotations

import itertools
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from wildzarr.audio import AudioFormat
from wildzarr.blob import Blob
from wildzarr.codecs.base import Codec, FrameDecoder
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex, FrameSpan

__all__ = ["StreamReader"]


class StreamReader:
    """Sample-range reads of one codec stream.

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

    def read(self, start: int, stop: int) -> np.ndarray:
        """Decode source samples ``[start, stop)``, ``0 <= start < stop <= samples`` (checked by the caller).

        A read of more than :data:`wildzarr.index.TASK_FRAMES` frames is split
        into spans fetched and decoded on a shared thread pool (the decoders
        release the GIL); every span writes into the one result array.

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start, channels)``, the stored format's dtype,
            C-contiguous. Sample ``n`` is source sample ``start + n``.

        Raises
        ------
        StreamError
            If a frame's CRC-32 does not match the index, or the bytes fetched
            do not decode to the samples the index promises; the message names
            the stream, the frame and its samples.
        """
        spans = self.index.plan(start, stop)
        out = np.empty((stop - start, self.channels), dtype=self.stored.numpy_dtype)
        if len(spans) == 1:
            self._decode(spans[0], out)
        else:
            for _ in _pool().map(lambda span: self._decode(span, out), spans):
                pass
        return out

    def _decode(self, span: FrameSpan, out: np.ndarray) -> None:
        """Fetch, check and decode one span; copy its kept samples into ``out``."""
        index = self.index
        offsets = index.offsets
        data = memoryview(self.blob.read(span.byte_start, span.byte_stop))
        bounds = (offsets[span.lead : span.stop + 1] - span.byte_start).tolist()
        frames = [data[a:b] for a, b in itertools.pairwise(bounds)]
        if index.checksums is not None:
            self._check_frames(span, frames)
        try:
            decoded = self._decoder().decode(frames)
        except StreamError as exc:
            frame = span.lead + exc.frame if exc.frame >= 0 else -1
            raise StreamError(
                f"{self.name} {self._frame_label(frame, span)}: {exc}",
                code=exc.code,
                offset=int(offsets[frame]) if frame >= 0 else span.byte_start,
                frame=frame,
            ) from exc
        expected = int(index.first_samples[span.stop] - index.first_samples[span.lead])
        if len(decoded) != expected:
            raise StreamError(
                f"{self.name} {self._frame_label(-1, span)}: decoded to {len(decoded)} samples, "
                f"the frame index says {expected}",
                offset=span.byte_start,
            )
        out[span.out : span.out + span.count] = decoded[span.skip : span.skip + span.count]

    def _check_frames(self, span: FrameSpan, frames: list[memoryview]) -> None:
        """Raise StreamError naming the first frame of ``span`` whose CRC-32 differs from the index's."""
        assert self.index.checksums is not None
        expected = self.index.checksums[span.lead : span.stop].tolist()
        for position, (frame, crc) in enumerate(zip(frames, expected, strict=True)):
            if zlib.crc32(frame) != crc:
                number = span.lead + position
                raise StreamError(
                    f"{self.name} {self._frame_label(number, span)}: its bytes do not match the CRC-32 "
                    "stored in the frame index (corrupt data)",
                    offset=int(self.index.offsets[number]),
                    frame=number,
                )

    def _frame_label(self, frame: int, span: FrameSpan) -> str:
        """``"frame 17 (samples 69632-73727)"`` in source samples, or the span's frames when ``frame`` < 0."""
        first_samples, delay = self.index.first_samples, self.index.delay
        if frame >= 0:
            a, b = int(first_samples[frame]) - delay, int(first_samples[frame + 1]) - delay - 1
            return f"frame {frame} (samples {max(a, 0)}-{b})"
        a, b = int(first_samples[span.lead]) - delay, int(first_samples[span.stop]) - delay - 1
        return f"frames {span.lead}-{span.stop - 1} (samples {max(a, 0)}-{b})"


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
