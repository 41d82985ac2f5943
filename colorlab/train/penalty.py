"""Kernel L1 / L2 regularization, as a training option of every method.

``TrainConfig(kernel_l1=..., kernel_l2=...)`` adds

    penalty = kernel_l1 * sum |w| + kernel_l2 * sum w^2

over every trainable convolution and dense kernel of the model (biases, batch-norm scales
and frozen layers are left alone) to the loss Keras minimises. It is the "L1 / L2
regularization" of the student reports (Keras's ``kernel_regularizer``), applied to any
method without touching its builder.

It is not the optimiser's ``weight_decay``: Keras applies weight decay *decoupled* (as
AdamW does), shrinking each weight by ``learning_rate * weight_decay`` of itself every step,
outside the gradient, so Adam's per-weight scaling never sees it. An L2 penalty goes
through the gradient, and Adam rescales it like the rest of the loss (Loshchilov & Hutter,
*Decoupled Weight Decay Regularization*, ICLR 2019, explain why the two differ).

The penalty is part of the ``loss`` Keras reports, in training and validation alike, so a
penalised run's ``loss`` is not comparable with an unpenalised one's. A penalised run
therefore also logs ``data_loss`` (and ``val_data_loss``): the method's own loss alone.
"""

from __future__ import annotations

from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

__all__ = ["KERNEL_LAYERS", "apply_kernel_penalty", "data_loss_metric", "kernel_variables"]

#: Layers whose kernels are penalised, and the names of their kernel attributes.
KERNEL_LAYERS: tuple[tuple[type, tuple[str, ...]], ...] = (
    ((keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
      keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
      keras.layers.Conv3DTranspose, keras.layers.Dense), ("kernel",)),
    ((keras.layers.DepthwiseConv2D,), ("depthwise_kernel",)),
    ((keras.layers.SeparableConv2D,), ("depthwise_kernel", "pointwise_kernel")),
)


def kernel_variables(model: keras.Model) -> list[Any]:
    """The trainable convolution and dense kernels of ``model``, nested models included.

    Returns:
        Keras variables, each once, in layer order; layers with ``trainable=False`` (a
        frozen encoder) are left out.
    """
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not layer.trainable:
            continue
        for kinds, attributes in KERNEL_LAYERS:
            if isinstance(layer, kinds):
                for attribute in attributes:
                    variable = getattr(layer, attribute, None)
                    if variable is not None and variable.trainable and id(variable) not in seen:
                        seen.add(id(variable))
                        found.append(variable)
                break
    return found


def apply_kernel_penalty(model: keras.Model, l1: float = 0.0, l2: float = 0.0) -> int:
    """Adds ``l1 * sum |w| + l2 * sum w^2`` over the model's trainable kernels to its loss.

    The penalty is set on the kernel variables themselves (Keras collects a variable's
    ``regularizer`` into ``model.losses`` at every step), so it works on a model already
    built or loaded from a checkpoint, before ``fit``. It is not saved with the model: a
    resumed run applies it again from its config.

    Args:
        model: A built Keras model.
        l1, l2: Penalty factors, >= 0 (0 and 0: nothing is done).

    Returns:
        The number of kernels penalised.

    Raises:
        ValueError: a negative factor, or a kernel that already has a regularizer (a
            builder's own ``l1`` / ``l2`` argument: use one or the other).
    """
    if l1 < 0 or l2 < 0:
        raise ValueError(f"kernel_l1 and kernel_l2 are penalty factors >= 0, got {l1}, {l2}.")
    if not (l1 or l2):
        return 0
    variables = kernel_variables(model)
    taken = [v.path for v in variables if v.regularizer is not None]
    if taken:
        raise ValueError(
            f"{len(taken)} kernel(s) of {model.name} already have a regularizer (e.g. "
            f"{taken[0]}, from the builder's l1/l2 argument); use the builder's argument or "
            "kernel_l1/kernel_l2, not both."
        )
    penalty = keras.regularizers.L1L2(l1=float(l1), l2=float(l2))
    for variable in variables:
        variable.regularizer = penalty
    return len(variables)


def data_loss_metric(loss: Any) -> keras.metrics.Metric:
    """A metric logging the loss without the kernel penalty (``data_loss``).

    Args:
        loss: The compiled loss (a Keras loss object or function).
    """
    return keras.metrics.MeanMetricWrapper(loss, name="data_loss")
