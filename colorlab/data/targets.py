"""What a model learns from: the training targets, made from an RGB batch in the graph.

A method names the target it trains on (:class:`Target`); :func:`encode_batch` turns a batch
of RGB crops into (normalised L, target), and :func:`colorlab.data.make_dataset` does it
for every batch. The kinds, paired with the model outputs they train
(see :class:`colorlab.models.Method`):

===========  =====================================================  ==========  ========
target       per photo                                              output      paper
===========  =====================================================  ==========  ========
"soft"       soft-encoded bins, packed sparse (h, w, 2k) (or dense  "bins"      Zhang
             (h, w, Q) with ``sparse=False``)
"hard"       index of the nearest bin, (h, w) int32                 "bins"
"ab"         ab / ``ab_scale``, (H, W, 2), for regression           "ab"        VGG, GAN
"ab+class"   {"ab": ab, "class": class index}: the joint loss of    "ab+class"  Iizuka
             the two-stream model (the names of its two outputs)
===========  =====================================================  ==========  ========

``h, w`` are ``H, W`` divided by ``downsample`` (4 in the paper: the network predicts at a
quarter of the input size), sampled every ``downsample`` pixels as the authors' training
net does.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import numpy as np
import tensorflow as tf
from keras import ops

from colorlab import color
from colorlab.quantize import ColorBins

__all__ = [
    "TARGETS",
    "Target",
    "as_target",
    "encode_batch",
    "pack_sparse_target",
    "target_pixels",
    "unpack_sparse_target",
]

#: Target kinds :func:`encode_batch` produces.
TARGETS = ("soft", "hard", "ab", "ab+class")


@dataclasses.dataclass(frozen=True)
class Target:
    """A training target: its kind and the settings that kind has.

    Settings left None take the paper's values; a setting the kind does not use is refused
    (a soft-encoding ``k`` given to an "ab" target would otherwise be silently ignored).

    Attributes:
        kind: One of :data:`TARGETS`.
        bins: "soft", "hard": the bins (default: the 313 of Zhang et al.).
        k, sigma: "soft": the k nearest bins (10) and the Gaussian width in ab units (5).
        sparse: "soft": packed (k indices, k weights) (True) or dense (..., Q).
        downsample: "soft", "hard": targets at 1/n of the input size, every n-th pixel (4).
        ab_scale: "ab", "ab+class": targets are ab / ab_scale (110, Zhang et al.'s; 128 is
            the VGG16 report's).

    Example:
        >>> Target("soft").k, Target("ab").ab_scale
        (10, 110.0)
    """

    kind: str
    bins: ColorBins | None = None
    k: int | None = None
    sigma: float | None = None
    sparse: bool | None = None
    downsample: int | None = None
    ab_scale: float | None = None

    _SETTINGS = {
        "soft": dict(k=10, sigma=5.0, sparse=True, downsample=4),
        "hard": dict(downsample=4),
        "ab": dict(ab_scale=color.AB_SCALE),
        "ab+class": dict(ab_scale=color.AB_SCALE),
    }

    def __post_init__(self) -> None:
        if self.kind not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.kind!r}.")
        own = self._SETTINGS[self.kind]
        for f in dataclasses.fields(self):
            if f.name in ("kind", "bins"):
                continue
            value = getattr(self, f.name)
            if value is None and f.name in own:
                object.__setattr__(self, f.name, own[f.name])
            elif value is not None and f.name not in own:
                raise ValueError(f"The {self.kind!r} target has no {f.name} setting; its "
                                 f"settings are: {', '.join(own) or 'none'}.")
        if self.bins is not None and self.kind not in ("soft", "hard"):
            raise ValueError(f"A {self.kind!r} target has no bins.")
        for key, low, wanted in (("k", 1, "a whole number of bins, 1 or more"),
                                 ("downsample", 1, "a whole number of pixels, 1 or more")):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < low):
                raise ValueError(f"Target {key} must be {wanted}, got {value!r}.")
        for key in ("sigma", "ab_scale"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"Target {key} must be a number above 0, got {value!r}.")

    @property
    def bin_set(self) -> ColorBins:
        """The bins of a "soft" or "hard" target (Zhang et al.'s 313 unless given)."""
        return self.bins if self.bins is not None else ColorBins.zhang313()



def as_target(target: str | Target) -> Target:
    """A :class:`Target` from a kind's name (or the Target itself)."""
    return target if isinstance(target, Target) else Target(target)


def target_pixels(images: Any, downsample: int) -> Any:
    """The pixels bin targets are made at: every n-th pixel, the centre of each n x n block.

    Args:
        images: (B, H, W, C) numpy array or tensor.
        downsample: n (1: every pixel).

    Returns:
        (B, H // n, W // n, C), as the authors' training net subsamples its ab.
    """
    if downsample <= 1:
        return images
    offset = downsample // 2
    return images[:, offset::downsample, offset::downsample, :]


def encode_batch(rgb: tf.Tensor, target: str | Target = "soft") -> tuple[tf.Tensor, Any]:
    """RGB batch -> (network input, target): Lab in the graph, then the target.

    Args:
        rgb: (B, H, W, 3) float32 RGB in [0, 1] (or uint8).
        target: A :class:`Target` or a kind's name ("ab+class" gives its ab part here; the
            class label is added by :func:`colorlab.data.make_dataset`).

    Returns:
        ``(L, y)``: L is (B, H, W, 1) float32, ``(L - 50) / 100``; y as the target says.
    """
    target = as_target(target)
    if target.kind in ("ab", "ab+class"):
        lab = _compiled_lab()(rgb)
        return (color.normalize_l(lab[..., :1]),
                color.normalize_ab(lab[..., 1:], target.ab_scale))
    # Bin targets need ab only at every n-th pixel: L alone at full size costs a third.
    x, ab = _compiled_l_and_ab(target.downsample)(rgb)
    bins = target.bin_set
    if target.kind == "hard":
        return x, bins.hard_encode(ab)
    if target.sparse:
        return x, pack_sparse_target(*bins.soft_encode(ab, k=target.k, sigma=target.sigma,
                                                       sparse=True))
    return x, bins.soft_encode(ab, k=target.k, sigma=target.sigma)


def pack_sparse_target(indices: Any, weights: Any) -> Any:
    """Packs a sparse soft encoding into one float32 tensor that Keras can carry as a target.

    Args:
        indices: (..., k) integer bin indices (exact in float32 for Q < 2^24).
        weights: (..., k) weights.

    Returns:
        (..., 2k) float32: indices, then weights. numpy in gives numpy out.

    Example:
        >>> pack_sparse_target(np.array([[3, 7]]), np.array([[0.75, 0.25]])).tolist()
        [[3.0, 7.0, 0.75, 0.25]]
    """
    packed = ops.concatenate([ops.cast(indices, "float32"), ops.cast(weights, "float32")], -1)
    if isinstance(indices, np.ndarray) and isinstance(weights, np.ndarray):
        return ops.convert_to_numpy(packed)
    return packed


def unpack_sparse_target(target: Any) -> tuple[Any, Any]:
    """Inverse of :func:`pack_sparse_target`: (..., 2k) -> (indices int32, weights float32)."""
    if isinstance(target, (tuple, list)):
        indices, weights = target
        return ops.cast(indices, "int32"), ops.cast(weights, "float32")
    width = target.shape[-1]
    if width is None or width % 2:
        raise ValueError(
            f"A packed sparse target has an even last axis (k indices, k weights), got {width}."
        )
    k = width // 2
    return ops.cast(ops.round(target[..., :k]), "int32"), ops.cast(target[..., k:], "float32")


# The colour conversions run as one XLA kernel each: fused, the dozen elementwise steps of
# sRGB -> Lab read and write the batch once instead of a dozen times (3.4x faster for the
# 176 px batches of make_dataset on a CPU). XLA compiles once per batch shape.


@functools.lru_cache(maxsize=None)
def _compiled_lab() -> Any:
    @tf.function(jit_compile=True, reduce_retracing=True)
    def lab(rgb):
        return color.rgb_to_lab(rgb, validate=False)

    return lab


@functools.lru_cache(maxsize=None)
def _compiled_l_and_ab(downsample: int) -> Any:
    @tf.function(jit_compile=True, reduce_retracing=True)
    def l_and_ab(rgb):
        x = color.normalize_l(color.rgb_to_lightness(rgb))
        return x, color.rgb_to_lab(target_pixels(rgb, downsample), validate=False)[..., 1:]

    return l_and_ab
