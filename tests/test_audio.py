"""The one description of samples (AudioFormat) and the conversions between formats."""

from __future__ import annotations

import numpy as np
import pytest

from wildzarr.audio import AudioFormat, convert, convert_read_dtype, first_nonfinite, int_dtype_for
from wildzarr.errors import ArgumentError


def test_format_checks_its_fields() -> None:
    fmt = AudioFormat(48_000, 2, "int32", 24)
    assert fmt.kind == "int" and fmt.numpy_dtype == np.int32
    assert AudioFormat.from_json(fmt.to_json()) == fmt
    assert fmt.describe() == "48000 Hz, 2 ch, 24-bit int32"
    assert (
        AudioFormat(8000, 1, "uint8", 8).kind == "uint"
        and AudioFormat(8000, 1, "float64", 64).kind == "float"
    )
    for bad in (
        dict(dtype="float16", bits_per_sample=16),
        dict(dtype="int16", bits_per_sample=17),
        dict(dtype="float32", bits_per_sample=24),
        dict(dtype="int16", bits_per_sample=0),
    ):
        with pytest.raises(ArgumentError):
            AudioFormat(8000, 1, **bad)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        AudioFormat(0, 1, "int16", 16)
    with pytest.raises(ArgumentError):
        AudioFormat.from_json({"samplerate": 1})
    assert [int_dtype_for(b) for b in (8, 16, 24, 32, 64)] == ["int16", "int16", "int32", "int32", "int64"]


def test_integer_conversions_keep_values() -> None:
    x = np.array([[-128, 0, 127]], np.int16).T
    assert convert(x, AudioFormat(1, 1, "int16", 8), AudioFormat(1, 1, "int32", 8)).tolist() == [
        [-128],
        [0],
        [127],
    ]
    u = np.array([[0], [128], [255]], np.uint8)
    as_int = convert(u, AudioFormat(1, 1, "uint8", 8), AudioFormat(1, 1, "int16", 8))
    assert as_int.dtype == np.int16 and as_int[:, 0].tolist() == [-128, 0, 127]
    back = convert(as_int, AudioFormat(1, 1, "int16", 8), AudioFormat(1, 1, "uint8", 8))
    assert back.dtype == np.uint8 and np.array_equal(back, u)


def test_integer_to_float_scales_into_unit_range() -> None:
    x = np.array([[-(2**23)], [0], [2**23 - 1]], np.int32)
    y = convert(x, AudioFormat(1, 1, "int32", 24), AudioFormat(1, 1, "float32", 32))
    assert y.dtype == np.float32 and y[:, 0].tolist() == [-1.0, 0.0, (2**23 - 1) / 2**23]
    u = np.array([[0], [128], [255]], np.uint8)
    assert convert(u, AudioFormat(1, 1, "uint8", 8), AudioFormat(1, 1, "float64", 64))[:, 0].tolist() == [
        -1.0,
        0.0,
        127 / 128,
    ]


def test_float_to_integer_rounds_half_to_even_and_clips() -> None:
    step = 2.0**-23
    x = np.array([[0.5 * step], [1.5 * step], [-0.5 * step], [1.0], [-2.0], [0.25]], np.float32)
    y = convert(x, AudioFormat(1, 1, "float32", 32), AudioFormat(1, 1, "int32", 24))
    assert y[:, 0].tolist() == [0, 2, 0, 2**23 - 1, -(2**23), 2**21]


def test_read_dtypes() -> None:
    ints = AudioFormat(8000, 2, "int16", 16)
    assert convert_read_dtype(ints, None, "r") == ints
    assert convert_read_dtype(ints, "int32", "r").dtype == "int32"
    assert convert_read_dtype(ints, "float64", "r").bits_per_sample == 64
    with pytest.raises(ArgumentError, match=r"r: cannot read .* as int8; ask for None, int16, int32, int64"):
        convert_read_dtype(ints, "int8", "r")
    floats = AudioFormat(8000, 2, "float32", 32)
    with pytest.raises(ArgumentError, match=r"as int32; ask for None, float32, float64"):
        convert_read_dtype(floats, "int32", "r")
    with pytest.raises(ArgumentError, match="not a dtype"):
        convert_read_dtype(floats, "bogus", "r")
    deep = AudioFormat(8000, 1, "int32", 24)
    with pytest.raises(ArgumentError):
        convert_read_dtype(deep, "int16", "r")


def test_first_nonfinite() -> None:
    x = np.zeros((5000, 3), np.float32)
    assert first_nonfinite(x) is None and first_nonfinite(np.zeros((3, 1), np.int16)) is None
    x[4321, 2] = np.inf
    assert first_nonfinite(x, chunk=1000) == 4321
