"""Reader for dlib's binary serialisation of a DNN (the ``.dat`` network files).

Parses ``dlib_face_recognition_resnet_model_v1.dat`` to the last byte and returns the network as
a list of typed layer records in input→output order. The format is described in
``docs/dlib-format.md``; this module knows exactly the layer versions that file uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from faceaudit.base.errors import ModelError


class DatFormatError(ModelError):
    """A dlib ``.dat`` network file is truncated, malformed or uses an unsupported layer."""

    code = "model-malformed"


# Exponent codes dlib uses for non-finite floats (dlib/float_details.h).
_INF_EXPONENT = 32000
_NINF_EXPONENT = 32001
_NAN_EXPONENT = 32002

# Layer wrapper versions (dlib/dnn/core.h): add_tag_layer/add_skip_layer write 1, add_layer 2,
# and the innermost add_layer (the one holding the input layer) writes 3.
_WRAPPER_VERSION = 1
_LAYER_VERSION = 2
_INPUT_LAYER_VERSION = 3


class DatReader:
    """Decoder of dlib's primitive encodings over an in-memory byte string."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.pos = 0

    @property
    def remaining(self) -> int:
        """Number of bytes not consumed yet."""
        return len(self._data) - self.pos

    def _take(self, n: int, what: str) -> bytes:
        if n > self.remaining:
            raise DatFormatError(
                f"truncated dlib file: needed {n} bytes for {what} at byte {self.pos}, "
                f"only {self.remaining} left"
            )
        chunk = self._data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def read_int(self) -> int:
        """Read a compact integer: control byte (0x80 = negative, low 4 bits = size), magnitude."""
        start = self.pos
        control = self._take(1, "an integer")[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise DatFormatError(f"bad integer control byte 0x{control:02x} at byte {start}")
        magnitude = int.from_bytes(self._take(size, "an integer"), "little")
        return -magnitude if control & 0x80 else magnitude

    def read_float(self) -> float:
        """Read a float/double: compact mantissa, then compact exponent (value = m · 2^e)."""
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _INF_EXPONENT:
            return math.inf
        if exponent == _NINF_EXPONENT:
            return -math.inf
        if exponent == _NAN_EXPONENT:
            return math.nan
        try:
            return math.ldexp(mantissa, exponent)
        except OverflowError as exc:
            raise DatFormatError(
                f"float out of range (mantissa {mantissa}, exponent {exponent})"
            ) from exc

    def read_string(self) -> str:
        """Read a string: compact length, then that many bytes."""
        length = self.read_int()
        if length < 0:
            raise DatFormatError(f"negative string length {length} at byte {self.pos}")
        raw = self._take(length, "a string")
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise DatFormatError(f"non-ASCII string at byte {self.pos - length}") from exc

    def read_bool(self) -> bool:
        """Read a bool stored as one ASCII character, ``'0'`` or ``'1'``."""
        char = self._take(1, "a bool")
        if char not in (b"0", b"1"):
            raise DatFormatError(f"bad bool byte {char!r} at byte {self.pos - 1}")
        return char == b"1"

    def read_shape(self) -> tuple[int, int, int, int]:
        """Read four compact ints (num_samples, k, nr, nc); all must be non-negative."""
        shape = (self.read_int(), self.read_int(), self.read_int(), self.read_int())
        if min(shape) < 0:
            raise DatFormatError(f"negative tensor dimension {shape} at byte {self.pos}")
        return shape

    def read_tensor(self) -> np.ndarray:
        """Read a tensor: version 2, shape, then raw little-endian float32 values."""
        version = self.read_int()
        if version != 2:
            raise DatFormatError(f"unsupported tensor version {version} at byte {self.pos}")
        shape = self.read_shape()
        count = math.prod(shape)
        raw = self._take(4 * count, "tensor data")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def read_alias_shape(self) -> tuple[int, int, int, int]:
        """Read an alias_tensor record (version 1 and a shape, no data): a view into params."""
        version = self.read_int()
        if version != 1:
            raise DatFormatError(f"unsupported alias_tensor version {version} at byte {self.pos}")
        return self.read_shape()

    def expect_string(self, expected: str) -> None:
        """Read a string and fail unless it equals ``expected``."""
        got = self.read_string()
        if got != expected:
            raise DatFormatError(f"expected {expected!r}, found {got!r} at byte {self.pos}")


# --------------------------------------------------------------------------- layer records


@dataclass(frozen=True)
class InputRGB:
    """``input_rgb_image_sized``: RGB chip of ``rows``×``cols``; pixels become (p − mean)/256."""

    mean: tuple[float, float, float]
    rows: int
    cols: int


@dataclass(frozen=True, eq=False)
class Conv:
    """Convolution (``con_``): weights (out, in, kh, kw), bias (out,), stride and padding (y, x)."""

    weights: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, eq=False)
