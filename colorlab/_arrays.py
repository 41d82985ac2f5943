"""Internal helpers that let one function serve numpy arrays and TensorFlow tensors.

colorlab's colour and quantization functions are written once, against the small array API
that ``numpy`` and ``keras.ops`` share (``where``, ``power``, ``matmul``, ...). These helpers
decide which of the two a caller's input needs and convert results back, so that numpy in
gives numpy out and a tensor in gives a tensor out (also inside ``tf.function`` and
``tf.data`` map functions, where values cannot be inspected).
"""

from __future__ import annotations

from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np
import tensorflow as tf


def is_tensor(x: Any) -> bool:
    """True for TensorFlow tensors and variables and for symbolic Keras tensors."""
    return tf.is_tensor(x) or isinstance(x, (tf.Variable, keras.KerasTensor))


def is_symbolic(x: Any) -> bool:
    """True when the values of ``x`` cannot be read now (graph mode, Keras functional API)."""
    if isinstance(x, keras.KerasTensor):
        return True
    return tf.is_tensor(x) and not hasattr(x, "numpy")


def float_dtype_name(dtype: Any) -> str:
    """The name of the float type computations on ``dtype`` run in.

    float64 stays float64; every other type (float32, float16, bfloat16, integers converted to
    floats) computes in float32, since half precision is too coarse for colour conversion.
    """
    name = tf.as_dtype(dtype).name if not isinstance(dtype, np.dtype) else dtype.name
    return "float64" if name == "float64" else "float32"


#: Float RGB this far outside [0, 1] is clipped silently (resampling overshoot); further out
#: is refused as a likely 0-255 image.
RGB_TOLERANCE = 0.02
#: L this far outside [0, 100] is tolerated (rounding); further out is refused.
L_TOLERANCE = 0.5


# === Input checks of the colour functions ==============================================================================


def check_last_axis(x: Any, name: str, what: str) -> None:
    shape = tuple(x.shape)
    if len(shape) == 0 or (shape[-1] is not None and shape[-1] != 3):
        raise ValueError(
            f"{name} expects an array of shape (..., 3) with {what} on the last axis, "
            f"got shape {shape}."
        )


def integer_scale(dtype_name: str, name: str) -> float:
    if dtype_name == "uint8":
        return 255.0
    if dtype_name == "uint16":
        return 65535.0
    raise TypeError(
        f"{name} got RGB of type {dtype_name}, which is ambiguous. Pass uint8 (0-255), "
        "uint16 (0-65535), or floats in [0, 1] (for a 0-255 image: image / 255.0)."
    )


def check_rgb_range(lo: float, hi: float, name: str) -> None:
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{name} got NaN values in its RGB input; fix or mask them first.")
    if lo < -RGB_TOLERANCE or hi > 1.0 + RGB_TOLERANCE:
        hint = (
            " This looks like a 0-255 image: divide it by 255.0 or pass it as uint8."
            if hi > 2.0
            else ""
        )
        raise ValueError(
            f"{name} expects float RGB in [0, 1], got values from {lo:.4g} to {hi:.4g}.{hint}"
        )


def check_l_range(lo: float, hi: float, name: str) -> None:
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{name} got NaN values in its Lab input; fix or mask them first.")
    if lo < -L_TOLERANCE or hi > 100.0 + L_TOLERANCE:
        raise ValueError(
            f"{name} expects L in [0, 100], got values from {lo:.4g} to {hi:.4g}. "
            "Network-normalised L needs denormalize_l() first; OpenCV 8-bit Lab "
            "(L * 255 / 100, a + 128, b + 128) needs opencv8_to_lab() first."
        )


def tensor_range_assertions(x: Any, lo: float, hi: float, message: str) -> list:
    """Graph-mode checks: raise InvalidArgumentError at run time if ``x`` leaves [lo, hi]."""
    return [
        tf.debugging.assert_all_finite(x, message),
        tf.debugging.assert_greater_equal(x, tf.cast(lo, x.dtype), message=message),
        tf.debugging.assert_less_equal(x, tf.cast(hi, x.dtype), message=message),
    ]
