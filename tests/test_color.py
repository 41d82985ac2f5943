"""colorlab.color: accuracy against scikit-image, round trips, tensors, and refusals."""

import cv2
import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor

from colorlab import color


def _check_8bit(rgb8):
    ours = color.rgb_to_lab(rgb8)
    assert ours.dtype == np.float32 and ours.shape == rgb8.shape
    reference = skcolor.rgb2lab(rgb8)  # float64
    assert np.abs(ours - reference).max(axis=0).max() <= 2e-3
    back = color.lab_to_rgb(ours)
    assert np.abs(back - rgb8 / 255.0).max() <= 1e-4


@pytest.mark.slow
def test_all_8bit_colors_match_skimage_and_round_trip(all_rgb8):
    _check_8bit(all_rgb8)


def test_every_61st_8bit_color_matches_skimage_and_round_trips(all_rgb8):
    # The default suite's share of the 2^24 check: 275,036 colours, every gray level and
    # both ends of each channel among them.
    grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    _check_8bit(np.concatenate([all_rgb8[::61], grays]))


def test_float32_input_matches_skimage(photos):
    rgb = photos["astronaut"].astype(np.float32) / 255.0
    ours = color.rgb_to_lab(rgb)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, skcolor.rgb2lab(rgb.astype(np.float64)), atol=2e-3)


def test_float64_stays_float64_and_matches_tightly():
    rgb = np.random.default_rng(0).random((50, 3))
    lab = color.rgb_to_lab(rgb)
    assert lab.dtype == np.float64
    np.testing.assert_allclose(lab, skcolor.rgb2lab(rgb), atol=1e-9)
    np.testing.assert_allclose(color.lab_to_rgb(lab), rgb, atol=1e-9)


