"""The callbacks of a training run: step checkpoints with divergence checks, a time limit,
and sample colorizations after each epoch."""

from __future__ import annotations

import csv
import io
import json
import pathlib
import time
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np

from colorlab.colorize import colorize, gray_rgb
from colorlab.data.download import sha256_of
from colorlab.data.photos import mark_output_folder
from colorlab.files import atomic_path, write_text_atomic
from colorlab.plot import save_comparison

__all__ = ["EXPLOSION_FACTOR", "SampleColorizations", "StepCheckpoint", "TimeLimit",
           "append_history"]

#: A loss (or validation loss) this many times the lowest training loss so far means the
#: run has diverged, even while it is finite: the run stops and keeps its last good
#: checkpoint.
EXPLOSION_FACTOR = 1000.0


class StepCheckpoint(keras.callbacks.Callback):
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
            append_history(run_dir / "history.csv", history, only_if_missing=True)

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
            append_history(self.run_dir / "history.csv", row)

    def _diverged(self, problem: str) -> None:
        if self.diverged_at is None:
            self.diverged_at, self.problem = self.step, problem
        self.model.stop_training = True

    def _save(self, row: dict | None = None) -> None:
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


def append_history(path: pathlib.Path, row: dict, only_if_missing: bool = False) -> None:
    """Appends an epoch's row to history.csv (columns: epoch, then the metrics, sorted),
    rewriting the file when a row brings new columns. With ``only_if_missing``, a row whose
    epoch is already there is not written again."""
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
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="")
    writer.writeheader()
    writer.writerows([*rows, row])
    write_text_atomic(path, buffer.getvalue())


class TimeLimit(keras.callbacks.Callback):
    """Stops training once ``seconds`` have passed (checked after every step)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.start = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True


class SampleColorizations(keras.callbacks.Callback):
    """After each epoch, writes gray | colorized | truth for the same held-out photos."""

    def __init__(self, folder: pathlib.Path, photos: np.ndarray, config: Any,
                 checkpointer: StepCheckpoint) -> None:
        super().__init__()
        self.folder = folder
        self.photos = photos
        self.size = config.image_size  # colorize rounds it to the models' multiple
        self.checkpointer = checkpointer  # knows whether the run has diverged

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.checkpointer.diverged_at is not None:
            return  # a diverged model colorizes nothing worth a figure
        results = [colorize(self.model, photo, render_size=self.size) for photo in self.photos]
        gray = [gray_rgb(photo) for photo in self.photos]
        # Marked too: with train --out DATA the run folder is the data folder.
        mark_output_folder(self.folder, "training samples")
        save_comparison(
            self.folder / f"epoch_{epoch + 1:03d}.png",
            {"gray input": gray, f"epoch {epoch + 1}": results, "ground truth": self.photos},
        )

