"""The few layers the colorization models need beyond Keras's own, registered for ``.keras``.

- :class:`GrayToRGB`: normalised L -> the three-channel input a pretrained encoder expects.
- :class:`GlobalFusion`: Iizuka et al.'s fusion of a global feature vector into a local map.
- :class:`ResizeLike`: bilinear resize of one tensor to the height and width of another.
- :class:`AnnealedMeanDecode`: Zhang et al.'s bin logits -> ab at the input resolution.
"""

from __future__ import annotations

from typing import Any, Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from colorlab import color
from colorlab.quantize import ColorBins

__all__ = ["AnnealedMeanDecode", "GlobalFusion", "GrayToRGB", "ResizeLike"]

#: Per-channel means (B, G, R, in 0-255) the "caffe" ImageNet models subtract (VGG16).
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="colorlab")
class GrayToRGB(keras.layers.Layer):
    """Normalised L -> the gray photo as a pretrained ImageNet encoder expects it.

    L is turned back into the sRGB gray it came from (exactly: ``lab_to_rgb([L, 0, 0])``, not
    ``L / 100``), replicated to three channels, then preprocessed as the encoder was trained:

    - "caffe" (VGG16, ResNet50): 0-255 BGR minus the ImageNet channel means;
    - "tf" (ResNet50V2, MobileNet): scaled to [-1, 1];
    - "none": gray in [0, 1].

    Input (B, H, W, 1) ``(L - 50) / 100``; output (B, H, W, 3) float32.
    """

    def __init__(self, mode: str = "caffe", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in ("caffe", "tf", "none"):
            raise ValueError(f"mode must be 'caffe', 'tf' or 'none', got {mode!r}.")
        self.mode = mode

    def call(self, x: Any) -> Any:
        lightness = ops.clip(color.denormalize_l(ops.cast(x, "float32")), 0.0, 100.0)
        # CIE L* -> relative luminance Y -> sRGB gamma: the gray of a colourless pixel.
        fy = (lightness + 16.0) / 116.0
        y = ops.where(lightness > 8.0, fy * fy * fy, lightness / 903.2963)
        gray = ops.where(
            y > 0.0031308,
            1.055 * ops.exp(ops.log(ops.maximum(y, 0.0031308)) / 2.4) - 0.055,
            12.92 * y,
        )
        rgb = ops.concatenate([gray, gray, gray], axis=-1)
        if self.mode == "caffe":
            return rgb * 255.0 - ops.convert_to_tensor(np.array(_CAFFE_BGR_MEAN, "float32"))
        if self.mode == "tf":
            return rgb * 2.0 - 1.0
        return rgb

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        return (*input_shape[:-1], 3)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="colorlab")
class GlobalFusion(keras.layers.Layer):
    """Tiles a global feature vector over a local feature map and concatenates the two.

    The fusion layer of Iizuka, Simo-Serra & Ishikawa, *Let there be Color!* (SIGGRAPH 2016,
    Sec. 3.2): every pixel of the mid-level map gets the same 256-d summary of the whole
    image, so the colours chosen locally can depend on what the scene is.

    Inputs ``[local (B, h, w, C), global (B, D)]``; output (B, h, w, C + D). The 1 x 1
    convolution that follows in the paper is a separate ``Conv2D``.
    """

    def call(self, inputs: Sequence[Any]) -> Any:
        local, global_ = inputs
        shape = ops.shape(local)
        tiled = ops.broadcast_to(
            global_[:, None, None, :], (shape[0], shape[1], shape[2], ops.shape(global_)[-1])
        )
        return ops.concatenate([local, ops.cast(tiled, local.dtype)], axis=-1)

    def compute_output_shape(self, input_shapes: Sequence) -> tuple:
        local, global_ = input_shapes
        channels = None if local[-1] is None or global_[-1] is None else local[-1] + global_[-1]
        return (*local[:-1], channels)


@keras.saving.register_keras_serializable(package="colorlab")
class ResizeLike(keras.layers.Layer):
    """Resizes ``x`` bilinearly to the height and width of ``reference``.

    For models that accept any input size: their coarse output is brought back to the size
    of the input photo whatever it is. Inputs ``[x (B, h, w, C), reference (B, H, W, ...)]``;
    output (B, H, W, C).
    """

    def call(self, inputs: Sequence[Any]) -> Any:
        x, reference = inputs
        size = tf.shape(reference)[1:3]
        return tf.cast(tf.image.resize(x, size, method="bilinear"), x.dtype)

    def compute_output_shape(self, input_shapes: Sequence) -> tuple:
        x, reference = input_shapes
        return (x[0], reference[1], reference[2], x[-1])


@keras.saving.register_keras_serializable(package="colorlab")
class AnnealedMeanDecode(keras.layers.Layer):
    """Bin logits -> ab at the input resolution (Zhang, Isola & Efros, ECCV 2016, Eq. 5).

    The annealed mean ``sum_q softmax(z / T)_q * center_q`` of each pixel's logits (T = 0.38
    in the paper: between the mean's dull colours and the mode's patchy ones), upsampled
    bilinearly to the size of the L input, as the authors' demo does.

    Inputs ``[logits (B, h, w, Q), L (B, H, W, 1)]``; output (B, H, W, 2) ab / ``ab_scale``
    (the normalised ab every colorlab regression model outputs).

    Args:
        bins: The :class:`ColorBins` the logits are over (default: Zhang's 313).
        temperature: T >= 0 (1: the mean, 0: the mode).
        ab_scale: Output is ab / ab_scale (110 by default).
    """

    def __init__(
        self,
        bins: ColorBins | dict | None = None,
        temperature: float = 0.38,
        ab_scale: float = color.AB_SCALE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(bins, dict):
            bins = ColorBins.from_config(bins)
        self.bins = bins if bins is not None else ColorBins.zhang313()
        if not float(temperature) >= 0:
            raise ValueError(
                f"temperature must be >= 0 (0.38 in the paper, 0 for the mode), got {temperature}."
            )
        self.temperature = float(temperature)
        self.ab_scale = float(ab_scale)

    def call(self, inputs: Sequence[Any]) -> Any:
        logits, lightness = inputs
        ab = self.bins.decode(logits, self.temperature, from_logits=True) / self.ab_scale
        size = tf.shape(lightness)[1:3]
        return tf.image.resize(ab, size, method="bilinear")

    def compute_output_shape(self, input_shapes: Sequence) -> tuple:
        logits, lightness = input_shapes
        return (logits[0], lightness[1], lightness[2], 2)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "bins": self.bins.get_config(),
            "temperature": self.temperature,
            "ab_scale": self.ab_scale,
        }
