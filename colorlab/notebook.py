"""Set-up helpers shared by the notebooks: versions, GPU check, quick mode, sample photos.

Quick mode is the one switch that makes every notebook small enough for CI: set the
environment variable ``COLORLAB_QUICK=1`` (the test suite does) and each notebook uses tiny
data and few steps. Unset, or ``0``, gives the full lesson.
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
from importlib import metadata
from typing import Any

import numpy as np

import colorlab

__all__ = ["MINIMUM_VERSIONS", "QUICK_ENV", "check_versions", "quick_mode", "sample_photo", "setup", "show_model", "strip_outputs"]

#: The environment variable that switches every notebook into quick mode.
QUICK_ENV = "COLORLAB_QUICK"

# The colour photos scikit-image ships (no download needed).
_SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def quick_mode() -> bool:
    """True when ``COLORLAB_QUICK`` is set to anything but "", "0", "false" or "no"."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def setup(verbose: bool = True) -> bool:
    """Prints Python, TensorFlow, Keras and colorlab versions and whether a GPU is visible.

    Args:
        verbose: Print the report (a notebook's first cell does).

    Returns:
        Whether quick mode is on (see :func:`quick_mode`).
    """
    check_versions()  # before TensorFlow is imported: an old one says so, in one line
    from colorlab import _startup  # noqa: F401, I001  (deliberately lazy: quiet TensorFlow)
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    quick = quick_mode()
    if verbose:
        print(f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
              f"Keras {keras.__version__}, colorlab {colorlab.__version__}")
        if gpus:
            print(f"GPU: {', '.join(g.name for g in gpus)}")
        elif "google.colab" in sys.modules:
            print("No GPU: in Colab choose Runtime > Change runtime type > GPU, then rerun.")
        else:
            print("No GPU found: lessons run on the CPU (training lessons slowly).")
        print(f"Quick mode: on ({QUICK_ENV}=1: tiny data, few steps)" if quick else
              f"Quick mode: off (set {QUICK_ENV}=1 for tiny data and few steps)")
    return quick


#: The oldest versions colorlab works with (as pyproject.toml requires).
MINIMUM_VERSIONS = {"tensorflow": "2.16", "keras": "3.0", "numpy": "1.26",
                    "scikit-image": "0.22", "matplotlib": "3.7"}


def check_versions(minimum: dict[str, str] | None = None) -> None:
    """Refuses an environment older than colorlab needs, saying what to upgrade.

    Raises:
        RuntimeError: a package is missing or older than its minimum (one message naming
            every such package and the command that upgrades them).
    """
    minimum = MINIMUM_VERSIONS if minimum is None else minimum
    problems = []
    for package, wanted in minimum.items():
        try:
            found = metadata.version(package)
        except metadata.PackageNotFoundError:
            problems.append((package, wanted, "not installed"))
            continue
        if _version_tuple(found) < _version_tuple(wanted):
            problems.append((package, wanted, found))
    if problems:
        listed = "; ".join(f"{p} >= {w} is needed, this environment has {f}"
                           for p, w, f in problems)
        upgrade = " ".join(f'"{p}>={w}"' for p, w, _ in problems)
        raise RuntimeError(
            f"colorlab cannot run here: {listed}. Run: %pip install -U {upgrade}, then "
            "restart the kernel (in Colab: Runtime > Restart session)."
        )


def _version_tuple(text: str) -> tuple[int, ...]:
    """(2, 16, 1) from "2.16.1", "2.16.1rc0" or "2.16.1+cu121": the leading numbers."""
    numbers = []
    for part in text.split("+")[0].split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def sample_photo(name: str = "astronaut") -> np.ndarray:
    """A colour photo that scikit-image ships, as (H, W, 3) uint8 RGB.

    Args:
        name: One of "astronaut", "chelsea", "coffee", "rocket".
    """
    from skimage import data

    if name not in _SKIMAGE_PHOTOS:
        raise ValueError(f"Unknown sample photo {name!r}; choose one of {_SKIMAGE_PHOTOS}.")
    return getattr(data, name)()


def show_model(model: Any, expand_nested: bool = False, dpi: int = 60) -> None:
    """Shows a model's graph with ``keras.utils.plot_model``, or its layer table.

    The graph needs the ``pydot`` package and the Graphviz ``dot`` program (Colab has both);
    without them the layer table of ``model.summary()`` is printed instead. Returns nothing,
    so a notebook cell that ends with it shows no stray value.
    """
    import shutil
    import tempfile

    from colorlab import _startup  # noqa: F401, I001  (deliberately lazy: quiet TensorFlow)
    import keras

    if shutil.which("dot"):
        try:
            from IPython.display import Image, display

            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "model.png")
                keras.utils.plot_model(
                    model, to_file=path, show_shapes=True, show_layer_names=True,
                    expand_nested=expand_nested, dpi=dpi,
                )
                display(Image(filename=path))
            return None
        except (ImportError, OSError, ValueError):
            pass  # pydot missing or Graphviz failing: fall back to the table
    model.summary(line_length=100, expand_nested=expand_nested)
    return None


def strip_outputs(path: str) -> int:
    """Clears a notebook's outputs except in cells marked ``NBVAL_CHECK_OUTPUT``.

    Instructors run this before committing a notebook: outputs are not committed, except the
    deterministic ones nbval compares.

    Args:
        path: The .ipynb file, rewritten in place.

    Returns:
        The number of cells whose outputs were kept.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    kept = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" in cell.source:
            kept += 1
            cell.outputs = [o for o in cell.outputs if o.get("name") != "stderr"]
        else:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)  # progress-bar state, not content
    nbformat.write(nb, path)
    return kept
