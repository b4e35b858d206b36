"""Make the figures of the documentation from the real corpus.

Run from anywhere (needs the ``docs`` extra: matplotlib)::

    python docs/figures.py                       # the corpus in ../shared, beside the project
    python docs/figures.py --corpus /data/shared

It writes into ``docs/figures/``:

- ``bat_call.png``: spectrogram of bat echolocation calls (``audio/bat_batlogger_312k_guano.wav``) with
  the boxes of an energy detector (this script's :func:`detect_calls`), stored as an annotation set and
  read back from it;
- ``raven_chronister.png``: spectrogram of ``annotations/raven_chronister/...-snippet.wav`` with the
  selections of its Raven Pro table, imported with ``AnnotationSet.read_raven``;
- ``catalog.png``: the catalog of the archive of the tutorial's first two steps (``Archive.catalog()``);
- ``timeline.png``: the OSEkit hydrophone files read back by UTC time (``Archive.read_time``) and the
  Song Meter SM4 files on their local clock.

Everything is read through wildzarr: the corpus is imported into archives in a temporary folder,
which is deleted at the end. The figures are committed, so the site builds without the corpus.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.patches import Rectangle
from matplotlib.table import Table

import wildzarr

HERE = Path(__file__).resolve().parent
OUT = HERE / "figures"
CORPUS = HERE.parent.parent / "shared"

BAT = "bat_batlogger_312k_guano.wav"
RAVEN_WAV = "Recording_1_Segment_07-snippet.wav"
RAVEN_TABLE = "Recording_1_Segment_07.Table.1.selections.txt"
#: The taxon of each recording as the tutorial sets it (docs/tutorial.md, step 2): by file name.
TAXON = {RAVEN_WAV: "bird", "spinetail.wav": "bird", "multich_5ch_192k_speaker_playback.wav": "loudspeaker"}

#: The energy detector: STFT of DETECT_FFT samples every DETECT_HOP samples; a frame is part of a
#: call when at least DETECT_BINS frequency bins between DETECT_BAND Hz lie DETECT_DB above their
#: frequency's median level over the whole recording; frames closer than DETECT_GAP_S are one call;
#: calls shorter than DETECT_MIN_S are dropped. Tuned by eye on the batlogger recording only.
DETECT_FFT, DETECT_HOP = 256, 32
DETECT_BAND = (15_000.0, 150_000.0)
DETECT_DB = 15.0
DETECT_BINS = 12
DETECT_GAP_S = 0.001
DETECT_MIN_S = 0.001
DPI = 110


def by_name(arc: wildzarr.Archive, name: str) -> wildzarr.Recording:
    """The recording imported from the file called ``name``."""
    (rid,) = arc.query(f"`source.name` == '{name}'")
    return arc[rid]


def spectrogram(
    x: np.ndarray, rate: float, n_fft: int, hop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Magnitude spectrogram in dB full scale of float samples ``x`` (one channel, in [-1, 1)).

    Periodic Hann window, no padding: frame ``k`` covers samples ``[k * hop, k * hop + n_fft)``.
    ``20 * log10(2 * |X| / sum(window))``: a full-scale sine on a bin reads 0 dB.

    Returns
    -------
    (db, freqs, starts)
        ``db`` of shape ``(n_fft // 2 + 1, frames)``; ``freqs`` in Hz; ``starts``: each frame's first sample.
    """
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), n_fft)[::hop] * window
    magnitude = np.abs(np.fft.rfft(frames, axis=1)).T * 2 / window.sum()
    db = 20 * np.log10(np.maximum(magnitude, 1e-10))
    return db, np.fft.rfftfreq(n_fft, 1 / rate), np.arange(frames.shape[0]) * hop


def show_spectrogram(
    ax: Axes,
    db: np.ndarray,
    freqs: np.ndarray,
    starts: np.ndarray,
    rate: float,
    n_fft: int,
    *,
    time_scale: float,
    offset: int = 0,
    freq_scale: float = 1000.0,
    dynamic_range: float = 70.0,
) -> QuadMesh:
    """Draw ``db`` with time ``(offset + sample) / rate * time_scale`` at each frame's centre."""
    centres = (offset + starts + n_fft / 2) / rate * time_scale
    top = float(db.max())
    return ax.pcolormesh(
        centres,
        freqs / freq_scale,
        db,
        shading="nearest",
        cmap="magma",
        vmin=top - dynamic_range,
        vmax=top,
        rasterized=True,
    )


