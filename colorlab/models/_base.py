"""What every method shares: its description, the model class, and the builders' helpers.

- :class:`Method`: what makes a method a method (the target it trains on, its loss and
  optimiser defaults, the options it accepts, how its output becomes ab, its input-size
  multiple), defined next to each builder and listed in :data:`METHODS` by
  :func:`register`. Training, colorize, evaluate and the command line read it from there.
- :class:`BuiltModel`: a functional Keras model (keras-hub style, one graph of named
  layers) that remembers the builder and arguments that made it, so ``get_config()``
  returns every argument and a ``.keras`` file reloads (``safe_mode=True``) by calling the
  same builder again, then loading the saved weights.
- The builders' helpers: :func:`scaled` channels, :func:`lightness_input`, argument checks,
  kernel :func:`regularizer`, pretrained ``keras.applications`` encoders.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import numbers
from typing import Any, Callable

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np

from colorlab.color import AB_SCALE

#: The methods by name, filled by :func:`register` as the model modules are imported.
METHODS: dict[str, "Method"] = {}

#: What a model outputs, and the training target that pairs with it (see
#: :mod:`colorlab.data.targets`): "bins" (logits over the ab bins; "soft" or "hard"
#: targets), "ab" (ab / 110 in [-1, 1]; "ab"), "ab+class" (ab and class logits; "ab+class"),
#: "patch" (real/fake logits per patch; trained only inside a GAN).
OUTPUTS = ("bins", "ab", "ab+class", "patch")
#: The losses a method may train with: "rebalanced" (the class-rebalanced cross-entropy of
#: Zhang et al.), "mse", "l1", "huber" (ab regression), "joint" (Iizuka et al.'s MSE plus
#: scene-class cross-entropy).
LOSSES = ("rebalanced", "mse", "l1", "huber", "joint")
#: The training targets each output pairs with.
_TARGETS_OF = {"bins": ("soft", "hard"), "ab": ("ab",), "ab+class": ("ab+class",), "patch": ()}


@dataclasses.dataclass(frozen=True)
class Method:
    """What makes a method a method: everything colorlab needs to build, train and use it.

    Training (:mod:`colorlab.train`), colorize, evaluate, the command line and the model
    table read a method from here; nothing else looks at a model's name. Each builder's
    module defines its method next to the builder and :func:`register` lists it; a new
    model is one new module (its builder and its Method) plus one ``register`` line.

    Attributes:
        name: The builder's name (``TrainConfig.model``, ``colorlab train --model``).
        builder: The function that builds it (keyword arguments, returns a BuiltModel).
        paper: Where it comes from, for the model table and the docs.
        output: One of :data:`OUTPUTS`.
        target: The training target kind it trains on ("soft", "ab", "ab+class"), or None
            for a model not trained on its own (the GAN's discriminator).
        loss: Its default loss (one of :data:`LOSSES`); None when not trained on its own.
        losses: The other losses it accepts (``TrainConfig.loss``); the default is added.
        optimizer: Its optimiser defaults: ``optimizer`` ("adam", "adadelta", "sgd"),
            ``learning_rate`` and any of ``beta_1``, ``beta_2``, ``weight_decay``,
            ``momentum``.
        image_size: Its default training crop side, in pixels.
        options: Training options only this method uses (``("prior",
            "rebalance_lambda")`` for class rebalancing); any other method refuses them.
        multiple: The number its input sides must be multiples of, or a function of the
            builder's arguments (defaults filled in) that gives it.
        training_arguments: Builder arguments chosen at training time, a function of the
            given arguments and the training :class:`~colorlab.data.PhotoSet` (e.g. the
            number of classes); None: the given arguments as they are.
        variant: A function of the builder's arguments giving the method as built with
            them, for a builder whose arguments change what it is (Zhang's ``head="ab"``
            regresses ab); None: always this method.
        to_ab: How its output becomes ab: a function ``(output, model, temperature, bins)``
            from one photo's output (numpy, or a dict for several outputs) to (h, w, 2) ab
            in Lab units. None for a model that does not colorize.
        presets: Released weights by name (:class:`colorlab.pretrained.presets.Preset`):
            each name works wherever a model path does (``load_model``, ``colorlab
            colorize --model``, evaluate).
        with_hints: How it takes colour hints: a function ``(model, lightness, hints_ab,
            mask)`` of (B, H, W, 1), (B, H, W, 2) ab / 110 and (B, H, W, 1) arrays giving its
            output; None for a method that takes none.
        target_settings: The training target's settings as a function of the builder's
            arguments (defaults filled in), e.g. Zhang's ``{"downsample": output_stride}``
            (:class:`colorlab.data.targets.Target`); None: the kind's defaults.
    """

    name: str
    builder: Callable[..., keras.Model]
    paper: str
    output: str
    target: str | None = None
    loss: str | None = None
    losses: tuple[str, ...] = ()
    optimizer: dict = dataclasses.field(default_factory=dict)
    image_size: int = 176
    options: tuple[str, ...] = ()
    multiple: int | Callable[[dict], int] = 32
    training_arguments: Callable[[dict, Any], dict] | None = None
    variant: Callable[[dict], "Method"] | None = None
    to_ab: Callable[..., Any] | None = None
    presets: dict = dataclasses.field(default_factory=dict)
    with_hints: Callable[..., Any] | None = None
    target_settings: Callable[[dict], dict] | None = None

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"{self.name}: output must be one of {OUTPUTS}, got {self.output!r}.")
        if self.target is not None and self.target not in _TARGETS_OF[self.output]:
            raise ValueError(f"{self.name}: a {self.output!r} output trains on "
                             f"{' or '.join(map(repr, _TARGETS_OF[self.output])) or 'no target'}"
                             f" targets, not {self.target!r}.")
        unknown = [loss for loss in (*self.losses, self.loss) if loss and loss not in LOSSES]
        if unknown:
            raise ValueError(f"{self.name}: unknown loss(es) {unknown}; the losses: {LOSSES}.")
        wanted = self.optimizer.get("optimizer", "adam")
        if wanted not in ("adam", "adadelta", "sgd"):
            raise ValueError(f"{self.name}: optimizer must be 'adam', 'adadelta' or 'sgd', got "
                             f"{wanted!r}.")
        if not callable(self.multiple) and self.image_size % int(self.multiple):
            raise ValueError(f"{self.name}: image_size {self.image_size} is not a multiple of "
                             f"its input-size multiple {self.multiple}.")
        if self.target is not None and self.to_ab is None:
            raise ValueError(f"{self.name}: a trainable method needs to_ab (how its output "
                             "becomes ab), e.g. models.ab_from_regression.")
        if self.loss is not None and self.loss not in self.losses:
            object.__setattr__(self, "losses", (self.loss, *self.losses))

    @property
    def trainable(self) -> bool:
        """Whether ``colorlab train`` trains it on its own."""
        return self.target is not None

    def arguments(self, given: dict | None = None) -> dict:
        """The builder's arguments: ``given`` over the builder's defaults."""
        parameters = inspect.signature(self.builder).parameters
        values = {key: p.default for key, p in parameters.items()
                  if p.default is not inspect.Parameter.empty}
        values.update({key: value for key, value in (given or {}).items() if value is not None
                       or key not in values})
        return values

    def check_arguments(self, given: dict) -> None:
        """Refuses builder arguments the builder does not take, naming the ones it does."""
        parameters = inspect.signature(self.builder).parameters
        if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            return
        unknown = sorted(set(given) - set(parameters))
        if unknown:
            raise ValueError(
                f"model_args {', '.join(map(repr, unknown))} is not an argument of "
                f"{self.name}; its arguments are: {', '.join(sorted(parameters))}."
            )

    def side_multiple(self, given: dict | None = None) -> int:
        """The number input sides must be multiples of, built with ``given`` arguments."""
        if callable(self.multiple):
            return int(self.multiple(self.arguments(given)))
        return int(self.multiple)

    def built_with(self, given: dict | None = None) -> "Method":
        """This method as built with ``given`` arguments (see ``variant``)."""
        return self.variant(self.arguments(given)) if self.variant is not None else self


def register(method: Method) -> Method:
    """Lists a method under its name, so training, colorize, evaluate and the command line
    know it; returns it. Registering a name again replaces the earlier method."""
    METHODS[method.name] = method
    return method


def method(name: str) -> Method:
    """The registered method of this name.

    Raises:
        ValueError: no method has this name (the message lists the ones that exist).
    """
    if name not in METHODS:
        raise ValueError(f"Unknown model {name!r}. The models are: {', '.join(names())}.")
    return METHODS[name]


#: The models in the order the course meets them.
_ORDER = ("zhang_eccv16", "zhang_siggraph17", "vgg16_colorizer", "iizuka_two_stream",
          "resnet_colorizer", "unet_generator", "patch_discriminator")


def names() -> list[str]:
    """The registered methods' names, in the order the course meets them."""
    return [name for name in _ORDER if name in METHODS] + sorted(set(METHODS) - set(_ORDER))


def presets() -> dict[str, Any]:
    """Every method's released weights, by preset name, in the course's order."""
    return {name: preset for method_name in names()
            for name, preset in METHODS[method_name].presets.items()}


def method_of(model: Any) -> Method | None:
    """The method a model was built by (as built: a variant where its arguments make one),
    or None for a Keras model colorlab did not build."""
    if isinstance(model, BuiltModel) and model.builder in METHODS:
        return METHODS[model.builder].built_with(model.arguments)
    return None


def side_multiple(model: Any, arguments: dict | None = None) -> int:
    """The number a model's input height and width must be multiples of.

    Args:
        model: A colorlab model, or a method's name (then ``arguments`` are its builder's
            arguments; missing ones take the defaults). Any other Keras model gives 32, the
            stride of the deepest common encoders.
        arguments: Builder arguments, with a name.

    Example:
        >>> side_multiple("unet_generator")      # five stride-2 layers
        32
        >>> side_multiple("zhang_eccv16")
        8
    """
    if isinstance(model, str):
        return method(model).side_multiple(arguments)
    if isinstance(model, BuiltModel) and model.builder in METHODS:
        return METHODS[model.builder].side_multiple(model.arguments)
    return 32


def ab_from_regression(output: Any, model: Any = None, temperature: float = 0.38,
                       bins: Any = None) -> np.ndarray:
    """``to_ab`` of a model that regresses ab / 110: (h, w, 2) -> ab in Lab units."""
    if isinstance(output, dict):
        if "ab" not in output:
            raise ValueError(f"The model's outputs are {sorted(output)}; colorize needs 'ab'.")
        output = output["ab"]
    output = np.asarray(output, dtype=np.float32)
    if output.shape[-1] != 2:
        raise ValueError(f"The model outputs {output.shape[-1]} channels where ab (2) was "
                         "expected.")
    return output * AB_SCALE


@keras.saving.register_keras_serializable(package="colorlab")
class BuiltModel(keras.Model):
    """A functional model that remembers the builder and arguments that made it.

    Args:
        inputs, outputs: As for a functional ``keras.Model``.
        builder: Name of its method in :data:`METHODS`.
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
        if config["builder"] not in METHODS:
            raise ValueError(
                f"This file was saved from the method {config['builder']!r}, which is not "
                f"registered here (colorlab has {', '.join(names())}). A method of your own "
                "is known only where its module is imported: import it (it calls "
                "models.register) before loading, in Python."
            )
        model = METHODS[config["builder"]].builder(**arguments, name=config["name"])
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
