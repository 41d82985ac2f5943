"""The user-guided network of Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, *Real-Time
User-Guided Image Colorization with Learned Deep Priors* (SIGGRAPH 2017).

The released PyTorch definition (richzhang/colorization, ``colorizers/siggraph17.py``,
BSD-2) reads four channels: ``(L - 50) / 100``, the user's ab hints / 110 and the hint
mask (1 where a hint is, 0 elsewhere; all zeros for automatic colorization). There are no
strided convolutions: blocks 2, 3 and 4 start from every second pixel of the block before
(``x[:, :, ::2, ::2]``, here a 1 x 1 pooling with stride 2). Blocks 8-10 start with a
ReLU; each begins from a 4 x 4 stride-2 transposed convolution added to a 3 x 3 shortcut
from blocks 3, 2 and 1 (a U-Net); block 10 ends in LeakyReLU 0.2, and ``model_out`` (1 x 1
to 2, with bias, then tanh) gives ab / 110 at the input's full size.

:func:`zhang_siggraph17` wraps that four-channel network (the layer ``hint_network``,
layers named after the state dict's keys) into a colorizer of L alone, hints all zero, so
colorize, evaluate and training use it like any model; :func:`with_hints` runs the same
layers with hints (``colorize(model, photo, hints=[(row, col, colour)])``). The state dict
also holds ``model_class`` (a 529-class head the forward pass never uses), left out.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab.models._base import (
    BuiltModel,
    Method,
    ab_from_regression,
    check_input_shape,
    check_width,
    lightness_input,
    register,
    scaled,
)
from colorlab.pretrained.convert import copy_state_dict
from colorlab.pretrained.presets import Preset

__all__ = ["SIGGRAPH17_RELEASE", "WithoutHints", "hint_network", "release_from_state_dict",
           "with_hints", "zhang_siggraph17"]


@keras.saving.register_keras_serializable(package="colorlab")
class WithoutHints(keras.layers.Layer):
    """(B, H, W, 1) normalised L -> (B, H, W, 4): L, then zero ab hints and a zero mask."""

    def call(self, lightness: Any) -> Any:
        zeros = keras.ops.zeros_like(lightness)
        return keras.ops.concatenate([lightness, zeros, zeros, zeros], axis=-1)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        return (*input_shape[:-1], 4)


def hint_network(width: float = 1.0, name: str = "hint_network") -> keras.Model:
    """The released four-channel network: (B, H, W, 4) -> (B, H, W, 2) ab / 110.

    Args:
        width: Channel multiplier of the same layout (1: the released network).
        name: Model name.

    Returns:
        A functional model from (L - 50) / 100, ab hints / 110 and the hint mask stacked on
        the last axis; H and W must be multiples of 8.
    """
    def convs(x: Any, block: int, filters: int, count: int, dilation: int = 1,
              first: int = 0, activation: str | None = "relu") -> Any:
        for i in range(count):
            x = keras.layers.Conv2D(scaled(filters, width), 3, padding="same",
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
        up = keras.layers.Conv2DTranspose(scaled(filters, width), 4, strides=2,
                                          padding="same", name=f"model{block}up_0")(x)
        short = keras.layers.Conv2D(scaled(filters, width), 3, padding="same",
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


def zhang_siggraph17(width: float = 1.0, input_shape: Sequence[int | None] | None = None,
                     name: str = "zhang_siggraph17") -> BuiltModel:
    """Zhang et al. (SIGGRAPH 2017) as an automatic colorizer: normalised L -> ab / 110.

    At width 1: 34,051,074 weights (the release's, less its unused class head).

    Args:
        width: Channel multiplier (1: the paper's network).
        input_shape: (H, W) or (H, W, 1); None for any size. Sides must be multiples of 8.
        name: Model name.

    Returns:
        A model from (B, H, W, 1) ``(L - 50) / 100`` to (B, H, W, 2) ab / 110; its layer
        ``hint_network`` takes hints too (:func:`with_hints`).

    Example:
        >>> model = zhang_siggraph17(width=0.0625)
        >>> model(keras.ops.zeros((1, 32, 48, 1))).shape
        TensorShape([1, 32, 48, 2])
    """
    width = check_width(width)
    arguments = dict(width=width, input_shape=check_input_shape(input_shape))
    inputs = lightness_input(input_shape, 8)
    four = WithoutHints(name="without_hints")(inputs)
    ab = hint_network(width)(four)
    return BuiltModel(inputs, ab, builder="zhang_siggraph17", arguments=arguments, name=name)


def with_hints(model: keras.Model, lightness: Any, hints_ab: Any, mask: Any) -> Any:
    """The model's output with colour hints (the paper's user-guided mode).

    Args:
        model: A :func:`zhang_siggraph17` model.
        lightness: (B, H, W, 1) normalised L.
        hints_ab: (B, H, W, 2) the hints' ab / 110 (0 where there is none).
        mask: (B, H, W, 1) 1 where a hint is, else 0.

    Returns:
        (B, H, W, 2) ab / 110.
    """
    stacked = keras.ops.concatenate([keras.ops.convert_to_tensor(v, "float32")
                                     for v in (lightness, hints_ab, mask)], axis=-1)
    return model.get_layer("hint_network")(stacked, training=False)


def release_from_state_dict(state: dict[str, Any]) -> BuiltModel:
    """The released siggraph17 weights (numpy arrays by PyTorch key) as
    :func:`zhang_siggraph17`, at the state dict's width.

    Raises:
        ValueError: not a siggraph17 state dict: missing, left-over and mis-shaped keys.
    """
    first = state.get("model1.0.weight")
    if first is None or len(getattr(first, "shape", ())) != 4 or first.shape[1] != 4:
        raise ValueError("This is not a siggraph17 state dict: its first convolution "
                         "(model1.0.weight) does not read 4 channels (L, ab hints, mask).")
    model = zhang_siggraph17(width=first.shape[0] / 64)
    copy_state_dict(model.get_layer("hint_network"), state, "siggraph17",
                    ignore=("model_class.",))
    return model


SIGGRAPH17_RELEASE = Preset(
    name="zhang_siggraph17", method="zhang_siggraph17",
    paper="Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, Real-Time User-Guided Image "
          "Colorization with Learned Deep Priors, SIGGRAPH 2017",
    url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
    filename="siggraph17-df00044c.pth", size=136_787_426,
    sha256="df00044c0a4d7c3edcecf6f75437ce346a66e7a42612d9b968e1a7e17dbc6f66",
    licence="BSD-2-Clause, richzhang/colorization",
    convert=release_from_state_dict,
    network=functools.partial(zhang_siggraph17),
)

#: Trained here, it learns the automatic mode (no hints) by ab regression, with the
#: paper's solver (Adam, lr 1e-5, betas 0.9/0.99) and a Huber loss in place of its
#: smooth-L1; the released weights were trained with random hints as well.
ZHANG_SIGGRAPH17 = register(Method(
    name="zhang_siggraph17", builder=zhang_siggraph17,
    paper="Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, Real-Time User-Guided Image "
          "Colorization with Learned Deep Priors, SIGGRAPH 2017",
    output="ab", target="ab", loss="huber", losses=("mse", "l1"),
    optimizer=dict(optimizer="adam", learning_rate=1e-5, beta_1=0.9, beta_2=0.99),
    image_size=176, multiple=8, to_ab=ab_from_regression,
    presets={"zhang_siggraph17": SIGGRAPH17_RELEASE}, with_hints=with_hints,
))
