"""A ResNet encoder with the convolution-and-upsampling head of the course slides.

The variant two student reports propose: residual blocks (He et al., CVPR 2016) let the
encoder go deeper than a plain stack without the gradient fading, and a pretrained ResNet
brings ImageNet features as VGG16 does. The head: a 4 x 4 transposed convolution (stride 2)
to 128 channels, 3 x 3 convolutions 128, 64, 64, 32 and 2 (tanh), then bilinear upsampling
to the input size.
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
from colorlab.models.layers import GrayToRGB, ResizeLike
from colorlab.models.vgg import ENCODER_PREFIX, set_encoder_trainable

__all__ = ["resnet_colorizer"]

#: The pretrained encoder's feature layer: conv3's output, 1/16 of the input, 512 channels.
_RESNET50V2_FEATURES = "conv3_block4_out"


def _encoder_stride(arguments: dict) -> int:
    """The encoder's stride: 16 for ResNet50V2's features, 2 ** (stages + 1) when built."""
    if arguments["encoder"] == "resnet50v2":
        return 16
    return 2 ** (len(arguments["stackwise_num_filters"]) + 1)


def resnet_colorizer(
    encoder: str = "resnet18",
    weights: str | None = None,
    freeze_encoder: bool = False,
    width: float = 1.0,
    stackwise_num_filters: Sequence[int] = (64, 128, 256),
    stackwise_num_blocks: Sequence[int] = (2, 2, 2),
    head_filters: Sequence[int] = (128, 128, 64, 64, 32),
    dropout: float = 0.0,
    l2: float = 0.0,
    input_shape: Sequence[int | None] | None = None,
    name: str = "resnet_colorizer",
) -> BuiltModel:
    """ResNet encoder + transposed-convolution head: L in, ab / 110 out at full size.

    Args:
        encoder: "resnet18": a ResNet-18-style stack built here (7 x 7 stem, max pool, then
            basic residual blocks; the first three stages by default, 1/16 resolution), for
            training from scratch at any ``width``. "resnet50v2": ``keras.applications``
            ResNet50V2 up to ``conv3_block4_out`` (also 1/16), for transfer learning.
        weights: For "resnet50v2": "imagenet", a weights path, or None.
        freeze_encoder: Start with the encoder not trainable (see
            :func:`colorlab.models.set_encoder_trainable`). Meant for pretrained weights;
            with a random encoder it makes the "random features" baseline.
        width: Channel multiplier of the built encoder and of the head.
        stackwise_num_filters, stackwise_num_blocks: The built encoder's stages; each stage
            after the first halves the resolution. ``(64, 128, 256, 512)`` and
            ``(2, 2, 2, 2)`` give the full ResNet-18 (1/32).
        head_filters: The transposed convolution's filters, then the 3 x 3 convolutions'.
        dropout: Spatial dropout rate after each residual stage (0: none).
        l2: L2 penalty on every kernel of the built encoder and the head.
        input_shape: (H, W) or (H, W, 1); None for any size. Sides must be multiples of the
            encoder's stride (16 by default).
        name: Model name.

    Returns:
        A model from (B, H, W, 1) ``(L - 50) / 100`` to (B, H, W, 2) ab / 110 in [-1, 1].
    """
    width = check_width(width)
    dropout = check_rate(dropout)
    if encoder not in ("resnet18", "resnet50v2"):
        raise ValueError(f"encoder must be 'resnet18' or 'resnet50v2', got {encoder!r}.")
    if weights is not None and weights != "imagenet":
        weights = os.fspath(weights)  # a pathlib.Path is fine; the config stores a string
    if weights is not None and encoder != "resnet50v2":
        raise ValueError("Pretrained weights are available for encoder='resnet50v2' only.")
    filters_list = [int(f) for f in stackwise_num_filters]
    blocks_list = [int(b) for b in stackwise_num_blocks]
    if len(filters_list) != len(blocks_list) or not filters_list:
        raise ValueError("stackwise_num_filters and stackwise_num_blocks need the same length.")
    head_filters = [int(f) for f in head_filters]
    arguments = dict(
        encoder=encoder, weights=weights, freeze_encoder=bool(freeze_encoder), width=width,
        stackwise_num_filters=filters_list, stackwise_num_blocks=blocks_list,
        head_filters=head_filters, dropout=dropout, l2=float(l2),
        input_shape=check_input_shape(input_shape),
    )
    penalty = regularizer(l2=l2)
    stride = _encoder_stride(arguments)

    # === Functional Model ===
    inputs = lightness_input(input_shape, stride)
    if encoder == "resnet50v2":
        base = pretrained_application(
            keras.applications.ResNet50V2, weights,
            "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        )
        features = keras.Model(
            base.inputs, base.get_layer(_RESNET50V2_FEATURES).output,
            name=f"{ENCODER_PREFIX}resnet50v2",
        )
        x = features(GrayToRGB("tf", name="gray_to_resnet_input")(inputs))
    else:
        x = _resnet_encoder(inputs, filters_list, blocks_list, width, dropout, penalty)

    x = keras.layers.Conv2DTranspose(
        scaled(head_filters[0], width), 4, strides=2, padding="same", activation="relu",
        kernel_regularizer=penalty, name="head_upconv",
    )(x)
    for i, filters in enumerate(head_filters[1:], start=1):
        x = keras.layers.Conv2D(
            scaled(filters, width), 3, padding="same", kernel_regularizer=penalty,
            name=f"head_conv{i}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"head_conv{i}_bn")(x)
        x = keras.layers.Activation("relu", name=f"head_conv{i}_relu")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="tanh", dtype="float32",
                            name="head_ab")(x)
    ab = ResizeLike(dtype="float32", name="ab")([x, inputs])
    model = BuiltModel(inputs, ab, builder="resnet_colorizer", arguments=arguments, name=name)
    set_encoder_trainable(model, not freeze_encoder)
    return model


def _resnet_encoder(inputs, filters_list, blocks_list, width, dropout, penalty):
    """ResNet-18-style stages of basic blocks (two 3 x 3 convolutions and a shortcut)."""

    def conv_bn(x, filters, kernel, stride, name, relu=True):
        x = keras.layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=False,
            kernel_regularizer=penalty, name=f"{name}_conv",
        )(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x

    p = ENCODER_PREFIX
    x = conv_bn(inputs, scaled(64, width), 7, 2, f"{p}stem")
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{p}stem_pool")(x)
    for stage, (filters, blocks) in enumerate(zip(filters_list, blocks_list), start=1):
        filters = scaled(filters, width)
        for block in range(1, blocks + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            name = f"{p}stage{stage}_block{block}"
            shortcut = x
            if stride != 1 or x.shape[-1] != filters:
                shortcut = conv_bn(x, filters, 1, stride, f"{name}_shortcut", relu=False)
            y = conv_bn(x, filters, 3, stride, f"{name}_1")
            y = conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
            x = keras.layers.Add(name=f"{name}_add")([shortcut, y])
            x = keras.layers.Activation("relu", name=f"{name}_out")(x)
        if dropout:
            x = keras.layers.SpatialDropout2D(dropout, name=f"{p}stage{stage}_dropout")(x)
    return x


RESNET_COLORIZER = register(Method(
    name="resnet_colorizer", builder=resnet_colorizer,
    paper="ResNet encoder + transposed-convolution head (student reports)",
    output="ab", target="ab", loss="mse", losses=("mse", "l1", "huber"),
    optimizer=dict(optimizer="adam", learning_rate=1e-3), image_size=176,
    multiple=_encoder_stride, to_ab=ab_from_regression,
))
