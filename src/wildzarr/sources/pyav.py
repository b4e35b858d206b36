"""File sources: anything FFmpeg decodes, through PyAV, streamed in blocks.

The format facts come from the first decoded frame of the container's best
audio stream (``container.streams.best("audio")``), the true bit depth from
the codec (``pcm_s24le`` -> 24, FLAC STREAMINFO, the ALAC magic cookie), the
announced length from the WAV ``data`` chunk or FLAC STREAMINFO. Decoded
frames are converted as :mod:`wildzarr.sources.base` describes:

- ``u8`` (8-bit WAV, ``pcm_s8``) -> uint8 as decoded (offset binary);
- ``s16`` / ``s32`` -> int16 / int32, shifted right by ``width -
  bits_per_sample`` (FFmpeg left-justifies 24-bit PCM, FLAC and ALAC in s32),
  refusing when a low bit that should be zero is set;
- ``flt`` / ``dbl`` (float PCM, or any lossy decoder) -> float32 / float64 as
  decoded; the codec decides how to store them.

Planar frames go through ``av.AudioResampler`` to the packed format of the same
type (an exact copy): PyAV 18.1's ``AudioFrame.planes`` walks past the end of
the plane pointers for 8 or more planar channels (``to_ndarray`` segfaulted on
8-channel AAC), so planes are only read from packed frames.

``file_meta`` holds PyAV's container and stream tags (``"tags"``,
``"stream_tags"``; Ogg keeps Vorbis comments on the stream), the list of
streams, and for WAV files what :mod:`wildzarr.sources.riff` reads, all within
the limits of :mod:`wildzarr.sources.limits`.

Only errors PyAV and FFmpeg raise on bad input become
:class:`~wildzarr.errors.SourceError`; every other exception passes through
unchanged. PyAV 18.1 sometimes drops a ``KeyboardInterrupt`` raised while it
decodes or resamples, so PyAV runs with Ctrl-C held
(:class:`~wildzarr.interrupts.HeldInterrupt`): while opening the file,
decoding its first frame, and producing each block; a Ctrl-C then raises
``KeyboardInterrupt`` once that step is done.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer

from wildzarr.errors import SourceError, StreamError, UnsupportedSourceError
from wildzarr.interrupts import HeldInterrupt
from wildzarr.metadata import SourceInfo
from wildzarr.scan.flac import parse_streaminfo
from wildzarr.sources.base import Source, SourceFormat
from wildzarr.sources.convert import BlockBuilder, unshift
from wildzarr.sources.digest import file_sha256
from wildzarr.sources.limits import limit_file_meta
from wildzarr.sources.names import display_name
from wildzarr.sources.riff import RiffInfo, is_riff_wave, read_riff

__all__ = ["FileSource", "open_file"]

_DTYPES = {
    "u8": np.uint8,
    "s16": np.int16,
    "s32": np.int32,
    "s64": np.int64,
    "flt": np.float32,
    "dbl": np.float64,
}
_WIDTH = {"u8": 8, "s16": 16, "s32": 32, "s64": 64}
_PCM_BITS = re.compile(r"pcm_[su](\d+)(?:le|be)?(?:_planar)?")
# Errors PyAV or FFmpeg may raise on hostile input.
_DECODE_ERRORS = (av.error.FFmpegError, UnicodeDecodeError, OverflowError, MemoryError)


def open_file(
    source: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    samplerate: int | None = None,
    *,
    allow_truncated: bool = False,
) -> FileSource:
    """Open an audio (or video) file for import.

    Parameters
    ----------
    source : str, bytes or os.PathLike
        Path of any file FFmpeg decodes: WAV, FLAC, MP3, Ogg, M4A, MP4, MKV ...
        Any name the OS allows (non-UTF-8 bytes, control characters); messages
        and :attr:`~wildzarr.sources.base.Source.name` show it as valid Unicode.
    samplerate : int, optional
        When given, it must equal the file's sample rate (a file states its own).
    allow_truncated : bool
        Accept a file holding fewer samples than its header announces (a WAV
        ``data`` chunk or FLAC STREAMINFO cut short, as when a recorder's
        battery dies): ``blocks()`` yields the samples present and sets
        :attr:`~wildzarr.sources.base.Source.truncated`. Default False: such a
        file raises SourceError.

    Returns
    -------
    FileSource
        Open; the first frame has been decoded to learn the format.

    Raises
    ------
    SourceError
        Missing or invalid path (a NUL byte), a folder or other non-regular
        file, an empty file, a file FFmpeg cannot read, no audio stream, no
        audio samples, a ``samplerate`` that differs from the file's.
        :class:`~wildzarr.errors.UnsupportedSourceError` for 64-bit integer
        samples. Messages name the file.
    """
    return FileSource(source, samplerate, allow_truncated=allow_truncated)


class FileSource(Source):
    """A file decoded by PyAV. See :func:`open_file` and :class:`~wildzarr.sources.base.Source`."""

    path: Path

    def __init__(
        self,
        source: str | bytes | os.PathLike[str] | os.PathLike[bytes],
        samplerate: int | None = None,
        *,
        allow_truncated: bool = False,
    ) -> None:
        super().__init__()
        self._allow_truncated = allow_truncated
        label = display_name(source)
        self._label = label
        path = Path(os.fsdecode(source))
        _check_path(path, label)
        self.path = path.resolve()
        self.name = display_name(path.name)
        self._info: SourceInfo | None = None
        self._active: set[InputContainer] = set()
        riff = _read_riff(path, label)
        container, stream = _open_container(path, label)
        try:
            self._tail = _Tail() if allow_truncated else None
            frames = _frames(container, stream, label, self._tail)
            with HeldInterrupt():
                first = next(frames, None)
            if first is None:
                raise SourceError(f"{label}: holds no audio samples")
            self.stream_index = stream.index
            self.format = _source_format(container, stream, first, riff, label)
            self.file_meta = _file_meta(container, stream, riff)
            if samplerate is not None and samplerate != self.format.samplerate:
                raise SourceError(
                    f"{label}: samplerate={samplerate!r} given, but the file's sample rate is "
                    f"{self.format.samplerate} Hz (samplerate= is for arrays)"
                )
        except BaseException:
            container.close()
            raise
        self._pending: tuple[InputContainer, Iterator[AudioFrame]] | None = (
            container,
            chain([first], frames),
        )
        self._active.add(container)

    def blocks(self, block_samples: int | None = None) -> Iterator[np.ndarray]:
        """Yield the decoded samples in blocks; see :meth:`Source.blocks`."""
        self._check_open()
        return self._blocks(self._block_samples(block_samples))

    def source_info(self) -> SourceInfo:
        """Describe the file: name, absolute path and size, sha256 of its bytes, container and codec.

        See :meth:`Source.source_info`. The path is :func:`display_name` of
        :attr:`path`; the size is the number of bytes hashed.
        """
        if self._info is None:
            self._check_open()
            try:
                digest, size = file_sha256(self.path)
            except OSError as e:
                raise SourceError(f"{self._label}: cannot read the file: {_reason(e)}") from e
            self._info = self._make_info(path=display_name(self.path), size=size, sha256=digest)
        return self._info

    def close(self) -> None:
        """Close the file (and any decode in progress)."""
        super().close()
        self._pending = None
        for container in list(self._active):
            container.close()
        self._active.clear()

    def _start(self) -> tuple[InputContainer, Iterator[AudioFrame]]:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        container, stream = _open_container(self.path, self._label, self.stream_index)
        self._active.add(container)
        self._tail = _Tail() if self._allow_truncated else None
        return container, _frames(container, stream, self._label, self._tail)

    def _blocks(self, block_samples: int) -> Iterator[np.ndarray]:
        fmt = self.format
        container, frames = self._start()
        try:
            builder = BlockBuilder(block_samples, fmt.channels, fmt.dtype)
            convert = _Converter(fmt, self._label)
            ready: list[np.ndarray] = []
            more = True
            while more:
                with HeldInterrupt():  # PyAV runs here; the blocks are yielded outside
                    more = self._fill(frames, convert, builder, ready)
                yield from ready
                ready.clear()
            last = builder.finish()
            if last is not None:
                yield last
            if builder.total == 0:
                raise SourceError(f"{self._label}: holds no audio samples")
            failed = self._tail.error if self._tail is not None else None
            if failed is not None and (fmt.samples is None or builder.total >= fmt.samples):
                raise SourceError(
                    f"{self._label}: decoding failed after {builder.total} samples: {_reason(failed)}"
                ) from failed
            if fmt.samples is not None and builder.total < fmt.samples:
                if not self._allow_truncated:
                    raise SourceError(
                        f"{self._label}: truncated: header announces {fmt.samples} samples, "
                        f"file holds {builder.total} (allow_truncated=True imports those)"
                    )
                self.truncated = (fmt.samples, builder.total)
        finally:
            container.close()
            self._active.discard(container)

    def _fill(
        self,
        frames: Iterator[AudioFrame],
        convert: _Converter,
        builder: BlockBuilder,
        ready: list[np.ndarray],
    ) -> bool:
        """Decode frames into ``builder`` until ``ready`` holds a block; False once the stream is done."""
        while not ready:
            frame = next(frames, None)
            if frame is None:
                for piece in convert(None):
                    ready.extend(builder.add(piece))
                return False
            self._check_frame(frame, builder.total)
            for piece in convert(frame):
                ready.extend(builder.add(piece))
        return True

    def _check_frame(self, frame: AudioFrame, at: int) -> None:
        fmt = self.format
        for what, expected, got, unit in (
            ("sample rate", fmt.samplerate, frame.sample_rate, " Hz"),
            ("channel count", fmt.channels, frame.layout.nb_channels, ""),
            ("sample format", fmt.sample_format, frame.format.name, ""),
        ):
            if got != expected:
                raise SourceError(
                    f"{self._label}: the {what} changes mid-stream from {expected}{unit} to {got}{unit} "
                    f"at sample {at}"
                )


class _Converter:
    """Decoded frames -> arrays of shape (n, channels) in the source's block dtype."""

    def __init__(self, fmt: SourceFormat, label: str) -> None:
        self.fmt = fmt
        self.label = label
        packed = av.AudioFormat(fmt.sample_format).packed.name
        self.dtype = np.dtype(_DTYPES[packed])
        self.packed = packed
        self.planar = packed != fmt.sample_format
        self.shift = _WIDTH.get(packed, 0) - fmt.bits_per_sample if packed in ("s16", "s32") else 0
        self.resampler: AudioResampler | None = None

    def __call__(self, frame: AudioFrame | None) -> Iterator[np.ndarray]:
        if self.planar:
            if self.resampler is None:
                if frame is None:
                    return
                self.resampler = AudioResampler(
                    format=self.packed, layout=frame.layout, rate=frame.sample_rate
                )
            try:
                packed_frames = self.resampler.resample(frame)
            except _DECODE_ERRORS as e:
                raise SourceError(f"{self.label}: cannot convert planar samples: {_reason(e)}") from e
        else:
            packed_frames = [frame] if frame is not None else []
        for f in packed_frames:
            if f.samples:
                yield self.convert(self.read(f))

    def read(self, frame: AudioFrame) -> np.ndarray:
        channels = self.fmt.channels
        count = frame.samples * channels
        plane = memoryview(frame.planes[0])
        return np.frombuffer(plane, dtype=self.dtype, count=count).reshape(frame.samples, channels)

    def convert(self, a: np.ndarray) -> np.ndarray:
        if self.packed in ("s16", "s32"):
            return unshift(a, self.shift, self.label)
        return a


