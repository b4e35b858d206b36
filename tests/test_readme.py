"""README stays true: its main job and Python snippet run, its command synopsis names every command."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from commands import WILDZARR
from signals import make_signal, write_audio_file

from wildzarr.cli import _parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_python_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = re.search(r"<!-- snippet:[^>]*-->\n```python\n(.*?)```", README, re.S)
    assert snippet is not None, "README.md lost its Python snippet"
    write_audio_file(tmp_path / "bat.wav", make_signal(50_000, 1, 16, 3), 384_000, "wav", "pcm_s16le")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(snippet.group(1), "README.md", "exec"), namespace)
    arc = namespace["arc"]
    assert arc.ids() == [1, 2] and arc[1].user_meta == {"site": "A", "verified": True}  # type: ignore[attr-defined]
    first, second = arc[1], arc[2]  # type: ignore[index]
    assert first.info.codec_choice == "automatic: 16-bit integer PCM -> FLAC, lossless"
    assert second.info.codec["id"] == "npy" and (second.read() == first.read()).all()
    assert os.path.isdir(tmp_path / "archive.zarr" / "sites" / "A" / "2024")
    assert namespace["ids"] == [1] and list(namespace["cat"].index) == [1, 2]  # type: ignore[attr-defined]
    assert namespace["w"].shape == (3840, 1)  # type: ignore[attr-defined]  # [3840, 7680) at 384 kHz
    assert first.start_time.isoformat() == "2024-06-03T01:37:31+00:00"
    assert (tmp_path / "call.flac").stat().st_size > 0
    clips = namespace["clips"].df  # type: ignore[attr-defined]
    assert list(clips.columns) == ["recording", "start", "stop", "Myotis", "split"]
    assert clips["Myotis"].tolist()[:2] == [1, 0] and len(namespace["ds"]) == len(clips)  # type: ignore[arg-type]


def test_the_command_synopsis_names_every_command() -> None:
    block = README[README.index("## Command line") :]
    listed = set(re.findall(r"^wildzarr (\w+)", block, re.M))
    subcommands = next(a for a in _parser()._actions if a.dest == "command").choices
    assert listed == set(subcommands)


def test_the_main_job_runs_on_the_corpus(tmp_path: Path, corpus_dir: Path) -> None:
    """The wildzarr commands of README's first command line, on the corpus, from a folder beside it."""
    block = re.search(r"<!-- main job -->\n```bash\n(.*?)\n```", README, re.S)
    assert block is not None, "README.md lost its main job"
    steps = [part.strip() for part in re.split(r"&&|;", block.group(1))]
    commands = [step.split()[1:] for step in steps if step.startswith(".venv/bin/wildzarr ")]
    assert [c[0] for c in commands] == ["import", "ls", "read"]
    for args in commands:
        args = [str(corpus_dir) if a == "../shared/audio" else a for a in args]
        done = subprocess.run([*WILDZARR, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    assert (tmp_path / "first_48000_samples.wav").stat().st_size > 48_000 * 2
