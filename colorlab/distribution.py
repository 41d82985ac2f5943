"""What a bin model's predicted colour distribution says beyond one colorization.

A bin model (:func:`colorlab.models.zhang_eccv16`, trained here or the authors' release)
predicts for every pixel of a quarter-size grid a probability over Q ab bins; colorize
keeps one summary of it, the annealed mean. Two more looks at the same prediction:

- :func:`uncertainty`: the per-pixel entropy of the distribution, in bits (0: one colour is
  certain; log2 Q, 8.3 for 313 bins: every bin alike). Skies and skin are sure, clothes and
  cars are not: the colours the photo does not decide.
- :func:`alternatives`: other plausible colorizations, sampled from the distribution. A
  sample per pixel gives confetti (neighbours choose independently). Here one noise field
  per alternative is added to the log-probabilities: Gumbel noise, so each pixel's choice
  is an exact sample of its own distribution (the Gumbel-max trick), but smooth in space
  (white noise blurred over ``coherence`` of the photo, then mapped to Gumbel through the
  normal CDF), so whole regions choose together: a red car or a blue one, not both.
"""

from __future__ import annotations

from typing import Any

import cv2
from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np

from colorlab import models
from colorlab.predict import Prediction, predict, render
from colorlab.quantize import ColorBins

__all__ = ["alternatives", "bin_logits", "entropy_bits", "smooth_gumbel", "uncertainty"]


def bin_logits(model: keras.Model, image: Any, *, render_size: int = 256,
               bins: ColorBins | None = None) -> tuple[Prediction, np.ndarray, ColorBins]:
    """The model's bin logits for a photo: ``(prediction, (h, w, Q) logits, bins)``.

    Raises:
        ValueError: the model does not predict bins (it regresses ab): give the bin-logit
            network, e.g. ``load_model("zhang_eccv16")``.
    """
    prediction = predict(model, image, render_size=render_size)
    logits = prediction.output
    method = prediction.method
    if isinstance(logits, dict) or logits.shape[-1] == 2 or (
            method is not None and method.output != "bins"):
        raise ValueError("This model outputs ab, one colour per pixel, not a distribution "
                         "over bins. Use a model that predicts bins, e.g. "
                         "pretrained.load('zhang_eccv16', logits=True) or "
                         "models.load_model('zhang_eccv16').")
    bins = bins if bins is not None else models.model_bins(model)
    return prediction, logits, bins


def entropy_bits(logits: Any) -> np.ndarray:
    """Entropy of ``softmax(logits)`` over the last axis, in bits: (..., Q) -> (...)."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return (-(np.exp(log_p) * log_p).sum(axis=-1) / np.log(2.0)).astype(np.float32)


def uncertainty(model: keras.Model, image: Any, *, render_size: int = 256) -> np.ndarray:
    """How unsure the model is of each pixel's colour: the entropy of its distribution.

    Args:
        model: A bin model (see :func:`bin_logits`).
        image: A photo, as :func:`colorlab.colorize.colorize` takes it.
        render_size: Short side of the copy the model sees.

    Returns:
        (H, W) float32 bits at the photo's size, from 0 to log2 Q.
    """
    prediction, logits, _ = bin_logits(model, image, render_size=render_size)
    height, width = prediction.rgb.shape[:2]
    return cv2.resize(entropy_bits(logits), (width, height), interpolation=cv2.INTER_LINEAR)


def smooth_gumbel(shape: tuple[int, int, int], sigma: float,
                  rng: np.random.Generator) -> np.ndarray:
    """(h, w, Q) noise whose every value is standard Gumbel, correlated over ``sigma`` pixels.

    White normal noise is blurred by a Gaussian of ``sigma`` pixels (rescaled to unit
    variance again; drawn beyond the edges and cropped, so the edges are alike), then mapped to Gumbel through the normal CDF: each value keeps the
    exact Gumbel distribution, neighbours share most of their noise.
    """
    height, width, q = shape
    if sigma <= 0:
        white = rng.standard_normal((height, width, q)).astype(np.float32)
    else:
        # A wide blur is drawn on a coarser grid (sigma of 2 cells there) and interpolated:
        # the field is smooth on that grid, so the cost stays that of a small blur.
        step = max(1.0, sigma / 2.0)
        small = (height, width) if step == 1.0 else (int(np.ceil(height / step)) + 1,
                                                     int(np.ceil(width / step)) + 1)
        sigma_small = sigma / step
        size = 2 * int(np.ceil(3 * sigma_small)) + 1
        pad = size // 2  # noise beyond the edges, cropped: no border effects
        kernel = cv2.getGaussianKernel(size, sigma_small)
        spread = float(np.sum(kernel ** 2))  # the blur's std factor: (sum k^2)^2 for 2-D
        planes = rng.standard_normal((q, small[0] + 2 * pad, small[1] + 2 * pad)
                                     ).astype(np.float32)
        white = np.empty((height, width, q), np.float32)
        for i, plane in enumerate(planes):  # one bin at a time: OpenCV blurs 2-D planes
            cv2.GaussianBlur(plane, (size, size), sigma_small, dst=plane)
            field = plane[pad:pad + small[0], pad:pad + small[1]] / spread
            white[..., i] = field if step == 1.0 else cv2.resize(
                field, None, fx=step, fy=step, interpolation=cv2.INTER_LINEAR)[:height, :width]
    uniform = 0.5 * (1.0 + keras.ops.convert_to_numpy(keras.ops.erf(white / np.sqrt(2.0))))
    uniform = np.clip(uniform, 1e-7, 1.0 - 1e-7)
    return -np.log(-np.log(uniform)).astype(np.float32)


def alternatives(model: keras.Model, image: Any, count: int = 4, *, seed: int = 0,
                 temperature: float = 0.38, coherence: float = 0.2, softness: float = 0.2,
                 render_size: int = 256) -> list[np.ndarray]:
    """Other plausible colorizations of a photo, each coherent over regions.

    Args:
        model: A bin model (see :func:`bin_logits`).
        image: A photo, as :func:`colorlab.colorize.colorize` takes it.
        count: How many.
        seed: The same seed gives the same alternatives.
        temperature: Sample from ``softmax(logits / temperature)`` (1: the model's own
            distribution; the default 0.38, the paper's annealing, keeps to likelier colours).
        coherence: The noise's correlation length, as a fraction of the photo's short
            side, from 0 (an independent choice per pixel, confetti) to 1 (the whole photo
            chooses nearly together).
        softness: Blends a pixel's chosen bin with its near rivals (a Gumbel-softmax of
            this temperature): 0 is the exact sample, whose 10-unit bins can band.
        render_size: Short side of the copy the model sees.

    Returns:
        ``count`` (H, W, 3) uint8 RGB photos (RGBA where the input has alpha).
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count is how many alternatives, 1 or more; got {count!r}.")
    for name, value in (("temperature", temperature), ("coherence", coherence),
                        ("softness", softness)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be 0 or more, got {value}.")
    if coherence > 1:
        raise ValueError(f"coherence is a fraction of the photo's short side, from 0 "
                         f"(confetti) to 1 (the whole photo alike), got {coherence}.")
    if temperature == 0:
        raise ValueError("temperature 0 is the mode: one colorization, no alternatives; "
                         "use a temperature above 0 (0.38: the paper's).")
    prediction, logits, bins = bin_logits(model, image, render_size=render_size)
    sigma = coherence * min(logits.shape[:2])
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(count):
        perturbed = logits / temperature + smooth_gumbel(logits.shape, sigma, rng)
        ab = bins.decode(perturbed, temperature=softness, from_logits=True)
        results.append(render(prediction, ab))
    return results
