"""Internal helpers that let one function serve numpy arrays and TensorFlow tensors.

colorlab's colour and quantization functions are written once, against the small array API
that ``numpy`` and ``keras.ops`` share (``where``, ``power``, ``matmul``, ...). These helpers
decide which of the two a caller's input needs and convert results back, so that numpy in
gives numpy out and a tensor in gives a tensor out (also inside ``tf.function`` and
``tf.data`` map functions, where values cannot be inspected).
"""

from __future__ import annotations

from typing import Any

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
