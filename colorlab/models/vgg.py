"""A VGG16 transfer-learning encoder-decoder that regresses ab (the design of a student report).

The encoder is the convolutional base of VGG16 (Simonyan & Zisserman, 2015), pretrained on
ImageNet: features that already tell sky from grass are a head start for choosing colours.
The gray input is turned into the three-channel, mean-subtracted image VGG16 was trained on
inside the model (:class:`GrayToRGB`), so callers pass L like every other colorlab model.
A decoder of upsampling and convolution blocks climbs back to full resolution; at each step
it concatenates the encoder's output of that resolution (skip connections, as in U-Net),
so edges stay sharp. The output is ab / 110 through a tanh.
"""

from __future__ import annotations

import os
from typing import Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab.models._base import (
    BuiltModel,
    check_input_shape,
    check_rate,
    check_width,
    lightness_input,
    pretrained_application,
    Method,
    ab_from_regression,
    register,
    regularizer,
    scaled,
)
from colorlab.models.layers import GrayToRGB

__all__ = ["ENCODER_PREFIX", "set_encoder_trainable", "vgg16_colorizer"]

#: Layers of a pretrained or pretrainable encoder are named with this prefix.
ENCODER_PREFIX = "encoder_"
#: VGG16's convolutional base: (filters, convolutions) per block, each block ending in a pool.
_VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def vgg16_colorizer(
    weights: str | None = "imagenet",
    freeze_encoder: bool = True,
    width: float = 1.0,
    decoder_filters: Sequence[int] = (512, 256, 128, 64, 32),
    dropout: float = 0.0,
    l1: float = 0.0,
    l2: float = 0.0,
    input_shape: Sequence[int | None] | None = None,
    name: str = "vgg16_colorizer",
) -> BuiltModel:
    """VGG16 encoder (through ``block5_pool``) + skip-connected decoder, L in, ab / 110 out.

    Args:
        weights: "imagenet" (downloaded once by ``keras.applications.VGG16`` into
            ``~/.keras/models``), a path to VGG16 notop weights, or None (random; tests and
            offline use). Pretrained weights need ``width=1``.
        freeze_encoder: Start with the encoder's layers not trainable (transfer learning);
            :func:`set_encoder_trainable` unfreezes them for fine-tuning.
        width: Channel multiplier for encoder and decoder (1: VGG16 itself).
        decoder_filters: Filters of the five decoder blocks, from 1/16 to full resolution.
        dropout: Dropout rate after each decoder block (0: none).
        l1, l2: Kernel penalties on the decoder's convolutions (the regularisation ablation).
        input_shape: (H, W) or (H, W, 1); None for any size. Sides must be multiples of 32.
        name: Model name.

    Returns:
        A model from (B, H, W, 1) ``(L - 50) / 100`` to (B, H, W, 2) ab / 110 in [-1, 1].
    """
    width = check_width(width)
    dropout = check_rate(dropout)
    if weights is not None and weights != "imagenet":
        weights = os.fspath(weights)  # a pathlib.Path is fine; the config stores a string
    if weights is not None and width != 1.0:
        raise ValueError(f"Pretrained VGG16 weights need width=1, got width={width}; for a "
                         "narrower model use random weights (weights=None; colorlab train "
                         "--weights none).")
    decoder_filters = [int(f) for f in decoder_filters]
    if len(decoder_filters) != len(_VGG16_BLOCKS):
        raise ValueError(f"decoder_filters needs 5 entries, got {decoder_filters}.")
    arguments = dict(
        weights=weights, freeze_encoder=bool(freeze_encoder), width=width,
        decoder_filters=decoder_filters, dropout=dropout, l1=float(l1), l2=float(l2),
        input_shape=check_input_shape(input_shape),
    )
    penalty = regularizer(l1, l2)

    # === Functional Model ===
    inputs = lightness_input(input_shape, 32)
    x = GrayToRGB("caffe", name="gray_to_vgg_input")(inputs)
    skips = []
    for block, (filters, convs) in enumerate(_VGG16_BLOCKS, start=1):
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(
                scaled(filters, width), 3, padding="same", activation="relu",
                name=f"{ENCODER_PREFIX}block{block}_conv{i}",
            )(x)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"{ENCODER_PREFIX}block{block}_pool")(x)
    for step, (filters, skip) in enumerate(zip(decoder_filters, reversed(skips)), start=1):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"decoder{step}_up")(x)
        x = keras.layers.Concatenate(name=f"decoder{step}_skip")([x, skip])
        for i in (1, 2):
            x = keras.layers.Conv2D(
                scaled(filters, width), 3, padding="same", activation="relu",
                kernel_regularizer=penalty, name=f"decoder{step}_conv{i}",
            )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"decoder{step}_dropout")(x)
    ab = keras.layers.Conv2D(2, 1, activation="tanh", dtype="float32", name="ab")(x)
    model = BuiltModel(inputs, ab, builder="vgg16_colorizer", arguments=arguments, name=name)
    if weights is not None:
        _load_vgg16_weights(model, weights)
    set_encoder_trainable(model, not freeze_encoder)
    return model


def set_encoder_trainable(model: keras.Model, trainable: bool) -> int:
    """Freezes (False) or unfreezes (True) the encoder layers of a colorlab model.

    Transfer learning: train the decoder with the encoder frozen, then unfreeze and fine-tune
    everything at a lower learning rate. Recompile the model after calling this.

    Returns:
        The number of layers changed (0 means the model has no ``encoder_`` layers).
    """
    layers = [layer for layer in model.layers if layer.name.startswith(ENCODER_PREFIX)]
    for layer in layers:
        layer.trainable = bool(trainable)
    if layers and getattr(model, "arguments", None) is not None and \
            "freeze_encoder" in model.arguments:
        model.arguments["freeze_encoder"] = not trainable
    return len(layers)


def _load_vgg16_weights(model: keras.Model, weights: str) -> None:
    """Copies keras.applications' VGG16 weights into the encoder, layer by layer."""
    reference = pretrained_application(
        keras.applications.VGG16, weights, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    for layer in reference.layers:
        if layer.weights:
            model.get_layer(ENCODER_PREFIX + layer.name).set_weights(layer.get_weights())


VGG16_COLORIZER = register(Method(
    name="vgg16_colorizer", builder=vgg16_colorizer,
    paper="VGG16 transfer-learning encoder-decoder (student report)",
    output="ab", target="ab", loss="mse", losses=("mse", "l1", "huber"),
    optimizer=dict(optimizer="adam", learning_rate=1e-3), image_size=224, multiple=32,
    to_ab=ab_from_regression,
))
