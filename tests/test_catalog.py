"""The catalog: columns, queries, SQL, and a snapshot that is never stale, whichever writer changed what.

Other writers are real processes; a crash is a real SIGKILL; damage is a real
bit flip of the stored snapshot. On S3 (moto on 127.0.0.1) the requests of a
catalog are counted: a handful, whatever the archive holds.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from archive_helpers import snapshot
from commands import run
from s3server import s3_server, s3_url, use_test_credentials  # noqa: F401  (fixtures)
from signals import bext_chunk, guano_chunk, info_list, make_signal, write_wav

import wildzarr
from wildzarr import catalog as catalog_module
from wildzarr.errors import ArgumentError, MissingDependencyError

SNAPSHOT = Path("_wildzarr") / "catalog" / "snapshot"
NOTES = Path("_wildzarr") / "catalog" / "notes"


def _noise(seed: int, samples: int = 4800) -> np.ndarray:
    return np.random.default_rng(seed).integers(-3000, 3000, samples, dtype=np.int16)


def _archive(tmp_path: Path, n: int = 6) -> tuple[Path, wildzarr.Archive]:
    path = tmp_path / "a.zarr"
    arc = wildzarr.open(path)
    for i in range(n):
        arc.add(
            _noise(i),
            samplerate=48_000 if i % 2 else 192_000,
            user_meta={"site": "AB"[i % 2], "deployment": {"id": f"D{i // 3}", "season": "spring"}, "n": i},
        )
    return path, arc


def _in_process(code: str) -> None:
    """Run ``code`` in a new Python process (another writer), failing on any error."""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _assert_fresh(arc: wildzarr.Archive) -> pd.DataFrame:
    served = arc.catalog()
    pd.testing.assert_frame_equal(served, arc.catalog(refresh=True))
    return served


# -- columns --------------------------------------------------------------------------------


def test_columns_from_technical_user_and_file_metadata(tmp_path: Path) -> None:
    wav = tmp_path / "bat.wav"
    guano = {
        "GUANO|Version": "1.0",
        "Make": "BATLOGGER",
        "Timestamp": "2024-06-03T03:37:31+02:00",
        "Loc Position": "49.093119 5.047867",
        "Temperature Ext": "12.5",
        "Species Manual ID": "Myotis",
        "TE": "1",
    }
    write_wav(
        wav,
        make_signal(9600, 1, 16),
        96_000,
        before=[guano_chunk(guano), bext_chunk(originator=b"SM4", date=b"2024-06-03")],
        after=[info_list({"ICMT": b"a comment"})],
    )
    arc = wildzarr.open(tmp_path / "a.zarr")
    rec = arc.add(wav, user_meta={"site": "A", "samplerate": "user's own", "guano": 1, "deploy": {"id": 7}})
    cat = arc.catalog()
    assert cat.index.name == "id" and cat.index.dtype == np.int64 and list(cat.index) == [rec.id]
    row = cat.loc[rec.id]
    assert list(cat.columns[: len(catalog_module.TECHNICAL_COLUMNS)]) == list(
        catalog_module.TECHNICAL_COLUMNS
    )
    assert row["samplerate"] == 96_000 and row["channels"] == 1 and row["samples"] == 9600
    assert row["codec"] == "flac" and row["dtype"] == "int16" and row["source.name"] == "bat.wav"
    assert row["duration"] == pytest.approx(0.1)
    assert row["site"] == "A" and row["deploy.id"] == 7
    assert row["user.samplerate"] == "user's own" and row["user.guano"] == 1  # reserved names are prefixed
    assert row["guano.Make"] == "BATLOGGER" and row["guano.Species Manual ID"] == "Myotis"
    assert row["guano.Temperature Ext"] == 12.5  # a GUANO number field is a number
    assert row["latitude"] == pytest.approx(49.093119) and row["longitude"] == pytest.approx(5.047867)
    assert row["bext.Originator"] == "SM4" and row["info.ICMT"] == "a comment"
    assert row["start_time"] == pd.Timestamp("2024-06-03T01:37:31Z")
    assert row["stop_time"] == pd.Timestamp("2024-06-03T01:37:31.1Z")
    assert row["time_source"] == "guano" and row["time_expansion"] == 1.0
    assert str(cat["start_time"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(cat["start_time"].dtype)
    assert cat["imported_at"].dt.tz is not None


def test_the_catalog_of_an_empty_archive_has_the_technical_columns(tmp_path: Path) -> None:
    cat = wildzarr.open(tmp_path / "a.zarr").catalog()
    assert len(cat) == 0 and set(catalog_module.TECHNICAL_COLUMNS) <= set(cat.columns)


# -- queries and SQL ------------------------------------------------------------------------


def test_query_selects_ids_by_pandas_expressions(tmp_path: Path) -> None:
    _, arc = _archive(tmp_path)
    assert arc.query("site == 'A' and samplerate >= 192000") == [1, 3, 5]
    assert arc.query("`deployment.id` == 'D1'") == [4, 5, 6]
    assert arc.query("n > 100") == []
    with pytest.raises(ArgumentError, match="no_such_column"):
        arc.query("no_such_column == 3")
    with pytest.raises(ArgumentError, match="does not evaluate"):
        arc.query("site ==")


def test_ls_where_and_columns(tmp_path: Path) -> None:
    path, _ = _archive(tmp_path)
    out = run("ls", str(path), "--where", "site == 'B'", "--columns", "site,deployment.id", "--json")
    rows = json.loads(out.stdout)
    assert [r["id"] for r in rows] == [2, 4, 6]
    assert {r["site"] for r in rows} == {"B"} and [r["deployment.id"] for r in rows] == ["D0", "D1", "D1"]
    table = run("ls", str(path), "--where", "samplerate < 100000").stdout
    assert [line.split()[0] for line in table.splitlines()[1:]] == ["2", "4", "6"]
    bad = run("ls", str(path), "--where", "site ==")
    assert bad.returncode == 1 and "does not evaluate" in bad.stderr
    missing = run("ls", str(path), "--columns", "nope")
    assert missing.returncode != 0 and "nope" in missing.stderr


def test_sql_through_duckdb(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    _, arc = _archive(tmp_path)
    result = arc.sql(
        'SELECT site, count(*) AS n, max("deployment.id") AS last FROM catalog GROUP BY site ORDER BY site'
    )
    assert result.to_dict("records") == [
        {"site": "A", "n": 3, "last": "D1"},
        {"site": "B", "n": 3, "last": "D1"},
    ]
    assert arc.sql("SELECT id FROM catalog WHERE samplerate = 48000 ORDER BY id")["id"].tolist() == [2, 4, 6]
    with pytest.raises(ArgumentError, match="SQL"):
        arc.sql("SELECT nonsense FROM catalog")


def test_sql_without_duckdb_names_the_extra(tmp_path: Path) -> None:
    path, _ = _archive(tmp_path, 1)
    code = (
        "import sys; sys.modules['duckdb'] = None\n"
        "import wildzarr\n"
        "from wildzarr.errors import MissingDependencyError\n"
        f"arc = wildzarr.open({str(path)!r})\n"
        "try:\n    arc.sql('SELECT 1')\nexcept MissingDependencyError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "wildzarr[sql]" in out.stdout
    assert MissingDependencyError  # the class the message came from


# -- the snapshot is never stale --------------------------------------------------------------


def test_changes_by_other_processes_show_at_once(tmp_path: Path) -> None:
    path, arc = _archive(tmp_path)
    first = arc.catalog()
    assert (path / SNAPSHOT).is_file()  # the first catalog of a writable archive wrote the snapshot
    _in_process(
        "import numpy as np, wildzarr\n"
        f"arc = wildzarr.open({str(path)!r})\n"
        "arc[2].update_user_meta(site='Z', new_key=1.5)\n"
        "arc[3].set_start_time('2024-01-01T00:00:00+01:00')\n"
        "arc.remove(4)\n"
        "arc.add(np.arange(1000, dtype=np.int16), samplerate=8000, user_meta={'site': 'C'})\n"
    )
    cat = _assert_fresh(arc)
    assert list(cat.index) == [1, 2, 3, 5, 6, 7]
    assert cat.loc[2, "site"] == "Z" and cat.loc[2, "new_key"] == 1.5
    assert (
        cat.loc[3, "start_time"] == pd.Timestamp("2023-12-31T23:00:00Z")
        and cat.loc[3, "time_source"] == "user"
    )
    assert cat.loc[7, "site"] == "C" and cat.loc[7, "samplerate"] == 8000
    assert len(first) == 6
    # A read-only reader sees the same, and writes nothing.
    before = snapshot(path)
    reader = wildzarr.open(path, mode="r")
    pd.testing.assert_frame_equal(reader.catalog(), cat)
    assert snapshot(path) == before


def test_a_writer_killed_inside_its_change_leaves_a_catalog_that_is_still_true(tmp_path: Path) -> None:
    path, arc = _archive(tmp_path)
    arc.catalog()
    code = (
        "import os, signal, wildzarr\n"
        "from wildzarr import recording\n"
        f"arc = wildzarr.open({str(path)!r})\n"
        "rec = arc[5]\n"
        "original = recording.Recording._update\n"
        "def update_then_die(self, change):\n"
        "    from wildzarr.catalog import change_note\n"
        "    from wildzarr.recording import _read_document\n"
        "    from wildzarr.documents import encode_group\n"
        "    from wildzarr.layout import recording_key, ZARR_JSON\n"
        "    loc = self._location\n"
        "    with change_note(loc, self.id):\n"
        "        attrs, attributes, version = _read_document(loc, self.id)\n"
        "        data = encode_group(change(attrs).model_dump(mode='json'), attributes)\n"
        "        assert loc.backend.replace(recording_key(loc.prefix, self.id, ZARR_JSON), data, version)\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "recording.Recording._update = update_then_die\n"
        "rec.update_user_meta(site='killed')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert len(list((path / NOTES).iterdir())) == 1  # the killed writer's note stays
    cat = _assert_fresh(arc)
    assert cat.loc[5, "site"] == "killed"
    assert wildzarr.open(path, mode="r").catalog().loc[5, "site"] == "killed"


def _update_many(path: str, rid: int, count: int) -> None:
    arc = wildzarr.open(path)
    for i in range(count):
        arc[rid].update_user_meta(counter=i)


def test_concurrent_writers_and_compaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, arc = _archive(tmp_path)
    arc.catalog()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_update_many, args=(str(path), rid, 15)) for rid in (1, 2, 3)]
    for worker in workers:
        worker.start()
    seen = []
    while any(w.is_alive() for w in workers):
        seen.append(arc.catalog()["counter"].tolist() if "counter" in arc.catalog() else [])
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    notes = len(list((path / NOTES).iterdir()))
    assert notes >= 45  # every update left a note; none was compacted yet (few rows missed)
    monkeypatch.setattr(catalog_module, "COMPACT_AFTER", 10)
    cat = _assert_fresh(arc)  # this catalog compacts: a new snapshot, the finished writers' notes deleted
    assert cat.loc[[1, 2, 3], "counter"].tolist() == [14, 14, 14]
    assert list((path / NOTES).iterdir()) == []
    pd.testing.assert_frame_equal(wildzarr.open(path, mode="r").catalog(), cat)
    assert seen  # the catalog was read while the writers ran, without error


def test_a_damaged_snapshot_is_never_trusted(tmp_path: Path) -> None:
    path, arc = _archive(tmp_path)
    good = arc.catalog()
    data = bytearray((path / SNAPSHOT).read_bytes())
    for position in (5, len(data) // 2, len(data) - 1):  # the magic, the compressed body, its last byte
        flipped = bytearray(data)
        flipped[position] ^= 0x10
        (path / SNAPSHOT).write_bytes(bytes(flipped))
        pd.testing.assert_frame_equal(wildzarr.open(path, mode="r").catalog(), good)
    (path / SNAPSHOT).write_bytes(b"")
    pd.testing.assert_frame_equal(arc.catalog(), good)  # rebuilt, and rewritten by a writer
    assert (path / SNAPSHOT).read_bytes().startswith(b"wildzarr-catalog 1\n")


def test_a_damaged_recording_is_left_out_with_a_warning(tmp_path: Path) -> None:
    path, arc = _archive(tmp_path, 3)
    doc = path / "2" / "zarr.json"
    doc.write_bytes(doc.read_bytes().replace(b'"site":"B"', b'"site":"C"'))
    with pytest.warns(wildzarr.DamagedRecordingWarning, match="recording 2"):
        cat = arc.catalog(refresh=True)
    assert list(cat.index) == [1, 3]


def test_imports_of_writers_without_notes_are_found_on_a_folder(tmp_path: Path) -> None:
    path, arc = _archive(tmp_path, 2)
    arc.catalog()
    arc.add(_noise(99), samplerate=8000)
    for note in (path / NOTES).iterdir():  # as if an older writer had imported it
        note.unlink()
    assert list(arc.catalog().index) == [1, 2, 3]


# -- S3 ---------------------------------------------------------------------------------------


def _count_requests(fs: Any) -> list[str]:
    sent: list[str] = []
    fs.s3.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.method))
    return sent


def test_on_s3_a_catalog_costs_a_handful_of_requests(s3_url: tuple[str, dict[str, Any]]) -> None:  # noqa: F811
    import s3fs

    url, options = s3_url
    arc = wildzarr.open(url, storage_options=options)
    for i in range(30):
        arc.add(_noise(i, 480), samplerate=8000, user_meta={"site": "AB"[i % 2]})
    arc.catalog()  # writes the snapshot
    counts = []
    for change in (None, "update"):
        if change:
            arc[4].update_user_meta(site="Z")
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem(**options)
        sent = _count_requests(fs)
        reader = wildzarr.open(url, mode="r", storage_options=options)
        assert reader.backend.fs is fs or getattr(reader.backend.fs, "sync_fs", None) is fs
        before = len(sent)
        cat = reader.catalog()
        counts.append(len(sent) - before)
        assert len(cat) == 30
    assert cat.loc[4, "site"] == "Z"
    assert counts[0] <= 3, counts  # the snapshot and the list of notes
    assert counts[1] <= counts[0] + 3, counts  # plus the changed recording's marker and document
