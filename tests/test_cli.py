"""The command line, run as a user runs it (the installed ``wildzarr`` entry point) and in-process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from signals import make_signal, write_audio_file

import wildzarr
from wildzarr.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("wildzarr", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "wildzarr.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, check=False)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "field"
    (src / "night1").mkdir(parents=True)
    write_audio_file(src / "night1" / "a.wav", make_signal(9000, 1, 16, 1), 48_000, "wav", "pcm_s16le")
    write_audio_file(src / "b.flac", make_signal(5000, 2, 24, 2), 96_000, "flac")
    (src / "notes.txt").write_text("not audio, and not picked up from a folder")
    return src


def test_import_ls_info_read(tmp_path: Path, folder: Path) -> None:
    archive = str(tmp_path / "a.zarr")
    result = run("import", archive, str(folder), "--meta", "site=A", "--meta", "depth=12")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == "1" and "b.flac" in lines[0]

    again = run("import", archive, str(folder))
    assert again.returncode == 0
    assert again.stdout.count("skipped") == 2 and "already recording 1" in again.stdout

    listing = json.loads(run("ls", archive, "--json").stdout)
    assert [r["id"] for r in listing] == [1, 2]
    assert listing[0]["samplerate"] == 96_000 and listing[0]["bits_per_sample"] == 24
    assert "b.flac" in run("ls", archive).stdout

    info = json.loads(run("info", archive, "2", "--json").stdout)
    assert info["user_meta"] == {"site": "A", "depth": 12}
    assert info["info"]["source"]["name"] == "a.wav"
    assert "samplerate" in run("info", archive, "2").stdout

    rec = wildzarr.open(archive, mode="r")[1]
    for suffix in (".npy", ".wav", ".flac"):
        out = tmp_path / f"out{suffix}"
        result = run("read", archive, "1", "--start", "100", "--stop", "4100", "-o", str(out))
        assert result.returncode == 0, result.stderr
        expected = rec.read(100, 4100)
        if suffix == ".npy":
            got = np.load(out)
        else:
            got, rate = soundfile.read(out, dtype="int32")
            assert rate == 96_000
            got = got >> 8  # 24-bit samples come left-justified in int32
        assert np.array_equal(got, expected)


def test_failures_are_reported_and_set_the_exit_status(tmp_path: Path, folder: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    archive = str(tmp_path / "a.zarr")
    result = run("import", archive, str(folder / "b.flac"), str(bad))
    assert result.returncode == 1
    assert "failed" in result.stdout and "broken.wav" in result.stdout
    assert wildzarr.open(archive, mode="r").ids() == [1]

    assert run("info", archive, "5").returncode == 1
    assert "no recording with id 5" in run("info", archive, "5").stderr
    result = run("read", archive, "1", "--start", "0", "--stop", "999999999", "-o", str(tmp_path / "x.npy"))
    assert result.returncode == 1 and "cannot read" in result.stderr
    assert run("read", archive, "1", "-o", str(tmp_path / "x.mp3")).returncode == 1


def test_groups_and_wav_output_in_process(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = str(tmp_path / "a.zarr")
    assert main(["import", archive, str(folder / "night1"), "--path", "site/A"]) == 0
    capsys.readouterr()
    assert main(["ls", archive, "--path", "site/A", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [1]
    out = tmp_path / "x.wav"
    assert main(["read", archive, "1", "--path", "site/A", "--stop", "9000", "-o", str(out)]) == 0
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 48_000, 9000)
        got = np.frombuffer(w.readframes(9000), dtype="<i2")
    assert np.array_equal(got, make_signal(9000, 1, 16, 1).reshape(-1))
