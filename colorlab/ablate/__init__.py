"""Ablations: one grid of training configs, several seeds each, one table with error bars.

An ablation asks what one change does: the same base config, the same data and budget, one
option changed per variant. On a small budget two seeds of the same config differ about as
much as most effects, so every variant trains with several seeds, and every difference from
the base is tested against that spread before it is called real.

- :mod:`colorlab.ablate.grid`: :func:`load_grid` reads and checks a grid file
  (:func:`shipped_grids`: ``zhang_ablation``, ``vgg16_ablation``), every mistake before
  anything trains.
- :mod:`colorlab.ablate.runner`: :func:`run` trains each (variant, seed) into its own run
  folder (resuming an interrupted grid, reusing finished runs), scores all on the same
  held-out photos, and writes ``results.csv``, ``summary.md`` and the figures.
- :mod:`colorlab.ablate.summary`: mean and spread per variant, Welch's test against base.
- :mod:`colorlab.ablate.figures`: :func:`plot_metrics` and :func:`plot_losses`.

On the command line: ``colorlab ablate zhang_ablation --size cpu --out runs/ablation``.
"""

from colorlab._lazy import facade

#: Names loaded on first use (they need TensorFlow or matplotlib): ``colorlab ablate --help``
#: imports this package and stays light.
_LAZY = {"BASE": "grid", "Grid": "grid", "Variant": "grid", "load_grid": "grid",
         "shipped_grids": "grid", "default_size": "grid", "Ablation": "runner", "run": "runner", "run_folder": "runner",
         "compare": "summary", "read_curve": "summary", "summarize": "summary", "METRICS": "summary",
         "plot_losses": "figures", "plot_metrics": "figures"}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = facade(__name__, _LAZY, ("figures", "grid", "runner", "summary"),
                              globals())
