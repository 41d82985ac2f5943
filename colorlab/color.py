"""sRGB <-> CIE L*a*b* conversion and the normalisation conventions of colorization networks.

A colorization network sees the lightness ``L`` of a photo and predicts its two chroma
channels ``ab``. This module converts between sRGB and CIE L*a*b* (D65 white, the sRGB
transfer curve) and holds, in one place, the constants that scale ``L`` and ``ab`` for a
network.

The conversion uses exactly the constants of ``skimage.color.rgb2lab`` (which the code of
Zhang, Isola & Efros, "Colorful Image Colorization", ECCV 2016, calls), so priors and bins
computed here match the published ones. One function serves numpy arrays (returns numpy) and
TensorFlow tensors (returns tensors, usable inside ``tf.function`` and ``tf.data`` maps, on CPU
or GPU). Tensors go through one formula written over ``keras.ops``; numpy input runs the same
formula with in-place numpy operations on cache-sized chunks across all cores (8-bit input
decoded through a 256-entry table), and the tests hold both paths to skimage.

Value ranges:

======================  =========================================================
RGB                     floats in [0, 1]; uint8 (0-255) and uint16 (0-65535)
                        are converted by dividing by 255 and 65535
L                       [0, 100]
a, b                    about [-86, 98] and [-108, 95] for sRGB colours
network input L         ``(L - 50) / 100`` in [-0.5, 0.5]   (:func:`normalize_l`)
network ab              ``ab / 110`` in about [-1, 1]       (:func:`normalize_ab`)
======================  =========================================================
"""

from __future__ import annotations

import functools
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from colorlab import _arrays
from colorlab.reference import D65_WHITE, LAB_EPSILON, LAB_SLOPE, XYZ_FROM_RGB
from colorlab._arrays import (
    L_TOLERANCE,
    RGB_TOLERANCE,
    check_l_range,
    check_last_axis,
    check_rgb_range,
    integer_scale,
    tensor_range_assertions,
)
from colorlab.speed import map_pixels, piecewise

__all__ = [
    "AB_SCALE",
    "AB_SCALE_VGG",
    "L_CENTER",
    "L_RANGE",
    "RGB_TOLERANCE",
    "denormalize_ab",
    "denormalize_l",
    "in_gamut",
    "join_lab",
    "lab_to_opencv8",
    "lab_to_rgb",
    "normalize_ab",
    "normalize_l",
    "opencv8_to_lab",
    "rgb_to_lab",
    "rgb_to_lightness",
    "split_lab",
]

# --- Colour science constants (those of skimage.color, so of the authors' code) -------------
# XYZ_FROM_RGB, D65_WHITE, LAB_EPSILON and LAB_SLOPE have one home, colorlab.reference (it
# imports only numpy, so the plain versions can use them without TensorFlow).

#: The sRGB transfer curve: linear below this encoded value, a 2.4 power above.
SRGB_ENCODED_KNEE = 0.04045
#: The same knee on the linear side.
SRGB_LINEAR_KNEE = 0.0031308
_LAB_OFFSET = 16.0 / 116.0
_F_KNEE = LAB_EPSILON ** (1.0 / 3.0)  # the exact inverse of the forward knee

# Row-vector forms: pixel (..., 3) @ matrix (3, 3).
_XYZN_FROM_LINEAR = (XYZ_FROM_RGB / D65_WHITE[:, None]).T
_LINEAR_FROM_XYZN = (np.linalg.inv(XYZ_FROM_RGB) * D65_WHITE[None, :]).T
_LAB_FROM_F = np.array([[0.0, 500.0, 0.0], [116.0, -500.0, 200.0], [0.0, 0.0, -200.0]])
_F_FROM_LAB = np.linalg.inv(_LAB_FROM_F)
_LAB_SHIFT = np.array([16.0, 0.0, 0.0])

# --- Network normalisation (Zhang et al. 2016; one place for the whole package) -------------

#: Lightness subtracted before a network sees L (the released deploy model takes L - 50).
L_CENTER = 50.0
#: Lightness divided by this after centring: network input ``(L - 50) / 100`` in [-0.5, 0.5].
L_RANGE = 100.0
#: ab divided by this for a network (Zhang et al.: output ab = 110 x the network's ab).
AB_SCALE = 110.0
#: ab scale of the VGG16 encoder-decoder of a student report (tanh output times 128).
AB_SCALE_VGG = 128.0




