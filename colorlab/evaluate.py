"""Honest metrics for colorizations, against the baselines every model must beat.

On held-out photos, per method (each model, and the baselines):

- **AuC**: the area under the cumulative ab-error curve, thresholds 0 to 150 (Zhang, Isola &
  Efros, ECCV 2016, Table 1): the fraction of pixels whose ab lies within t of the truth,
  averaged over t. 1 is perfect.
- **AuC rebalanced**: the same with every pixel weighted by the inverse prior of its true
  colour bin, so rare, saturated colours count as much as common dull ones (Zhang et al.'s
  class-rebalanced AuC). A gray result scores well on plain AuC and badly here.
- **PSNR** and **SSIM** of the RGB result (``skimage.metrics``).
- **Colourfulness** (Hasler & Suesstrunk 2003) of result and ground truth: how vivid, not
  how right.
- **Accuracy**: the fraction of pixels whose a and b are both within a tolerance of the truth
  (the pixel accuracy of Nazeri et al. 2018; here in Lab units, 5 by default).

Baselines: **gray** (a = b = 0: the input itself) and **mean colour** (every pixel gets the
training data's mean ab).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import pathlib
import sys
from typing import Any, Callable, Sequence

import numpy as np

from colorlab import color
from colorlab.colorize import colorize, decodes_bins, gray_rgb, with_ab
from colorlab.data.photos import GRAY_FRACTION, mark_output_folder
from colorlab.data.pipeline import make_dataset
from colorlab.data.registry import source_key
from colorlab.data.sources import split_files
from colorlab.plot import save_comparison
from colorlab.quantize import ColorBins
from colorlab.rebalance import rebalance_weights, zhang_imagenet_prior
from colorlab.train.config import load_config

__all__ = [
    "AUC_MAX_THRESHOLD",
    "Evaluation",
    "auc_from_errors",
    "colorfulness",
    "evaluate",
    "load_photos",
    "mean_ab",
    "photo_metrics",
]

#: Zhang et al.'s AuC integrates the cumulative error curve from 0 to this ab distance.
AUC_MAX_THRESHOLD = 150
#: Names of the baselines and of the figure's outer columns, not available to methods.
RESERVED_NAMES = ("gray", "mean colour", "gray input", "ground truth")
#: Metric columns, in table order.
COLUMNS = ("auc", "auc_rebalanced", "psnr", "ssim", "colorfulness", "accuracy")


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colorfulness M of an RGB image (uint8, or floats in [0, 1]).

    ``M = sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)`` with ``rg = R - G`` and
    ``yb = (R + G) / 2 - B`` on the 0-255 scale. A gray image scores 0; ~20 is "slightly",
    ~60 "quite", above ~100 "extremely" colorful.
    """
    rgb = np.asarray(rgb)
    scale = 1.0 if rgb.dtype == np.uint8 else 255.0
    rgb = rgb.astype(np.float64) * scale
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    centre = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + 0.3 * centre)


