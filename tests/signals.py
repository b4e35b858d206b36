"""Test signals and test files, shared by the test modules.

- :func:`make_signal` / :func:`make_float_signal`: deterministic, realistic
  signals (a few sines, a chirp and noise) that use the full range of their bit
  depth;
- :func:`write_audio_file`: writes a file **with PyAV** in any of the
  containers the tests need (wav, flac, mp3, ogg vorbis/opus, m4a, mp4 and mkv
  with a video stream) and :func:`write_video_file` a video without audio;
- :func:`wav_bytes` and the chunk builders: WAV files assembled by hand, with
  any chunks (``guan``, ``bext``, ``iXML``, ``LIST/INFO`` ...) before or after
  ``data``, odd sizes, wrong sizes, RF64.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

__all__ = [
    "CONTAINER_FORMATS",
    "bext_chunk",
    "chunk",
    "decode_with_pyav",
    "guano_chunk",
    "info_list",
    "make_bad_file",
    "make_float_signal",
    "make_signal",
    "wav_bytes",
    "write_audio_file",
    "write_video_file",
    "write_wav",
]

#: Our container names -> PyAV (FFmpeg) muxer names.
CONTAINER_FORMATS = {
    "wav": "wav",
    "flac": "flac",
    "mp3": "mp3",
    "ogg": "ogg",
    "opus": "ogg",
    "m4a": "ipod",
    "aac": "adts",
    "mp4": "mp4",
    "mkv": "matroska",
}

_DEFAULT_LOSSY = {
    "mp3": "libmp3lame",
    "ogg": "vorbis",
    "opus": "libopus",
    "m4a": "aac",
    "aac": "aac",
    "mp4": "aac",
}


def _float_signal(samples: int, channels: int, seed: int) -> np.ndarray:
    """float64 (samples, channels) in [-1, 1]: sines, a chirp and noise, peak exactly 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples, dtype=np.float64)[:, None]
    ch = np.arange(channels, dtype=np.float64)[None, :]
    x = 0.4 * np.sin(2 * np.pi * t * (0.013 + 0.011 * ch) + rng.uniform(0, 6.3, channels))
    x += 0.2 * np.sin(2 * np.pi * t * (0.0007 + 0.0003 * ch))
    x += 0.15 * np.sin(2 * np.pi * 0.2 * t**2 / max(samples, 1))
    x += 0.15 * rng.standard_normal((samples, channels))
    peak = np.abs(x).max(axis=0, keepdims=True)
    return x / np.where(peak > 0, peak, 1.0)


def make_signal(samples: int, channels: int, bits: int, seed: int = 0) -> np.ndarray:
    """A realistic integer test signal that uses the full range of ``bits``.

    Parameters
    ----------
    samples, channels : int
        Shape of the result, ``(samples, channels)``; samples >= 1.
    bits : {8, 16, 24, 32}
        Bit depth.
    seed : int
        Random seed; the same arguments give the same signal.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples, channels)``. bits 8: uint8 offset binary (as WAV
        holds it, 128 = silence, 0..255); 16: int16; 24: int32 within
        [-2**23, 2**23 - 1]; 32: int32. Every channel reaches the maximum and,
        when it has at least 2 samples, the minimum of the range.
    """
    if bits not in (8, 16, 24, 32):
        raise ValueError(f"bits must be 8, 16, 24 or 32, not {bits}")
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    x = _float_signal(samples, channels, seed)
    v = np.clip(np.round(x * (hi + 0.5) - 0.5), lo, hi).astype(np.int64)
    v[np.argmax(x, axis=0), np.arange(channels)] = hi
    if samples >= 2:
        v[np.argmin(x, axis=0), np.arange(channels)] = lo
    if bits == 8:
        return (v + 128).astype(np.uint8)
    return v.astype(np.int16 if bits == 16 else np.int32)


