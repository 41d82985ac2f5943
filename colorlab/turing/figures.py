"""The Turing test's figures: fool rates with their intervals, and photos ranked by fool rate."""

from __future__ import annotations

import matplotlib

matplotlib.use(matplotlib.get_backend())  # keep the caller's backend (Agg when headless)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from colorlab.turing.analysis import Analysis  # noqa: E402

__all__ = ["plot_fool_rates", "plot_photo_ranking"]


def plot_fool_rates(result: Analysis, truth: dict[str, float] | None = None) -> plt.Figure:
    """Each method's fool rate with its bootstrap 95 % interval and the (narrower) Wilson
    interval beside it; the dashed line is 50 %, a perfect colorization's expectation.

    Args:
        result: The analysis.
        truth: Known fool rates to mark (simulated participants), by method.
    """
    scores = list(result.scores.values())
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(scores), 3.6), layout="constrained")
    x = np.arange(len(scores))
    rates = np.array([s.rate for s in scores]) * 100
    boot = np.array([[s.rate - s.low, s.high - s.rate] for s in scores]).T * 100
    wilson = np.array([[s.rate - s.wilson_low, s.wilson_high - s.rate] for s in scores]).T * 100
    ax.errorbar(x - 0.08, rates, yerr=boot, fmt="o", capsize=5, label="bootstrap 95 %")
    ax.errorbar(x + 0.08, rates, yerr=wilson, fmt="none", capsize=3, ecolor="0.6",
                label="Wilson 95 % (trials independent)")
    ax.axhline(50, color="0.5", ls="--", lw=1)
    if truth:
        known = [(i, 100 * truth[s.method]) for i, s in enumerate(scores) if s.method in truth]
        ax.plot(*zip(*known), "x", color="C3", ms=9, label="true rate")
    ax.set_xticks(x, [f"{s.method}\n{s.trials} trials" for s in scores])
    ax.set_ylabel("fool rate (%)")
    ax.set_ylim(0, max(55, float(np.max(rates + boot[1])) + 5))
    ax.legend(loc="upper right", fontsize="small")  # after every labelled element
    return fig


def plot_photo_ranking(result: Analysis, study, method: str, count: int = 8) -> plt.Figure:
    """The method's colorizations ranked by how often each fooled people (Zhang et al.,
    Fig. 6): the most convincing first, the least convincing last.

    Args:
        result: The analysis.
        study: The :class:`~colorlab.turing.study.Study` (for the images).
        method: Which method's colorizations.
        count: Photos shown (half from each end of the ranking when there are more).
    """
    if method not in result.photos:
        raise ValueError(f"No answers for {method!r}; the methods are "
                         f"{', '.join(result.photos)}.")
    ranked = sorted(result.photos[method].items(), key=lambda item: -item[1][0] / item[1][1])
    if len(ranked) > count:
        ranked = ranked[:count - count // 2] + ranked[len(ranked) - count // 2:]
    fig, axes = plt.subplots(1, len(ranked), figsize=(1.9 * len(ranked), 2.4),
                             layout="constrained", squeeze=False)
    for ax, (photo, (fooled, trials)) in zip(axes[0], ranked):
        ax.imshow(Image.open(study.image(photo, method)))
        ax.set_title(f"{100 * fooled / trials:.0f} % ({fooled}/{trials})", fontsize="small")
        ax.axis("off")
    fig.suptitle(f"{method}: photos by fool rate, most convincing first")
    return fig
