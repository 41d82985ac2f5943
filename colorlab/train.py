"""Training: Keras ``fit`` plus the recipes, a run folder, and resuming after an interruption.

A recipe is what each paper trains with: the target the pipeline makes, the loss, and the
optimiser. :func:`train` runs one from a :class:`TrainConfig` into a run folder::

    runs/demo/
      config.yaml          the TrainConfig, to rerun or resume
      state.json           the last checkpoint's step and epoch
      checkpoints/last.keras   model + optimiser state, rewritten every few steps
      model.keras          the trained model, written at the end
      history.csv          loss and metrics per epoch (appended across resumes)
      logs/                TensorBoard
      samples/epoch_003.png    colorizations of the same held-out photos after each epoch

Run :func:`train` again with the same folder and it resumes from ``last.keras``: a Colab
disconnect or a killed process loses at most the steps since that checkpoint.

Precision and devices: ``precision="auto"`` trains in mixed_float16 on a GPU,
mixed_bfloat16 on a TPU and float32 on a CPU (every model keeps its output layer in float32,
so logits, softmax and losses stay float32). The distribution strategy is chosen from the
devices: TPUStrategy, MirroredStrategy over several GPUs, else the default.
"""

from __future__ import annotations

import dataclasses
import errno
import inspect
import json
import numbers
import os
import pathlib
import shutil
import socket
import sys
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import yaml

from colorlab import losses, models
from colorlab.colorize import MIN_RENDER_SIZE
from colorlab.files import (
    atomic_path,
    check_regular_file,
    printable,
    remove_stale_temporaries,
    write_text_atomic,
)
from colorlab.data.photos import mark_output_folder
from colorlab.quantize import ColorBins
from colorlab.data.registry import source_key

__all__ = [
    "RECIPES",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "choose_precision",
    "choose_strategy",
    "compile_for",
    "RunInUse",
    "load_config",
    "safe_yaml",
    "make_optimizer",
    "recipe_for",
    "train",
]

#: What each model trains on and with by default. ``target``: the make_dataset target;
#: ``loss``; optimiser settings. Zhang et al.: Adam, lr 3e-5, betas 0.9/0.99, weight decay
#: 1e-3 (their solver). One honest difference: Caffe adds weight decay to the gradient
#: before Adam scales it (coupled L2), Keras subtracts it from the weights after (decoupled,
#: as AdamW), so the same 1e-3 regularises differently. Iizuka et al.: ADADELTA. The
#: generator alone learns by L1 (as pix2pix's reconstruction term; the adversarial loop is a
#: separate lesson). The Zhang network built with ``head="ab"`` regresses ab instead: see
#: :func:`recipe_for`.
RECIPES: dict[str, dict[str, Any]] = {
    "zhang_eccv16": dict(target="soft", loss="rebalanced", optimizer="adam",
                         learning_rate=3e-5, beta_1=0.9, beta_2=0.99, weight_decay=1e-3,
                         image_size=176),
    "vgg16_colorizer": dict(target="ab", loss="mse", optimizer="adam", learning_rate=1e-3,
                            image_size=224),
    "resnet_colorizer": dict(target="ab", loss="mse", optimizer="adam", learning_rate=1e-3,
                             image_size=176),
    "iizuka_two_stream": dict(target="ab+class", loss="joint", optimizer="adadelta",
                              learning_rate=1.0, image_size=224),
    "unet_generator": dict(target="ab", loss="l1", optimizer="adam", learning_rate=2e-4,
                           beta_1=0.5, image_size=256),
}
#: The training crop side a config accepts: at least colorize's smallest render size (the
#: sample figures colorize at this size), at most 1024 (beyond it a step outgrows any one
#: accelerator's memory; the width has its own cap, models.MAX_WIDTH).
MIN_IMAGE_SIZE = MIN_RENDER_SIZE
MAX_IMAGE_SIZE = 1024
#: A loss (or validation loss) this many times the lowest training loss so far means the
#: run has diverged, even while it is finite: the run stops and keeps its last good
#: checkpoint.
EXPLOSION_FACTOR = 1000.0
#: The largest config file read (a training config is a few hundred bytes).
_MAX_CONFIG_BYTES = 1 << 20
_OPTIMIZERS = ("adam", "adadelta", "sgd")
_PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
_REGRESSION_LOSSES = ("mse", "l1", "huber")
_INT_OPTIONS = ("image_size", "batch_size", "epochs", "steps_per_epoch", "seed",
                "checkpoint_every", "samples", "max_steps")