def make_float_signal(samples: int, channels: int, seed: int = 0, dtype: Any = np.float32) -> np.ndarray:
    """A float test signal in [-1, 1] of shape ``(samples, channels)`` (float32 by default)."""
    return (_float_signal(samples, channels, seed) * 0.99).astype(dtype)


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "octagonal"}.get(
        channels, f"{channels}c"
    )


def _as_2d(data: np.ndarray) -> np.ndarray:
    return data.reshape(-1, 1) if data.ndim == 1 else data


def _to_float(data: np.ndarray, bits: int) -> np.ndarray:
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    if data.dtype == np.uint8:
        return ((data.astype(np.float32) - 128) / 128).astype(np.float32)
    return (data.astype(np.float64) / 2 ** (bits - 1)).astype(np.float32)


def _prepare(data: np.ndarray, codec: str, bits: int) -> tuple[np.ndarray, str]:
    """Convert ``data`` to an array and sample format the encoder accepts."""
    formats = [f.name for f in av.codec.Codec(codec, "w").audio_formats or []]
    kind = data.dtype.kind
    if kind in "iu" and data.dtype != np.uint8 and bits < data.dtype.itemsize * 8:
        data = (data.astype(np.int64) << (data.dtype.itemsize * 8 - bits)).astype(data.dtype)
    wanted = {"u1": "u8", "i2": "s16", "i4": "s32", "f4": "flt", "f8": "dbl"}[data.dtype.str[1:]]
    for name in (wanted, wanted + "p"):
        if name in formats:
            return data, name
    for name in ("fltp", "flt"):
        if name in formats:
            return _to_float(data, bits), name
    raise ValueError(f"{codec} takes none of {wanted}, flt, fltp (it takes {formats})")


def _default_codec(container: str, data: np.ndarray, bits: int) -> str:
    if container in _DEFAULT_LOSSY:
        return _DEFAULT_LOSSY[container]
    if container == "flac" or (container == "mkv" and data.dtype.kind in "iu"):
        return "flac"
    if container == "mkv":
        return "aac"
    if data.dtype == np.uint8:
        return "pcm_u8"
    if data.dtype.kind == "f":
        return "pcm_f32le" if data.dtype == np.float32 else "pcm_f64le"
    return {16: "pcm_s16le", 24: "pcm_s24le", 32: "pcm_s32le"}[bits]


