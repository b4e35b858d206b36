"""The slice reader: plan, fetch, decode, trim.

``StreamReader.read(start, stop)`` asks the frame index which frames cover
``[start, stop)`` (plus the codec's pre-roll), fetches exactly their bytes in
one range request, decodes them with this thread's decoder and trims the
result to the requested samples. Nothing shared is mutated during a read:
decoders live in thread-local storage, the index and blob are read-only.
"""

from __future__ import annotations

import itertools
import threading
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
    name : str
        The recording and stream, for error messages.
    """

    def __init__(
        self, blob: Blob, index: FrameIndex, codec: Codec, decoder_config: dict[str, Any], name: str
    ) -> None:
        self.blob = blob
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
        index = self.index
        plan = index.plan(start, stop, self.codec.preroll)
        data = memoryview(self.blob.read(plan.byte_start, plan.byte_stop))
        bounds = (index.offsets[plan.first_frame : plan.stop_frame + 1] - plan.byte_start).tolist()
        frames = [data[a:b] for a, b in itertools.pairwise(bounds)]
        decoded = self._decoder().decode(frames)
        expected = int(index.first_samples[plan.stop_frame] - index.first_samples[plan.first_frame])
        if len(decoded) != expected:
            raise StreamError(
                f"{self.name}: frames {plan.first_frame}..{plan.stop_frame - 1} decoded to "
                f"{len(decoded)} samples, the frame index says {expected}"
            )
        return decoded[plan.skip : plan.skip + plan.count]