def test_known_colors():
    lab = color.rgb_to_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=2e-2)
    np.testing.assert_allclose(lab[1], [0.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=1e-2)


def test_any_leading_shape_and_uint16():
    rgb16 = np.random.default_rng(1).integers(0, 65536, (2, 3, 4, 5, 3)).astype(np.uint16)
    lab = color.rgb_to_lab(rgb16)
    assert lab.shape == rgb16.shape
    np.testing.assert_allclose(lab, skcolor.rgb2lab(rgb16 / 65535.0), atol=2e-3)
    assert color.rgb_to_lab(np.zeros((0, 3), np.float32)).shape == (0, 3)


def test_tensor_in_tensor_out_eager_and_in_graph(photos):
    rgb = photos["chelsea"][:64, :64].astype(np.float32) / 255.0
    expected = skcolor.rgb2lab(rgb)
    eager = color.rgb_to_lab(tf.constant(rgb))
    assert tf.is_tensor(eager) and eager.dtype == tf.float32
    np.testing.assert_allclose(eager.numpy(), expected, atol=2e-3)

    @tf.function
    def round_trip(x):
        return color.lab_to_rgb(color.rgb_to_lab(x))

    np.testing.assert_allclose(round_trip(tf.constant(rgb)).numpy(), rgb, atol=1e-4)
    # uint8 tensors convert too, and tf.data map functions work.
    ds = tf.data.Dataset.from_tensors(tf.constant(photos["chelsea"][:8, :8])).map(color.rgb_to_lab)
    np.testing.assert_allclose(next(iter(ds)).numpy(), expected[:8, :8], atol=2e-3)


def test_half_precision_tensor_computes_in_float32():
    x = tf.constant([[0.2, 0.5, 0.7]], dtype=tf.float16)
    lab = color.rgb_to_lab(x)
    assert lab.dtype == tf.float32
    np.testing.assert_allclose(lab.numpy(), skcolor.rgb2lab(x.numpy().astype(np.float64)), atol=2e-3)


def test_0_255_floats_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="0-255 image"):
        color.rgb_to_lab(np.array([[255.0, 128.0, 0.0]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        color.rgb_to_lab(np.array([[-0.5, 0.2, 0.1]]))
    with pytest.raises(ValueError, match="0-255 image"):
        color.rgb_to_lab(tf.constant([[200.0, 0.0, 0.0]]))


def test_small_overshoot_is_accepted():
    lab = color.rgb_to_lab(np.array([[1.01, -0.01, 0.5]], np.float32))
    assert np.isfinite(lab).all()


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        color.rgb_to_lab(np.array([[np.nan, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        color.lab_to_rgb(np.array([[50.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        color.rgb_to_lab(tf.constant([[np.nan, 0.0, 0.0]]))


def test_graph_mode_refuses_at_run_time():
    @tf.function
    def convert(x):
        return color.rgb_to_lab(x)

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 1\]"):
        convert(tf.constant([[255.0, 0.0, 0.0]]))
    assert color.rgb_to_lab(tf.constant([[255.0, 0, 0]]) / 255.0, validate=True).shape == (1, 3)


def test_ambiguous_integers_and_bad_shapes_are_refused():
    with pytest.raises(TypeError, match="ambiguous"):
        color.rgb_to_lab(np.array([[255, 0, 0]]))  # int64
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        color.rgb_to_lab(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="opencv8_to_lab"):
        color.lab_to_rgb(np.zeros((2, 3), np.uint8))


def test_lab_to_rgb_refuses_l_outside_0_100():
    with pytest.raises(ValueError, match="denormalize_l"):
        color.lab_to_rgb(np.array([[200.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="L in"):
        color.lab_to_rgb(tf.constant([[-20.0, 0.0, 0.0]]))


def test_out_of_gamut_is_clipped_or_reported():
    lab = np.array([[50.0, 0.0, 0.0], [50.0, 120.0, -120.0]])
    rgb = color.lab_to_rgb(lab)
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0
    raw = color.lab_to_rgb(lab, clip=False)
    assert raw[1].min() < 0.0 or raw[1].max() > 1.0
    assert color.in_gamut(lab).tolist() == [True, False]


def test_normalization_constants_and_inverses():
    lightness = np.array([0.0, 50.0, 100.0])
    np.testing.assert_allclose(color.normalize_l(lightness), [-0.5, 0.0, 0.5])
    np.testing.assert_allclose(color.denormalize_l(color.normalize_l(lightness)), lightness)
    np.testing.assert_allclose(color.normalize_ab(np.array([110.0, -55.0])), [1.0, -0.5])
    np.testing.assert_allclose(color.normalize_ab(np.array([128.0]), color.AB_SCALE_VGG), [1.0])
    np.testing.assert_allclose(color.denormalize_ab(np.array([0.5])), [55.0])
    lab = np.random.default_rng(2).random((3, 3))
    lightness_part, ab = color.split_lab(lab)
    assert lightness_part.shape == (3, 1) and ab.shape == (3, 2)
    np.testing.assert_array_equal(color.join_lab(lightness_part, ab), lab)


def test_opencv_conventions_in_the_readme_table(photos):
    rgb8 = photos["coffee"][::8, ::8]
    ours = color.rgb_to_lab(rgb8)
    # OpenCV 8-bit Lab: L * 255 / 100, a + 128, b + 128, rounded (OpenCV's 8-bit path uses
    # fixed-point tables, so it may differ from exact rounding by a level or two).
    lab8 = cv2.cvtColor(rgb8, cv2.COLOR_RGB2LAB)
    levels = np.abs(lab8.astype(int) - color.lab_to_opencv8(ours).astype(int))
    assert levels.max() <= 2 and levels.mean() < 0.5
    assert float(np.abs(color.opencv8_to_lab(lab8) - ours).max()) <= 2.5
    # OpenCV float Lab: float32 RGB in [0, 1] gives CIE Lab on the same scale (OpenCV
    # interpolates the sRGB curve, so values differ by a few tenths).
    lab_float = cv2.cvtColor(rgb8.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    np.testing.assert_allclose(lab_float, ours, atol=0.5)
    with pytest.raises(TypeError, match="already CIE Lab"):
        color.opencv8_to_lab(lab_float)


def test_rgb_to_lightness_is_the_l_channel_of_rgb_to_lab():
    import tensorflow as tf

    rgb = np.random.default_rng(3).random((64, 64, 3)).astype(np.float32)
    expected = color.rgb_to_lab(rgb)[..., :1]
    np.testing.assert_allclose(color.rgb_to_lightness(rgb), expected, atol=1e-4)
    np.testing.assert_allclose(color.rgb_to_lightness(tf.constant(rgb)).numpy(), expected, atol=1e-4)
    as_uint8 = (rgb * 255).round().astype(np.uint8)
    np.testing.assert_allclose(
        color.rgb_to_lightness(as_uint8), color.rgb_to_lab(as_uint8)[..., :1], atol=1e-4
    )
