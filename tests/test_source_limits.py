"""Size limits of file metadata (wildzarr.sources.limits), on their own and on real files.

The real files are written by PyAV (WAV, FLAC, MP3, Ogg Vorbis and Opus with huge
or many tags) or assembled by hand (RIFF chunks of any size); each must give a
``file_meta`` under MAX_FILE_META_BYTES that records what was cut.
"""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from signals import bext_chunk, chunk, guano_chunk, info_list, make_signal, wav_bytes, write_audio_file

from wildzarr.sources import open_source
from wildzarr.sources.limits import (
    MAX_ENTRIES,
    MAX_FILE_META_BYTES,
    MAX_KEY_BYTES,
    MAX_TEXT_BYTES,
    cap_text,
    cut_utf8,
    limit_file_meta,
    utf8_size,
)
from wildzarr.sources.riff import parse_riff, read_riff

MB = 1_000_000
DATA = make_signal(2000, 1, 16, seed=11)


def json_size(value: Any) -> int:
    """The size the limits are defined on."""
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def records(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The truncation records by field."""
    return {r["field"]: r for r in meta.get("truncated", [])}


def check_meta(meta: dict[str, Any]) -> None:
    """What every file_meta must satisfy: valid UTF-8 JSON within the limits."""
    assert json_size(meta) <= MAX_FILE_META_BYTES
    assert json.loads(json.dumps(meta, ensure_ascii=False).encode("utf-8")) == meta
    for record in meta.get("truncated", []):
        assert set(record) <= {"field", "bytes", "dropped"} and record["bytes"] > 0


# ----------------------------------------------------------------------------- text helpers


@pytest.mark.parametrize("text", ["", "plain ascii", "café ✓ 𝄞 日本", "é" * 100_000 + "x", "x" * 300_000])
def test_utf8_size(text: str) -> None:
    assert utf8_size(text) == len(text.encode("utf-8"))


@pytest.mark.parametrize("char", ["a", "é", "✓", "𝄞"])
def test_cap_text_cuts_at_a_character_boundary(char: str) -> None:
    width = len(char.encode())
    for limit in range(20, 28):
        for length in range(0, 12):
            text = "ab" * 5 + char * length
            capped, size = cap_text(text, limit)
            assert size == len(text.encode())
            data = capped.encode()
            assert len(data) <= limit and text.startswith(capped)
            if capped != text:  # maximal: one more character would not fit
                assert len(data) + width > limit


def test_cap_text_keeps_a_text_that_fits() -> None:
    text = "é" * (MAX_TEXT_BYTES // 2)
    capped, size = cap_text(text)
    assert capped is text and size == MAX_TEXT_BYTES


def test_cut_utf8() -> None:
    data = "aé✓𝄞".encode()  # 1 + 2 + 3 + 4 bytes
    assert [cut_utf8(data, n).decode() for n in range(11)] == [
        "",
        "a",
        "a",
        "aé",
        "aé",
        "aé",
        "aé✓",
        "aé✓",
        "aé✓",
        "aé✓",
        "aé✓𝄞",
    ]


# ----------------------------------------------------------------------------- limit_file_meta


def test_small_meta_is_unchanged() -> None:
    meta = {"tags": {"comment": "AudioMoth", "title": "dawn"}, "chunks": [{"id": "fmt ", "offset": 12}]}
    before = json.loads(json.dumps(meta))
    limit_file_meta(meta)
    assert meta == before and "truncated" not in meta


def test_long_text_is_cut_and_recorded() -> None:
    meta: dict[str, Any] = {"tags": {"comment": "é" * 100_000, "title": "t"}}
    meta["streams"] = [{"codec": "x" * 70_000}]
    limit_file_meta(meta)
    assert meta["tags"]["comment"] == "é" * (MAX_TEXT_BYTES // 2)
    assert meta["streams"][0]["codec"] == "x" * MAX_TEXT_BYTES
    assert meta["truncated"] == [
        {"field": "tags.comment", "bytes": 200_000},
        {"field": "streams[0].codec", "bytes": 70_000},
    ]
    check_meta(meta)


def test_surplus_entries_and_long_keys_are_dropped() -> None:
    tags = {f"k{i:04d}": "v" for i in range(MAX_ENTRIES + 500)}
    long_key = "K" * (MAX_KEY_BYTES + 1)
    guano = {"Make": "Pettersson", long_key: "value"}
    meta: dict[str, Any] = {"tags": tags, "guano": guano}
    limit_file_meta(meta)
    assert list(meta["tags"]) == [f"k{i:04d}" for i in range(MAX_ENTRIES)]
    assert meta["guano"] == {"Make": "Pettersson"}
    assert meta["truncated"] == [
        {"field": f"tags[{MAX_ENTRIES}:]", "bytes": 500 * (5 + 1), "dropped": True},
        {"field": "guano." + "K" * MAX_KEY_BYTES, "bytes": MAX_KEY_BYTES + 1 + 5, "dropped": True},
    ]


def test_largest_texts_are_dropped_until_the_whole_fits() -> None:
    sizes = [60_000 - 1000 * i for i in range(30)]  # 1.3 MB of values, each under the cap
    meta: dict[str, Any] = {"tags": {f"t{i}": "x" * n for i, n in enumerate(sizes)}, "info": {"ICMT": "keep"}}
    limit_file_meta(meta)
    check_meta(meta)
    dropped = [r["field"] for r in meta["truncated"]]
    assert all(r["dropped"] for r in meta["truncated"])
    # the largest went first, and no more than needed
    assert dropped == [f"tags.t{i}" for i in range(len(dropped))]
    assert json_size(meta) + sizes[len(dropped) - 1] > MAX_FILE_META_BYTES
    assert meta["info"] == {"ICMT": "keep"}


def test_a_cut_text_that_is_dropped_keeps_one_record() -> None:
    meta: dict[str, Any] = {"tags": {f"t{i}": f"{i}" + "y" * 3 * MAX_TEXT_BYTES for i in range(20)}}
    limit_file_meta(meta)
    check_meta(meta)
    fields = [r["field"] for r in meta["truncated"]]
    assert len(fields) == len(set(fields)) == 20
    for record in meta["truncated"]:
        assert record["bytes"] == 3 * MAX_TEXT_BYTES + len(record["field"]) - len("tags.t")
    assert sum(r.get("dropped", False) for r in meta["truncated"]) == 20 - len(meta["tags"])


def test_limit_is_exact_at_the_boundary() -> None:
    """A meta of exactly MAX_FILE_META_BYTES stays whole; one byte more loses a text."""
    meta: dict[str, Any] = {"tags": {f"t{i}": "x" * 60_000 for i in range(17)}}
    meta["tags"]["pad"] = ""
    meta["tags"]["pad"] = "p" * (MAX_FILE_META_BYTES - json_size(meta))
    assert json_size(meta) == MAX_FILE_META_BYTES
    exact = json.loads(json.dumps(meta))
    limit_file_meta(exact)
    assert "truncated" not in exact and json_size(exact) == MAX_FILE_META_BYTES
    meta["tags"]["pad"] += "p"
    limit_file_meta(meta)
    check_meta(meta)
    assert [r["dropped"] for r in meta["truncated"]] == [True]


def test_keys_and_structure_alone_too_large_drop_whole_sections() -> None:
    """Entries whose records would outweigh them cannot be dropped one by one: whole sections go."""
    key = "k" * (MAX_KEY_BYTES - 5)

    def mapping(tag: str) -> dict[str, str]:
        return {f"{tag}{i:04d}{key}"[:MAX_KEY_BYTES]: "v" for i in range(MAX_ENTRIES - 1)}

    sections = ["tags", "stream_tags", "guano", "info", "ixml_like"]
    meta: dict[str, Any] = {name: mapping(name[0]) for name in sections}
    meta["chunks"] = [{"id": "junk", "offset": i, "size": 0} for i in range(4000)]
    meta["guano"]["note"] = "n" * 60_000
    assert json_size(meta) > 1.5 * MAX_FILE_META_BYTES
    limit_file_meta(meta)
    check_meta(meta)
    kept = set(meta) - {"truncated"}
    gone = {r["field"] for r in meta["truncated"] if "." not in r["field"]}
    assert gone and not kept & gone and kept | gone == {*sections, "chunks"}
    assert all(r["dropped"] and r["bytes"] > 200_000 for r in meta["truncated"] if r["field"] in gone)
    # the large text went first; records inside a dropped section are replaced by the section's
    inside = {r["field"] for r in meta["truncated"]} - gone
    assert inside == ({"guano.note"} if "guano" in kept else set())


def test_existing_riff_records_are_kept() -> None:
    meta: dict[str, Any] = {"info": {"ICMT": "x"}, "truncated": [{"field": "info.ICMT", "bytes": 50 * MB}]}
    limit_file_meta(meta)
    assert meta["truncated"] == [{"field": "info.ICMT", "bytes": 50 * MB}]


def test_limit_holds_little_memory_for_a_huge_text() -> None:
    huge = "é" + "x" * (50 * MB)  # not ASCII: measured in slices
    meta: dict[str, Any] = {"tags": {"comment": huge}}
    tracemalloc.start()
    try:
        limit_file_meta(meta)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert meta["truncated"] == [{"field": "tags.comment", "bytes": 50 * MB + 2}]


# ----------------------------------------------------------------------------- RIFF chunks read in part


class CountingReader(io.BytesIO):
    """A file object that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_riff_reads_at_most_the_cap_of_a_huge_comment() -> None:
    blob = wav_bytes(DATA, 8000, before=[info_list({"ICMT": b"AudioMoth " + b"x" * (20 * MB), "INAM": b"n"})])
    f = CountingReader(blob)
    info = parse_riff(f)
    assert info is not None
    assert f.bytes_read < MAX_TEXT_BYTES + 1000  # headers, fmt and one capped value
    meta = info.meta
    assert meta["info"]["ICMT"] == ("AudioMoth " + "x" * MAX_TEXT_BYTES)[:MAX_TEXT_BYTES]
    assert meta["info"]["INAM"] == "n"
    assert meta["truncated"] == [{"field": "info.ICMT", "bytes": 20 * MB + 11}]  # with its NUL


def test_riff_cut_keeps_utf8_and_measures_latin1() -> None:
    utf8 = "é" * 40_000  # 80,000 bytes of UTF-8: cut inside the file, at a character boundary
    latin1 = b"\xe9" * 60_000  # read whole, but 120,000 bytes once decoded
    blob = wav_bytes(DATA, 8000, after=[info_list({"ICMT": utf8.encode(), "ISFT": latin1})])
    meta = parse(blob)
    assert meta["info"]["ICMT"] == "é" * (MAX_TEXT_BYTES // 2)  # not latin-1 mojibake
    assert meta["info"]["ISFT"] == "é" * (MAX_TEXT_BYTES // 2)
    assert records(meta) == {
        "info.ICMT": {"field": "info.ICMT", "bytes": 80_001},
        "info.ISFT": {"field": "info.ISFT", "bytes": 120_000},
    }


def test_riff_text_chunks_are_cut() -> None:
    guano = [("GUANO|Version", "1.0"), ("Make", "Elekon")] + [(f"Note{i}", "z" * 100) for i in range(800)]
    history = b"A=PCM,F=384000,W=16,M=mono\r\n" * 5000
    blob = wav_bytes(
        DATA,
        384000,
        after=[
            guano_chunk(guano),
            bext_chunk(description=b"Hydrophone", coding_history=history),
            chunk(b"_PMX", b"<x:xmpmeta>" + b" " * 200_000),
        ],
    )
    meta = parse(blob)
    assert meta["guano"]["Make"] == "Elekon" and len(meta["guano"]) < len(guano)
    assert meta["bext"]["Description"] == "Hydrophone"
    assert meta["bext"]["CodingHistory"] == history[:MAX_TEXT_BYTES].decode()
    assert meta["xmp"].startswith("<x:xmpmeta>") and len(meta["xmp"]) == MAX_TEXT_BYTES
    guano_size = struct.unpack("<I", guano_chunk(guano)[4:8])[0]
    assert records(meta) == {
        "guano": {"field": "guano", "bytes": guano_size},
        "bext.CodingHistory": {"field": "bext.CodingHistory", "bytes": len(history)},
        "xmp": {"field": "xmp", "bytes": 200_011},
    }


def test_riff_info_entries_are_limited() -> None:
    entries = {f"I{i:03X}": b"v" for i in range(MAX_ENTRIES + 300)}
    blob = wav_bytes(DATA, 8000, before=[info_list(entries)])
    meta = parse(blob)
    assert list(meta["info"]) == list(entries)[:MAX_ENTRIES]
    assert meta["truncated"] == [{"field": f"info[{MAX_ENTRIES}:]", "bytes": 300 * 10, "dropped": True}]


def test_riff_small_texts_are_not_recorded() -> None:
    ixml = b"<BWFXML>" + b"q" * (MAX_TEXT_BYTES - 8)  # exactly the cap
    meta = parse(wav_bytes(DATA, 8000, after=[chunk(b"iXML", ixml), info_list({"ICMT": b"c" * 100})]))
    assert meta["ixml"] == ixml.decode() and "truncated" not in meta


def parse(blob: bytes) -> dict[str, Any]:
    info = parse_riff(io.BytesIO(blob))
    assert info is not None
    return info.meta


# ----------------------------------------------------------------------------- real files


def test_wav_with_a_50_mb_comment(tmp_path: Path) -> None:
    """The issue's case: a 50 MB LIST/INFO ICMT, which PyAV also gives as the "comment" tag."""
    path = tmp_path / "moth.wav"
    comment = b"AudioMoth 24A0 " + b"x" * (50 * MB)
    path.write_bytes(wav_bytes(DATA, 48000, before=[info_list({"ICMT": comment, "IART": b"me"})]))
    tracemalloc.start()
    try:
        read_riff(path)
        riff_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert riff_peak < 3 * MAX_TEXT_BYTES
    with open_source(path) as src:
        meta = src.file_meta
        np.testing.assert_array_equal(np.concatenate(list(src.blocks())), DATA)
    check_meta(meta)
    assert json_size(meta) < 4 * MAX_TEXT_BYTES
    assert meta["info"]["ICMT"].startswith("AudioMoth 24A0 xxx") and meta["info"]["IART"] == "me"
    assert utf8_size(meta["tags"]["comment"]) == MAX_TEXT_BYTES
    assert records(meta) == {
        "info.ICMT": {"field": "info.ICMT", "bytes": len(comment) + 1},
        "tags.comment": {"field": "tags.comment", "bytes": len(comment)},
    }


@pytest.mark.parametrize(
    ("container", "section"),
    [("mp3", "tags"), ("flac", "tags"), ("ogg", "stream_tags"), ("opus", "stream_tags"), ("wav", "tags")],
)
def test_huge_tags_written_by_pyav(tmp_path: Path, container: str, section: str) -> None:
    """A 3 MB ID3 / Vorbis comment / INFO tag, written by FFmpeg's muxers."""
    path = tmp_path / f"big.{container}"
    comment = "Überflug " + "ü" * (1_500_000)  # 3 MB of UTF-8
    rate = 48000 if container == "opus" else 44100
    write_audio_file(path, make_signal(8000, 2, 16), rate, container, tags={"comment": comment, "title": "t"})
    with open_source(path) as src:
        meta = src.file_meta
    check_meta(meta)
    value = meta[section]["comment"]
    assert comment.startswith(value) and MAX_TEXT_BYTES - 2 < utf8_size(value) <= MAX_TEXT_BYTES
    assert meta[section]["title"] == "t"
    field = f"{section}.comment"
    assert records(meta)[field] == {"field": field, "bytes": len(comment.encode())}


@pytest.mark.parametrize(("container", "section"), [("flac", "tags"), ("ogg", "stream_tags")])
def test_many_large_tags_fit_the_total(tmp_path: Path, container: str, section: str) -> None:
    """30 tags of 50-60 KB each: every one under the cap, together over the total."""
    path = tmp_path / f"many.{container}"
    tags = {f"note{i:02d}": chr(ord("a") + i % 26) * (60_000 - 300 * i) for i in range(30)}
    write_audio_file(path, make_signal(8000, 2, 16), 44100, container, tags=tags)
    with open_source(path) as src:
        meta = src.file_meta
    check_meta(meta)
    dropped = [r for r in meta["truncated"] if r.get("dropped")]
    assert dropped and dropped == meta["truncated"]
    assert [r["field"] for r in dropped] == [f"{section}.note{i:02d}" for i in range(len(dropped))]
    assert all(meta[section][k] == v for k, v in tags.items() if k in meta[section])


def test_too_many_tags(tmp_path: Path) -> None:
    path = tmp_path / "tags.flac"
    tags = {f"TAG{i:04d}": f"value {i}" for i in range(MAX_ENTRIES + 200)}
    write_audio_file(path, make_signal(8000, 1, 16), 44100, "flac", tags=tags)
    with open_source(path) as src:
        meta = src.file_meta
    check_meta(meta)
    assert len(meta["tags"]) == MAX_ENTRIES
    (record,) = meta["truncated"]
    assert record["field"] == f"tags[{MAX_ENTRIES}:]" and record["dropped"] is True
    assert record["bytes"] >= 200 * len("TAG0000value 0000")
