"""Codecs: how samples become a byte stream of independently located frames and back.

See :mod:`wildzarr.codecs.base` for the contract every codec implements,
:mod:`wildzarr.codecs.registry` for looking codecs up by id and
:mod:`wildzarr.codecs.auto` for the automatic choice. Adding a codec is one
module, one ``register_codec`` line below and one line in
``tests/codec_checks.py``.
"""

from wildzarr.codecs.aac import AacCodec
from wildzarr.codecs.base import AudioDigest, Codec, Encoded, FrameDecoder, ScannedStream
from wildzarr.codecs.flac import FlacCodec
from wildzarr.codecs.mp3 import Mp3Codec
from wildzarr.codecs.npy import NpyCodec
from wildzarr.codecs.registry import codec_ids, get_codec, register_codec

register_codec(AacCodec)
register_codec(FlacCodec)
register_codec(Mp3Codec)
register_codec(NpyCodec)

__all__ = [
    "AacCodec",
    "AudioDigest",
    "Codec",
    "Encoded",
    "FlacCodec",
    "FrameDecoder",
    "Mp3Codec",
    "NpyCodec",
    "ScannedStream",
    "codec_ids",
    "get_codec",
    "register_codec",
]
