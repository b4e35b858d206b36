"""The documentation site: the tutorial's code runs, the site builds strictly, the figures script runs.

- ``docs/tutorial.md``: every fenced ``python`` or ``bash`` block that follows a ``<!-- run -->``
  comment is run, in the order of the page, in one Python process started in an empty folder beside
  a link ``../shared`` to the real corpus (the layout of the project: the corpus beside it), as a
  reader following the tutorial would: Python blocks share one namespace (an interactive session),
  shell blocks run in bash with this interpreter's ``bin`` folder (the ``wildzarr`` command) first
  on PATH. A plain fenced block (no language) right after a run block is the output the page shows
  for it: what the block prints must match it line by line, spaces aside, a line ``...`` standing for
  any number of lines. Skipped when the corpus is missing.
- ``mkdocs build --strict`` succeeds (every page in the nav and every page in the nav present, no
  broken link or anchor, the API reference renders): skipped without the ``docs`` extra.
- ``docs/figures.py`` makes its four PNG files from the corpus (into a temporary folder).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.md"
#: The corpus, beside the project root (as in tests/conftest.py).
SHARED = ROOT.parent / "shared"
needs_corpus = pytest.mark.skipif(not (SHARED / "audio").is_dir(), reason=f"the corpus {SHARED} is missing")

#: A ``<!-- run -->`` comment, blank lines, a fenced block of python or bash, then optionally blank
#: lines and a fenced block without a language: the output shown.
_RUN_BLOCK = re.compile(
    r"^<!-- run -->[ \t]*\n(?:[ \t]*\n)*"
    r"(?P<fence>```+)(?P<lang>python|bash)[ \t]*\n(?P<code>.*?)^(?P=fence)[ \t]*\n"
    r"(?:(?:[ \t]*\n)*(?P<ofence>```+)[ \t]*\n(?P<output>.*?)^(?P=ofence)[ \t]*$)?",
    re.MULTILINE | re.DOTALL,
)
#: Any fenced block (to check that no ``<!-- run -->`` marker is left without its block).
_MARKER = re.compile(r"^<!-- run -->", re.MULTILINE)

#: Runs the blocks (a JSON list) in order in ``__main__``, as an interactive session would; ``-c``
#: leaves ``__main__`` without a file, so spawned DataLoader workers do not re-run anything.
_RUNNER = """
import json, subprocess, sys, __main__
blocks = json.loads(sys.stdin.read())
for block in blocks:
    print(f"@@ {block['path']}:{block['line']} ({block['lang']})", flush=True)
    if block["lang"] == "python":
        code = compile("\\n" * (block["line"] - 1) + block["code"], block["path"], "exec")
        exec(code, __main__.__dict__)
        sys.stdout.flush()
    else:
        subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]], check=True)
"""


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page marked to be run."""

    lang: str
    code: str
    line: int  # the line number of its first line of code in the page
    output: str | None = None  # the output the page shows for it, if any


def run_blocks(text: str) -> list[Block]:
    """The blocks of ``text`` marked ``<!-- run -->``, in order."""
    blocks = []
    for match in _RUN_BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        blocks.append(Block(match.group("lang"), match.group("code"), line, match.group("output")))
    return blocks


def _words(line: str) -> str:
    return " ".join(line.split())


def output_matches(shown: str, printed: str) -> bool:
    """Whether ``printed`` matches ``shown`` line by line, spaces aside; a line ``...`` of ``shown``
    stands for any number of lines, and blank lines are ignored."""
    want = [_words(line) for line in shown.splitlines() if line.strip()]
    got = [_words(line) for line in printed.splitlines() if line.strip()]
    # reachable[j]: the first i lines of `want` can match the first j lines of `got`
    reachable = [True] + [False] * len(got)
    for pattern in want:
        if pattern == "...":
            for j in range(1, len(got) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
        else:
            reachable = [False] + [reachable[j] and got[j] == pattern for j in range(len(got))]
    return reachable[-1]


def test_run_blocks_are_found() -> None:
    """Every marker is followed by a block; the page has both kinds; the parser takes what it should."""
    text = TUTORIAL.read_text(encoding="utf-8")
    blocks = run_blocks(text)
    assert len(blocks) == len(_MARKER.findall(text))
    assert {b.lang for b in blocks} == {"python", "bash"}
    sample = (
        "x\n<!-- run -->\n\n```python\na = 1\n```\n```python\nnot run\n```\n"
        "<!-- run -->\n```bash\necho\n```\n"
        "\n```\nshown\n```\n"
    )
    assert run_blocks(sample) == [Block("python", "a = 1\n", 5), Block("bash", "echo\n", 12, "shown\n")]
    assert output_matches("a  b\n...\nz\n", "a b\nc\nd\nz  \n")
    assert output_matches("a\n...\n", "a\n")
    assert not output_matches("a\nz\n", "a\nb\nz\n")
    assert not output_matches("a\n", "a\nb\n")


@needs_corpus
def test_tutorial_runs(tmp_path: Path) -> None:
    """The tutorial's marked blocks run in order, without error, against the real corpus."""
    import json

    (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    work = tmp_path / "project"
    work.mkdir()
    blocks = [
        {"lang": b.lang, "code": b.code, "line": b.line, "path": str(TUTORIAL)}
        for b in run_blocks(TUTORIAL.read_text(encoding="utf-8"))
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONSTARTUP", None)
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps(blocks),
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    printed = re.split(r"^@@ .*\n", result.stdout, flags=re.MULTILINE)[1:]
    assert len(printed) == len(blocks)
    shown = run_blocks(TUTORIAL.read_text(encoding="utf-8"))
    wrong = [
        f"docs/tutorial.md:{block.line}: the page shows\n{block.output}but the block printed\n{out}"
        for block, out in zip(shown, printed, strict=True)
        if block.output is not None and not output_matches(block.output, out)
    ]
    assert not wrong, "\n".join(wrong)
    # what the tutorial says it writes
    for name in ("tutorial.zarr", "spinetail_SP.wav", "spinetail_SP.mp3"):
        assert (work / name).exists(), name


def test_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict`` succeeds: nav complete, links and anchors valid, API pages rendered."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(
            module, reason=f"{module} (the docs extra: pip install '.[docs]') is not installed"
        )
    site = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    for page in ("index.html", "tutorial/index.html", "api/archive/index.html", "api/torch/index.html"):
        assert (site / page).is_file(), page
    reference = (site / "api" / "archive" / "index.html").read_text(encoding="utf-8")
    assert 'id="wildzarr.archive.Archive.read_many"' in reference  # generated from the docstrings
    assert not re.search(r":(class|meth|func|attr|mod):<code>", reference)  # roles dropped (docs/hooks.py)
    tutorial = (site / "tutorial" / "index.html").read_text(encoding="utf-8")
    for figure in sorted(set(re.findall(r"figures/([\w.-]+\.png)", TUTORIAL.read_text(encoding="utf-8")))):
        assert (site / "figures" / figure).is_file(), figure
        assert figure in tutorial


@needs_corpus
def test_figures_script(tmp_path: Path) -> None:
    """``python docs/figures.py`` makes its four figures from the corpus."""
    pytest.importorskip("matplotlib", reason="matplotlib (the docs extra) is not installed")
    result = subprocess.run(
        [sys.executable, str(DOCS / "figures.py"), "--corpus", str(SHARED), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    for name in ("bat_call.png", "raven_chronister.png", "catalog.png", "timeline.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, name
        assert (DOCS / "figures" / name).is_file(), f"docs/figures/{name} is not committed"
