"""SIGKILL at random moments of add(), remove() and update_user_meta() on a local folder.

Each round starts a real child process that works on the archive and kills it
with SIGKILL at a random time. Afterwards the archive must open, list only
complete recordings, read them exactly, never hand out an id twice, and be
brought back to a clean state by ``repair`` (``verify`` then passes).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from signals import make_signal

import wildzarr
from wildzarr.repair import repair
from wildzarr.verify import verify

KILLS = 30
TESTS = Path(__file__).resolve().parent

_CHILD = """
import sys
sys.path.insert(0, {tests!r})
import wildzarr
from test_crash import long_signal
arc = wildzarr.open({archive!r})
print("ready", flush=True)
{body}
"""


def long_signal(seed: int) -> np.ndarray:
    """About 3 s of 48 kHz stereo: an import takes tens of milliseconds, so kills land inside it."""
    return make_signal(150_000 + seed % 7 * 1000, 2, 16, seed)


def run_and_kill(archive: Path, body: str, within: float, rng: random.Random) -> list[str]:
    """Run ``body`` in a child process, SIGKILL it a random time (up to ``within`` s) after it is ready.

    Returns the lines the child printed in full.
    """
    code = _CHILD.format(tests=str(TESTS), archive=str(archive), body=body)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0, within))
    os.kill(child.pid, signal.SIGKILL)
    out, _ = child.communicate()
    assert child.returncode == -signal.SIGKILL
    *complete, _partial = out.split("\n")  # a line the kill cut short was not reported
    return complete


def assert_clean_after_repair(archive: Path) -> None:
    arc = wildzarr.open(archive)
    repair(arc)
    report = verify(arc)
    assert report.ok, [str(f) for f in report.findings]
    assert not report.leftovers
    on_disk = {int(p.name) for p in archive.iterdir() if p.name.isdigit()}
    assert on_disk == set(arc.ids())


def test_killed_imports(tmp_path: Path) -> None:
    archive = tmp_path / "a.zarr"
    wildzarr.open(archive)
    rng = random.Random(5)
    reported: dict[int, int] = {}  # id -> seed, as returned to the killed children
    seed = 0
    for _ in range(KILLS):
        body = (
            f"for seed in range({seed}, {seed + 50}):\n"
            "    rid = arc.add(long_signal(seed), samplerate=48000, user_meta={'seed': seed}).id\n"
            "    print(seed, rid, flush=True)\n"
        )
        for line in run_and_kill(archive, body, 0.25, rng):
            s, rid = map(int, line.split())
            assert rid not in reported, f"id {rid} handed out twice"
            reported[rid] = s
        seed += 50
        arc = wildzarr.open(archive, mode="r")
        listed = arc.ids()
        assert set(reported) <= set(listed)
        for rid in listed:  # a recording listed but not reported was committed just before the kill
            rec = arc[rid]
            assert np.array_equal(rec.read(), long_signal(rec.user_meta["seed"]))
    claimed_before = wildzarr.open(archive)._location.ledger.claimed_ids()
    assert_clean_after_repair(archive)
    new = wildzarr.open(archive).add(long_signal(10**6), samplerate=48000)
    assert new.id > max(claimed_before)


def test_killed_removals(tmp_path: Path) -> None:
    archive = tmp_path / "a.zarr"
    arc = wildzarr.open(archive)
    recordings = {arc.add(long_signal(s)[:20_000], samplerate=48000).id: s for s in range(40)}
    rng = random.Random(7)
    removed: set[int] = set()
    for _ in range(KILLS):
        remaining = sorted(set(recordings) - removed)[:3]
        if not remaining:
            break
        body = f"for rid in {remaining}:\n    arc.remove(rid)\n    print(rid, flush=True)\n"
        removed.update(int(line) for line in run_and_kill(archive, body, 0.03, rng))
        listed = wildzarr.open(archive, mode="r").ids()
        assert not removed & set(listed)
        for rid in listed:
            assert np.array_equal(arc[rid].read(), long_signal(recordings[rid])[:20_000])
        removed |= set(recordings) - set(listed)  # removals committed just before the kill
    assert removed, "no removal completed"
    assert_clean_after_repair(archive)


def test_killed_metadata_updates(tmp_path: Path) -> None:
    archive = tmp_path / "a.zarr"
    rid = wildzarr.open(archive).add(long_signal(1)[:20_000], samplerate=48000, user_meta={"n": -1}).id
    rng = random.Random(9)
    last = -1
    for _ in range(KILLS):
        body = (
            f"rec = arc[{rid}]\n"
            f"for n in range({last + 1}, {last + 10_000}):\n"
            "    rec.update_user_meta(n=n, pad='x' * (n % 500))\n"
            "    print(n, flush=True)\n"
        )
        lines = run_and_kill(archive, body, 0.05, rng)
        meta = wildzarr.open(archive, mode="r")[rid].user_meta  # never damaged: each rewrite is atomic
        printed = int(lines[-1]) if lines else last
        assert printed <= meta["n"] <= printed + 1
        if "pad" in meta:
            assert meta["pad"] == "x" * (meta["n"] % 500)
        last = meta["n"]
    assert last > 0
    assert_clean_after_repair(archive)
