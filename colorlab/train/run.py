"""The run: :func:`train` trains a :class:`TrainConfig` into a run folder, resuming if it can.

Precision and devices: ``precision="auto"`` trains in mixed_float16 on a GPU,
mixed_bfloat16 on a TPU and float32 on a CPU (every model keeps its output layer in float32,
so logits, softmax and losses stay float32). The distribution strategy is chosen from the
devices: TPUStrategy, MirroredStrategy over several GPUs, else the default.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np
import tensorflow as tf
import yaml

from colorlab import losses, models
from colorlab.data.pipeline import dataset_prior, make_dataset
from colorlab.data.registry import source_key
from colorlab.data.sources import resolve
from colorlab.data.photos import mark_output_folder
from colorlab.files import printable, remove_stale_temporaries, write_text_atomic
from colorlab.quantize import ColorBins
from colorlab.rebalance import rebalance_weights, zhang_imagenet_prior
from colorlab.train.callbacks import SampleColorizations, StepCheckpoint, TimeLimit
from colorlab.train.config import HOW_LONG, TrainConfig, load_config
from colorlab.train.folder import RunLock, TrainingDiverged, resume_state, save_atomic
from colorlab.train.penalty import apply_kernel_penalty, data_loss_metric

__all__ = ["TrainResult", "choose_precision", "choose_strategy", "compile_for",
           "loss_arguments", "make_optimizer", "train"]


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
    """Compiles ``model`` with the config's loss (the method's by default).

    Args:
        prior: For the rebalanced loss: the (Q,) ab prior whose rebalancing weights it uses
            (None: plain cross-entropy).
    """
    jit = "auto" if config.xla is None else bool(config.xla)
    arguments = loss_arguments(config, prior)
    if (config.kernel_l1 or config.kernel_l2) and not isinstance(arguments["loss"], dict):
        arguments["metrics"] = [data_loss_metric(arguments["loss"])]  # loss minus penalty
    model.compile(optimizer, **arguments, jit_compile=jit)


def loss_arguments(config: TrainConfig, prior: np.ndarray | None = None) -> dict:
    """The ``compile`` arguments of the config's loss (one of ``colorlab.models.LOSSES``)."""
    if config.loss == "rebalanced":
        weights = None if prior is None else rebalance_weights(prior, lam=config.rebalance_lambda)
        return {"loss": losses.RebalancedCrossEntropy(weights, sparse=True)}
    if config.loss == "joint":
        return models.joint_loss()
    norm = {"mse": "l2", "l1": "l1", "huber": "huber"}[config.loss]
    # Huber's switch at 0.1 of the model's ab / 110 units: 11 ab units.
    return {"loss": losses.ABRegression(norm, delta=0.1)}


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
    with RunLock(run_dir):
        if checkpoint.exists() and not resume:
            raise ValueError(f"{run_dir} already holds a run; pick a new folder or resume it.")
        for name in ("checkpoints/last.keras", "model.keras", "state.json", "config.yaml",
                     "history.csv"):  # temporaries of a killed run (no one else writes here)
            remove_stale_temporaries(run_dir / name)
        if checkpoint.exists() and saved_config.exists():
            _check_same_run(load_config(saved_config), config, run_dir)
        state = resume_state(run_dir) if checkpoint.exists() else {}
        mark_output_folder(run_dir, "training run")  # its sample figures never join a data set
        write_text_atomic(saved_config, yaml.safe_dump(config.to_dict(), sort_keys=False))
        return _train_locked(config, run_dir, state, strategy, verbose, data_dir)


def _train_locked(config: TrainConfig, run_dir: pathlib.Path, state: dict, strategy: Any,
                  verbose: Any, data_dir: Any) -> "TrainResult":
    """The run itself, with the run folder locked and its state read and checked."""
    checkpoint = run_dir / "checkpoints" / "last.keras"
    method = config.method
    strategy = strategy or choose_strategy()
    policy = choose_precision(config.precision, strategy)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        # After a resume the photos are reshuffled, seeded by the step reached.
        start_hint = int(state.get("step", 0))
        train_data = make_dataset(
            config.data, split=config.train_split, training=True, image_size=config.image_size,
            target=config.training_target, batch_size=config.batch_size, cache=config.cache,
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
                arguments = dict(config.model_args)
                if method.training_arguments is not None:
                    arguments = method.training_arguments(arguments, train_data.photo_set)
                model = method.builder(**arguments)
                if not isinstance(model, models.BuiltModel):
                    raise ValueError(
                        f"The builder of {config.model} returned a {type(model).__name__}; a "
                        "method's builder returns models.BuiltModel(inputs, outputs, "
                        "builder=NAME, arguments=ARGS), so its .keras file reloads and "
                        "colorize knows the method."
                    )
                compile_for(model, config, make_optimizer(config, epochs * steps_per_epoch),
                            prior)
            # Not saved with the model: set again on every start and resume.
            apply_kernel_penalty(model, config.kernel_l1, config.kernel_l2)
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
        checkpointer = StepCheckpoint(run_dir, config.checkpoint_every, steps_per_epoch, start,
                                       state)
        callbacks = [
            checkpointer,  # first: a diverged run writes no history row and no sample figure
            keras.callbacks.TensorBoard(str(run_dir / "logs"), update_freq="epoch"),
        ]
        if config.time_limit:
            callbacks.append(TimeLimit(config.time_limit * 60.0))
        if sample_photos is not None:
            callbacks.append(SampleColorizations(run_dir / "samples", sample_photos, config,
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
        save_atomic(model, run_dir / "model.keras")
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


def _prior_for(config: TrainConfig, data_dir: Any) -> np.ndarray | None:
    if config.prior in (None, "none"):
        return None
    if config.prior == "imagenet":
        return zhang_imagenet_prior()
    return dataset_prior(config.data, ColorBins.zhang313(), split=config.train_split,
                         image_size=config.image_size, data_dir=data_dir)


def _validation(config: TrainConfig, data_dir: Any) -> tuple[Any, np.ndarray | None]:
    """Validation batches (or None) and the photos sampled each epoch (uint8, or None)."""
    if config.val_split is None:
        return None, None
    labels = "folder" if config.target == "ab+class" else None
    photo_set = resolve(config.data, config.val_split, labels=labels, data_dir=data_dir)
    if photo_set.count == 0:  # a small folder's hash split can leave "val" empty
        summary = photo_set.report.summary() if photo_set.report is not None else "no photos"
        print(f"No validation: {photo_set.description} has no usable photos ({summary}).")
        return None, None
    common = dict(training=False, image_size=config.image_size, data_dir=data_dir)
    val = make_dataset(photo_set, target=config.training_target, batch_size=config.batch_size,
                       repeat=True, drop_remainder=True, **common)
    photos = None
    if config.samples:
        rgb = make_dataset(photo_set, target=None, batch_size=config.samples, **common)
        photos = np.round(next(iter(rgb)).numpy() * 255).astype(np.uint8)
    _report_photos("Validation", config.val_split, val.scan_report)
    return val, photos


def _check_same_run(saved: TrainConfig, new: TrainConfig, run_dir: pathlib.Path) -> None:
    a, b = saved.to_dict(), new.to_dict()
    for key in HOW_LONG:  # how long to train may change; what, may not
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


