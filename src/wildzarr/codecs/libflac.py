"""FLAC decoding with libFLAC: runs of whole frames straight into an output array, in one C call.

:class:`LibFlacDecoder` decodes a batch of **spans** (runs of consecutive whole
FLAC frames of one stream, RFC 9639 section 9) with the reference decoder
libFLAC and copies the samples a read keeps straight into a caller-owned numpy
array, with the GIL released for the whole batch (cffi's API mode releases it
around every C call). No Python runs per frame: the C code
(``csrc/flac_decode.c``) drives libFLAC's stream decoder through C callbacks.

libFLAC is the copy pyflac bundles and has already loaded (libFLAC 1.4.3 in
pyflac 3.0). The extension does not link it: :func:`available` hands the
addresses of the ten ``FLAC__stream_decoder_*`` functions used, read from
pyflac's cffi module (``pyflac._decoder.lib``), to ``wz_flacdec_bind`` once,
which checks them by decoding a built-in frame.

Every frame is checked (``csrc/flac_decode.c`` explains how): its header at the
exact byte where it must start (sync code, CRC-8, STREAMINFO's channels, bits,
rate and maximum block size, the frame index's block size, the frame/sample
number continuing the span), every libFLAC error report (lost sync, bad header,
CRC-16 mismatch, unparseable frame: libFLAC would otherwise skip the frame and
go on), libFLAC's own view of the frame, and that the span's frames fill its
bytes exactly. A bad frame raises :class:`~wildzarr.errors.StreamError`, never
silence or samples of another frame. Optionally (``first_samples``) each
frame's number is checked against its row of the frame index too.

Example
-------
>>> decoder = LibFlacDecoder(streaminfo)  # doctest: +SKIP
>>> spans = np.array([[start, stop, first, n, skip, count, 0]], dtype=np.int64)  # doctest: +SKIP
>>> out = np.empty((count, decoder.channels), decoder.dtype)  # doctest: +SKIP
>>> decoder.decode_spans(stream_bytes, spans, np.diff(index.first_samples), out)  # doctest: +SKIP
"""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from wildzarr._core import ffi, lib
from wildzarr.errors import ArgumentError, MissingDependencyError, StreamError

if TYPE_CHECKING:
    from wildzarr._core import CData

__all__ = ["SPAN_COLUMNS", "LibFlacDecoder", "LibFlacStatus", "available"]

#: Columns of the span table: data_start, data_stop, first_frame, n_frames, skip, count, out_row.
SPAN_COLUMNS: int = lib.WZ_FLACDEC_SPAN_COLUMNS

_INT64 = np.dtype(np.int64)
_UINT8 = np.dtype(np.uint8)


class LibFlacStatus(enum.IntEnum):
    """Status codes of the C decoder (``enum wz_flacdec_status`` in ``csrc/wildzarr_core.h``).

    ``StreamError.code`` holds one of these after a failed decode. Values below
    20 mean what they mean in :class:`wildzarr.scan.flac.FlacStatus`.
    """

    OK = 0
    STREAMINFO = 3  #: invalid STREAMINFO body (RFC 9639 section 8.2), or libFLAC refuses it
    SYNC = 5  #: no frame sync code where a frame must start (section 9.1)
    HEADER = 6  #: invalid frame header, or one contradicting STREAMINFO (section 9.1)
    CRC8 = 7  #: frame header CRC-8 mismatch (section 9.1.8)
    CRC16 = 8  #: frame CRC-16 mismatch (section 9.3), found by libFLAC
    SEQUENCE = 9  #: a frame/sample number does not follow the span's previous frame (section 9.1.5)
    TRUNCATED = 11  #: a frame runs past the end of its span's bytes
    ARGUMENT = 13  #: invalid span table or call (raised as ArgumentError)
    BLOCKSIZE = 20  #: a frame holds another number of samples than the frame index says
    TRAILING = 21  #: bytes left in a span after its last frame
    DECODE = 22  #: libFLAC reported another error in the frame (lost sync inside it, unparseable)
    RANGE = 23  #: a decoded sample lies outside the signed bits-per-sample range
    LIBFLAC = 24  #: libFLAC failed for a reason other than the bytes (memory, state)
    UNBOUND = 25  #: libFLAC's functions are not bound


