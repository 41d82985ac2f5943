"""The released eccv16 network of Zhang, Isola & Efros (ECCV 2016), layer for layer in Keras.

The official PyTorch definition (richzhang/colorization, ``colorizers/eccv16.py``, BSD-2):
eight blocks ``model1`` ... ``model8`` of 3 x 3 convolutions with ReLU and a batch norm
(affine, eps 1e-5) closing blocks 1-7; then a 1 x 1 convolution to 313 logits, a plain
softmax, ``model_out`` (1 x 1, 313 -> 2, no bias: the bin centres) and a bilinear x 4
upsampling with half-pixel centres. Input ``(L - 50) / 100``, output ab / 110.

Two details decide whether Keras computes the same numbers:

- the stride-2 convolutions (``model1.2``, ``model2.2``, ``model3.4``) pad one pixel on every
  side; Keras ``padding="same"`` with stride 2 pads only bottom and right, which shifts the
  grid by a pixel, so they are an explicit ``ZeroPadding2D(1)`` and a "valid" convolution;
- ``model8.0`` is a 4 x 4 stride-2 transposed convolution with padding 1, which Keras's
  "same" transposed convolution matches; PyTorch stores its kernel (in, out, kh, kw).

Layers are named after the state dict's keys (``model1.0`` -> ``model1_0``), so
:func:`load_state_dict` is a name-for-name copy.
"""

from __future__ import annotations

from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab.pretrained.convert import copy_state_dict

__all__ = ["ECCV16_BLOCKS", "eccv16_network", "load_state_dict"]

#: (block, filters, convolutions, stride of the last one, dilation) of blocks 1-7.
ECCV16_BLOCKS = ((1, 64, 2, 2, 1), (2, 128, 2, 2, 1), (3, 256, 3, 2, 1), (4, 512, 3, 1, 1),
                 (5, 512, 3, 1, 2), (6, 512, 3, 1, 2), (7, 512, 3, 1, 1))


def eccv16_network(width: float = 1.0, num_bins: int = 313,
                   name: str = "eccv16_official") -> keras.Model:
    """The official eccv16 forward pass: (B, H, W, 1) normalised L -> (B, H, W, 2) ab / 110.

    Args:
        width: Channel multiplier of the same layout (1: the released network; smaller
            ones make tiny copies for tests).
        num_bins: Q, 313 in the release.
        name: Model name.

    Returns:
        A functional model; its layer ``logits`` gives the (B, H/4, W/4, Q) bin logits.
        H and W must be multiples of 8.
    """
    def channels(n: int) -> int:
        return max(1, int(round(n * width)))

    inputs = keras.Input((None, None, 1), name="L")
    x = inputs
    for block, filters, count, last_stride, dilation in ECCV16_BLOCKS:
        for i in range(count):
            stride = last_stride if i == count - 1 else 1
            layer = f"model{block}_{2 * i}"
            if stride == 2:  # PyTorch pads one pixel on every side; Keras "same" would not
                x = keras.layers.ZeroPadding2D(1, name=f"{layer}_pad")(x)
            x = keras.layers.Conv2D(
                channels(filters), 3, strides=stride, dilation_rate=dilation,
                padding="valid" if stride == 2 else "same", activation="relu", name=layer,
            )(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"model{block}_{2 * count}")(x)
    x = keras.layers.Conv2DTranspose(channels(256), 4, strides=2, padding="same",
                                     activation="relu", name="model8_0")(x)
    for index in (2, 4):
        x = keras.layers.Conv2D(channels(256), 3, padding="same", activation="relu",
                                name=f"model8_{index}")(x)
    logits = keras.layers.Conv2D(num_bins, 1, dtype="float32", name="logits")(x)
    probabilities = keras.layers.Softmax(axis=-1, dtype="float32", name="softmax")(logits)
    ab = keras.layers.Conv2D(2, 1, use_bias=False, dtype="float32", name="model_out")(
        probabilities)
    ab = keras.layers.UpSampling2D(4, interpolation="bilinear", dtype="float32",
                                   name="upsample4")(ab)
    return keras.Model(inputs, ab, name=name)


def load_state_dict(model: keras.Model, state: dict[str, Any]) -> None:
    """Copies an official eccv16 state dict (numpy arrays, e.g. from
    :func:`colorlab.pretrained.torch_files.read_state_dict`) into :func:`eccv16_network`.

    Raises:
        ValueError: keys missing or left over, or a tensor of the wrong shape (each listed).
    """
    copy_state_dict(model, state, "eccv16", renames={"model8_6": "logits"})
