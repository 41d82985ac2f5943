"""Running a grid: every (variant, seed) trains into its own run folder, then all are scored.

The output folder::

    runs/ablation/
      grid.yaml                 the grid as run (size chosen, defaults filled in)
      runs/<variant>/seed_<k>/  a training run folder (colorlab.train) plus
                                ablation.json (its status, steps, timing) and
                                scores.json (its metrics on the held-out photos)
      results.csv               one row per run
      summary.md                per variant: mean +- spread over seeds, differences from base
      metrics.png, losses.png, samples.png

Interrupt it at any point and run the same command again: finished runs are reused (their
settings are checked against the grid's, so a changed grid never mixes runs of two
settings), an interrupted run resumes from its last checkpoint, and scores are cached per
run. A run that diverges is recorded as diverged and the grid goes on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys
import time
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import numpy as np
import yaml

from colorlab.ablate.grid import Grid, Variant, default_size, load_grid
from colorlab.ablate.figures import save_losses, save_metrics
from colorlab.ablate.summary import METRICS, markdown, read_history, summarize, write_csv
from colorlab.colorize import colorize, gray_rgb
from colorlab.data.download import sha256_of
from colorlab.data.photos import mark_output_folder
from colorlab.data.registry import source_key
from colorlab.data.sources import split_files
from colorlab.evaluate import evaluate, load_photos, mean_ab
from colorlab.files import printable, write_text_atomic
from colorlab.models import load_model
from colorlab.plot import save_comparison
from colorlab.train import TrainConfig, TrainingDiverged, train
from colorlab.train.config import HOW_LONG, load_config

__all__ = ["Ablation", "check", "run", "run_folder", "write_results"]

#: Photos of the training split the mean-colour baseline is taken from (as in evaluate).
_MEAN_PHOTOS = 500
#: Held-out photos shown in samples.png.
SAMPLE_PHOTOS = 4


@dataclasses.dataclass
class Ablation:
    """The outcome of :func:`run`.

    Attributes:
        grid: The grid run.
        out: Its output folder.
        records: One dict per run (the rows of ``results.csv``): variant, seed, status
            ("finished", "diverged" or "unfinished"), steps, seconds, photos_per_second,
            the metrics, train_loss, val_loss, run_dir.
        baselines: The gray and mean-colour rows on the same photos, and the ground
            truth's colorfulness ("truth_colorfulness").
        summary: Per variant: mean and spread of every metric over its finished seeds,
            and each difference from base (:func:`colorlab.ablate.summary.summarize`).
        paths: The files written.
        samples: {variant: colorizations of the first held-out photos by its first
            finished seed}, plus "gray input" and "ground truth".
        notes: Lines for the summary: how many photos were scored, and any warning.
    """

    grid: Grid
    out: pathlib.Path
    records: list[dict]
    baselines: dict
    summary: list[dict]
    paths: dict
    samples: dict
    notes: list = dataclasses.field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every run of the grid has finished or diverged."""
        return all(r["status"] != "unfinished" for r in self.records)

    def markdown(self) -> str:
        """summary.md's text."""
        return self.paths["summary"].read_text(encoding="utf-8")


def run_folder(out: str | os.PathLike, variant: Variant, seed: int) -> pathlib.Path:
    """The run folder of one (variant, seed) inside an ablation's output folder."""
    return pathlib.Path(out) / "runs" / variant.slug / f"seed_{seed}"


