"""The colorization Turing test (Zhang, Isola & Efros, ECCV 2016, Sec. 3.1), as a study.

People see the real photo and a colorization of the same gray photo, one after the other
for 1 s each, and say which has fake colours; a method's *fool rate* is the share of trials
on which its colorization was taken for the real one. The core is pure and seeded (no
clock, widget or browser inside), so every rule is tested with simulated participants:

- :mod:`colorlab.turing.protocol`: :func:`plan_session`, practice, vigilance, sides, order;
- :mod:`colorlab.turing.answers`: :class:`Answer`, :func:`score`, answers saved as given
  (:func:`append_answer`) and read back checked (:func:`read_answers`);
- :mod:`colorlab.turing.analysis`: :func:`analyze` (fool rates with a two-stage bootstrap
  over participants and their trials, the Wilson interval beside it, pairwise
  comparisons, vigilance exclusions, per-photo rates), :func:`trials_needed`;
- :mod:`colorlab.turing.simulate`: :func:`simulate_answers`, participants with known rates;
- :mod:`colorlab.turing.study`: :func:`make_study`, the photos and every method's
  colorization on disk; :mod:`colorlab.turing.page`: :func:`export_page`, the study as one
  self-contained HTML page to send to a class, :func:`session_for` the plan a page plays;
  :mod:`colorlab.turing.figures`: :func:`plot_fool_rates`, :func:`plot_photo_ranking`
  :mod:`colorlab.turing.runner`: :func:`run_in_notebook`, a session in a notebook's output
  whose answers are saved as they are clicked (these load TensorFlow or matplotlib, on
  first use).
"""

from colorlab._lazy import facade

from colorlab.turing.analysis import (
    VIGILANCE_PASS,
    Analysis,
    MethodScore,
    analyze,
    trials_needed,
    wilson_interval,
)
from colorlab.turing.answers import Answer, AnswerFileError, append_answer, read_answers, score
from colorlab.turing.protocol import (
    DISPLAY_SIZE,
    EXPOSURE_MS,
    FEEDBACK_MS,
    PRACTICE,
    TEST,
    VIGILANCE,
    Session,
    Trial,
    plan_session,
)
from colorlab.turing.simulate import simulate_answers

#: Names loaded on first use (they need TensorFlow).
_LAZY = {"make_study": "study", "load_study": "study", "Study": "study",
         "export_page": "page", "session_for": "page", "slot_of": "page",
         "plot_fool_rates": "figures", "plot_photo_ranking": "figures",
         "NotebookSession": "runner", "run_in_notebook": "runner"}
#: Submodules loaded on first use.
_MODULES = ("study", "page", "figures", "runner", "cli")

__all__ = [
    *_LAZY,
    "DISPLAY_SIZE", "EXPOSURE_MS", "FEEDBACK_MS", "PRACTICE", "TEST", "VIGILANCE",
    "VIGILANCE_PASS", "Analysis", "Answer", "AnswerFileError", "MethodScore", "Session",
    "Trial", "analyze", "append_answer", "plan_session", "read_answers", "score",
    "simulate_answers", "trials_needed", "wilson_interval",
]

__getattr__, __dir__ = facade(__name__, _LAZY, _MODULES, globals())
