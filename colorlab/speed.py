"""The speed machinery behind colorlab's numpy colour conversions, apart from the formula.

:mod:`colorlab.color` writes sRGB -> Lab once (the formula a student reads, and
:mod:`colorlab.reference` spells out plainly); this module makes its numpy path fast
without changing a number:

- :func:`map_pixels` cuts an image into cache-sized chunks and runs them on a thread pool
  (numpy releases the GIL in its kernels, so the chunks run in parallel, and each chunk's
  chain of element-wise steps stays in cache);
- :func:`piecewise` evaluates the low branch of a curve only where it applies (few pixels
  of a photo are that dark), instead of ``np.where`` computing both everywhere.

Lesson 01 times the plain reference against the library and shows what each step buys.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

__all__ = ["CHUNK", "map_pixels", "piecewise"]

#: Pixels per chunk: small enough to stay in cache, large enough to amortise a thread hop.
CHUNK = 1 << 16
_POOL: ThreadPoolExecutor | None = None


def piecewise(
    x: np.ndarray, knee: float, above: np.ndarray, below: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``where(x > knee, above, below(x))`` that evaluates ``below`` only where it applies.

    ``above`` (already computed for every element) is overwritten in place; the low branch
    of both Lab curves concerns few pixels of a photo, so this beats ``np.where``.
    """
    low = x <= knee
    if low.any():
        above[low] = below(x[low])
    return above


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
    return _POOL


def map_pixels(
    fn: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    out_dtype: np.dtype,
    check: Callable[[np.ndarray], tuple[float, float]] | None = None,
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Applies ``fn`` to cache-sized chunks of (..., 3) pixels on a thread pool.

    numpy releases the GIL in its kernels, so chunks run in parallel; each chunk's chain of
    element-wise operations stays in cache, which is most of the speed-up over one large call.
    ``check(chunk)`` returns a chunk's (min, max), computed while the chunk is in cache; the
    overall (min, max) is returned beside the result (NaN propagates).
    """
    flat = x.reshape(-1, 3)
    n = flat.shape[0]
    out = np.empty(flat.shape, dtype=out_dtype)
    parts = -(-n // CHUNK)
    workers = _pool()._max_workers
    if parts > 2:  # equal parts, a multiple of the worker count: no core waits on another
        parts = -(-parts // workers) * workers
    bounds = [n * i // parts for i in range(parts + 1)] if n else [0, 0]
    ranges: list = [None] * (len(bounds) - 1)

    def work(i: int) -> None:
        chunk = flat[bounds[i] : bounds[i + 1]]
        if check is not None:
            ranges[i] = check(chunk)
        out[bounds[i] : bounds[i + 1]] = fn(chunk)

    if len(ranges) <= 2:
        for i in range(len(ranges)):
            work(i)
    else:
        list(_pool().map(work, range(len(ranges))))
    overall = None
    if check is not None and ranges:
        lows, highs = zip(*ranges)
        overall = (float(np.min(lows)), float(np.max(highs)))
    return out.reshape(x.shape), overall
