"""Benchmark: the authors' released models in Keras, on this machine.

Run by hand (not a test):

    python benchmarks/pretrained.py [--official] [--rounds 5]

For eccv16 and siggraph17 (the released layout at width 1: 32 M and 34 M weights) it prints

- photos per second at 256 x 256, batch 1 and batch 8 (the compiled predict step, after a
  warm-up);
- seconds for one 12-megapixel photo end to end through ``colorlab.colorize.colorize``
  (resize, the model at render size 256, ab upsampled to 4000 x 3000, Lab -> RGB);
- the GFLOP/s the batch-8 forward pass achieves (TensorFlow's profiler counts the FLOPs)
  next to this machine's own float32 matrix-multiply GFLOP/s, measured in the same run:
  their ratio says how close to the machine's limit inference runs.

Speed does not depend on the weights' values: by default the networks have random weights
(nothing is downloaded); ``--official`` loads the released files (downloaded once).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorlab import models, pretrained  # noqa: E402
from colorlab.colorize import colorize  # noqa: E402


def best_seconds(run, rounds: int) -> float:
    """The fastest of ``rounds`` timed calls (after one untimed warm-up call)."""
    run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(n: int, rounds: int) -> dict[str, float]:
    """This machine's float32 matrix-multiply GFLOP/s (n x n times n x n), through numpy's
    BLAS and through TensorFlow: the best dense arithmetic it is known to reach."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    ta, tb = tf.constant(a), tf.constant(b)
    step = tf.function(lambda: tf.linalg.matmul(ta, tb), autograph=False)
    return {"numpy": 2 * n ** 3 / best_seconds(lambda: a @ b, rounds) / 1e9,
            "tensorflow": 2 * n ** 3 / best_seconds(lambda: step().numpy(), rounds) / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", action="store_true",
                        help="load the released weights (downloaded once) instead of random ones")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (the best counts)")
    parser.add_argument("--size", type=int, default=256, help="side of the square inputs")
    parser.add_argument("--photo-side", type=int, nargs=2, default=(3000, 4000),
                        metavar=("H", "W"), help="the large photo (default 12 MP)")
    args = parser.parse_args()

    measured = matmul_gflops(2048, args.rounds)
    limit = max(measured.values())
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    print(f"float32 matrix multiply (2048^3) on {os.cpu_count()} cores ({device}): "
          + ", ".join(f"{gflops:,.1f} GFLOP/s ({how})" for how, gflops in measured.items())
          + f"; the limit below is the higher")
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (*args.photo_side, 3), dtype=np.uint8)
    print(f"weights: {'official' if args.official else 'random (speed does not depend on them)'}")
    print(f"{'model':18} {'batch 1':>12} {'batch 8':>12} {'12 MP photo':>12} "
          f"{'GFLOP/photo':>12} {'GFLOP/s':>9} {'of matmul':>10}")
    for name in pretrained.preset_names():
        # The method's own model: eccv16's bin logits (colorize decodes them), siggraph17's ab.
        model = models.load_model(name) if args.official else pretrained.preset(name).network()
        flops = models.count_flops(model, args.size) / 1e9
        rates = {}
        for batch in (1, 8):
            x = rng.uniform(-0.5, 0.5, (batch, args.size, args.size, 1)).astype(np.float32)
            rates[batch] = batch / best_seconds(lambda: model.predict_on_batch(x), args.rounds)
        photo = best_seconds(lambda: colorize(model, big, render_size=args.size),
                             max(1, args.rounds // 2))
        achieved = flops * rates[8]
        print(f"{name:18} {rates[1]:>8.2f} p/s {rates[8]:>8.2f} p/s {photo:>10.2f} s "
              f"{flops:>12.1f} {achieved:>9.1f} {achieved / limit:>10.2f}")


if __name__ == "__main__":
    main()
