"""Codecs: how samples become a byte stream of independently located frames and back.

See :mod:`wildzarr.codecs.base` for the contract every codec implements and
:mod:`wildzarr.codecs.registry` for looking codecs up by id.
"""

from wildzarr.codecs.base import AudioDigest, Codec, FrameDecoder, StreamLayout
from wildzarr.codecs.flac import FlacCodec
from wildzarr.codecs.registry import codec_ids, get_codec, register_codec

register_codec(FlacCodec)

__all__ = [
    "AudioDigest",
    "Codec",
    "FlacCodec",
    "FrameDecoder",
    "StreamLayout",
    "codec_ids",
    "get_codec",
    "register_codec",
]
