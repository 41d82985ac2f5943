"""Quantized ab colour bins: soft and hard encoding, and annealed-mean decoding.

Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016) turn colorization into
classification: the ab plane is cut into cells of side 10, the Q = 313 cells inside the sRGB
gamut become classes, a pixel's target is a soft encoding over its nearest bins, and a
predicted distribution is decoded back to ab by its annealed mean.

:class:`ColorBins` holds a set of bin centers and does all three, on numpy arrays (numpy out)
and TensorFlow tensors (tensors out, also inside ``tf.function`` and ``tf.data`` maps).

How the nearest bins are found fast: the ab plane is covered by a lookup table of small square
cells; for each cell it lists every centre that can be among the k nearest of *any* point in
the cell (a centre whose smallest distance to the cell exceeds the k-th smallest largest
distance never can). A pixel then measures distances to a few dozen candidates instead of all
Q centers, and the result is exactly that of brute force, ties included (the lower bin index
wins, as with a stable sort).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any, Iterable

import numpy as np
from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import tensorflow as tf
from keras import ops

from colorlab import _arrays

__all__ = ["AB_LIMIT", "ColorBins"]

#: ab values are expected within [-AB_LIMIT, AB_LIMIT] (the range of 8-bit Lab). The encoders
#: refuse values beyond it on numpy and eager input; in a graph they clip to it.
AB_LIMIT = 128.0

_STREAM_CHUNK = 1 << 20  # pixels per step when a large array is streamed
_FAR = 1.0e4  # coordinate of the padding centre that fills short candidate lists


class ColorBins:
    """A set of Q bin centers in the ab plane, with encoders and a decoder.

    Args:
        centers: (Q, 2) bin centers (a, b).
        name: A short label for figures and reprs.

    Example:
        >>> bins = ColorBins.zhang313()
        >>> len(bins), bins.centers.shape
        (313, (313, 2))
        >>> indices, weights = bins.soft_encode(np.zeros((4, 4, 2)), sparse=True)
        >>> indices.shape, weights.shape
        ((4, 4, 10), (4, 4, 10))
    """

    def __init__(self, centers: Any, name: str = "custom") -> None:
        centers = np.asarray(centers, dtype=np.float32)
        if centers.ndim != 2 or centers.shape[1] != 2 or len(centers) == 0:
            raise ValueError(f"ColorBins needs centers of shape (Q, 2), got {centers.shape}.")
        if not np.all(np.isfinite(centers)):
            raise ValueError("ColorBins centers must be finite.")
        if len(np.unique(centers, axis=0)) != len(centers):
            raise ValueError("ColorBins centers must be distinct.")
        self._centers = centers
        self._centers.setflags(write=False)
        self.name = name

    # === Constructors ========================================================================

    @classmethod
    def zhang313(cls) -> "ColorBins":
        """The 313 in-gamut bins of Zhang et al. (ECCV 2016), in the order of their released
        ``pts_in_hull.npy``: grid step 10, centers at multiples of 10, sorted by (a, b)."""
        return cls(_load_resource("zhang_pts_in_hull.npy"), name="zhang313")

    @classmethod
    def grid(cls, step: float = 10.0, low: float = -110.0, high: float = 110.0) -> "ColorBins":
        """The full regular grid of cells of side ``step`` covering [low, high]^2.

        At the defaults: 22 x 22 = 484 centers at -105, -95, ..., 105 (the grid of a student
        report). Centres are sorted by (a, b).
        """
        axis = _grid_axis(step, low, high)
        a, b = np.meshgrid(axis, axis, indexing="ij")
        bins = cls(np.stack([a.ravel(), b.ravel()], axis=1), name=f"grid{len(axis) ** 2}")
        return bins

    @classmethod
    def from_data(
        cls,
        ab: Any,
        step: float = 10.0,
        min_count: int = 1,
        low: float = -110.0,
        high: float = 110.0,
    ) -> "ColorBins":
        """The cells of :meth:`grid` that a data set occupies.

        Args:
            ab: (..., 2) ab values, or an iterable of such batches (streamed).
            step, low, high: The grid, as in :meth:`grid`. Values outside [low, high] count
                in the nearest edge cell.
            min_count: Keep cells holding at least this many pixels.

        Returns:
            ColorBins with the occupied centers, sorted by (a, b).
        """
        axis = _grid_axis(step, low, high)
        n = len(axis)
        counts = np.zeros(n * n, dtype=np.int64)
        for batch in _iter_batches(ab):
            flat = batch.reshape(-1, 2).astype(np.float64)
            cell = np.clip(np.floor((flat - low) / step), 0, n - 1).astype(np.int64)
            counts += np.bincount(cell[:, 0] * n + cell[:, 1], minlength=n * n)
        keep = counts >= max(min_count, 1)
        if not keep.any():
            raise ValueError(
                f"No grid cell holds at least {min_count} pixels; lower min_count or pass "
                "more data."
            )
        a, b = np.meshgrid(axis, axis, indexing="ij")
        centers = np.stack([a.ravel(), b.ravel()], axis=1)[keep]
        return cls(centers, name=f"data{int(keep.sum())}")

    # === Properties ==========================================================================

    @property
    def centers(self) -> np.ndarray:
        """(Q, 2) float32 bin centers (read-only)."""
        return self._centers

    def __len__(self) -> int:
        return len(self._centers)

    def __repr__(self) -> str:
        return f"ColorBins(name={self.name!r}, Q={len(self)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColorBins) and np.array_equal(self._centers, other._centers)

    def __hash__(self) -> int:
        return hash(self._centers.tobytes())

    def get_config(self) -> dict:
        """A JSON-able description; ``ColorBins.from_config`` rebuilds the same bins."""
        return {"centers": self._centers.tolist(), "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "ColorBins":
        return cls(config["centers"], name=config.get("name", "custom"))

    # === Encoding ============================================================================

    def soft_encode(
        self, ab: Any, k: int = 10, sigma: float = 5.0, sparse: bool = False
    ) -> Any:
        """Soft-encodes ab into a distribution over the bins (Zhang et al. 2016, Sec. 2.1).

        Each pixel gets Gaussian weights ``exp(-d^2 / (2 sigma^2))`` on its ``k`` nearest
        centers, normalised to sum to 1 (the released code uses k = 10, sigma = 5).

        Args:
            ab: (..., 2) ab values in Lab units (not network-normalised), within
                [-AB_LIMIT, AB_LIMIT]. numpy or tensor. numpy and eager tensors are checked
                for NaN and range on the host (an eager GPU tensor is copied for that);
                inside ``tf.function`` or a ``tf.data`` map nothing is copied and values
                beyond the limit are clipped.
            k: Number of nearest bins that share the weight (at most Q).
            sigma: Gaussian width in ab units (> 0).
            sparse: Return the k (index, weight) pairs instead of the dense (..., Q) target.
                The dense target of a 44 x 44 map over 313 bins is 2.4 MB; the sparse one
                155 KB, the form the training pipeline and the loss use.

        Returns:
            Dense: (..., Q) float32 summing to 1 over the last axis. Sparse: a tuple
            (indices (..., k) int32, weights (..., k) float32), nearest bin first.
            numpy in gives numpy out, tensor in gives tensor out.
        """
        k = self._check_k(k)
        if not sigma > 0:
            raise ValueError(f"soft_encode needs sigma > 0, got {sigma}.")
        flat, lead_shape, as_numpy = self._prepare_ab(ab, "soft_encode")
        indices, weights = self._nearest(flat, k, sigma)
        if sparse:
            result = (
                ops.reshape(indices, (*lead_shape, k)),
                ops.reshape(weights, (*lead_shape, k)),
            )
        else:
            result = ops.reshape(self._scatter(indices, weights), (*lead_shape, len(self)))
        if as_numpy:
            return tuple(map(ops.convert_to_numpy, result)) if sparse else _np(result)
        return result

    def hard_encode(self, ab: Any) -> Any:
        """Index of the nearest centre of each pixel: (..., 2) ab -> (...,) int32.

        Ties go to the lower bin index. numpy in gives numpy out, tensor in gives tensor out.
        """
        flat, lead_shape, as_numpy = self._prepare_ab(ab, "hard_encode")
        indices, _ = self._nearest(flat, 1, None)
        result = ops.reshape(indices, lead_shape)
        return _np(result) if as_numpy else result

    def to_dense(self, indices: Any, weights: Any) -> Any:
        """Sparse (indices (..., k), weights (..., k)) -> dense (..., Q) float32."""
        as_numpy = not (_arrays.is_tensor(indices) or _arrays.is_tensor(weights))
        lead_shape = tuple(ops.shape(indices)[:-1])
        k = ops.shape(indices)[-1]
        dense = self._scatter(
            ops.reshape(ops.cast(indices, "int32"), (-1, k)),
            ops.reshape(ops.cast(weights, "float32"), (-1, k)),
        )
        dense = ops.reshape(dense, (*lead_shape, len(self)))
        return _np(dense) if as_numpy else dense

    # === Decoding ============================================================================

    def decode(
        self, probs: Any, temperature: float = 0.38, from_logits: bool = False
    ) -> Any:
        """Annealed-mean decoding of a distribution over the bins (Zhang et al. 2016, Eq. 5).

        The centers are averaged with weights ``softmax(log(p) / T)``: T = 1 gives the mean
        (desaturated, but spatially coherent), T -> 0 the mode (vivid, but patchy); the paper
        uses T = 0.38. T = 0 returns the mode exactly (the centre of the arg-max bin), and
        so does any T below 1e-6 (dividing by it would overflow float32 to NaN).

        Args:
            probs: (..., Q) probabilities (or logits with ``from_logits=True``).
            temperature: T >= 0.
            from_logits: ``probs`` are unnormalised logits; ``softmax(logits / T)`` is used,
                which equals the annealed mean of ``softmax(logits)``.

        Returns:
            (..., 2) float32 ab. numpy in gives numpy out, tensor in gives tensor out.
        """
        temperature = float(temperature)
        if not temperature >= 0:
            raise ValueError(f"decode needs a temperature >= 0, got {temperature}.")
        as_numpy = not _arrays.is_tensor(probs)
        if as_numpy:
            probs = np.asarray(probs, dtype=np.float32)
        q = probs.shape[-1]
        if q is not None and q != len(self):
            raise ValueError(
                f"decode got {q} values on the last axis but these bins number {len(self)}."
            )
        probs = ops.cast(probs, "float32")
        centers = ops.convert_to_tensor(self._centers)
        if temperature < 1e-6:  # the mode; scores / 1e-300 would be inf - inf = NaN
            ab = ops.take(centers, ops.argmax(probs, axis=-1), axis=0)
        else:
            scores = probs if from_logits else ops.log(ops.maximum(probs, 1e-30))
            weights = ops.softmax(scores / temperature, axis=-1)
            ab = ops.matmul(weights, centers)
        return _np(ab) if as_numpy else ab

    # === Internals ===========================================================================

    def _check_k(self, k: int) -> int:
        if int(k) != k or not 1 <= k <= len(self):
            raise ValueError(f"k must be an integer in [1, {len(self)}], got {k}.")
        return int(k)

    def _prepare_ab(self, ab: Any, name: str) -> tuple[Any, tuple, bool]:
        """Flattens (..., 2) ab to (N, 2) float32, checking what can be checked."""
        as_numpy = not _arrays.is_tensor(ab)
        if as_numpy:
            ab = np.asarray(ab)
            if ab.dtype.kind not in "fiu":
                raise TypeError(f"{name} expects numeric ab, got dtype {ab.dtype}.")
        shape = tuple(ab.shape)
        if len(shape) == 0 or (shape[-1] is not None and shape[-1] != 2):
            raise ValueError(f"{name} expects ab of shape (..., 2), got shape {shape}.")
        if as_numpy or not _arrays.is_symbolic(ab):
            values = np.asarray(ab) if as_numpy else ops.convert_to_numpy(ab)
            if values.size:
                if not np.all(np.isfinite(values)):
                    raise ValueError(f"{name} got NaN or infinite ab values.")
                peak = float(np.max(np.abs(values)))
                if peak > AB_LIMIT:
                    raise ValueError(
                        f"{name} expects ab in Lab units within +-{AB_LIMIT:g}, got |ab| up "
                        f"to {peak:.4g}. OpenCV 8-bit Lab (a + 128, b + 128) needs "
                        "colorlab.color.opencv8_to_lab() first."
                    )
        lead_shape = tuple(ops.shape(ab)[:-1])
        flat = ops.reshape(ops.cast(ab, "float32"), (-1, 2))
        return flat, lead_shape, as_numpy

    def _nearest(self, flat: Any, k: int, sigma: float | None) -> tuple[Any, Any]:
        """(N, 2) ab -> (indices (N, k) int32 nearest first, Gaussian weights (N, k) or None).

        Eager input runs through a compiled ``tf.function``; graph input is traced inline.
        """
        if _arrays.is_symbolic(flat):
            return _nearest_graph(_candidate_table(self, k), flat, k, sigma)
        return _compiled_nearest(self, k, sigma)(flat)

    def _scatter(self, indices: Any, weights: Any) -> Any:
        """(N, k) indices and weights -> (N, Q) dense (a flat 1-D scatter: the fastest)."""
        n = ops.shape(indices)[0]
        q = len(self)
        flat_index = ops.reshape(ops.arange(n, dtype="int32")[:, None] * q + indices, (-1, 1))
        dense = ops.scatter(flat_index, ops.reshape(weights, (-1,)), (n * q,))
        return ops.reshape(dense, (n, q))


def _nearest_graph(
    table: "_CandidateTable", flat: Any, k: int, sigma: float | None
) -> tuple[Any, Any]:
    """The k nearest centers of each of (N, 2) points, through the candidate table.

    Written with tf ops directly: this is the hot path of every training target. The
    elementwise stages before and after the sort run as XLA kernels (fused, 2-4x faster on
    a CPU); the sort stays a TensorFlow op, which XLA compiles to something slower.
    """
    d2, candidates = table.distances(tf.cast(flat, tf.float32))  # (N, C) each
    if k == 1:
        pos = tf.argmin(d2, axis=-1, output_type=tf.int32)[:, None]
        indices = tf.gather(candidates, pos, batch_dims=1)
        return indices, (None if sigma is None else tf.ones_like(indices, dtype=tf.float32))
    # A stable sort of a short row beats top_k on CPU; equal distances keep the candidates'
    # order, which is by bin index, so ties go to the lower index as with brute force.
    pos = tf.argsort(d2, axis=-1, stable=True)[:, :k]
    if sigma is None:
        return tf.gather(candidates, pos, batch_dims=1), None
    return _gaussian_weights(d2, candidates, pos, tf.constant(sigma, tf.float32))


@tf.function(jit_compile=True, reduce_retracing=True)
def _gaussian_weights(d2: Any, candidates: Any, pos: Any, sigma: Any) -> tuple[Any, Any]:
    """The k sorted positions of each row -> (bin indices, normalised Gaussian weights)."""
    nearest_d2 = tf.gather(d2, pos, batch_dims=1)
    indices = tf.gather(candidates, pos, batch_dims=1)
    # Relative to the nearest: the same weights after normalising, and no underflow far out.
    weights = tf.exp((nearest_d2[:, :1] - nearest_d2) * (0.5 / (sigma * sigma)))
    return indices, weights / tf.reduce_sum(weights, axis=-1, keepdims=True)


@functools.lru_cache(maxsize=32)
def _compiled_nearest(bins: "ColorBins", k: int, sigma: float | None):
    table = _candidate_table(bins, k)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)], reduce_retracing=True)
    def nearest(flat):
        return _nearest_graph(table, flat, k, sigma)

    return nearest


class _CandidateTable:
    """For each lookup cell, the centers that can be among the k nearest of a point in it."""

    def __init__(self, centers: np.ndarray, k: int) -> None:
        centers = centers.astype(np.float64)
        q = len(centers)
        spacing = center_spacing(centers)
        self.cell = np.float32(spacing / 4.0)  # finer cells, fewer candidates per cell
        lo = min(-AB_LIMIT, float(centers.min()) - spacing)
        hi = max(AB_LIMIT, float(centers.max()) + spacing)
        self.size = int(np.ceil((hi - lo) / self.cell))
        self.origin = np.float32(lo)
        edges = lo + self.cell * np.arange(self.size + 1)
        x0, y0 = np.meshgrid(edges[:-1], edges[:-1], indexing="ij")
        x0, y0 = x0.ravel()[:, None], y0.ravel()[:, None]  # (cells, 1)
        x1, y1 = x0 + self.cell, y0 + self.cell
        cx, cy = centers[None, :, 0], centers[None, :, 1]
        near = (np.maximum(np.maximum(x0 - cx, cx - x1), 0) ** 2
                + np.maximum(np.maximum(y0 - cy, cy - y1), 0) ** 2)
        far = np.maximum(np.abs(cx - x0), np.abs(cx - x1)) ** 2 + np.maximum(
            np.abs(cy - y0), np.abs(cy - y1)
        ) ** 2
        kth_far = np.partition(far, k - 1, axis=1)[:, k - 1 : k]
        keep = near <= kth_far * (1 + 1e-6) + 1e-6  # (cells, Q)
        width = int(keep.sum(axis=1).max())
        # Candidates sorted by bin index (so ties resolve to the lower index), padded with Q.
        order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
        candidates = np.where(np.take_along_axis(keep, order, axis=1), order, q)
        self.candidates = candidates.astype(np.int32)
        padded_centers = np.concatenate([centers, [[_FAR, _FAR]]]).astype(np.float32)
        self.candidate_a = np.ascontiguousarray(padded_centers[candidates, 0])  # (cells, C)
        self.candidate_b = np.ascontiguousarray(padded_centers[candidates, 1])
        self.distances = tf.function(self._distances, jit_compile=True, reduce_retracing=True)

    def _distances(self, flat: Any) -> tuple[Any, Any]:
        """(N, 2) ab -> squared distances to the candidates of each one's cell, and their bins."""
        flat = tf.clip_by_value(flat, -AB_LIMIT, AB_LIMIT)
        cell_ij = tf.cast(tf.floor((flat - self.origin) / self.cell), tf.int32)
        cell_ij = tf.clip_by_value(cell_ij, 0, self.size - 1)
        cell = cell_ij[:, 0] * self.size + cell_ij[:, 1]
        # One contiguous row per pixel: its cell's candidate coordinates, (N, C) each.
        center_a = tf.gather(tf.constant(self.candidate_a), cell)
        center_b = tf.gather(tf.constant(self.candidate_b), cell)
        d2 = tf.square(center_a - flat[:, :1]) + tf.square(center_b - flat[:, 1:])
        return d2, tf.gather(tf.constant(self.candidates), cell)


