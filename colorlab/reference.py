"""The plain versions: each idea of lesson 01 in a few lines of numpy, next to the paper.

The fast functions of :mod:`colorlab.color`, :mod:`colorlab.quantize` and
:mod:`colorlab.rebalance` run on chunks, thread pools, lookup tables and compiled TensorFlow
graphs, which hides the formulas they compute. This module writes each formula out as it
stands in its source, with no speed tricks: it is what to read first, and what the tests
hold the fast functions to (``tests/test_reference.py``). Lesson 01
(``notebooks/01_color_science_and_bins.ipynb``) shows both and times them.

Each function takes and returns numpy arrays, follows the conventions of its fast twin
(defaults, tie-breaking, output shapes) and imports nothing but numpy. They hold every
pixel's distance to every bin at once, (..., Q) floats: use them on small arrays (a
128 x 128 map over 313 bins takes 20 MB per copy).

- :func:`rgb_to_lab`: IEC 61966-2-1 (sRGB) and CIE 15 (Lab); fast twin
  :func:`colorlab.color.rgb_to_lab`.
- :func:`hard_encode` and :func:`soft_encode`: Zhang et al. 2016, Sec. 2.1; fast twins
  ``ColorBins.hard_encode`` and ``ColorBins.soft_encode``.
- :func:`decode`: the annealed mean, Zhang et al. 2016, Sec. 2.3, Eq. 5; fast twin
  ``ColorBins.decode``.
- :func:`smooth_prior`, :func:`empirical_prior`, :func:`rebalance_weights`: the prior and
  the class-rebalancing weights, Zhang et al. 2016, Sec. 2.2, Eq. 4; fast twins of the same
  names in :mod:`colorlab.rebalance`.

Zhang, Isola & Efros, "Colorful Image Colorization", ECCV 2016.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "D65_WHITE",
    "LAB_EPSILON",
    "LAB_SLOPE",
    "XYZ_FROM_RGB",
    "decode",
    "empirical_prior",
    "hard_encode",
    "rebalance_weights",
    "rgb_to_lab",
    "smooth_prior",
    "soft_encode",
]

# The numbers of the two standards, as skimage.color (so the authors' code) uses them. This is
# their one home: colorlab.color imports them from here.

#: Linear sRGB -> CIE XYZ (IEC 61966-2-1).
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
#: The D65 reference white (2 degree observer) in XYZ.
D65_WHITE = np.array([0.95047, 1.0, 1.08883])
#: CIE Lab's f: a cube root above this value of X / Xn (and Y / Yn, Z / Zn), a line below.
LAB_EPSILON = 0.008856
#: CIE Lab's f: the slope of that line.
LAB_SLOPE = 7.787


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB -> CIE L*a*b* under the D65 white, as the standards write it.

    Three steps: undo the sRGB transfer curve (IEC 61966-2-1), a matrix to CIE XYZ, then
    CIE Lab's cube-root compression ``f`` relative to the white (CIE 15)::

        linear = ((rgb + 0.055) / 1.055) ** 2.4      if rgb > 0.04045, else rgb / 12.92
        X, Y, Z = XYZ_FROM_RGB @ linear
        f(t) = t ** (1/3)                            if t > 0.008856,  else 7.787 t + 16/116
        L = 116 f(Y/Yn) - 16,  a = 500 (f(X/Xn) - f(Y/Yn)),  b = 200 (f(Y/Yn) - f(Z/Zn))

    Args:
        rgb: (..., 3) RGB: floats in [0, 1], or uint8 (divided by 255) or uint16 (by 65535).

    Returns:
        (..., 3) float64 Lab: L in [0, 100], a in about [-86, 98] and b in about
        [-108, 95] for sRGB colours.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype.kind == "u":
        rgb = rgb / np.iinfo(rgb.dtype).max
    rgb = rgb.astype(np.float64)
    with np.errstate(invalid="ignore"):  # np.where computes both branches everywhere
        linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ XYZ_FROM_RGB.T  # row vectors: (..., 3) @ (3, 3)
    t = xyz / D65_WHITE
    f = np.where(t > LAB_EPSILON, np.cbrt(t), LAB_SLOPE * t + 16.0 / 116.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def hard_encode(ab: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """The nearest bin centre of each pixel (Zhang et al. 2016, Sec. 2.1, with k = 1).

    Squared distances to every centre, then the index of the smallest. The distances are
    float32, as the library computes them, so that equal distances are equal here too;
    ``argmin`` returns the first of equal minima, so ties go to the lower bin index.

    Args:
        ab: (..., 2) ab in Lab units.
        centers: (Q, 2) bin centres, e.g. ``ColorBins.zhang313().centers``.

    Returns:
        (...,) int32 bin indices in [0, Q).
    """
    ab = np.asarray(ab, dtype=np.float32)
    centers = np.asarray(centers, dtype=np.float32)
    d2 = ((ab[..., None, :] - centers) ** 2).sum(axis=-1)  # (..., Q)
    return np.argmin(d2, axis=-1).astype(np.int32)


def soft_encode(
    ab: np.ndarray, centers: np.ndarray, k: int = 10, sigma: float = 5.0, sparse: bool = False
):
    """Soft encoding of ab over the bins (Zhang et al. 2016, Sec. 2.1).

    The k nearest centres of a pixel share its weight in proportion to a Gaussian of their
    distance, ``w_i = exp(-d_i^2 / (2 sigma^2)) / sum_j exp(-d_j^2 / (2 sigma^2))``; every
    other bin gets 0. The paper (and its released code) uses k = 10 and sigma = 5.

    The nearest k come from a stable sort of the float32 squared distances: equal
    distances keep the order of the bins, so ties go to the lower bin index, as in the
    library. (A gray pixel, ab = (0, 0), has four bins at distance 20 competing for the
    tenth place.)

    Args:
        ab: (..., 2) ab in Lab units.
        centers: (Q, 2) bin centres, e.g. ``ColorBins.zhang313().centers``.
        k: Number of nearest centres that share the weight, in [1, Q].
        sigma: Gaussian width in ab units, > 0.
        sparse: Return the k (index, weight) pairs instead of the dense distribution.

    Returns:
        Dense: (..., Q) float64 weights summing to 1 over the last axis. Sparse: a tuple
        (indices (..., k) int32, weights (..., k) float64), nearest bin first.
    """
    ab = np.asarray(ab, dtype=np.float32)
    centers = np.asarray(centers, dtype=np.float32)
    d2 = ((ab[..., None, :] - centers) ** 2).sum(axis=-1)  # (..., Q)
    nearest = np.argsort(d2, axis=-1, kind="stable")[..., :k]  # (..., k), nearest first
    d2_nearest = np.take_along_axis(d2, nearest, axis=-1).astype(np.float64)
    # Distances relative to the nearest: the same weights after normalising, and no
    # exp(-large) = 0 far from every centre.
    weights = np.exp(-(d2_nearest - d2_nearest[..., :1]) / (2.0 * sigma**2))
    weights /= weights.sum(axis=-1, keepdims=True)
    if sparse:
        return nearest.astype(np.int32), weights
    dense = np.zeros(d2.shape)
    np.put_along_axis(dense, nearest, weights, axis=-1)
    return dense


def decode(probs: np.ndarray, centers: np.ndarray, temperature: float = 0.38) -> np.ndarray:
    """The annealed mean of a distribution over the bins (Zhang et al. 2016, Eq. 5).

    ``H(z) = E[f_T(z)]`` with ``f_T(z) = exp(log(z) / T) / sum_q exp(log(z_q) / T)``: the
    distribution is re-tempered (a softmax of ``log(z) / T``), then the centres are averaged
    with it. T = 1 gives the mean, T -> 0 the mode (T = 0 returns the centre of the most
    likely bin); the paper uses T = 0.38.

    Args:
        probs: (..., Q) probabilities over the bins (each row summing to 1).
        centers: (Q, 2) bin centres.
        temperature: T >= 0.

    Returns:
        (..., 2) float64 ab.
    """
    probs = np.asarray(probs, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if temperature == 0:
        return centers[np.argmax(probs, axis=-1)]
    with np.errstate(divide="ignore"):  # log(0) = -inf: a bin of probability 0 gets weight 0
        scores = np.log(probs) / temperature
    # A softmax does not change when a constant is subtracted; the largest score becomes 0,
    # so exp() cannot overflow at small T.
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ centers


def smooth_prior(
    counts: np.ndarray, centers: np.ndarray, sigma: float = 5.0, step: float = 10.0
) -> np.ndarray:
    """The empirical distribution of the bins, smoothed by a Gaussian (Zhang et al. Sec. 2.2).

    The counts are laid out as an image on the ab plane, one pixel per ``step`` x ``step``
    cell, so the bin at (a, b) is the pixel in row (a - a_min) / step and column
    (b - b_min) / step; cells without a bin hold 0. The image is blurred with a Gaussian
    of ``sigma`` ab units (zero beyond the image's border), read back at the bins and
    normalised. A 2-D Gaussian is the product of two 1-D ones, so the blur is one matrix
    product per axis: ``blurred = G_a @ image @ G_b.T`` with
    ``G[i, j] = exp(-((i - j) step)^2 / (2 sigma^2))`` (its normaliser cancels in the
    final normalisation). Mass blurred onto cells without a bin is dropped.

    Args:
        counts: (Q,) non-negative bin counts (or frequencies).
        centers: (Q, 2) bin centres on a grid of spacing ``step`` (every bin set of
            colorlab is: zhang313, ``grid()`` and ``from_data()`` all lie on the grid of
            multiples of 10 or of 10 plus 5).
        sigma: Gaussian width in ab units (Zhang et al.: 5); 0 returns the normalised counts.
        step: The grid spacing in ab units.

    Returns:
        (Q,) float64 prior summing to 1.
    """
    counts = np.asarray(counts, dtype=np.float64)
    p = counts / counts.sum()
    if sigma == 0:
        return p
    centers = np.asarray(centers, dtype=np.float64)
    cell = np.rint((centers - centers.min(axis=0)) / step).astype(int)  # (Q, 2) row, column
    if not np.allclose(centers.min(axis=0) + cell * step, centers):
        raise ValueError(f"smooth_prior needs bin centres on a grid of spacing {step}.")
    image = np.zeros(cell.max(axis=0) + 1)
    image[cell[:, 0], cell[:, 1]] = p

    def gaussian(n: int) -> np.ndarray:
        position = step * np.arange(n)
        return np.exp(-((position[:, None] - position[None, :]) ** 2) / (2.0 * sigma**2))

    blurred = gaussian(image.shape[0]) @ image @ gaussian(image.shape[1]).T
    smoothed = blurred[cell[:, 0], cell[:, 1]]
    return smoothed / smoothed.sum()


def empirical_prior(ab: np.ndarray, centers: np.ndarray, sigma: float = 5.0) -> np.ndarray:
    """The smoothed colour prior of some pixels (Zhang et al. 2016, Sec. 2.2).

    Each pixel counts once in its nearest bin (:func:`hard_encode`); the counts are
    smoothed with a Gaussian of ``sigma`` ab units and normalised (:func:`smooth_prior`).

    Args:
        ab: (..., 2) ab in Lab units, every pixel of the data at once.
        centers: (Q, 2) bin centres (on the grid of spacing 10, see :func:`smooth_prior`).
        sigma: Smoothing width in ab units (Zhang et al.: 5).

    Returns:
        (Q,) float64 prior summing to 1.
    """
    indices = hard_encode(ab, centers).ravel()
    counts = np.bincount(indices, minlength=len(centers))
    return smooth_prior(counts, centers, sigma)


def rebalance_weights(prior: np.ndarray, lam: float = 0.5) -> np.ndarray:
    """The class-rebalancing weights of Zhang et al. (2016), Eq. 4.

    ``w ∝ ((1 - λ) p~ + λ / Q)^-1``, scaled so that ``E_p~[w] = sum_q p~_q w_q = 1``: the
    prior mixed with a uniform distribution, inverted. λ = 1 weights every bin 1, λ = 0 by
    inverse frequency; the paper uses λ = 0.5.

    Args:
        prior: (Q,) smoothed prior summing to 1.
        lam: λ in [0, 1].

    Returns:
        (Q,) float64 weights.
    """
    prior = np.asarray(prior, dtype=np.float64)
    q = len(prior)
    w = 1.0 / ((1.0 - lam) * prior + lam / q)
    return w / np.sum(prior * w)