# === Conversion cores: written once for numpy and keras.ops ===================================


def _linear_from_srgb(rgb: Any, xp: Any) -> Any:
    """The sRGB transfer curve undone: encoded RGB in [0, 1] -> linear RGB."""
    return xp.where(
        rgb > SRGB_ENCODED_KNEE,
        _pow(xp.maximum(rgb + 0.055, 1e-10) * (1.0 / 1.055), 2.4, xp),
        rgb * (1.0 / 12.92),
    )


def _lab_f(t: Any, xp: Any) -> Any:
    """CIE Lab's f of normalised XYZ: the cube root above the knee, a line below it."""
    return xp.where(
        t > LAB_EPSILON, _cbrt(xp.maximum(t, LAB_EPSILON), xp), t * LAB_SLOPE + _LAB_OFFSET
    )


def _rgb_to_lab_core(rgb: Any, xp: Any) -> Any:
    """(N, 3) or (..., 3) float RGB in [0, 1] -> Lab, in the namespace ``xp``."""
    dtype = rgb.dtype
    xyzn = xp.matmul(_linear_from_srgb(rgb, xp), _const(_XYZN_FROM_LINEAR, dtype, xp))
    f = _lab_f(xyzn, xp)
    return xp.matmul(f, _const(_LAB_FROM_F, dtype, xp)) - _const(_LAB_SHIFT, dtype, xp)


def _lightness_core(rgb: Any, xp: Any) -> Any:
    """(..., 3) float RGB in [0, 1] -> (..., 1) L*, the first channel of ``_rgb_to_lab_core``."""
    y = xp.matmul(_linear_from_srgb(rgb, xp), _const(_XYZN_FROM_LINEAR[:, 1:2], rgb.dtype, xp))
    return _lab_f(y, xp) * 116.0 - 16.0


def _lab_to_rgb_core(lab: Any, xp: Any, clip: bool) -> Any:
    """(..., 3) Lab -> float RGB (clipped to [0, 1] when ``clip``), in the namespace ``xp``."""
    dtype = lab.dtype
    f = xp.matmul(lab + _const(_LAB_SHIFT, dtype, xp), _const(_F_FROM_LAB, dtype, xp))
    xyzn = xp.where(f > _F_KNEE, f * f * f, (f - _LAB_OFFSET) * (1.0 / LAB_SLOPE))
    linear = xp.matmul(xyzn, _const(_LINEAR_FROM_XYZN, dtype, xp))
    rgb = xp.where(
        linear > SRGB_LINEAR_KNEE,
        _pow(xp.maximum(linear, SRGB_LINEAR_KNEE), 1.0 / 2.4, xp) * 1.055 - 0.055,
        linear * 12.92,
    )
    return xp.clip(rgb, 0.0, 1.0) if clip else rgb


def _linear_from_srgb_numpy(rgb: np.ndarray) -> np.ndarray:
    """The sRGB decoding of ``_rgb_to_lab_core`` with in-place numpy operations."""
    dtype = rgb.dtype.type
    linear = rgb + dtype(0.055)
    np.maximum(linear, 0.0, out=linear)
    linear *= dtype(1.0 / 1.055)
    np.power(linear, dtype(2.4), out=linear)
    return piecewise(rgb, SRGB_ENCODED_KNEE, linear, lambda v: v * dtype(1.0 / 12.92))


def _lab_from_linear_numpy(linear: np.ndarray) -> np.ndarray:
    """Linear RGB -> Lab, the rest of ``_rgb_to_lab_core``, with in-place numpy operations."""
    dtype = linear.dtype.type
    xyzn = linear @ _XYZN_FROM_LINEAR.astype(linear.dtype)
    f = piecewise(
        xyzn, LAB_EPSILON, np.cbrt(xyzn), lambda v: v * dtype(LAB_SLOPE) + dtype(_LAB_OFFSET)
    )
    lab = f @ _LAB_FROM_F.astype(linear.dtype)
    lab[:, 0] -= dtype(16.0)
    return lab


@functools.lru_cache(maxsize=2)
def _linear_lut(levels: int) -> np.ndarray:
    """Linear RGB of every integer code 0..levels-1 (uint8 or uint16 input), float32."""
    codes = np.arange(levels, dtype=np.float64) / (levels - 1)
    return _linear_from_srgb_numpy(codes).astype(np.float32)


