"""Class rebalancing: the empirical ab prior of a data set and the per-bin loss weights.

Natural photos are dominated by desaturated colours (sky, walls, roads): over ImageNet the
single bin at ab = (0, 0) holds a fifth of all pixels. A classifier trained on raw frequencies
learns to predict grey-brown. Zhang, Isola & Efros ("Colorful Image Colorization", ECCV 2016,
Sec. 2.2, Eq. 3-4) weight each pixel's loss by

    w  ∝  ((1 - λ) p̃ + λ / Q)^-1,   scaled so that  Σ p̃ w = 1,

with p̃ the empirical distribution of the bins, smoothed with a Gaussian of σ = 5 ab units,
and λ = 0.5: rare, saturated colours count up to about 60 times more than grey.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colorlab.quantize import ColorBins, _iter_batches, _load_resource

__all__ = ["empirical_prior", "rebalance_weights", "smooth_prior", "zhang_imagenet_prior"]


def zhang_imagenet_prior() -> np.ndarray:
    """The published ImageNet prior of Zhang et al. over :meth:`ColorBins.zhang313`.

    Returns:
        (313,) float64, summing to 1, already smoothed (σ = 5). The (0, 0) bin holds 0.201.
    """
    return _load_resource("zhang_prior_probs.npy")


def empirical_prior(
    ab_source: Any,
    bins: ColorBins,
    sigma: float = 5.0,
    progress: bool = False,
    total: int | None = None,
) -> np.ndarray:
    """Streams ab maps into bin frequencies, smoothed on the ab plane.

    Each pixel counts once in its nearest bin; the counts are smoothed with a Gaussian of
    ``sigma`` ab units over the bin centers and normalised. Memory stays bounded: large arrays
    are processed a million pixels at a time and iterables one batch at a time.

    Args:
        ab_source: ab in Lab units (not normalised) as one (..., 2) array or tensor, an
            iterable of such batches (a generator, a list), or a ``tf.data.Dataset`` whose
            elements are (..., 2) ab maps.
        bins: The bins to count in.
        sigma: Smoothing width in ab units (0 for none; Zhang et al. use 5).
        progress: Show a progress bar (tqdm) over the batches.
        total: Number of batches, for the progress bar when the source has no length.

    Returns:
        (Q,) float64 prior summing to 1.

    Raises:
        ValueError: the source holds no pixels, or its batches are not (..., 2).
    """
    counts = np.zeros(len(bins), dtype=np.int64)
    batches = _iter_batches(ab_source)
    if progress:
        from tqdm.auto import tqdm

        length = total if total is not None else _safe_len(ab_source)
        batches = tqdm(batches, total=length, desc="ab prior", unit="batch", disable=None)
    for batch in batches:
        if batch.size:
            indices = bins.hard_encode(batch.reshape(-1, 2).astype(np.float32))
            counts += np.bincount(indices, minlength=len(bins))
    if counts.sum() == 0:
        raise ValueError("empirical_prior got no pixels: the ab source is empty.")
    return smooth_prior(counts, bins, sigma)


def smooth_prior(counts: Any, bins: ColorBins, sigma: float = 5.0) -> np.ndarray:
    """Gaussian smoothing of bin counts or frequencies over the bin centers.

    ``p̃_i ∝ Σ_j exp(-|c_i - c_j|^2 / (2 σ^2)) p_j``, normalised to sum 1. Mass that the
    kernel would spread outside the bin set is dropped before normalising, as when the
    smoothing is done on the full grid and restricted to the in-gamut bins.

    Args:
        counts: (Q,) non-negative counts or probabilities.
        bins: The bins the counts belong to.
        sigma: Kernel width in ab units; 0 returns the normalised counts.

    Returns:
        (Q,) float64 summing to 1.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (len(bins),):
        raise ValueError(f"Expected {len(bins)} counts for these bins, got {counts.shape}.")
    if np.any(counts < 0) or not np.isfinite(counts).all() or counts.sum() <= 0:
        raise ValueError("Counts must be finite, non-negative and not all zero.")
    p = counts / counts.sum()
    if sigma > 0:
        c = bins.centers.astype(np.float64)
        d2 = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        p = np.exp(-d2 / (2.0 * sigma**2)) @ p
    elif sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}.")
    return p / p.sum()


def rebalance_weights(prior: Any, lam: float = 0.5) -> np.ndarray:
    """Per-bin loss weights of Zhang et al. (2016), Eq. 4.

    ``w ∝ ((1 - lam) p + lam / Q)^-1``, scaled so that ``Σ p w = 1`` (the expected weight of
    a pixel drawn from the data is 1). lam = 0 weights by inverse frequency, lam = 1 not at
    all. From the published ImageNet prior: min 0.0965 at (0, 0), max 6.17.

    Args:
        prior: (Q,) smoothed prior summing to 1 (see :func:`empirical_prior`).
        lam: Mixing weight of the uniform distribution, in [0, 1].

    Returns:
        (Q,) float64 weights.
    """
    p = np.asarray(prior, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"prior must be a (Q,) vector, got shape {p.shape}.")
    if np.any(p < 0) or not np.isfinite(p).all() or not np.isclose(p.sum(), 1.0, atol=1e-4):
        raise ValueError(
            f"prior must be non-negative and sum to 1 (got sum {p.sum():.6g}); normalise it "
            "or use empirical_prior()."
        )
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}.")
    if lam == 0.0 and np.any(p == 0):
        raise ValueError("lam = 0 weights by 1 / p, which is infinite for empty bins.")
    w = 1.0 / ((1.0 - lam) * p + lam / len(p))
    return w / np.sum(p * w)


def _safe_len(source: Any) -> int | None:
    try:
        n = len(source)
    except TypeError:
        return None
    return n if n >= 0 else None
