"""colorlab.reference: each plain version equals its fast twin, on photos and edge cases."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from colorlab import color, reference
from colorlab.quantize import AB_LIMIT, ColorBins
from colorlab.rebalance import (
    empirical_prior,
    rebalance_weights,
    smooth_prior,
    zhang_imagenet_prior,
)

BINS = {"313": ColorBins.zhang313(), "484": ColorBins.grid()}

# The eight corners of the RGB cube (black, the primaries, the secondaries, white).
CORNERS = np.array(
    [[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)], dtype=np.uint8
)


@pytest.fixture(scope="module")
def photo_ab(photos):
    """ab of the three photos at a sixth of their size, (18,000, 2) float32."""
    return np.concatenate(
        [color.rgb_to_lab(p[::6, ::6])[..., 1:].reshape(-1, 2) for p in photos.values()]
    )


def edge_ab():
    """ab where encoders go wrong: gray, exact ties, cell corners, the gamut's corners, the
    range limits."""
    grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    ab = [
        color.rgb_to_lab(grays)[:, 1:],  # pure grays: |ab| below 0.01, not exactly 0
        color.rgb_to_lab(CORNERS)[:, 1:],  # the most saturated colours sRGB holds
        [[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0], [15.0, -25.0], [10.0, 0.0], [0.0, 5.0]],
        [[s * AB_LIMIT, t * AB_LIMIT] for s in (-1, 1) for t in (-1, 1)],
    ]
    return np.concatenate([np.asarray(a, np.float32).reshape(-1, 2) for a in ab])


def test_reference_imports_only_numpy():
    """reference.py loads on its own without TensorFlow (the package __init__ aside)."""
    path = pathlib.Path(reference.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('reference', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "heavy = sorted({'tensorflow', 'keras', 'colorlab'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_constants_are_colorlabs():
    np.testing.assert_array_equal(reference.XYZ_FROM_RGB, color.XYZ_FROM_RGB)
    np.testing.assert_array_equal(reference.D65_WHITE, color.D65_WHITE)
    assert reference.LAB_EPSILON == color.LAB_EPSILON
    assert reference.LAB_SLOPE == color.LAB_SLOPE


def test_rgb_to_lab(photos):
    from skimage.color import rgb2lab

    grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    for rgb8 in [*photos.values(), CORNERS, grays]:
        lab = reference.rgb_to_lab(rgb8)
        assert lab.dtype == np.float64 and lab.shape == rgb8.shape
        # The library's float64 path computes the same formula: equal to rounding.
        np.testing.assert_allclose(color.rgb_to_lab(rgb8 / 255.0), lab, rtol=0, atol=1e-9)
        # Its uint8 path (float32, through a table): to float32 precision.
        np.testing.assert_allclose(color.rgb_to_lab(rgb8), lab, rtol=0, atol=2e-4)
        # And skimage, whose constants both use.
        np.testing.assert_allclose(rgb2lab(rgb8), lab, rtol=0, atol=1e-9)
    red, white, black = reference.rgb_to_lab(np.array([[1.0, 0, 0], [1, 1, 1], [0, 0, 0]]))
    np.testing.assert_allclose(red, [53.2406, 80.0923, 67.2028], atol=1e-4)
    np.testing.assert_allclose(white, [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(black, [0, 0, 0], atol=1e-12)
    assert reference.rgb_to_lab(np.array([1.0, 0, 0], np.float32)).dtype == np.float64


@pytest.mark.parametrize("name", BINS)
def test_hard_encode(name, photo_ab):
    bins = BINS[name]
    rng = np.random.default_rng(0)
    random_ab = rng.uniform(-AB_LIMIT, AB_LIMIT, (5000, 2)).astype(np.float32)
    for ab in (photo_ab, random_ab, edge_ab()):
        expected = reference.hard_encode(ab, bins.centers)
        assert expected.dtype == np.int32
        np.testing.assert_array_equal(bins.hard_encode(ab), expected)
    # A tie goes to the lower index: (5, 5) is equidistant from (0, 0), (0, 10), (10, 0),
    # (10, 10) of the 313 bins, and (0, 0) is the lowest of them.
    corner = reference.hard_encode(np.array([5.0, 5.0]), BINS["313"].centers)
    np.testing.assert_array_equal(BINS["313"].centers[corner], [0, 0])


@pytest.mark.parametrize("name", BINS)
def test_soft_encode(name, photo_ab):
    bins = BINS[name]
    for ab in (photo_ab, edge_ab()):
        dense = reference.soft_encode(ab, bins.centers)
        assert dense.shape == ab.shape[:-1] + (len(bins),)
        np.testing.assert_allclose(dense.sum(-1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(bins.soft_encode(ab), dense, rtol=0, atol=1e-6)
        indices, weights = reference.soft_encode(ab, bins.centers, sparse=True)
        fast_indices, fast_weights = bins.soft_encode(ab, sparse=True)
        np.testing.assert_array_equal(fast_indices, indices)
        np.testing.assert_allclose(fast_weights, weights, rtol=0, atol=1e-6)
    # Other k and sigma.
    ab = photo_ab[::30]
    np.testing.assert_allclose(
        bins.soft_encode(ab, k=5, sigma=8.0),
        reference.soft_encode(ab, bins.centers, k=5, sigma=8.0), rtol=0, atol=1e-6,
    )
    np.testing.assert_array_equal(
        reference.soft_encode(ab, bins.centers, k=1), np.eye(len(bins))[bins.hard_encode(ab)]
    )


def test_soft_encode_ties_and_shapes():
    centers = BINS["313"].centers
    # Gray: the nearest 9 bins are (0, 0), four at 10 and four at 14.1; (-20, 0), (0, -20),
    # (0, 20), (20, 0) tie for the tenth place and the lowest index, (-20, 0), gets it.
    indices, weights = reference.soft_encode(np.zeros((2, 3, 2)), centers, sparse=True)
    assert indices.shape == weights.shape == (2, 3, 10)
    np.testing.assert_array_equal(centers[indices[0, 0, -1]], [-20, 0])
    np.testing.assert_allclose(weights[0, 0, 0] / weights[0, 0, 1], np.exp(100 / 50))
    np.testing.assert_array_equal(BINS["313"].soft_encode(np.zeros((2, 3, 2)), sparse=True)[0],
                                  indices)


def test_decode(photo_ab):
    bins = BINS["313"]
    rng = np.random.default_rng(3)
    dirichlet = rng.dirichlet(np.full(313, 0.3), size=500)
    encoded = bins.soft_encode(photo_ab[::10])
    one_hot = np.eye(313)[[0, 100, 312]]  # probability 0 in all but one bin
    for probs in (dirichlet, encoded, one_hot):
        for t in (1.0, 0.38, 0.1):
            expected = reference.decode(probs, bins.centers, t)
            assert expected.shape == probs.shape[:-1] + (2,)
            # float32 softmax and mean in the library: within 1e-4 ab units here.
            np.testing.assert_allclose(bins.decode(probs, t), expected, rtol=0, atol=5e-4)
        np.testing.assert_array_equal(
            bins.decode(probs, 0.0), reference.decode(probs, bins.centers, 0.0)
        )
    # T = 1 is the mean; a small T moves towards the mode, the centre of the likeliest bin.
    np.testing.assert_allclose(
        reference.decode(dirichlet, bins.centers, 1.0), dirichlet @ bins.centers, atol=1e-9
    )
    np.testing.assert_array_equal(reference.decode(one_hot, bins.centers, 0.01),
                                  bins.centers[[0, 100, 312]])


@pytest.mark.parametrize("name", BINS)
def test_prior_and_its_smoothing(name, photo_ab):
    bins = BINS[name]
    for sigma in (5.0, 0.0, 12.0):
        expected = reference.empirical_prior(photo_ab, bins.centers, sigma)
        assert expected.shape == (len(bins),)
        np.testing.assert_allclose(expected.sum(), 1.0, rtol=1e-12)
        np.testing.assert_allclose(
            empirical_prior(photo_ab, bins, sigma), expected, rtol=1e-9, atol=1e-15
        )
    # One pixel spreads exp(-d^2 / 50) to a neighbour at d, on both sides of an edge.
    counts = np.zeros(len(bins))
    counts[0] = 1.0
    smooth = reference.smooth_prior(counts, bins.centers)
    np.testing.assert_allclose(smooth_prior(counts, bins), smooth, rtol=1e-9, atol=1e-15)
    d2 = ((bins.centers.astype(np.float64) - bins.centers[0]) ** 2).sum(-1)
    np.testing.assert_allclose(smooth / smooth[0], np.exp(-d2 / 50.0), rtol=1e-9, atol=1e-300)
    with pytest.raises(ValueError, match="grid"):
        reference.smooth_prior(np.ones(3), [[0, 0], [10, 0], [0, 7]])


def test_rebalance_weights(photo_ab):
    photo_prior = reference.empirical_prior(photo_ab, BINS["313"].centers)
    for prior in (zhang_imagenet_prior(), photo_prior):
        for lam in (0.0, 0.5, 1.0):
            if lam == 0.0 and not np.all(prior > 0):
                continue
            expected = reference.rebalance_weights(prior, lam)
            np.testing.assert_allclose(rebalance_weights(prior, lam), expected, rtol=1e-12)
            np.testing.assert_allclose(np.sum(prior * expected), 1.0, rtol=1e-12)
    w = reference.rebalance_weights(zhang_imagenet_prior())
    assert round(w.min(), 4) == 0.0965 and round(w.max(), 2) == 6.17
