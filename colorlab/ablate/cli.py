"""``colorlab ablate``: run a grid of training variants with several seeds, one table.

::

    colorlab ablate --list                                    # the shipped grids
    colorlab ablate zhang_ablation --size cpu --out runs/ablation
    colorlab ablate my_grid.yaml --out runs/mine --data photos/ --check

Registered into the ``colorlab`` command by :mod:`colorlab.cli`; the work is imported when
the command runs, so ``--help`` stays light.
"""

from __future__ import annotations

import argparse
import pathlib

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``ablate`` to the command line."""
    ab = commands.add_parser(
        "ablate", help="train a grid of variants x seeds, score all on the same photos, and "
        "write one table with error bars",
        description="Train every variant of a grid with every seed (each into its own run "
        "folder, resumable), score all on the same held-out photos, and write results.csv, "
        "summary.md and figures into --out. Run the same command again to resume.")
    ab.add_argument("grid", nargs="?", help="a grid YAML file, or a shipped grid's name "
                    "(zhang_ablation, vgg16_ablation)")
    ab.add_argument("--out", help="the output folder (default runs/<grid name>)")
    ab.add_argument("--size", help="the grid's named size: quick, cpu or gpu in the shipped "
                    "grids (default: gpu with a GPU, else cpu, when the grid has sizes)")
    ab.add_argument("--data", help="train (and score) on this data set or folder instead of "
                    "the grid's")
    ab.add_argument("--data-dir", help="cache folder of registry data sets")
    ab.add_argument("--check", action="store_true",
                    help="check the grid and list its runs; train nothing")
    ab.add_argument("--no-train", action="store_true",
                    help="score and summarise the runs already trained, training none")
    ab.add_argument("--list", action="store_true", help="list the shipped grids and exit")
    ab.set_defaults(run=_ablate)


def _ablate(args: argparse.Namespace) -> int:
    from colorlab.ablate.grid import default_size, load_grid, shipped_grids

    if args.list:
        for name, path in shipped_grids().items():
            grid = load_grid(path)
            print(f"{name}: {grid.description.splitlines()[0] if grid.description else ''}")
            print(f"  {path}")
        return 0
    if not args.grid:
        raise ValueError("name a grid: a YAML file, or one of the shipped grids "
                         f"({', '.join(shipped_grids())}); colorlab ablate --list shows them.")
    size = args.size or default_size(args.grid)
    grid = load_grid(args.grid, size, data=args.data)
    out = pathlib.Path(args.out or pathlib.Path("runs") / grid.name)
    print(f"Grid {grid.name}" + (f" ({size} size)" if size else "") + f": "
          f"{len(grid.variants)} variants x {len(grid.seeds)} seeds = {len(grid.runs)} runs of "
          f"{grid.steps} steps -> {out}")
    from colorlab.ablate.runner import check, run

    if args.check:
        base = grid.variants[0].config
        print(f"  base: {base.model} {base.model_args} on {base.data!r} (train "
              f"{base.train_split!r}); scored on up to {grid.eval_photos} photos of the "
              f"{grid.eval_split!r} split of {grid.eval_data!r}")
        for variant in grid.variants[1:]:
            print(f"  {variant.label}: " + ", ".join(f"{k}={v}" for k, v in
                                                     variant.changes.items()))
        files, warnings = check(grid, out, args.data_dir)
        for line in warnings:
            print(f"warning: {line}")
        print(f"Checked: the photos to train on and {len(files)} to score are there"
              + ("; the run folders in --out match the grid" if out.exists() else "")
              + ". Nothing was trained.")
        return 0

    result = run(grid, out, train_runs=not args.no_train, data_dir=args.data_dir)
    print()
    print(result.markdown())
    state = ("complete" if result.complete else
             "incomplete: run the same command again to resume the unfinished runs")
    print(f"Grid {state}. Table: {result.paths['summary']}; rows: {result.paths['results']}; "
          f"figures: {', '.join(str(p) for k, p in result.paths.items() if k not in ('summary', 'results'))}")
    return 0
