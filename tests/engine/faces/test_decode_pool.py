"""Decoding in worker processes: the same pixels and the same typed errors as in-thread."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from faceaudit.base.errors import ImageTooLargeError, TimeLimitError, TruncatedImageError
from faceaudit.engine.faces.budget import pixel_limit, time_limit
from faceaudit.engine.faces.decode_pool import DecodePool
from faceaudit.engine.faces.image import decode_image, decoding_with


def _png(size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(
        buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pool():
    pool = DecodePool(workers=1, tasks_per_child=2)  # recycled every second decode
    yield pool
    pool.shutdown()


def test_worker_decodes_what_the_thread_decodes(pool: DecodePool) -> None:
    data = _png((300, 200))
    here = decode_image(data, max_side=100)
    for _ in range(3):  # across a worker's replacement
        with decoding_with(pool.decode):
            there = decode_image(data, max_side=100)
        assert there.original_size == here.original_size == (300, 200)
        assert there.scale == here.scale and np.array_equal(there.pixels, here.pixels)


def test_worker_errors_are_the_typed_errors(pool: DecodePool) -> None:
    data = _png((300, 200))
    with decoding_with(pool.decode), pytest.raises(TruncatedImageError, match="upload"):
        decode_image(data[: len(data) // 2], name="upload")
    with decoding_with(pool.decode), pixel_limit(1000), pytest.raises(ImageTooLargeError):
        decode_image(data)  # the caller's pixel cap reaches the worker


def test_a_decode_past_the_time_limit_is_a_time_limit_error(pool: DecodePool) -> None:
    data = _png((2500, 2500))
    with decoding_with(pool.decode), time_limit(0.02), \
            pytest.raises(TimeLimitError, match="while decoding"):
        decode_image(data)


@pytest.mark.timeout(300)
def test_more_decodes_at_once_than_workers_all_finish_across_recycling() -> None:
    # ProcessPoolExecutor(max_tasks_per_child=2) on Python 3.11 left queued decodes with no
    # worker (CPython gh-115634): here 6 threads share 2 workers recycled every 4 decodes, and
    # each decode is bounded (a hang becomes a TimeLimitError, failing the test).
    import threading

    data = _png((64, 48))
    pool = DecodePool(workers=2, tasks_per_child=2)
    decoded: list[tuple[int, int]] = []
    failures: list[BaseException] = []

    def client() -> None:
        try:
            with decoding_with(pool.decode):
                for _ in range(20):
                    with time_limit(60):
                        decoded.append(decode_image(data).original_size)
        except BaseException as exc:  # noqa: BLE001 — reported below
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(240)
    finally:
        pool.shutdown()
    assert not failures, failures
    assert decoded == [(64, 48)] * 120
    assert pool.recycled >= 120 // 4 - 1  # the workers were replaced all along