def run(grid: Grid | str | os.PathLike | dict, out: str | os.PathLike, *,
        size: str | None = None, data: str | None = None, train_runs: bool = True,
        data_dir: str | os.PathLike | None = None, verbose: int | str = 2) -> Ablation:
    """Trains every (variant, seed) of a grid, scores each on the same held-out photos, and
    writes the table, the summary and the figures (see the module docstring).

    Args:
        grid: A :class:`Grid`, or what :func:`~colorlab.ablate.grid.load_grid` reads (a
            YAML file, a shipped grid's name, a dict).
        out: The output folder (created; run again with the same folder to resume).
        size: The grid's named size ("quick", "cpu", "gpu"), when ``grid`` is not a Grid;
            None does what the command line does: "gpu" with a GPU, else "cpu", for a grid
            that has those sizes (:func:`~colorlab.ablate.grid.default_size`).
        data: Train on this data set or folder instead of the grid's.
        train_runs: False scores and summarises the runs already trained, training none.
        data_dir: Cache folder of registry data sets.
        verbose: Keras fit verbosity of each run.

    Returns:
        An :class:`Ablation`.

    Raises:
        ValueError: a mistake in the grid, no photos to score, a run folder trained with
            other settings; all found before anything trains.
    """
    if not isinstance(grid, Grid):
        grid = load_grid(grid, size or default_size(grid), data=data)
    out = pathlib.Path(out)
    files, overlap = check(grid, out, data_dir)
    for line in overlap:
        print(f"warning: {line}", file=sys.stderr)
    mark_output_folder(out, "ablation")
    write_text_atomic(out / "grid.yaml", yaml.safe_dump(_as_written(grid), sort_keys=False))

    records = []
    for number, (variant, seed) in enumerate(grid.runs, start=1):
        if train_runs and verbose:
            print(f"[{number}/{len(grid.runs)}] {variant.label}, seed {seed}", flush=True)
        records.append(_train_one(grid, out, variant, seed, train_runs, verbose, data_dir))

    photos, names = load_photos(files, grid.eval_size)
    if not photos:
        raise ValueError(f"None of the {len(files)} photos to score could be read (or all are "
                         "near-gray); score another split (evaluate: split).")
    mean = _mean_colour(grid, files, data_dir)
    baselines = {}
    for record, (variant, seed) in zip(records, grid.runs):
        if record["status"] == "finished":
            scores, baselines = _score(record, grid.config(variant, seed), grid, photos,
                                       names, mean, files)
            record.update(scores)
    if not baselines:  # nothing finished yet: the baselines alone
        baselines = _baselines(evaluate({}, photos, names=names, mean_color=mean))
    samples = _samples(grid, records, photos[:SAMPLE_PHOTOS])
    summary = summarize(records, [v.label for v in grid.variants],
                        [v.label for v in grid.variants[1:] if not _same_loss(grid, v)])
    notes = [f"{len(photos)} photos scored.", *[f"Warning: {line}" for line in overlap]]
    if len(files) > len(photos):
        notes[0] = (f"{len(photos)} photos scored ({len(files) - len(photos)} of the split's "
                    f"first {len(files)} left out: unreadable or near-gray).")
    if grid.size == "quick":
        notes.append("Quick size: a few steps on a few photos, to check the machinery; the "
                     "numbers mean nothing.")
    result = Ablation(grid, out, records, baselines, summary, {}, samples, notes)
    result.paths = write_results(result)
    return result


def write_results(result: Ablation) -> dict[str, pathlib.Path]:
    """Writes results.csv, summary.md and the figures into the ablation's folder."""
    out = result.out
    paths = {"results": out / "results.csv", "summary": out / "summary.md",
             "metrics": out / "metrics.png", "losses": out / "losses.png",
             "samples": out / "samples.png"}
    write_csv(paths["results"], result.records)
    write_text_atomic(paths["summary"], markdown(result.grid, result.records, result.summary,
                                                 result.baselines, result.notes))
    save_metrics(paths["metrics"], result)
    save_losses(paths["losses"], result)
    if len(result.samples) > 2:  # some variant has a finished run
        save_comparison(paths["samples"], result.samples)
    else:
        paths.pop("samples")
    return paths


def check(grid: Grid, out: str | os.PathLike | None = None,
          data_dir: str | os.PathLike | None = None) -> tuple[list[pathlib.Path], list[str]]:
    """Everything :func:`run` checks before it trains, without training or writing anything:
    every variant's training photos exist, the photos to score exist, and no run folder in
    ``out`` was trained with other settings than the grid's.

    Returns:
        (the files scored, warnings: scored photos that some variant trains on).

    Raises:
        ValueError: what is wrong, and what to do.
    """
    trained = _check_training_photos(grid, data_dir)
    files = _scored_files(grid, data_dir)
    if out is not None:
        changed = [problem for variant, seed in grid.runs
                   for problem in [_check_folder(run_folder(out, variant, seed),
                                                 grid.config(variant, seed), grid)] if problem]
        if changed:
            more = f" (and {len(changed) - 1} more run folders)" if len(changed) > 1 else ""
            raise ValueError(f"{changed[0]}{more}; run the grid into another --out, or delete "
                             f"{printable(pathlib.Path(out) / 'runs')} to train it afresh.")
    scored = set(files)
    warnings = []
    for label, files_trained in trained.items():
        both = scored & files_trained
        if both:
            warnings.append(f"{len(both)} of the {len(files)} photos scored are training "
                            f"photos of {label}: its scores are not held-out scores (score "
                            "another split under evaluate).")
    return files, warnings


