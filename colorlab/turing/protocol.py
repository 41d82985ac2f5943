"""The colorization Turing test's protocol: who sees which pair, on which side, in which order.

Zhang, Isola & Efros (ECCV 2016, Sec. 3.1) and their released study page
(phillipi/AMT_Real_vs_Fake): a two-alternative forced choice. Each trial shows the real
photo and one method's colorization of the same gray photo, the real one's side random
per trial, each for 1 s; the participant says which has fake colours. A session is 10
practice trials with feedback (left out of the analysis), then 40 test trials without,
of which 10 % are vigilance trials: the truth against colours copied from another photo,
an easy fake that a participant who is paying attention calls fake (87 % of the time in
the paper). A participant who fails them is excluded.

Everything here is pure and seeded: no clock, no widget, no browser. A session is planned
from the study's photos and methods, a participant's name and a seed, and is the same
every time; the notebook runner, the exported page and the simulated participants of the
tests all play the same :class:`Session`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Sequence

import numpy as np

__all__ = ["DISPLAY_SIZE", "EXPOSURE_MS", "FEEDBACK_MS", "KINDS", "PRACTICE", "SIDES", "TEST",
           "VIGILANCE", "VIGILANCE_METHOD", "Session", "Trial", "plan_session", "rng_for"]

#: Side of the square images, in pixels (the paper's 256 x 256).
DISPLAY_SIZE = 256
#: How long each image is shown, in milliseconds (1 s in the paper).
EXPOSURE_MS = 1000
#: How long a practice trial's feedback stays, in milliseconds (the released page's ~2.4 s).
FEEDBACK_MS = 2400
#: Practice trials per session (with feedback; left out of the analysis).
PRACTICE = 10
#: Test trials per session, vigilance trials included.
TEST = 40
#: The share of test trials that are vigilance trials.
VIGILANCE = 0.10
#: The method name of a vigilance trial's fake (colours copied from another photo).
VIGILANCE_METHOD = "vigilance"
#: A trial's kinds.
KINDS = ("practice", "test", "vigilance")
#: The two sides an image can be shown on ("left" first, then "right" in a sequential page).
SIDES = ("left", "right")


@dataclasses.dataclass(frozen=True)
class Trial:
    """One trial: the real photo and a fake, one on each side.

    Attributes:
        number: Its place in the session, from 1.
        kind: "practice", "test" or "vigilance".
        method: The method whose colorization is the fake (:data:`VIGILANCE_METHOD` for a
            vigilance trial).
        photo: The photo's name in the study.
        real_side: "left" or "right": where the real photo is.
    """

    number: int
    kind: str
    method: str
    photo: str
    real_side: str

    @property
    def fake_side(self) -> str:
        """The side of the fake: the right answer."""
        return SIDES[1 - SIDES.index(self.real_side)]


@dataclasses.dataclass(frozen=True)
class Session:
    """One participant's trials, in order.

    Attributes:
        study: The study's id (answers from another study are refused when analysed).
        participant: The participant's name or id.
        method: The one method of the session, or None for a mixed session.
        trials: Practice trials first, then the test (vigilance trials among them).
    """

    study: str
    participant: str
    method: str | None
    trials: tuple[Trial, ...]

    def to_dict(self) -> dict:
        """Plain JSON-able data (for the page and the answer files)."""
        return {"study": self.study, "participant": self.participant, "method": self.method,
                "trials": [dataclasses.asdict(t) for t in self.trials]}

    @classmethod
    def from_dict(cls, data: dict) -> "Session":
        return cls(data["study"], data["participant"], data.get("method"),
                   tuple(Trial(**t) for t in data["trials"]))


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    """A generator that depends only on the seed and the names given (not on call order)."""
    digest = hashlib.sha256("\0".join([str(int(seed)), *parts]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def plan_session(photos: Sequence[str], methods: Sequence[str], *, study: str,
                 participant: str, seed: int = 0, method: str | None = None,
                 practice: int = PRACTICE, test: int = TEST,
                 vigilance: float = VIGILANCE) -> Session:
    """Plans one participant's session.

    Every photo appears at most once in a session (a photo seen twice, differently
    coloured, gives the second trial away), practice photos are not test photos, the real
    photo is on each side equally often (within one trial) in random order, and vigilance
    trials are spread among the test trials (never the first).

    Args:
        photos: The study's photo names (at least ``practice + test``).
        methods: The methods being tested.
        study: The study's id.
        participant: A name or id; with ``seed`` it fixes the session.
        seed: The study's seed.
        method: One method for the whole session (the paper's design: assign methods to
            participants in turn); None mixes every method, equally often, in one session
            (the authors' 2020 port).
        practice: Practice trials (with feedback).
        test: Test trials, vigilance trials included.
        vigilance: The share of test trials that are vigilance trials (0 for none).

    Returns:
        The :class:`Session`, the same for the same arguments.

    Raises:
        ValueError: too few photos, an unknown method, or counts out of range (the message
            says what to change).

    Example:
        >>> photos = [f"p{i:02d}" for i in range(50)]
        >>> s = plan_session(photos, ["zhang", "vgg"], study="s1", participant="ana")
        >>> len(s.trials), sum(t.kind == "vigilance" for t in s.trials)
        (50, 4)
    """
    photos, methods = list(photos), list(methods)
    if not methods or len(set(methods)) != len(methods) or VIGILANCE_METHOD in methods:
        raise ValueError(f"methods must be distinct names (and not {VIGILANCE_METHOD!r}), "
                         f"got {methods}.")
    if method is not None and method not in methods:
        raise ValueError(f"method {method!r} is not one of the study's methods {methods}.")
    if len(set(photos)) != len(photos):
        raise ValueError("The study's photo names must be distinct.")
    for name, value in (("practice", practice), ("test", test)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} is a number of trials, 0 or more; got {value!r}.")
    if test < 1:
        raise ValueError("A session needs at least one test trial.")
    if not 0 <= vigilance < 1:
        raise ValueError(f"vigilance is a share of the test trials, from 0 to below 1; "
                         f"got {vigilance}.")
    if len(photos) < practice + test:
        raise ValueError(f"A session of {practice} practice and {test} test trials shows "
                         f"{practice + test} different photos, but the study has {len(photos)}:"
                         " add photos, or ask for fewer trials (practice=, test=).")
    rng = rng_for(seed, study, participant)
    order = rng.permutation(len(photos))
    practice_photos = [photos[i] for i in order[:practice]]
    test_photos = [photos[i] for i in order[practice:practice + test]]
    chosen = [method] if method is not None else methods
    n_vigilance = int(round(vigilance * test))

    if n_vigilance >= test:
        raise ValueError(f"vigilance {vigilance} of {test} test trials leaves none for the "
                         "methods: lower it, or ask for more test trials.")

    def balanced(count: int, names: list[str]) -> list[str]:
        """``count`` names, each as often as the others (within one), in random order."""
        start = int(rng.integers(len(names)))  # which names get the extra ones: at random
        rotated = names[start:] + names[:start]
        return [rotated[i % len(names)] for i in rng.permutation(count)]

    # Vigilance trials are spread among the test trials, never first (the first sets the pace).
    rest = ["test"] * (test - n_vigilance - 1) + ["vigilance"] * n_vigilance
    kinds = ["test"] + [rest[i] for i in rng.permutation(len(rest))]
    test_methods = iter(balanced(test - n_vigilance, chosen))
    plan = [("practice", m, p) for m, p in zip(balanced(practice, chosen), practice_photos)]
    plan += [(kind, next(test_methods) if kind == "test" else VIGILANCE_METHOD, photo)
             for kind, photo in zip(kinds, test_photos)]
    sides = balanced(practice, list(SIDES)) + balanced(test, list(SIDES))
    trials = tuple(Trial(number, kind, name, photo, side)
                   for number, ((kind, name, photo), side) in enumerate(zip(plan, sides), 1))
    return Session(study, participant, method, trials)