_FLOAT_OPTIONS = ("learning_rate", "beta_1", "beta_2", "weight_decay", "momentum",
                  "rebalance_lambda", "time_limit")
_BOOL_OPTIONS = ("xla", "cache")
#: Options that may change when a run resumes: how long to train, not what.
_HOW_LONG = ("epochs", "time_limit", "max_steps")


def recipe_for(model: str, model_args: dict | None = None) -> dict[str, Any]:
    """The recipe of ``model`` built with ``model_args``: :data:`RECIPES`, except that the
    Zhang network with ``head="ab"`` (the paper's L2 baseline) regresses ab with L2 under the
    same optimiser as the classifier, so the two differ only in the loss."""
    recipe = RECIPES[model]
    if model == "zhang_eccv16" and (model_args or {}).get("head", "bins") == "ab":
        recipe = {**recipe, "target": "ab", "loss": "mse"}
    return recipe


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; saved as the run folder's ``config.yaml``.

    Attributes:
        model: A builder of :mod:`colorlab.models` (``zhang_eccv16``, ``vgg16_colorizer``,
            ``resnet_colorizer``, ``iizuka_two_stream``, ``unet_generator``).
        model_args: Builder arguments, e.g. ``{"width": 0.125}``.
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
        optimizer: "adam", "adadelta" or "sgd" (default: the recipe's).
        learning_rate, beta_1, beta_2, weight_decay, momentum: Optimiser settings (default:
            the recipe's; Keras applies weight decay decoupled, as AdamW does).
        schedule: "constant" or "cosine" (cosine decay to 0 over the run).
        loss: For ab models: "mse", "l1" or "huber" (default: the recipe's).
        prior: Class rebalancing of the Zhang loss: "imagenet" (the authors' prior),
            "data" (this data set's, computed first), or "none" (plain cross-entropy).
        rebalance_lambda: Mixing of the prior with the uniform distribution (0.5).
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
    momentum: float | None = None
    schedule: str = "constant"
    loss: str | None = None
    prior: str = "imagenet"
    rebalance_lambda: float = 0.5
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
        if self.model not in RECIPES:
            trainable = ", ".join(RECIPES)
            problem = (f"Model {self.model!r} is not trained on its own"
                       if self.model in models.BUILDERS else f"Unknown model {self.model!r}")
            raise ValueError(f"{problem}; train one of: {trainable}.")
        recipe = recipe_for(self.model, self.model_args)
        for key in ("optimizer", "learning_rate", "beta_1", "beta_2", "weight_decay", "loss",
                    "image_size"):
            if getattr(self, key) is None and key in recipe:
                setattr(self, key, recipe[key])
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}.")
        if self.precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}.")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}.")
        if recipe["target"] == "ab" and self.loss not in _REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {_REGRESSION_LOSSES}, got {self.loss!r}.")
        if self.prior not in ("imagenet", "data", "none"):
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
        if not 0.0 <= self.rebalance_lambda <= 1.0:
            raise ValueError(f"rebalance_lambda must be in [0, 1], got {self.rebalance_lambda}.")
        self._check_sizes()

    def _check_sizes(self) -> None:
        """Image size and width, up front: a multiple of the model's stride, within bounds."""
        models.check_width(self.model_args.get("width", 1.0))  # before anything is built
        multiple = models.side_multiple(self.model, self.model_args)
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

        Numbers written as YAML strings (PyYAML reads ``3e-5`` as text) are converted."""
        def fail(key: str, wanted: str) -> None:
            value = getattr(self, key)
            raise ValueError(
                f"Training option {key} must be {wanted}, got {value!r} "
                f"({type(value).__name__})."
            )

        for f in dataclasses.fields(self):
            key, value = f.name, getattr(self, f.name)
            optional = "None" in str(f.type)
            if value is None:
                if not optional:
                    fail(key, f"set ({f.type})")
                continue
            if key in _INT_OPTIONS:
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                    fail(key, "a whole number")
                setattr(self, key, int(value))
            elif key in _FLOAT_OPTIONS:
                try:
                    number = float(value) if isinstance(value, str) else value
                except ValueError:
                    number = None
                if isinstance(number, (bool, np.bool_)) or not isinstance(number, numbers.Real) \
                        or not np.isfinite(number):
                    fail(key, "a finite number")
                setattr(self, key, float(number))
            elif key in _BOOL_OPTIONS:
                if not isinstance(value, (bool, np.bool_)):
                    fail(key, "true or false")
                setattr(self, key, bool(value))
            elif key == "model_args":
                if not isinstance(value, dict):
                    fail(key, "a mapping of builder arguments, e.g. {width: 0.25}")
            elif not isinstance(value, str):
                fail(key, "text")
        if self.model in models.BUILDERS:
            parameters = inspect.signature(models.BUILDERS[self.model]).parameters
            known = {n for n, p in parameters.items() if p.kind != p.VAR_KEYWORD}
            unknown = sorted(set(self.model_args) - known)
            if unknown and len(known) == len(parameters):  # no **kwargs
                raise ValueError(
                    f"model_args {', '.join(map(repr, unknown))} is not an argument of "
                    f"{self.model}; its arguments are: {', '.join(sorted(known))}."
                )

    @property
    def target(self) -> str:
        """The make_dataset target of this model's recipe."""
        return recipe_for(self.model, self.model_args)["target"]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """A config from a dict (a YAML file), refusing keys it does not know."""
        import difflib

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


def load_config(path: str | os.PathLike) -> TrainConfig:
    """Reads a YAML training config (the keys of :class:`TrainConfig`)."""
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
    return TrainConfig.from_dict(values)


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


@dataclasses.dataclass
class TrainResult:
    """The outcome of :func:`train`: the model, the run folder, and the per-epoch history."""

    model: keras.Model
    run_dir: pathlib.Path
    history: dict
    resumed_from_step: int
    steps: int


# === Devices and precision ====================================================================


def choose_strategy() -> tf.distribute.Strategy:
    """TPUStrategy on a TPU, MirroredStrategy over several GPUs, else the default strategy."""
    if os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME") or \
            tf.config.list_logical_devices("TPU"):
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def choose_precision(precision: str = "auto", strategy: Any = None) -> str:
    """The Keras dtype policy: "auto" is mixed_bfloat16 on TPU, mixed_float16 on GPU, else
    float32 (a CPU gains nothing from float16, and loses accuracy)."""
    if precision != "auto":
        return precision
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_logical_devices("GPU"):
        return "mixed_float16"
    return "float32"


# === Optimiser and loss =======================================================================


def make_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """The config's optimiser, with a constant or cosine learning rate."""
    rate: Any = float(config.learning_rate)
    if config.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, max(1, int(total_steps)))
    decay = config.weight_decay or None
    if config.optimizer == "adam":
        return keras.optimizers.Adam(
            rate, beta_1=config.beta_1 if config.beta_1 is not None else 0.9,
            beta_2=config.beta_2 if config.beta_2 is not None else 0.999, weight_decay=decay,
        )
    if config.optimizer == "adadelta":
        return keras.optimizers.Adadelta(rate, weight_decay=decay)
    return keras.optimizers.SGD(rate, momentum=config.momentum or 0.0, weight_decay=decay)


def compile_for(
    model: keras.Model, config: TrainConfig, optimizer: Any, prior: np.ndarray | None = None,
) -> None:
    """Compiles ``model`` with the recipe's loss for ``config``.

    Args:
        prior: For the Zhang recipe: the (Q,) ab prior whose rebalancing weights the loss
            uses (None: plain cross-entropy).
    """
    jit = "auto" if config.xla is None else bool(config.xla)
    if config.target == "soft":
        weights = None
        if prior is not None:
            from colorlab.rebalance import rebalance_weights

            weights = rebalance_weights(prior, lam=config.rebalance_lambda)
        loss = losses.RebalancedCrossEntropy(weights, sparse=True)
        model.compile(optimizer, loss=loss, jit_compile=jit)
    elif config.target == "ab+class":
        model.compile(optimizer, **models.joint_loss(), jit_compile=jit)
    else:
        norm = {"mse": "l2", "l1": "l1", "huber": "huber"}[config.loss]
        # Huber's switch at 0.1 of the model's ab / 110 units: 11 ab units.
        model.compile(optimizer, loss=losses.ABRegression(norm, delta=0.1), jit_compile=jit)


# === The run ==================================================================================


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = True,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
    data_dir: str | os.PathLike | None = None,
) -> TrainResult:
    """Trains ``config.model`` on ``config.data`` into ``run_dir``, resuming if it can.

    Args:
        config: The run's settings.
        run_dir: The run folder (created). If it holds a checkpoint of the same config,
            training continues from it; ``epochs``, ``time_limit`` and ``max_steps`` may
            differ (train longer, or for another session's length).
        resume: False refuses a folder that already holds a run, instead of resuming.
        strategy: A tf.distribute strategy (default: :func:`choose_strategy`).
        verbose: Keras fit verbosity.
        data_dir: Cache folder of registry data sets.

    Returns:
        A :class:`TrainResult`.

    Raises:
        ValueError: ``run_dir`` holds a different run, a damaged state.json or another
            run's checkpoint, or no usable photos were found.
        RunInUse: another process is training in ``run_dir`` (the folder is locked).
        TrainingDiverged: the loss or a weight became NaN or infinite, or the loss
            exploded; the last good checkpoint is kept.
    """
    run_dir = pathlib.Path(run_dir)
    checkpoint = run_dir / "checkpoints" / "last.keras"
    # A config.yaml without a checkpoint is a start that failed before its first step (a
    # wrong data set, say): the corrected command simply starts afresh.
    if (run_dir / "model.keras").exists() and not checkpoint.exists():
        raise ValueError(
            f"{run_dir} holds a trained model.keras but no checkpoints/last.keras to resume "
            "from; train into a new folder."
        )
    fresh = not run_dir.exists()
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    try:
        return _train_in(config, run_dir, resume, strategy, verbose, data_dir)
    except TrainingDiverged:
        raise  # its folder holds the logs that show what happened
    except BaseException:
        # A start that failed before its first checkpoint leaves no half-made run folder.
        if fresh and not checkpoint.exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _train_in(config: TrainConfig, run_dir: pathlib.Path, resume: bool, strategy: Any,
              verbose: Any, data_dir: Any) -> "TrainResult":
    """:func:`train` once the run folder exists: lock it, check and read its state, train."""
    checkpoint = run_dir / "checkpoints" / "last.keras"
    saved_config = run_dir / "config.yaml"
    with _RunLock(run_dir):
        if checkpoint.exists() and not resume:
            raise ValueError(f"{run_dir} already holds a run; pick a new folder or resume it.")
        for name in ("checkpoints/last.keras", "model.keras", "state.json", "config.yaml",
                     "history.csv"):  # temporaries of a killed run (no one else writes here)
            remove_stale_temporaries(run_dir / name)
        if checkpoint.exists() and saved_config.exists():
            _check_same_run(load_config(saved_config), config, run_dir)
        state = _resume_state(run_dir) if checkpoint.exists() else {}
        mark_output_folder(run_dir, "training run")  # its sample figures never join a data set
        write_text_atomic(saved_config, yaml.safe_dump(config.to_dict(), sort_keys=False))
        return _train_locked(config, run_dir, state, strategy, verbose, data_dir)


