"""Arrow columns built straight from numpy buffers and Python strings, without pandas.

``pyarrow.array()`` asks, on every call and for every input type, whether its argument is a
pandas object, and to ask it imports pandas: 0.25–1.3 s that a cold ``faceaudit embed`` would pay
to write a table that has nothing to do with pandas. These constructors assemble the same arrays
from their buffers (``pyarrow.Array.from_buffers``), which never looks for pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

_NUMPY_TYPES = {pa.int32(): np.int32, pa.int64(): np.int64, pa.float32(): np.float32,
                pa.float64(): np.float64}


def numeric(values: np.ndarray | Sequence[float], arrow_type: pa.DataType) -> pa.Array:
    """A null-free numeric array of ``arrow_type`` (int32/int64/float32/float64)."""
    data = np.ascontiguousarray(values, dtype=_NUMPY_TYPES[arrow_type]).ravel()
    return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """A UTF-8 string array; ``None`` entries become nulls."""
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    validity = None
    if any(v is None for v in values):
        mask = np.array([v is not None for v in values], dtype=bool)
        validity = pa.py_buffer(np.packbits(mask, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def int32_lists(rows: np.ndarray) -> pa.Array:
    """A ``list<int32>`` array with one list per row of the 2-D array ``rows``."""
    rows = np.ascontiguousarray(rows, dtype=np.int32)
    n, width = rows.shape
    offsets = numeric(np.arange(n + 1, dtype=np.int32) * width, pa.int32())
    return pa.ListArray.from_arrays(offsets, numeric(rows, pa.int32()))


def float32_vectors(matrix: np.ndarray) -> pa.Array:
    """A ``fixed_size_list<float32>[dim]`` array with one vector per row of ``matrix``."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(numeric(matrix, pa.float32()), matrix.shape[1])