def _pow(x: Any, exponent: float, xp: Any) -> Any:
    """x ** exponent for positive x; for tensors as exp(exponent * log(x)), which TensorFlow
    computes three times faster than its pow (float32 results agree to a few ulp)."""
    if xp is np:
        return np.power(x, exponent)
    return xp.exp(xp.log(x) * exponent)


def _cbrt(x: Any, xp: Any) -> Any:
    """Cube root of positive x (numpy's own cbrt is several times faster than power)."""
    return np.cbrt(x) if xp is np else _pow(x, 1.0 / 3.0, xp)


def _const(value: np.ndarray, dtype: Any, xp: Any) -> Any:
    if xp is np:
        return value.astype(dtype)
    return ops.convert_to_tensor(value, dtype=dtype)


# === Public API ================================================================================


def rgb_to_lab(rgb: Any, *, validate: bool = True) -> Any:
    """Converts sRGB to CIE L*a*b* (D65 white, 2 degree observer).

    Matches ``skimage.color.rgb2lab`` to within 2e-3 in float32 over all 8-bit colours,
    and runs several times faster on numpy input (cache-sized chunks on all cores).

    Args:
        rgb: Array or tensor of shape (..., 3). Floats in [0, 1]; uint8 is divided by 255 and
            uint16 by 65535. Other integer types are refused as ambiguous. Float values up to
            ``RGB_TOLERANCE`` outside [0, 1] (resampling overshoot) are accepted.
        validate: Check the input range and NaN. On numpy and eager tensors a bad value raises
            ``ValueError``; inside ``tf.function``/``tf.data`` the check becomes a graph
            assertion (``InvalidArgumentError`` at run time). Pipelines that decode images
            themselves may pass False to skip the check.

    Returns:
        Lab with the shape of ``rgb``: L in [0, 100], a and b in about [-110, 110]. numpy in
        gives numpy out, a tensor in gives a tensor out; float64 stays float64, every other
        type gives float32.

    Raises:
        ValueError: wrong shape, NaN, or floats clearly outside [0, 1] (e.g. 0-255 floats).
        TypeError: integer types other than uint8 and uint16.

    Example:
        >>> lab = rgb_to_lab(np.array([[1.0, 0.0, 0.0]]))  # pure red
        >>> np.round(lab, 1)
        array([[53.2, 80.1, 67.2]])
    """
    name = "rgb_to_lab"
    check_last_axis(rgb, name, "R, G, B")
    if _arrays.is_tensor(rgb):
        return _rgb_to_lab_tensor(rgb, validate)
    rgb = np.asarray(rgb)
    if rgb.dtype.kind in "iub":
        scale = integer_scale(rgb.dtype.name, name)
        lut = _linear_lut(int(scale) + 1)  # decoding 256 (or 65536) codes once
        lab, _ = map_pixels(lambda c: _lab_from_linear_numpy(lut[c]), rgb, np.dtype(np.float32))
        return lab
    if rgb.dtype.kind != "f":
        raise TypeError(f"{name} expects a numeric RGB array, got dtype {rgb.dtype}.")
    dtype = np.dtype(_arrays.float_dtype_name(rgb.dtype))
    lab, value_range = map_pixels(
        lambda c: _lab_from_linear_numpy(_linear_from_srgb_numpy(c.astype(dtype, copy=False))),
        rgb,
        dtype,
        check=(lambda c: (c.min(), c.max())) if validate and rgb.size else None,
    )
    if value_range is not None:
        check_rgb_range(*value_range, name)
    return lab


def _rgb_to_lab_tensor(rgb: Any, validate: bool) -> Any:
    name = "rgb_to_lab"
    dtype = tf.as_dtype(rgb.dtype)
    if dtype.is_integer or dtype.is_bool:
        scale = integer_scale(dtype.name, name)
        return _rgb_to_lab_core(ops.cast(rgb, "float32") * (1.0 / scale), ops)
    if not dtype.is_floating:
        raise TypeError(f"{name} expects a numeric RGB tensor, got dtype {dtype.name}.")
    rgb = ops.cast(rgb, _arrays.float_dtype_name(dtype))
    if validate and not isinstance(rgb, keras.KerasTensor):
        if _arrays.is_symbolic(rgb):
            message = f"{name} expects float RGB in [0, 1] without NaN (0-255 floats?)"
            checks = tensor_range_assertions(
                rgb, -RGB_TOLERANCE, 1.0 + RGB_TOLERANCE, message
            )
            with tf.control_dependencies(checks):
                rgb = tf.identity(rgb)
        elif int(tf.size(rgb)):
            check_rgb_range(float(tf.reduce_min(rgb)), float(tf.reduce_max(rgb)), name)
            if not bool(tf.reduce_all(tf.math.is_finite(rgb))):
                raise ValueError(f"{name} got NaN values in its RGB input; fix or mask them.")
    return _rgb_to_lab_core(rgb, ops)


