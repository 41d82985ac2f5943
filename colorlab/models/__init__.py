"""Keras model builders for the colorization methods colorlab compares.

Every builder returns a functional model (:class:`BuiltModel`) from normalised L,
``(L - 50) / 100`` of shape (B, H, W, 1), that

- takes a ``width`` channel multiplier: 1 is the paper's model for a GPU, 1/8 a tiny one that
  trains on a laptop CPU and in CI;
- takes any input size (a multiple of the model's stride) unless ``input_shape`` fixes it;
- names its layers deterministically, and returns every builder argument from
  ``get_config()``, so ``model.save("m.keras")`` and
  ``keras.models.load_model("m.keras", safe_mode=True)`` round-trip.

=========================  ==================================================  ===========
builder                    paper or source                                     output
=========================  ==================================================  ===========
:func:`zhang_eccv16`       Zhang, Isola & Efros, ECCV 2016                     bin logits
:func:`vgg16_colorizer`    VGG16 transfer encoder-decoder (student report)     ab
:func:`iizuka_two_stream`  Iizuka, Simo-Serra & Ishikawa, SIGGRAPH 2016        ab + class
:func:`resnet_colorizer`   ResNet encoder + slides' head (student reports)     ab
:func:`unet_generator`     Nazeri, Ng & Ebrahimi 2018 (pix2pix U-Net)          ab
:func:`patch_discriminator` Nazeri et al. 2018 (PatchGAN)                      patch logits
=========================  ==================================================  ===========

"ab" outputs are ab / 110 in [-1, 1], the ``"ab"`` target of :func:`colorlab.data.make_dataset`.
:func:`build` makes any of them by name; :func:`summary_table` compares them.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from colorlab.models._base import BUILDERS, OUTPUT_KINDS, BuiltModel
from colorlab.models.gan import GAN_PRESETS, patch_discriminator, unet_generator
from colorlab.models.iizuka import GLOBAL_SIZE, JOINT_LOSS_ALPHA, iizuka_two_stream
from colorlab.models.layers import AnnealedMeanDecode, GlobalFusion, GrayToRGB, ResizeLike
from colorlab.models.resnet import resnet_colorizer
from colorlab.models.vgg import set_encoder_trainable, vgg16_colorizer
from colorlab.models.zhang import zhang_eccv16, zhang_inference_model

__all__ = [
    "AnnealedMeanDecode",
    "BUILDERS",
    "BuiltModel",
    "GAN_PRESETS",
    "GLOBAL_SIZE",
    "GlobalFusion",
    "GrayToRGB",
    "JOINT_LOSS_ALPHA",
    "OUTPUT_KINDS",
    "ResizeLike",
    "build",
    "count_flops",
    "count_params",
    "iizuka_two_stream",
    "names",
    "patch_discriminator",
    "resnet_colorizer",
    "set_encoder_trainable",
    "summary_table",
    "unet_generator",
    "vgg16_colorizer",
    "zhang_eccv16",
    "zhang_inference_model",
]


#: The models in the order the course meets them.
_ORDER = ("zhang_eccv16", "vgg16_colorizer", "iizuka_two_stream", "resnet_colorizer",
          "unet_generator", "patch_discriminator")


def names() -> list[str]:
    """The registered builders' names, in the order of the table."""
    return [name for name in _ORDER if name in BUILDERS] + sorted(set(BUILDERS) - set(_ORDER))


def build(name: str, **kwargs: Any) -> BuiltModel:
    """Builds a registered model by name: ``build("zhang_eccv16", width=0.125)``.

    Args:
        name: One of :func:`names`.
        **kwargs: The builder's arguments (see each builder).
    """
    if name not in BUILDERS:
        raise ValueError(f"Unknown model {name!r}. The models are: {', '.join(BUILDERS)}.")
    return BUILDERS[name](**kwargs)


def count_params(model: keras.Model, trainable_only: bool = False) -> int:
    """Number of weights (all, or trainable only)."""
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))


def count_flops(model: keras.Model, size: int = 224) -> int:
    """Floating-point operations of one forward pass on one ``size`` x ``size`` photo.

    Counted by TensorFlow's profiler on the traced graph in inference mode: a multiply-add is
    2 FLOPs; batch normalisation, activations and resizing count too.
    """
    specs = tf.nest.map_structure(
        lambda t: tf.TensorSpec([1, size, size, t.shape[-1]], tf.float32), model.input
    )
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # the v1 profiler announces its own deprecation
    try:
        profile = tf.compat.v1.profiler.profile(graph=concrete.graph, options=options)
    finally:
        logger.setLevel(level)
    return int(profile.total_float_ops)


def summary_table(size: int = 224, **overrides: dict) -> str:
    """A Markdown table of every registered model at its default arguments.

    Columns: name, parameters (trainable), GFLOPs for one ``size`` x ``size`` photo, output
    kind. Pretrained encoders are built with ``weights=None`` (no download; same counts).

    Args:
        size: Photo side for the FLOP count.
        **overrides: Per-model builder arguments, e.g. ``zhang_eccv16={"width": 0.5}``.
    """
    rows = [
        f"| model | parameters | trainable | GFLOPs at {size} x {size} | output |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name in names():
        builder = BUILDERS[name]
        kwargs = dict(overrides.get(name, {}))
        if "weights" in builder.__code__.co_varnames:
            kwargs.setdefault("weights", None)
        model = builder(**kwargs)
        rows.append(
            f"| `{name}` | {count_params(model):,} | {count_params(model, True):,} | "
            f"{count_flops(model, size) / 1e9:.1f} | {OUTPUT_KINDS[name]} |"
        )
        keras.backend.clear_session()
    return "\n".join(rows)
