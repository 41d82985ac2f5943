"""colorlab.losses: hand-computed values, sparse = dense, masks, compile() and saving."""

import keras
import numpy as np
import pytest

from colorlab.losses import (
    ABRegression,
    CombinedLoss,
    RebalancedCrossEntropy,
    SpatialSmoothness,
)
from colorlab.data.targets import pack_sparse_target, unpack_sparse_target
from colorlab.quantize import ColorBins
from colorlab.rebalance import rebalance_weights, zhang_imagenet_prior

LN2 = np.log(2.0)


def per_pixel(loss, y_true, y_pred):
    return keras.ops.convert_to_numpy(loss.call(keras.ops.convert_to_tensor(y_true), y_pred))


def test_cross_entropy_by_hand():
    logits = np.log(np.array([[[[0.25, 0.5, 0.25], [0.25, 0.5, 0.25]]]], np.float32))  # (1,1,2,3)
    target = np.array([[[[0.0, 1.0, 0.0], [0.2, 0.8, 0.0]]]], np.float32)
    plain = per_pixel(RebalancedCrossEntropy(), target, logits)
    np.testing.assert_allclose(plain, [[[LN2, 0.2 * 2 * LN2 + 0.8 * LN2]]], rtol=1e-5)
    weighted = per_pixel(RebalancedCrossEntropy([1.0, 2.0, 3.0]), target, logits)
    np.testing.assert_allclose(weighted, 2.0 * plain, rtol=1e-6)  # nearest bin is 1 for both
    probs = per_pixel(RebalancedCrossEntropy(from_logits=False), target, np.exp(logits))
    np.testing.assert_allclose(probs, plain, rtol=1e-5)
    # The Keras reduction averages the pixels.
    value = float(RebalancedCrossEntropy([1.0, 2.0, 3.0])(target, logits))
    assert np.isclose(value, weighted.mean(), rtol=1e-6)


def test_unit_weights_equal_keras_categorical_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 4, 313)).astype(np.float32)
    bins = ColorBins.zhang313()
    target = bins.soft_encode(rng.uniform(-60, 60, (2, 4, 4, 2)).astype(np.float32))
    ours = float(RebalancedCrossEntropy(np.ones(313))(target, logits))
    keras_ce = float(keras.losses.CategoricalCrossentropy(from_logits=True)(target, logits))
    assert np.isclose(ours, keras_ce, rtol=1e-5)
    assert np.isclose(float(RebalancedCrossEntropy()(target, logits)), keras_ce, rtol=1e-5)


def test_sparse_targets_equal_dense():
    rng = np.random.default_rng(1)
    bins = ColorBins.zhang313()
    ab = rng.uniform(-70, 70, (2, 6, 6, 2)).astype(np.float32)
    logits = rng.normal(size=(2, 6, 6, 313)).astype(np.float32)
    weights = rebalance_weights(zhang_imagenet_prior())
    dense = per_pixel(RebalancedCrossEntropy(weights), bins.soft_encode(ab), logits)
    indices, soft = bins.soft_encode(ab, sparse=True)
    packed = pack_sparse_target(indices, soft)
    assert packed.shape == (2, 6, 6, 20) and packed.dtype == np.float32
    sparse = per_pixel(RebalancedCrossEntropy(weights, sparse=True), packed, logits)
    np.testing.assert_allclose(sparse, dense, rtol=1e-5)
    as_tuple = RebalancedCrossEntropy(weights, sparse=True).call((indices, soft), logits)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(as_tuple), dense, rtol=1e-5)
    back_indices, back_weights = unpack_sparse_target(packed)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(back_indices), indices)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(back_weights), soft)


def test_gray_masks_per_pixel_and_per_image():
    bins = ColorBins.zhang313()
    ab = np.zeros((2, 1, 2, 2), np.float32)
    ab[0, 0, 0] = [40.0, -20.0]  # image 0: one colorful pixel, one grey; image 1: all grey
    ab[1, 0, 1] = [3.0, -4.0]  # inside the grey zone |a|, |b| <= 5
    target = bins.soft_encode(ab)
    logits = np.zeros((2, 1, 2, 313), np.float32)
    plain = per_pixel(RebalancedCrossEntropy(), target, logits)
    by_pixel = per_pixel(RebalancedCrossEntropy(bins=bins, gray_mask="pixel"), target, logits)
    by_image = per_pixel(RebalancedCrossEntropy(bins=bins, gray_mask="image"), target, logits)
    np.testing.assert_allclose(by_pixel, plain * [[[1, 0]], [[0, 0]]], rtol=1e-6)
    np.testing.assert_allclose(by_image, plain * [[[1, 1]], [[0, 0]]], rtol=1e-6)
    with pytest.raises(ValueError, match="needs the bins"):
        RebalancedCrossEntropy(gray_mask="pixel")
    with pytest.raises(ValueError, match="gray_mask"):
        RebalancedCrossEntropy(bins=bins, gray_mask="sometimes")


def test_mismatched_shapes_say_what_is_wrong():
    with pytest.raises(ValueError, match="313 bins"):
        RebalancedCrossEntropy(np.ones(484), bins=ColorBins.zhang313())
    with pytest.raises(ValueError, match="sparse=True"):
        RebalancedCrossEntropy()(np.zeros((1, 2, 2, 20)), np.zeros((1, 2, 2, 313)))
    with pytest.raises(ValueError, match="weights given"):
        RebalancedCrossEntropy(np.ones(313))(np.zeros((1, 2, 2, 484)), np.zeros((1, 2, 2, 484)))