def _check_path(path: Path, label: str) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SourceError(f"{label}: no such file") from None
    except OSError as e:
        raise SourceError(f"{label}: cannot access the file: {_reason(e)}") from e
    except ValueError as e:  # a NUL byte, or text no OS name can hold
        raise SourceError(f"{label}: not a valid path ({_reason(e)})") from e
    if stat.S_ISDIR(st.st_mode):
        raise SourceError(f"{label}: is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{label}: not a regular file")
    if st.st_size == 0:
        raise SourceError(f"{label}: empty file (0 bytes)")


def _read_riff(path: Path, label: str) -> RiffInfo | None:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as e:
        raise SourceError(f"{label}: cannot read the file: {_reason(e)}") from e
    return read_riff(path, label) if is_riff_wave(head) else None


def _reason(e: BaseException) -> str:
    """What went wrong, as valid Unicode text."""
    strerror = getattr(e, "strerror", None)  # OSError and FFmpegError: the message without the file name
    if strerror:
        return display_name(str(strerror))
    return display_name(str(e) or type(e).__name__)


def _open_container(path: Path, label: str, index: int | None = None) -> tuple[InputContainer, AudioStream]:
    """Open ``path`` with PyAV and pick its audio stream (``index``, else the best one)."""
    try:
        with HeldInterrupt():
            container = av.open(str(path), mode="r", metadata_errors="replace")
    except _DECODE_ERRORS as e:
        raise SourceError(f"{label}: not a readable audio file ({_reason(e)})") from e
    except OSError as e:
        raise SourceError(f"{label}: cannot read the file: {_reason(e)}") from e
    try:
        if index is None:
            stream = container.streams.best("audio")
        else:
            stream = next((s for s in container.streams.audio if s.index == index), None)
        if not isinstance(stream, AudioStream):
            found = ", ".join(f"{s.type} {_codec_name(s) or '?'}" for s in container.streams) or "none"
            raise SourceError(f"{label}: no audio stream (streams: {found})")
    except BaseException:
        container.close()
        raise
    return container, stream


