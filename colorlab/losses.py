"""Keras 3 losses for colorization, registered for ``.keras`` saving and usable in ``compile()``.

- :class:`RebalancedCrossEntropy`: classification over ab bins with class rebalancing
  (Zhang, Isola & Efros, "Colorful Image Colorization", ECCV 2016, Eq. 2-4).
- :class:`ABRegression`: L2, L1 or Huber regression on ab (the encoder-decoders, the GAN's
  reconstruction term, and the L2 baseline of Zhang et al.).
- :class:`SpatialSmoothness`: a student report's spatial-locality penalty.
- :class:`CombinedLoss`: a weighted sum of losses on one output (e.g. L2 + smoothness).

Every loss returns a per-pixel loss of shape (batch, H, W); Keras averages it over all pixels
(``reduction="sum_over_batch_size"``). Computation is in float32 whatever the model's
precision (Keras converts ``y_pred`` to the loss dtype).

Target formats for the cross-entropy:

- dense: (..., Q) soft distributions (``ColorBins.soft_encode(ab)``);
- sparse: (..., 2k) float32, the k bin indices then their k weights, made by
  :func:`pack_sparse_target` from ``ColorBins.soft_encode(ab, sparse=True)``. A tuple
  (indices, weights) is accepted as well when the loss is called directly.
"""

from __future__ import annotations

from typing import Any, Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np
from keras import ops

from colorlab.color import L_RANGE
from colorlab.data.targets import unpack_sparse_target
from colorlab.quantize import ColorBins

__all__ = [
    "ABRegression",
    "CombinedLoss",
    "RebalancedCrossEntropy",
    "SpatialSmoothness",
]

_EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="colorlab")
class RebalancedCrossEntropy(keras.losses.Loss):
    """Class-rebalanced cross-entropy over ab bins (Zhang et al. 2016, Eq. 2-4).

    ``L = -Σ_pixels w[q*] Σ_q z_q log p_q`` where ``z`` is the soft-encoded target, ``p`` the
    predicted distribution and ``w[q*]`` the rebalancing weight of the target's nearest bin
    (its largest entry). With all weights 1 it is the plain cross-entropy.

    Args:
        weights: (Q,) per-bin weights, e.g. ``rebalance_weights(prior)``; None for all ones.
        bins: The bins (``ColorBins`` or (Q, 2) centers). Needed only for ``gray_mask``.
        sparse: Targets are packed sparse (..., 2k) (see :func:`pack_sparse_target`) rather
            than dense (..., Q).
        from_logits: ``y_pred`` holds logits (recommended: a stable log-softmax) rather than
            probabilities.
        gray_mask: Leave near-grey targets out of the loss. "image": drop whole images none of
            whose pixels leaves the grey zone (what the authors' released code does: its
            NonGrayMaskLayer masks grayscale photos); "pixel": drop each near-grey pixel
            (what the paper's text and the reference notes describe); None: keep all.
        gray_threshold: The grey zone is |a| <= t and |b| <= t (t = 5 in the authors' code),
            tested on the centre of each target's nearest bin. For the 313 bins, whose
            (0, 0) cell is exactly |a|, |b| <= 5, this equals testing the pixel's ab.
        name, reduction, dtype: As for ``keras.losses.Loss``.

    Example:
        >>> from colorlab.rebalance import rebalance_weights, zhang_imagenet_prior
        >>> loss = RebalancedCrossEntropy(rebalance_weights(zhang_imagenet_prior()))
        >>> logits = np.zeros((1, 4, 4, 313), "float32")  # a model's (B, H, W, 313) output
        >>> target = np.full((1, 4, 4, 313), 1 / 313, "float32")  # soft-encoded truth
        >>> round(float(RebalancedCrossEntropy()(target, logits)), 2)  # unweighted: log 313
        5.75
    """

    def __init__(
        self,
        weights: Sequence[float] | np.ndarray | None = None,
        bins: ColorBins | Sequence | np.ndarray | None = None,
        sparse: bool = False,
        from_logits: bool = True,
        gray_mask: str | None = None,
        gray_threshold: float = 5.0,
        name: str = "rebalanced_cross_entropy",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if gray_mask not in (None, "pixel", "image"):
            raise ValueError(f"gray_mask must be None, 'pixel' or 'image', got {gray_mask!r}.")
        if gray_mask is not None and bins is None:
            raise ValueError("gray_mask needs the bins, to know which bins are grey.")
        self.class_weights = None if weights is None else np.asarray(weights, np.float32)
        if self.class_weights is not None:
            if self.class_weights.ndim != 1 or not np.all(self.class_weights >= 0):
                raise ValueError("weights must be a (Q,) vector of non-negative numbers.")
        if bins is not None and not isinstance(bins, ColorBins):
            bins = ColorBins(bins)
        self.bins = bins
        if bins is not None and self.class_weights is not None:
            if len(bins) != len(self.class_weights):
                raise ValueError(
                    f"{len(self.class_weights)} weights given for {len(bins)} bins."
                )
        self.sparse = bool(sparse)
        self.from_logits = bool(from_logits)
        self.gray_mask = gray_mask
        self.gray_threshold = float(gray_threshold)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.cast(y_pred, "float32")
        q = y_pred.shape[-1]
        if self.from_logits:
            log_p = ops.log_softmax(y_pred, axis=-1)
        else:
            log_p = ops.log(ops.clip(y_pred, _EPSILON, 1.0))
        if self.sparse:
            indices, weights = unpack_sparse_target(y_true)
            cross_entropy = -ops.sum(weights * ops.take_along_axis(log_p, indices, -1), -1)
            nearest_pos = ops.expand_dims(ops.argmax(weights, axis=-1), -1)
            nearest = ops.squeeze(ops.take_along_axis(indices, nearest_pos, -1), -1)
        else:
            y_true = ops.cast(y_true, "float32")
            if y_true.shape[-1] is not None and q is not None and y_true.shape[-1] != q:
                raise ValueError(
                    f"Dense targets have {y_true.shape[-1]} bins but predictions {q}; for "
                    "packed sparse targets pass sparse=True."
                )
            cross_entropy = -ops.sum(y_true * log_p, axis=-1)
            nearest = ops.argmax(y_true, axis=-1)
        loss = cross_entropy
        if self.class_weights is not None:
            if q is not None and q != len(self.class_weights):
                raise ValueError(
                    f"The model predicts {q} bins but {len(self.class_weights)} weights given."
                )
            loss = loss * ops.take(ops.convert_to_tensor(self.class_weights), nearest, axis=0)
        if self.gray_mask is not None:
            loss = loss * self._color_mask(nearest)
        return loss

    def _color_mask(self, nearest: Any) -> Any:
        """1 where the target counts, 0 where it is near-grey (per pixel or per image)."""
        centers = np.abs(self.bins.centers)
        colorful_bin = np.any(centers > self.gray_threshold, axis=1).astype(np.float32)
        colorful = ops.take(ops.convert_to_tensor(colorful_bin), nearest, axis=0)
        if self.gray_mask == "image":
            spatial = tuple(range(1, len(colorful.shape)))
            colorful = ops.max(colorful, axis=spatial, keepdims=True)
        return colorful

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            weights=None if self.class_weights is None else self.class_weights.tolist(),
            bins=None if self.bins is None else self.bins.centers.tolist(),
            sparse=self.sparse,
            from_logits=self.from_logits,
            gray_mask=self.gray_mask,
            gray_threshold=self.gray_threshold,
        )
        return config


