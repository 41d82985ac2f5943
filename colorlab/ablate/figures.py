"""An ablation's figures: metric bars with error bars, and loss curves per variant.

Each takes the :class:`~colorlab.ablate.runner.Ablation` that :func:`colorlab.ablate.run`
returns; ``plot_*`` returns the matplotlib figure (for a notebook), ``save_*`` writes it.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import numpy as np

from colorlab.ablate.summary import HEADINGS, SAME, read_curve

__all__ = ["plot_losses", "plot_metrics", "save_losses", "save_metrics"]

#: The metrics drawn as bars, in panel order.
BAR_METRICS = ("auc", "auc_rebalanced", "psnr", "ssim", "colorfulness", "accuracy")


def plot_metrics(result: Any, metrics: tuple[str, ...] = BAR_METRICS) -> Any:
    """One panel per metric: a bar per variant at its mean over seeds, an error bar of one
    sd, each seed as a dot; dashed lines for the gray and mean-colour baselines (and the
    truth's colorfulness). A variant not distinguishable from base has a pale bar and ``≈``.
    """
    import matplotlib.pyplot as plt

    summary, baselines = result.summary, result.baselines
    labels = [row["variant"] for row in summary]
    columns = min(3, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 0.9 + 0.35 * len(labels)
                                                     + 2.2 * rows), squeeze=False,
                             layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics):
        for i, row in enumerate(summary):
            values = row[metric]
            mean, sd = values["mean"], values["sd"]
            if not math.isfinite(mean):
                ax.text(0.02, i, "no finished run", va="center", fontsize=8, color="gray",
                        transform=ax.get_yaxis_transform())  # x in axes units
                continue
            same = "vs_base" in values and not values["vs_base"]["distinguishable"]
            ax.barh(i, mean, xerr=sd if math.isfinite(sd) else None, capsize=3,
                    color=colours[i % len(colours)], alpha=0.35 if same else 0.85)
            seeds = [v for v in values["values"] if math.isfinite(v)]
            ax.plot(seeds, [i] * len(seeds), "k.", ms=4)
            if same:
                ax.text(mean, i, f" {SAME}", va="center", fontsize=10)
        for name, style in (("gray", ":"), ("mean colour", "--")):
            if metric in baselines.get(name, {}):
                ax.axvline(baselines[name][metric], color="gray", ls=style, lw=1, label=name)
        if metric == "colorfulness" and "truth_colorfulness" in baselines:
            ax.axvline(baselines["truth_colorfulness"], color="black", ls="-", lw=1,
                       label="ground truth")
        _zoom(ax, summary, baselines, metric)
        ax.set_yticks(range(len(labels)), labels if ax in axes[:, 0] else [""] * len(labels))
        ax.invert_yaxis()
        ax.set_title(HEADINGS[metric][0], fontsize=10)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    handles, names = [], []
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            if name not in names:
                handles.append(handle), names.append(name)
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncol=len(names), fontsize=8,
                   frameon=False)
    fig.suptitle(f"{result.grid.name}: mean ± sd over seeds (dots: seeds; pale, {SAME}: not "
                 "distinguishable from base)", fontsize=10)
    return fig


def plot_losses(result: Any) -> Any:
    """Train (solid) and validation (dashed) loss against steps, one panel per variant,
    one line per seed: a validation loss that rises while the training loss falls is
    overfitting."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    variants = result.grid.variants
    columns = min(4, len(variants))
    rows = math.ceil(len(variants) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.6 * rows),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    for ax, variant in zip(axes.flat, variants):
        steps_per_epoch = variant.config.steps_per_epoch
        for record in result.records:
            if record["variant"] != variant.label:
                continue
            curve = read_curve(pathlib.Path(record["run_dir"]) / "history.csv")
            if not curve["epoch"]:
                continue
            x = (np.asarray(curve["epoch"]) + 1) * (steps_per_epoch or 1)  # epochs count from 0
            line, = ax.plot(x, curve["train"], lw=1.2, label=f"seed {record['seed']} train")
            if np.isfinite(curve["val"]).any():
                ax.plot(x, curve["val"], ls="--", lw=1.2, color=line.get_color(),
                        label=f"seed {record['seed']} val")
        ax.set_title(variant.label, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(variants):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("step" if variants[0].config.steps_per_epoch else "epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[:, 0]:
        ax.set_ylabel("loss (no penalty)")
    handles, names = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncol=min(4, len(names)),
                   fontsize=8, frameon=False)
    fig.suptitle("Training (solid) and validation (dashed) loss", fontsize=10)
    return fig


def save_metrics(path: Any, result: Any, dpi: int = 100) -> None:
    """Writes :func:`plot_metrics` into an image file."""
    _save(plot_metrics(result), path, dpi)


def save_losses(path: Any, result: Any, dpi: int = 100) -> None:
    """Writes :func:`plot_losses` into an image file."""
    _save(plot_losses(result), path, dpi)


def _save(fig: Any, path: Any, dpi: int) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def _zoom(ax: Any, summary: list, baselines: dict, metric: str) -> None:
    """Limits the axis to the values shown (bars from 0 would hide differences of 0.01)."""
    values = [v for row in summary for v in row[metric]["values"] if math.isfinite(v)]
    values += [row[metric]["mean"] + s * row[metric]["sd"] for row in summary for s in (-1, 1)
               if math.isfinite(row[metric]["sd"])]
    values += [baselines[n][metric] for n in ("gray", "mean colour")
               if metric in baselines.get(n, {}) and math.isfinite(baselines[n][metric])]
    if metric == "colorfulness" and "truth_colorfulness" in baselines:
        values.append(baselines["truth_colorfulness"])
    if not values:
        return
    low, high = min(values), max(values)
    pad = 0.15 * (high - low) or 0.05 * abs(high) or 0.01
    ax.set_xlim(low - pad, high + pad)
