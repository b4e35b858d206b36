"""Typed stub of :mod:`wildzarr._core`, the cffi module built from ``csrc/``.

The C declarations live in ``csrc/wildzarr_core.h``; keep this stub in step with
them. cffi's C data objects are typed as :class:`CData`; cffi also accepts ``bytes``
for ``const uint8_t *`` arguments (a pointer into the bytes object, no copy).
"""

from typing import Any

class CData:
    """A cffi C data object (pointer, array or struct); fields are C values."""

    def __getattr__(self, name: str) -> Any: ...
    def __getitem__(self, index: int) -> Any: ...
    def __setitem__(self, index: int, value: Any) -> None: ...
    def __len__(self) -> int: ...

class _FFI:
    NULL: CData
    def new(self, cdecl: str, init: Any = ...) -> CData: ...
    def from_buffer(self, cdecl: str, python_buffer: Any = ..., require_writable: bool = ...) -> CData: ...
    def buffer(self, cdata: CData, size: int = ...) -> Any: ...
    def string(self, cdata: CData, maxlen: int = ...) -> bytes: ...
    def cast(self, cdecl: str, value: Any) -> CData: ...
    def sizeof(self, cdecl_or_cdata: str | CData) -> int: ...
    def release(self, cdata: CData) -> None: ...
    def gc(self, cdata: CData, destructor: Any, size: int = ...) -> CData: ...
    def typeof(self, cdecl: str | CData) -> Any: ...

