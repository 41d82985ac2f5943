"""colorlab: learning-based image colorization, taught side by side in Keras 3 / TensorFlow.

A grayscale photo gives the lightness L of CIE Lab; a network predicts the two chroma
channels ab. The modules, one concept each, in the order the lessons meet them:

- :mod:`colorlab.color`: sRGB <-> Lab, and the normalisation a network sees.
- :mod:`colorlab.reference`: the plain numpy versions of the core algorithms (Lab, soft
  encoding, annealed mean, prior, rebalancing), to read next to the papers.
- :mod:`colorlab.quantize`: :class:`ColorBins`, the ab bins of Zhang et al. (2016) with soft
  and hard encoding and annealed-mean decoding.
- :mod:`colorlab.rebalance`: the empirical ab prior and class-rebalancing weights.
- :mod:`colorlab.data`: data sets, photo files, splits, the tf.data pipeline, TFRecords.
- :mod:`colorlab.models`: each method's builder and its :class:`~colorlab.models.Method`.
- :mod:`colorlab.losses`: Keras losses (rebalanced cross-entropy, ab regression, smoothness).
- :mod:`colorlab.train`, :mod:`colorlab.colorize`, :mod:`colorlab.evaluate`: train,
  colorize photos of any size, and score the results against baselines; ``colorlab`` on
  the command line (:mod:`colorlab.cli`) does the same.
- :mod:`colorlab.plot`: the figures the notebooks show.
- :mod:`colorlab.notebook`: set-up helpers for the notebooks (versions, GPU, quick mode).

``import colorlab`` is light: each module (and TensorFlow with it) is imported the first
time it is used (PEP 562), so ``colorlab --help`` answers at once. Importing
:mod:`colorlab.models` registers colorlab's Keras classes, so ``.keras`` files load with
``safe_mode=True``; :func:`colorlab.models.load_model` does that for you.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The submodules, imported on first use.
_SUBMODULES = ("cli", "color", "colorize", "data", "evaluate", "files", "losses", "models",
               "notebook", "plot", "quantize", "rebalance", "reference", "train")
#: Names offered at the top, and the module each comes from.
_NAMES = {
    "ColorBins": "quantize",
    "empirical_prior": "rebalance",
    "lab_to_rgb": "color",
    "quick_mode": "notebook",
    "rebalance_weights": "rebalance",
    "rgb_to_lab": "color",
    "zhang_imagenet_prior": "rebalance",
}

__all__ = sorted([*_SUBMODULES, *_NAMES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"colorlab.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"colorlab.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'colorlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES, *_NAMES])