def test_ab_regression_by_hand():
    y_true = np.array([[[[0.0, 0.0], [1.0, -1.0]]]], np.float32)
    y_pred = np.array([[[[3.0, -4.0], [1.0, 1.0]]]], np.float32)
    np.testing.assert_allclose(per_pixel(ABRegression("l2"), y_true, y_pred), [[[12.5, 2.0]]])
    np.testing.assert_allclose(per_pixel(ABRegression("l1"), y_true, y_pred), [[[3.5, 1.0]]])
    # Huber with delta 1: |3| -> 2.5, |4| -> 3.5, |0| -> 0, |2| -> 1.5.
    np.testing.assert_allclose(per_pixel(ABRegression("huber"), y_true, y_pred), [[[3.0, 0.75]]])
    mse = keras.losses.MeanSquaredError()(y_true, y_pred)
    assert np.isclose(float(ABRegression("l2")(y_true, y_pred)), float(mse))
    lab_target = np.concatenate([np.full((1, 1, 2, 1), 0.3, np.float32), y_true], -1)
    np.testing.assert_allclose(per_pixel(ABRegression("l2"), lab_target, y_pred), [[[12.5, 2.0]]])
    with pytest.raises(ValueError, match="norm"):
        ABRegression("l3")


def test_spatial_smoothness_by_hand():
    lightness = np.zeros((1, 2, 2, 1), np.float32)
    target = np.concatenate([lightness, np.zeros((1, 2, 2, 2), np.float32)], -1)
    a = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    pred = np.stack([a, np.zeros_like(a)], -1)[None]
    # Each pixel's neighbours are the three others, all with the same L (weight 1).
    expected = [[[2.0, 2.0 / 9.0], [2.0 / 9.0, 2.0]]]
    np.testing.assert_allclose(per_pixel(SpatialSmoothness(3), target, pred), expected, rtol=1e-5)
    assert per_pixel(SpatialSmoothness(5), target, np.ones_like(pred)).max() < 1e-12


def test_spatial_smoothness_respects_lightness_edges():
    height, width = 6, 8
    ab = np.zeros((1, height, width, 2), np.float32)
    ab[:, :, width // 2 :, 0] = 1.0  # a colour edge down the middle
    flat_l = np.zeros((1, height, width, 1), np.float32)
    edge_l = flat_l.copy()
    edge_l[:, :, width // 2 :] = 0.4  # the same edge in L: 40 L* units
    loss = SpatialSmoothness(3, sigma=10.0)
    across_flat = per_pixel(loss, np.concatenate([flat_l, ab], -1), ab).sum()
    across_edge = per_pixel(loss, np.concatenate([edge_l, ab], -1), ab).sum()
    assert across_flat > 0.5 and across_edge < 1e-3 * across_flat
    with pytest.raises(ValueError, match="odd"):
        SpatialSmoothness(4)
    with pytest.raises(ValueError, match="channel 0"):
        loss(np.zeros((1, 4, 4, 2)), np.zeros((1, 4, 4, 2)))


def test_combined_loss_is_the_weighted_sum():
    rng = np.random.default_rng(2)
    target = rng.normal(size=(2, 5, 5, 3)).astype(np.float32) * 0.3
    pred = rng.normal(size=(2, 5, 5, 2)).astype(np.float32)
    combined = CombinedLoss([ABRegression(), SpatialSmoothness()], [1.0, 0.5])
    expected = per_pixel(ABRegression(), target, pred) + 0.5 * per_pixel(
        SpatialSmoothness(), target, pred
    )
    np.testing.assert_allclose(per_pixel(combined, target, pred), expected, rtol=1e-5)


def tiny_bin_model(q):
    inputs = keras.Input((8, 8, 1), name="L")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
    outputs = keras.layers.Conv2D(q, 1, name="logits")(x)
    return keras.Model(inputs, outputs, name="tiny")


def test_compile_fit_and_reload_with_safe_mode(tmp_path):
    keras.utils.set_random_seed(0)
    bins = ColorBins.zhang313()
    rng = np.random.default_rng(3)
    ab = rng.uniform(-60, 60, (4, 8, 8, 2)).astype(np.float32)
    targets = pack_sparse_target(*bins.soft_encode(ab, sparse=True))
    inputs = rng.uniform(-0.5, 0.5, (4, 8, 8, 1)).astype(np.float32)
    loss = RebalancedCrossEntropy(
        rebalance_weights(zhang_imagenet_prior()), bins=bins, sparse=True, gray_mask="image"
    )
    model = tiny_bin_model(len(bins))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    history = model.fit(inputs, targets, epochs=5, batch_size=4, verbose=0).history["loss"]
    assert history[-1] < history[0]
    path = tmp_path / "tiny.keras"
    model.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    assert isinstance(again.loss, RebalancedCrossEntropy)
    assert again.loss.sparse and again.loss.gray_mask == "image"
    np.testing.assert_allclose(again.loss.class_weights, loss.class_weights)
    assert np.isclose(
        float(again.evaluate(inputs, targets, verbose=0)),
        float(model.evaluate(inputs, targets, verbose=0)),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "loss",
    [
        ABRegression("huber", delta=0.5),
        SpatialSmoothness(5, sigma=7.0),
        CombinedLoss([ABRegression("l1"), SpatialSmoothness()], [1.0, 0.1]),
    ],
    ids=lambda x: type(x).__name__,
)
def test_regression_losses_serialize(loss):
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    rng = np.random.default_rng(4)
    target = rng.normal(size=(1, 4, 4, 3)).astype(np.float32) * 0.2
    pred = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
    assert np.isclose(float(again(target, pred)), float(loss(target, pred)))
