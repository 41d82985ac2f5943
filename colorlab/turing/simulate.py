"""Simulated participants with known fool rates: to test the analysis, and to plan a study.

Each simulated participant has their own fool rate for each method, drawn from a Beta
distribution whose mean is the method's true rate (``concentration`` sets how much people
differ: the clustering that makes the naive binomial error too small), calls a vigilance
fake fake with probability ``vigilance_rate`` (87 % in the paper), and, if inattentive,
answers every trial by a coin flip.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from colorlab.turing.answers import Answer, score
from colorlab.turing.protocol import Session, rng_for

__all__ = ["simulate_answers"]


def simulate_answers(sessions: Sequence[Session], fool_rates: Mapping[str, float], *,
                     concentration: float | None = 20.0, vigilance_rate: float = 0.87,
                     inattentive: float = 0.0, seed: int = 0) -> list[Answer]:
    """Answers of simulated participants, one per session.

    Args:
        sessions: Planned sessions (:func:`~colorlab.turing.protocol.plan_session`).
        fool_rates: Each method's true fool rate (the population mean).
        concentration: The Beta concentration of participants' own rates around it (smaller:
            people differ more); None: every participant has the method's rate exactly.
        vigilance_rate: How often an attentive participant calls a vigilance fake fake.
        inattentive: The share of participants who answer at random.
        seed: The same seed gives the same answers.

    Returns:
        Every answer, practice included, with reaction times of 400-1500 ms.
    """
    answers = []
    for session in sessions:
        rng = rng_for(seed, "simulate", session.study, session.participant)
        careless = rng.random() < inattentive
        own = {}
        for method, rate in fool_rates.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"A fool rate is a share from 0 to 1; {method}: {rate}.")
            own[method] = rate if concentration is None or rate in (0, 1) else rng.beta(
                rate * concentration, (1 - rate) * concentration)
        choices = []
        for trial in session.trials:
            if careless:
                fooled = rng.random() < 0.5
            elif trial.kind == "vigilance":
                fooled = rng.random() >= vigilance_rate
            else:
                if trial.method not in own:
                    raise ValueError(f"No fool rate was given for {trial.method!r}.")
                fooled = rng.random() < own[trial.method]
            choices.append(trial.real_side if fooled else trial.fake_side)
        times = rng.uniform(400, 1500, len(choices))
        answers += score(session, choices, times.tolist(), [1000.0] * len(choices))
    return answers