def rgb_to_lightness(rgb: Any) -> Any:
    """Only the L* channel of :func:`rgb_to_lab`, at a third of the cost: (..., 3) -> (..., 1).

    For pipelines that need L at full size but ab only at a few pixels (the 1/4-size targets
    of Zhang et al.). Takes float RGB in [0, 1] (or uint8), numpy or tensor, without range
    checks: validate with :func:`rgb_to_lab` where the input is not known to be good.
    """
    check_last_axis(rgb, "rgb_to_lightness", "R, G, B")
    if _arrays.is_tensor(rgb):
        dtype = tf.as_dtype(rgb.dtype)
        if dtype.is_integer:
            rgb = ops.cast(rgb, "float32") * (1.0 / integer_scale(dtype.name, "rgb_to_lightness"))
        return _lightness_core(ops.cast(rgb, _arrays.float_dtype_name(rgb.dtype)), ops)
    rgb = np.asarray(rgb)
    if rgb.dtype.kind in "iub":
        rgb = rgb.astype(np.float32) / integer_scale(rgb.dtype.name, "rgb_to_lightness")
    return _lightness_core(rgb.astype(_arrays.float_dtype_name(rgb.dtype), copy=False), np)


def lab_to_rgb(lab: Any, *, clip: bool = True, validate: bool = True) -> Any:
    """Converts CIE L*a*b* (D65) to sRGB floats, the inverse of :func:`rgb_to_lab`.

    ``lab_to_rgb(rgb_to_lab(x))`` returns ``x`` to within 1e-4 for every 8-bit colour.

    Args:
        lab: Array or tensor of shape (..., 3): L in [0, 100] (values within ``L_TOLERANCE``
            outside are accepted), then a and b. Any a and b are accepted; colours outside
            the sRGB gamut are clipped when ``clip`` is True.
        clip: Clip the result to [0, 1]. With False the raw values show which colours lie
            outside the sRGB gamut (see :func:`in_gamut`).
        validate: Check for NaN and L outside [0, 100] (``ValueError`` on numpy and eager
            tensors, a graph assertion inside ``tf.function``/``tf.data``).

    Returns:
        RGB floats of the same shape, in [0, 1] when clipped. numpy in gives numpy out, a
        tensor in gives a tensor out; float64 stays float64, other types give float32.

    Raises:
        ValueError: wrong shape, NaN, or L outside [0, 100] (such as normalised L or
            OpenCV 8-bit Lab).
    """
    name = "lab_to_rgb"
    check_last_axis(lab, name, "L, a, b")
    if _arrays.is_tensor(lab):
        dtype = tf.as_dtype(lab.dtype)
        if not dtype.is_floating:
            raise TypeError(f"{name} expects float Lab, got dtype {dtype.name}.")
        lab = ops.cast(lab, _arrays.float_dtype_name(dtype))
        if validate and not isinstance(lab, keras.KerasTensor):
            lightness = lab[..., 0]
            if _arrays.is_symbolic(lab):
                message = f"{name} expects L in [0, 100] without NaN"
                checks = tensor_range_assertions(
                    lightness, -L_TOLERANCE, 100.0 + L_TOLERANCE, message
                ) + [tf.debugging.assert_all_finite(lab, message)]
                with tf.control_dependencies(checks):
                    lab = tf.identity(lab)
            elif int(tf.size(lab)):
                if not bool(tf.reduce_all(tf.math.is_finite(lab))):
                    raise ValueError(f"{name} got NaN values in its Lab input; fix or mask them.")
                lo, hi = float(tf.reduce_min(lightness)), float(tf.reduce_max(lightness))
                check_l_range(lo, hi, name)
        return _lab_to_rgb_core(lab, ops, clip)
    lab = np.asarray(lab)
    if lab.dtype.kind not in "f":
        if lab.dtype.kind in "iu":
            raise TypeError(
                f"{name} expects float Lab, got {lab.dtype}. For OpenCV 8-bit Lab use "
                "opencv8_to_lab() first."
            )
        raise TypeError(f"{name} expects float Lab, got dtype {lab.dtype}.")
    dtype = np.dtype(_arrays.float_dtype_name(lab.dtype))
    if validate and lab.size:
        if np.isnan(np.min(lab)):
            raise ValueError(f"{name} got NaN values in its Lab input; fix or mask them first.")
        lightness = lab[..., 0]
        check_l_range(float(np.min(lightness)), float(np.max(lightness)), name)
    rgb, _ = map_pixels(
        lambda c: _lab_to_rgb_core(c.astype(dtype, copy=False), np, clip), lab, dtype
    )
    return rgb