class _Tail:
    """What a decode that tolerates a truncated end found there: the error of the last packets, if any."""

    def __init__(self) -> None:
        self.error: BaseException | None = None


def _frames(
    container: InputContainer, stream: AudioStream, label: str, tail: _Tail | None = None
) -> Iterator[AudioFrame]:
    """Decoded frames of ``stream``; PyAV errors become SourceError naming the file.

    With ``tail`` (``allow_truncated``), packets that fail to decode at the end
    of the file (a frame cut short) are noted in ``tail.error`` instead of
    raising; a failed packet followed by packets that decode is damage, not
    truncation, and raises.
    """
    count = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except _DECODE_ERRORS as e:
                if tail is None:
                    raise
                tail.error = tail.error or e
                continue
            for frame in frames:
                if tail is not None and tail.error is not None:
                    raise tail.error
                count += frame.samples
                yield frame
    except _DECODE_ERRORS as e:
        raise SourceError(f"{label}: decoding failed after {count} samples: {_reason(e)}") from e


def _codec_name(stream: Any) -> str | None:
    cc = getattr(stream, "codec_context", None)
    return cc.codec.canonical_name if cc is not None else None


def _flac_streaminfo(extradata: bytes | None) -> tuple[int, int] | None:
    """(bits_per_sample, total_samples) from FFmpeg's FLAC extradata (STREAMINFO, maybe after ``fLaC``)."""
    if not extradata:
        return None
    body = extradata[8:] if extradata[:4] == b"fLaC" else extradata
    try:
        info = parse_streaminfo(bytes(body[:34]))
    except StreamError:
        return None
    return info.bits_per_sample, info.total_samples


