"""FLAC: libFLAC (through pyFLAC) encodes, FFmpeg's decoder (through PyAV) decodes single frames.

A stream is a complete native FLAC stream (RFC 9639 section 6): ``fLaC``, one
STREAMINFO block (section 8.2, rewritten at the end of encoding with the total
sample count and the MD5 of the samples), then frames (section 9). Every frame
decodes on its own, so :attr:`FlacCodec.preroll` is 0; a decoder needs only the
34-byte STREAMINFO body, which :meth:`FlacCodec.scan` puts in the decoder config.

Bit depth. pyFLAC derives the bit depth from the dtype (int16 -> 16, int32 -> 32)
and has no public switch, so 8-, 12-, 20- or 24-bit audio would be written as
16- or 32-bit. We set libFLAC's channel count and bit depth ourselves, through
the libFLAC functions ``FLAC__stream_encoder_set_channels`` and
``FLAC__stream_encoder_set_bits_per_sample`` that pyFLAC's cffi module
(``pyflac._encoder.lib``) exposes, on the encoder handle
``StreamEncoder._encoder``, then call ``StreamEncoder._init()`` before the first
block; ``process()`` only configures an encoder that is not yet initialised.
These pyFLAC 3.0 internals are pinned by ``tests/test_codecs.py``.

Interrupts. libFLAC calls back into Python (pyFLAC's cffi callbacks) to write
and seek; cffi prints and swallows any exception that escapes a callback, and
libFLAC then fails with ``CLIENT_ERROR``. Our callbacks keep every exception
(``BaseException``) and :meth:`FlacCodec.encode` re-raises it once libFLAC
returns. A Ctrl-C, though, raises ``KeyboardInterrupt`` wherever Python next
checks for signals, most often at the entry of pyFLAC's own callback, before
ours runs. So while libFLAC runs in the main thread, SIGINT is only noted, and
delivered to the previous handler (which raises ``KeyboardInterrupt`` by
default) as soon as libFLAC returns: see
:class:`wildzarr.interrupts.HeldInterrupt`.

Decoding. FFmpeg's ``flac`` decoder returns packed ``s16`` for depths up to 16
bits and packed ``s32`` above, with the samples shifted left by
``16 - bits`` or ``32 - bits`` (8-bit by 8, 12-bit by 4, 20-bit by 12, 24-bit by
8); the decoder shifts them back. ``err_detect=crccheck+explode`` makes FFmpeg
reject a frame whose CRC-16 (section 9.3) does not match instead of returning
wrong samples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, ClassVar, cast

import av
import numpy as np
import pyflac
from pyflac._encoder import lib as _libflac

from wildzarr.audio import AudioFormat, int_dtype_for
from wildzarr.codecs import libflac
from wildzarr.codecs._common import check_block_shape, parse_int
from wildzarr.codecs.base import AudioDigest, Codec, Encoded, FrameDecoder, ScannedStream
from wildzarr.codecs.libflac import LibFlacDecoder
from wildzarr.errors import SourceError, StreamError, UnsupportedSourceError
from wildzarr.interrupts import HeldInterrupt
from wildzarr.scan.flac import parse_streaminfo, scan_flac

__all__ = ["FlacCodec", "FlacFrameDecoder", "FlacMd5", "is_streamable_subset"]

#: Sample rates FLAC can hold, in Hz: a 20-bit STREAMINFO field, 0 is not audio (RFC 9639 section 8.2).
MIN_SAMPLERATE, MAX_SAMPLERATE = 1, 1_048_575
#: Channels: a 3-bit STREAMINFO field holding channels - 1 (RFC 9639 section 8.2).
MIN_CHANNELS, MAX_CHANNELS = 1, 8
#: Bits per sample: a 5-bit STREAMINFO field holding bits - 1, at least 4 (RFC 9639 section 8.2).
MIN_BITS, MAX_BITS = 4, 32
#: Block size: at least 16 (except the last block) and a 16-bit STREAMINFO field (RFC 9639 section 8.2).
MIN_BLOCKSIZE, MAX_BLOCKSIZE = 16, 65535
#: libFLAC compression levels (libFLAC ``FLAC__stream_encoder_set_compression_level``).
MIN_LEVEL, MAX_LEVEL = 0, 8
#: Default bit depth float samples are quantized to: a step of 2**-23 of full
#: scale (about -138 dB), below the noise of every microphone.
FLOAT_BITS = 24
#: Range of ``float_bits``: at least 8 (FLAC frame headers state 8, 12, 16, 20,
#: 24 or 32 bits, RFC 9639 section 9.1.4; any depth 4..32 works with STREAMINFO).
MIN_FLOAT_BITS = 8
#: Bit depths a frame header can state (RFC 9639 section 9.1.4; 0b011 is reserved).
_HEADER_BITS = frozenset({8, 12, 16, 20, 24, 32})


def is_streamable_subset(samplerate: int, bits_per_sample: int, blocksize: int) -> bool:
    """Whether a stream with these parameters can belong to FLAC's streamable subset.

    RFC 9639 section 7: every frame header states the sample rate and bit depth
    (sections 9.1.2, 9.1.4: rates up to 65,535 Hz, or multiples of 10 Hz up to
    655,350 Hz; depths 8, 12, 16, 20, 24, 32), blocks hold at most 16,384 samples
    and at most 4,608 at rates up to 48 kHz. (The other subset rules, LPC order <=
    12 and Rice partition order <= 8, hold at every libFLAC compression level.)
    libFLAC 1.4.3 refuses to start a subset encoder outside these limits.

    Parameters
    ----------
    samplerate : int
        Hz.
    bits_per_sample : int
        Bits per sample.
    blocksize : int
        Samples per channel in each block.

    Returns
    -------
    bool
    """
    rate_in_header = samplerate <= 65_535 or (samplerate % 10 == 0 and samplerate <= 655_350)
    block_ok = blocksize <= 16_384 and (samplerate > 48_000 or blocksize <= 4_608)
    return rate_in_header and bits_per_sample in _HEADER_BITS and block_ok


@dataclass(frozen=True)
class FlacCodec(Codec):
    """Lossless FLAC streams of 4- to 32-bit integer audio, 1 to 8 channels, 1 Hz to 1,048,575 Hz.

    Parameters
    ----------
    compression_level : int
        libFLAC compression level, 0 (fastest) to 8 (smallest). Default 5.
    blocksize : int
        Samples per channel in each frame, 16 to 65535 (the last frame is shorter).
        Default 4096. Streams stay in the streamable subset (RFC 9639 section 7)
        whenever the parameters allow it; see :func:`is_streamable_subset`.
    float_bits : int
        Bit depth float samples are quantized to, 8 to 32 (round half to even,
        clipped at full scale). Default 24 (a step of 2**-23 of full scale).
        The automatic choice stores lossy sources' decoded floats at 16 bits
        (:mod:`wildzarr.codecs.auto`). Integer samples keep their own depth.

    Raises
    ------
    ArgumentError
        (a ValueError) If a parameter is not an integer in its range.
    """

    codec_id: ClassVar[str] = "flac"
    max_channels: ClassVar[int | None] = MAX_CHANNELS

    compression_level: int = 5
    blocksize: int = 4096
    float_bits: int = FLOAT_BITS

    def __post_init__(self) -> None:
        level = parse_int(
            "FLAC compression_level", self.compression_level, MIN_LEVEL, MAX_LEVEL, grouped=False
        )
        blocksize = parse_int("FLAC blocksize", self.blocksize, MIN_BLOCKSIZE, MAX_BLOCKSIZE, grouped=False)
        float_bits = parse_int("FLAC float_bits", self.float_bits, MIN_FLOAT_BITS, MAX_BITS, grouped=False)
        object.__setattr__(self, "float_bits", float_bits)
        object.__setattr__(self, "compression_level", level)
        object.__setattr__(self, "blocksize", blocksize)

    def get_config(self) -> dict[str, Any]:
        """Return ``{"id": "flac", "compression_level": ..., "blocksize": ..., "float_bits": ...}``."""
        return {
            "id": self.codec_id,
            "compression_level": self.compression_level,
            "blocksize": self.blocksize,
            "float_bits": self.float_bits,
        }

    def check(self, fmt: AudioFormat) -> AudioFormat:
        """Return the integer format FLAC stores for audio of format ``fmt`` (limits: RFC 9639 section 8.2).

        Integers keep their bit depth (unsigned 8-bit samples become signed,
        value - 128, as FLAC stores them); floats are quantized to
        ``float_bits`` bits (round half to even, clipped at full scale): use
        ``codec="npy"`` to keep float samples exactly. The stored dtype is int16
        up to 16 bits, else int32.

        Raises
        ------
        UnsupportedSourceError
            For more than 8 channels in one stream, a sample rate outside
            1..1,048,575 Hz or a bit depth outside 4..32. The message gives the
            reason only; the caller adds the file name.
        """
        bits = self.float_bits if fmt.kind == "float" else fmt.bits_per_sample
        if not MIN_CHANNELS <= fmt.channels <= MAX_CHANNELS:
            raise UnsupportedSourceError(
                f"a FLAC stream holds {MIN_CHANNELS} to {MAX_CHANNELS} channels, "
                f"this one would have {fmt.channels}"
            )
        if not MIN_SAMPLERATE <= fmt.samplerate <= MAX_SAMPLERATE:
            raise UnsupportedSourceError(
                f"FLAC holds sample rates of {MIN_SAMPLERATE} to {MAX_SAMPLERATE:,} Hz; "
                f"this source has {fmt.samplerate:,} Hz"
            )
        if not MIN_BITS <= bits <= MAX_BITS:
            raise UnsupportedSourceError(
                f"FLAC holds {MIN_BITS}- to {MAX_BITS}-bit samples; this source has {bits}-bit samples "
                "(codec='npy' stores them losslessly)"
            )
        return AudioFormat(fmt.samplerate, fmt.channels, int_dtype_for(bits), bits)

    def encode(self, blocks: Iterable[np.ndarray], out: IO[bytes], fmt: AudioFormat) -> Encoded:
        """Encode blocks of samples as one FLAC stream written to ``out``, one block at a time.

        Parameters
        ----------
        blocks : iterable of numpy.ndarray
            Shape ``(n, fmt.channels)``, dtype int8, int16 or int32, signed
            values within ``fmt.bits_per_sample`` bits. Empty blocks are skipped.
        out : binary file
            Seekable; the stream is written from its current position, which is
            left at the end of the stream. libFLAC seeks back at the end to
            complete STREAMINFO (total samples, MD5, frame sizes).
        fmt : AudioFormat
            The stored format (:meth:`check`): rate 1..1,048,575 Hz, 1..8
            channels, 4..32 bits, written as exactly this depth.

        Returns
        -------
        Encoded
            Samples per channel written; no delay.

        Raises
        ------
        UnsupportedSourceError
            If :meth:`check` refuses the format or ``fmt`` is not what it returns.
        SourceError
            If a block has the wrong shape or dtype, or values outside the
            signed ``bits_per_sample``-bit range (libFLAC checks every sample).
        StreamError
            If libFLAC fails to start, encode or finish the stream.
        OSError
            If writing to, seeking or telling ``out`` fails (re-raised after libFLAC returns).
        KeyboardInterrupt
            On Ctrl-C (SIGINT) while encoding, raised as soon as libFLAC
            returns; never turned into a StreamError. Any exception raised in a
            callback (writing to ``out``) is likewise re-raised as it was.
        """
        if self.check(fmt) != fmt:
            raise UnsupportedSourceError(f"FLAC encodes {self.check(fmt).describe()}, not {fmt.describe()}")
        samplerate, channels, bits_per_sample = fmt.samplerate, fmt.channels, fmt.bits_per_sample
        sink = _Sink(out)
        encoder = _start_encoder(
            sink,
            samplerate=samplerate,
            channels=channels,
            bits_per_sample=bits_per_sample,
            compression_level=self.compression_level,
            blocksize=self.blocksize,
            subset=is_streamable_subset(samplerate, bits_per_sample, self.blocksize),
        )
        written = 0
        for block in blocks:
            check_block_shape(block, channels)
            if block.dtype not in _BLOCK_DTYPES:
                raise SourceError(f"a block of samples must be int8, int16 or int32, not {block.dtype}")
            if block.shape[0] == 0:
                continue
            try:
                with HeldInterrupt():
                    encoder.process(block)
            except pyflac.EncoderProcessException as exc:
                sink.raise_error()
                _raise_range_error(block, bits_per_sample)
                raise StreamError(f"libFLAC failed to encode a block: {exc}") from exc
            sink.raise_error()
            written += block.shape[0]
        with HeldInterrupt():
            finished = encoder.finish()
        sink.raise_error()
        if not finished:
            raise StreamError(f"libFLAC failed to finish the stream (state {encoder.state})")
        out.seek(sink.end)
        return Encoded(samples=written)

    def scan(self, stream: bytes | memoryview, fmt: AudioFormat, encoded: Encoded) -> ScannedStream:
        """Validate a complete FLAC stream and index its frames (:func:`wildzarr.scan.flac.scan_flac`).

        Returns
        -------
        ScannedStream
            The frame index; ``decoder_config`` is ``{"streaminfo": <the
            34-byte STREAMINFO body as 68 hex digits>}``.

        Raises
        ------
        StreamError
            On any violation of RFC 9639 the scanner checks (markers, headers,
            CRC-8, CRC-16, sequence, total samples, truncation), or a
            STREAMINFO that disagrees with ``fmt``.
        """
        info, index = scan_flac(stream)
        found = (info.samplerate, info.channels, info.bits_per_sample)
        if found != (fmt.samplerate, fmt.channels, fmt.bits_per_sample):
            raise StreamError(f"the FLAC stream holds {found} (rate, channels, bits), not {fmt.describe()}")
        return ScannedStream(index=index, decoder_config={"streaminfo": bytes(info.raw).hex()})

    def decoder(self, fmt: AudioFormat, decoder_config: dict[str, Any]) -> FlacFrameDecoder:
        """Return a new :class:`FlacFrameDecoder` for ``{"streaminfo": hex}`` from :meth:`scan`."""
        return FlacFrameDecoder(_streaminfo(decoder_config))

    def audio_digest(self, fmt: AudioFormat, decoder_config: dict[str, Any]) -> FlacMd5:
        """The check of decoded samples against the STREAMINFO MD5 (RFC 9639 section 8.2)."""
        return FlacMd5(_streaminfo(decoder_config))


def _streaminfo(decoder_config: dict[str, Any]) -> bytes:
    try:
        return bytes.fromhex(decoder_config["streaminfo"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StreamError(f"FLAC decoder config needs 'streaminfo' as hex digits: {exc!r}") from exc


class FlacMd5(AudioDigest):
    """The MD5 of a FLAC stream's samples, as STREAMINFO stores it (RFC 9639 section 8.2).

    The MD5 covers the samples interleaved, each a little-endian signed
    integer of ``ceil(bits_per_sample / 8)`` bytes. An all-zero MD5 means the
    encoder did not compute one: :meth:`matches` is then None.
    """

    name = "MD5 (FLAC STREAMINFO)"

    def __init__(self, streaminfo: bytes) -> None:
        bits = parse_streaminfo(streaminfo).bits_per_sample
        self._width = (bits + 7) // 8
        self._expected = bytes(streaminfo[18:34])
        self._md5 = hashlib.md5(usedforsecurity=False)

    def update(self, samples: np.ndarray) -> None:
        """Feed decoded samples of shape ``(n, channels)`` (true values, int16 or int32)."""
        little = np.ascontiguousarray(samples, dtype="<i4").view(np.uint8).reshape(*samples.shape, 4)
        self._md5.update(np.ascontiguousarray(little[..., : self._width]).tobytes())

    def matches(self) -> bool | None:
        """Whether the samples fed so far have the stored MD5; None when the stream stores none."""
        if not any(self._expected):
            return None
        return self._md5.digest() == self._expected


_BLOCK_DTYPES = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32))


class _Sink:
    """libFLAC's write/seek/tell callbacks on ``out``.

    An exception in a cffi callback would only be printed; every exception
    raised while writing or seeking (``BaseException``: ``KeyboardInterrupt``
    and ``SystemExit`` too) is kept here instead, further writes are skipped,
    and :meth:`raise_error` re-raises it once libFLAC returns.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.position = self.end = out.tell()
        self.error: BaseException | None = None

    def write(self, buffer: bytes, num_bytes: int, num_samples: int, current_frame: int) -> None:
        if self.error is not None:
            return
        try:
            n = self.out.write(buffer)
            if n is not None and n != num_bytes:
                raise OSError(f"short write: {n} of {num_bytes} bytes")
            self.position += num_bytes
            self.end = max(self.end, self.position)
        except BaseException as exc:
            self.error = exc

    def seek(self, offset: int) -> None:
        try:
            self.out.seek(offset)
            self.position = offset
        except BaseException as exc:
            self.error = self.error or exc

    def tell(self) -> int:
        return self.position

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _start_encoder(
    sink: _Sink,
    *,
    samplerate: int,
    channels: int,
    bits_per_sample: int,
    compression_level: int,
    blocksize: int,
    subset: bool,
) -> pyflac.StreamEncoder:
    """Create and initialise a libFLAC stream encoder writing to ``sink``.

    Sets the channel count and bit depth through libFLAC before ``_init()``
    (see the module docstring), so pyFLAC does not derive them from the dtype.

    Raises
    ------
    StreamError
        If libFLAC refuses a setting or fails to initialise (for example
        ``NOT_STREAMABLE`` when ``subset`` is true but the parameters are not).
        An exception kept by ``sink`` while writing the stream header is
        re-raised instead.
    """
    encoder = pyflac.StreamEncoder(
        sample_rate=samplerate,
        write_callback=sink.write,
        seek_callback=sink.seek,
        tell_callback=sink.tell,
        compression_level=compression_level,
        blocksize=blocksize,
        streamable_subset=subset,
    )
    handle = encoder._encoder
    if not _libflac.FLAC__stream_encoder_set_channels(handle, channels):
        raise StreamError(f"libFLAC refused {channels} channels")
    if not _libflac.FLAC__stream_encoder_set_bits_per_sample(handle, bits_per_sample):
        raise StreamError(f"libFLAC refused {bits_per_sample} bits per sample")
    try:
        with HeldInterrupt():
            encoder._init()
    except pyflac.EncoderInitException as exc:
        sink.raise_error()
        raise StreamError(
            f"libFLAC could not start a stream ({samplerate} Hz, {channels} channels, "
            f"{bits_per_sample}-bit, blocksize {blocksize}, subset {subset}): {exc}"
        ) from exc
    return encoder


