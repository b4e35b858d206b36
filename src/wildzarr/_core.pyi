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

class _Lib:
    # enum wz_status
    WZ_OK: int
    WZ_NOT_FLAC: int
    WZ_METADATA: int
    WZ_STREAMINFO: int
    WZ_NO_FRAMES: int
    WZ_SYNC: int
    WZ_HEADER: int
    WZ_CRC8: int
    WZ_CRC16: int
    WZ_SEQUENCE: int
    WZ_TOTAL: int
    WZ_TRUNCATED: int
    WZ_CAPACITY: int
    WZ_ARGUMENT: int

    def wz_scan_init(self, st: CData, buf: CData | bytes, len: int, /) -> int:
        """``int wz_scan_init(wz_scan *st, const uint8_t *buf, size_t len)``."""
    def wz_scan_frames(
        self,
        st: CData,
        buf: CData | bytes,
        len: int,
        offsets: CData,
        first_samples: CData,
        capacity: int,
        /,
    ) -> int:
        """``int wz_scan_frames(wz_scan *, const uint8_t *, size_t, int64_t *, int64_t *, size_t)``."""
    def wz_parse_frame_header(
        self, buf: CData | bytes, len: int, pos: int, info: CData, out: CData, /
    ) -> int:
        """``int wz_parse_frame_header(const uint8_t *, size_t, size_t, const wz_streaminfo *,
        wz_frame_header *)``."""
    def wz_crc8(self, crc: int, data: CData | bytes, len: int, /) -> int:
        """``uint8_t wz_crc8(uint8_t crc, const uint8_t *data, size_t len)``."""
    def wz_crc16(self, crc: int, data: CData | bytes, len: int, /) -> int:
        """``uint16_t wz_crc16(uint16_t crc, const uint8_t *data, size_t len)``."""

ffi: _FFI
lib: _Lib
