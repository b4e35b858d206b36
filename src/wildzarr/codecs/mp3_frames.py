"""MP3 frames: the window decoder, the pre-roll rule, and keeping a source's own frames.

The helpers of :mod:`wildzarr.codecs.mp3` (see there for the stream format and
the measurements behind the pre-roll rule):

- :class:`Mp3FrameDecoder` decodes frames with FFmpeg's ``mp3float`` from a
  new decoder's state on every call;
- :func:`preroll_frames` computes the pre-roll a stream needs from its bit
  reservoir and the filterbank overlap (:data:`OVERLAP_FRAMES`);
- :func:`keep_frames` stores an mp3 file's frames as they are, with the delay
  and padding PyAV's full decode trims, measured frame by frame.
"""

from __future__ import annotations

import array
import itertools
import mmap
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import av
import numpy as np
from av.audio.frame import AudioFrame

from wildzarr.codecs._pyav import Trim, audio_stream, decode_frame, open_source
from wildzarr.codecs.base import Encoded, FrameDecoder
from wildzarr.errors import StreamError
from wildzarr.interrupts import HeldInterrupt
from wildzarr.scan.mp3 import Mp3Info, check_frame, reservoir_reach, scan_mp3

if TYPE_CHECKING:
    from wildzarr.index import FrameIndex

__all__ = [
    "MPEG1_SAMPLERATES",
    "OVERLAP_FRAMES",
    "WINDOW_CHECKS",
    "Mp3FrameDecoder",
    "keep_frames",
    "preroll_frames",
    "samples_per_frame",
]

#: MPEG-1 sample rates, Hz (ISO/IEC 11172-3 section 2.4.2.3): 1152 samples per frame, two granules.
#: The MPEG-2 and MPEG-2.5 rates (ISO/IEC 13818-3 section 2.4.2.3) have 576, one granule.
MPEG1_SAMPLERATES = (32_000, 44_100, 48_000)
#: Frames of filterbank overlap a window needs besides the bit reservoir, by version: a granule's
#: output depends on its IMDCT and on those of the two granules before it (the IMDCT overlap, and the
#: synthesis filter's last 16 of a granule's 18 subband slots). MPEG-1 frames hold two granules,
#: MPEG-2/2.5 frames one.
OVERLAP_FRAMES = {"1": 1, "2": 2, "2.5": 2}
#: Most frames :func:`keep_frames` decodes as a window to check the pre-roll, spread over the stream.
WINDOW_CHECKS = 256


def samples_per_frame(samplerate: int) -> int:
    """Samples per channel of a Layer III frame at ``samplerate`` Hz: 1152 (MPEG-1) or 576 (MPEG-2/2.5)."""
    return 1152 if samplerate in MPEG1_SAMPLERATES else 576


def preroll_frames(info: Mp3Info, index: FrameIndex, main_data_begin: np.ndarray) -> int:
    """The frames of pre-roll that make every window of a stream decode as in a full decode.

    Frame ``k`` decodes exactly after frames ``lead(k) ... k - 1``, where
    ``lead(k) = min over j in 0..OVERLAP_FRAMES of (k - j) - reach[k - j]``
    (:func:`~wildzarr.scan.mp3.reservoir_reach`: the filterbank overlap, and
    the bit reservoir of each frame involved; frames before 0 are not needed).
    The stream's pre-roll is the largest ``k - lead(k)``.

    Parameters
    ----------
    info, index, main_data_begin
        What :func:`wildzarr.scan.mp3.scan_mp3` returned for the stream.

    Returns
    -------
    int
        Frames, from 0 to ``index.n_frames - 1``.
    """
    frames = np.arange(index.n_frames)
    starts = frames - reservoir_reach(info, index, main_data_begin)  # first frame each frame's data needs
    lead = starts.copy()
    for j in range(1, OVERLAP_FRAMES[info.version] + 1):
        lead[j:] = np.minimum(lead[j:], starts[:-j])
    return int(np.max(frames - np.maximum(lead, 0)))


