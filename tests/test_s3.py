"""Archives on S3 (a real moto server): the API and the command line end to end, and what a read costs.

Concurrent imports and metadata updates on S3 are in ``test_writers.py``. Here:
import, list, read, update, remove through ``wildzarr.open("s3://...",
storage_options=...)`` and through every CLI command with ``--storage-option``;
a round trip of real corpus files (when ``../shared/audio`` exists); and the
request budget: at most 8 HTTP requests from ``open`` to the first window, none
of them a Zarr v2 probe, and one listing per 1,000 recordings for ``ids()``.

Requests are counted twice, independently: by a botocore ``before-send.s3``
hook on the s3fs client, and by moto's own request recorder on a server of this
module (started with ``MOTO_RECORDER_FILEPATH`` pointing into a temporary folder
and stopped by its process id). The two counts must agree, so the hook misses
nothing.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import zarr
from commands import run
from s3server import MotoServer, make_bucket, storage_options, use_test_credentials
from signals import guano_chunk, make_signal, write_audio_file, write_wav

import wildzarr
from wildzarr import DuplicateRecordingError, ReadOnlyError, RecordingNotFoundError
from wildzarr.documents import dumps_record
from wildzarr.verify import verify

S3Target = tuple[str, dict[str, Any]]

#: Keys a Zarr v2 reader probes for; opening a format-2 archive must never ask for them.
ZARR_V2_KEYS = (".zgroup", ".zattrs", ".zarray", ".zmetadata")


# -- helpers ---------------------------------------------------------------------------------


def cli_options(options: dict[str, Any]) -> list[str]:
    """``--storage-option KEY=VALUE`` for every option; dict values as JSON (the CLI parses them back)."""
    out: list[str] = []
    for key, value in options.items():
        out += ["--storage-option", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    return out


# -- request counting ------------------------------------------------------------------------


class RecordingServer:
    """A moto server of this module whose request recorder is switched on around a measurement."""

    def __init__(self, log: Path) -> None:
        self.log = log
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MOTO_RECORDER_FILEPATH", str(log))  # read once, when the server starts
            self.server = MotoServer()
        self.endpoint = self.server.endpoint

    def control(self, action: str) -> str:
        method = "GET" if action == "download-recording" else "POST"
        request = urllib.request.Request(f"{self.endpoint}/moto-api/recorder/{action}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def recording_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingServer]:
    """A moto server logging requests on demand to a file in a temporary folder; stopped by its pid."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    pytest.importorskip("boto3")
    server = RecordingServer(tmp_path_factory.mktemp("moto") / "requests.jsonl")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def counted_url(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> S3Target:
    """A fresh bucket on the recording server: ``("s3://<bucket>", storage_options)``."""
    use_test_credentials(monkeypatch)
    return f"s3://{make_bucket(recording_server.endpoint)}", storage_options(recording_server.endpoint)


class Requests:
    """The HTTP requests sent to S3 inside a ``with`` block: by botocore's hook and by moto's log.

    The hook sits on the client of the s3fs instance that ``wildzarr.open``
    gets for the same options (fsspec caches instances), so it must be set up
    before the archive is opened. ``sent`` and ``logged`` are ``(method,
    path with query)`` pairs.
    """

    def __init__(self, server: RecordingServer, options: dict[str, Any]) -> None:
        import fsspec.asyn
        import s3fs

        self.server = server
        fs = s3fs.S3FileSystem(**options)
        self._client = fsspec.asyn.sync(fs.loop, fs.set_session)
        self.sent: list[tuple[str, str]] = []
        self.logged: list[tuple[str, str]] = []

    def _hook(self, request: Any, **_: Any) -> None:
        parts = urllib.parse.urlsplit(request.url)
        self.sent.append((request.method, parts.path + (f"?{parts.query}" if parts.query else "")))

    def __enter__(self) -> Requests:
        self.server.control("reset-recording")
        self.server.control("start-recording")
        self._client.meta.events.register("before-send.s3", self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.meta.events.unregister("before-send.s3", self._hook)
        self.server.control("stop-recording")
        for line in self.server.control("download-recording").splitlines():
            if line.strip():
                entry = json.loads(line)
                parts = urllib.parse.urlsplit(entry["url"])
                self.logged.append((entry["method"], parts.path + (f"?{parts.query}" if parts.query else "")))

    def check_nothing_missed(self) -> None:
        """The hook saw exactly the requests moto received (same methods and paths, any order)."""
        assert sorted(self.sent) == sorted(self.logged), (self.sent, self.logged)


def test_open_to_the_first_window_costs_at_most_8_requests(
    recording_server: RecordingServer, counted_url: S3Target
) -> None:
    """From ``open(mode="r")`` to the first 4,096-sample window: <= 8 requests, no Zarr v2 probe."""
    url, options = counted_url
    target = f"{url}/archive"
    signal = make_signal(200_000, 2, 16, 3)
    writer = wildzarr.open(target, storage_options=options)
    for seed in range(3):
        writer.add(make_signal(10_000, 1, 16, seed), samplerate=8000)
    rid = writer.add(signal, samplerate=48_000).id
    with Requests(recording_server, options) as requests:
        arc = wildzarr.open(target, mode="r", storage_options=options)
        window = arc[rid].read(100_000, 104_096)
    assert np.array_equal(window, signal[100_000:104_096])
    requests.check_nothing_missed()
    assert 0 < len(requests.sent) <= 8, requests.sent
    probes = [path for _, path in requests.sent if path.rsplit("/", 1)[-1].split("?")[0] in ZARR_V2_KEYS]
    assert probes == []


def test_a_batch_of_windows_needs_far_fewer_requests_than_windows(
    recording_server: RecordingServer, counted_url: S3Target
) -> None:
    """``read_many`` of 400 windows of 2 open recordings: merged ranges, one GET per fetch, exact.

    Single reads of the same windows cost one GET each (a window inside one
    blob chunk), so the batch must need far fewer.
    """
    url, options = counted_url
    target = f"{url}/archive"
    writer = wildzarr.open(target, storage_options=options)
    signals = [make_signal(300_000, 2, 16, seed) for seed in (5, 6)]
    ids = [writer.add(signal, samplerate=48_000).id for signal in signals]
    rng = np.random.default_rng(2)
    requests_ = [
        (ids[k], int(a), int(a) + 4096)
        for k, a in zip(rng.integers(0, 2, 400), rng.integers(0, 300_000 - 4096, 400), strict=True)
    ]
    arc = wildzarr.open(target, mode="r", storage_options=options)
    arc.read_many([(rid, 0, 1) for rid in ids])  # opens both recordings (documents, frame indexes)
    with Requests(recording_server, options) as batch:
        results = arc.read_many(requests_)
    batch.check_nothing_missed()
    for (rid, a, b), window in zip(requests_, results, strict=True):
        assert np.array_equal(window, signals[ids.index(rid)][a:b])
    recs = {rid: arc[rid] for rid in ids}
    for rec in recs.values():
        rec.read(0, 1)
    with Requests(recording_server, options) as single:
        for rid, a, b in requests_[:50]:
            recs[rid].read(a, b)
    assert all(method == "GET" for method, _ in batch.sent + single.sent)
    assert 50 <= len(single.sent) <= 100  # one GET per window, two where it crosses a chunk border
    assert len(batch.sent) <= 40, len(batch.sent)  # 400 windows


def test_listing_1500_ids_costs_at_most_3_requests(
    recording_server: RecordingServer, counted_url: S3Target
) -> None:
    """``ids()`` on 1,500 recordings lists the commit markers only: at most 3 requests, all listings.

    The recordings are commit markers written directly (``ids()`` reads nothing else).
    """
    url, options = counted_url
    target = f"{url}/archive"
    arc = wildzarr.open(target, storage_options=options)
    arc.add(make_signal(5000, 1, 16, 1), samplerate=8000)  # one real recording, id 1

    def mark(rid: int) -> bool:
        record = {"id": rid, "token": uuid.uuid4().hex, "sha256": f"{rid:064x}"}
        return arc.backend.create(f"_wildzarr/complete/{rid}", dumps_record(record))

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(mark, range(2, 1501)))
    reader = wildzarr.open(target, mode="r", storage_options=options)
    with Requests(recording_server, options) as requests:
        ids = reader.ids()
    assert ids == list(range(1, 1501))
    requests.check_nothing_missed()
    assert 1 <= len(requests.sent) <= 3, requests.sent
    assert all(method == "GET" and "list-type=2" in path for method, path in requests.sent), requests.sent
    with Requests(recording_server, options) as requests:
        assert len(reader) == 1500
    assert len(requests.sent) <= 3
    with Requests(recording_server, options) as requests:
        assert 1234 in reader and 1501 not in reader
    assert len(requests.sent) == 2  # one existence check each, no listing


# -- the API ---------------------------------------------------------------------------------


def test_import_list_read_remove_through_the_api(s3_url: S3Target, tmp_path: Path) -> None:
    """The life of recordings on S3 with ``storage_options``: an array and a WAV file written to disk."""
    url, options = s3_url
    target = f"{url}/sites"
    array = make_signal(30_000, 2, 16, 1)
    bat = make_signal(40_000, 1, 16, 2)
    wav = tmp_path / "bat.wav"
    write_wav(wav, bat, 384_000, after=[guano_chunk({"GUANO|Version": "1.0", "Loc Position": "47.6 -122.3"})])

    arc = wildzarr.open(target, path="A/2024", storage_options=options)
    assert arc.ids() == [] and len(arc) == 0
    first = arc.add(array, samplerate=48_000, user_meta={"site": "A"})
    second = arc.add(
        wav, user_meta={"detector": "BATLOGGER"}, codec="flac", compression_level=8, blocksize=1152
    )
    assert (first.id, second.id) == (1, 2)
    assert arc.ids() == [1, 2] and len(arc) == 2 and 2 in arc and 3 not in arc
    assert [rec.id for rec in arc] == [1, 2]
    with pytest.raises(DuplicateRecordingError) as duplicate:
        arc.add(wav)
    assert duplicate.value.existing_id == 2

    reader = wildzarr.open(target, path="A/2024", mode="r", storage_options=options)
    rec = reader[2]
    assert (rec.samplerate, rec.channels, rec.samples, rec.info.bits_per_sample) == (384_000, 1, 40_000, 16)
    assert rec.info.source.name == "bat.wav" and rec.info.codec["blocksize"] == 1152
    assert rec.file_meta["guano"]["Loc Position"] == "47.6 -122.3"
    assert np.array_equal(rec.read(), bat)
    assert np.array_equal(rec.read(5000, 9096), bat[5000:9096])
    assert np.array_equal(rec[-100:], bat[-100:])
    assert np.array_equal(reader[1].read(12_345, 12_345 + 4096, channels=[1]), array[12_345:16_441, [1]])
    with pytest.raises(ReadOnlyError):
        reader.add(array, samplerate=48_000, allow_duplicates=True)

    second.update_user_meta(verified=True)
    assert reader[2].user_meta == {"detector": "BATLOGGER", "verified": True}
    index = reader.group["2/0/index"]  # plain zarr reads the same archive
    assert isinstance(index, zarr.Array) and index.shape[1] == 2

    arc.remove(1)
    assert arc.ids() == [2] and 1 not in arc and reader.ids() == [2]
    assert arc.backend.list_keys("A/2024/1") == []  # the group is gone, not just unlisted
    with pytest.raises(RecordingNotFoundError):
        reader[1]
    with pytest.raises(RecordingNotFoundError):
        arc.remove(1)
    assert arc.add(array, samplerate=48_000).id == 3  # its content was freed; id 1 is never reused
    assert verify(reader).ok
    arc.close()
    reader.close()


def test_mode_w_on_s3_starts_over(s3_url: S3Target) -> None:
    """Mode "w" deletes what was at the prefix, only there; "r" on a missing archive is an ArchiveError."""
    url, options = s3_url
    with pytest.raises(wildzarr.ArchiveError, match="no archive here"):
        wildzarr.open(f"{url}/missing", mode="r", storage_options=options)
    wildzarr.open(f"{url}/keep", storage_options=options).add(make_signal(3000, 1, 16, 1), samplerate=8000)
    old = wildzarr.open(f"{url}/redo", storage_options=options)
    old.add(make_signal(3000, 1, 16, 2), samplerate=8000)
    fresh = wildzarr.open(f"{url}/redo", mode="w", storage_options=options)
    assert fresh.ids() == []
    assert fresh.add(make_signal(3000, 1, 16, 2), samplerate=8000).id == 1
    assert wildzarr.open(f"{url}/keep", mode="r", storage_options=options).ids() == [1]


# -- the command line --------------------------------------------------------------------------


@pytest.fixture()
def field_folder(tmp_path: Path) -> Path:
    """A folder of two audio files (a WAV in a subfolder, a FLAC)."""
    folder = tmp_path / "field"
    (folder / "night1").mkdir(parents=True)
    write_audio_file(folder / "night1" / "a.wav", make_signal(9000, 1, 16, 1), 48_000, "wav", "pcm_s16le")
    write_audio_file(folder / "b.flac", make_signal(5000, 2, 24, 2), 96_000, "flac")
    return folder


def test_every_command_on_s3(s3_url: S3Target, field_folder: Path, tmp_path: Path) -> None:
    """import, ls, info, read, rm, verify and repair on ``s3://`` with ``--storage-option KEY=VALUE``."""
    url, options = s3_url
    target = f"{url}/archive"
    opts = cli_options(options)
    assert any(o.startswith("client_kwargs={") for o in opts)  # a JSON value, parsed back by the CLI

    result = run("import", target, str(field_folder), "--meta", "site=A", *opts)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "imported 2, skipped 0, failed 0"
    again = run("import", target, str(field_folder), *opts)
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "imported 0, skipped 2, failed 0"

    listing = run("ls", target, "--json", *opts)
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert [r["id"] for r in rows] == [1, 2] and rows[0]["samplerate"] == 96_000
    assert "a.wav" in run("ls", target, *opts).stdout

    info = run("info", target, "2", "--json", *opts)
    assert info.returncode == 0, info.stderr
    doc = json.loads(info.stdout)
    assert doc["user_meta"] == {"site": "A"} and doc["info"]["source"]["name"] == "a.wav"

    out = tmp_path / "window.wav"
    result = run("read", target, "1", "--start", "100", "--stop", "4100", "-o", str(out), *opts)
    assert result.returncode == 0, result.stderr
    got, rate = soundfile.read(out, dtype="int32")
    assert rate == 96_000 and np.array_equal(got >> 8, make_signal(5000, 2, 24, 2)[100:4100])

    result = run("rm", target, "1", *opts)
    assert result.returncode == 0 and result.stdout.strip() == "removed 1", result.stderr
    result = run("rm", target, "1", *opts)
    assert result.returncode == 1 and "no recording with id 1" in result.stderr
    assert [r["id"] for r in json.loads(run("ls", target, "--json", *opts).stdout)] == [2]

    result = run("verify", target, *opts)
    assert result.returncode == 0 and "checked 1 recordings: 0 problems" in result.stdout, result.stdout

    # an import interrupted just before its commit: nodes and claims, no commit marker
    arc = wildzarr.open(target, storage_options=options)
    rid = arc.add(make_signal(7000, 1, 16, 7), samplerate=8000).id
    arc.backend.delete(f"_wildzarr/complete/{rid}")
    result = run("verify", target, "--json", *opts)
    assert result.returncode == 1
    assert [x["id"] for x in json.loads(result.stdout)["leftovers"]] == [rid]
    result = run("repair", target, *opts)
    assert result.returncode == 0, result.stderr
    assert f"removed leftovers of id {rid}" in result.stdout
    assert run("verify", target, *opts).returncode == 0
    assert arc.backend.list_keys(str(rid)) == []


def test_a_malformed_storage_option_is_a_usage_error() -> None:
    """A ``--storage-option`` without ``=`` is a usage error (exit 2) naming the form, not a traceback."""
    result = run("ls", "s3://wz-bucket/archive", "--storage-option", "endpoint_url")
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr and "Traceback" not in result.stderr


# -- real recordings ----------------------------------------------------------------------------

#: Small corpus files of different kinds (WAV with GUANO, FLAC, Vorbis, 32-bit WAV).
CORPUS_FILES = (
    "bat_batlogger_312k_guano.wav",
    "bird_turtledove_XC564654_16k.flac",
    "bird_robin_vorbis_stereo.ogg",
    "whale_humpback_sanctsound_4kHz_int32.wav",
)


def test_corpus_round_trip(s3_url: S3Target, corpus_dir: Path, tmp_path: Path) -> None:
    """Real recordings imported to S3 by the CLI read back exactly as from a local archive.

    The 32-bit float WAV goes in too (npy); a file that is not audio fails (exit status 1), the rest imported.
    """
    url, options = s3_url
    target = f"{url}/corpus"
    names = [*CORPUS_FILES, "bat_Rhinolophus_500k_float32.wav"]
    files = [corpus_dir / name for name in names if (corpus_dir / name).is_file()]
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("field notes, not audio")
    result = run("import", target, *map(str, files), str(not_audio), *cli_options(options))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-1] == f"imported {len(files)}, skipped 0, failed 1"

    remote = wildzarr.open(target, mode="r", storage_options=options)
    local = wildzarr.open(tmp_path / "local.zarr")
    assert remote.ids() == list(range(1, len(files) + 1))
    for path, rid in zip(files, remote.ids(), strict=True):
        rec, mine = remote[rid], local.add(path)
        assert rec.info.source.name == path.name
        assert rec.info.source.sha256 == mine.info.source.sha256 and rec.file_meta == mine.file_meta
        assert np.array_equal(rec.read(), mine.read())
        middle = rec.samples // 2
        stop = min(rec.samples, middle + 4096)
        assert np.array_equal(rec.read(middle, stop), mine.read(middle, stop))
    assert verify(remote).ok