def _add_video(container: Any, codec: str | None = None) -> Any:
    name = codec or ("libx264" if "libx264" in av.codecs_available else "mpeg4")
    stream = container.add_stream(name, rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    return stream


def _encode_video(container: Any, stream: Any, frames: int) -> None:
    for i in range(frames):
        img = np.full((48, 64, 3), (i * 37) % 256, np.uint8)
        img[: 8 + i, :] = 255 - img[0, 0]
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, 10)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_audio_file(
    path: str | os.PathLike[str],
    data: np.ndarray,
    samplerate: int,
    container: str,
    codec: str | None = None,
    *,
    bits: int | None = None,
    video: bool | None = None,
    bit_rate: int | None = None,
    codec_options: Mapping[str, str] | None = None,
    container_options: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    frame_samples: int = 4096,
) -> None:
    """Write ``data`` to ``path`` with PyAV.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    data : numpy.ndarray
        ``(samples,)`` or ``(samples, channels)``: uint8 (offset binary),
        int16, int32 (holding ``bits`` bits), float32 or float64 in [-1, 1].
    samplerate : int
        Hz.
    container : {"wav", "flac", "mp3", "ogg", "opus", "m4a", "aac", "mp4", "mkv"}
        "ogg" writes Vorbis (FFmpeg's native, experimental encoder, stereo
        only: libvorbis is not in PyAV's FFmpeg), "opus" Ogg
        Opus, "aac" raw ADTS; "mp4" and "mkv" add a small video stream unless
        ``video=False``.
    codec : str, optional
        PyAV encoder name. Defaults: wav: pcm_u8 / pcm_s16le / pcm_s24le /
        pcm_s32le / pcm_f32le / pcm_f64le from the dtype and ``bits``; flac:
        flac; mp3: libmp3lame; ogg: vorbis; opus: libopus; m4a and mp4: aac;
        mkv: flac for integers, aac for floats.
    bits : int, optional
        Bit depth of integer data (default: the dtype's width, except 24 for
        int32 data going to flac or alac, whose FFmpeg encoders write 24 bits
        from s32). 24-bit data is given as int32 values within 24 bits; it is
        left-justified for encoders that expect it (pcm_s24le, flac, alac).
        Values outside ``bits`` raise ValueError.
    bit_rate : int, optional
        Bits per second for lossy encoders.
    codec_options : mapping, optional
        Extra ``codec_context.options`` (``{"strict": "experimental"}`` is
        always set for vorbis).
    container_options : mapping, optional
        Muxer options, e.g. ``{"write_xing": "0"}`` for mp3.
    tags : mapping, optional
        Container metadata (Ogg writes it as the stream's comments).
    frame_samples : int
        Samples per frame handed to the encoder (PyAV re-frames as needed).
    """
    data = _as_2d(np.asarray(data))
    kind = CONTAINER_FORMATS[container]
    nbits = bits or (8 if data.dtype == np.uint8 else data.dtype.itemsize * 8)
    codec = codec or _default_codec(container, data, nbits)
    if bits is None and data.dtype == np.int32 and codec in ("flac", "alac"):
        nbits = 24  # what FFmpeg's flac and alac encoders write from s32 by default
    if data.dtype.kind in "iu" and data.dtype != np.uint8 and data.size:
        lo, hi = int(data.min()), int(data.max())
        if lo < -(2 ** (nbits - 1)) or hi > 2 ** (nbits - 1) - 1:
            raise ValueError(f"values {lo}..{hi} do not fit in {nbits} bits ({codec})")
    arr, sample_format = _prepare(data, codec, nbits)
    channels = arr.shape[1]
    with_video = container in ("mp4", "mkv") if video is None else video
    with av.open(os.fspath(path), "w", format=kind, options=dict(container_options or {})) as out:
        if tags:
            out.metadata.update(tags)
        vstream = _add_video(out) if with_video else None
        stream = out.add_stream(codec, rate=samplerate)
        cc = stream.codec_context
        cc.layout = _layout(channels)
        cc.format = sample_format
        options = dict(codec_options or {})
        if codec == "vorbis":
            options.setdefault("strict", "experimental")
        if options:
            cc.options = options
        if bit_rate:
            cc.bit_rate = bit_rate
        planar = sample_format.endswith("p")
        for start in range(0, arr.shape[0], frame_samples):
            part = arr[start : start + frame_samples]
            nd = np.ascontiguousarray(part.T if planar else part.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(nd, format=sample_format, layout=cc.layout)
            frame.sample_rate = samplerate
            frame.pts, frame.time_base = start, Fraction(1, samplerate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if vstream is not None:
            seconds = arr.shape[0] / samplerate
            _encode_video(out, vstream, max(3, min(20, int(seconds * 10) + 1)))


def write_video_file(path: str | os.PathLike[str], container: str = "mp4", frames: int = 5) -> None:
    """Write a small video file with no audio stream ("mp4" or "mkv")."""
    with av.open(os.fspath(path), "w", format=CONTAINER_FORMATS[container]) as out:
        _encode_video(out, _add_video(out), frames)


def decode_with_pyav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Decode the best audio stream of a file in one go: ``(samples, channels)`` array, rate.

    The reference decode for tests: frames' ``to_ndarray`` concatenated, in
    the decoder's own dtype (float32 for lossy codecs, int16/int32 left-justified,
    uint8 ...). Fewer than 8 channels only (PyAV 18.1 ``to_ndarray`` bug).
    """
    with av.open(os.fspath(path)) as c:
        stream = c.streams.best("audio")
        parts = []
        for frame in c.decode(stream):
            a = frame.to_ndarray()
            ch = frame.layout.nb_channels
            parts.append(a.T if frame.format.is_planar else a.reshape(-1, ch))
        return np.concatenate(parts), stream.rate


# ----------------------------------------------------------------------------- hand-made WAV files


def chunk(cid: bytes, body: bytes, *, pad: bool = True, size: int | None = None) -> bytes:
    """One RIFF chunk: id, little-endian size (``size`` overrides), body, pad byte if odd."""
    assert len(cid) == 4
    declared = len(body) if size is None else size
    return cid + struct.pack("<I", declared) + body + (b"\0" if pad and len(body) % 2 else b"")


def guano_chunk(fields: Mapping[str, str] | Iterable[tuple[str, str]], *, newline: str = "\n") -> bytes:
    """A ``guan`` chunk holding ``key: value`` lines (UTF-8)."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    text = newline.join(f"{k}: {v}" for k, v in items)
    return chunk(b"guan", text.encode("utf-8"))


def bext_chunk(
    *,
    description: bytes = b"",
    originator: bytes = b"",
    originator_reference: bytes = b"",
    date: bytes = b"",
    time: bytes = b"",
    time_reference: int = 0,
    version: int = 2,
    umid: bytes = b"",
    loudness: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
    coding_history: bytes = b"",
) -> bytes:
    """A Broadcast Wave ``bext`` chunk per EBU Tech 3285 (602 fixed bytes + coding history)."""
    body = (
        description.ljust(256, b"\0")[:256]
        + originator.ljust(32, b"\0")[:32]
        + originator_reference.ljust(32, b"\0")[:32]
        + date.ljust(10, b"\0")[:10]
        + time.ljust(8, b"\0")[:8]
        + struct.pack("<IIH", time_reference & 0xFFFFFFFF, time_reference >> 32, version)
        + umid.ljust(64, b"\0")[:64]
        + struct.pack("<5h", *loudness)
        + b"\0" * 180
        + coding_history
    )
    assert len(body) == 602 + len(coding_history)
    return chunk(b"bext", body)


def info_list(entries: Mapping[str, bytes]) -> bytes:
    """A ``LIST`` chunk of type ``INFO`` with the given entries (bytes written as is, NUL added)."""
    body = b"INFO" + b"".join(chunk(k.encode("ascii"), v + b"\0") for k, v in entries.items())
    return chunk(b"LIST", body)


def wav_bytes(
    data: np.ndarray,
    samplerate: int,
    *,
    bits: int | None = None,
    format_tag: int | None = None,
    before: Iterable[bytes] = (),
    after: Iterable[bytes] = (),
    data_size: int | None = None,
    form: bytes = b"RIFF",
    truncate: int | None = None,
) -> bytes:
    """A WAV file built by hand.

    Parameters
    ----------
    data : numpy.ndarray
        ``(samples, channels)`` uint8, int16, int32 (``bits`` 24 writes 3 bytes
        per sample), float32 or float64.
    samplerate : int
        Hz.
    bits : int, optional
        Bits per sample (default: the dtype's width).
    format_tag : int, optional
        fmt format tag (default 1 for integers, 3 for floats).
    before, after : iterable of bytes
        Complete chunks (see :func:`chunk`) placed before / after ``data``.
    data_size : int, optional
        Size written in the ``data`` header (default: the true size); RF64
        files get 0xFFFFFFFF here and the value in ``ds64``.
    form : bytes
        ``b"RIFF"``, ``b"RF64"`` or ``b"BW64"``.
    truncate : int, optional
        Cut the file to this many bytes.
    """
    data = _as_2d(np.asarray(data))
    channels = data.shape[1]
    nbits = bits or (8 if data.dtype == np.uint8 else data.dtype.itemsize * 8)
    if nbits == 24:
        raw = data.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raw = data.astype(data.dtype.newbyteorder("<")).tobytes()
    width = nbits // 8
    tag = format_tag if format_tag is not None else (3 if data.dtype.kind == "f" else 1)
    fmt = struct.pack(
        "<HHIIHH", tag, channels, samplerate, samplerate * channels * width, channels * width, nbits
    )
    real_size = len(raw) if data_size is None else data_size
    header_size = 0xFFFFFFFF if form != b"RIFF" else real_size
    rest = chunk(b"fmt ", fmt) + b"".join(before) + chunk(b"data", raw, size=header_size) + b"".join(after)
    if form == b"RIFF":
        body = b"WAVE" + rest
        riff_size = len(body)
    else:
        riff64 = 4 + 8 + 28 + len(rest)
        body = b"WAVE" + chunk(b"ds64", struct.pack("<QQQI", riff64, real_size, data.shape[0], 0)) + rest
        riff_size = 0xFFFFFFFF
    out = form + struct.pack("<I", riff_size) + body
    return out[:truncate] if truncate is not None else out


def write_wav(path: str | os.PathLike[str], data: np.ndarray, samplerate: int, **kwargs: Any) -> None:
    """Write :func:`wav_bytes` to ``path``."""
    with open(path, "wb") as f:
        f.write(wav_bytes(data, samplerate, **kwargs))


def make_bad_file(tmp_path: Path, what: str) -> Path:
    """Create a bad input file of kind ``what`` in ``tmp_path`` (kinds: BAD_FILES in test_sources)."""
    data = make_signal(20_000, 2, 16, seed=5)
    if what == "missing":
        return tmp_path / "missing.wav"
    if what == "folder":
        (tmp_path / "folder.wav").mkdir()
        return tmp_path / "folder.wav"
    names = {
        "video-mp4": "video.mp4",
        "video-mkv": "video.mkv",
        "text-txt": "notes.txt",
        "text-wav": "notes.wav",
    }
    path = tmp_path / names.get(what, f"{what}.bin")
    if what == "empty":
        path.write_bytes(b"")
    elif what == "random":
        path.write_bytes(np.random.default_rng(1).bytes(50_000))
    elif what == "random-wav-header":
        path.write_bytes(b"RIFF\x00\x01\x00\x00WAVE" + np.random.default_rng(2).bytes(5000))
    elif what.startswith("text"):
        path.write_text("time,lat,lon\n" + "12:00,47.6,-122.3\n" * 500)
    elif what == "one-byte":
        path.write_bytes(b"\x00")
    elif what == "truncated-wav":
        path.write_bytes(wav_bytes(data, 8000, truncate=44 + 4 * 12_345 + 2))
    elif what == "truncated-wav-size":
        path.write_bytes(wav_bytes(data, 8000, data_size=4 * 30_000))
    elif what == "wav-no-samples":
        path.write_bytes(wav_bytes(data[:0], 8000))
    elif what.startswith("truncated-flac"):
        full = tmp_path / "full.flac"
        write_audio_file(full, make_signal(50_000, 2, 24, seed=5), 48000, "flac", bits=24)
        blob = full.read_bytes()
        cut = {
            "truncated-flac": len(blob) // 2,
            "truncated-flac-end": len(blob) - 1,
            "truncated-flac-frame": blob.rfind(b"\xff\xf8"),  # the start of the last frame
        }[what]
        path.write_bytes(blob[:cut])
    elif what in ("video-mp4", "video-mkv"):
        write_video_file(path, what[-3:])
    elif what in ("rate-change", "channel-change"):
        one = tmp_path / "one.aac"
        two = tmp_path / "two.aac"
        write_audio_file(one, data[:, :1], 44100, "aac")
        if what == "rate-change":
            write_audio_file(two, data[:, :1], 48000, "aac")
        else:
            write_audio_file(two, data, 44100, "aac")
        path.write_bytes(one.read_bytes() + two.read_bytes())
    else:
        raise AssertionError(what)
    return path
