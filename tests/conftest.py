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


def make_photo(seed: int = 0, size: tuple[int, int] = (60, 80)) -> np.ndarray:
    """A colourful test image made by the tests: smooth gradients plus noise, (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x / w, y / h, 1 - x / w], -1) * 200 + rng.integers(0, 50, (h, w, 3))
    return rgb.astype(np.uint8)


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