def detect_calls(x: np.ndarray, rate: float) -> pd.DataFrame:
    """Boxes around loud broadband sounds: ``start``, ``stop`` (samples), ``low_freq``, ``high_freq`` (Hz).

    The energy detector described by the ``DETECT_*`` constants. A call's frequency range spans the
    bins that lie ``DETECT_DB`` above their median in at least two of its frames.
    """
    db, freqs, starts = spectrogram(x, rate, DETECT_FFT, DETECT_HOP)
    excess = db - np.median(db, axis=1, keepdims=True)
    band = (freqs >= DETECT_BAND[0]) & (freqs <= DETECT_BAND[1])
    active = (excess > DETECT_DB) & band[:, None]
    loud = np.flatnonzero(active.sum(axis=0) >= DETECT_BINS)
    if loud.size == 0:
        return pd.DataFrame(columns=["start", "stop", "low_freq", "high_freq"])
    breaks = np.flatnonzero(np.diff(loud) * DETECT_HOP > DETECT_GAP_S * rate)
    rows = []
    for first, last in zip(loud[np.r_[0, breaks + 1]], loud[np.r_[breaks, loud.size - 1]], strict=True):
        start, stop = int(starts[first]), int(starts[last]) + DETECT_FFT
        bins = freqs[active[:, first : last + 1].sum(axis=1) >= 2]
        if stop - start >= DETECT_MIN_S * rate and bins.size:
            rows.append((start, min(stop, x.size), float(bins.min()), float(bins.max())))
    return pd.DataFrame(rows, columns=["start", "stop", "low_freq", "high_freq"])


def boxes(
    ax: Axes,
    ann: pd.DataFrame,
    rate: float,
    time_scale: float,
    colors: dict[str, str],
    *,
    text: bool = True,
    freq_scale: float = 1000.0,
) -> None:
    """Draw annotation rows (samples, Hz) as boxes on a spectrogram axis, labelled inside their top right."""
    for row in ann.itertuples():
        x0, x1 = row.start / rate * time_scale, row.stop / rate * time_scale
        y0, y1 = row.low_freq / freq_scale, row.high_freq / freq_scale
        color = colors[row.label]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=color, linewidth=1.6))
        if text:
            ax.text(
                x1,
                y1,
                row.label,
                color=color,
                fontsize=8,
                fontweight="bold",
                va="top",
                ha="right",
                clip_on=True,
                bbox={"facecolor": "black", "alpha": 0.55, "pad": 1.0, "linewidth": 0},
            )


# -- archives ---------------------------------------------------------------------------------------