def _train_locked(config: TrainConfig, run_dir: pathlib.Path, state: dict, strategy: Any,
                  verbose: Any, data_dir: Any) -> "TrainResult":
    """The run itself, with the run folder locked and its state read and checked."""
    from colorlab.data.pipeline import make_dataset

    checkpoint = run_dir / "checkpoints" / "last.keras"
    strategy = strategy or choose_strategy()
    policy = choose_precision(config.precision, strategy)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        # After a resume the photos are reshuffled, seeded by the step reached.
        start_hint = int(state.get("step", 0))
        train_data = make_dataset(
            config.data, split=config.train_split, training=True, image_size=config.image_size,
            target=config.target, batch_size=config.batch_size, cache=config.cache,
            labels="folder" if config.target == "ab+class" else None, data_dir=data_dir,
            seed=config.seed + start_hint, repeat=True,
        )
        _report_photos("Training", config.train_split, train_data.scan_report)
        photos = train_data.num_photos or config.batch_size
        steps_per_epoch = int(config.steps_per_epoch or max(1, photos // config.batch_size))
        stop = _stop_step(config, steps_per_epoch, verbose)
        epochs = -(-stop // steps_per_epoch)
        prior = _prior_for(config, data_dir)

        with strategy.scope():
            if checkpoint.exists():
                model = keras.models.load_model(checkpoint, safe_mode=True)
            else:
                keras.utils.set_random_seed(config.seed)
                model = models.build(config.model, **_model_args(config, train_data))
                compile_for(model, config, make_optimizer(config, epochs * steps_per_epoch),
                            prior)
        # Steps taken: the optimiser's count, unless state.json counts more (under
        # mixed_float16 a step skipped for an overflowing gradient leaves it unchanged).
        iterations = int(model.optimizer.iterations.numpy())
        if start_hint > 2 * iterations + 100:
            raise ValueError(
                f"{run_dir / 'state.json'} says step {start_hint}, but the checkpoint has "
                f"trained {iterations} steps; delete state.json to resume from the "
                "checkpoint's own count."
            )
        start = max(iterations, start_hint)
        if verbose:
            print(f"{'Resuming' if start else 'Starting'} {config.model} at step {start} of "
                  f"{stop} ({policy}, {strategy.num_replicas_in_sync} replica(s)).")

        val_data, sample_photos = _validation(config, data_dir)
        checkpointer = _StepCheckpoint(run_dir, config.checkpoint_every, steps_per_epoch, start,
                                       state)
        callbacks = [
            checkpointer,  # first: a diverged run writes no history row and no sample figure
            keras.callbacks.TensorBoard(str(run_dir / "logs"), update_freq="epoch"),
        ]
        if config.time_limit:
            callbacks.append(_TimeLimit(config.time_limit * 60.0))
        if sample_photos is not None:
            callbacks.append(_SampleColorizations(run_dir / "samples", sample_photos, config,
                                                  checkpointer))
        history: dict = {}
        phases = _phases(start, steps_per_epoch, stop)
        val_steps = None
        if val_data is not None:
            # Full batches only (a replica must never get an empty share): the photos repeat,
            # and each evaluation takes enough batches to see every one at least once.
            val_steps = -(-(val_data.num_photos or config.batch_size) // config.batch_size)
        for first, last, steps in phases:
            fit = model.fit(
                train_data, initial_epoch=first, epochs=last, steps_per_epoch=steps,
                validation_data=val_data, validation_steps=val_steps, callbacks=callbacks,
                verbose=verbose, shuffle=False,
            )
            for key, values in fit.history.items():
                history.setdefault(key, []).extend(values)
            if model.stop_training or checkpointer.step == start:
                break  # the time limit, a diverged loss, or no data
        if phases and checkpointer.step == start and checkpointer.diverged_at is None:
            raise RuntimeError(
                f"No training batch could be read from {config.data!r}: every photo "
                "failed to decode. Check the files (colorlab data prior lists skipped ones)."
            )
        if checkpointer.diverged_at is not None:
            kept = (f"{run_dir} keeps its last good checkpoint (step {checkpointer.saved_step})"
                    if checkpoint.exists() else "no checkpoint was saved")
            advice = "a lower learning_rate" + (" or precision float32"
                                                 if policy == "mixed_float16" else "")
            raise TrainingDiverged(
                f"Training diverged ({checkpointer.problem}) at step {checkpointer.diverged_at}; "
                f"the run stopped and {kept}. Train into a new folder with {advice}."
            )
        _save_atomic(model, run_dir / "model.keras")
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return TrainResult(model, run_dir, history, start, checkpointer.step)


# === Internals ================================================================================


def _phases(start: int, steps_per_epoch: int, stop: int) -> list[tuple[int, int, int]]:
    """The fit calls that train from step ``start`` to step ``stop``: (initial_epoch, epochs,
    steps_per_epoch) each. An interrupted epoch is finished first; whole epochs go in one
    call; a ``stop`` mid-epoch (``max_steps``) makes the last epoch a short one."""
    phases, step = [], start
    while step < stop:
        epoch, done = divmod(step, steps_per_epoch)
        whole = (stop - step) // steps_per_epoch if done == 0 else 0
        if whole:
            phases.append((epoch, epoch + whole, steps_per_epoch))
            step += whole * steps_per_epoch
        else:
            steps = min(steps_per_epoch - done, stop - step)
            phases.append((epoch, epoch + 1, steps))
            step += steps
    return phases


def _model_args(config: TrainConfig, train_data: Any) -> dict:
    args = dict(config.model_args)
    if config.model in ("vgg16_colorizer", "resnet_colorizer") and "weights" not in args:
        args["weights"] = None if config.model == "resnet_colorizer" else "imagenet"
    if config.model == "iizuka_two_stream" and "num_classes" not in args:
        names = getattr(train_data, "class_names", None) or []
        args["num_classes"] = max(2, len(names))
    return args


def _prior_for(config: TrainConfig, data_dir: Any) -> np.ndarray | None:
    if config.target != "soft" or config.prior == "none":
        return None
    if config.prior == "imagenet":
        from colorlab.rebalance import zhang_imagenet_prior

        return zhang_imagenet_prior()
    from colorlab.data import dataset_prior

    return dataset_prior(config.data, ColorBins.zhang313(), split=config.train_split,
                         image_size=config.image_size, data_dir=data_dir)


def _validation(config: TrainConfig, data_dir: Any) -> tuple[Any, np.ndarray | None]:
    """Validation batches (or None) and the photos sampled each epoch (uint8, or None)."""
    from colorlab.data.pipeline import make_dataset

    if config.val_split is None:
        return None, None
    try:
        source = config.data
        common = dict(training=False, split=config.val_split, image_size=config.image_size,
                      data_dir=data_dir)
        val = make_dataset(
            source, target=config.target, batch_size=config.batch_size,
            labels="folder" if config.target == "ab+class" else None, repeat=True,
            drop_remainder=True, **common,
        )
        photos = None
        if config.samples:
            rgb = make_dataset(source, target=None, batch_size=config.samples, **common)
            photos = np.round(next(iter(rgb)).numpy() * 255).astype(np.uint8)
    except ValueError as error:  # e.g. a split with no photos
        print(f"No validation: {error}")
        return None, None
    _report_photos("Validation", config.val_split, val.scan_report)
    return val, photos


def _check_same_run(saved: TrainConfig, new: TrainConfig, run_dir: pathlib.Path) -> None:
    a, b = saved.to_dict(), new.to_dict()
    for key in _HOW_LONG:  # how long to train may change; what, may not
        a.pop(key), b.pop(key)
    a["data"], b["data"] = source_key(a["data"]), source_key(b["data"])
    changed = sorted(k for k in a if a[k] != b[k])
    if changed:
        raise ValueError(
            f"{run_dir} holds a run with different settings ({', '.join(changed)}); resume it "
            "with its own config.yaml, or train into a new folder."
        )
    if saved.schedule == "cosine" and (saved.epochs, saved.max_steps) != (new.epochs,
                                                                          new.max_steps):
        raise ValueError(
            f"{run_dir} holds a run whose cosine schedule decays to 0 over its length "
            f"(epochs {saved.epochs}, max_steps {saved.max_steps}); it cannot be stretched "
            f"to epochs {new.epochs}, max_steps {new.max_steps}. Resume with the same "
            "length, or train into a new folder."
        )


def _report_photos(role: str, split: str | None, report: Any) -> None:
    """Prints which photos a run uses, how many, and which were skipped and why (a few by
    name): "Training photos (the 'train' split): 19 of 20 photos usable; ..."."""
    if report is None:
        return
    which = "every photo" if split is None else f"the {split!r} split"
    print(f"{role} photos ({which}): {report.summary()}.")
    shown = report.skipped[:5]
    for path, reason in shown:
        print(f"  skipped {printable(path)}: {reason}")
    if len(report.skipped) > len(shown):
        print(f"  ... and {len(report.skipped) - len(shown)} more (scan_images lists them "
              "all).")


def _stop_step(config: TrainConfig, steps_per_epoch: int, verbose: Any) -> int:
    """The step the run stops at: max_steps alone, epochs alone (default 10), or the first
    of the two (said aloud when max_steps is cut)."""
    if config.max_steps is None:
        return steps_per_epoch * (config.epochs or 10)
    if config.epochs is None:
        return config.max_steps
    by_epochs = steps_per_epoch * config.epochs
    if config.max_steps > by_epochs:
        print(f"max_steps {config.max_steps} is more than epochs {config.epochs} x "
              f"{steps_per_epoch} steps: the run stops at step {by_epochs} (raise epochs, or "
              "leave it out, to train longer).")
    return min(config.max_steps, by_epochs)


def _save_atomic(model: keras.Model, path: pathlib.Path) -> None:
    """Saves through a private temporary file: a kill mid-save never leaves a broken file."""
    with atomic_path(path, suffix=".keras") as partial:
        model.save(partial)


class RunInUse(RuntimeError):
    """Another process is training in the same run folder."""


class _RunLock:
    """An exclusive lock on a run folder while a run trains in it (``run_dir/lock``).

    The operating system holds the lock (``flock``; ``msvcrt.locking`` on Windows) and
    frees it when the process ends in any way, so a lock left by a killed run is
    recognised as stale and simply taken over. The file names the holder for the message.
    """

    def __init__(self, run_dir: pathlib.Path) -> None:
        self.path = run_dir / "lock"
        self.fd: int | None = None

    def __enter__(self) -> "_RunLock":
        if self.path.is_symlink():
            self.path.unlink()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            _lock_file(fd)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES,
                                   getattr(errno, "EDEADLOCK", errno.EAGAIN)):
                # A file system without locks (some network disks): train unlocked, and say so.
                print(f"warning: cannot lock {self.path} ({error.strerror}); make sure no "
                      "other run trains in this folder at the same time.", file=sys.stderr)
                self.fd = fd
                return self
            try:
                holder = os.read(fd, 512).decode("utf-8", "replace").strip() or "unknown"
            except OSError:  # Windows locks are mandatory: the holder's bytes are locked
                holder = "its process holds the lock"
            os.close(fd)
            raise RunInUse(
                f"{self.path.parent} is in use by another training run ({holder}); wait for "
                "it to finish, or train into another folder."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, (f"pid {os.getpid()} on {socket.gethostname()}, started "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}").encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None


def _lock_file(fd: int) -> None:
    """Takes an exclusive, non-blocking lock on an open file; OSError if another holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _resume_state(run_dir: pathlib.Path) -> dict:
    """state.json, checked as untrusted input, and tied to the checkpoint it describes.

    Returns:
        The state (``step`` and, when it recorded one, the epoch's ``history`` row) of the
        checkpoint in ``checkpoints/last.keras``.

    Raises:
        ValueError: state.json is missing or damaged, or the checkpoint is not the one this
            run saved (copied from another run).
    """
    path = run_dir / "state.json"
    fix = "delete the folder's checkpoints/ and state.json to start the run afresh"
    try:
        state = json.loads(check_regular_file(path, "run state").read_text(encoding="utf-8"),
                           parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise ValueError(f"{run_dir} holds a checkpoint but no state.json, so it cannot be "
                         f"told apart from another run's; {fix}.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is damaged ({error}); {fix}.") from None

    def valid(entry: Any) -> bool:
        step = entry.get("step") if isinstance(entry, dict) else None
        return (isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= 10**9
                and isinstance(entry.get("checkpoint_sha256", ""), str))

    if not valid(state):
        raise ValueError(f"{path} is damaged (it must hold a step from 0 to 10^9); {fix}.")
    if "checkpoint_sha256" not in state:  # written by colorlab 0.1.0: nothing to tie
        return {"step": state["step"]}
    from colorlab.data.download import sha256_of

    digest = sha256_of(run_dir / "checkpoints" / "last.keras")
    for entry in (state, state.get("previous")):
        if valid(entry) and entry.get("checkpoint_sha256") == digest:
            history = entry.get("history")
            return {"step": entry["step"], "epoch": entry.get("epoch"),
                    "checkpoint_sha256": digest, "best_loss": entry.get("best_loss"),
                    "history": history if isinstance(history, dict) else None}
    raise ValueError(
        f"{run_dir / 'checkpoints' / 'last.keras'} is not the checkpoint this run saved (its "
        f"sha256 differs from the one in state.json: copied from another run?); {fix}, or put "
        "the run's own checkpoint back."
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


class TrainingDiverged(RuntimeError):
    """The training loss or a weight became NaN or infinite; the last good checkpoint was
    kept."""


class _StepCheckpoint(keras.callbacks.Callback):
    """Counts steps; saves the model and optimiser every ``every`` steps and at each epoch
    end, and writes each finished epoch's row of ``history.csv``.

    Divergence: when the loss or a weight becomes NaN or infinite, or the loss (or, at an
    epoch's end, the validation loss) rises above :data:`EXPLOSION_FACTOR` times the lowest
    training loss so far, it stops training and saves nothing more, so the last checkpoint
    stays the last good one. (The loss of a step is computed before its update, so the
    weights are checked before each save too.)

    The step count is the batches trained, kept in ``state.json``: under mixed_float16 the
    optimiser's own count skips the steps whose gradients overflowed. state.json also holds
    the checkpoint's sha256 (and the previous one's: it is written before the checkpoint
    takes its name), which ties the checkpoint to this run, and the epoch's history row, so
    a kill between the checkpoint and the CSV row loses no row.
    """

    def __init__(self, run_dir: pathlib.Path, every: int, steps_per_epoch: int,
                 start: int, state: dict | None = None) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.every = int(every)
        self.steps_per_epoch = steps_per_epoch
        self.step = self.saved_step = int(start)
        self.diverged_at: int | None = None
        self.problem = ""
        state = state or {}
        best = state.get("best_loss")
        self.best_loss = float(best) if isinstance(best, (int, float)) and np.isfinite(best) \
            else np.inf
        # The checkpoint on disk: the "previous" entry of the next save, so a kill between
        # that save's state.json and its rename still resumes.
        self.saved: dict = dict(state) if state.get("checkpoint_sha256") else {}
        history = state.get("history")
        if history:  # the row of the epoch the checkpoint ended, if the CSV lacks it
            _append_history(run_dir / "history.csv", history, only_if_missing=True)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.step += 1
        loss = (logs or {}).get("loss")
        if loss is not None:
            loss = float(loss)
            if not np.isfinite(loss):
                self._diverged(f"the loss became {loss}")
                return
            if loss > EXPLOSION_FACTOR * self.best_loss and loss > self.best_loss + 1.0:
                self._diverged(f"the loss exploded to {loss:.3g}, from {self.best_loss:.3g}")
                return
            self.best_loss = min(self.best_loss, loss)
        if self.step % self.every == 0:
            self._save()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs = dict(logs or {})
        val = logs.get("val_loss")
        if val is not None and self.diverged_at is None:
            val = float(val)
            if not np.isfinite(val) or (val > EXPLOSION_FACTOR * self.best_loss
                                        and val > self.best_loss + 1.0):
                self._diverged(f"the validation loss became {val:.3g}")
        if self.diverged_at is not None:
            return
        row = {"epoch": int(epoch), **{k: float(v) if np.isfinite(v) else None
                                       for k, v in logs.items()
                                       if isinstance(v, (int, float, np.floating))}}
        self._save(row)
        if self.diverged_at is None:
            _append_history(self.run_dir / "history.csv", row)

    def _diverged(self, problem: str) -> None:
        if self.diverged_at is None:
            self.diverged_at, self.problem = self.step, problem
        self.model.stop_training = True

    def _save(self, row: dict | None = None) -> None:
        from colorlab.data.download import sha256_of

        if self.diverged_at is not None:
            return
        if self.step == self.saved_step:
            if row is not None and self.saved:  # saved at this step already: add the row
                self.saved = {**self.saved, "history": row}
                write_text_atomic(self.run_dir / "state.json",
                                  json.dumps(self.saved, allow_nan=False))
            return
        if not all(np.isfinite(keras.ops.convert_to_numpy(v)).all()
                   for v in self.model.weights):
            self._diverged("a weight became NaN or infinite")
            return
        checkpoint = self.run_dir / "checkpoints" / "last.keras"
        with atomic_path(checkpoint, suffix=".keras") as partial:
            self.model.save(partial)
            state = {
                "step": self.step, "epoch": self.step / self.steps_per_epoch,
                "checkpoint_sha256": sha256_of(partial),
                "best_loss": self.best_loss if np.isfinite(self.best_loss) else None,
                "history": row,
                # Written before the checkpoint takes its name: a kill in between leaves
                # the previous checkpoint, which this entry still describes.
                "previous": {k: v for k, v in self.saved.items() if k != "previous"} or None,
            }
            write_text_atomic(self.run_dir / "state.json", json.dumps(state, allow_nan=False))
        self.saved = state
        self.saved_step = self.step


def _append_history(path: pathlib.Path, row: dict, only_if_missing: bool = False) -> None:
    """Appends an epoch's row to history.csv (columns: epoch, then the metrics, sorted),
    rewriting the file when a row brings new columns. With ``only_if_missing``, a row whose
    epoch is already there is not written again."""
    import csv

    rows: list[dict] = []
    if path.exists():
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    if only_if_missing and any(r.get("epoch") == str(row["epoch"]) for r in rows):
        return
    columns = ["epoch", *sorted({k for r in [*rows, row] for k in r} - {"epoch"})]
    known = list(rows[0].keys()) if rows else None
    if known == columns:
        with open(path, "a", newline="") as handle:
            csv.DictWriter(handle, columns).writerow(row)
        return
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="")
    writer.writeheader()
    writer.writerows([*rows, row])
    write_text_atomic(path, buffer.getvalue())


class _TimeLimit(keras.callbacks.Callback):
    """Stops training once ``seconds`` have passed (checked after every step)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.start = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True


class _SampleColorizations(keras.callbacks.Callback):
    """After each epoch, writes gray | colorized | truth for the same held-out photos."""

    def __init__(self, folder: pathlib.Path, photos: np.ndarray, config: TrainConfig,
                 checkpointer: _StepCheckpoint) -> None:
        super().__init__()
        self.folder = folder
        self.photos = photos
        self.size = config.image_size  # colorize rounds it to the models' multiple
        self.checkpointer = checkpointer  # knows whether the run has diverged

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.checkpointer.diverged_at is not None:
            return  # a diverged model colorizes nothing worth a figure
        from colorlab.colorize import colorize, gray_rgb
        from colorlab.plot import save_comparison

        results = [colorize(self.model, photo, render_size=self.size) for photo in self.photos]
        gray = [gray_rgb(photo) for photo in self.photos]
        # Marked too: with train --out DATA the run folder is the data folder.
        mark_output_folder(self.folder, "training samples")
        save_comparison(
            self.folder / f"epoch_{epoch + 1:03d}.png",
            {"gray input": gray, f"epoch {epoch + 1}": results, "ground truth": self.photos},
        )

