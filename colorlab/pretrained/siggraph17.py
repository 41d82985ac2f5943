"""The released siggraph17 network of Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, *Real-Time
User-Guided Image Colorization with Learned Deep Priors* (SIGGRAPH 2017), layer for layer.

The official PyTorch definition (richzhang/colorization, ``colorizers/siggraph17.py``,
BSD-2) reads four channels: ``(L - 50) / 100``, the ab hints / 110 and the hint mask (zeros
for automatic colorization). There are no strided convolutions: blocks 2, 3 and 4 start
from every second pixel of the block before (``x[:, :, ::2, ::2]``, here a 1 x 1 pooling
with stride 2). Blocks 8-10 start with a ReLU; each begins from a 4 x 4 stride-2 transposed
convolution added to a 3 x 3 shortcut from blocks 3, 2 and 1; block 10 ends in LeakyReLU
0.2, and ``model_out`` (1 x 1 to 2, with bias, then tanh) gives ab / 110 at full size. The
state dict also holds ``model_class`` (a 529-class head the forward pass never uses), which
:func:`load_state_dict` leaves out.
"""

from __future__ import annotations

from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab.pretrained.convert import copy_state_dict

__all__ = ["load_state_dict", "siggraph17_network"]


def siggraph17_network(width: float = 1.0, name: str = "siggraph17_official") -> keras.Model:
    """The official siggraph17 forward pass: (B, H, W, 4) -> (B, H, W, 2) ab / 110.

    Args:
        width: Channel multiplier of the same layout (1: the released network).
        name: Model name.

    Returns:
        A functional model from (L - 50) / 100, ab hints / 110 and the hint mask, stacked on
        the last axis; H and W must be multiples of 8.
    """
    def channels(n: int) -> int:
        return max(1, int(round(n * width)))

    def convs(x: Any, block: int, filters: int, count: int, dilation: int = 1,
              first: int = 0, activation: str | None = "relu") -> Any:
        for i in range(count):
            x = keras.layers.Conv2D(channels(filters), 3, padding="same",
                                    dilation_rate=dilation, activation=activation,
                                    name=f"model{block}_{first + 2 * i}")(x)
        return x

    def every_second_pixel(x: Any, block: int) -> Any:
        return keras.layers.AveragePooling2D(1, strides=2, name=f"model{block}_subsample")(x)

    def norm(x: Any, name: str) -> Any:
        return keras.layers.BatchNormalization(epsilon=1e-5, name=name)(x)

    inputs = keras.Input((None, None, 4), name="L_hints_mask")
    conv1 = norm(convs(inputs, 1, 64, 2), "model1_4")
    conv2 = norm(convs(every_second_pixel(conv1, 2), 2, 128, 2), "model2_4")
    conv3 = norm(convs(every_second_pixel(conv2, 3), 3, 256, 3), "model3_6")
    x = norm(convs(every_second_pixel(conv3, 4), 4, 512, 3), "model4_6")
    x = norm(convs(x, 5, 512, 3, dilation=2), "model5_6")
    x = norm(convs(x, 6, 512, 3, dilation=2), "model6_6")
    x = norm(convs(x, 7, 512, 3), "model7_6")
    for block, filters, shortcut, source, count in ((8, 256, "model3short8", conv3, 2),
                                                    (9, 128, "model2short9", conv2, 1),
                                                    (10, 128, "model1short10", conv1, 1)):
        up = keras.layers.Conv2DTranspose(channels(filters), 4, strides=2, padding="same",
                                          name=f"model{block}up_0")(x)
        short = keras.layers.Conv2D(channels(filters), 3, padding="same",
                                    name=f"{shortcut}_0")(source)
        x = keras.layers.Add(name=f"model{block}_sum")([up, short])
        x = keras.layers.ReLU(name=f"model{block}_0")(x)
        # Block 10's convolution is followed by LeakyReLU 0.2 alone, the others' by a ReLU.
        x = convs(x, block, filters, count, first=1, activation=None if block == 10 else "relu")
        if block < 10:
            x = norm(x, f"model{block}_{1 + 2 * count}")
    x = keras.layers.LeakyReLU(negative_slope=0.2, name="model10_2")(x)
    ab = keras.layers.Conv2D(2, 1, activation="tanh", dtype="float32", name="model_out_0")(x)
    return keras.Model(inputs, ab, name=name)


def load_state_dict(model: keras.Model, state: dict[str, Any]) -> None:
    """Copies an official siggraph17 state dict into :func:`siggraph17_network` (the unused
    ``model_class`` head left out).

    Raises:
        ValueError: keys missing or left over, or a tensor of the wrong shape (each listed).
    """
    copy_state_dict(model, state, "siggraph17", ignore=("model_class.",))