def _raise_range_error(block: np.ndarray, bits: int) -> None:
    """Raise SourceError if ``block`` holds values outside the signed ``bits``-bit range."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    found_low, found_high = int(block.min()), int(block.max())
    if found_low < low or found_high > high:
        raise SourceError(
            f"samples must lie within the signed {bits}-bit range [{low}, {high}]; "
            f"a block holds values from {found_low} to {found_high}"
        )


def _header_blocksize(frame: bytes | memoryview) -> int:
    """Block size stated by a FLAC frame header (RFC 9639 sections 9.1.1, 9.1.5, 9.1.6).

    Raises
    ------
    StreamError
        If the frame is too short, lacks the sync code or uses a reserved block
        size code; the message says what is wrong with the frame, to follow a
        prefix naming it.
    """
    try:
        if frame[0] != 0xFF or frame[1] & 0xFE != 0xF8:
            raise StreamError("does not start with the FLAC sync code 0xFFF8 or 0xFFF9")
        code = frame[2] >> 4
        if code >= 8:
            return 256 << (code - 8)
        if 2 <= code <= 5:
            return 576 << (code - 2)
        if code == 1:
            return 192
        if code == 0:
            raise StreamError("its FLAC frame header uses the reserved block size code 0")
        # Uncommon block size after the coded number: its first byte's leading ones count its bytes.
        position = 4 + max(1, 8 - (~int(frame[4]) & 0xFF).bit_length())
        if code == 6:
            return frame[position] + 1
        return (frame[position] << 8 | frame[position + 1]) + 1
    except IndexError:
        raise StreamError(f"is {len(frame)} bytes long, too short for a FLAC frame header") from None


class FlacFrameDecoder(FrameDecoder):
    """Decodes whole FLAC frames of one stream; one instance per thread.

    libFLAC (bundled with pyflac; :mod:`wildzarr.codecs.libflac`) decodes, in C
    with the GIL released, straight into the caller's array: it is this
    decoder's :attr:`span_decoder`. Where libFLAC cannot be bound, FFmpeg's
    decoder through PyAV decodes one packet per frame instead (bit-exact too;
    NOTES), and ``span_decoder`` is None.

    Parameters
    ----------
    streaminfo : bytes
        The 34-byte STREAMINFO block body (RFC 9639 section 8.2).

    Raises
    ------
    StreamError
        If ``streaminfo`` is not 34 bytes or the decoder refuses it.
    """

    def __init__(self, streaminfo: bytes) -> None:
        info = parse_streaminfo(streaminfo)
        self.channels, self.bits_per_sample = info.channels, info.bits_per_sample
        self.dtype: np.dtype = np.dtype(np.int16 if self.bits_per_sample <= 16 else np.int32)
        self._format = "s16" if self.bits_per_sample <= 16 else "s32"
        self._shift = self.dtype.itemsize * 8 - self.bits_per_sample
        if libflac.available():
            self.span_decoder: LibFlacDecoder | None = LibFlacDecoder(streaminfo)
            return
        self.span_decoder = None
        context = av.CodecContext.create("flac", "r")
        context.extradata = streaminfo
        context.thread_count = 1  # frame threading would delay output by a frame
        context.options = {"err_detect": "crccheck+explode"}
        try:
            context.open()
        except av.FFmpegError as exc:
            raise StreamError(f"FFmpeg refuses this FLAC STREAMINFO: {exc}") from exc
        self._decode: Callable[[av.Packet], list[Any]] = context.decode
        self._context = context

    def decode(self, frames: Sequence[bytes | memoryview]) -> np.ndarray:
        """Decode consecutive whole frames.

        Parameters
        ----------
        frames : sequence of bytes-like
            One item per frame, each exactly one frame's bytes, in stream order.

        Returns
        -------
        numpy.ndarray
            Shape ``(samples, channels)``, int16 for depths up to 16 bits else
            int32, the true sample values; ``samples`` is the sum of the frames'
            block sizes.

        Raises
        ------
        StreamError
            If a frame's header is unreadable, it fails to decode (bad header,
            CRC mismatch, truncation, a frame number out of sequence), or it
            decodes to another number of samples or another sample format than
            expected. Its ``frame`` is the position of the failing frame in
            ``frames``; the message says what is wrong with that frame, worded
            to follow a prefix that names it (``"recording 3 stream 0 frame 17
            (samples 69632-73727): does not decode (...)"``).
        """
        sizes = []
        for index, data in enumerate(frames):
            try:
                sizes.append(_header_blocksize(data))
            except StreamError as exc:
                exc.frame = index
                raise
        result = np.empty((sum(sizes), self.channels), dtype=self.dtype)
        if not frames:
            return result
        if self.span_decoder is not None:
            data = frames[0] if len(frames) == 1 else b"".join(frames)
            span = np.array([[0, len(data), 0, len(frames), 0, len(result), 0]], dtype=np.int64)
            self.span_decoder.decode_spans(data, span, np.array(sizes, dtype=np.int64), result)
            return result
        decode, expected_format = self._decode, self._format
        # PyAV's stub types Packet's input as bytes; any buffer (a memoryview of the stream) works.
        packet = cast(Callable[[bytes | memoryview], av.Packet], av.Packet)
        channels, dtype, shift = self.channels, self.dtype, self._shift
        position = 0
        for index, (data, n) in enumerate(zip(frames, sizes, strict=True)):
            try:
                out = decode(packet(data))
            except av.FFmpegError as exc:
                raise StreamError(
                    "does not decode (corrupt or truncated, CRC mismatch, or a frame of another stream): "
                    f"{exc}",
                    frame=index,
                ) from exc
            if len(out) != 1 or out[0].samples != n:
                got = [f.samples for f in out]
                raise StreamError(f"decodes to {got} samples but its header says {n}", frame=index)
            frame = out[0]
            if frame.format.name != expected_format:
                raise StreamError(
                    f"decodes to {frame.format.name} samples, expected packed {expected_format}", frame=index
                )
            samples = np.frombuffer(frame.planes[0], dtype=dtype, count=n * channels).reshape(n, channels)
            if shift:
                np.right_shift(samples, shift, out=result[position : position + n])
            else:
                result[position : position + n] = samples
            position += n
        return result
