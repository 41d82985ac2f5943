"""The conditional GAN of Nazeri, Ng & Ebrahimi, *Image Colorization using Generative
Adversarial Networks* (AMDO 2018), after pix2pix (Isola et al., CVPR 2017).

The generator is a U-Net: 4 x 4 stride-2 convolutions halve the size down to a bottleneck,
transposed convolutions double it back, and each decoder step concatenates the encoder map of
its size (skip connections carry the edges the bottleneck cannot). The discriminator is a
PatchGAN: it judges overlapping patches of an (L, ab) pair as real or generated, so it
penalises wrong local colour texture and leaves the global layout to the L1 term.
"""

from __future__ import annotations

import math
from typing import Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab.models._base import (
    BuiltModel,
    check_input_shape,
    check_rate,
    check_width,
    lightness_input,
    Method,
    ab_from_regression,
    register,
    scaled,
)

__all__ = ["GAN_PRESETS", "patch_discriminator", "unet_generator"]

#: The two configurations of Nazeri et al., CIFAR-10 (32 x 32) and Places365 (256 x 256):
#: layer counts, filters, strides and decoder dropout as in the authors' released code
#: (ImagingLab/Colorizing-with-GANs, ``src/models.py``). The encoder starts with a stride-1
#: layer and stops at a 2 x 2 bottleneck. The blocks are pix2pix's: a skip is concatenated
#: after each transposed convolution, and the discriminator ends in per-patch logits where
#: the released code ends in a single dense logit.
GAN_PRESETS = {
    "cifar10": {
        "generator": {
            "down_filters": [64, 128, 256, 512, 512],
            "down_strides": [1, 2, 2, 2, 2],
            "dropout_layers": 1,
            "input_shape": [32, 32],
        },
        "discriminator": {
            "filters": [64, 128, 256, 512], "strides": [2, 2, 2, 1], "input_shape": [32, 32],
        },
    },
    "places365": {
        "generator": {
            "down_filters": [64, 64, 128, 256, 512, 512, 512, 512],
            "down_strides": [1, 2, 2, 2, 2, 2, 2, 2],
            "dropout_layers": 3,
            "input_shape": [256, 256],
        },
        "discriminator": {
            "filters": [64, 128, 256, 512, 512, 512], "strides": [2, 2, 2, 2, 2, 2],
            "input_shape": [256, 256],
        },
    },
}


def _generator_multiple(arguments: dict) -> int:
    """The U-Net's side multiple: the product of its encoder strides."""
    count = len(arguments["down_filters"])
    return math.prod(_strides(arguments["down_strides"], count, "down_strides", default=2))


def _discriminator_multiple(arguments: dict) -> int:
    """The PatchGAN's side multiple: the product of its strides (default: 2, last 1)."""
    strides = arguments["strides"]
    if strides is None:
        return 2 ** (len(arguments["filters"]) - 1)
    return math.prod(_strides(strides, len(arguments["filters"]), "strides", default=2))


