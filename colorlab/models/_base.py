"""What every builder shares: the model class that remembers its builder, and small helpers.

A colorlab model is a functional Keras model (keras-hub style): one graph of named layers.
:class:`BuiltModel` adds only a memory of the builder and the arguments that made it, so
``get_config()`` returns every argument and a ``.keras`` file reloads (``safe_mode=True``)
by calling the same builder again, then loading the saved weights.
"""

from __future__ import annotations

import inspect
import json
import numbers
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


#: For each builder, a function of its arguments (defaults filled in) giving the number its
#: input sides must be a multiple of: the product of its strides.
SIDE_MULTIPLES: dict[str, Callable[[dict], int]] = {}


def register_builder(kind: str, multiple: int | Callable[[dict], int]) -> Callable:
    """Decorator: lists a builder function under its own name in :data:`BUILDERS`.

    Args:
        kind: What the model outputs (see :data:`OUTPUT_KINDS`).
        multiple: The side multiple its input needs, or a function of the builder's
            arguments that gives it (see :func:`side_multiple`).
    """

    def register(builder: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        BUILDERS[builder.__name__] = builder
        OUTPUT_KINDS[builder.__name__] = kind
        SIDE_MULTIPLES[builder.__name__] = multiple if callable(multiple) else (
            lambda arguments: int(multiple))
        return builder

    return register


def side_multiple(model: Any, arguments: dict | None = None) -> int:
    """The number a model's input height and width must be multiples of.

    Args:
        model: A colorlab model, or a builder's name (then ``arguments`` are its arguments;
            missing ones take the builder's defaults). Any other Keras model gives 32, the
            stride of the deepest common encoders.
        arguments: Builder arguments, with a name.

    Example:
        >>> side_multiple("unet_generator")      # five stride-2 layers
        32
        >>> side_multiple("zhang_eccv16")
        8
    """
    if isinstance(model, str):
        name, given = model, dict(arguments or {})
    elif isinstance(model, BuiltModel):
        name, given = model.builder, dict(model.arguments)
    else:
        return 32
    if name not in BUILDERS:
        raise ValueError(f"Unknown model {name!r}. The models are: {', '.join(BUILDERS)}.")
    parameters = inspect.signature(BUILDERS[name]).parameters
    values = {key: p.default for key, p in parameters.items()
              if p.default is not inspect.Parameter.empty}
    values.update({key: value for key, value in given.items() if value is not None
                   or key not in values})
    return int(SIDE_MULTIPLES[name](values))


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
        try:
            json.dumps(arguments)
        except TypeError as error:
            raise TypeError(
                f"The arguments of {builder} must be plain numbers, strings and lists so the "
                f"model can be saved; got {arguments!r} ({error})."
            ) from None
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.builder = builder
        self.arguments = dict(arguments)

    def get_config(self) -> dict:
        """The builder, its arguments, and which layers are frozen (``trainable=False``)."""
        return {
            "builder": self.builder,
            "arguments": dict(self.arguments),
            "name": self.name,
            "trainable": bool(self.trainable),
            "frozen_layers": [layer.name for layer in self.layers if not layer.trainable],
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> "BuiltModel":
        """Calls the builder again (pretrained weights are not fetched: the file's replace them)
        and restores which layers were frozen when the model was saved."""
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
        model = builder(**arguments, name=config["name"])
        if "frozen_layers" in config:
            frozen = set(config["frozen_layers"])
            for layer in model.layers:
                layer.trainable = layer.name not in frozen
        if not config.get("trainable", True):
            model.trainable = False
        return model


def scaled(filters: int, width: float) -> int:
    """Channels at a width multiplier: ``round(filters * width)``, at least 1."""
    return max(1, int(round(filters * width)))


#: The widest channel multiplier a builder accepts: beyond it one model outgrows any one
#: accelerator's memory (width 4 is 16 times the paper's weights).
MAX_WIDTH = 4.0


def check_width(width: Any) -> float:
    """``width`` as a float in (0, MAX_WIDTH]; ValueError saying what a width is otherwise."""
    if isinstance(width, bool) or not isinstance(width, numbers.Real) \
            or not 0 < width <= MAX_WIDTH:
        raise ValueError(f"width is a channel multiplier in (0, {MAX_WIDTH:g}] (1: the paper's "
                         f"model), got {width!r}.")
    return float(width)


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


def check_input_shape(input_shape: Any) -> list | None:
    """Validates ``input_shape``: None, (H, W) or (H, W, 1) with sides positive ints or None.

    Returns:
        ``[H, W]`` (JSON-able, for a builder's arguments), or None.
    """
    if input_shape is None:
        return None
    shape = list(input_shape) if isinstance(input_shape, (list, tuple)) else None
    if shape is None or len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 1):
        raise ValueError(
            f"input_shape is (H, W) or (H, W, 1): the models read one L channel; got "
            f"{input_shape!r}."
        )
    for side in shape[:2]:
        if side is not None and (
            isinstance(side, bool) or not isinstance(side, numbers.Integral) or side < 1
        ):
            raise ValueError(
                f"input_shape sides are positive integers (or None for any size), got "
                f"{input_shape!r}."
            )
    return [None if side is None else int(side) for side in shape[:2]]


def lightness_input(input_shape: Any, multiple: int, name: str = "L") -> keras.KerasTensor:
    """The normalised L input, (H, W, 1); H and W may be None (any size)."""
    checked = check_input_shape(input_shape)
    shape = (None, None) if checked is None else tuple(checked)
    for side in shape:
        if side is not None and side % multiple:
            raise ValueError(
                f"This model needs an input size that is a multiple of {multiple}, got {shape}."
            )
    return keras.Input(shape=(*shape, 1), name=name)


def pretrained_application(factory: Callable[..., keras.Model], weights: Any,
                           filename: str) -> keras.Model:
    """Calls a ``keras.applications`` constructor (notop, any size), with a clear error offline.

    Args:
        factory: E.g. ``keras.applications.VGG16``.
        weights: "imagenet", a path to the notop weights file, or None.
        filename: The notop weights file's name, for the message.
    """
    try:
        return factory(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as error:  # a download or file problem: say what to do
        raise RuntimeError(
            f"Could not load {factory.__name__} weights {weights!r} through keras.applications "
            f"({error}). Offline, put {filename} in ~/.keras/models/, pass its path as "
            "weights=, or use weights=None (colorlab train --weights none)."
        ) from error
