"""colorlab.quantize.ColorBins: the bin sets, encoders equal to brute force, and decoding.

Brute force is colorlab.reference: every centre's distance, a stable sort (lower index wins
ties), the Gaussian weights.
"""

import numpy as np
import pytest
import tensorflow as tf

from colorlab import color, reference
from colorlab.quantize import AB_LIMIT, ColorBins


@pytest.fixture(scope="module")
def photo_ab(photos):
    return color.rgb_to_lab(photos["astronaut"][::4, ::4])[..., 1:]


def test_zhang313_equals_the_reference(shared_reference):
    bins = ColorBins.zhang313()
    reference = np.load(shared_reference / "pts_in_hull.npy")
    assert len(bins) == 313 and bins.centers.shape == (313, 2)
    assert bins.centers.dtype == np.float32
    np.testing.assert_array_equal(bins.centers, reference)


def test_zhang313_is_the_in_gamut_part_of_the_23x23_grid():
    centres = ColorBins.zhang313().centers
    assert np.all(centres % 10 == 0)
    assert centres[:, 0].min() == -90 and centres[:, 0].max() == 100
    assert centres[:, 1].min() == -110 and centres[:, 1].max() == 100
    order = np.lexsort((centres[:, 1], centres[:, 0]))
    np.testing.assert_array_equal(order, np.arange(313))


def test_grid_and_from_data():
    grid = ColorBins.grid()
    assert len(grid) == 484
    assert grid.centers.min() == -105 and grid.centers.max() == 105
    assert len(ColorBins.grid(step=20, low=-100, high=100)) == 100
    ab = np.array([[-104.0, -104.0], [-101.0, -100.5], [3.0, 4.0], [3.5, 4.5], [99.0, -1.0]])
    data = ColorBins.from_data(ab)
    np.testing.assert_array_equal(data.centers, [[-105, -105], [5, 5], [95, -5]])
    assert len(ColorBins.from_data(ab, min_count=2)) == 2
    assert all(any((c == g).all() for g in grid.centers) for c in data.centers)
    streamed = ColorBins.from_data(iter([ab[:2], ab[2:]]))
    assert streamed == data
    with pytest.raises(ValueError, match="multiple of step"):
        ColorBins.grid(step=7)
    with pytest.raises(ValueError, match="min_count"):
        ColorBins.from_data(ab, min_count=100)


@pytest.mark.parametrize("bins", [ColorBins.zhang313(), ColorBins.grid()], ids=["313", "484"])
def test_soft_encode_equals_brute_force(bins, photo_ab):
    rng = np.random.default_rng(0)
    random_ab = rng.uniform(-AB_LIMIT, AB_LIMIT, (40, 50, 2)).astype(np.float32)
    for ab in (random_ab, photo_ab, np.zeros((3, 2), np.float32)):
        dense = bins.soft_encode(ab)
        expected = reference.soft_encode(ab, bins.centers)
        assert dense.shape == ab.shape[:-1] + (len(bins),) and dense.dtype == np.float32
        assert np.abs(dense - expected).max() <= 1e-5
        np.testing.assert_allclose(dense.sum(-1), 1.0, atol=1e-5)


def test_exact_ties_resolve_like_a_stable_sort():
    bins = ColorBins.zhang313()
    # (0, 0) has four bins at distance 20 for the 10th place; (5, 5) sits on a cell corner.
    ab = np.array([[0.0, 0.0], [5.0, 5.0], [15.0, -25.0]], np.float32)
    expected = reference.soft_encode(ab, bins.centers)
    nearest = reference.hard_encode(ab, bins.centers)
    assert np.abs(bins.soft_encode(ab) - expected).max() <= 1e-6
    np.testing.assert_array_equal(bins.hard_encode(ab), nearest)


def test_sparse_form_and_its_size(photo_ab):
    bins = ColorBins.zhang313()
    indices, weights = bins.soft_encode(photo_ab, sparse=True)
    assert indices.dtype == np.int32 and weights.dtype == np.float32
    assert indices.shape == weights.shape == photo_ab.shape[:-1] + (10,)
    assert np.all(np.diff(weights, axis=-1) <= 1e-7)  # nearest first
    np.testing.assert_allclose(bins.to_dense(indices, weights), bins.soft_encode(photo_ab), atol=1e-7)
    target = np.zeros((44, 44, 2), np.float32)
    dense_bytes = bins.soft_encode(target).nbytes
    sparse_bytes = sum(a.nbytes for a in bins.soft_encode(target, sparse=True))
    assert round(dense_bytes / 1e6, 1) == 2.4 and round(sparse_bytes / 1e3) == 155


