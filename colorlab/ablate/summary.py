"""An ablation's numbers: per variant, the mean and spread over seeds, and which differences
from the base survive the seed spread.

Two runs of the same config with different seeds differ (initialisation, shuffling,
augmentation), on a small budget by as much as most effects. So every difference from
the base is tested against that spread: Welch's t-test over the seeds (two samples of
unequal variance; Welch, *Biometrika* 1947). A difference with p >= 0.05, or with fewer
than two finished seeds on either side, is marked "not distinguishable here" (``≈``): it
may be real, but these runs cannot tell. With two seeds a difference must be about four
times its standard error to pass; more seeds make the test sharper.
"""

from __future__ import annotations

import csv
import datetime
import math
import pathlib
from typing import Any, Sequence

import numpy as np

from colorlab.files import atomic_path

__all__ = ["ALPHA", "METRICS", "compare", "markdown", "read_curve", "read_history", "summarize",
           "write_csv"]

#: The metrics of every run, in table order (higher is better except the losses).
METRICS = ("auc", "auc_rebalanced", "psnr", "ssim", "colorfulness", "accuracy",
           "train_loss", "val_loss", "photos_per_second")
#: Their table headings and formats.
HEADINGS = {"auc": ("AuC", "{:.3f}"), "auc_rebalanced": ("AuC rebal.", "{:.3f}"),
            "psnr": ("PSNR dB", "{:.2f}"), "ssim": ("SSIM", "{:.3f}"),
            "colorfulness": ("colorfulness", "{:.1f}"), "accuracy": ("acc.", "{:.3f}"),
            "train_loss": ("train loss", "{:.3f}"), "val_loss": ("val loss", "{:.3f}"),
            "photos_per_second": ("photos/s", "{:.1f}")}
#: The significance level of "distinguishable".
ALPHA = 0.05
#: The mark of a difference from base the seeds cannot tell apart.
SAME = "≈"
#: The mark of a loss that is another function than the base's, so not compared.
OTHER = "†"


def read_curve(path: pathlib.Path) -> dict:
    """A run's loss per epoch: {"epoch": [...], "train": [...], "val": [...]}.

    The loss without the kernel penalty (``data_loss``, ``val_data_loss``) when the run
    logged it, so a penalised run's loss compares with an unpenalised one's; NaN where a
    value is missing or unreadable.
    """
    curve: dict = {"epoch": [], "train": [], "val": []}
    if not path.is_file():
        return curve
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            curve["epoch"].append(int(row["epoch"]))
            curve["train"].append(_number(row, "data_loss", "loss"))
            curve["val"].append(_number(row, "val_data_loss", "val_loss"))
    return curve


def read_history(path: pathlib.Path) -> dict:
    """The last epoch's training and validation loss of a run's history.csv (see
    :func:`read_curve`).

    Returns:
        {"train_loss", "val_loss"}, NaN where missing.
    """
    curve = read_curve(path)
    nan = float("nan")
    return {"train_loss": curve["train"][-1] if curve["train"] else nan,
            "val_loss": curve["val"][-1] if curve["val"] else nan}


def _number(row: dict, *keys: str) -> float:
    """The first of ``keys`` the row has a value for, as a float (NaN if none or unreadable)."""
    for key in keys:
        if row.get(key) not in (None, ""):
            try:
                return float(row[key])
            except ValueError:
                return float("nan")
    return float("nan")


