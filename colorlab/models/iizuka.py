"""The two-stream network of Iizuka, Simo-Serra & Ishikawa, *Let there be Color!* (SIGGRAPH 2016).

One low-level network, shared, reads the photo twice: at its own size (the local path) and as
a 224 x 224 copy (the global path). The global path ends in a 256-d summary of the scene that
a fusion layer tiles over every pixel of the mid-level map, so the local colours can depend on
what the scene is (sky is blue outdoors, not in a painting of a room). A classification head
on the global features adds the joint loss of Sec. 3.4: MSE on the colours plus
``alpha * cross-entropy`` on the scene label, alpha = 1/300.
"""

from __future__ import annotations

from typing import Any, Sequence

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
    regularizer,
    scaled,
)
from colorlab.models.layers import GlobalFusion, ResizeLike

__all__ = ["GLOBAL_SIZE", "JOINT_LOSS_ALPHA", "iizuka_two_stream", "joint_loss"]

#: The side the global path sees: the photo is resized to GLOBAL_SIZE x GLOBAL_SIZE.
GLOBAL_SIZE = 224
#: Weight of the classification loss in the joint loss (Sec. 3.4).
JOINT_LOSS_ALPHA = 1.0 / 300.0


def joint_loss(alpha: float = JOINT_LOSS_ALPHA) -> dict:
    """The joint loss of Sec. 3.4 as ``compile`` arguments: MSE on ab + alpha * cross-entropy.

    Example:
        >>> model = iizuka_two_stream(num_classes=10, width=1 / 16)
        >>> model.compile("adadelta", **joint_loss())
        >>> sorted(joint_loss()["loss_weights"].items())
        [('ab', 1.0), ('class', 0.0033333333333333335)]

    Returns:
        ``{"loss": {...}, "loss_weights": {...}}`` keyed by the model's outputs "ab" and
        "class"; the targets are those of ``make_dataset(target="ab+class")``.
    """
    return {
        "loss": {"ab": "mse",
                 "class": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        "loss_weights": {"ab": 1.0, "class": float(alpha)},
    }


def iizuka_two_stream(
    num_classes: int = 205,
    width: float = 1.0,
    global_size: int = GLOBAL_SIZE,
    batch_norm: bool = False,
    dropout: float = 0.0,
    l2: float = 0.0,
    input_shape: Sequence[int | None] | None = None,
    name: str = "iizuka_two_stream",
) -> BuiltModel:
    """Iizuka et al. (2016): normalised L in, ab and scene-class logits out.

    - low-level (shared): 3 x 3 convolutions 64 s2, 128, 128 s2, 256, 256 s2, 512;
    - mid-level: 512, 256;
    - global (on the 224 x 224 copy): 512 s2, 512, 512 s2, 512, dense 1024, 512, 256;
    - fusion: the 256-d vector tiled and concatenated, 1 x 1 convolution to 256;
    - colorization: 128, upsample x 2, 64, 64, upsample x 2, 32, then 2 with a sigmoid, at
      half the input size, upsampled to the full size;
    - classification: dense 256, then ``num_classes`` logits on the global 512-d layer.

    At the paper's configuration (205 Places classes, no normalisation) the convolution and
    dense weights and biases number 42,353,839. The sigmoid output c in [0, 1] is mapped to
    ``2c - 1`` so that, like every colorlab regressor, the model outputs ab / 110.

    Args:
        num_classes: Scene classes of the classification head (205 in the paper).
        width: Channel and unit multiplier (1: the paper).
        global_size: Side of the global path's input copy (224; smaller for a CPU).
        batch_norm: Batch normalisation after each hidden convolution (the paper has none,
            but trains better with it, as the authors' later code added).
        dropout: Dropout rate after the global dense layers (0: none).
        l2: L2 penalty on every kernel (0: none).
        input_shape: (H, W) or (H, W, 1) of the local path; None for any size. Sides must be
            multiples of 8.
        name: Model name.

    Returns:
        A model from (B, H, W, 1) ``(L - 50) / 100`` to a dict ``{"ab": (B, H, W, 2),
        "class": (B, num_classes) logits}``. Compile it with the joint loss:
        ``model.compile(optimizer, **joint_loss())``.
    """
    width = check_width(width)
    dropout = check_rate(dropout)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
    if global_size < 32 or global_size % 32:
        raise ValueError(f"global_size must be a positive multiple of 32, got {global_size}.")
    arguments = dict(
        num_classes=int(num_classes), width=width, global_size=int(global_size),
        batch_norm=bool(batch_norm), dropout=dropout, l2=float(l2),
        input_shape=check_input_shape(input_shape),
    )
    penalty = regularizer(l2=l2)

    def conv(filters, stride, name, activation="relu", kernel=3):
        # Hidden layers (ReLU) get batch normalisation before the ReLU when asked; the output
        # layer (sigmoid) never does.
        normalised = batch_norm and activation == "relu"
        layer = keras.layers.Conv2D(
            scaled(filters, width) if activation == "relu" else filters, kernel,
            strides=stride, padding="same", activation=None if normalised else activation,
            kernel_regularizer=penalty, name=name,
        )
        if not normalised:
            return [layer]
        return [layer, keras.layers.BatchNormalization(name=f"{name}_bn"),
                keras.layers.Activation("relu", name=f"{name}_relu")]

    def apply(x, layers):
        for layer in layers:
            x = layer(x)
        return x

    # === Functional Model ===
    inputs = lightness_input(input_shape, 8)
    low_level = [
        layer
        for i, (filters, stride) in enumerate(
            [(64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1)], start=1
        )
        for layer in conv(filters, stride, f"low_conv{i}")
    ]
    # Local path.
    local = apply(inputs, low_level)
    mid = apply(local, conv(512, 1, "mid_conv1") + conv(256, 1, "mid_conv2"))
    # Global path: the same low-level layers (shared weights) on a fixed-size copy.
    copy = keras.layers.Resizing(global_size, global_size, name="global_resize")(inputs)
    g = apply(copy, low_level)
    for i, stride in enumerate([2, 1, 2, 1], start=1):
        g = apply(g, conv(512, stride, f"global_conv{i}"))
    g = keras.layers.Flatten(name="global_flatten")(g)
    for units in (1024, 512):
        g = keras.layers.Dense(
            scaled(units, width), activation="relu", kernel_regularizer=penalty,
            name=f"global_dense{units}",
        )(g)
        if dropout:
            g = keras.layers.Dropout(dropout, name=f"global_dropout{units}")(g)
    global_features = g  # the 512-d layer the classification head reads
    g = keras.layers.Dense(
        scaled(256, width), activation="relu", kernel_regularizer=penalty,
        name="global_dense256",
    )(g)
    # Fusion and colorization.
    x = GlobalFusion(name="fusion_tile")([mid, g])
    x = apply(x, conv(256, 1, "fusion_conv", kernel=1))
    x = apply(x, conv(128, 1, "color_conv1"))
    x = keras.layers.UpSampling2D(2, name="color_up1")(x)
    x = apply(x, conv(64, 1, "color_conv2") + conv(64, 1, "color_conv3"))
    x = keras.layers.UpSampling2D(2, name="color_up2")(x)
    x = apply(x, conv(32, 1, "color_conv4"))
    x = apply(x, conv(2, 1, "color_output", activation="sigmoid"))
    x = keras.layers.Rescaling(2.0, offset=-1.0, dtype="float32", name="color_to_ab")(x)
    ab = ResizeLike(dtype="float32", name="ab")([x, inputs])
    # Classification head for the joint loss.
    c = keras.layers.Dense(
        scaled(256, width), activation="relu", kernel_regularizer=penalty, name="class_dense"
    )(global_features)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="class")(c)
    return BuiltModel(
        inputs, {"ab": ab, "class": logits}, builder="iizuka_two_stream", arguments=arguments,
        name=name,
    )


def _class_count(arguments: dict, photo_set: Any) -> dict:
    """Training fills in ``num_classes`` from the training photos' classes (their folders)."""
    if "num_classes" in arguments:
        return arguments
    names = getattr(photo_set, "class_names", None) or []
    return {**arguments, "num_classes": max(2, len(names))}


#: Iizuka et al. train with ADADELTA.
IIZUKA_TWO_STREAM = register(Method(
    name="iizuka_two_stream", builder=iizuka_two_stream,
    paper="Iizuka, Simo-Serra & Ishikawa, Let there be Color!, SIGGRAPH 2016",
    output="ab+class", target="ab+class", loss="joint",
    optimizer=dict(optimizer="adadelta", learning_rate=1.0), image_size=224, multiple=8,
    training_arguments=_class_count, to_ab=ab_from_regression,
))