def auc_from_errors(errors: np.ndarray, weights: np.ndarray | None = None,
                    max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """Area under the cumulative error curve, normalised to [0, 1].

    Args:
        errors: Per-pixel ab distances (any shape).
        weights: Per-pixel weights of the same shape (None: all 1).
        max_threshold: Thresholds 0, 1, ..., max_threshold.
    """
    return float(_cumulative_curve(_error_histogram(errors, weights, max_threshold)).mean())


def mean_ab(photos: Sequence[np.ndarray]) -> np.ndarray:
    """The mean ab over every pixel of some photos (the "mean colour" baseline), shape (2,)."""
    total, count = np.zeros(2), 0
    for photo in photos:
        ab = color.rgb_to_lab(photo)[..., 1:].reshape(-1, 2)
        total += ab.sum(axis=0)
        count += len(ab)
    return (total / max(count, 1)).astype(np.float32)


def photo_metrics(result: np.ndarray, truth: np.ndarray, *, bin_weights: np.ndarray,
                  bins: ColorBins, tolerance: float = 5.0) -> dict:
    """The metrics of one colorized photo against its ground truth (both (H, W, 3) uint8).

    Returns:
        A dict with the :data:`COLUMNS` (AuC values of this photo alone), plus the error
        histograms ``_hist`` and ``_hist_rebalanced`` that :func:`evaluate` pools.
    """
    from skimage.metrics import structural_similarity

    if result.shape != truth.shape:
        raise ValueError(f"result {result.shape} and truth {truth.shape} differ in shape.")
    ab_result = color.rgb_to_lab(result)[..., 1:]
    ab_truth = color.rgb_to_lab(truth)[..., 1:]
    diff = ab_result - ab_truth
    errors = np.sqrt(np.sum(diff * diff, axis=-1))
    weights = bin_weights[np.asarray(bins.hard_encode(ab_truth))]
    hist = _error_histogram(errors)
    hist_rebalanced = _error_histogram(errors, weights)
    return {
        "auc": float(_cumulative_curve(hist).mean()),
        "auc_rebalanced": float(_cumulative_curve(hist_rebalanced).mean()),
        "psnr": _psnr(truth, result),
        "ssim": float(structural_similarity(truth, result, channel_axis=-1, data_range=255)),
        "colorfulness": colorfulness(result),
        "accuracy": float(np.mean(np.all(np.abs(diff) <= tolerance, axis=-1))),
        "_hist": hist,
        "_hist_rebalanced": hist_rebalanced,
    }


@dataclasses.dataclass
class Evaluation:
    """The outcome of :func:`evaluate`: one row per method, and the images behind them."""

    rows: list[dict]
    truth_colorfulness: float
    photos: list[np.ndarray]
    results: dict[str, list[np.ndarray]]
    names: list[str]
    #: What was scored how, for a report (set by :func:`evaluate_split`).
    settings: str = ""

    def row(self, method: str) -> dict:
        return next(r for r in self.rows if r["method"] == method)

    def markdown(self) -> str:
        """The table as Markdown, with the ground truth's row last."""
        head = ["method", "AuC", "AuC rebal.", "PSNR dB", "SSIM", "colorfulness", "acc."]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append(
                f"| {r['method']} | {r['auc']:.3f} | {r['auc_rebalanced']:.3f} | "
                f"{r['psnr']:.2f} | {r['ssim']:.3f} | {r['colorfulness']:.1f} | "
                f"{r['accuracy']:.3f} |"
            )
        lines.append(f"| ground truth | 1.000 | 1.000 | inf | 1.000 | "
                     f"{self.truth_colorfulness:.1f} | 1.000 |")
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | os.PathLike, figure_rows: int = 6) -> dict[str, pathlib.Path]:
        """Writes ``metrics.csv``, ``metrics.md`` and ``comparison.png`` into ``out_dir``,
        marked as colorlab's results so the figure never joins a folder of photos."""
        out = pathlib.Path(out_dir)
        mark_output_folder(out, "evaluation")
        paths = {"csv": out / "metrics.csv", "markdown": out / "metrics.md",
                 "figure": out / "comparison.png"}
        with open(paths["csv"], "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["method", *COLUMNS])
            writer.writeheader()
            for r in self.rows:
                writer.writerow({k: r[k] for k in ["method", *COLUMNS]})
            writer.writerow({"method": "ground truth", "auc": 1.0, "auc_rebalanced": 1.0,
                             "psnr": "inf", "ssim": 1.0,
                             "colorfulness": self.truth_colorfulness, "accuracy": 1.0})
        paths["markdown"].write_text(self.markdown())
        count = min(figure_rows, len(self.photos))
        columns = {"gray input": [gray_rgb(p) for p in self.photos[:count]]}
        for method, images in self.results.items():
            if method != "gray":
                columns[method] = images[:count]
        columns["ground truth"] = self.photos[:count]
        save_comparison(paths["figure"], columns, row_titles=self.names[:count])
        return paths


def load_photos(
    files: Sequence[str | os.PathLike], size: int = 256,
    gray_fraction: float | None = GRAY_FRACTION,
) -> tuple[list[np.ndarray], list[str] | None]:
    """Held-out photos for :func:`evaluate`: centre crops read by the input pipeline.

    Each photo is resized so its short side is ``size``, then centre-cropped to size x size
    (EXIF orientation applied, any format the pipeline reads). Unreadable files are skipped,
    and so are near-gray photos, as in training (a gray photo has no colour to predict, and
    the gray baseline's PSNR on it is infinite); the skip report is printed.

    Args:
        files: Photo files.
        size: Side of the square crops, in pixels.
        gray_fraction: The near-gray filter (None keeps every readable photo).

    Returns:
        (photos, names): (size, size, 3) uint8 photos, and their file stems (None if the
        pipeline dropped a photo after its scan, so names no longer line up).
    """
    dataset = make_dataset(list(files), training=False, target=None, image_size=size,
                           short_side=size, batch_size=16, gray_fraction=gray_fraction)
    report = dataset.scan_report
    if report.skipped:
        print(f"  {report.summary()}")
    photos = [np.round(photo * 255.0).astype(np.uint8)
              for batch in dataset for photo in batch.numpy()]
    names = [pathlib.Path(info.path).stem for info in report.usable]
    return photos, names if len(names) == len(photos) else None


def evaluate(
    methods: dict[str, Any],
    photos: Sequence[np.ndarray],
    *,
    names: Sequence[str] | None = None,
    mean_color: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    tolerance: float = 5.0,
    render_size: int = 256,
    temperature: float | None = None,
) -> Evaluation:
    """Scores models (and the gray and mean-colour baselines) on held-out photos.

    Args:
        methods: {name: a colorlab model, or a function photo (uint8) -> result (uint8)}.
        photos: Ground-truth (H, W, 3) uint8 photos; each model sees only their L.
        names: A name per photo, for the figure.
        mean_color: The training data's mean ab (see :func:`mean_ab`) for the mean-colour
            baseline (None: that baseline is left out).
        prior: The (313,) ab prior for the rebalanced AuC (default: Zhang's ImageNet prior).
        tolerance: Accuracy tolerance in Lab units.
        render_size, temperature: As for :func:`colorlab.colorize.colorize`.

    Returns:
        An :class:`Evaluation`; ``.write(folder)`` saves the table and the figure.
    """
    photos = [np.asarray(p) for p in photos]
    if not photos:
        raise ValueError("evaluate needs at least one photo.")
    clashes = sorted(set(methods) & set(RESERVED_NAMES))
    if clashes:
        raise ValueError(
            f"Method name(s) {', '.join(map(repr, clashes))} would replace a baseline or a "
            f"figure column ({', '.join(RESERVED_NAMES)}); rename them."
        )
    for p in photos:
        if p.dtype != np.uint8 or p.ndim != 3 or p.shape[-1] != 3:
            raise ValueError(f"evaluate takes (H, W, 3) uint8 photos, got {p.shape} {p.dtype}.")
    bins = ColorBins.zhang313()
    # lam = 0: weights proportional to 1 / prior, every colour class counts equally.
    bin_weights = rebalance_weights(prior if prior is not None else zhang_imagenet_prior(), 0.0)

    candidates: dict[str, Callable[[np.ndarray], np.ndarray]] = {"gray": gray_rgb}
    if mean_color is not None:
        candidates["mean colour"] = lambda p: with_ab(p, mean_color)
    for name, method in methods.items():
        if callable(method) and not hasattr(method, "outputs"):
            candidates[name] = method
        else:
            candidates[name] = _colorizer(method, render_size, temperature)
    rows, results = [], {}
    for name, method in candidates.items():
        outputs = [method(p) for p in photos]
        scores = [photo_metrics(o, p, bin_weights=bin_weights, bins=bins, tolerance=tolerance)
                  for o, p in zip(outputs, photos)]
        row = {"method": name}
        row["auc"] = float(_cumulative_curve(sum(s["_hist"] for s in scores)).mean())
        row["auc_rebalanced"] = float(
            _cumulative_curve(sum(s["_hist_rebalanced"] for s in scores)).mean()
        )
        for key in ("psnr", "ssim", "colorfulness", "accuracy"):
            row[key] = float(np.mean([s[key] for s in scores]))
        rows.append(row)
        results[name] = outputs
    truth = float(np.mean([colorfulness(p) for p in photos]))
    names = list(names) if names is not None else [f"photo {i + 1}" for i in range(len(photos))]
    return Evaluation(rows, truth, photos, results, names)


# === The workflow: a split of a data set, scored =================================================


@dataclasses.dataclass
class Candidate:
    """A model to score: its table name, the model, and its run's config (None if unknown).

    A model with a config (a TrainConfig, or the path of its run folder) is shown photos at
    the size it trained at, and its training split gives the mean-colour baseline (see
    :func:`evaluate_split`). ``evaluate_split`` also takes bare models."""

    name: str
    model: Any
    config: Any = None


def candidate_names(paths: Sequence[str]) -> list[str]:
    """A distinct table name per model: the path as given, without a trailing ``/`` or
    ``.keras`` (``runs/z``, ``colorlab-demo/run``, ``a/model``)."""
    resolved = [pathlib.Path(p).resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise ValueError("The same model was given twice (--model).")
    names = []
    for path in paths:
        name = os.path.normpath(path)
        names.append(name[: -len(".keras")] if name.endswith(".keras") else name)
    if len(set(names)) < len(names):  # a folder a/model beside a file a/model.keras
        names = [os.path.normpath(p) for p in paths]
    return [f"{n} (model)" if n in RESERVED_NAMES else n for n in names]


def run_config(path: str | os.PathLike) -> Any:
    """The TrainConfig of the run a model path belongs to (a run folder, or its model.keras
    or checkpoints/last.keras), or None."""
    path = pathlib.Path(path)
    folder = path if path.is_dir() else path.parent
    if folder.name == "checkpoints":
        folder = folder.parent
    if (folder / "config.yaml").is_file():
        try:
            return load_config(folder / "config.yaml")
        except ValueError:
            return None
    return None


def evaluate_split(
    candidates: Sequence[Candidate], data: Any, split: str | None = "test", *,
    size: int = 256, render_size: int | None = None, limit: int | None = None,
    temperature: float | None = None, mean_data: Any = None, mean_split: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Evaluation:
    """The evaluation workflow: a split's centre crops, the mean colour of the training
    photos, every candidate and the baselines scored; used by ``colorlab evaluate``, the demo,
    ``benchmarks/does_it_learn.py`` and notebook 04.

    A model from a run folder sees its photos at the size it trained at (unless
    ``render_size`` says otherwise); the mean-colour baseline comes from up to 500 photos of
    the split the (first) run trained on, or of "train", never from the photos scored. A
    model scored on photos it trained on is named in a warning.

    Args:
        candidates: The models to score.
        data: A registry data set or a folder.
        split: The photos scored: "train", "val", "test" or a union such as "val+test"
            (None: every photo of ``data``).
        size: Evaluation crop side, in pixels.
        render_size: The short side every model sees (None: see above).
        limit: At most this many photos.
        temperature: Annealed-mean temperature of bin models.
        mean_data, mean_split: Where the mean colour comes from instead (the training
            photos, when ``data`` holds only held-out ones).
        data_dir: Cache folder of registry data sets.

    Returns:
        The :class:`Evaluation`, with ``.settings``: one line saying what was scored how.
    """
    candidates = [_as_candidate(c, i) for i, c in enumerate(candidates, start=1)]
    files = split_files(data, split, data_dir)[:limit]
    if not files:
        raise ValueError(f"No photos in the {split!r} split of {data!r}.")
    photos, names = load_photos(files, size)
    same_data = [c for c in candidates if c.config is not None
                 and source_key(c.config.data) == source_key(os.fspath(data))]
    if mean_data is None:
        mean_data = data
        mean_split = (same_data[0].config.train_split if same_data else "train") \
            or "train+val+test"
    scored = set(files)
    mean_files = [f for f in split_files(mean_data, mean_split, data_dir)
                  if f not in scored][:500]
    mean, mean_note = None, "no mean-colour baseline (no other photos to take it from)"
    if mean_files:  # a mean needs no detail: small crops keep 500 photos in little memory
        mean = mean_ab(load_photos(mean_files, min(size, 128))[0])
        mean_note = f"mean colour from {len(mean_files)} photos" + (
            f" of the {mean_split!r} split" if mean_split else f" of {mean_data!r}")
    functions, seen_sizes = {}, []
    for candidate in candidates:
        config = candidate.config
        size_seen = render_size or (config.image_size if config is not None else size)
        seen_sizes.append(f"{candidate.name}: {size_seen} px")
        functions[candidate.name] = _colorizer(candidate.model, size_seen, temperature)
        if candidate in same_data:
            trained = set((config.train_split or "train+val+test").split("+"))
            overlap = trained & set((split or "train+val+test").split("+"))
            if overlap:
                print(f"warning: {candidate.name} trained on the "
                      f"{'+'.join(sorted(overlap))!r} photos of {data!r}: its scores on "
                      f"{split!r} are not held-out scores.", file=sys.stderr)
    scores = evaluate(functions, photos, names=names, mean_color=mean)
    which = f"the {split!r} split of {data!r}" if split else repr(os.fspath(data))
    scores.settings = (f"{len(photos)} photos of {which}, {size} px "
                       f"crops; the models see {', '.join(seen_sizes)}; {mean_note}")
    return scores


# === Internals ================================================================================


def _colorizer(model: Any, render_size: int, temperature: float | None) -> Callable:
    """photo -> the model's colorization; the temperature goes to bin models only (a model
    that outputs ab has none: colorize refuses one for it)."""
    temperature = temperature if decodes_bins(model) else None
    return lambda photo: colorize(model, photo, render_size=render_size,
                                  temperature=temperature)


def _as_candidate(candidate: Any, number: int) -> Candidate:
    """A Candidate from a Candidate, a bare model, or a Candidate whose config is a run's path."""
    if not isinstance(candidate, Candidate):
        if not hasattr(candidate, "outputs"):
            raise ValueError(f"evaluate_split takes Candidate(name, model, config) or models, "
                             f"got {type(candidate).__name__}.")
        candidate = Candidate(f"model {number}", candidate)
    if isinstance(candidate.config, (str, os.PathLike)):
        candidate = dataclasses.replace(candidate, config=run_config(candidate.config))
    return candidate


def _psnr(truth: np.ndarray, result: np.ndarray) -> float:
    """PSNR in dB (``skimage.metrics``); inf for identical images, without numpy's warning."""
    from skimage.metrics import peak_signal_noise_ratio

    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(truth, result, data_range=255))


def _error_histogram(errors: Any, weights: Any = None,
                     max_threshold: int = AUC_MAX_THRESHOLD) -> np.ndarray:
    """Weighted counts of errors in (t - 1, t] for t = 0..max_threshold, then above it."""
    errors = np.asarray(errors, np.float64).ravel()
    weights = None if weights is None else np.asarray(weights, np.float64).ravel()
    index = np.minimum(np.ceil(errors), max_threshold + 1).astype(np.int64)
    return np.bincount(index, weights=weights, minlength=max_threshold + 2)


def _cumulative_curve(hist: np.ndarray) -> np.ndarray:
    """Fraction of (weighted) pixels with error <= t, for t = 0..max_threshold (exact)."""
    total = hist.sum()
    if total <= 0:
        return np.zeros(len(hist) - 1)
    return np.cumsum(hist)[:-1] / total
