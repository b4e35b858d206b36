"""README stays true: its Python snippet runs, and its command-line synopsis names every command."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
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


def test_the_command_synopsis_names_every_command() -> None:
    block = README[README.index("## Command line") :]
    listed = set(re.findall(r"^wildzarr (\w+)", block, re.M))
    subcommands = next(a for a in _parser()._actions if a.dest == "command").choices
    assert listed == set(subcommands)
