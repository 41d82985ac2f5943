"""Copying a PyTorch state dict into a Keras network whose layers are named after its keys."""

from __future__ import annotations

from typing import Any, Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np

__all__ = ["copy_state_dict"]


def copy_state_dict(model: keras.Model, state: dict[str, Any], what: str, *,
                    renames: dict[str, str] | None = None,
                    ignore: Sequence[str] = ()) -> None:
    """Copies ``state`` (numpy arrays keyed as PyTorch names them) into ``model``.

    A key ``model1.0.weight`` goes to the layer ``model1_0`` (or its name in ``renames``).
    Convolution kernels are transposed from PyTorch's (out, in, kh, kw) and transposed
    convolutions' from (in, out, kh, kw): the same transpose gives Keras's (kh, kw, in, out)
    and (kh, kw, out, in). Batch norms take weight, bias, running mean and variance.

    Args:
        what: The network's name, for the message.
        ignore: Key prefixes left out (weights the forward pass never uses).

    Raises:
        ValueError: keys missing or left over, or a tensor of the wrong shape (each listed).
    """
    renames = renames or {}
    layers: dict[str, dict[str, np.ndarray]] = {}
    for key in state:
        if key.endswith("num_batches_tracked") or key.startswith(tuple(ignore)):
            continue
        module, _, field = key.rpartition(".")
        layer = module.replace(".", "_")
        layers.setdefault(renames.get(layer, layer), {})[field] = np.asarray(state[key])
    problems = []
    expected = {layer.name for layer in model.layers if layer.weights}
    missing, extra = sorted(expected - set(layers)), sorted(set(layers) - expected)
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    if extra:
        problems.append(f"not in {what}: {', '.join(extra)}")
    for name in sorted(expected & set(layers)):
        layer, values = model.get_layer(name), layers[name]
        if isinstance(layer, keras.layers.BatchNormalization):
            new = [values.get(k) for k in ("weight", "bias", "running_mean", "running_var")]
        else:
            kernel = values.get("weight")
            new = [None if kernel is None else kernel.transpose(2, 3, 1, 0)]
            if layer.use_bias:
                new.append(values.get("bias"))
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        if any(v is None for v in new) or [tuple(v.shape) for v in new] != shapes:
            problems.append(f"{name}: expected {shapes}, got "
                            "[" + ", ".join("missing" if v is None else str(tuple(v.shape)) for v in new)
                            + "]")
            continue
        layer.set_weights([v.astype(np.float32) for v in new])
    if problems:
        raise ValueError(f"These weights do not fit {what} at this width: " + "; ".join(problems))
