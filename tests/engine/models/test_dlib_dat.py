"""The dlib .dat reader: primitive decoders on hand-made bytes, and the real network file."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from faceaudit.base.errors import FaceAuditError, ModelError
from faceaudit.engine.models.dlib_dat import (
    AddPrev,
    Affine,
    Conv,
    DatFormatError,
    DatReader,
    FullyConnected,
    InputRGB,
    MetricLoss,
    Pool,
    TagOrSkip,
    parameter_count,
    parse_network,
    read_network,
)
from faceaudit.engine.models.dlib_onnx_cache import default_dat_path

# --------------------------------------------------------------------------- primitives


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"\x01\x00", 0),
        (b"\x01\x05", 5),
        (b"\x81\x05", -5),
        (b"\x02\x34\x12", 0x1234),
        (b"\x82\x00\x01", -256),
        (b"\x08" + (2**63 - 1).to_bytes(8, "little"), 2**63 - 1),
    ],
)
def test_compact_int(raw: bytes, value: int) -> None:
    reader = DatReader(raw)
    assert reader.read_int() == value
    assert reader.remaining == 0


@pytest.mark.parametrize("raw", [b"\x00", b"\x09" + bytes(9), b"\x11\x01", b"\x02\x01", b""])
def test_bad_or_truncated_int_raises_typed_error(raw: bytes) -> None:
    with pytest.raises(DatFormatError):
        DatReader(raw).read_int()


def test_float_is_mantissa_then_exponent() -> None:
    # 0.04 as float32 = 10737418 · 2^-28 (the loss margin at the start of the real file)
    reader = DatReader(b"\x03\x0a\xd7\xa3\x81\x1c" + b"\x01\x03\x01\x02")
    assert reader.read_float() == float(np.float32(0.04))
    assert reader.read_float() == 12.0  # 3 · 2^2, not 2 · 2^3


@pytest.mark.parametrize(
    ("exponent", "check"),
    [
        (32000, lambda v: v == math.inf),
        (32001, lambda v: v == -math.inf),
        (32002, math.isnan),
    ],
)
def test_float_special_exponents(exponent: int, check) -> None:
    raw = b"\x01\x00" + b"\x02" + exponent.to_bytes(2, "little")
    assert check(DatReader(raw).read_float())


def test_string_bool_and_tensor() -> None:
    tensor = b"\x01\x02" + b"\x01\x01\x01\x02\x01\x01\x01\x01" + struct.pack("<2f", 1.5, -2.0)
    reader = DatReader(b"\x01\x05relu_" + b"10" + tensor)
    assert reader.read_string() == "relu_"
    assert reader.read_bool() is True
    assert reader.read_bool() is False
    values = reader.read_tensor()
    assert values.shape == (1, 2, 1, 1)
    assert values.dtype == np.float32
    assert values.ravel().tolist() == [1.5, -2.0]
    assert reader.remaining == 0


def test_bad_bool_and_short_tensor_raise() -> None:
    with pytest.raises(DatFormatError):
        DatReader(b"x").read_bool()
    short = b"\x01\x02" + b"\x01\x01\x01\x02\x01\x01\x01\x01" + struct.pack("<f", 1.5)
    with pytest.raises(DatFormatError, match="truncated"):
        DatReader(short).read_tensor()


# --------------------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def dat_bytes() -> bytes:
    return default_dat_path().read_bytes()


@pytest.fixture(scope="module")
def layers(dat_bytes: bytes) -> list:
    return parse_network(dat_bytes)


def test_parameter_count(layers: list) -> None:
    assert parameter_count(layers) == 5_614_592


def test_input_and_first_conv(layers: list) -> None:
    first, conv, affine = layers[0], layers[1], layers[2]
    assert isinstance(first, InputRGB)
    assert (first.rows, first.cols) == (150, 150)
    assert first.mean == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    assert isinstance(conv, Conv)
    assert conv.weights.shape == (32, 3, 7, 7)
    assert conv.bias.shape == (32,)
    assert conv.stride == (2, 2) and conv.padding == (0, 0)
    assert isinstance(affine, Affine)
    assert affine.gamma.shape == affine.beta.shape == (32,)
    assert layers[4] == Pool(kind="max", window=(3, 3), stride=(2, 2), padding=(0, 0))


def test_output_end(layers: list) -> None:
    pool, fc, loss = layers[-3:]
    assert pool == Pool(kind="avg", window=(0, 0), stride=(1, 1), padding=(0, 0))
    assert isinstance(fc, FullyConnected)
    assert fc.weights.shape == (256, 128)  # stored (in, out)
    assert fc.bias is None
    assert isinstance(loss, MetricLoss)
    assert loss.distance_threshold == pytest.approx(0.6)


def test_layer_census(layers: list) -> None:
    def count(kind: type) -> int:
        return sum(isinstance(layer, kind) for layer in layers)

    assert count(Conv) == count(Affine) == 29
    assert count(AddPrev) == 14  # 10 plain residual units + 4 down-sampling units
    assert count(TagOrSkip) == 22  # one tag per unit, plus tag2 and skip1 per down unit
    channels = [layer.weights.shape[0] for layer in layers if isinstance(layer, Conv)]
    assert channels[-1] == 256 and sorted(set(channels)) == [32, 64, 128, 256]


def test_trailing_byte_is_refused(dat_bytes: bytes) -> None:
    with pytest.raises(DatFormatError, match="trailing"):
        parse_network(dat_bytes + b"\x00")


@pytest.mark.parametrize("keep", [0.5, 0.999, -1])
def test_truncated_file_raises_typed_error(dat_bytes: bytes, tmp_path: Path, keep: float) -> None:
    size = len(dat_bytes) - 1 if keep == -1 else int(len(dat_bytes) * keep)
    path = tmp_path / "cut.dat"
    path.write_bytes(dat_bytes[:size])
    with pytest.raises(DatFormatError) as info:
        read_network(path)
    assert isinstance(info.value, FaceAuditError)


def test_not_a_dlib_file(tmp_path: Path) -> None:
    path = tmp_path / "text.dat"
    path.write_text("hello, this is not a network")
    with pytest.raises(DatFormatError):
        read_network(path)


def test_missing_file_is_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        read_network(tmp_path / "absent.dat")