def unet_generator(
    down_filters: Sequence[int] = (64, 128, 256, 512, 512),
    down_strides: Sequence[int] | None = None,
    width: float = 1.0,
    dropout: float = 0.5,
    dropout_layers: int = 3,
    input_shape: Sequence[int | None] | None = None,
    name: str = "unet_generator",
) -> BuiltModel:
    """U-Net generator: L in, ab / 110 out (tanh), same size.

    Encoder: one 4 x 4 convolution per entry of ``down_filters`` (stride 2 unless
    ``down_strides`` says otherwise), batch normalisation (not on the first) and LeakyReLU
    0.2. Decoder: 4 x 4 transposed convolutions mirroring the encoder's strides, batch
    normalisation, dropout in the first ``dropout_layers``, ReLU, each concatenated with the
    encoder map of its size; a last transposed convolution (the first layer's stride) to 2
    channels with tanh.

    Args:
        down_filters: Encoder filters; the length is the depth (5 stride-2 layers take
            32 x 32 down to 1 x 1, as in pix2pix).
        down_strides: Each encoder layer's stride, 1 or 2 (default: all 2). Nazeri et al.'s
            configurations (:data:`GAN_PRESETS`) start with a stride-1 layer.
        width: Channel multiplier.
        dropout: Dropout rate of the first decoder layers (0.5 in pix2pix; also its noise).
        dropout_layers: How many decoder layers get dropout.
        input_shape: (H, W) or (H, W, 1); None for any size. Sides must be multiples of
            the product of the strides (``2 ** len(down_filters)`` by default).
        name: Model name.

    Example:
        >>> generator = unet_generator(**GAN_PRESETS["cifar10"]["generator"])
    """
    width = check_width(width)
    dropout = check_rate(dropout)
    down_filters = [int(f) for f in down_filters]
    if len(down_filters) < 2:
        raise ValueError(f"down_filters needs at least 2 entries, got {down_filters}.")
    strides = _strides(down_strides, len(down_filters), "down_strides", default=2)
    arguments = dict(
        down_filters=down_filters, down_strides=strides, width=width, dropout=dropout,
        dropout_layers=int(dropout_layers),
        input_shape=check_input_shape(input_shape),
    )
    init = keras.initializers.RandomNormal(stddev=0.02)  # as pix2pix and DCGAN

    # === Functional Model ===
    inputs = lightness_input(input_shape, math.prod(strides))
    x, skips = inputs, []
    for i, (filters, stride) in enumerate(zip(down_filters, strides), start=1):
        x = keras.layers.Conv2D(
            scaled(filters, width), 4, strides=stride, padding="same", use_bias=i == 1,
            kernel_initializer=init, name=f"down{i}_conv",
        )(x)
        if i > 1:
            x = keras.layers.BatchNormalization(name=f"down{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        skips.append(x)
    # Decoder step i undoes encoder layer n - i + 1 and meets the skip of layer n - i.
    up = zip(reversed(down_filters[:-1]), reversed(strides[1:]), reversed(skips[:-1]))
    for i, (filters, stride, skip) in enumerate(up, start=1):
        x = keras.layers.Conv2DTranspose(
            scaled(filters, width), 4, strides=stride, padding="same", use_bias=False,
            kernel_initializer=init, name=f"up{i}_conv",
        )(x)
        x = keras.layers.BatchNormalization(name=f"up{i}_bn")(x)
        if dropout and i <= dropout_layers:
            x = keras.layers.Dropout(dropout, name=f"up{i}_dropout")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
        x = keras.layers.Concatenate(name=f"up{i}_skip")([x, skip])
    ab = keras.layers.Conv2DTranspose(
        2, 4, strides=strides[0], padding="same", activation="tanh", kernel_initializer=init,
        dtype="float32", name="ab",
    )(x)
    return BuiltModel(inputs, ab, builder="unet_generator", arguments=arguments, name=name)


def patch_discriminator(
    filters: Sequence[int] = (64, 128, 256, 512),
    strides: Sequence[int] | None = None,
    width: float = 1.0,
    input_shape: Sequence[int | None] | None = None,
    name: str = "patch_discriminator",
) -> BuiltModel:
    """PatchGAN discriminator: (L, ab) in, one real/fake logit per patch out.

    4 x 4 convolutions with LeakyReLU 0.2 (by default stride 2 for all but the last of
    ``filters``), batch normalisation on all but the first, then a 4 x 4 convolution to one
    logit per patch (train with ``BinaryCrossentropy(from_logits=True)``).

    Args:
        filters: Convolution filters (64, 128, 256, 512 in pix2pix and in Nazeri et al.'s
            CIFAR-10 configuration).
        strides: Each convolution's stride, 1 or 2 (default: 2, and 1 for the last).
        width: Channel multiplier.
        input_shape: (H, W); None for any size. Sides must be multiples of the product of
            the strides.
        name: Model name.

    Returns:
        A model from ``{"L": (B, H, W, 1), "ab": (B, H, W, 2)}`` (normalised as the
        generator's input and output) to (B, H / s, W / s, 1) logits, s the product of the
        strides.
    """
    width = check_width(width)
    filters = [int(f) for f in filters]
    if not filters:
        raise ValueError("filters needs at least one entry.")
    if strides is None:
        strides = [2] * (len(filters) - 1) + [1]
    strides = _strides(strides, len(filters), "strides", default=2)
    arguments = dict(
        filters=filters, strides=strides, width=width,
        input_shape=check_input_shape(input_shape),
    )
    init = keras.initializers.RandomNormal(stddev=0.02)
    multiple = math.prod(strides)

    # === Functional Model ===
    lightness = lightness_input(input_shape, multiple)
    shape = (None, None) if input_shape is None else tuple(input_shape)[:2]
    ab = keras.Input(shape=(*shape, 2), name="ab")
    x = keras.layers.Concatenate(name="pair")([lightness, ab])
    for i, (f, stride) in enumerate(zip(filters, strides), start=1):
        x = keras.layers.Conv2D(
            scaled(f, width), 4, strides=stride, padding="same",
            use_bias=i == 1, kernel_initializer=init, name=f"conv{i}",
        )(x)
        if i > 1:
            x = keras.layers.BatchNormalization(name=f"conv{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"conv{i}_lrelu")(x)
    logits = keras.layers.Conv2D(
        1, 4, padding="same", kernel_initializer=init, dtype="float32", name="patch_logits"
    )(x)
    return BuiltModel(
        {"L": lightness, "ab": ab}, logits, builder="patch_discriminator", arguments=arguments,
        name=name,
    )


#: The generator alone learns by L1 (as pix2pix's reconstruction term); the adversarial loop
#: is its own lesson. Adam at 2e-4 with beta_1 0.5, as pix2pix and Nazeri et al.
UNET_GENERATOR = register(Method(
    name="unet_generator", builder=unet_generator,
    paper="Nazeri, Ng & Ebrahimi 2018 (the pix2pix U-Net generator)",
    output="ab", target="ab", loss="l1", losses=("mse", "huber"),
    optimizer=dict(optimizer="adam", learning_rate=2e-4, beta_1=0.5), image_size=256,
    multiple=_generator_multiple, to_ab=ab_from_regression,
))
#: Trained only against the generator, inside the GAN's loop.
PATCH_DISCRIMINATOR = register(Method(
    name="patch_discriminator", builder=patch_discriminator,
    paper="Nazeri, Ng & Ebrahimi 2018 (the pix2pix PatchGAN)",
    output="patch", multiple=_discriminator_multiple,
))


def _strides(strides: Sequence[int] | None, count: int, name: str, default: int) -> list[int]:
    """Checks one stride (1 or 2) per layer; None gives ``default`` everywhere."""
    if strides is None:
        return [default] * count
    strides = [int(s) for s in strides]
    if len(strides) != count or any(s not in (1, 2) for s in strides):
        raise ValueError(f"{name} needs {count} entries, each 1 or 2, got {strides}.")
    return strides
