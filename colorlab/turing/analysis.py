"""The fool rate of each method, with honest uncertainty.

A method's **fool rate** is the share of test trials on which its colorization was taken
for the real photo (the paper's full method: 32.3 %; 50 % is a perfect method, in
expectation). Trials are not independent: they cluster within people (some are harder to
fool) and within photos. The naive binomial standard error ignores that and is too small
(pix2pix reports 27.8 +- 2.7 % for Zhang et al.'s method from about 2,000 trials, where a
binomial error would say +- 1.0), so, as in the authors' scripts, the uncertainty here is
a **two-stage bootstrap**: resample the participants, then each participant's trials. The
Wilson interval (binomial) is shown beside it for comparison.

Practice trials are left out; a participant who fails the vigilance trials (calls too few
of the easy fakes fake) is excluded from everything, and named. Fool rates of one method
differ between studies (different people, photos, screens): compare methods within one
study only, with :attr:`Analysis.better`.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from typing import Sequence

import numpy as np

from colorlab.turing.answers import Answer
from colorlab.turing.protocol import VIGILANCE_METHOD

__all__ = ["VIGILANCE_PASS", "Analysis", "MethodScore", "analyze", "trials_needed",
           "wilson_interval"]

#: The share of vigilance trials a participant must call right to be kept.
VIGILANCE_PASS = 0.75


@dataclasses.dataclass(frozen=True)
class MethodScore:
    """One method's result.

    Attributes:
        method: Its name.
        trials: Test trials scored (kept participants only).
        participants: Kept participants who saw it.
        fooled: Trials on which it was taken for real.
        rate: ``fooled / trials``.
        se: The two-stage bootstrap standard error.
        low, high: The bootstrap 95 % interval (percentiles).
        wilson_low, wilson_high: The Wilson 95 % interval, which treats trials as independent.
        reaction_ms: The median reaction time of its trials (None if not recorded).
    """

    method: str
    trials: int
    participants: int
    fooled: int
    rate: float
    se: float
    low: float
    high: float
    wilson_low: float
    wilson_high: float
    reaction_ms: float | None


@dataclasses.dataclass
class Analysis:
    """What :func:`analyze` found.

    Attributes:
        scores: Per method, its :class:`MethodScore`, highest fool rate first.
        better: ``better[(a, b)]``: the bootstrap probability that a fools more than b.
        vigilance: Per participant, (vigilance trials called right, vigilance trials, kept).
        excluded: The participants left out for failing vigilance.
        photos: Per method, per photo: (fooled, trials), for the ranked photo figure.
        bootstrap: Bootstrap replicates used.
        study: The answers' study id (None if they name several).
    """

    scores: dict[str, MethodScore]
    better: dict[tuple[str, str], float]
    vigilance: dict[str, tuple[int, int, bool]]
    excluded: list[str]
    photos: dict[str, dict[str, tuple[int, int]]]
    bootstrap: int
    study: str | None = None

    def markdown(self) -> str:
        """The table: method, fool rate +- bootstrap SE, both intervals, trials, people, and
        the median reaction time."""
        lines = ["| method | fool rate | bootstrap 95 % | Wilson 95 % | trials | participants "
                 "| median reaction |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for s in self.scores.values():
            reaction = "-" if s.reaction_ms is None else f"{s.reaction_ms / 1000:.2f} s"
            lines.append(f"| {s.method} | {100 * s.rate:.1f} % +- {100 * s.se:.1f} | "
                         f"{100 * s.low:.1f}-{100 * s.high:.1f} | "
                         f"{100 * s.wilson_low:.1f}-{100 * s.wilson_high:.1f} | {s.trials} | "
                         f"{s.participants} | {reaction} |")
        return "\n".join(lines)


def wilson_interval(fooled: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % at the default z).

    Example:
        >>> [round(v, 3) for v in wilson_interval(30, 100)]
        [0.219, 0.396]
    """
    if trials <= 0:
        return (0.0, 1.0)
    p = fooled / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def analyze(answers: Sequence[Answer], *, bootstrap: int = 2000, seed: int = 0,
            vigilance_pass: float = VIGILANCE_PASS) -> Analysis:
    """Fool rates, their uncertainty, pairwise comparisons, vigilance and per-photo rates.

    Args:
        answers: Every answer of one study (:func:`~colorlab.turing.answers.read_answers`).
        bootstrap: Replicates of the two-stage bootstrap.
        seed: The bootstrap's seed (the same answers and seed give the same analysis).
        vigilance_pass: The share of vigilance trials a participant must call right to be
            kept (participants without vigilance trials are kept).

    Raises:
        ValueError: no test answers, or no participant left after vigilance.
    """
    answers = None if isinstance(answers, (str, bytes, os.PathLike)) else list(answers)
    if answers is None or not all(isinstance(a, Answer) for a in answers):
        raise TypeError("analyze takes Answer records: read files with "
                        "colorlab.turing.read_answers(paths) first.")
    if bootstrap < 100:
        raise ValueError(f"bootstrap needs at least 100 replicates, got {bootstrap}.")
    vigilance: dict[str, list[int]] = {}
    for a in answers:
        if a.kind == "vigilance":
            right = vigilance.setdefault(a.participant, [0, 0])
            right[0] += not a.fooled
            right[1] += 1
    checks = {p: (r, n, r >= vigilance_pass * n) for p, (r, n) in vigilance.items()}
    excluded = sorted(p for p, (_, _, kept) in checks.items() if not kept)
    test = [a for a in answers if a.kind == "test" and a.method != VIGILANCE_METHOD
            and a.participant not in excluded]
    if not test:
        raise ValueError("No test answers to analyse" + (
            f" once the {len(excluded)} participants who failed vigilance are left out."
            if excluded else "."))
    people = sorted({a.participant for a in test})
    methods = sorted({a.method for a in test})
    index = {p: i for i, p in enumerate(people)}
    shown = np.zeros((len(methods), len(people)), np.int64)
    fooled = np.zeros_like(shown)
    photos: dict[str, dict[str, list[int]]] = {m: {} for m in methods}
    for a in test:
        m = methods.index(a.method)
        shown[m, index[a.participant]] += 1
        fooled[m, index[a.participant]] += a.fooled
        counts = photos[a.method].setdefault(a.photo, [0, 0])
        counts[0] += a.fooled
        counts[1] += 1

    # Two stages: participants with replacement (the same draw for every method, so paired
    # comparisons keep their pairing), then each drawn participant's trials, which for 0/1
    # outcomes is a binomial draw of their own rate.
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(people), (bootstrap, len(people)))
    own = np.divide(fooled, shown, out=np.zeros(shown.shape), where=shown > 0)
    replicates = np.empty((len(methods), bootstrap))
    for m in range(len(methods)):
        n = shown[m][drawn]
        k = rng.binomial(n, own[m][drawn])
        total = n.sum(axis=1)
        replicates[m] = np.where(total > 0, k.sum(axis=1) / np.maximum(total, 1), np.nan)

    scores = {}
    for m, name in enumerate(methods):
        trials, hits = int(shown[m].sum()), int(fooled[m].sum())
        values = replicates[m][np.isfinite(replicates[m])]
        times = [a.reaction_ms for a in test if a.method == name and a.reaction_ms is not None]
        scores[name] = MethodScore(
            name, trials, int((shown[m] > 0).sum()), hits, hits / trials,
            float(values.std(ddof=1)), float(np.percentile(values, 2.5)),
            float(np.percentile(values, 97.5)), *wilson_interval(hits, trials),
            float(np.median(times)) if times else None)
    scores = dict(sorted(scores.items(), key=lambda item: -item[1].rate))
    better = {}
    for i, a in enumerate(methods):
        for j, b in enumerate(methods):
            if i != j:
                both = np.isfinite(replicates[i]) & np.isfinite(replicates[j])
                better[(a, b)] = float(np.mean(replicates[i][both] > replicates[j][both]))
    studies = {a.study for a in answers}
    return Analysis(scores, better, checks, excluded,
                    {m: {p: (c[0], c[1]) for p, c in v.items()} for m, v in photos.items()},
                    bootstrap, studies.pop() if len(studies) == 1 else None)