class Affine:
    """Per-channel ``y = gamma · x + beta`` (batch norm folded in at training end)."""

    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Relu:
    """Rectified linear unit."""


@dataclass(frozen=True)
class Pool:
    """Max or average pooling; ``window == (0, 0)`` means pool over the whole feature map."""

    kind: Literal["max", "avg"]
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrev:
    """Element-wise sum with an earlier tagged output (which tag is not stored in the file)."""


@dataclass(frozen=True)
class TagOrSkip:
    """A tag or skip layer: stores nothing; whether it is a tag or a skip is not in the file."""


@dataclass(frozen=True, eq=False)
class FullyConnected:
    """Fully-connected layer ``y = x · weights (+ bias)``; weights are stored (in, out)."""

    weights: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True)
class MetricLoss:
    """``loss_metric``: the training loss; kept for its distance threshold."""

    margin: float
    distance_threshold: float


Layer = InputRGB | Conv | Affine | Relu | Pool | AddPrev | TagOrSkip | FullyConnected | MetricLoss


def parameter_count(layers: list[Layer]) -> int:
    """Total number of learned float parameters in ``layers``."""
    total = 0
    for layer in layers:
        if isinstance(layer, Conv):
            total += layer.weights.size + layer.bias.size
        elif isinstance(layer, Affine):
            total += layer.gamma.size + layer.beta.size
        elif isinstance(layer, FullyConnected):
            total += layer.weights.size + (0 if layer.bias is None else layer.bias.size)
    return total


# --------------------------------------------------------------------------- layer decoders