# === One run ==================================================================================


def _train_one(grid: Grid, out: pathlib.Path, variant: Variant, seed: int, train_runs: bool,
               verbose: Any, data_dir: Any) -> dict:
    """Trains (or resumes, or reuses) one run; returns its record."""
    run_dir = run_folder(out, variant, seed)
    config = grid.config(variant, seed)
    record = _read_record(run_dir) or {"steps": 0, "seconds": 0.0, "trained": 0,
                                       "status": "unfinished"}
    if record["status"] == "finished" and record["steps"] < grid.steps:
        record["status"] = "unfinished"  # a longer budget: it trains on
    if record["status"] != "unfinished" and train_runs and verbose:
        print(f"  {record['status']} earlier: reused", flush=True)
    if record["status"] == "unfinished" and train_runs:
        started = time.monotonic()
        try:
            result = train(config, run_dir, verbose=verbose, data_dir=data_dir)
            trained = result.steps - result.resumed_from_step
            record.update(steps=result.steps, problem="",
                          status="finished" if result.steps >= grid.steps else "unfinished")
        except TrainingDiverged as error:
            trained = 0
            record.update(status="diverged", problem=" ".join(str(error).split()))
            print(f"  {variant.label}, seed {seed}: diverged; the grid goes on.", flush=True)
        record["seconds"] = round(float(record["seconds"]) + time.monotonic() - started, 2)
        record["trained"] = int(record["trained"]) + trained
        write_text_atomic(run_dir / "ablation.json", json.dumps(record, indent=1))
    seconds = float(record["seconds"])
    speed = record["trained"] * config.batch_size / seconds if seconds else float("nan")
    losses = read_history(run_dir / "history.csv")
    row = {key: float("nan") for key in METRICS}
    row.update(losses, photos_per_second=speed)
    return {"variant": variant.label, "seed": seed, "status": record["status"],
            "steps": int(record["steps"]), "seconds": seconds, **row,
            "problem": record.get("problem", ""), "run_dir": str(run_dir)}


def _read_record(run_dir: pathlib.Path) -> dict | None:
    path = run_dir / "ablation.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["status"] not in ("finished", "diverged", "unfinished"):
            raise ValueError(record["status"])
        float(record["seconds"]), int(record["steps"]), int(record["trained"])
        return record
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is damaged ({error}); delete it and run the grid again (the "
                         "run resumes from its checkpoint).") from None


def _check_folder(run_dir: pathlib.Path, config: TrainConfig, grid: Grid) -> str | None:
    """What is wrong with a run folder for this grid (trained with other settings, or for
    longer than its budget), or None."""
    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        return None
    saved = load_config(saved_path).to_dict()
    wanted = config.to_dict()
    for key in HOW_LONG:
        saved.pop(key), wanted.pop(key)
    saved["data"], wanted["data"] = source_key(saved["data"]), source_key(wanted["data"])
    changed = sorted(key for key in wanted if saved.get(key) != wanted[key])
    if changed:
        values = ", ".join(f"{key} {saved.get(key)!r} -> {wanted[key]!r}" for key in changed)
        return f"{printable(run_dir)} was trained with other settings than the grid's ({values})"
    record = _read_record(run_dir)
    if record and record["steps"] > grid.steps:
        return (f"{printable(run_dir)} has trained {record['steps']} steps, more than the "
                f"grid's budget of {grid.steps}")
    return None


# === Scoring ==================================================================================


def _scored_files(grid: Grid, data_dir: Any) -> list[pathlib.Path]:
    try:
        files = split_files(grid.eval_data, grid.eval_split, data_dir)
    except ValueError as error:
        raise ValueError(f"The photos to score: {error}") from None
    if not files:
        raise ValueError(f"The {grid.eval_split!r} split of {grid.eval_data!r} holds no photos "
                         "to score; name another split under evaluate (split: val, say).")
    return files[: grid.eval_photos]