_bind_lock = threading.Lock()
_bound: bool | None = None


def available() -> bool:
    """Whether libFLAC's decoder could be bound (pyflac imported and exposes the functions). Cached.

    The first call reads the addresses of the ``FLAC__stream_decoder_*``
    functions named by the fields of ``wz_libflac_api`` from pyflac's cffi
    module and binds them (``wz_flacdec_bind``, which decodes a test frame
    through them). Thread-safe.
    """
    global _bound
    if _bound is None:
        with _bind_lock:
            if _bound is None:
                _bound = _bind()
    return _bound


def _bind() -> bool:
    """Bind pyflac's libFLAC functions into the C decoder; False if anything is missing or fails."""
    try:
        from pyflac._decoder import ffi as flac_ffi
        from pyflac._decoder import lib as flac_lib
    except (ImportError, OSError):
        return False
    api = ffi.new("wz_libflac_api *")
    try:
        for name, _ in ffi.typeof("wz_libflac_api").fields:
            function = flac_ffi.addressof(flac_lib, f"FLAC__stream_decoder_{name}")
            setattr(api, name, int(flac_ffi.cast("uintptr_t", function)))
    except (AttributeError, TypeError):
        return False
    return bool(lib.wz_flacdec_bind(api) == LibFlacStatus.OK)


