"""Benchmark: training throughput of Zhang et al.'s network in float32, mixed precision and XLA.

Run by hand on a GPU machine (not a test):

    python benchmarks/train_throughput.py [--photos ../shared/data/photos] [--steps 50]

For each setting the script builds the network (width 1 by default: the paper's 32 M weights),
compiles it with the Zhang recipe (soft targets, rebalanced cross-entropy, Adam) under the
setting's dtype policy, and times ``--steps`` training steps after ``--warmup`` steps (which
absorb tracing, XLA compilation and cuDNN autotuning). Batches are 176 x 176 crops of real
photos with their soft-encoded targets, made once by the input pipeline and cached in memory,
so the figure is the training step's, not the JPEG decoder's.

Settings: float32; mixed_float16; mixed_float16 with XLA (``jit_compile=True``). On a CPU,
mixed_float16 is skipped unless ``--all`` is given (CPUs have no fast float16). Prints photos
per second for each setting and the speed-ups over float32, all measured in one run.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorlab import models  # noqa: E402
from colorlab.data import photos  # noqa: E402
from colorlab.data.pipeline import make_dataset  # noqa: E402
from colorlab.rebalance import zhang_imagenet_prior  # noqa: E402
from colorlab.train import TrainConfig, compile_for, make_optimizer  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "photos"
SETTINGS = (("float32", "float32", False), ("mixed_float16", "mixed_float16", False),
            ("mixed_float16 + XLA", "mixed_float16", True))


def measure(policy: str, xla: bool, batches: tf.data.Dataset, args: argparse.Namespace) -> float:
    """Photos per second of ``args.steps`` training steps under ``policy`` (and XLA)."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        config = TrainConfig(model="zhang_eccv16", model_args={"width": args.width},
                             batch_size=args.batch_size, image_size=args.image_size,
                             precision=policy, xla=xla)
        model = models.build("zhang_eccv16", width=args.width)
        compile_for(model, config, make_optimizer(config, 1_000), zhang_imagenet_prior())
        model.fit(batches, steps_per_epoch=args.warmup, epochs=1, verbose=0)
        start = time.perf_counter()
        history = model.fit(batches, steps_per_epoch=args.steps, epochs=1, verbose=0)
        float(history.history["loss"][-1])  # the last step has finished
        return args.steps * args.batch_size / (time.perf_counter() - start)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=pathlib.Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--image-size", type=int, default=176)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--all", action="store_true", help="mixed precision on a CPU too")
    args = parser.parse_args()

    files = photos.list_images(args.photos)[: args.batch_size * 8]
    if len(files) < args.batch_size:
        raise SystemExit(f"Found {len(files)} photos under {args.photos}; need at least "
                         f"{args.batch_size} (pass --photos).")
    batches = make_dataset(files, training=True, image_size=args.image_size, target="soft",
                           batch_size=args.batch_size, cache=True, repeat=True,
                           gray_fraction=None)
    batches = batches.take(len(files) // args.batch_size).cache().repeat()
    gpus = tf.config.list_logical_devices("GPU")
    device = gpus[0].name if gpus else "CPU only"
    print(f"Zhang et al., width {args.width}, {args.image_size} px crops, batch "
          f"{args.batch_size}, {args.steps} timed steps after {args.warmup} warm-up, {device}:")
    results = {}
    for label, policy, xla in SETTINGS:
        if policy == "mixed_float16" and not gpus and not args.all:
            print(f"  {label:22s} skipped (no GPU; --all to run it anyway)")
            continue
        results[label] = measure(policy, xla, batches, args)
        print(f"  {label:22s} {results[label]:8.1f} photos/s", flush=True)
    if "float32" in results:
        for label, value in results.items():
            if label != "float32":
                print(f"  {label} / float32: {value / results['float32']:.2f}x")


if __name__ == "__main__":
    main()