class Mp3FrameDecoder(FrameDecoder):
    """Decodes consecutive Layer III frames with FFmpeg's ``mp3float``; one instance per thread.

    Every :meth:`decode` call starts with a new decoder (about 8.5 us), so
    its output depends only on the frames it is given. Flushing a used one
    (``avcodec_flush_buffers``, 0.3 us) is not enough: it empties the bit
    reservoir but leaves the bytes that were in it, which a frame whose
    reservoir is missing (a first pre-roll frame) reads. Measured: of 200
    windows decoded by a flushed decoder, 2 had other samples than a new
    decoder's in their first frames (never after the pre-roll).

    Parameters
    ----------
    samplerate : int
        Hz, a Layer III rate: every frame must have it.
    channels : int
        1 or 2: every frame must decode to it.
    """

    def __init__(self, samplerate: int, channels: int) -> None:
        self.samplerate, self.channels = samplerate, channels
        self.samples_per_frame = samples_per_frame(samplerate)
        self._context = _new_decoder()
        self._used = False

    def decode(self, frames: Sequence[bytes | memoryview]) -> np.ndarray:
        """Decode consecutive whole frames from the state of a new decoder.

        Parameters
        ----------
        frames : sequence of bytes-like
            One Layer III frame per item, in stream order.

        Returns
        -------
        numpy.ndarray
            float32, C-contiguous, shape ``(samples_per_frame * len(frames),
            channels)``, full scale 1.0: every frame's samples in order (the
            first frames decoded without their predecessors, pre-roll, differ
            from a full decode's, unless they are the stream's first).

        Raises
        ------
        StreamError
            If a frame is not one valid Layer III frame of the stream's rate
            and channels (:func:`~wildzarr.scan.mp3.check_frame`), does not
            decode, or decodes to other than one frame of the stream's
            samples, rate and channels. ``frame`` is its position
            in ``frames``; the message says what is wrong with it, worded to
            follow a prefix that names it (``"recording 3 stream 0 frame 17:
            does not decode as MP3 (...)"``).
        """
        n = self.samples_per_frame
        result = np.empty((n * len(frames), self.channels), dtype=np.float32)
        if self._used:
            self._context = _new_decoder()
            self._used = False
        for index, data in enumerate(frames):
            try:
                frame = self.decode_next(data)
            except StreamError as exc:
                exc.frame = index
                raise
            copy_samples(frame, result[index * n : (index + 1) * n])
        return result

    def decode_next(self, data: bytes | memoryview) -> AudioFrame:
        """Decode one frame after those decoded before (no reset); return FFmpeg's planar frame.

        Raises
        ------
        StreamError
            Worded like :meth:`decode`'s, without a frame number.
        """
        # FFmpeg decodes what it can of a truncated frame, and some foreign bytes, without an error.
        check_frame(data, self.samplerate, self.channels)
        self._used = True
        frame = decode_frame(self._context, data, "MP3")
        got = (frame.samples, frame.sample_rate, frame.layout.nb_channels, frame.format.name)
        wanted = (self.samples_per_frame, self.samplerate, self.channels, "fltp")
        if got != wanted:
            raise StreamError(
                "decodes to {} samples at {} Hz of {} channels in {}, not {} at {} Hz of {} in {}".format(
                    *got, *wanted
                )
            )
        return frame


def _new_decoder() -> av.AudioCodecContext:
    """An open FFmpeg ``mp3float`` decoder, one thread."""
    context = cast(av.AudioCodecContext, av.CodecContext.create("mp3float", "r"))
    context.thread_count = 1
    context.open()
    return context


def copy_samples(frame: AudioFrame, out: np.ndarray) -> None:
    """Copy a decoded ``fltp`` frame to ``out``, float32 of shape ``(frame.samples, channels)``, 1 or 2."""
    for k, plane in enumerate(frame.planes[: out.shape[1]]):
        out[:, k] = np.frombuffer(memoryview(plane), dtype=np.float32, count=frame.samples)


# --------------------------------------------------------------------------- keeping a source's frames


@dataclass(frozen=True)
class _FirstPass:
    """What the first pass of :func:`keep_frames` found: per frame, its size and its plain decode's CRC-32."""

    sizes: array.array[int]
    checksums: array.array[int]
    samples: int
    delay: int