@keras.saving.register_keras_serializable(package="colorlab")
class ABRegression(keras.losses.Loss):
    """Regression loss on ab: L2 (mean squared), L1 (mean absolute) or Huber.

    The per-pixel loss is the mean over the a and b channels, so ``norm="l2"`` equals
    ``keras.losses.MeanSquaredError`` on ab. Use it in the units the model predicts (e.g.
    network ab = ab / 110).

    Args:
        norm: "l2", "l1" or "huber".
        delta: Huber's switch from quadratic to linear, in target units.
        name, reduction, dtype: As for ``keras.losses.Loss``.

    Targets: (..., 2) ab, or (..., 3) L, a, b (L ignored), so the same Lab target can feed
    this loss and :class:`SpatialSmoothness` in a :class:`CombinedLoss`.
    """

    def __init__(
        self,
        norm: str = "l2",
        delta: float = 1.0,
        name: str = "ab_regression",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if norm not in ("l2", "l1", "huber"):
            raise ValueError(f"norm must be 'l2', 'l1' or 'huber', got {norm!r}.")
        if not delta > 0:
            raise ValueError(f"delta must be > 0, got {delta}.")
        self.norm = norm
        self.delta = float(delta)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.cast(y_pred, "float32")
        ab_true = _ab_of_target(y_true)
        error = ab_true - y_pred
        if self.norm == "l2":
            per_channel = ops.square(error)
        elif self.norm == "l1":
            per_channel = ops.abs(error)
        else:
            absolute = ops.abs(error)
            quadratic = ops.minimum(absolute, self.delta)
            per_channel = 0.5 * ops.square(quadratic) + self.delta * (absolute - quadratic)
        return ops.mean(per_channel, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(norm=self.norm, delta=self.delta)
        return config


@keras.saving.register_keras_serializable(package="colorlab")
class SpatialSmoothness(keras.losses.Loss):
    """Spatial-locality penalty: each predicted ab is pulled toward its neighbours' average.

    For pixel i with neighbours j in a ``window`` x ``window`` square (itself excluded, pixels
    outside the image ignored), weighted by lightness similarity
    ``s_ij = exp(-(L_i - L_j)^2 / (2 sigma^2))``:

        penalty_i = mean over (a, b) of (ab_i - Σ_j s_ij ab_j / Σ_j s_ij)^2

    Neighbours of similar lightness probably belong to the same surface and so share a colour;
    across an edge in L the pull vanishes. (A student report's regulariser for the
    encoder-decoders; weight it against the data term with :class:`CombinedLoss`.)

    Args:
        window: Odd neighbourhood size (3 or 5).
        sigma: Lightness similarity width in L* units (0-100).
        name, reduction, dtype: As for ``keras.losses.Loss``.

    Targets: (B, H, W, 3) with the network-normalised L, ``(L - 50) / 100``, in channel 0
    (the ab channels are not used). Predictions: (B, H, W, 2) ab in any units.
    """

    def __init__(
        self,
        window: int = 3,
        sigma: float = 10.0,
        name: str = "spatial_smoothness",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if int(window) != window or window < 3 or window % 2 == 0:
            raise ValueError(f"window must be an odd integer >= 3, got {window}.")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}.")
        self.window = int(window)
        self.sigma = float(sigma)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if y_true.shape[-1] is not None and y_true.shape[-1] < 3:
            raise ValueError(
                "SpatialSmoothness needs targets (B, H, W, 3) with normalised L in channel 0, "
                f"got {y_true.shape[-1]} channels."
            )
        ab = ops.cast(y_pred, "float32")
        lightness = ops.cast(y_true[..., :1], "float32") * L_RANGE  # back to L* units
        valid = ops.ones_like(lightness)
        r = self.window // 2
        padding = ((0, 0), (r, r), (r, r), (0, 0))
        ab_pad, l_pad, valid_pad = (ops.pad(t, padding) for t in (ab, lightness, valid))
        height, width = ops.shape(ab)[1], ops.shape(ab)[2]
        weighted_sum = ops.zeros_like(ab)
        total = ops.zeros_like(lightness)
        for dy in range(self.window):
            for dx in range(self.window):
                if dy == r and dx == r:
                    continue
                l_j = ops.slice(l_pad, (0, dy, dx, 0), (-1, height, width, -1))
                ab_j = ops.slice(ab_pad, (0, dy, dx, 0), (-1, height, width, -1))
                valid_j = ops.slice(valid_pad, (0, dy, dx, 0), (-1, height, width, -1))
                s = valid_j * ops.exp(-ops.square(lightness - l_j) / (2.0 * self.sigma**2))
                weighted_sum = weighted_sum + s * ab_j
                total = total + s
        average = weighted_sum / ops.maximum(total, 1e-12)
        # Where every neighbour is far off in L (total ~ 0) the pixel is left alone.
        has_neighbours = ops.cast(total > 1e-6, "float32")
        return ops.mean(ops.square(ab - average) * has_neighbours, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(window=self.window, sigma=self.sigma)
        return config


@keras.saving.register_keras_serializable(package="colorlab")
class CombinedLoss(keras.losses.Loss):
    """A weighted sum of losses on one output: ``Σ_i weight_i * loss_i(y_true, y_pred)``.

    Each loss gets the same target, so its format must suit all of them, e.g. a (..., 3)
    Lab target for ``CombinedLoss([ABRegression(), SpatialSmoothness()], [1.0, 0.1])``.

    Args:
        losses: Keras losses that return per-pixel values of the same shape.
        loss_weights: One weight per loss (default: all 1).
        name, reduction, dtype: As for ``keras.losses.Loss``.
    """

    def __init__(
        self,
        losses: Sequence[keras.losses.Loss],
        loss_weights: Sequence[float] | None = None,
        name: str = "combined_loss",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.losses = [
            keras.saving.deserialize_keras_object(x) if isinstance(x, dict) else x for x in losses
        ]
        if not self.losses:
            raise ValueError("CombinedLoss needs at least one loss.")
        weights = [1.0] * len(self.losses) if loss_weights is None else list(loss_weights)
        if len(weights) != len(self.losses):
            raise ValueError(f"{len(weights)} weights given for {len(self.losses)} losses.")
        self.loss_weights = [float(w) for w in weights]

    def call(self, y_true: Any, y_pred: Any) -> Any:
        total = None
        for loss, weight in zip(self.losses, self.loss_weights):
            term = weight * loss.call(y_true, y_pred)
            total = term if total is None else total + term
        return total

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            losses=[keras.saving.serialize_keras_object(x) for x in self.losses],
            loss_weights=self.loss_weights,
        )
        return config


def _ab_of_target(y_true: Any) -> Any:
    y_true = ops.cast(y_true, "float32")
    channels = y_true.shape[-1]
    if channels == 3:
        return y_true[..., 1:]
    if channels is not None and channels != 2:
        raise ValueError(f"ab targets have 2 channels (or 3 with L first), got {channels}.")
    return y_true