class LibFlacDecoder:
    """Decodes runs of whole FLAC frames of one stream with libFLAC straight into an output array.

    One instance per thread (not thread-safe: a call from a second thread while
    one runs raises :class:`~wildzarr.errors.ArgumentError`); instances are
    cheap to keep. The libFLAC decoder is freed by :meth:`close`, or when the
    instance is garbage-collected.

    Parameters
    ----------
    streaminfo : bytes-like
        The 34-byte STREAMINFO block body (RFC 9639 section 8.2).

    Attributes
    ----------
    channels : int
        Channels of the stream, 1..8.
    bits_per_sample : int
        Bits per sample, 4..32.
    samplerate : int
        Hz.
    dtype : numpy.dtype
        int16 for ``bits_per_sample <= 16``, else int32: the dtype ``out`` must have.

    Raises
    ------
    StreamError
        If ``streaminfo`` is not 34 bytes, holds an invalid field (the checks of
        :func:`wildzarr.scan.flac.parse_streaminfo`) or libFLAC refuses it;
        ``code`` is a :class:`LibFlacStatus`.
    ArgumentError
        If ``streaminfo`` is not bytes-like.
    MissingDependencyError
        If libFLAC's decoder is not :func:`available`.
    """

    def __init__(self, streaminfo: bytes | bytearray | memoryview) -> None:
        self._st: CData | None = None
        self._busy = threading.Lock()
        if not isinstance(streaminfo, bytes | bytearray | memoryview):
            raise ArgumentError(f"streaminfo must be bytes, not {type(streaminfo).__name__}")
        if not available():
            raise MissingDependencyError(
                "libFLAC's stream decoder is not available: pyflac (which bundles libFLAC) could not "
                "be imported, or its functions could not be bound"
            )
        body = bytes(streaminfo)
        st = ffi.gc(ffi.new("wz_flacdec *"), lib.wz_flacdec_close)
        status = lib.wz_flacdec_init(st, body, len(body))
        if status != LibFlacStatus.OK:
            raise StreamError(_message(st), code=status, offset=0)
        self._st = st
        self.channels = int(st.info.channels)
        self.bits_per_sample = int(st.info.bits_per_sample)
        self.samplerate = int(st.info.samplerate)
        self.dtype: np.dtype = np.dtype(np.int16 if self.bits_per_sample <= 16 else np.int32)

    @property
    def frames_decoded(self) -> int:
        """Frames decoded since the decoder was made (0 once closed)."""
        return 0 if self._st is None else int(self._st.frames)

    def decode_spans(
        self,
        data: Any,
        spans: np.ndarray,
        frame_samples: np.ndarray,
        out: np.ndarray,
        *,
        first_samples: np.ndarray | None = None,
    ) -> None:
        """Decode spans of whole frames and write the kept samples into ``out``.

        Parameters
        ----------
        data : bytes, bytearray, memoryview or numpy.ndarray
            The fetched stream bytes (C-contiguous; an array must be 1-D
            uint8). Passed to C without a copy.
        spans : numpy.ndarray
            int64, shape ``(n_spans, 7)``, C-contiguous; one row per span:
            ``data_start, data_stop`` (the byte range of ``data`` holding the
            span's consecutive whole frames, back to back, and nothing else),
            ``first_frame`` (row of ``frame_samples`` of the span's first
            frame), ``n_frames`` (>= 1), ``skip`` (decoded samples of the span
            to drop first), ``count`` (samples to keep after those), ``out_row``
            (row of ``out`` receiving the first kept sample). Spans may come in
            any order and write overlapping rows (later spans win).
        frame_samples : numpy.ndarray
            int64, 1-D, C-contiguous: the samples per channel (1..65535) each
            frame must decode to, as the frame index says.
        out : numpy.ndarray
            Writable, dtype :attr:`dtype`, shape ``(rows, channels)``, each row's
            samples contiguous (``out.strides[1] == itemsize``); rows may be
            strided, e.g. a column block ``big[:, 2:4]`` of a wider array, or
            reversed. For each span, ``out[out_row + j] = decoded sample skip +
            j of the span`` for ``j`` in ``[0, count)``, true values (24-bit
            samples are not shifted); nothing else of ``out`` is written.
        first_samples : numpy.ndarray, optional
            int64, 1-D, C-contiguous, at least ``len(frame_samples)`` entries:
            the first sample of each row's frame in the stream, e.g. the frame
            index's ``first_samples``. When given, the rows of ``frame_samples``
            must be the stream's frames from its first, and each frame's coded
            number is checked against its row (RFC 9639 section 9.1.5: a
            fixed-blocksize frame's frame number must be its row, a
            variable-blocksize frame's sample number ``first_samples[row]``), so
            a frame of the same stream in the wrong place is an error too.

        Raises
        ------
        ArgumentError
            If an argument has the wrong type, dtype, shape or layout, or a
            span does not fit: ``data_start <= data_stop <= len(data)``,
            ``first_frame + n_frames <= len(frame_samples)``, ``skip, count >=
            0``, ``skip + count <=`` the span's samples, ``out_row + count <=
            rows``. All spans are checked before any is decoded: nothing is
            written. Also if the decoder is closed or in use by another thread.
        StreamError
            If a frame is bad: no sync code or an invalid header where it must
            start, a CRC-8 or CRC-16 mismatch, another channel count, bit depth
            or sample rate than STREAMINFO, another block size than
            ``frame_samples``, a number not following the span's previous
            frame (or, with ``first_samples``, its row), a frame running past
            its span's end, bytes left after the span's last frame, a sample
            outside the bit depth's range, or any error libFLAC reports.
            ``frame`` is the row of ``frame_samples`` of the failing frame,
            ``offset`` its byte offset in ``data`` (for leftover bytes: the
            first of them), ``code`` a :class:`LibFlacStatus`; the message says
            what is wrong with the frame, worded to follow a prefix naming it
            (``"does not decode (CRC-16 mismatch)"``). ``out`` may then hold
            the samples of the spans and frames decoded before the failing
            one. The decoder stays usable.

        Notes
        -----
        Python checks the arguments' types, dtypes, shapes and layouts; the
        values of the span table are checked by the C code, for every span
        before any is decoded (one pass over the table and the frames' rows of
        ``frame_samples``, with the GIL released), and reported here as
        :class:`~wildzarr.errors.ArgumentError` naming the span and the field.
        Repeating them in numpy would add a dozen numpy calls per decode (a
        span's total needs a sum over its rows of ``frame_samples``) for no
        gain in safety: the C checks are the ones that guard memory.
        """
        if not (
            isinstance(spans, np.ndarray)
            and spans.dtype == _INT64
            and spans.ndim == 2
            and spans.shape[1] == SPAN_COLUMNS
            and spans.flags.c_contiguous
        ):
            raise ArgumentError(
                f"spans must be a C-contiguous int64 array of shape (n, 7), got {_describe(spans)}"
            )
        if not (
            isinstance(frame_samples, np.ndarray)
            and frame_samples.dtype == _INT64
            and frame_samples.ndim == 1
            and frame_samples.flags.c_contiguous
        ):
            raise ArgumentError(
                f"frame_samples must be a C-contiguous 1-D int64 array, got {_describe(frame_samples)}"
            )
        if first_samples is None:
            first_pointer = ffi.NULL
        elif (
            isinstance(first_samples, np.ndarray)
            and first_samples.dtype == _INT64
            and first_samples.ndim == 1
            and first_samples.flags.c_contiguous
            and first_samples.shape[0] >= frame_samples.shape[0]
        ):
            first_pointer = ffi.from_buffer("int64_t[]", first_samples)
        else:
            raise ArgumentError(
                "first_samples must be a C-contiguous 1-D int64 array at least as long as frame_samples, "
                f"got {_describe(first_samples)}"
            )
        dtype = self.dtype
        if not (
            isinstance(out, np.ndarray)
            and out.dtype == dtype
            and out.ndim == 2
            and out.shape[1] == self.channels
            and (out.strides[1] == dtype.itemsize or out.shape[1] == 1 or out.shape[0] == 0)
            and out.flags.writeable
        ):
            raise ArgumentError(
                f"out must be a writable {dtype} array of shape (rows, {self.channels}) whose rows are "
                f"contiguous, got {_describe(out)}"
            )
        if not self._busy.acquire(blocking=False):
            raise ArgumentError(
                "a LibFlacDecoder is used by another thread at the same time; use one per thread"
            )
        try:
            st = self._st
            if st is None:
                raise ArgumentError("the LibFlacDecoder is closed")
            buffer = _data_buffer(data)
            try:
                status = lib.wz_flacdec_decode(
                    st,
                    buffer,
                    len(buffer),
                    ffi.from_buffer("int64_t[]", spans),
                    spans.shape[0],
                    ffi.from_buffer("int64_t[]", frame_samples),
                    first_pointer,
                    frame_samples.shape[0],
                    ffi.cast("void *", out.ctypes.data),
                    out.shape[0],
                    out.strides[0],
                    dtype.itemsize,
                )
            finally:
                # Released before any error leaves: see wildzarr.scan._buffer.c_buffer.
                ffi.release(buffer)
            if status != LibFlacStatus.OK:
                _raise(st, status)
        finally:
            self._busy.release()

    def close(self) -> None:
        """Free the libFLAC decoder (waits for a call running in another thread). Idempotent."""
        with self._busy:
            st, self._st = self._st, None
            if st is not None:
                lib.wz_flacdec_close(st)