def _check_training_photos(grid: Grid, data_dir: Any) -> dict[str, set]:
    """Every variant's training split holds photos (data sets of arrays are not listed).

    Returns:
        {the first variant training on them: the set of training files}, per distinct
        (data, split).
    """
    found: dict[tuple, tuple[str, set]] = {}
    for variant in grid.variants:
        data, split = variant.config.data, variant.config.train_split
        if (data, split) in found:
            continue
        try:
            files = split_files(data, split, data_dir)
        except ValueError as error:
            if "stored as arrays" in str(error):
                continue
            raise ValueError(f"The photos to train on: {error}") from None
        if not files:
            raise ValueError(f"The {split!r} split of {data!r} holds no photos to train on; "
                             "set train_split to a split that has some.")
        found[(data, split)] = (variant.label, set(files))
    return dict(found.values())


def _mean_colour(grid: Grid, scored: list, data_dir: Any) -> np.ndarray | None:
    """The training photos' mean ab (never from the photos scored), as evaluate takes it."""
    base = grid.variants[0].config
    exclude = set(scored)
    files = [f for f in split_files(base.data, base.train_split, data_dir)
             if f not in exclude][:_MEAN_PHOTOS]
    if not files:
        return None
    return mean_ab(load_photos(files, min(grid.eval_size, 128))[0])


def _score(record: dict, config: TrainConfig, grid: Grid, photos: list, names: Any,
           mean: Any, files: list) -> tuple[dict, dict]:
    """One finished run's metrics, cached in its scores.json (keyed by what was scored and
    the model file's checksum); also the baselines' rows."""
    run_dir = pathlib.Path(record["run_dir"])
    model_file = run_dir / "model.keras"
    key = {"grid": grid.settings()["evaluate"], "files": [pathlib.Path(f).name for f in files],
           "model_sha256": sha256_of(model_file)}
    cache = run_dir / "scores.json"
    if cache.is_file():
        try:
            saved = json.loads(cache.read_text(encoding="utf-8"))
            if saved.get("key") == key:
                return saved["scores"], saved["baselines"]
        except (ValueError, KeyError, TypeError):
            pass  # damaged: scored again
    model = load_model(model_file, compile=False)
    name = f"{record['variant']} (seed {record['seed']})"
    scores = evaluate({name: model}, photos, names=names, mean_color=mean,
                      render_size=config.image_size)
    row = scores.row(name)
    result = {key_: row[key_] for key_ in ("auc", "auc_rebalanced", "psnr", "ssim",
                                          "colorfulness", "accuracy")}
    baselines = _baselines(scores)
    write_text_atomic(cache, json.dumps({"key": key, "scores": result, "baselines": baselines}))
    return result, baselines


def _same_loss(grid: Grid, variant: Variant) -> bool:
    """Whether a variant minimises the base's loss function: the same loss, prior and
    lambda, on targets of the same kind, resolution and bins."""
    def key(config: TrainConfig) -> tuple:
        target = config.training_target
        bins = getattr(target, "bins", None)
        return (config.loss, config.prior, config.rebalance_lambda, target.kind,
                target.downsample, None if bins is None else bins.centers.tobytes())
    return key(variant.config) == key(grid.variants[0].config)


def _baselines(scores: Any) -> dict:
    rows = {r["method"]: {k: v for k, v in r.items() if k != "method"} for r in scores.rows
            if r["method"] in ("gray", "mean colour")}
    return {**rows, "truth_colorfulness": scores.truth_colorfulness}


def _samples(grid: Grid, records: list[dict], photos: list) -> dict:
    """The first held-out photos colorized by each variant's first finished seed."""
    samples = {"gray input": [gray_rgb(p) for p in photos]}
    for variant in grid.variants:
        finished = [r for r in records if r["variant"] == variant.label
                    and r["status"] == "finished"]
        if finished:
            model = load_model(pathlib.Path(finished[0]["run_dir"]) / "model.keras",
                               compile=False)
            size = variant.config.image_size
            samples[variant.label] = [colorize(model, p, render_size=size) for p in photos]
    samples["ground truth"] = list(photos)
    return samples


def _as_written(grid: Grid) -> dict:
    """The grid as run, for grid.yaml: its settings and each variant's full config."""
    return {**grid.settings(),
            "variants": [{"label": v.label, "set": v.changes,
                          "config": {k: val for k, val in v.config.to_dict().items()
                                     if k != "seed"}} for v in grid.variants]}