def _split_params(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Cut the flat ``params`` tensor into consecutive pieces of the given shapes."""
    flat = params.reshape(-1)
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) != flat.size:
        raise DatFormatError(
            f"parameter tensor holds {flat.size} values, layer fields describe {sum(sizes)}"
        )
    pieces, start = [], 0
    for shape, size in zip(shapes, sizes, strict=True):
        pieces.append(flat[start : start + size].reshape(shape))
        start += size
    return pieces


def _read_conv(r: DatReader) -> Conv:
    params = r.read_tensor()
    num_filters, nr, nc = r.read_int(), r.read_int(), r.read_int()
    stride = (r.read_int(), r.read_int())
    padding = (r.read_int(), r.read_int())
    filters_shape = r.read_alias_shape()
    biases_shape = r.read_alias_shape()
    for _ in range(4):  # learning-rate and weight-decay multipliers (weights, bias)
        r.read_float()
    if filters_shape[0] != num_filters or filters_shape[2:] != (nr, nc):
        raise DatFormatError(f"conv filter shape {filters_shape} disagrees with its fields")
    weights, bias = _split_params(params, filters_shape, (num_filters,))
    if math.prod(biases_shape) != num_filters:
        raise DatFormatError(f"conv bias shape {biases_shape} for {num_filters} filters")
    return Conv(weights=weights, bias=bias, stride=stride, padding=padding)


def _read_affine(r: DatReader) -> Affine:
    params = r.read_tensor()
    gamma_shape = r.read_alias_shape()
    beta_shape = r.read_alias_shape()
    r.read_int()  # mode: conv (per channel) or fc (per element); same maths for a vector
    gamma, beta = _split_params(params, (math.prod(gamma_shape),), (math.prod(beta_shape),))
    return Affine(gamma=gamma, beta=beta)


def _read_pool(kind: Literal["max", "avg"]):
    def read(r: DatReader) -> Pool:
        window = (r.read_int(), r.read_int())
        stride = (r.read_int(), r.read_int())
        padding = (r.read_int(), r.read_int())
        return Pool(kind=kind, window=window, stride=stride, padding=padding)

    return read


def _read_fc(r: DatReader) -> FullyConnected:
    num_outputs, num_inputs = r.read_int(), r.read_int()
    params = r.read_tensor()
    weights_shape = r.read_alias_shape()
    biases_shape = r.read_alias_shape()
    bias_mode = r.read_int()  # 0 = FC_HAS_BIAS, 1 = FC_NO_BIAS
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.read_float()
    if bias_mode not in (0, 1):
        raise DatFormatError(f"unknown fc bias mode {bias_mode}")
    if math.prod(weights_shape) != num_inputs * num_outputs:
        raise DatFormatError(f"fc weights shape {weights_shape} for {num_inputs}→{num_outputs}")
    if bias_mode == 1:
        (weights,) = _split_params(params, (num_inputs, num_outputs))
        return FullyConnected(weights=weights, bias=None)
    if math.prod(biases_shape) != num_outputs:
        raise DatFormatError(f"fc bias shape {biases_shape} for {num_outputs} outputs")
    weights, bias = _split_params(params, (num_inputs, num_outputs), (num_outputs,))
    return FullyConnected(weights=weights, bias=bias)


_LAYER_READERS = {
    "con_4": _read_conv,
    "affine_": _read_affine,
    "relu_": lambda r: Relu(),
    "max_pool_2": _read_pool("max"),
    "avg_pool_2": _read_pool("avg"),
    "add_prev_": lambda r: AddPrev(),
    "fc_2": _read_fc,
}


def _read_layer_details(r: DatReader) -> Layer:
    name = r.read_string()
    reader = _LAYER_READERS.get(name)
    if reader is None:
        raise DatFormatError(f"unsupported dlib layer type {name!r}")
    return reader(r)


def _read_input_layer(r: DatReader) -> InputRGB:
    r.expect_string("input_rgb_image_sized")
    mean = (r.read_float(), r.read_float(), r.read_float())
    rows, cols = r.read_int(), r.read_int()
    return InputRGB(mean=mean, rows=rows, cols=cols)


def _read_layer_state(r: DatReader) -> None:
    """Skip what every add_layer writes after its layer: 3 bools and 3 (empty) work tensors."""
    for _ in range(3):
        r.read_bool()
    for _ in range(3):
        r.read_tensor()


def _read_input_layer_state(r: DatReader) -> None:
    """Skip the innermost add_layer's state: as any layer's, plus the sample expansion factor."""
    _read_layer_state(r)
    factor = r.read_int()
    if factor != 1:
        raise DatFormatError(f"unsupported sample expansion factor {factor}")


def parse_network(data: bytes) -> list[Layer]:
    """Parse a whole dlib ``loss_metric`` network file; return its layers, input → output.

    The file must be consumed to the last byte. Raises :class:`DatFormatError` for anything
    truncated, malformed, trailing or unsupported.
    """
    r = DatReader(data)
    if r.read_int() != 1:
        raise DatFormatError("not a dlib network file: bad loss-layer version")
    r.expect_string("loss_metric_2")
    loss = MetricLoss(margin=r.read_float(), distance_threshold=r.read_float())

    # Each wrapper writes its version and then the network inside it first, so the file opens
    # with a run of versions from the output side inwards, ending with the input-layer wrapper.
    wrappers: list[int] = []
    while (version := r.read_int()) != _INPUT_LAYER_VERSION:
        if version not in (_WRAPPER_VERSION, _LAYER_VERSION):
            raise DatFormatError(f"unexpected layer wrapper version {version} at byte {r.pos}")
        wrappers.append(version)

    layers: list[Layer] = [_read_input_layer(r), _read_layer_details(r)]
    _read_input_layer_state(r)
    for version in reversed(wrappers):
        if version == _WRAPPER_VERSION:
            layers.append(TagOrSkip())
        else:
            layers.append(_read_layer_details(r))
            _read_layer_state(r)
    layers.append(loss)
    if r.remaining:
        raise DatFormatError(f"{r.remaining} trailing bytes after the network at byte {r.pos}")
    return layers


def read_network(path: Path) -> list[Layer]:
    """Read and parse the dlib network file at ``path`` (see :func:`parse_network`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read dlib model file {path}: {exc.strerror}") from exc
    return parse_network(data)
