"""Benchmark: how fast the ``colorlab`` command answers, against importing TensorFlow.

Run by hand (not a test):

    python benchmarks/startup.py [--rounds 5]

``import colorlab`` loads no TensorFlow (PEP 562 lazy submodules), so ``colorlab --help``,
every subcommand's ``--help`` and argument errors answer at once. Goal: ``colorlab --help``
takes under a third of ``python -c "import tensorflow"``. Each command runs ``--rounds``
times in fresh processes, alternating, and keeps its fastest run; the ratio comes from the
same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

COMMANDS = {
    "import tensorflow": [sys.executable, "-c", "import tensorflow"],
    "import colorlab": [sys.executable, "-c", "import colorlab"],
    "colorlab --help": [sys.executable, "-m", "colorlab.cli", "--help"],
    "colorlab train --help": [sys.executable, "-m", "colorlab.cli", "train", "--help"],
    "colorlab train --epochs x": [sys.executable, "-m", "colorlab.cli", "train", "--epochs", "x"],
}


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    best = {name: float("inf") for name in COMMANDS}
    for _ in range(args.rounds):
        for name, command in COMMANDS.items():
            best[name] = min(best[name], seconds(command))
    base = best["import tensorflow"]
    for name, value in best.items():
        print(f"{name:28s} {value:6.2f} s   {value / base:5.2f} x import tensorflow")
    ratio = best["colorlab --help"] / base
    print(f"\ncolorlab --help / import tensorflow = {ratio:.2f} "
          f"({'meets' if ratio < 1 / 3 else 'misses'} the goal of under 1/3)")


if __name__ == "__main__":
    main()