def compare(base: Sequence[float], other: Sequence[float]) -> dict:
    """Whether ``other`` differs from ``base`` beyond the seed spread.

    Returns:
        {"difference": mean(other) - mean(base), "p": Welch's two-sided p (NaN when either
        has fewer than two values), "distinguishable": p < ALPHA}.
    """
    a = np.asarray([v for v in base if np.isfinite(v)], dtype=np.float64)
    b = np.asarray([v for v in other if np.isfinite(v)], dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return {"difference": float("nan"), "p": float("nan"), "distinguishable": False}
    difference = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return {"difference": difference, "p": float("nan"), "distinguishable": False}
    if a.std() == 0 and b.std() == 0:  # deterministic: equal or not
        p = 1.0 if difference == 0 else 0.0
    else:
        from scipy import stats  # scikit-image's dependency; loaded only here

        p = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
    return {"difference": difference, "p": p, "distinguishable": bool(p < ALPHA)}


#: The metrics only comparable between runs that minimise the same loss on the same targets.
LOSS_METRICS = ("train_loss", "val_loss")


def summarize(records: Sequence[dict], labels: Sequence[str],
              other_loss: Sequence[str] = ()) -> list[dict]:
    """Per variant (``labels[0]`` is the base): counts, mean and sd of each metric over its
    finished seeds, and each difference from base (:func:`compare`).

    Args:
        records: The runs' records.
        labels: The variants, the base first.
        other_loss: Variants whose loss is another function than the base's (another loss,
            prior, lambda or target resolution): their losses are shown, not compared.

    Returns:
        One dict per variant: "variant", "finished", "diverged", "unfinished", and per
        metric {"values", "mean", "sd" (sample sd, NaN for one seed), "vs_base"}; a loss
        not compared has "vs_base" {"comparable": False, ...}.
    """
    rows = []
    finished: dict[str, list[dict]] = {}
    for label in labels:
        mine = [r for r in records if r["variant"] == label]
        finished[label] = [r for r in mine if r["status"] == "finished"]
        row: dict[str, Any] = {"variant": label, "finished": len(finished[label]),
                               "diverged": sum(r["status"] == "diverged" for r in mine),
                               "unfinished": sum(r["status"] == "unfinished" for r in mine)}
        for metric in METRICS:
            values = [float(r.get(metric, float("nan"))) for r in finished[label]]
            good = [v for v in values if math.isfinite(v)]
            row[metric] = {"values": values,
                           "mean": float(np.mean(good)) if good else float("nan"),
                           "sd": float(np.std(good, ddof=1)) if len(good) > 1 else float("nan")}
        rows.append(row)
    base = rows[0] if rows else None
    for row in rows[1:]:
        for metric in METRICS:
            test = compare(base[metric]["values"], row[metric]["values"])
            if metric in LOSS_METRICS and row["variant"] in other_loss:
                test.update(p=float("nan"), distinguishable=False, comparable=False)
            row[metric]["vs_base"] = test
    return rows


def markdown(grid: Any, records: Sequence[dict], summary: Sequence[dict],
             baselines: dict, notes: Sequence[str] = ()) -> str:
    """summary.md: the settings, the table (mean ± sd, ``≈`` where not distinguishable
    from base), the differences that survive, and runs that diverged or are unfinished."""
    settings = grid.settings()
    base_config = grid.variants[0].config
    today = datetime.date.today().isoformat()
    lines = [f"# Ablation {grid.name}" + (f", {grid.size} size" if grid.size else "")
             + f" ({today})", ""]
    if grid.description:
        lines += [grid.description, ""]
    evaluated = settings["evaluate"]
    lines += [
        f"- Base: {base_config.model} {base_config.model_args or ''} on "
        f"{base_config.data!r} (train {base_config.train_split!r}, validation "
        f"{base_config.val_split!r}), {base_config.image_size} px crops, batch "
        f"{base_config.batch_size}, {base_config.optimizer} at {base_config.learning_rate:g}, "
        f"{base_config.loss} loss.",
        f"- Budget: {grid.steps} steps per run" + (f" (at most {grid.time_limit:g} minutes "
                                                   "per call)" if grid.time_limit else "")
        + f"; seeds {', '.join(map(str, grid.seeds))}.",
        f"- Scored on up to {evaluated['photos']} photos of the {evaluated['split']!r} split "
        f"of {evaluated['data']!r}, {evaluated['size']} px centre crops.",
        *[f"- {note}" for note in notes],
        "",
    ]
    heads = ["variant", "seeds", *[HEADINGS[m][0] for m in METRICS]]
    lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for row in summary:
        cells = [row["variant"], str(row["finished"])]
        for metric in METRICS:
            cells.append(_cell(row, metric))
        lines.append("| " + " | ".join(cells) + " |")
    for name in ("gray", "mean colour"):
        if name in baselines:
            values = baselines[name]
            lines.append("| " + " | ".join(
                [name, "-", *[HEADINGS[m][1].format(values[m]) if m in values else ""
                              for m in METRICS]]) + " |")
    if "truth_colorfulness" in baselines:
        lines.append(f"| ground truth | - | 1.000 | 1.000 | inf | 1.000 | "
                     f"{baselines['truth_colorfulness']:.1f} | 1.000 |  |  |  |")
    lines += ["", f"Mean ± sd over the finished seeds. {SAME}: not distinguishable from base "
              f"here (Welch's t-test over seeds, p ≥ {ALPHA}, or fewer than two finished "
              "seeds); an unmarked variant cell differs from base beyond the seed spread. "
              f"The losses are without any kernel penalty; {OTHER}: another loss function "
              "than the base's (loss, prior, lambda or target resolution), so not compared. "
              "photos/s is wall-clock training speed, start-up included.", ""]
    survived = []
    for row in summary[1:]:
        for metric in METRICS[:-1]:
            test = row[metric].get("vs_base", {})
            if test.get("distinguishable"):
                heading, form = HEADINGS[metric]
                sign = "+" if test["difference"] >= 0 else "-"
                survived.append(f"- **{row['variant']}**: {heading} {sign}"
                                f"{form.format(abs(test['difference']))} (p = {test['p']:.3f})")
    tests = sum(1 for row in summary[1:] for metric in METRICS[:-1]
                if math.isfinite(row[metric].get("vs_base", {}).get("p", float("nan"))))
    lines += ["## Differences from base beyond the seed spread", ""]
    lines += survived or ["None: with these seeds and this budget, no variant can be told "
                          "apart from the base on any metric."]
    if tests:
        lines += ["", f"Of the {tests} comparisons made, about {tests * ALPHA:.1f} would pass "
                  f"p < {ALPHA} by chance alone, with no real effect: a p near {ALPHA} is a "
                  "hint to test with more seeds, not a finding."]
    lines.append("")
    trouble = [r for r in records if r["status"] != "finished"]
    if trouble:
        lines += ["## Runs not in the table", ""]
        for r in trouble:
            why = r.get("problem") or (f"{r['steps']} of {grid.steps} steps; run the grid "
                                       "again to resume it")
            lines.append(f"- {r['variant']}, seed {r['seed']}: {r['status']} ({why})")
        lines.append("")
    return "\n".join(lines)


def write_csv(path: pathlib.Path, records: Sequence[dict]) -> None:
    """results.csv: one row per run."""
    columns = ["variant", "seed", "status", "steps", "seconds", *METRICS, "problem", "run_dir"]
    with atomic_path(path) as partial:
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            writer.writeheader()
            for record in records:
                writer.writerow({k: _plain(record.get(k, "")) for k in columns})


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 6)
    return value


def _cell(row: dict, metric: str) -> str:
    values = row[metric]
    if not math.isfinite(values["mean"]):
        return "-"
    form = HEADINGS[metric][1]
    text = form.format(values["mean"])
    if math.isfinite(values["sd"]):
        text += " ± " + form.format(values["sd"])
    test = values.get("vs_base")
    if test is not None and not test.get("comparable", True):
        text += f" {OTHER}"
    elif test is not None and not test["distinguishable"]:
        text += f" {SAME}"
    return text
