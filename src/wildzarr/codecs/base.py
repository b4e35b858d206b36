"""The codec contract: how a recording's samples become a byte stream of frames and back.

A codec is a small frozen object with an ``codec_id`` and JSON-only parameters. It
never knows about Zarr; the archive and the reader never look inside a codec's
bytes. Every codec fits one shape: a stream of self-delimiting **frames**, each
with a byte offset and a first sample, so that one frame index and one slice
reader serve every codec.

A codec provides

``get_config()`` / ``from_config(config)``
    JSON-only parameters including ``"id"``; ``from_config(c.get_config()) == c``.
``check(samplerate, channels, bits_per_sample, is_float)``
    raise :class:`~wildzarr.errors.UnsupportedSourceError` (with the reason only;
    the caller adds the file name) before any work is done, if the codec cannot
    store such audio.
``encode(blocks, out, samplerate=, channels=, bits_per_sample=)``
    write one complete stream to the seekable binary file ``out``. ``blocks``
    yields C-contiguous integer arrays of shape ``(n, channels)``, dtype int16 or
    int32, holding signed values within ``bits_per_sample`` bits (8-bit unsigned
    sources arrive already shifted to signed). Returns the number of samples
    (per channel) written.
``scan(stream)``
    validate a complete stream and locate its frames: a :class:`StreamLayout`.
    Raises :class:`~wildzarr.errors.StreamError` on any inconsistency.
``decoder(decoder_config)``
    a :class:`FrameDecoder` for one thread (decoders hold state and are not
    shared between threads).
``preroll``
    how many frames before the first frame covering a range must be decoded
    too and discarded (0 for FLAC, whose frames are independent).
``audio_digest(decoder_config)``
    optional: an :class:`AudioDigest` that checks decoded samples against a
    checksum the stream carries (FLAC: the STREAMINFO MD5), or None.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, ClassVar, Self

import numpy as np

__all__ = ["AudioDigest", "Codec", "FrameDecoder", "StreamLayout"]


@dataclass(frozen=True)
class StreamLayout:
    """What a codec's scan found in a complete byte stream.

    Attributes
    ----------
    offsets : numpy.ndarray
        int64, shape ``(n_frames,)``: byte offset of each frame in the stream,
        strictly increasing.
    first_samples : numpy.ndarray
        int64, shape ``(n_frames,)``: index (per channel) of each frame's first
        sample, starting at 0 and strictly increasing.
    samples : int
        Total samples per channel in the stream.
    end : int
        Byte offset one past the last frame.
    decoder_config : dict
        JSON-compatible values a :class:`FrameDecoder` needs (for FLAC the
        STREAMINFO block), stored with the recording.
    """

    offsets: np.ndarray
    first_samples: np.ndarray
    samples: int
    end: int
    decoder_config: dict[str, Any]


class FrameDecoder(ABC):
    """Decodes whole frames of one stream; one instance per thread."""

    @abstractmethod
    def decode(self, frames: Sequence[bytes | memoryview]) -> np.ndarray:
        """Decode consecutive frames of the stream.

        Parameters
        ----------
        frames : sequence of bytes-like
            The bytes of consecutive frames, one item per frame, in stream order.

        Returns
        -------
        numpy.ndarray
            Shape ``(samples, channels)``; int16 when the stream's bit depth is at
            most 16, else int32; holding the true (not left-shifted) values.

        Raises
        ------
        StreamError
            If a frame does not decode.
        """


class AudioDigest(ABC):
    """A checksum of a stream's decoded samples that the stream itself carries; fed in order."""

    #: What the checksum is called in reports ("MD5 (STREAMINFO)").
    name: ClassVar[str]

    @abstractmethod
    def update(self, samples: np.ndarray) -> None:
        """Feed the next decoded samples, shape ``(n, channels)``, as a :class:`FrameDecoder` returns them."""

    @abstractmethod
    def matches(self) -> bool | None:
        """Whether all samples fed match the stored checksum; None when the stream stores none."""


class Codec(ABC):
    """Base class of every codec; see the module docstring for the contract."""

    codec_id: ClassVar[str]
    preroll: ClassVar[int] = 0

    @abstractmethod
    def get_config(self) -> dict[str, Any]:
        """Return the codec's parameters as JSON-compatible values, with ``"id"``."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """Build a codec from :meth:`get_config` output."""
        params = {k: v for k, v in config.items() if k != "id"}
        return cls(**params)

    @abstractmethod
    def check(self, samplerate: int, channels: int, bits_per_sample: int, is_float: bool) -> None:
        """Raise UnsupportedSourceError if this codec cannot store such audio."""

    @abstractmethod
    def encode(
        self,
        blocks: Iterable[np.ndarray],
        out: IO[bytes],
        *,
        samplerate: int,
        channels: int,
        bits_per_sample: int,
    ) -> int:
        """Write one complete stream to ``out``; return the samples per channel written."""

    @abstractmethod
    def scan(self, stream: bytes | memoryview) -> StreamLayout:
        """Validate a complete stream and return its frame layout."""

    @abstractmethod
    def decoder(self, decoder_config: dict[str, Any]) -> FrameDecoder:
        """Return a new decoder for a stream scanned with :meth:`scan`."""

    def audio_digest(self, decoder_config: dict[str, Any]) -> AudioDigest | None:
        """A checker of the decoded audio against the stream's own checksum, or None if it has none."""
        return None