def keep_frames(
    path: Path, stream_index: int | None, samplerate: int, channels: int, out: IO[bytes]
) -> Encoded | None:
    """Write the MP3 frames of a file's audio stream to ``out`` if reads of them equal PyAV's full decode.

    1. Demux the stream with PyAV (FFmpeg's mp3 demuxer skips ID3v2, APE and
       ID3v1 tags and consumes a Xing/Info frame, whose LAME tag gives the
       delay and padding it trims; other containers give their packets) and
       decode every packet twice: as PyAV's full decode of the source does
       (``container.decode(stream)``: the stream's own decoder, with the
       trims the demuxer asks for) and plainly (every frame in order, nothing
       dropped). The samples the full decode drops before its first and after
       its last sample are the delay and padding; every sample it keeps must
       equal the plain decode's bit for bit. The packets go to a temporary
       file.
    2. Scan them (:func:`~wildzarr.scan.mp3.scan_mp3`): every packet must be
       exactly one valid Layer III frame of the source's rate and channels,
       the bit reservoir must start at the first frame.
    3. Decode up to :data:`WINDOW_CHECKS` frames, spread over the stream, as a
       reader does (after :func:`preroll_frames` frames of pre-roll, from a
       new decoder's state): each must equal its plain decode (by CRC-32).
    4. Copy the frames to ``out``.

    Parameters
    ----------
    path : Path
        The file.
    stream_index : int or None
        Its audio stream (None: the first).
    samplerate, channels : int
        What the source says of the stream: a Layer III rate, 1 or 2.
    out : binary file
        Receives the frames, from its current position, only if they are kept.

    Returns
    -------
    Encoded or None
        ``samples`` as the full decode counts them, ``delay`` the decoded
        samples it drops at the start, empty ``decoder_config``; None when any
        step fails.

    Raises
    ------
    SourceError
        If the file cannot be opened or has no such audio stream.
    OSError
        If writing fails.
    KeyboardInterrupt
        On Ctrl-C, raised once the current packet is decoded.
    """
    with tempfile.TemporaryFile(prefix="wildzarr-mp3-") as spool:
        first = _first_pass(path, stream_index, samplerate, channels, spool)
        if first is None:
            return None
        spool.flush()
        with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                exact = _windows_exact(view, first, samplerate, channels)
            finally:
                view.release()
        if not exact:
            return None
        spool.seek(0)
        shutil.copyfileobj(spool, out)
    return Encoded(samples=first.samples, delay=first.delay, decoder_config={})


def _first_pass(
    path: Path, stream_index: int | None, samplerate: int, channels: int, spool: IO[bytes]
) -> _FirstPass | None:
    """Step 1 of :func:`keep_frames`: decode every packet two ways, spool it; None if it cannot be kept."""
    with open_source(path, "MP3") as container:
        stream = audio_stream(container, stream_index)
        full = stream.codec_context
        if full.sample_rate != samplerate or full.channels != channels:
            return None
        plain = Mp3FrameDecoder(samplerate, channels)
        trim = Trim(plain.samples_per_frame)
        sizes, checksums = array.array("q"), array.array("L")
        for packet in container.demux(stream):
            with HeldInterrupt():
                if not packet.size:  # the flush packet at the end: the full decode drains the decoder
                    if full.decode(packet):
                        return None
                    continue
                data = bytes(packet)
                try:
                    reference = _samples_of(plain.decode_next(data), channels)
                    kept = [_samples_of(frame, channels) for frame in full.decode(packet)]
                except (StreamError, av.FFmpegError):
                    return None
            if not trim.add(reference, kept):
                return None
            spool.write(data)
            sizes.append(len(data))
            checksums.append(zlib.crc32(reference.data))
    if trim.samples == 0:
        return None
    return _FirstPass(sizes=sizes, checksums=checksums, samples=trim.samples, delay=trim.delay)


def _windows_exact(stream: memoryview, first: _FirstPass, samplerate: int, channels: int) -> bool:
    """Steps 2 and 3 of :func:`keep_frames` on the spooled frames."""
    try:
        info, index, main_data_begin = scan_mp3(
            stream, expected_samplerate=samplerate, expected_channels=channels
        )
    except StreamError:
        return False
    sizes = np.frombuffer(first.sizes, dtype=np.int64)
    if index.n_frames != len(sizes) or not np.array_equal(np.diff(index.offsets), sizes):
        return False  # a packet held no frame, several, or part of one
    preroll = preroll_frames(info, index, main_data_begin)
    bounds = index.offsets.tolist()
    frames = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    decoder = Mp3FrameDecoder(samplerate, channels)
    n = decoder.samples_per_frame
    checked = np.unique(np.linspace(0, len(frames) - 1, min(WINDOW_CHECKS, len(frames))).astype(np.int64))
    try:
        for k in checked.tolist():
            lead = max(k - preroll, 0)
            with HeldInterrupt():
                window = decoder.decode(frames[lead : k + 1])[-n:]
            if zlib.crc32(window.data) != first.checksums[k]:
                return False
    except StreamError:
        return False
    finally:
        for frame in frames:
            frame.release()
    return True


def _samples_of(frame: AudioFrame, channels: int) -> np.ndarray:
    """A decoded frame's samples, float32 C-contiguous of shape ``(samples, channels)``."""
    if frame.format.name != "fltp":
        raise StreamError(f"decodes to {frame.format.name} samples, not fltp")
    out = np.empty((frame.samples, channels), dtype=np.float32)
    copy_samples(frame, out)
    return out
