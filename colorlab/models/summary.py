"""Comparing the models: parameters, FLOPs, receptive field, and the README's table."""

from __future__ import annotations

import contextlib
import inspect
from typing import Iterator

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np
import tensorflow as tf

from colorlab.models._base import METHODS, names

__all__ = ["count_flops", "count_params", "receptive_field", "summary_rows", "summary_table"]


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
    with _quiet_tf_logs():  # the v1 profiler announces its own deprecation
        profile = tf.compat.v1.profiler.profile(graph=concrete.graph, options=options)
    return int(profile.total_float_ops)


def receptive_field(model: keras.Model, size: int = 512, output: str | None = None) -> int | None:
    """Side of the input square that can change the centre output pixel, measured.

    The gradient of the centre pixel of the output with respect to the input is non-zero
    exactly where the input can influence it; its extent is the receptive field (measured on
    the model as built, so dilation, strides and skip connections are all accounted for).

    Args:
        model: A model from (B, H, W, 1) L (any size).
        size: Input side to measure on.
        output: For a model with several outputs, which one (e.g. "ab").

    Returns:
        The side in pixels, or None when it reaches the border of a ``size`` x ``size`` input
        (a global path, as in Iizuka et al., sees the whole image).
    """
    x = tf.random.stateless_uniform([1, size, size, 1], (1, 2), -0.5, 0.5)

    @tf.function
    def center_gradient(x):
        # Only the input's gradient, in a graph: TF 2.21's eager oneDNN convolution gradients
        # corrupted the heap here for single-pixel gradients at tiny widths.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            y = model(x, training=False)
            y = y[output] if output is not None else tf.nest.flatten(y)[0]
            centre = tf.reduce_sum(y[0, tf.shape(y)[1] // 2, tf.shape(y)[2] // 2])
        return tape.gradient(centre, x)

    # A tanh or sigmoid output saturated at random initialisation has a zero gradient that
    # would hide the field: measure through the outputs' pre-activations instead.
    squashing = [layer for layer in model.layers
                 if getattr(layer, "activation", None) in (keras.activations.tanh,
                                                           keras.activations.sigmoid)]
    saved = [layer.activation for layer in squashing]
    try:
        for layer in squashing:
            layer.activation = keras.activations.linear
        with _quiet_tf_logs():  # a new tf.function per call: no retracing warnings
            gradient = np.abs(center_gradient(x).numpy()[0, ..., 0]) > 0
    finally:
        for layer, activation in zip(squashing, saved):
            layer.activation = activation
    rows, cols = np.flatnonzero(gradient.any(axis=1)), np.flatnonzero(gradient.any(axis=0))
    if not len(rows):
        raise ValueError(
            "No gradient reached the input: at random initialisation every ReLU on some path "
            "is dead (likely at a tiny width). Measure a wider or a trained model."
        )
    if rows[0] == 0 or cols[0] == 0 or rows[-1] == size - 1 or cols[-1] == size - 1:
        return None
    return int(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)


def summary_rows(size: int = 224, **overrides: dict) -> list[dict]:
    """Parameters, FLOPs and output kind of every registered model at its default arguments.

    Pretrained encoders are built with ``weights=None`` (no download; the same counts).

    Args:
        size: Photo side for the FLOP count.
        **overrides: Per-model builder arguments, e.g. ``zhang_eccv16={"width": 0.5}``.

    Returns:
        One dict per model, in :func:`names` order: ``name``, ``parameters``, ``trainable``,
        ``gflops`` (one ``size`` x ``size`` photo), ``output``.
    """
    rows = []
    for name in names():
        builder = METHODS[name].builder
        kwargs = dict(overrides.get(name, {}))
        if "weights" in inspect.signature(builder).parameters:
            kwargs.setdefault("weights", None)
        model = builder(**kwargs)
        rows.append({
            "name": name,
            "parameters": count_params(model),
            "trainable": count_params(model, trainable_only=True),
            "gflops": count_flops(model, size) / 1e9,
            "output": METHODS[name].output,
        })
        del model
        keras.backend.clear_session()
    return rows


def summary_table(size: int = 224, **overrides: dict) -> str:
    """:func:`summary_rows` as the Markdown table the README shows."""
    lines = [
        f"| model | parameters | trainable | GFLOPs at {size} x {size} | output |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in summary_rows(size, **overrides):
        lines.append(
            f"| `{row['name']}` | {row['parameters']:,} | {row['trainable']:,} | "
            f"{row['gflops']:.1f} | {row['output']} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def _quiet_tf_logs() -> Iterator[None]:
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)