def in_gamut(lab: Any, *, tolerance: float = 1e-4) -> Any:
    """Whether each Lab colour can be shown in sRGB.

    Args:
        lab: (..., 3) Lab, as for :func:`lab_to_rgb`.
        tolerance: Allowed excursion of the unclipped RGB outside [0, 1].

    Returns:
        Boolean array or tensor of shape (...,).
    """
    rgb = lab_to_rgb(lab, clip=False)
    inside = ops.logical_and(rgb >= -tolerance, rgb <= 1.0 + tolerance)
    result = ops.all(inside, axis=-1)
    return result if _arrays.is_tensor(lab) else ops.convert_to_numpy(result)


# === Normalisation for networks ===============================================================


def normalize_l(lightness: Any) -> Any:
    """L in [0, 100] -> network input ``(L - 50) / 100`` in [-0.5, 0.5] (Zhang et al. 2016)."""
    return (lightness - L_CENTER) / L_RANGE


def denormalize_l(x: Any) -> Any:
    """Inverse of :func:`normalize_l`: network input in [-0.5, 0.5] -> L in [0, 100]."""
    return x * L_RANGE + L_CENTER


def normalize_ab(ab: Any, scale: float = AB_SCALE) -> Any:
    """ab -> network units ``ab / scale`` (110 by default, as Zhang et al.; 128 for VGG16)."""
    return ab / scale


def denormalize_ab(x: Any, scale: float = AB_SCALE) -> Any:
    """Inverse of :func:`normalize_ab`: network ab -> Lab ab."""
    return x * scale


def split_lab(lab: Any) -> tuple[Any, Any]:
    """(..., 3) Lab -> (L of shape (..., 1), ab of shape (..., 2))."""
    return lab[..., :1], lab[..., 1:]


def join_lab(lightness: Any, ab: Any) -> Any:
    """L (..., 1) and ab (..., 2) -> Lab (..., 3); numpy in gives numpy out."""
    if _arrays.is_tensor(lightness) or _arrays.is_tensor(ab):
        return ops.concatenate([lightness, ops.cast(ab, lightness.dtype)], axis=-1)
    return np.concatenate([lightness, ab], axis=-1)


# === OpenCV's 8-bit Lab ========================================================================


def opencv8_to_lab(lab8: Any) -> np.ndarray:
    """OpenCV's 8-bit Lab (``cv2.cvtColor(uint8_rgb, cv2.COLOR_RGB2LAB)``) -> CIE Lab floats.

    OpenCV stores L * 255 / 100, a + 128 and b + 128 in uint8.

    Args:
        lab8: (..., 3) uint8 array.

    Returns:
        (..., 3) float32 Lab: L in [0, 100], a and b in [-128, 127].
    """
    lab8 = np.asarray(lab8)
    if lab8.dtype != np.uint8:
        raise TypeError(
            f"opencv8_to_lab expects OpenCV's uint8 Lab, got {lab8.dtype}. OpenCV's float Lab "
            "(from float32 RGB in [0, 1]) is already CIE Lab and needs no conversion."
        )
    lab = lab8.astype(np.float32)
    return np.stack([lab[..., 0] * (100.0 / 255.0), lab[..., 1] - 128.0, lab[..., 2] - 128.0], -1)


def lab_to_opencv8(lab: Any) -> np.ndarray:
    """CIE Lab floats -> OpenCV's 8-bit Lab (L * 255 / 100, a + 128, b + 128), rounded."""
    lab = np.asarray(lab, dtype=np.float64)
    lab8 = np.stack([lab[..., 0] * (255.0 / 100.0), lab[..., 1] + 128.0, lab[..., 2] + 128.0], -1)
    return np.clip(np.rint(lab8), 0, 255).astype(np.uint8)