class _Lib:
    # enum wz_flac_status
    WZ_FLAC_OK: int
    WZ_FLAC_NOT_FLAC: int
    WZ_FLAC_METADATA: int
    WZ_FLAC_STREAMINFO: int
    WZ_FLAC_NO_FRAMES: int
    WZ_FLAC_SYNC: int
    WZ_FLAC_HEADER: int
    WZ_FLAC_CRC8: int
    WZ_FLAC_CRC16: int
    WZ_FLAC_SEQUENCE: int
    WZ_FLAC_TOTAL: int
    WZ_FLAC_TRUNCATED: int
    WZ_FLAC_CAPACITY: int
    WZ_FLAC_ARGUMENT: int

    # enum wz_adts_status
    WZ_ADTS_OK: int
    WZ_ADTS_NO_FRAMES: int
    WZ_ADTS_SYNC: int
    WZ_ADTS_HEADER: int
    WZ_ADTS_MISMATCH: int
    WZ_ADTS_CRC: int
    WZ_ADTS_TRUNCATED: int
    WZ_ADTS_CAPACITY: int
    WZ_ADTS_ARGUMENT: int
    WZ_ADTS_PROFILE: int

    # enum wz_mp3_status
    WZ_MP3_OK: int
    WZ_MP3_NO_FRAMES: int
    WZ_MP3_SYNC: int
    WZ_MP3_HEADER: int
    WZ_MP3_MISMATCH: int
    WZ_MP3_CRC: int
    WZ_MP3_TRUNCATED: int
    WZ_MP3_CAPACITY: int
    WZ_MP3_ARGUMENT: int
    WZ_MP3_LAYER: int
    WZ_MP3_FREE_FORMAT: int
    WZ_MP3_SIDE_INFO: int
    WZ_MP3_RESERVOIR: int

    # enum wz_flacdec_status
    WZ_FLACDEC_OK: int
    WZ_FLACDEC_STREAMINFO: int
    WZ_FLACDEC_SYNC: int
    WZ_FLACDEC_HEADER: int
    WZ_FLACDEC_CRC8: int
    WZ_FLACDEC_CRC16: int
    WZ_FLACDEC_SEQUENCE: int
    WZ_FLACDEC_TRUNCATED: int
    WZ_FLACDEC_ARGUMENT: int
    WZ_FLACDEC_BLOCKSIZE: int
    WZ_FLACDEC_TRAILING: int
    WZ_FLACDEC_DECODE: int
    WZ_FLACDEC_RANGE: int
    WZ_FLACDEC_LIBFLAC: int
    WZ_FLACDEC_UNBOUND: int

    # enum wz_flacdec_span_column
    WZ_FLACDEC_DATA_START: int
    WZ_FLACDEC_DATA_STOP: int
    WZ_FLACDEC_FIRST_FRAME: int
    WZ_FLACDEC_N_FRAMES: int
    WZ_FLACDEC_SKIP: int
    WZ_FLACDEC_COUNT: int
    WZ_FLACDEC_OUT_ROW: int
    WZ_FLACDEC_SPAN_COLUMNS: int

    def wz_flac_parse_streaminfo(self, body: CData | bytes, len: int, out: CData, /) -> int:
        """``int wz_flac_parse_streaminfo(const uint8_t *body, size_t len, wz_flac_streaminfo *out)``."""
    def wz_flac_check_streaminfo(self, info: CData, message: CData, size: int, /) -> int:
        """``int wz_flac_check_streaminfo(const wz_flac_streaminfo *info, char *message, size_t size)``."""
    def wz_flac_scan_init(self, st: CData, buf: CData | bytes, len: int, /) -> int:
        """``int wz_flac_scan_init(wz_flac_scan *st, const uint8_t *buf, size_t len)``."""
    def wz_flac_scan_frames(
        self,
        st: CData,
        buf: CData | bytes,
        len: int,
        offsets: CData,
        first_samples: CData,
        capacity: int,
        /,
    ) -> int:
        """``int wz_flac_scan_frames(wz_flac_scan *st, const uint8_t *buf, size_t len,
        int64_t *offsets, int64_t *first_samples, size_t capacity)``."""
    def wz_flac_parse_frame_header(
        self, buf: CData | bytes, len: int, pos: int, info: CData, out: CData, /
    ) -> int:
        """``int wz_flac_parse_frame_header(const uint8_t *, size_t, size_t, const wz_flac_streaminfo *,
        wz_flac_frame_header *)``."""
    def wz_adts_parse_header(self, buf: CData | bytes, len: int, pos: int, out: CData, /) -> int:
        """``int wz_adts_parse_header(const uint8_t *buf, size_t len, size_t pos, wz_adts_header *out)``."""
    def wz_adts_scan_init(
        self,
        st: CData,
        buf: CData | bytes,
        len: int,
        expected_samplerate: int,
        expected_channel_configuration: int,
        /,
    ) -> int:
        """``int wz_adts_scan_init(wz_adts_scan *st, const uint8_t *buf, size_t len,
        int32_t expected_samplerate, int32_t expected_channel_configuration)``."""
    def wz_adts_scan_frames(
        self,
        st: CData,
        buf: CData | bytes,
        len: int,
        offsets: CData,
        first_samples: CData,
        capacity: int,
        /,
    ) -> int:
        """``int wz_adts_scan_frames(wz_adts_scan *st, const uint8_t *buf, size_t len,
        int64_t *offsets, int64_t *first_samples, size_t capacity)``."""
    def wz_mp3_parse_header(self, buf: CData | bytes, len: int, pos: int, out: CData, /) -> int:
        """``int wz_mp3_parse_header(const uint8_t *buf, size_t len, size_t pos, wz_mp3_header *out)``."""
    def wz_mp3_scan_init(
        self,
        st: CData,
        buf: CData | bytes,
        len: int,
        expected_samplerate: int,
        expected_channels: int,
        /,
    ) -> int:
        """``int wz_mp3_scan_init(wz_mp3_scan *st, const uint8_t *buf, size_t len,
        int32_t expected_samplerate, int32_t expected_channels)``."""
    def wz_mp3_scan_frames(
        self,
        st: CData,
        buf: CData | bytes,
        len: int,
        offsets: CData,
        first_samples: CData,
        main_data_begin: CData,
        capacity: int,
        /,
    ) -> int:
        """``int wz_mp3_scan_frames(wz_mp3_scan *st, const uint8_t *buf, size_t len,
        int64_t *offsets, int64_t *first_samples, int64_t *main_data_begin, size_t capacity)``."""
    def wz_flacdec_bind(self, api: CData, /) -> int:
        """``int wz_flacdec_bind(const wz_libflac_api *api)``."""
    def wz_flacdec_init(self, st: CData, streaminfo: CData | bytes, len: int, /) -> int:
        """``int wz_flacdec_init(wz_flacdec *st, const uint8_t *streaminfo, size_t len)``."""
    def wz_flacdec_decode(
        self,
        st: CData,
        data: CData | bytes,
        len: int,
        spans: CData,
        n_spans: int,
        frame_samples: CData,
        first_samples: CData,
        n_frame_samples: int,
        out: CData,
        out_rows: int,
        out_row_stride: int,
        out_itemsize: int,
        /,
    ) -> int:
        """``int wz_flacdec_decode(wz_flacdec *st, const uint8_t *data, size_t len, const int64_t *spans,
        size_t n_spans, const int64_t *frame_samples, const int64_t *first_samples, size_t n_frame_samples,
        void *out, size_t out_rows, int64_t out_row_stride, size_t out_itemsize)``."""
    def wz_flacdec_close(self, st: CData, /) -> None:
        """``void wz_flacdec_close(wz_flacdec *st)``."""
    def wz_crc8(self, crc: int, data: CData | bytes, len: int, /) -> int:
        """``uint8_t wz_crc8(uint8_t crc, const uint8_t *data, size_t len)``."""
    def wz_crc16(self, crc: int, data: CData | bytes, len: int, /) -> int:
        """``uint16_t wz_crc16(uint16_t crc, const uint8_t *data, size_t len)``."""

ffi: _FFI
lib: _Lib