@functools.lru_cache(maxsize=32)
def _candidate_table(bins: ColorBins, k: int) -> _CandidateTable:
    return _CandidateTable(bins.centers, k)


def center_spacing(centers: np.ndarray) -> float:
    """Median distance from a centre to its nearest neighbour (the grid step for grids)."""
    if len(centers) < 2:
        return 10.0
    c = np.asarray(centers, dtype=np.float64)
    d = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def _grid_axis(step: float, low: float, high: float) -> np.ndarray:
    if not step > 0 or not high > low:
        raise ValueError(f"grid needs step > 0 and high > low, got {step=}, {low=}, {high=}.")
    n = int(round((high - low) / step))
    if not np.isclose(n * step, high - low):
        raise ValueError(f"(high - low) = {high - low} is not a multiple of step = {step}.")
    return (low + step * (np.arange(n) + 0.5)).astype(np.float32)


def _iter_batches(source: Any) -> Iterable[np.ndarray]:
    """Yields numpy (..., 2) batches from an array, a tensor, a tf.data.Dataset or an iterable."""
    if _arrays.is_tensor(source):
        source = np.asarray(source)
    if isinstance(source, np.ndarray):
        if source.ndim == 0 or source.shape[-1] != 2:
            raise ValueError(f"Expected ab of shape (..., 2), got {source.shape}.")
        flat = source.reshape(-1, 2)
        source = (flat[i : i + _STREAM_CHUNK] for i in range(0, len(flat), _STREAM_CHUNK))
    elif hasattr(source, "as_numpy_iterator"):
        source = source.as_numpy_iterator()
    for batch in source:
        batch = np.asarray(batch)
        if batch.ndim == 0 or batch.shape[-1] != 2:
            raise ValueError(
                f"Expected ab batches of shape (..., 2), got {batch.shape}. A dataset of "
                "(input, target) pairs needs .map(lambda x, y: ab) first."
            )
        yield batch


def _load_resource(name: str) -> np.ndarray:
    with resources.files("colorlab.resources").joinpath(name).open("rb") as f:
        return np.load(f)


def _np(x: Any) -> np.ndarray:
    return ops.convert_to_numpy(x)
