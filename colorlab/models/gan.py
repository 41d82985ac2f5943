"""The conditional GAN of Nazeri, Ng & Ebrahimi, *Image Colorization using Generative
Adversarial Networks* (AMDO 2018), after pix2pix (Isola et al., CVPR 2017).

The generator is a U-Net: 4 x 4 stride-2 convolutions halve the size down to a bottleneck,
transposed convolutions double it back, and each decoder step concatenates the encoder map of
its size (skip connections carry the edges the bottleneck cannot). The discriminator is a
PatchGAN: it judges overlapping patches of an (L, ab) pair as real or generated, so it
penalises wrong local colour texture and leaves the global layout to the L1 term.
"""

from __future__ import annotations

from typing import Sequence

import keras

from colorlab.models._base import (
    BuiltModel,
    check_rate,
    check_width,
    lightness_input,
    register_builder,
    scaled,
)

__all__ = ["GAN_PRESETS", "patch_discriminator", "unet_generator"]

#: The two configurations of Nazeri et al.: CIFAR-10 (32 x 32) and Places365 (256 x 256).
GAN_PRESETS = {
    "cifar10": {
        "generator": {"down_filters": [64, 128, 256, 512, 512], "input_shape": [32, 32]},
        "discriminator": {"filters": [64, 128, 256, 512], "input_shape": [32, 32]},
    },
    "places365": {
        "generator": {
            "down_filters": [64, 128, 256, 512, 512, 512, 512, 512],
            "input_shape": [256, 256],
        },
        "discriminator": {"filters": [64, 128, 256, 512], "input_shape": [256, 256]},
    },
}


@register_builder("ab")
def unet_generator(
    down_filters: Sequence[int] = (64, 128, 256, 512, 512),
    width: float = 1.0,
    dropout: float = 0.5,
    dropout_layers: int = 3,
    input_shape: Sequence[int | None] | None = None,
    name: str = "unet_generator",
) -> BuiltModel:
    """U-Net generator: L in, ab / 110 out (tanh), same size.

    Encoder: one 4 x 4 stride-2 convolution per entry of ``down_filters``, batch
    normalisation (not on the first) and LeakyReLU 0.2. Decoder: 4 x 4 stride-2 transposed
    convolutions mirroring the encoder, batch normalisation, dropout in the first
    ``dropout_layers``, ReLU, each concatenated with the encoder map of its size; a last
    transposed convolution to 2 channels with tanh.

    Args:
        down_filters: Encoder filters; the length is the depth (5 takes 32 x 32 down to
            1 x 1; :data:`GAN_PRESETS` has the Places365 depth 8).
        width: Channel multiplier.
        dropout: Dropout rate of the first decoder layers (0.5 in pix2pix; also its noise).
        dropout_layers: How many decoder layers get dropout.
        input_shape: (H, W) or (H, W, 1); None for any size. Sides must be multiples of
            ``2 ** len(down_filters)``.
        name: Model name.
    """
    width = check_width(width)
    dropout = check_rate(dropout)
    down_filters = [int(f) for f in down_filters]
    if len(down_filters) < 2:
        raise ValueError(f"down_filters needs at least 2 entries, got {down_filters}.")
    arguments = dict(
        down_filters=down_filters, width=width, dropout=dropout,
        dropout_layers=int(dropout_layers),
        input_shape=None if input_shape is None else list(input_shape),
    )
    init = keras.initializers.RandomNormal(stddev=0.02)  # as pix2pix and DCGAN

    # === Functional Model ===
    inputs = lightness_input(input_shape, 2 ** len(down_filters))
    x, skips = inputs, []
    for i, filters in enumerate(down_filters, start=1):
        x = keras.layers.Conv2D(
            scaled(filters, width), 4, strides=2, padding="same", use_bias=i == 1,
            kernel_initializer=init, name=f"down{i}_conv",
        )(x)
        if i > 1:
            x = keras.layers.BatchNormalization(name=f"down{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        skips.append(x)
    up_filters = list(reversed(down_filters[:-1]))
    for i, (filters, skip) in enumerate(zip(up_filters, reversed(skips[:-1])), start=1):
        x = keras.layers.Conv2DTranspose(
            scaled(filters, width), 4, strides=2, padding="same", use_bias=False,
            kernel_initializer=init, name=f"up{i}_conv",
        )(x)
        x = keras.layers.BatchNormalization(name=f"up{i}_bn")(x)
        if dropout and i <= dropout_layers:
            x = keras.layers.Dropout(dropout, name=f"up{i}_dropout")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
        x = keras.layers.Concatenate(name=f"up{i}_skip")([x, skip])
    ab = keras.layers.Conv2DTranspose(
        2, 4, strides=2, padding="same", activation="tanh", kernel_initializer=init, name="ab"
    )(x)
    return BuiltModel(inputs, ab, builder="unet_generator", arguments=arguments, name=name)


@register_builder("patch")
def patch_discriminator(
    filters: Sequence[int] = (64, 128, 256, 512),
    width: float = 1.0,
    input_shape: Sequence[int | None] | None = None,
    name: str = "patch_discriminator",
) -> BuiltModel:
    """PatchGAN discriminator: (L, ab) in, one real/fake logit per patch out.

    4 x 4 convolutions with LeakyReLU 0.2: stride 2 for all but the last of ``filters``,
    batch normalisation on all but the first, then a 4 x 4 convolution to one logit per
    patch (train with ``BinaryCrossentropy(from_logits=True)``).

    Args:
        filters: Convolution filters (64, 128, 256, 512 in pix2pix and Nazeri et al.).
        width: Channel multiplier.
        input_shape: (H, W); None for any size. Sides must be multiples of
            ``2 ** (len(filters) - 1)``.
        name: Model name.

    Returns:
        A model from ``{"L": (B, H, W, 1), "ab": (B, H, W, 2)}`` (normalised as the
        generator's input and output) to (B, H / 2^(n-1), W / 2^(n-1), 1) logits.
    """
    width = check_width(width)
    filters = [int(f) for f in filters]
    if not filters:
        raise ValueError("filters needs at least one entry.")
    arguments = dict(
        filters=filters, width=width,
        input_shape=None if input_shape is None else list(input_shape),
    )
    init = keras.initializers.RandomNormal(stddev=0.02)
    multiple = 2 ** (len(filters) - 1)

    # === Functional Model ===
    lightness = lightness_input(input_shape, multiple)
    shape = (None, None) if input_shape is None else tuple(input_shape)[:2]
    ab = keras.Input(shape=(*shape, 2), name="ab")
    x = keras.layers.Concatenate(name="pair")([lightness, ab])
    for i, f in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            scaled(f, width), 4, strides=2 if i < len(filters) else 1, padding="same",
            use_bias=i == 1, kernel_initializer=init, name=f"conv{i}",
        )(x)
        if i > 1:
            x = keras.layers.BatchNormalization(name=f"conv{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"conv{i}_lrelu")(x)
    logits = keras.layers.Conv2D(
        1, 4, padding="same", kernel_initializer=init, name="patch_logits"
    )(x)
    return BuiltModel(
        {"L": lightness, "ab": ab}, logits, builder="patch_discriminator", arguments=arguments,
        name=name,
    )