def _declared_bits(codec: str, extradata: bytes | None) -> int | None:
    """True bit depth stated by the codec name or header, when it states one."""
    m = _PCM_BITS.fullmatch(codec)
    if m:
        return int(m.group(1))
    if codec == "flac":
        info = _flac_streaminfo(extradata)
        return info[0] if info else None
    if codec == "alac" and extradata and len(extradata) >= 36 and extradata[4:8] == b"alac":
        return extradata[17]  # ALACSpecificConfig.bitDepth, after size, 'alac', version, frameLength, compat
    return None


def _source_format(
    container: InputContainer, stream: AudioStream, first: AudioFrame, riff: RiffInfo | None, label: str
) -> SourceFormat:
    cc = stream.codec_context
    codec = cc.codec.canonical_name
    extradata = cc.extradata
    sample_format = first.format.name
    packed = first.format.packed.name
    lossy = bool(cc.codec.lossy and not cc.codec.lossless)
    is_float = False
    if packed in ("flt", "dbl"):
        is_float = True
        bits = 32 if packed == "flt" else 64
    elif packed in _WIDTH:
        width = _WIDTH[packed]
        declared = _declared_bits(codec, extradata)
        bits = declared if declared is not None and 1 <= declared <= width and packed != "u8" else width
    else:
        raise UnsupportedSourceError(
            f"{label}: {codec} decodes to {sample_format} samples, which are not supported"
        )
    samples: int | None = None
    if riff is not None and codec.startswith("pcm_") and riff.data_size is not None and riff.block_align:
        samples = riff.data_size // riff.block_align
    elif container.format.name == "flac" and codec == "flac":
        info = _flac_streaminfo(extradata)
        if info and info[1] > 0:
            samples = info[1]
    return SourceFormat(
        samplerate=first.sample_rate,
        channels=first.layout.nb_channels,
        sample_format=sample_format,
        bits_per_sample=bits,
        is_float=is_float,
        is_lossy=lossy,
        container=container.format.name,
        codec=codec,
        samples=samples,
    )


def _file_meta(container: InputContainer, stream: AudioStream, riff: RiffInfo | None) -> dict[str, Any]:
    """Tags, streams and RIFF chunks as JSON-compatible data, within the limits of :mod:`.limits`."""
    meta: dict[str, Any] = {
        "tags": {str(k): str(v) for k, v in container.metadata.items()},
        "stream_tags": {str(k): str(v) for k, v in stream.metadata.items()},
        "streams": [
            {"index": s.index, "type": s.type, "codec": _codec_name(s), "chosen": s.index == stream.index}
            for s in container.streams
        ],
    }
    if riff is not None:
        meta.update(riff.meta)
    limit_file_meta(meta)
    return meta
