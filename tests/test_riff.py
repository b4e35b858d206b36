"""Tests of the RIFF/WAVE chunk reader (wildzarr.sources.riff) and its use by open_source."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from signals import bext_chunk, chunk, guano_chunk, info_list, make_signal, wav_bytes, write_wav

from wildzarr.errors import SourceError
from wildzarr.sources import open_source
from wildzarr.sources.limits import MAX_TEXT_BYTES
from wildzarr.sources.riff import MAX_CHUNKS, parse_bext, parse_guano, parse_riff, read_riff

DATA = make_signal(1001, 2, 16, seed=7)  # 4004 bytes of samples

GUANO_FIELDS = {
    "GUANO|Version": "1.0",
    "Make": "Wildlife Acoustics",
    "Model": "Song Meter SM4BAT-FS",
    "Timestamp": "2024-06-03T03:37:31+02:00",
    "Loc Position": "49.093119 5.047867",
    "NABat|Site Name": "Étang de Lindre",
    "Note": "a: value: with colons",
}


def parse(blob: bytes) -> dict:
    info = parse_riff(io.BytesIO(blob))
    assert info is not None
    assert json.loads(json.dumps(info.meta)) == info.meta
    return info.meta


def test_not_riff() -> None:
    assert parse_riff(io.BytesIO(b"fLaC" + b"\0" * 100)) is None
    assert parse_riff(io.BytesIO(b"RIFF\0\0\0\0AVI ")) is None
    assert parse_riff(io.BytesIO(b"RIFF")) is None
    assert parse_riff(io.BytesIO(b"")) is None


def test_plain_wav_chunk_list() -> None:
    info = parse_riff(io.BytesIO(wav_bytes(DATA, 8000)))
    assert info is not None
    assert info.meta["chunks"] == [
        {"id": "fmt ", "offset": 12, "size": 16},
        {"id": "data", "offset": 36, "size": 4004},
    ]
    assert info.meta["fmt"] == {
        "format_tag": 1,
        "channels": 2,
        "samplerate": 8000,
        "byte_rate": 32000,
        "block_align": 4,
        "bits_per_sample": 16,
    }
    assert (info.data_offset, info.data_size, info.data_available, info.block_align) == (44, 4004, 4004, 4)
    assert "riff_warnings" not in info.meta


def test_guano_after_data() -> None:
    meta = parse(wav_bytes(DATA, 8000, after=[guano_chunk(GUANO_FIELDS)]))
    assert meta["guano"] == GUANO_FIELDS
    assert [c["id"] for c in meta["chunks"]] == ["fmt ", "data", "guan"]
    assert meta["chunks"][2]["offset"] == 44 + 4004


def test_guano_parsing_details() -> None:
    text = (
        "GUANO|Version:1.0\r\n  Make :  Pettersson \r\n\r\nno colon here\n"
        "Temperature Ext: 12.5\nMake: Elekon\n"
    )
    assert parse_guano(text.encode() + b"\0\0") == {
        "GUANO|Version": "1.0",
        "Make": "Elekon",  # a repeated key keeps its last value
        "Temperature Ext": "12.5",
    }
    # not UTF-8: read as latin-1 rather than failing
    assert parse_guano("Note: caf\xe9".encode("latin-1")) == {"Note": "café"}


def test_guano_crlf_and_odd_size_before_data() -> None:
    fields = {"GUANO|Version": "1.0", "Make": "X"}  # 30 bytes with CRLF -> even; add one char for odd
    fields["Model"] = "ABC"
    g = guano_chunk(fields, newline="\r\n")
    assert struct.unpack("<I", g[4:8])[0] % 2 == 1 and len(g) % 2 == 0  # odd size, pad byte written
    meta = parse(wav_bytes(DATA, 8000, before=[g]))
    assert meta["guano"] == fields
    assert [c["id"] for c in meta["chunks"]] == ["fmt ", "guan", "data"]
    assert meta["chunks"][2]["offset"] == 36 + len(g)


def test_bext() -> None:
    b = bext_chunk(
        description=b"Hydrophone H1, Monterey Bay",
        originator=b"SoundTrap ST600",
        originator_reference=b"ST600-1234",
        date=b"2020-07-21",
        time=b"10:33:55",
        time_reference=(5 << 32) + 123,
        version=2,
        umid=bytes(range(64)),
        loudness=(-2300, 750, -100, -1500, -1800),
        coding_history=b"A=PCM,F=48000,W=24,M=mono,T=SoundTrap\r\n",
    )
    meta = parse(wav_bytes(DATA, 8000, before=[b]))
    assert meta["bext"] == {
        "Description": "Hydrophone H1, Monterey Bay",
        "Originator": "SoundTrap ST600",
        "OriginatorReference": "ST600-1234",
        "OriginationDate": "2020-07-21",
        "OriginationTime": "10:33:55",
        "TimeReference": (5 << 32) + 123,
        "Version": 2,
        "UMID": bytes(range(64)).hex(),
        "LoudnessValue": -2300,
        "LoudnessRange": 750,
        "MaxTruePeakLevel": -100,
        "MaxMomentaryLoudness": -1500,
        "MaxShortTermLoudness": -1800,
        "CodingHistory": "A=PCM,F=48000,W=24,M=mono,T=SoundTrap\r\n",
    }


def test_bext_version_0_and_short() -> None:
    full = bext_chunk(description=b"old", version=0)[8:]
    fields = parse_bext(full)
    assert fields["Version"] == 0 and fields["UMID"] == "" and "LoudnessValue" not in fields
    assert "CodingHistory" not in fields
    assert parse_bext(full[:300]) == {"Description": "old", "Originator": ""}
    assert parse_bext(b"") == {}


def test_ixml_xmp_and_info() -> None:
    ixml = b'<?xml version="1.0"?><BWFXML><PROJECT>Frogs</PROJECT></BWFXML>\0'
    xmp = b"<x:xmpmeta>bats</x:xmpmeta>"
    info = info_list({"ICMT": b"Recorded by AudioMoth 24A0 at gain 2", "ISFT": b"odd", "INAM": b"Sp\xe9cies"})
    meta = parse(
        wav_bytes(
            DATA,
            8000,
            before=[info, chunk(b"iXML", ixml)],
            after=[
                chunk(b"_PMX", xmp),
                chunk(b"wamd", b"\x00\x01\x02"),
                chunk(b"id3 ", b"ID3\x03" + bytes(20)),
            ],
        )
    )
    assert meta["ixml"] == ixml.rstrip(b"\0").decode()
    assert meta["xmp"] == xmp.decode()
    assert meta["info"] == {"ICMT": "Recorded by AudioMoth 24A0 at gain 2", "ISFT": "odd", "INAM": "Spécies"}
    ids = [c["id"] for c in meta["chunks"]]
    assert ids == ["fmt ", "LIST", "iXML", "data", "_PMX", "wamd", "id3 "]
    assert meta["chunks"][1]["list_type"] == "INFO"
    assert meta["chunks"][5]["size"] == 3
    # offsets are consistent: each chunk starts after the padded previous one
    for prev, cur in zip(meta["chunks"], meta["chunks"][1:], strict=False):
        assert cur["offset"] == prev["offset"] + 8 + prev["size"] + prev["size"] % 2


def test_other_list_types_are_listed_only() -> None:
    adtl = chunk(b"LIST", b"adtl" + chunk(b"labl", struct.pack("<I", 1) + b"call\0"))
    meta = parse(wav_bytes(DATA, 8000, after=[adtl]))
    assert meta["chunks"][-1]["list_type"] == "adtl"
    assert "info" not in meta


def test_truncated_trailing_chunk() -> None:
    blob = wav_bytes(DATA, 8000, after=[guano_chunk(GUANO_FIELDS)])
    meta = parse(blob[:-40])
    last = meta["chunks"][-1]
    assert last["id"] == "guan" and last["truncated"] is True
    assert "announces" in meta["riff_warnings"][0]
    assert meta["guano"]["Make"] == "Wildlife Acoustics"  # the part present is still read


def test_trailing_garbage_and_short_tail() -> None:
    meta = parse(wav_bytes(DATA, 8000) + b"\x01\x02\x03")
    assert meta["riff_warnings"] == ["3 trailing bytes after the last chunk"]
    meta = parse(wav_bytes(DATA, 8000) + b"\xff\xfe\x00\x01garbage!")
    assert "no valid chunk id at offset 4048" in meta["riff_warnings"][0]
    assert len(meta["chunks"]) == 2


def test_missing_pad_byte_is_tolerated() -> None:
    odd = chunk(b"note", b"abc", pad=False)
    meta = parse(wav_bytes(DATA, 8000, before=[odd]))
    assert [c["id"] for c in meta["chunks"]] == ["fmt ", "note", "data"]
    assert meta["chunks"][2]["offset"] == 36 + 11


def test_oversized_text_chunk_is_cut() -> None:
    big = chunk(b"iXML", b"<a>" + b"x" * (MAX_TEXT_BYTES + 2))
    meta = parse(wav_bytes(DATA, 8000, after=[big]))
    assert meta["ixml"] == "<a>" + "x" * (MAX_TEXT_BYTES - 3)
    assert meta["truncated"] == [{"field": "ixml", "bytes": MAX_TEXT_BYTES + 5}]
    assert "riff_warnings" not in meta


def test_too_many_chunks() -> None:
    many = [chunk(b"junk", b"")] * (MAX_CHUNKS + 10)
    meta = parse(wav_bytes(DATA, 8000, after=many))
    assert len(meta["chunks"]) == MAX_CHUNKS
    assert "more than" in meta["riff_warnings"][0]


def test_extensible_fmt(tmp_path: Path) -> None:
    path = tmp_path / "ext.wav"
    data = make_signal(500, 6, 24)
    from signals import write_audio_file

    write_audio_file(path, data, 96000, "wav", bits=24)  # FFmpeg writes WAVE_FORMAT_EXTENSIBLE for 6 ch
    info = read_riff(path)
    assert info is not None
    fmt = info.meta["fmt"]
    assert fmt["format_tag"] == 0xFFFE and fmt["valid_bits"] == 24 and fmt["channels"] == 6
    assert fmt["subformat"].startswith("0100")  # KSDATAFORMAT_SUBTYPE_PCM


# ----------------------------------------------------------------------------- sizes and forms


@pytest.mark.parametrize("form", [b"RF64", b"BW64"])
def test_rf64(tmp_path: Path, form: bytes) -> None:
    blob = wav_bytes(DATA, 8000, form=form, after=[guano_chunk({"GUANO|Version": "1.0"})])
    info = parse_riff(io.BytesIO(blob))
    assert info is not None and info.form == form.decode()
    assert info.data_size == 4004
    assert [c["id"] for c in info.meta["chunks"]] == ["ds64", "fmt ", "data", "guan"]
    assert info.meta["chunks"][2]["size"] == 4004
    assert info.meta["guano"] == {"GUANO|Version": "1.0"}
    path = tmp_path / "rf64.wav"
    path.write_bytes(blob)
    with open_source(path) as src:
        assert src.format.samples == 1001
        np.testing.assert_array_equal(np.concatenate(list(src.blocks())), DATA)


@pytest.mark.parametrize("size", [0, 0xFFFFFFFF])
def test_placeholder_data_size(tmp_path: Path, size: int) -> None:
    """Recorders that die before finalizing the header: the samples still import."""
    blob = wav_bytes(DATA, 8000, data_size=size)
    info = parse_riff(io.BytesIO(blob))
    assert info is not None and info.data_size is None
    assert info.meta["chunks"][1] == {"id": "data", "offset": 36, "size": 4004, "size_unknown": True}
    path = tmp_path / "unfinished.wav"
    path.write_bytes(blob)
    with open_source(path) as src:
        assert src.format.samples is None
        np.testing.assert_array_equal(np.concatenate(list(src.blocks())), DATA)


def test_genuine_empty_data_chunk() -> None:
    meta = parse(wav_bytes(DATA[:0], 8000, after=[guano_chunk({"Make": "X"})]))
    assert meta["chunks"][1] == {"id": "data", "offset": 36, "size": 0}
    assert meta["guano"] == {"Make": "X"}


def test_odd_data_size_24_bit_mono(tmp_path: Path) -> None:
    data = make_signal(5, 1, 24)  # 15 bytes of samples: odd, padded
    path = tmp_path / "odd.wav"
    write_wav(path, data, 8000, bits=24, after=[chunk(b"guan", b"Make: Y")])
    with open_source(path) as src:
        assert src.format.bits_per_sample == 24 and src.format.samples == 5
        assert src.file_meta["guano"] == {"Make": "Y"}
        np.testing.assert_array_equal(np.concatenate(list(src.blocks())), data)


def test_open_source_metadata_from_hand_made_wav(tmp_path: Path) -> None:
    path = tmp_path / "all.wav"
    write_wav(
        path,
        DATA,
        384000,
        before=[info_list({"ICMT": b"gain 2"}), bext_chunk(description=b"d", version=1)],
        after=[guano_chunk(GUANO_FIELDS), chunk(b"iXML", b"<BWFXML/>")],
    )
    with open_source(path) as src:
        meta = src.file_meta
        assert meta["guano"] == GUANO_FIELDS
        assert meta["bext"]["Description"] == "d" and meta["bext"]["Version"] == 1
        assert meta["ixml"] == "<BWFXML/>"
        assert meta["info"] == {"ICMT": "gain 2"}
        # PyAV's own view: bext Description and ICMT both map to "comment" (bext wins)
        assert meta["tags"] == {"comment": "d", "time_reference": "0"}
        assert src.format.samplerate == 384000
        np.testing.assert_array_equal(np.concatenate(list(src.blocks())), DATA)


def test_read_riff_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nothing.wav"):
        read_riff(tmp_path / "nothing.wav")
    (tmp_path / "plain.txt").write_text("hello")
    assert read_riff(tmp_path / "plain.txt") is None


# ----------------------------------------------------------------------------- hostile input


def _fuzz_base() -> bytes:
    return wav_bytes(
        make_signal(200, 2, 16, seed=1),
        8000,
        before=[info_list({"ICMT": b"x"}), bext_chunk(description=b"d")],
        after=[guano_chunk({"Make": "M", "Model": "N"}), chunk(b"iXML", b"<a/>"), chunk(b"odd!", b"123")],
    )


def _mutate(blob: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(blob)
    kind = rng.integers(4)
    if kind == 0:  # random bytes at random places
        for _ in range(rng.integers(1, 20)):
            b[rng.integers(len(b))] = rng.integers(256)
    elif kind == 1:  # a random 32-bit size somewhere
        pos = int(rng.integers(4, len(b) - 4))
        b[pos : pos + 4] = struct.pack(
            "<I", int(rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, int(rng.integers(2**32))]))
        )
    elif kind == 2:  # cut short
        b = b[: rng.integers(12, len(b))]
    else:  # random tail
        b += rng.bytes(int(rng.integers(1, 100)))
    return bytes(b)


def test_fuzz_parse_riff() -> None:
    base = _fuzz_base()
    rng = np.random.default_rng(2026)
    for _ in range(3000):
        blob = _mutate(base, rng)
        info = parse_riff(io.BytesIO(blob))  # must not raise
        if info is not None:
            json.dumps(info.meta)
            for c in info.meta["chunks"]:
                assert 12 <= c["offset"] < len(blob)


def test_fuzz_open_source(tmp_path: Path) -> None:
    """Damaged WAV files open and decode, or raise SourceError: nothing else."""
    base = _fuzz_base()
    rng = np.random.default_rng(7)
    path = tmp_path / "fuzz.wav"
    outcomes = {"ok": 0, "error": 0}
    for _ in range(150):
        path.write_bytes(_mutate(base, rng))
        try:
            with open_source(path) as src:
                json.dumps(src.file_meta)
                for _block in src.blocks():
                    pass
            outcomes["ok"] += 1
        except SourceError as e:
            assert "fuzz.wav" in str(e)
            outcomes["error"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0
