"""Convert dlib's face recognition ResNet (``.dat``) to an ONNX graph (cached on disk by
:mod:`faceaudit.engine.models.dlib_onnx_cache`, which imports this module only to convert, and
which this module never imports).

The layer parameters come from :mod:`faceaudit.engine.models.dlib_dat`; the wiring of tags, skips
and
``add_prev`` layers is not in the file and comes from dlib's ``anet_type``
(``tools/python/src/face_recognition.cpp``), described in ``docs/dlib-format.md``.

Graph input ``chips``: float32 (N, 150, 150, 3), RGB pixel values 0–255 as numpy holds them.
Graph output ``descriptors``: float32 (N, 128), un-normalised, as dlib returns them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from faceaudit.base.errors import ModelError
from faceaudit.engine.models.dlib_dat import (
    AddPrev,
    Affine,
    Conv,
    FullyConnected,
    InputRGB,
    Layer,
    MetricLoss,
    Pool,
    Relu,
    TagOrSkip,
)

INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 17


# ------------------------------------------------------------------ expected network layout


def _anet_layout() -> list[type]:
    """Layer record types of dlib's ``anet_type``, input → output."""
    unit = [TagOrSkip, Conv, Affine, Relu, Conv, Affine, AddPrev, Relu]
    down_unit = [TagOrSkip, Conv, Affine, Relu, Conv, Affine, TagOrSkip, TagOrSkip, Pool]
    down_unit += [AddPrev, Relu]
    layout: list[type] = [InputRGB, Conv, Affine, Relu, Pool]
    layout += unit * 3  # alevel4: 3 units at 32 channels
    layout += down_unit + unit * 3  # alevel3: down to 64, 3 units
    layout += down_unit + unit * 2  # alevel2: down to 128, 2 units
    layout += down_unit + unit * 2  # alevel1: down to 256, 2 units
    layout += down_unit  # alevel0: down to 256
    return layout + [Pool, FullyConnected, MetricLoss]


# ------------------------------------------------------------------ graph construction