def _data_buffer(data: Any) -> CData:
    """A zero-copy ``uint8_t[]`` view of ``data`` (release it with ``ffi.release``).

    Raises
    ------
    ArgumentError
        If ``data`` is not bytes, bytearray, a C-contiguous memoryview or a
        C-contiguous 1-D uint8 array.
    """
    if isinstance(data, np.ndarray):
        if data.dtype != _UINT8 or data.ndim != 1 or not data.flags.c_contiguous:
            raise ArgumentError(
                f"data given as an array must be C-contiguous 1-D uint8, got {_describe(data)}"
            )
    elif isinstance(data, memoryview):
        if not data.c_contiguous:
            raise ArgumentError("data given as a memoryview must be C-contiguous")
    elif not isinstance(data, bytes | bytearray):
        raise ArgumentError(
            f"data must be bytes, bytearray, memoryview or a uint8 numpy array, not {type(data).__name__}"
        )
    return ffi.from_buffer("uint8_t[]", data)


def _describe(value: object) -> str:
    """``'int32 array of shape (3, 7)'``, or the type name of a non-array."""
    if isinstance(value, np.ndarray):
        layout = "" if value.flags.c_contiguous else ", not C-contiguous"
        writable = "" if value.flags.writeable else ", read-only"
        return f"{value.dtype} array of shape {value.shape}, strides {value.strides}{layout}{writable}"
    return type(value).__name__


def _message(st: CData) -> str:
    return ffi.string(st.message).decode("utf-8", "replace")


def _raise(st: CData, status: int) -> NoReturn:
    """Raise the error a failed ``wz_flacdec_decode`` reported in ``st``."""
    if status == LibFlacStatus.ARGUMENT:
        raise ArgumentError(_message(st))
    raise StreamError(_message(st), code=status, offset=int(st.err_offset), frame=int(st.err_frame))
