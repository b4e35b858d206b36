"""Codecs by id: the registry that turns a stored codec config back into a codec.

The archive stores each stream's ``codec.get_config()``; :func:`get_codec` rebuilds
the codec from it. A codec class is added with :func:`register_codec` (usable as a
class decorator); ``wildzarr.codecs`` registers the built-in codecs on import.
"""

from __future__ import annotations

from typing import Any

from wildzarr.codecs.base import Codec
from wildzarr.errors import ArgumentError

__all__ = ["codec_ids", "get_codec", "register_codec"]

_CODECS: dict[str, type[Codec]] = {}


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Register a codec class under its ``codec_id``; returns the class.

    Registering the same class again does nothing.

    Raises
    ------
    TypeError
        If ``cls`` is not a :class:`Codec` subclass with a string ``codec_id``.
    ValueError
        If another class is already registered under the same id.
    """
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise TypeError(f"only Codec subclasses can be registered, not {cls!r}")
    codec_id = getattr(cls, "codec_id", None)
    if not isinstance(codec_id, str) or not codec_id:
        raise TypeError(f"{cls.__name__} has no codec_id string")
    existing = _CODECS.get(codec_id)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"codec id {codec_id!r} is already registered to {existing.__module__}.{existing.__qualname__}"
        )
    _CODECS[codec_id] = cls
    return cls


def codec_ids() -> tuple[str, ...]:
    """The registered codec ids, sorted."""
    return tuple(sorted(_CODECS))


def get_codec(name_or_config: str | dict[str, Any], **params: Any) -> Codec:
    """Build a codec from its id and parameters, or from a ``get_config()`` dict.

    Parameters
    ----------
    name_or_config : str or dict
        A codec id such as ``"flac"``, or a config with an ``"id"`` key.
    **params
        Codec parameters; they override those of a config.

    Returns
    -------
    Codec

    Raises
    ------
    ArgumentError
        (a ValueError) If the id is unknown (the message lists the known ids),
        a config has no ``"id"``, or the parameters are invalid for the codec.
    """
    if isinstance(name_or_config, str):
        codec_id, config = name_or_config, {}
    elif isinstance(name_or_config, dict):
        if "id" not in name_or_config:
            raise ArgumentError(f"a codec config needs an 'id' key: {name_or_config!r}")
        codec_id = name_or_config["id"]
        config = {k: v for k, v in name_or_config.items() if k != "id"}
    else:
        raise ArgumentError(f"a codec is given by its id or config dict, not {type(name_or_config).__name__}")
    cls = _CODECS.get(codec_id) if isinstance(codec_id, str) else None
    if cls is None:
        known = ", ".join(repr(k) for k in codec_ids()) or "none"
        raise ArgumentError(f"unknown codec id {codec_id!r}; known ids: {known}")
    try:
        return cls.from_config({"id": codec_id, **config, **params})
    except TypeError as exc:  # an unexpected or missing keyword
        raise ArgumentError(f"invalid parameters for codec {codec_id!r}: {exc}") from exc