def trials_needed(rate_a: float, rate_b: float, *, alpha: float = 0.05, power: float = 0.8,
                  design_effect: float = 1.0) -> int:
    """Test trials per method to tell two fool rates apart (a two-sided two-proportion test).

    ``n = deff * (z(1 - alpha/2) sqrt(2 p q) + z(power) sqrt(pa qa + pb qb))^2 / (pa - pb)^2``,
    p the mean of the two rates. ``design_effect`` (above 1) inflates it for trials that
    cluster within people and photos: the squared ratio of the bootstrap to the binomial
    standard error of a pilot study.

    Example:
        >>> trials_needed(0.30, 0.20), trials_needed(0.30, 0.25)   # 10 and 5 points apart
        (294, 1251)
    """
    if not (0 < rate_a < 1 and 0 < rate_b < 1) or rate_a == rate_b:
        raise ValueError(f"The rates are two different shares between 0 and 1; got {rate_a} "
                         f"and {rate_b}.")
    normal = statistics.NormalDist()
    z_alpha, z_power = normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)
    mean = (rate_a + rate_b) / 2
    spread = (z_alpha * np.sqrt(2 * mean * (1 - mean))
              + z_power * np.sqrt(rate_a * (1 - rate_a) + rate_b * (1 - rate_b)))
    return int(np.ceil(design_effect * spread ** 2 / (rate_a - rate_b) ** 2))
