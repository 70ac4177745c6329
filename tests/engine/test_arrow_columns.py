"""Arrow columns from buffers equal what ``pyarrow.array`` builds from the same values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from faceaudit.engine import arrow_columns as columns


def test_strings_with_nulls_and_unicode() -> None:
    values = ["Zoë_Ball/Zoë_Ball_0001.jpg", None, "", "a", None, "日本"] * 3
    built = columns.strings(values)
    assert built.equals(pa.array(values, pa.string()))
    assert built.null_count == 6
    assert columns.strings([]).equals(pa.array([], pa.string()))


def test_numbers_lists_and_vectors() -> None:
    rng = np.random.default_rng(0)
    boxes = rng.integers(-5, 3000, size=(7, 4)).astype(np.int32)
    assert columns.int32_lists(boxes).equals(pa.array(boxes.tolist(), pa.list_(pa.int32())))
    assert columns.int32_lists(np.zeros((0, 4), np.int32)).to_pylist() == []
    scores = rng.normal(size=7).astype(np.float32)
    assert columns.numeric(scores, pa.float32()).equals(pa.array(scores, pa.float32()))
    assert columns.numeric([3, -1], pa.int32()).to_pylist() == [3, -1]
    vectors = rng.normal(size=(7, 128)).astype(np.float32)
    built = columns.float32_vectors(vectors)
    assert built.type == pa.list_(pa.float32(), 128)
    assert np.array_equal(np.asarray(built.to_pylist(), np.float32), vectors)
