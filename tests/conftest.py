"""Shared test set-up: quiet TensorFlow, quick mode for the notebooks, common fixtures."""

import os
import pathlib
import tempfile

# Before TensorFlow is imported anywhere, and inherited by the notebook kernels nbval starts.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("COLORLAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Registry data sets (the embedded sample) go to a throw-away cache, not the user's.
os.environ.setdefault("COLORLAB_DATA", tempfile.mkdtemp(prefix="colorlab-test-data-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def photos():
    """The colour photos scikit-image ships, as uint8 RGB."""
    from skimage import data

    return {name: getattr(data, name)() for name in ("astronaut", "chelsea", "coffee")}


@pytest.fixture(scope="session")
def all_rgb8():
    """All 16,777,216 8-bit sRGB colours, (2^24, 3) uint8."""
    v = np.arange(1 << 24, dtype=np.uint32)
    return np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=-1).astype(np.uint8)


@pytest.fixture(scope="session")
def shared_reference():
    """../shared/reference, or skip where the project runs without it."""
    path = SHARED / "reference"
    if not (path / "pts_in_hull.npy").exists():
        pytest.skip("../shared/reference is not beside this checkout")
    return path
