"""Training: Keras ``fit`` with each method's defaults, a run folder, and resuming.

:func:`train` runs a :class:`TrainConfig` into a run folder (see
:mod:`colorlab.train.folder` for its layout). Run it again with the same folder and it
resumes from ``checkpoints/last.keras``: a Colab disconnect or a killed process loses at
most the steps since that checkpoint.

- :mod:`colorlab.train.config`: :class:`TrainConfig` (a method's defaults filled in, the
  options it ignores refused) and its YAML file.
- :mod:`colorlab.train.run`: :func:`train`; devices, precision, the optimiser and the loss.
- :mod:`colorlab.train.callbacks`: step checkpoints with divergence checks, a time limit,
  sample colorizations.
- :mod:`colorlab.train.folder`: the run folder's lock, its checked state, atomic saves.
"""

from colorlab.train.config import (
    MAX_IMAGE_SIZE,
    MIN_IMAGE_SIZE,
    TrainConfig,
    load_config,
    read_config,
    safe_yaml,
)
from colorlab.train.folder import RunInUse, TrainingDiverged
from colorlab.train.run import (
    TrainResult,
    choose_precision,
    choose_strategy,
    compile_for,
    loss_arguments,
    make_optimizer,
    train,
)

__all__ = [
    "MAX_IMAGE_SIZE",
    "MIN_IMAGE_SIZE",
    "RunInUse",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "choose_precision",
    "choose_strategy",
    "compile_for",
    "load_config",
    "loss_arguments",
    "make_optimizer",
    "read_config",
    "safe_yaml",
    "train",
]
