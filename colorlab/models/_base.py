"""What every builder shares: the model class that remembers its builder, and small helpers.

A colorlab model is a functional Keras model (keras-hub style): one graph of named layers.
:class:`BuiltModel` adds only a memory of the builder and the arguments that made it, so
``get_config()`` returns every argument and a ``.keras`` file reloads (``safe_mode=True``)
by calling the same builder again, then loading the saved weights.
"""

from __future__ import annotations

from typing import Any, Callable

import keras

#: Builders by name, filled by :func:`register_builder` as the model modules are imported.
BUILDERS: dict[str, Callable[..., keras.Model]] = {}

#: What each registered model outputs: "bins" (logits over the ab bins), "ab" (ab / 110 in
#: [-1, 1]), "ab+class" (ab and class logits), or "patch" (real/fake logits per patch).
OUTPUT_KINDS: dict[str, str] = {}


#: The models in the order the course meets them.
_ORDER = ("zhang_eccv16", "vgg16_colorizer", "iizuka_two_stream", "resnet_colorizer",
          "unet_generator", "patch_discriminator")


def names() -> list[str]:
    """The registered builders' names, in the order the course meets them."""
    return [name for name in _ORDER if name in BUILDERS] + sorted(set(BUILDERS) - set(_ORDER))


def register_builder(kind: str) -> Callable:
    """Decorator: lists a builder function under its own name in :data:`BUILDERS`."""

    def register(builder: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        BUILDERS[builder.__name__] = builder
        OUTPUT_KINDS[builder.__name__] = kind
        return builder

    return register


@keras.saving.register_keras_serializable(package="colorlab")
class BuiltModel(keras.Model):
    """A functional model that remembers the builder and arguments that made it.

    Args:
        inputs, outputs: As for a functional ``keras.Model``.
        builder: Name of the builder in :data:`BUILDERS`.
        arguments: The builder's arguments (JSON-serialisable), returned by ``get_config``.
        name: Model name.
    """

    def __init__(
        self, inputs: Any, outputs: Any, builder: str, arguments: dict, name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.builder = builder
        self.arguments = dict(arguments)

    def get_config(self) -> dict:
        return {"builder": self.builder, "arguments": dict(self.arguments), "name": self.name}

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> "BuiltModel":
        arguments = dict(config["arguments"])
        # Saved weights replace pretrained ones: never download them again on reload.
        if "weights" in arguments:
            arguments["weights"] = None
        builder = BUILDERS.get(config["builder"])
        if builder is None:
            raise ValueError(
                f"This file was saved from the colorlab builder {config['builder']!r}, which "
                f"this version does not have (it has {sorted(BUILDERS)})."
            )
        return builder(**arguments, name=config["name"])


def scaled(filters: int, width: float) -> int:
    """Channels at a width multiplier: ``round(filters * width)``, at least 1."""
    return max(1, int(round(filters * width)))


def check_width(width: float) -> float:
    width = float(width)
    if not width > 0:
        raise ValueError(f"width is a channel multiplier > 0 (1 = the paper's model), got {width}.")
    return width


def check_rate(rate: float, name: str = "dropout") -> float:
    rate = float(rate)
    if not 0 <= rate < 1:
        raise ValueError(f"{name} is a rate in [0, 1), got {rate}.")
    return rate


def regularizer(l1: float = 0.0, l2: float = 0.0) -> keras.regularizers.Regularizer | None:
    """An L1/L2 kernel penalty, or None when both are 0."""
    if l1 < 0 or l2 < 0:
        raise ValueError(f"l1 and l2 are penalty factors >= 0, got l1={l1}, l2={l2}.")
    if not (l1 or l2):
        return None
    return keras.regularizers.L1L2(l1=float(l1), l2=float(l2))


def lightness_input(input_shape: Any, multiple: int, name: str = "L") -> keras.KerasTensor:
    """The normalised L input, (H, W, 1); H and W may be None (any size)."""
    shape = (None, None) if input_shape is None else tuple(input_shape)[:2]
    for side in shape:
        if side is not None and side % multiple:
            raise ValueError(
                f"This model needs an input size that is a multiple of {multiple}, got {shape}."
            )
    return keras.Input(shape=(*shape, 1), name=name)