def corpus_archive(corpus: Path, folder: Path) -> wildzarr.Archive:
    """The archive of the tutorial's first two steps: the audio corpus and the two annotated recordings."""
    arc = wildzarr.open(folder / "tutorial.zarr", mode="w")
    sources = sorted((corpus / "audio").iterdir()) + sorted(
        p for d in sorted((corpus / "annotations").iterdir()) if d.is_dir() for p in sorted(d.glob("*.wav"))
    )
    for path in sources:
        if path.suffix.lower() in {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4"}:
            name = path.name
            arc.add(path, time_zone="Europe/Paris", user_meta={"taxon": TAXON.get(name, name.split("_")[0])})
    return arc


def deployment_archive(corpus: Path, folder: Path) -> wildzarr.Archive:
    """The timed recordings: OSEkit files named in UTC; Song Meter files named in an unrecorded local time."""
    arc = wildzarr.open(folder / "deployments.zarr", mode="w")
    for path in sorted((corpus / "timed" / "osekit_consecutive").glob("*.wav")):
        arc.add(
            path, filename_time="sample_%y%m%d_%H%M%S", time_zone="UTC", user_meta={"deployment": "osekit"}
        )
    for path in sorted((corpus / "timed" / "sm4").glob("*.wav")):
        arc.add(path, filename_time="%Y%m%d_%H%M%S", user_meta={"deployment": "sm4"})
    return arc


# -- figures ----------------------------------------------------------------------------------------


def figure_bat(arc: wildzarr.Archive, out: Path) -> str:
    """Spectrogram of the batlogger's calls, 2.40 to 2.60 s and one call, with the detector's boxes."""
    rec = by_name(arc, BAT)
    rate = rec.samplerate * rec.time_expansion
    x = rec.read(dtype="float32")[:, 0]
    calls = arc.annotations("bat_calls")
    found = detect_calls(x, rate)
    calls.add(found.assign(recording=rec.id, label="call"))
    ann = calls.df[calls.df["recording"] == rec.id]

    views = [(2400.0, 2600.0, 256, 32), (2446.0, 2466.0, 128, 8)]  # ms, n_fft, hop
    fig, axes = plt.subplots(2, 1, figsize=(9, 7.2), height_ratios=[1, 1])
    for ax, (t0, t1, n_fft, hop) in zip(axes, views, strict=True):
        first, last = int(t0 / 1000 * rate), int(np.ceil(t1 / 1000 * rate))
        db, freqs, starts = spectrogram(x[first:last], rate, n_fft, hop)
        mesh = show_spectrogram(ax, db, freqs, starts, rate, n_fft, time_scale=1000, offset=first)
        inside = ann[(ann["stop"] > first) & (ann["start"] < last)]
        boxes(ax, inside, rate, 1000, {"call": "#00e5ff"}, text=t1 - t0 < 50)  # label the close-up only
        ax.set_xlim(t0, t1)
        ax.set_ylim(0, rate / 2 / 1000)
        ax.set_xlabel("time from the start of the recording (ms)")
        ax.set_ylabel("frequency (kHz)")
        fig.colorbar(mesh, ax=ax, label="level (dB full scale)", pad=0.01)
        ax.set_title(
            f"{t1 - t0:.0f} ms, STFT {n_fft} samples ({n_fft / rate * 1000:.2f} ms, "
            f"{rate / n_fft / 1000:.2f} kHz bins), hop {hop}",
            fontsize=9,
        )
    fig.suptitle(
        f"{BAT}: BATLOGGER S2, {rec.samplerate:,} Hz, 16-bit\n"
        f"boxes: the energy detector of docs/figures.py ({len(ann)} boxes in the {rec.info.duration:.2f} s "
        "recording), labelled call",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return f"{len(ann)} detector boxes, {len(views)} panels"


def figure_raven(arc: wildzarr.Archive, corpus: Path, out: Path) -> str:
    """Spectrogram of the Chronister snippet with its Raven selections."""
    rec = by_name(arc, RAVEN_WAV)
    rate = rec.samplerate * rec.time_expansion
    birds = arc.annotations("birds")
    birds.read_raven(corpus / "annotations" / "raven_chronister" / RAVEN_TABLE, rec.id, out_of_range="drop")
    ann = birds.df[birds.df["recording"] == rec.id]
    x = rec.read(dtype="float32")[:, 0]
    n_fft, hop = 1024, 128
    db, freqs, starts = spectrogram(x, rate, n_fft, hop)
    fig, ax = plt.subplots(figsize=(10, 4.4))
    mesh = show_spectrogram(ax, db, freqs, starts, rate, n_fft, time_scale=1.0, dynamic_range=60.0)
    palette = ["#00e5ff", "#7CFC00", "#ffd700", "#ff69b4", "#ffffff", "#ff8c00"]
    colors = {label: palette[i % len(palette)] for i, label in enumerate(sorted(set(ann["label"])))}
    boxes(ax, ann, rate, 1.0, colors)
    ax.set_xlim(0, rec.samples / rate)
    ax.set_ylim(0, 8.5)
    ax.set_xlabel("time from the start of the recording (s)")
    ax.set_ylabel("frequency (kHz)")
    fig.colorbar(mesh, ax=ax, label="level (dB full scale)", pad=0.01)
    names = {
        "BCCH": "Black-capped Chickadee",
        "EATO": "Eastern Towhee",
        "NOCA": "Northern Cardinal",
        "WOTH": "Wood Thrush",
    }
    handles = [Rectangle((0, 0), 1, 1, fill=False, edgecolor=c, linewidth=1.6) for c in colors.values()]
    ax.legend(
        handles,
        [f"{k}: {names.get(k, k)}" for k in colors],
        loc="upper left",
        fontsize=8,
        ncols=4,
        framealpha=0.85,
    )
    ax.set_title(
        f"{RAVEN_WAV}: {rec.samplerate:,} Hz, the first {rec.samples / rate:.1f} s of a 5-minute recording\n"
        f"with the {len(ann)} selections of its Raven Pro table that lie inside it; "
        f"STFT {n_fft} samples, hop {hop}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return f"{len(ann)} Raven boxes"


def figure_catalog(arc: wildzarr.Archive, out: Path) -> str:
    """The catalog as a table (some of its columns)."""
    cat = arc.catalog()
    start = cat["start_time"].map(lambda t: "" if pd.isna(t) else t.strftime("%Y-%m-%d %H:%M:%S"))
    table = pd.DataFrame(
        {
            "id": cat.index.astype(str),
            "source.name": cat["source.name"],
            "taxon": cat["taxon"],
            "samplerate (Hz)": cat["samplerate"].map("{:,}".format),
            "channels": cat["channels"].astype(str),
            "duration (s)": cat["duration"].map("{:.3f}".format),
            "bits": cat["bits_per_sample"].astype(str),
            "codec": cat["codec"],
            "stored (KiB)": (cat["stored_bytes"] / 1024).map("{:,.0f}".format),
            "start_time (UTC)": start,
        }
    )
    fig, ax = plt.subplots(figsize=(11, 0.25 * (len(table) + 2)))
    ax.axis("off")
    widths = [0.03, 0.29, 0.07, 0.1, 0.065, 0.085, 0.04, 0.05, 0.085, 0.15]
    text_columns = {"source.name", "taxon", "codec"}  # left-aligned; numbers and times right-aligned
    cells = Table(ax, loc="upper left")
    height = 1 / (len(table) + 1)
    for col, (name, width) in enumerate(zip(table.columns, widths, strict=True)):
        loc = "left" if name in text_columns else "right"
        header = cells.add_cell(0, col, width, height, text=name, loc=loc, facecolor="#eeeeee")
        header.set_text_props(fontweight="bold")
        for row, value in enumerate(table[name], start=1):
            cells.add_cell(row, col, width, height, text=str(value), loc=loc)
    for cell in cells.get_celld().values():
        cell.set_edgecolor("#cccccc")
        cell.PAD = 0.04
    cells.auto_set_font_size(False)
    cells.set_fontsize(8)
    ax.add_table(cells)
    ax.set_title(
        f"arc.catalog() of the tutorial's archive after its steps 1 and 2: {len(table)} recordings, "
        f"10 of its {cat.shape[1]} columns (start_time: found in the files' metadata)",
        fontsize=10,
        loc="left",
    )
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return f"{len(table)} rows"


def figure_timeline(arc: wildzarr.Archive, out: Path) -> str:
    """The OSEkit files read back by time (envelope per 50 ms), two file starts up close, the SM4 files."""
    cat = arc.catalog()
    osekit = cat[cat["deployment"] == "osekit"].sort_values("start_time")
    begin, end = osekit["start_time"].min(), osekit["stop_time"].max()
    slices = arc.read_time(begin, end, where="deployment == 'osekit'")

    fig = plt.figure(figsize=(10, 8.2))
    grid = fig.add_gridspec(3, 2, height_ratios=[1.25, 1, 0.8], width_ratios=[1, 1])
    ax_all = fig.add_subplot(grid[0, :])
    ax_zoom = fig.add_subplot(grid[1, 0])
    ax_gap = fig.add_subplot(grid[1, 1])
    ax_sm4 = fig.add_subplot(grid[2, :])
    colors = ["#1f77b4", "#ff7f0e"]
    block = 2400  # samples per envelope point: 50 ms at 48 kHz
    for k, s in enumerate(slices):
        values = s.samples[:, 0].astype(np.float64)
        n = values.size // block * block
        lo, hi = values[:n].reshape(-1, block).min(axis=1), values[:n].reshape(-1, block).max(axis=1)
        rate = int(cat.loc[s.recording, "samplerate"])
        t = s.time + pd.to_timedelta((np.arange(lo.size) + 0.5) * block / rate, unit="s")
        t = t.tz_localize(None) if t.tz is not None else t
        ax_all.fill_between(t, lo, hi, color=colors[k % 2], linewidth=0, step="mid")
        stop = s.time + pd.Timedelta(seconds=(s.stop - s.start) / rate)
        ax_all.axvspan(s.time.tz_localize(None), stop.tz_localize(None), color=colors[k % 2], alpha=0.08)
    gap_from = osekit["stop_time"].iloc[4].tz_localize(None)
    gap_to = osekit["start_time"].iloc[5].tz_localize(None)
    ax_all.annotate(
        f"no recording\n{(gap_to - gap_from).total_seconds():.0f} s gap",
        xy=(gap_from + (gap_to - gap_from) / 2, 0.5),
        xycoords=("data", "axes fraction"),
        ha="center",
        va="center",
        fontsize=9,
    )
    ax_all.set_ylabel("sample value (int16)")
    ax_all.set_xlabel("time (UTC), 2022-09-25")
    ax_all.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax_all.set_title(
        f"OSEkit hydrophone: {len(slices)} files of 10.000 s, 48 kHz, from arc.read_time(); "
        "min and max per 50 ms, files in alternating colours",
        fontsize=9,
    )

    def close_up(ax: Axes, at: pd.Timestamp, title: str) -> None:
        around = arc.read_time(
            at - pd.Timedelta(milliseconds=20),
            at + pd.Timedelta(milliseconds=20),
            where="deployment == 'osekit'",
        )
        for s in around:
            k = int(np.flatnonzero(osekit.index == s.recording)[0])
            rate = int(cat.loc[s.recording, "samplerate"])
            ms = s.offset_s * 1000 - 20 + np.arange(s.stop - s.start) / rate * 1000
            ax.plot(
                ms,
                s.samples[:, 0],
                color=colors[k % 2],
                linewidth=0.8,
                label=f"{cat.loc[s.recording, 'source.name']}, samples {s.start:,} to {s.stop:,}",
            )
        ax.axvline(0, color="grey", linewidth=0.6, linestyle="--")
        ax.set_xlim(-20, 20)
        if len(around) == 1 and around[0].offset_s > 0.01:
            ax.text(-10, 0.5, "no recording", transform=ax.get_xaxis_transform(), ha="center", fontsize=9)
        ax.set_xlabel(f"ms from {at.strftime('%H:%M:%S')} UTC")
        ax.set_ylabel("sample value (int16)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="lower left")

    close_up(ax_zoom, osekit["start_time"].iloc[1], "back to back: 20 ms either side of a file boundary")
    close_up(
        ax_gap, osekit["start_time"].iloc[5], "after the gap: 20 ms either side of the next file's start"
    )

    sm4 = cat[cat["deployment"] == "sm4"].sort_values("source.name")
    # no start_time without a zone: the time as the file name wrote it (RecordingTime.text)
    starts = [dt.datetime.strptime(arc[rid].time.text or "", "%Y%m%d_%H%M%S") for rid in sm4.index]
    for local, duration in zip(starts, sm4["duration"], strict=True):
        length = dt.timedelta(seconds=float(duration))
        ax_sm4.axvspan(local, local + length, ymin=0.25, ymax=0.75, color=colors[0])
        ax_sm4.axvline(local, ymin=0.25, ymax=0.75, color=colors[0], linewidth=2)
    ax_sm4.set_yticks([])
    ax_sm4.set_xlim(min(starts) - dt.timedelta(minutes=5), max(starts) + dt.timedelta(minutes=15))
    ax_sm4.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax_sm4.set_xlabel(
        f"local time written in the file names, {min(starts):%Y-%m-%d} (time zone not recorded)"
    )
    first = sm4.iloc[0]
    ax_sm4.set_title(
        f"Song Meter SM4: {len(sm4)} files of {first['duration']:.0f} s at {int(first['samplerate']):,} Hz "
        "every 15 min (start_time unknown: no zone declared)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return f"{len(slices)} OSEkit slices, {len(sm4)} SM4 files"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"the corpus folder (default {CORPUS})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the PNG files go (default {OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wildzarr-figures-") as tmp:
        arc = corpus_archive(args.corpus, Path(tmp))
        deployments = deployment_archive(args.corpus, Path(tmp))
        jobs = {
            "bat_call.png": lambda path: figure_bat(arc, path),
            "raven_chronister.png": lambda path: figure_raven(arc, args.corpus, path),
            "catalog.png": lambda path: figure_catalog(arc, path),
            "timeline.png": lambda path: figure_timeline(deployments, path),
        }
        for name, make in jobs.items():
            print(f"{args.out / name}: {make(args.out / name)}")


if __name__ == "__main__":
    main()
