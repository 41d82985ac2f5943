"""The training configuration: :class:`TrainConfig`, its YAML file, and its checks.

A config names a method (:class:`colorlab.models.Method`) and the data; every option it
leaves out takes the method's default, and an option the method would ignore is refused.
The dataclass fields' annotations are the schema a YAML file is checked against.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
import os
from typing import Any, Callable

import numpy as np
import yaml

from colorlab import models
from colorlab.data.sources import split_parts
from colorlab.data.targets import Target
from colorlab.predict import MIN_RENDER_SIZE
from colorlab.files import check_regular_file

__all__ = ["MAX_IMAGE_SIZE", "MIN_IMAGE_SIZE", "TrainConfig", "load_config", "read_config",
           "safe_yaml"]

#: The training crop side a config accepts: at least colorize's smallest render size (the
#: sample figures colorize at this size), at most 1024 (beyond it a step outgrows any one
#: accelerator's memory; the width has its own cap, models.MAX_WIDTH).
MIN_IMAGE_SIZE = MIN_RENDER_SIZE
MAX_IMAGE_SIZE = 1024
#: The largest config file read (a training config is a few hundred bytes).
_MAX_CONFIG_BYTES = 1 << 20
_OPTIMIZERS = ("adam", "adadelta", "sgd")
_PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
#: Optimiser settings that belong to one optimiser.
OPTIMIZER_OPTIONS = {"beta_1": "adam", "beta_2": "adam", "momentum": "sgd"}
#: Each optimiser's learning rate when the method trains with another one: Adam's and SGD's
#: usual values, and Zeiler's 1.0 for AdaDelta (Keras's default of 0.001 barely moves it).
OPTIMIZER_LEARNING_RATES = {"adam": 1e-3, "adadelta": 1.0, "sgd": 1e-2}
#: Options that only some methods use (``Method.options``), with their defaults.
METHOD_OPTIONS = {"prior": "imagenet", "rebalance_lambda": 0.5}
#: Options that may change when a run resumes: how long to train, not what.
HOW_LONG = ("epochs", "time_limit", "max_steps")


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; saved as the run folder's ``config.yaml``.

    Attributes:
        model: A method of :mod:`colorlab.models` that trains on its own
            (``zhang_eccv16``, ``vgg16_colorizer``, ``iizuka_two_stream``,
            ``resnet_colorizer``, ``unet_generator``; :func:`colorlab.models.names`).
            Options left None take the method's defaults (its :class:`~colorlab.models.Method`);
            an option the method does not use is refused, naming the option and the method.
        model_args: Builder arguments, e.g. ``{"width": 0.125}`` (``weights: none`` is
            read as no pretrained weights, as ``--weights none`` is).
        data: A registry data set (``colorlab data list``) or a folder of photos.
        train_split, val_split: Splits of ``data`` to train and validate on: "train", "val",
            "test", or a union such as "train+val" (None: all photos / no validation).
        image_size: Training crop side, a multiple of the model's stride (see
            :func:`colorlab.models.side_multiple`), from 32 to 1024. Default: the method's
            own (176 for Zhang et al. and the ResNet, 224 for VGG16 and Iizuka et al.,
            256 for the U-Net).
        batch_size: Photos per step, over all devices (40 in Zhang et al.).
        epochs: Epochs to train (default: 10, or as many as ``max_steps`` needs).
        steps_per_epoch: Steps per epoch (default: one pass over the training photos).
        optimizer: "adam", "adadelta" or "sgd" (default: the method's).
        learning_rate, weight_decay: Optimiser settings (default: the method's when it
            trains with this optimiser; with another, that optimiser's usual learning rate,
            :data:`OPTIMIZER_LEARNING_RATES`, and no weight decay; Keras
            applies weight decay decoupled, as AdamW does: each step shrinks every weight
            by ``learning_rate * weight_decay`` of itself, outside the gradient).
        kernel_l1, kernel_l2: Kernel regularization (default 0: none): ``kernel_l1 *
            sum |w| + kernel_l2 * sum w^2`` over every trainable convolution and dense
            kernel is added to the loss (see :mod:`colorlab.train.penalty`); the run then
            also logs ``data_loss``, the loss without it. Unlike weight decay it goes
            through the gradient, so Adam rescales it.
        beta_1, beta_2: Adam's (default: the method's when it trains with Adam, else
            Keras's 0.9 and 0.999); refused for another optimiser.
        momentum: SGD's (default 0); refused for another optimiser.
        schedule: "constant" or "cosine" (cosine decay to 0 over the run).
        loss: One of the method's losses (``Method.losses``): "mse", "l1" or "huber" for
            ab models (default: the method's).
        prior: Class rebalancing, for methods trained on soft bins (Zhang et al.):
            "imagenet" (the authors' prior, the default), "data" (this data set's, computed
            first), or "none" (plain cross-entropy).
        rebalance_lambda: Mixing of the prior with the uniform distribution (0.5), for the
            same methods.
        precision: "auto", "float32", "mixed_float16" or "mixed_bfloat16".
        xla: Compile the training step with XLA (None: Keras decides).
        seed: Seed of initialisation, shuffling and augmentation.
        checkpoint_every: Save ``checkpoints/last.keras`` every this many steps (and at
            every epoch end).
        samples: Held-out photos colorized into ``samples/`` after each epoch (0: none).
        cache: Keep decoded photos in memory after the first epoch.
        time_limit: Stop after this many minutes of training (None: no limit); the model
            is saved as usual, and a later call resumes.
        max_steps: Stop once this many steps are trained in all (None: epochs x
            steps_per_epoch); the last epoch may be a partial one. Given without
            ``epochs``, it alone sets the length; given with it, the run stops at whichever
            comes first (and says so). Like ``epochs`` and ``time_limit``, it may change
            when a run resumes.
    """

    model: str = "zhang_eccv16"
    model_args: dict = dataclasses.field(default_factory=dict)
    data: str = "sample"
    train_split: str | None = "train"
    val_split: str | None = "val"
    image_size: int | None = None
    batch_size: int = 32
    epochs: int | None = None
    steps_per_epoch: int | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    beta_1: float | None = None
    beta_2: float | None = None
    weight_decay: float | None = None
    kernel_l1: float = 0.0
    kernel_l2: float = 0.0
    momentum: float | None = None
    schedule: str = "constant"
    loss: str | None = None
    prior: str | None = None
    rebalance_lambda: float | None = None
    precision: str = "auto"
    xla: bool | None = None
    seed: int = 0
    checkpoint_every: int = 100
    samples: int = 4
    cache: bool = True
    time_limit: float | None = None
    max_steps: int | None = None

    def __post_init__(self) -> None:
        self._check_types()
        if str(self.model_args.get("weights", "")).lower() == "none":  # as --weights none
            self.model_args = {**self.model_args, "weights": None}
        chosen = models.method(self.model)  # ValueError naming the models for a typo
        if not chosen.trainable:
            trainable = ", ".join(n for n in models.names() if models.method(n).trainable)
            raise ValueError(f"Model {self.model!r} is not trained on its own; train one of: "
                             f"{trainable}.")
        chosen.check_arguments(self.model_args)
        method = self.method
        self._fill_defaults(method)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}.")
        if self.precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}.")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}.")
        if self.loss not in method.losses:
            hint = ("; the same network regresses ab with model_args head: ab"
                    if method.output == "bins" else "")
            raise ValueError(f"loss must be one of {method.losses} for {self.model}, got "
                             f"{self.loss!r}{hint}.")
        if self.prior is not None and self.prior not in ("imagenet", "data", "none"):
            raise ValueError(f"prior must be 'imagenet', 'data' or 'none', got {self.prior!r}.")
        for key in ("image_size", "batch_size", "epochs", "checkpoint_every",
                    "steps_per_epoch", "max_steps"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value}.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}.")
        if self.samples < 0:
            raise ValueError(f"samples must be 0 or more, got {self.samples}.")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 minutes, got {self.time_limit}.")
        self._check_penalty()
        for key in ("train_split", "val_split"):
            try:
                split_parts(getattr(self, key))
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None
        if self.rebalance_lambda is not None and not 0.0 <= self.rebalance_lambda <= 1.0:
            raise ValueError(f"rebalance_lambda must be in [0, 1], got {self.rebalance_lambda}.")
        self._check_sizes()

    @property
    def method(self) -> models.Method:
        """The method trained, as its builder arguments make it (Zhang's ``head="ab"``
        regresses ab)."""
        return models.method(self.model).built_with(self.model_args)

    @property
    def target(self) -> str:
        """The training target kind of this method (see :mod:`colorlab.data.targets`)."""
        return self.method.target

    @property
    def training_target(self) -> Target:
        """The training target with this method's settings as built (Zhang's soft targets
        at 1/8 of the input with ``output_stride: 8``)."""
        method = self.method
        settings = ({} if method.target_settings is None
                    else method.target_settings(method.arguments(self.model_args)))
        return Target(method.target, **settings)

    def _fill_defaults(self, method: models.Method) -> None:
        """The method's defaults for options left None; options it ignores are refused."""
        defaults = dict(method.optimizer)
        if self.optimizer is None:
            self.optimizer = defaults.get("optimizer", "adam")
        own_optimizer = self.optimizer == defaults.get("optimizer")
        for key in ("beta_1", "beta_2", "momentum"):
            user = OPTIMIZER_OPTIONS[key]
            if getattr(self, key) is not None and self.optimizer != user:
                raise ValueError(f"{key} is an option of the {user} optimizer; this run uses "
                                 f"{self.optimizer} (set optimizer: {user}, or drop {key}).")
            if getattr(self, key) is None and own_optimizer and key in defaults:
                setattr(self, key, defaults[key])
        for key in ("learning_rate", "weight_decay"):  # the recipe's, with its optimiser only
            if getattr(self, key) is None and key in defaults and own_optimizer:
                setattr(self, key, defaults[key])
        if self.learning_rate is None:
            self.learning_rate = OPTIMIZER_LEARNING_RATES.get(self.optimizer, 1e-3)
        if self.loss is None:
            self.loss = method.loss
        if self.image_size is None:
            self.image_size = method.image_size
        for key, default in METHOD_OPTIONS.items():
            if key in method.options:
                if getattr(self, key) is None:
                    setattr(self, key, default)
            elif getattr(self, key) is not None:
                users = [n for n in models.names() if key in models.method(n).options]
                built = (f"{self.model} as built with these model_args" if key in
                         models.method(self.model).options else self.model)
                raise ValueError(
                    f"{key} is an option of {', '.join(users) or 'no method'} trained on "
                    f"soft bins (class rebalancing); {built} does not use it, so drop it."
                )

    def _check_penalty(self) -> None:
        """Kernel L1 / L2 factors: >= 0, and not on top of a builder's own penalty."""
        for key in ("kernel_l1", "kernel_l2"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} is a penalty factor >= 0, got {getattr(self, key)}.")
        own = [key for key in ("l1", "l2") if self.model_args.get(key)]
        if own and (self.kernel_l1 or self.kernel_l2):
            raise ValueError(
                f"model_args {' and '.join(own)} and kernel_l1/kernel_l2 both penalise "
                f"{self.model}'s kernels; use kernel_l1/kernel_l2 (every trainable kernel) or "
                "the builder's argument, not both."
            )

    def _check_sizes(self) -> None:
        """Image size and width, up front: a multiple of the model's stride, within bounds."""
        models.check_width(self.model_args.get("width", 1.0))  # before anything is built
        multiple = self.method.side_multiple(self.model_args)
        smallest = -(-MIN_IMAGE_SIZE // multiple) * multiple
        size = self.image_size
        if size % multiple or not smallest <= size <= MAX_IMAGE_SIZE:
            low = max(smallest, size // multiple * multiple)
            hint = (f"; e.g. {low} or {low + multiple}" if smallest <= size <= MAX_IMAGE_SIZE
                    else "")
            raise ValueError(
                f"image_size must be a multiple of {multiple} (the stride of {self.model}) "
                f"from {smallest} to {MAX_IMAGE_SIZE}, got {size}{hint}."
            )

    def _check_types(self) -> None:
        """Refuses options of the wrong type (a YAML typo) with a message naming the option.

        The field annotations are the schema. Numbers written as YAML strings (PyYAML reads
        ``3e-5`` as text) are converted."""
        for f in dataclasses.fields(self):
            key, value = f.name, getattr(self, f.name)
            kind = str(f.type).split(" | ")[0]
            if value is None:
                if "None" not in str(f.type):
                    raise ValueError(f"Training option {key} must be set ({f.type}).")
                continue
            converted = _CONVERT[kind](value)
            if converted is None:
                raise ValueError(
                    f"Training option {key} must be {_WANTED[kind]}, got {value!r} "
                    f"({type(value).__name__})."
                )
            setattr(self, key, converted)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """A config from a dict (a YAML file), refusing keys it does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, known, n=1)
                if close:
                    hints.append(f"{key}: did you mean {close[0]}?")
                elif key in ("width", "weights", "dropout", "head", "num_bins"):
                    hints.append(f"{key} is a builder argument: put it under model_args")
            raise ValueError(
                f"Unknown training option(s) {', '.join(unknown)}"
                + (f" ({'; '.join(hints)})" if hints else "")
                + f"; the options are: {', '.join(sorted(known))}."
            )
        return cls(**values)


def _as_int(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def _as_float(value: Any) -> float | None:
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        return None
    if isinstance(number, (bool, np.bool_)) or not isinstance(number, numbers.Real) \
            or not np.isfinite(number):
        return None
    return float(number)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "int": _as_int,
    "float": _as_float,
    "bool": lambda v: bool(v) if isinstance(v, (bool, np.bool_)) else None,
    "str": lambda v: v if isinstance(v, str) else None,
    "dict": lambda v: v if isinstance(v, dict) else None,
}
_WANTED = {"int": "a whole number", "float": "a finite number", "bool": "true or false",
           "str": "text", "dict": "a mapping of builder arguments, e.g. {width: 0.25}"}


def read_config(path: str | os.PathLike) -> dict:
    """The options a YAML training config file sets, as written (checked: see
    :func:`load_config`). Options it leaves out are not filled in, so a caller can change
    the model and get the new method's defaults."""
    path = check_regular_file(path, "config file")
    if path.stat().st_size > _MAX_CONFIG_BYTES:
        raise ValueError(f"{path} is {path.stat().st_size:,} bytes; a training config is a "
                         f"few hundred (at most {_MAX_CONFIG_BYTES:,}).")
    try:
        values = safe_yaml(path.read_text(encoding="utf-8"), path) or {}
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text.") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a mapping of training options.")
    TrainConfig.from_dict(values)  # every mistake, now
    return values


def load_config(path: str | os.PathLike) -> TrainConfig:
    """Reads a YAML training config (the keys of :class:`TrainConfig`)."""
    return TrainConfig.from_dict(read_config(path))


def safe_yaml(text: str, source: Any = "the YAML") -> Any:
    """Parses YAML safely: plain data only (``yaml.safe_load``), and no aliases.

    Anchors and aliases (``&a`` / ``*a``) let a 500-byte file expand to gigabytes (the
    "billion laughs"); a config never needs them, so any alias is refused before the
    document is built.

    Raises:
        ValueError: invalid YAML, or an alias.
    """
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ValueError(f"{source} uses a YAML alias (*{event.anchor}); write the "
                                 "values out instead (aliases are refused).")
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{source} is not valid YAML: {' '.join(str(error).split())}") \
            from None


