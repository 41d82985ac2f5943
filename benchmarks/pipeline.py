"""Benchmark: the tf.data pipeline against bare decoding and a per-image Python loader, in one run.

Run by hand on the machine to measure (not a test):

    python benchmarks/pipeline.py [--photos ../shared/data/photos] [--limit 512] [--rounds 5]

All three read the same real photos (never copied into the project) and make 176 x 176
crops in batches of 32:

(a) bare: ``make_dataset(target=None)``: the same decode + resize + random crop/flip,
    batched, without Lab or target: the limit any pipeline of these photos meets;
(b) colorlab: the full ``make_dataset(target="soft")``: Lab in the graph, normalised L,
    soft-encoded 44 x 44 targets (k = 10, sigma = 5) packed for the loss;
(c) the per-image loader of the common Keras colorization repositories: a
    ``keras.utils.PyDataset`` whose ``__getitem__`` reads each file with skimage, resizes,
    crops, converts with ``skimage.color.rgb2lab`` and soft-encodes with sklearn
    ``NearestNeighbors`` into the dense 313-bin target (run with 2 workers, as ``fit`` would).

Goals: (b) costs at most 15 % over (a); (b) is at least twice as fast as (c). After one
warm-up pass each, (a) and (b) alternate for ``--rounds`` full passes and each keeps its
fastest pass; (c) runs one pass. All ratios come from the same run.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorlab import data  # noqa: E402
from colorlab.quantize import ColorBins  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "photos"
SIZE, BATCH, SHORT = 176, 32, 201


def python_loader(paths: list[str], workers: int):
    """A per-image loader in the style of the common Keras colorization repositories."""
    import keras
    from skimage import color as skcolor
    from skimage import io, transform
    from sklearn.neighbors import NearestNeighbors

    centers = ColorBins.zhang313().centers
    nn = NearestNeighbors(n_neighbors=10, algorithm="ball_tree").fit(centers)
    rng = np.random.default_rng(0)

    class Loader(keras.utils.PyDataset):
        def __len__(self):
            return len(paths) // BATCH

        def __getitem__(self, index):
            xs, ys = [], []
            for path in paths[index * BATCH : (index + 1) * BATCH]:
                rgb = io.imread(path)
                if rgb.ndim == 2:
                    rgb = np.stack([rgb] * 3, -1)
                rgb = rgb[..., :3]
                scale = SHORT / min(rgb.shape[:2])
                shape = (max(SHORT, round(rgb.shape[0] * scale)),
                         max(SHORT, round(rgb.shape[1] * scale)))
                rgb = transform.resize(rgb, shape, anti_aliasing=True)
                top = rng.integers(0, rgb.shape[0] - SIZE + 1)
                left = rng.integers(0, rgb.shape[1] - SIZE + 1)
                rgb = rgb[top : top + SIZE, left : left + SIZE]
                if rng.random() < 0.5:
                    rgb = rgb[:, ::-1]
                lab = skcolor.rgb2lab(rgb)
                ab = lab[2::4, 2::4, 1:].reshape(-1, 2)
                distances, indices = nn.kneighbors(ab)
                weights = np.exp(-(distances**2) / (2 * 5.0**2))
                weights /= weights.sum(axis=1, keepdims=True)
                target = np.zeros((len(ab), len(centers)), np.float32)
                target[np.arange(len(ab))[:, None], indices] = weights
                xs.append((lab[..., :1] - 50) / 100)
                ys.append(target.reshape(SIZE // 4, SIZE // 4, -1))
            return np.stack(xs).astype(np.float32), np.stack(ys)

    return Loader(workers=workers, use_multiprocessing=False)


def epoch_seconds(dataset: tf.data.Dataset) -> tuple[float, int]:
    """Seconds for one full pass, and the photos it gave."""
    start, photos = time.perf_counter(), 0
    for batch in dataset:
        photos += int(tf.shape(tf.nest.flatten(batch)[0])[0])
    return time.perf_counter() - start, photos


def time_interleaved(datasets: dict, rounds: int) -> dict:
    """Alternates full passes of each pipeline and keeps each one's fastest pass.

    On a shared 2-core machine one pass of the same pipeline varies by up to 2x from
    background load; alternating the pipelines round by round exposes both to the same
    load, and the fastest pass is the one least disturbed (as ``timeit`` advises).
    """
    for dataset in datasets.values():  # warm-up: tracing, file cache
        epoch_seconds(dataset)
    best = {label: (np.inf, 0) for label in datasets}
    for _ in range(rounds):
        for label, dataset in datasets.items():
            seconds, photos = epoch_seconds(dataset)
            best[label] = min(best[label], (seconds, photos))
    return best


def time_loader(loader, epochs: int) -> tuple[float, int]:
    """Iterates a PyDataset as fit() does: its workers prefetch batches in parallel."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(loader, shuffle=False)
    start, photos = time.perf_counter(), 0
    for _ in range(epochs):
        for x, _y in adapter.get_numpy_iterator():
            photos += len(x)
        adapter.on_epoch_end()
    return time.perf_counter() - start, photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=pathlib.Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--limit", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    paths = data.list_images(args.photos)[: args.limit] if args.photos.exists() else []
    if not paths:
        raise SystemExit(f"No photos under {args.photos}: pass --photos.")
    report = data.scan_images(paths, gray_fraction=None)
    usable = report.paths
    print(f"{len(usable)} photos from {args.photos} ({report.summary()}), "
          f"{os.cpu_count()} CPU cores, crops {SIZE} px, batches of {BATCH}\n")

    def pipeline(target):
        return data.make_dataset(report, training=True, target=target, batch_size=BATCH,
                                 image_size=SIZE, short_side=SHORT, seed=0)

    best = time_interleaved(
        {"(a) bare decode + resize + crop": pipeline(None),
         "(b) colorlab: + Lab + soft targets": pipeline("soft")},
        args.rounds,
    )
    best["(c) per-image Python loader"] = time_loader(
        python_loader(usable, workers=os.cpu_count() or 2), 1)
    results = {}
    for label, (seconds, photos) in best.items():
        results[label] = photos / seconds
        print(f"   {label:38s} {photos / seconds:7.1f} photos/s   ({photos} photos in "
              f"{seconds:.2f} s, fastest pass)")
    a, b, c = results.values()
    print(f"\n   Lab + targets cost {100 * (a / b - 1):.1f} % over bare decoding   (goal <= 15 %)")
    print(f"   colorlab / per-image loader: {b / c:.1f}x   (goal >= 2x)")


if __name__ == "__main__":
    main()