class _Graph:
    """Accumulates ONNX nodes and initializers, tracking each value's static (C, H, W)."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.shapes: dict[str, tuple[int, int, int]] = {}
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, prefix: str, value: np.ndarray) -> str:
        name = self._name(prefix)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], shape: tuple[int, int, int] | None, **attrs) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        if shape is not None:
            self.shapes[out] = shape
        return out


def _window_out(size: int, window: int, stride: int, pad: int) -> int:
    """dlib's (and ONNX's floor-mode) output size of a convolution or pooling window."""
    return 1 + (size + 2 * pad - window) // stride


def _conv(g: _Graph, x: str, layer: Conv) -> str:
    _, h, w = g.shapes[x]
    out_c, _, kh, kw = layer.weights.shape
    (sy, sx), (py, px) = layer.stride, layer.padding
    shape = (out_c, _window_out(h, kh, sy, py), _window_out(w, kw, sx, px))
    weights = g.const("conv_w", layer.weights)
    bias = g.const("conv_b", layer.bias)
    return g.node(
        "Conv",
        [x, weights, bias],
        shape,
        kernel_shape=[kh, kw],
        strides=[sy, sx],
        pads=[py, px, py, px],
    )


def _affine(g: _Graph, x: str, layer: Affine) -> str:
    gamma = g.const("gamma", layer.gamma.reshape(1, -1, 1, 1))
    beta = g.const("beta", layer.beta.reshape(1, -1, 1, 1))
    scaled = g.node("Mul", [x, gamma], g.shapes[x])
    return g.node("Add", [scaled, beta], g.shapes[x])


def _pool(g: _Graph, x: str, layer: Pool) -> str:
    c, h, w = g.shapes[x]
    if layer.window == (0, 0):
        if layer.kind != "avg":
            raise ModelError("global max pooling is not part of dlib's anet_type")
        return g.node("GlobalAveragePool", [x], (c, 1, 1))
    (kh, kw), (sy, sx), (py, px) = layer.window, layer.stride, layer.padding
    shape = (c, _window_out(h, kh, sy, py), _window_out(w, kw, sx, px))
    op = "MaxPool" if layer.kind == "max" else "AveragePool"
    return g.node(op, [x], shape, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])


def _zero_fill(g: _Graph, x: str, shape: tuple[int, int, int]) -> str:
    """Zero-pad ``x`` to ``shape`` in the extra channels and at the bottom/right, as dlib does."""
    extra = [t - s for t, s in zip(shape, g.shapes[x], strict=True)]
    if not any(extra):
        return x
    pads = g.const("pads", np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64))
    return g.node("Pad", [x, pads], shape, mode="constant")


def _add_prev(g: _Graph, a: str, b: str) -> str:
    """dlib ``add_prev``: sum of two tensors, the smaller one zero-filled to the larger shape."""
    (ca, ha, wa), (cb, hb, wb) = g.shapes[a], g.shapes[b]
    shape = (max(ca, cb), max(ha, hb), max(wa, wb))
    return g.node("Add", [_zero_fill(g, a, shape), _zero_fill(g, b, shape)], shape)


def _input(g: _Graph, layer: InputRGB) -> str:
    nchw = g.node("Transpose", [INPUT_NAME], None, perm=[0, 3, 1, 2])
    mean = g.const("mean", np.array(layer.mean, dtype=np.float32).reshape(1, 3, 1, 1))
    centred = g.node("Sub", [nchw, mean], None)
    scale = g.const("scale", np.array(256.0, dtype=np.float32))
    return g.node("Div", [centred, scale], (3, layer.rows, layer.cols))


def _fc(g: _Graph, x: str, layer: FullyConnected) -> str:
    flat = g.node("Flatten", [x], None, axis=1)
    weights = g.const("fc_w", layer.weights)
    out = g.node("MatMul", [flat, weights], None)
    if layer.bias is not None:
        out = g.node("Add", [out, g.const("fc_b", layer.bias)], None)
    return out


def build_model(layers: list[Layer], converter_version: int | None = None) -> onnx.ModelProto:
    """Build the ONNX model of dlib's ``anet_type`` from parsed ``layers``.

    ``converter_version`` is stamped as the model's ``producer_version`` (the cache passes its
    ``CONVERTER_VERSION``, which names the converted file; None: left empty).

    The wiring follows ``anet_type``: a lone :class:`TagOrSkip` is ``tag1`` (the input of a
    residual unit); two in a row are ``tag2`` (the main branch output of a down-sampling unit)
    then ``skip1`` (continue from ``tag1``). An ``add_prev`` adds ``tag2`` when one is pending,
    else ``tag1``. Raises :class:`ModelError` when ``layers`` is not that network.
    """
    layout = [type(layer) for layer in layers]
    if layout != _anet_layout():
        raise ModelError("the dlib network is not the face recognition ResNet (anet_type)")

    g = _Graph()
    x = ""
    tag1 = tag2 = ""
    for i, layer in enumerate(layers):
        if isinstance(layer, TagOrSkip):
            if isinstance(layers[i + 1], TagOrSkip):  # tag2, then skip1 (handled here)
                tag2, x = x, tag1
            elif not isinstance(layers[i - 1], TagOrSkip):
                tag1 = x
        elif isinstance(layer, InputRGB):
            x = _input(g, layer)
        elif isinstance(layer, Conv):
            x = _conv(g, x, layer)
        elif isinstance(layer, Affine):
            x = _affine(g, x, layer)
        elif isinstance(layer, Relu):
            x = g.node("Relu", [x], g.shapes[x])
        elif isinstance(layer, Pool):
            x = _pool(g, x, layer)
        elif isinstance(layer, AddPrev):
            x = _add_prev(g, x, tag2 or tag1)
            tag2 = ""
        elif isinstance(layer, FullyConnected):
            x = _fc(g, x, layer)
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name=OUTPUT_NAME))

    first, last = layers[0], layers[-2]
    assert isinstance(first, InputRGB) and isinstance(last, FullyConnected)  # the layout above
    out_dim = last.weights.shape[1]
    rows, cols = first.rows, first.cols
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", rows, cols, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", out_dim])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="faceaudit",
        producer_version="" if converter_version is None else str(converter_version),
    )
    onnx.checker.check_model(model)
    return model
