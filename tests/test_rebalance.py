"""colorlab.rebalance: the prior from streams, smoothing, and the published weights."""

import numpy as np
import pytest
import tensorflow as tf

from colorlab import color
from colorlab.quantize import ColorBins
from colorlab.rebalance import (
    empirical_prior,
    rebalance_weights,
    smooth_prior,
    zhang_imagenet_prior,
)


def test_shipped_prior_equals_the_reference(shared_reference):
    np.testing.assert_array_equal(
        zhang_imagenet_prior(), np.load(shared_reference / "prior_probs.npy")
    )


def test_weights_from_the_published_prior():
    prior = zhang_imagenet_prior()
    w = rebalance_weights(prior, lam=0.5)
    assert w.shape == (313,)
    assert round(w.min(), 4) == 0.0965 and round(w.max(), 2) == 6.17
    assert round(float(np.median(w)), 2) == 6.00
    np.testing.assert_array_equal(ColorBins.zhang313().centers[w.argmin()], [0, 0])
    assert np.isclose(np.sum(prior * w), 1.0)


def test_weights_formula_and_lambda_extremes():
    p = np.array([0.7, 0.2, 0.1])
    w = rebalance_weights(p, lam=0.5)
    raw = 1.0 / (0.5 * p + 0.5 / 3)
    np.testing.assert_allclose(w, raw / np.sum(p * raw))
    np.testing.assert_allclose(rebalance_weights(p, lam=1.0), np.ones(3))
    np.testing.assert_allclose(rebalance_weights(p, lam=0.0), 1 / (3 * p))
    with pytest.raises(ValueError, match="sum to 1"):
        rebalance_weights(np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="lam"):
        rebalance_weights(p, lam=2.0)
    with pytest.raises(ValueError, match="infinite"):
        rebalance_weights(np.array([1.0, 0.0]), lam=0.0)


def test_prior_counts_nearest_bins_and_smooths():
    bins = ColorBins.zhang313()
    ab = np.array([[0.4, -1.0]] * 3 + [[48.0, 21.0]], np.float32)  # 3 x bin (0, 0), 1 x (50, 20)
    raw = empirical_prior(ab, bins, sigma=0)
    i0 = int(np.flatnonzero((bins.centers == [0, 0]).all(1))[0])
    i1 = int(np.flatnonzero((bins.centers == [50, 20]).all(1))[0])
    assert raw[i0] == 0.75 and raw[i1] == 0.25 and raw.sum() == 1.0
    smooth = empirical_prior(ab, bins, sigma=5.0)
    assert np.isclose(smooth.sum(), 1.0)
    neighbour = int(np.flatnonzero((bins.centers == [10, 0]).all(1))[0])
    # A neighbour 10 away gets exp(-100 / 50) of the centre's mass before normalising.
    np.testing.assert_allclose(smooth[neighbour] / smooth[i0], np.exp(-2.0), rtol=1e-3)
    np.testing.assert_allclose(smooth, smooth_prior(raw * 4, bins, 5.0))


def test_streams_agree_with_one_array(photos):
    bins = ColorBins.zhang313()
    maps = [color.rgb_to_lab(p[::2, ::2])[..., 1:] for p in photos.values()]
    whole = np.concatenate([m.reshape(-1, 2) for m in maps])
    expected = empirical_prior(whole, bins)
    from_list = empirical_prior(maps, bins)
    from_generator = empirical_prior((m for m in maps), bins, progress=True)
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(maps), output_signature=tf.TensorSpec([None, None, 2], tf.float32)
    )
    from_dataset = empirical_prior(dataset, bins)
    for other in (from_list, from_generator, from_dataset):
        np.testing.assert_allclose(other, expected, atol=1e-12)
    # Photos peak at the grey bin, not at the gamut's edge (the 0-255 pitfall).
    assert np.abs(bins.centers[expected.argmax()]).max() <= 10


def test_prior_refuses_empty_and_wrong_sources():
    bins = ColorBins.zhang313()
    with pytest.raises(ValueError, match="no pixels"):
        empirical_prior(np.zeros((0, 2)), bins)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        empirical_prior([np.zeros((4, 4, 3))], bins)
    with pytest.raises(ValueError, match="counts"):
        smooth_prior(np.ones(5), bins)
