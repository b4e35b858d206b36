"""The codec choice of an import: ``codec="auto"`` (the default) or a codec the user names.

:func:`choose_codec` turns the ``codec`` argument of :meth:`wildzarr.Archive.add`
and the facts of the source into a :class:`CodecChoice`: the codec that encodes
the decoded samples, the codecs that may first try to keep the source's own
compressed frames (:meth:`~wildzarr.codecs.base.Codec.keep`), and the reason,
which the recording's technical metadata records (``info.codec_choice``).

The automatic rules (docs/codecs.md, "Which codec"):

- a lossy source whose frames a registered codec can keep as they are, with
  sample-exact reads (MP3; AAC-LC in m4a, mp4, ADTS, coded without perceptual
  noise substitution), keeps them: no second lossy generation;
- another lossy source (Vorbis, Opus, HE-AAC, AAC with PNS ...) is decoded and its
  floats stored as 16-bit FLAC (:data:`LOSSY_CODEC`): the rounding adds noise at
  about -101 dB of full scale, far below the coding noise of any lossy codec, so
  nothing audible is lost beyond the source's own coding, at half the size of
  24 bits (docs/codecs.md has the figures);
- integer PCM up to 32 bits is stored as FLAC (several FLAC streams of at
  most 8 channels when there are more channels);
- floating-point PCM and 64-bit integers are stored as entropy-coded numpy,
  bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wildzarr.codecs.base import Codec
from wildzarr.codecs.registry import codec_ids, get_codec
from wildzarr.errors import ArgumentError
from wildzarr.sources.base import SourceFormat

__all__ = ["AUTO", "LOSSY_CODEC", "CodecChoice", "choose_codec"]

#: The codec argument that asks for the automatic choice.
AUTO = "auto"
#: How lossy sources whose frames cannot be kept are stored: decoded floats
#: quantized to 16 bits (rounding noise about -101 dB of full scale, far below
#: the coding noise of any lossy codec) in lossless FLAC.
LOSSY_CODEC: dict[str, Any] = {"id": "flac", "float_bits": 16}


@dataclass(frozen=True)
class CodecChoice:
    """How one import stores its source.

    Attributes
    ----------
    codec : Codec
        Encodes the decoded samples when no codec keeps the source's frames.
    reason : str
        Why, for the technical metadata (``"automatic: integer PCM -> FLAC, lossless"``).
    keepers : tuple of Codec
        Codecs asked, in order, to keep the source's own frames first.
    automatic : bool
        True for ``codec="auto"``.
    """

    codec: Codec
    reason: str
    keepers: tuple[Codec, ...]
    automatic: bool

    def kept_reason(self, keeper: Codec, source_codec: str | None) -> str:
        """The reason recorded when ``keeper`` kept the source's frames."""
        prefix = "automatic" if self.automatic else "chosen"
        return (
            f"{prefix}: the source's {source_codec} frames kept as they are ({keeper.codec_id}), "
            "no new lossy generation"
        )


def choose_codec(
    codec: str | dict[str, Any] | Codec, params: dict[str, Any], fmt: SourceFormat
) -> CodecChoice:
    """The codec choice for a source of format ``fmt``.

    Parameters
    ----------
    codec : str, dict or Codec
        ``"auto"``, a registered codec id, a codec config dict or a Codec.
    params : dict
        Codec parameters given as keywords (not allowed with ``"auto"`` or a Codec).
    fmt : SourceFormat
        The source's facts.

    Returns
    -------
    CodecChoice

    Raises
    ------
    ArgumentError
        For an unknown codec id, invalid parameters, or parameters given with
        ``"auto"`` or beside a Codec instance.
    """
    if codec == AUTO:
        if params:
            raise ArgumentError(f"codec parameters {sorted(params)} need a named codec, not 'auto'")
        return _automatic(fmt)
    chosen = _make_codec(codec, params)
    keepers = (chosen,) if fmt.is_lossy and chosen.lossy else ()
    return CodecChoice(chosen, f"chosen: {chosen.describe_choice()}", keepers, automatic=False)


def _make_codec(codec: str | dict[str, Any] | Codec, params: dict[str, Any]) -> Codec:
    if isinstance(codec, Codec):
        if params:
            raise ArgumentError("give codec parameters either in the Codec object or as keywords, not both")
        return codec
    try:
        return get_codec(codec, **params)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"codec {codec!r}: {exc}") from None


def _automatic(fmt: SourceFormat) -> CodecChoice:
    if fmt.is_lossy:
        keepers = tuple(c for c in (get_codec(i) for i in codec_ids()) if type(c).keep is not Codec.keep)
        codec = get_codec(LOSSY_CODEC)
        reason = (
            f"automatic: lossy {fmt.codec} source decoded and stored as 16-bit FLAC "
            "(no codec keeps its frames with sample-exact reads; rounding noise about -101 dBFS)"
        )
        return CodecChoice(codec, reason, keepers, automatic=True)
    audio = fmt.audio
    if audio.kind == "float":
        return CodecChoice(get_codec("npy"), f"automatic: {audio.dtype} PCM -> npy, bit-exact", (), True)
    if audio.bits_per_sample > 32:
        return CodecChoice(
            get_codec("npy"), f"automatic: {audio.bits_per_sample}-bit integers -> npy, bit-exact", (), True
        )
    flac = get_codec("flac")
    streams = (
        ""
        if flac.max_channels is None or audio.channels <= flac.max_channels
        else (
            f" in {-(-audio.channels // flac.max_channels)} streams of at most {flac.max_channels} channels"
        )
    )
    return CodecChoice(
        flac, f"automatic: {audio.bits_per_sample}-bit integer PCM -> FLAC{streams}, lossless", (), True
    )
