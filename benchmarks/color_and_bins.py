"""Benchmark: colorlab's Lab conversion and soft encoding against the usual ways, in one run.

Run by hand on the machine to measure (not a test):

    python benchmarks/color_and_bins.py [--photos ../shared/data/photos] [--repeats 5]

1. ``colorlab.rgb_to_lab`` against ``skimage.color.rgb2lab`` on the same real photos, once as
   decoded (uint8) and once as float32 in [0, 1]. Goal: at least 2x faster.
2. Soft-encoded targets for 32 x 64 x 64 ab maps (from real photos): colorlab's sparse form
   (what the loss consumes) against the authors' approach (sklearn NearestNeighbors, k = 10,
   Gaussian sigma = 5, then the dense target). Goal: at least 20x faster, identical results.

Times are the median of ``--repeats`` runs after a warm-up; ratios compare runs made in this
one process on the same inputs.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from skimage import color as skcolor  # noqa: E402
from skimage import io, transform  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

import colorlab  # noqa: E402
from colorlab.quantize import ColorBins  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "photos"


def load_photos(folder: pathlib.Path, limit: int) -> list[np.ndarray]:
    """Up to ``limit`` RGB photos from ``folder`` (recursively), or scikit-image's if absent."""
    paths = sorted(folder.rglob("*.jpg"))[:limit] if folder.exists() else []
    if not paths:
        from skimage import data

        print(f"(no photos under {folder}; using scikit-image's sample photos)")
        return [getattr(data, n)() for n in ("astronaut", "chelsea", "coffee", "rocket")]
    photos = [io.imread(p) for p in paths]
    return [p for p in photos if p.ndim == 3 and p.shape[-1] == 3]


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (tracing, caches, thread pool)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def authors_soft_encoding(ab: np.ndarray, centers: np.ndarray, k: int = 10, sigma: float = 5.0):
    """The released code's NNEncode: ball-tree k nearest neighbours, Gaussian, dense target."""
    flat = ab.reshape(-1, 2)
    nn = NearestNeighbors(n_neighbors=k, algorithm="ball_tree").fit(centers)
    distances, indices = nn.kneighbors(flat)
    weights = np.exp(-(distances**2) / (2 * sigma**2))
    weights /= weights.sum(axis=1, keepdims=True)
    dense = np.zeros((len(flat), len(centers)))
    dense[np.arange(len(flat))[:, None], indices] = weights
    return dense.reshape(*ab.shape[:-1], len(centers))


def ab_maps(photos: list[np.ndarray], count: int, size: int) -> np.ndarray:
    """``count`` ab maps of size x size: centre crops of the photos, resized, as Lab ab."""
    maps = []
    for i in range(count):
        photo = photos[i % len(photos)]
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        crop = photo[top : top + side, left : left + side]
        small = transform.resize(crop, (size, size), anti_aliasing=True)  # floats in [0, 1]
        maps.append(colorlab.rgb_to_lab(small.astype(np.float32))[..., 1:])
    return np.stack(maps).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=pathlib.Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--limit", type=int, default=64, help="photos to convert")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    photos = load_photos(args.photos, args.limit)
    pixels = sum(p.shape[0] * p.shape[1] for p in photos)
    print(f"{len(photos)} photos, {pixels / 1e6:.1f} Mpixel, {os.cpu_count()} CPU cores\n")

    print("1. sRGB -> Lab on the same photos")
    rows = []
    for label, images in (
        ("uint8 as decoded", photos),
        ("float32 in [0, 1]", [p.astype(np.float32) / 255.0 for p in photos]),
    ):
        ours = median_time(lambda: [colorlab.rgb_to_lab(p) for p in images], args.repeats)
        theirs = median_time(lambda: [skcolor.rgb2lab(p) for p in images], args.repeats)
        diff = max(
            float(np.abs(colorlab.rgb_to_lab(p) - skcolor.rgb2lab(p)).max()) for p in images[:8]
        )
        rows.append((label, ours, theirs, diff))
        print(
            f"   {label:18s} colorlab {ours * 1e3:7.1f} ms   skimage {theirs * 1e3:7.1f} ms"
            f"   ratio {theirs / ours:5.2f}x   max |diff| {diff:.1e}   (goal >= 2x)"
        )

    print("\n2. Soft-encoded targets, 32 x 64 x 64 ab maps, k = 10, sigma = 5")
    bins = ColorBins.zhang313()
    rng = np.random.default_rng(0)
    random_rgb = rng.random((32, 64, 64, 3), dtype=np.float32)
    for label, ab in (
        ("photo ab", ab_maps(photos, 32, 64)),
        ("random sRGB ab", colorlab.rgb_to_lab(random_rgb)[..., 1:]),
    ):
        ours = median_time(lambda: bins.soft_encode(ab, sparse=True), args.repeats)
        theirs = median_time(lambda: authors_soft_encoding(ab, bins.centers), args.repeats)
        indices, weights = bins.soft_encode(ab, sparse=True)
        reference = authors_soft_encoding(ab, bins.centers)
        difference = float(np.abs(bins.to_dense(indices, weights) - reference).max())
        print(
            f"   {label:15s} colorlab sparse {ours * 1e3:6.1f} ms   NearestNeighbors + dense "
            f"{theirs * 1e3:6.1f} ms   ratio {theirs / ours:5.1f}x   max |diff| {difference:.1e}"
            "   (goal >= 20x)"
        )
    sparse_kb = (indices.nbytes + weights.nbytes) / 1e3
    dense_kb = indices.shape[0] * indices.shape[1] * indices.shape[2] * len(bins) * 4 / 1e3
    print(f"   target size: sparse {sparse_kb:,.0f} kB, dense float32 {dense_kb:,.0f} kB")


if __name__ == "__main__":
    main()
