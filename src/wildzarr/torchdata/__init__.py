"""PyTorch datasets of archive clips: exact audio, spectrograms, labels, masks and metadata.

:class:`ClipDataset` is a map-style :class:`torch.utils.data.Dataset` over a clip
table (``recording``, ``start``, ``stop`` in samples, one 0/1 column per class:
:class:`wildzarr.clips.Clips` makes one, ``clips.torch(...)`` wraps it). A
:class:`~torch.utils.data.DataLoader` with automatic batching calls
:meth:`ClipDataset.__getitems__` with the indices of a batch (torch's batched
fetch protocol: ``torch.utils.data._utils.fetch._MapDatasetFetcher`` calls
``dataset.__getitems__(indices)`` when the dataset defines it and hands the list
of items it returns to ``collate_fn``); the whole batch, time-jittered ranges and
background clips included, is one :meth:`wildzarr.Archive.read_many` call into
one preallocated array. Datasets without ``__getitems__`` around it
(:class:`torch.utils.data.ConcatDataset` in torch 2.13) fetch item by item
through :meth:`ClipDataset.__getitem__`, with the same results.

The dataset pickles as the archive's location, the clip table and the options
(no zarr objects, locks or open files), and opens the archive once per process,
on first use: a DataLoader worker started by ``spawn`` or ``forkserver`` opens
its own, and a worker forked from a process that had used the dataset sees
another process id and opens its own too.

Importing this module needs PyTorch (``pip install "wildzarr[torch]"``);
``import wildzarr`` never imports it.

The modules: :mod:`~wildzarr.torchdata.dataset` (:class:`ClipDataset`),
:mod:`~wildzarr.torchdata.table` and :mod:`~wildzarr.torchdata.options` (the
clip table and the options, checked), :mod:`~wildzarr.torchdata.opened` (the
archive opened once per process), :mod:`~wildzarr.torchdata.augment` (seeded
jitter, gain and background mixing), :mod:`~wildzarr.torchdata.spectrogram`
(:class:`Spectrogram`), :mod:`~wildzarr.torchdata.outputs` (labels and masks)
and :mod:`~wildzarr.torchdata.meta` (the ``meta`` output).
"""

from __future__ import annotations

from wildzarr.errors import MissingDependencyError

try:
    import torch  # noqa: F401  (every module of this package needs it)
except ImportError as exc:
    raise MissingDependencyError('wildzarr.torchdata needs PyTorch: pip install "wildzarr[torch]"') from exc

from wildzarr.torchdata.dataset import ClipDataset
from wildzarr.torchdata.options import OUTPUTS, TARGETS
from wildzarr.torchdata.spectrogram import Spectrogram

# A pickle names a class by its __module__ (a dataset sent to a DataLoader worker, the Spectrogram it
# holds): keep the names they had before this module became a package.
ClipDataset.__module__ = __name__
Spectrogram.__module__ = __name__

__all__ = ["OUTPUTS", "TARGETS", "ClipDataset", "Spectrogram"]