def test_k_and_sigma():
    bins = ColorBins.zhang313()
    ab = np.array([[12.0, -31.0]])
    expected = reference.soft_encode(ab, bins.centers, k=5, sigma=8.0)
    np.testing.assert_allclose(bins.soft_encode(ab, k=5, sigma=8.0), expected, atol=1e-6)
    one_hot = bins.soft_encode(ab, k=1)
    assert one_hot.max() == 1.0 and one_hot.sum() == 1.0
    with pytest.raises(ValueError, match="k must be"):
        bins.soft_encode(ab, k=0)
    with pytest.raises(ValueError, match="sigma"):
        bins.soft_encode(ab, sigma=0)


def test_hard_encode(photo_ab):
    bins = ColorBins.grid()
    nearest = reference.hard_encode(photo_ab, bins.centers)
    hard = bins.hard_encode(photo_ab)
    assert hard.dtype == np.int32 and hard.shape == photo_ab.shape[:-1]
    np.testing.assert_array_equal(hard, nearest)


def test_in_graph_equals_numpy(photo_ab):
    bins = ColorBins.zhang313()

    @tf.function(input_signature=[tf.TensorSpec([None, None, 2], tf.float32)])
    def encode(ab):
        return bins.soft_encode(ab, sparse=True), bins.hard_encode(ab), bins.soft_encode(ab)

    (indices, weights), hard, dense = encode(tf.constant(photo_ab))
    np_indices, np_weights = bins.soft_encode(photo_ab, sparse=True)
    np.testing.assert_array_equal(indices.numpy(), np_indices)
    np.testing.assert_allclose(weights.numpy(), np_weights, atol=1e-7)
    np.testing.assert_array_equal(hard.numpy(), bins.hard_encode(photo_ab))
    np.testing.assert_allclose(dense.numpy(), bins.soft_encode(photo_ab), atol=1e-7)
    eager = bins.soft_encode(tf.constant(photo_ab))
    assert tf.is_tensor(eager)


def test_bad_ab_is_refused():
    bins = ColorBins.zhang313()
    with pytest.raises(ValueError, match="opencv8_to_lab"):
        bins.soft_encode(np.array([[200.0, 150.0]]))
    with pytest.raises(ValueError, match="NaN"):
        bins.hard_encode(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        bins.soft_encode(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        ColorBins(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="distinct"):
        ColorBins([[0, 0], [0, 0]])


def test_decode_temperatures():
    bins = ColorBins.zhang313()
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(313, 0.3), size=(4, 5)).astype(np.float32)
    mean = bins.decode(probs, temperature=1.0)
    np.testing.assert_allclose(mean, probs @ bins.centers, atol=1e-3)
    mode = bins.decode(probs, temperature=0.0)
    np.testing.assert_array_equal(mode, bins.centers[probs.argmax(-1)])
    annealed = bins.decode(probs, temperature=0.38)
    p = probs.astype(np.float64) ** (1 / 0.38)
    np.testing.assert_allclose(annealed, (p / p.sum(-1, keepdims=True)) @ bins.centers, atol=1e-3)
    # Colder is more saturated (farther from the mean towards the mode) on average.
    chroma = [np.linalg.norm(x, axis=-1).mean() for x in (mean, annealed, mode)]
    assert chroma[0] < chroma[1] < chroma[2]
    assert bins.decode(probs, temperature=0.01).shape == (4, 5, 2)


def test_decode_round_trips_a_soft_encoding_and_takes_logits(photo_ab):
    bins = ColorBins.zhang313()
    sample = photo_ab[:8, :8]
    dense = bins.soft_encode(sample)
    assert np.abs(bins.decode(dense, temperature=1.0) - sample).max() < 3.0
    logits = np.log(dense + 1e-12)
    np.testing.assert_allclose(
        bins.decode(logits, 0.38, from_logits=True), bins.decode(dense, 0.38), atol=1e-3
    )
    decoded = bins.decode(tf.constant(dense), temperature=0.0)
    assert tf.is_tensor(decoded)
    with pytest.raises(ValueError, match="temperature"):
        bins.decode(dense, temperature=-1)
    with pytest.raises(ValueError, match="313"):
        bins.decode(np.ones((2, 10)))


def test_config_round_trip():
    bins = ColorBins.grid(step=20, low=-100, high=100)
    again = ColorBins.from_config(bins.get_config())
    assert again == bins and hash(again) == hash(bins) and len(again) == 100
