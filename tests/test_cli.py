"""The command line, run as a user runs it (the installed ``wildzarr`` entry point) and in-process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from commands import WILDZARR, run
from signals import make_signal, write_audio_file

import wildzarr
from wildzarr.cli import main
from wildzarr.verify import verify


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
    assert len(lines) == 3 and lines[0].split()[0] == "1" and "b.flac" in lines[0]
    assert lines[-1] == "imported 2, skipped 0, failed 0"

    again = run("import", archive, str(folder))
    assert again.returncode == 0
    assert again.stdout.count(": already recording") == 2 and "already recording 1" in again.stdout
    assert again.stdout.splitlines()[-1] == "imported 0, skipped 2, failed 0"

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
    assert "failed" in result.stderr and "broken.wav" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.splitlines()[-1] == "imported 1, skipped 0, failed 1"
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


def test_codec_parameters_are_honoured_even_when_zero(tmp_path: Path, folder: Path) -> None:
    archive = str(tmp_path / "a.zarr")
    options = ("--codec", "flac", "--codec-option", "compression_level=0", "--codec-option", "blocksize=1152")
    result = run("import", archive, str(folder / "b.flac"), *options)
    assert result.returncode == 0, result.stderr
    codec = wildzarr.open(archive, mode="r")[1].info.codec
    assert codec == {"id": "flac", "compression_level": 0, "blocksize": 1152, "float_bits": 24}
    bad = run("import", archive, str(folder / "night1"), "--codec", "flac", "--codec-option", "blocksize=0")
    assert bad.returncode == 1 and "blocksize" in bad.stderr and "Traceback" not in bad.stderr


def test_user_mistakes_never_print_a_traceback(tmp_path: Path, folder: Path) -> None:
    archive = str(tmp_path / "a.zarr")
    assert run("import", archive, str(folder / "b.flac")).returncode == 0
    cases = [
        ("read", archive, "1", "-o", str(tmp_path / "no" / "such" / "folder" / "x.wav")),  # bad output path
        ("read", archive, "1", "-o", str(tmp_path / "x.mp3")),  # unsupported output
        ("import", str(folder / "b.flac"), archive),  # swapped arguments: the "archive" is a file
        ("read", "1", archive, "-o", "x.npy"),  # swapped: ID is not a number
        ("ls", str(tmp_path / "missing.zarr")),
        ("ls", archive, "--path", "../x"),
        ("info", archive, "9"),
        ("rm", archive, "9"),
        ("ls", archive, "--storage-option", "novalue"),
    ]
    for args in cases:
        result = run(*args)
        assert result.returncode in (1, 2), (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.strip(), args


def test_a_missing_extra_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)
    assert main(["ls", "s3://some-bucket/archive"]) == 1
    assert 'pip install "wildzarr[s3]"' in capsys.readouterr().err


def test_any_file_name_is_listed_on_one_line(tmp_path: Path) -> None:
    names = [b"caf\xe9.wav", b"two\nlines.wav", b"tab\there\x01.wav"]
    src = tmp_path / "src"
    src.mkdir()
    for i, name in enumerate(names):
        path = os.path.join(os.fsencode(src), name)
        write_audio_file(Path(os.fsdecode(path)), make_signal(4000 + i, 1, 16, i), 8000, "wav", "pcm_s16le")
    archive = str(tmp_path / "a.zarr")
    result = run("import", archive, str(src))
    assert result.returncode == 0, result.stderr
    listing = run("ls", archive)
    assert listing.returncode == 0, listing.stderr
    rows = listing.stdout.splitlines()[1:]
    assert len(rows) == 3
    joined = "\n".join(rows)
    assert "caf\\xe9.wav" in joined and "two\\nlines.wav" in joined and "tab\\there\\x01.wav" in joined
    assert json.loads(run("ls", archive, "--json").stdout)[0]["name"]


def test_rm_verify_repair(tmp_path: Path, folder: Path) -> None:
    archive = str(tmp_path / "a.zarr")
    assert run("import", archive, str(folder)).returncode == 0
    assert run("verify", archive).returncode == 0
    report = json.loads(run("verify", archive, "--json").stdout)
    assert report["ok"] and report["checked"] == [1, 2]
    result = run("rm", archive, "1")
    assert result.returncode == 0 and result.stdout.strip() == "removed 1"
    assert json.loads(run("ls", archive, "--json").stdout)[0]["id"] == 2
    (tmp_path / "a.zarr" / "_wildzarr" / "complete" / "2").unlink()  # as if its import had died
    broken = run("verify", archive)
    assert broken.returncode == 1 and "recording 2" in broken.stdout and "leftover" in broken.stdout
    repaired = run("repair", archive)
    assert repaired.returncode == 0 and "1 leftovers removed" in repaired.stdout
    assert run("verify", archive).returncode == 0


def test_ctrl_c_stops_an_import_and_exits_130(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        write_audio_file(src / f"f{i:02}.wav", make_signal(96_000, 2, 16, i), 48_000, "wav", "pcm_s16le")
    archive = tmp_path / "a.zarr"
    child = subprocess.Popen(
        [*WILDZARR, "import", str(archive), str(src)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    first = child.stdout.readline()  # the first file is imported: interrupt the next ones
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted: imported" in err and "Traceback" not in err
    imported = [first, *out.splitlines()]
    arc = wildzarr.open(archive, mode="r")
    assert len(arc) == len([line for line in imported if line.strip()]) < 40
    assert verify(arc).ok


def test_three_imports_of_one_folder_at_once_store_each_file_once(tmp_path: Path, folder: Path) -> None:
    archive = str(tmp_path / "a.zarr")
    children = [
        subprocess.Popen([*WILDZARR, "import", archive, str(folder)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert all(child.returncode == 0 for child in children), outputs
    summaries = [out.splitlines()[-1] for out in outputs]
    imported = sum(int(line.split()[1].rstrip(",")) for line in summaries)
    skipped = sum(int(line.split()[3].rstrip(",")) for line in summaries)
    assert (imported, skipped) == (2, 4), summaries
    arc = wildzarr.open(archive, mode="r")
    assert len(arc) == 2 and sorted(r.info.source.name for r in arc) == ["a.wav", "b.flac"]
