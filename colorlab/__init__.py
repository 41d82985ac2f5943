"""colorlab: learning-based image colorization, taught side by side in Keras 3 / TensorFlow.

A grayscale photo gives the lightness L of CIE Lab; a network predicts the two chroma
channels ab. The modules, one concept each:

- :mod:`colorlab.color`: sRGB <-> Lab, and the normalisation a network sees.
- :mod:`colorlab.quantize`: :class:`ColorBins`, the ab bins of Zhang et al. (2016) with soft
  and hard encoding and annealed-mean decoding.
- :mod:`colorlab.rebalance`: the empirical ab prior and class-rebalancing weights.
- :mod:`colorlab.losses`: Keras losses (rebalanced cross-entropy, ab regression, smoothness).
- :mod:`colorlab.models`: the model builders (imported here, so ``.keras`` files load).
- :mod:`colorlab.train`, :mod:`colorlab.colorize`, :mod:`colorlab.evaluate`: train, colorize
  photos of any size, and score the results against baselines; ``colorlab`` on the command
  line (:mod:`colorlab.cli`) does the same.
- :mod:`colorlab.plot`: the figures the notebooks show.
- :mod:`colorlab.notebook`: set-up helpers for the notebooks (GPU check, quick mode).
"""

from colorlab import _startup  # noqa: F401  (first: TensorFlow's start-up, without noise)
from colorlab import color, losses, models, quantize, rebalance
from colorlab.color import lab_to_rgb, rgb_to_lab
from colorlab.notebook import quick_mode
from colorlab.quantize import ColorBins
from colorlab.rebalance import (
    empirical_prior,
    rebalance_weights,
    zhang_imagenet_prior,
)

__version__ = "0.1.0"

__all__ = [
    "ColorBins",
    "color",
    "empirical_prior",
    "lab_to_rgb",
    "losses",
    "models",
    "quantize",
    "quick_mode",
    "rebalance",
    "rebalance_weights",
    "rgb_to_lab",
    "zhang_imagenet_prior",
]
