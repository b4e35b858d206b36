"""The default ``"spectrogram"`` output: a dB full-scale magnitude spectrogram by :func:`torch.stft`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wildzarr.errors import ArgumentError

__all__ = ["Spectrogram"]


@dataclass(frozen=True)
class Spectrogram:
    """Magnitude spectrogram in dB full scale, by :func:`torch.stft` with a periodic Hann window.

    Called on float32 audio of shape ``(..., samples)`` (a batch ``(batch,
    channels, samples)`` or one item ``(channels, samples)``), returns float32
    of shape ``(..., n_fft // 2 + 1, frames)`` with ``frames = 1 + samples //
    hop_length`` (``center=True``, reflect padding: the defaults of
    :func:`torch.stft`, PyTorch documentation). Values are ``20 * log10(2 *
    |X| / sum(window))``: a full-scale sine centred on a frequency bin reads
    0 dB there (a periodic Hann window sums to ``n_fft / 2``); values below
    ``floor_db`` are raised to it.

    Attributes
    ----------
    n_fft : int
        FFT length in samples (the window length); frequency bins are
        ``k * samplerate / n_fft`` Hz, ``k = 0 ... n_fft // 2``.
    hop_length : int, optional
        Samples between frames (default ``n_fft // 4``).
    floor_db : float
        The lowest value returned, in dB.
    """

    n_fft: int = 512
    hop_length: int | None = None
    floor_db: float = -120.0

    def __post_init__(self) -> None:
        if isinstance(self.n_fft, bool) or not isinstance(self.n_fft, int) or self.n_fft < 2:
            raise ArgumentError(f"Spectrogram: n_fft must be an integer >= 2, not {self.n_fft!r}")
        if self.hop_length is not None and (
            isinstance(self.hop_length, bool) or not isinstance(self.hop_length, int) or self.hop_length < 1
        ):
            raise ArgumentError(
                f"Spectrogram: hop_length must be a positive integer, not {self.hop_length!r}"
            )

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """The spectrogram of ``audio`` (float32 ``(..., samples)``, more than ``n_fft // 2`` samples)."""
        hop = self.hop_length or self.n_fft // 4
        window = torch.hann_window(self.n_fft, dtype=audio.dtype, device=audio.device)
        flat = audio.reshape(-1, audio.shape[-1])
        stft = torch.stft(flat, self.n_fft, hop_length=hop, window=window, center=True, return_complex=True)
        magnitude = stft.abs() * (2.0 / float(window.sum()))
        db = 20.0 * torch.log10(magnitude.clamp_min(10.0 ** (self.floor_db / 20.0)))
        return db.reshape(*audio.shape[:-1], *db.shape[-2:])
