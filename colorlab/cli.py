"""The ``colorlab`` command: demo, train, colorize, evaluate, and data.

Every command has ``--help``. A user mistake (an unknown data set, a missing file, a bad
option) prints one line starting ``colorlab: error:`` and exits with status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
from typing import Sequence

__all__ = ["main"]

#: The exit status for user mistakes (as argparse uses for bad options).
USAGE_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return USAGE_ERROR
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("colorlab: interrupted (a training run resumes from its last checkpoint).",
              file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"colorlab: error: {message}", file=sys.stderr)
        return USAGE_ERROR


# === Commands =================================================================================


def _demo(args: argparse.Namespace) -> int:
    """Train a small Zhang model, colorize held-out photos, evaluate against the baselines."""
    from colorlab import registry
    from colorlab.colorize import colorize_folder
    from colorlab.train import TrainConfig, train

    out = pathlib.Path(args.out)
    config = TrainConfig(
        model="zhang_eccv16",
        model_args={"width": args.width},
        data=args.data,
        train_split="train+val",
        val_split="test",
        image_size=args.image_size,
        batch_size=args.batch_size,
        epochs=1000,  # the time limit (or --steps) ends the run
        steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.learning_rate,
        prior="data",
        # --steps: an exact, short run (tests), without a time limit
        time_limit=args.minutes if args.steps is None else None,
        max_steps=args.steps,
        samples=2,
        checkpoint_every=50,
    )
    print(f"colorlab demo: training {config.model} (width {args.width}) on {args.data!r} for "
          f"{'%d steps' % args.steps if args.steps else '%.1f minutes' % args.minutes} ...")
    started = time.monotonic()
    result = train(config, out / "run", verbose=2 if args.verbose else 0)
    seconds = time.monotonic() - started
    if result.resumed_from_step:
        trained = (f"steps {result.resumed_from_step} to {result.steps} in {seconds:.0f} s "
                   "(resumed the run in this folder)")
    else:
        trained = f"{result.steps} steps in {seconds:.0f} s"
    print(f"  {trained}; model: {out / 'run' / 'model.keras'}")

    held_out = registry.split_files(args.data, "test")
    if not held_out:
        raise ValueError(f"{args.data!r} has no photos in its test split to hold out.")
    report = colorize_folder(result.model, held_out, out / "colorized", overwrite=True,
                             progress=False, render_size=args.image_size)
    print(f"  colorized {len(report.written)} held-out photos into {out / 'colorized'}")
    _score({"zhang (demo)": result.model}, args.data, "test", "train+val", size=256,
           render_size=args.image_size, out=out)
    return 0


def _train(args: argparse.Namespace) -> int:
    from colorlab.train import TrainConfig, load_config, train

    values = load_config(args.config).to_dict() if args.config else {}
    options = {
        "model": args.model, "data": args.data, "epochs": args.epochs,
        "batch_size": args.batch_size, "image_size": args.image_size,
        "steps_per_epoch": args.steps_per_epoch, "learning_rate": args.learning_rate,
        "optimizer": args.optimizer, "precision": args.precision,
        "time_limit": args.minutes, "max_steps": args.max_steps, "seed": args.seed,
    }
    values.update({k: v for k, v in options.items() if v is not None})
    if args.width is not None:
        values.setdefault("model_args", {})
        values["model_args"] = {**values["model_args"], "width": args.width}
    if args.xla:
        values["xla"] = True
    config = TrainConfig.from_dict(values)
    result = train(config, args.out, verbose="auto")
    print(f"Trained {config.model} to step {result.steps}: "
          f"{pathlib.Path(args.out) / 'model.keras'}")
    return 0


def _colorize(args: argparse.Namespace) -> int:
    from colorlab.colorize import check_options, colorize_folder
    from colorlab.models import load_model

    check_options(args.render_size, args.temperature)  # before the model loads
    model = load_model(args.model, compile=False)
    report = colorize_folder(
        model, args.inputs, args.output, overwrite=args.overwrite,
        render_size=args.render_size, temperature=args.temperature,
    )
    print(f"{report.summary()} -> {args.output}")
    return 1 if report.skipped and not report.written else 0


def _evaluate(args: argparse.Namespace) -> int:
    from colorlab.colorize import check_options
    from colorlab.models import load_model

    if args.size < 32:
        raise ValueError(f"--size must be at least 32 pixels, got {args.size}.")
    render_size = args.size if args.render_size is None else args.render_size
    check_options(render_size, args.temperature)  # before the models load
    methods = {name: load_model(path, compile=False)
               for name, path in zip(_method_names(args.model), args.model)}
    _score(methods, args.data, args.split, None if args.split == "train" else "train",
           size=args.size, render_size=render_size, out=args.out, limit=args.limit,
           temperature=args.temperature)
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from colorlab import registry

    for name in registry.names():
        entry = registry.entry(name)
        images = f"{entry['images']:,} images" if entry.get("images") else ""
        print(f"{name:18} {entry.get('title', '')}" + (f" ({images})" if images else ""))
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    from colorlab import registry

    root = registry.fetch(args.name, args.data_dir)
    print(f"{args.name}: {root}")
    return 0


def _data_prior(args: argparse.Namespace) -> int:
    import numpy as np

    from colorlab.data import dataset_prior

    prior = dataset_prior(args.name, image_size=args.image_size, data_dir=args.data_dir)
    out = pathlib.Path(args.out or f"{pathlib.Path(args.name).name}_prior.npy")
    np.save(out, prior)
    print(f"prior over {len(prior)} bins written to {out} "
          f"(most likely bin holds {prior.max():.1%})")
    return 0


# === Helpers ==================================================================================


def _method_names(paths: Sequence[str]) -> list[str]:
    """A distinct table name per model: the file's stem or the run folder's name, with as
    many parent folders as it takes to tell them apart (``a/model``, ``b/model``)."""
    from colorlab.evaluate import RESERVED_NAMES

    resolved = [pathlib.Path(p).resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise ValueError("The same model was given twice to --model.")
    parts = [list((r.parent / r.stem).parts if r.suffix == ".keras" else r.parts)
             for r in resolved]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            break
    else:  # a folder a/model beside a file a/model.keras: the paths as given
        names = [str(p) for p in paths]
    return [f"{n} (model)" if n in RESERVED_NAMES else n for n in names]


def _score(methods: dict, data: str, split: str, train_split: str | None, *, size: int,
           render_size: int, out: str | os.PathLike, limit: int | None = None,
           temperature: float = 0.38) -> None:
    """Evaluates ``methods`` on a split of ``data`` (the mean-colour baseline from
    ``train_split``), writes the table and figure into ``out``, and prints the table."""
    from colorlab import evaluate, registry

    files = registry.split_files(data, split)[:limit]
    if not files:
        raise ValueError(f"No photos in the {split!r} split of {data!r}.")
    photos, names = evaluate.load_photos(files, size)
    mean = None
    if train_split is not None:
        train_files = registry.split_files(data, train_split)[: limit or 500]
        if train_files:
            mean = evaluate.mean_ab(evaluate.load_photos(train_files, size)[0])
    scores = evaluate.evaluate(methods, photos, names=names, mean_colour=mean,
                               render_size=render_size, temperature=temperature)
    paths = scores.write(out)
    print()
    print(scores.markdown())
    print(f"metrics: {paths['csv']}, {paths['markdown']}; figure: {paths['figure']}")


# === Parser ===================================================================================


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorlab",
        description="Learning-based image colorization: train, colorize, evaluate.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="train a small model for ~2 minutes, colorize held-out photos, evaluate",
        description="The main job on the embedded sample photos: trains a small Zhang et al. "
        "model on the train and val photos for about two minutes (2-core CPU), colorizes the "
        "held-out test photos, and scores them against the gray and mean-colour baselines. "
        "Writes the model, the colorized photos, metrics.csv/.md and comparison.png.",
    )
    demo.add_argument("--data", default="sample",
                      help="registry data set or folder of photos (default: sample)")
    demo.add_argument("--out", default="colorlab-demo",
                      help="output folder (default colorlab-demo; run again to resume)")
    demo.add_argument("--minutes", type=float, default=2.0, help="training time (default 2)")
    demo.add_argument("--steps", type=int, default=None,
                      help="train exactly this many steps instead of --minutes")
    demo.add_argument("--width", type=float, default=0.25, help="channel multiplier")
    demo.add_argument("--image-size", type=int, default=128, help="training crop side")
    demo.add_argument("--batch-size", type=int, default=8)
    demo.add_argument("--steps-per-epoch", type=int, default=25)
    demo.add_argument("--learning-rate", type=float, default=1e-3,
                      help="a fast rate for a short run (the paper's 3e-5 needs days)")
    demo.add_argument("--verbose", action="store_true", help="show Keras progress")
    demo.set_defaults(run=_demo)

    tr = commands.add_parser(
        "train", help="train a model (YAML config or options)",
        description="Trains a colorlab model into a run folder; rerun to resume after an "
        "interruption. Options override the YAML config's values.",
    )
    tr.add_argument("config", nargs="?", help="YAML file of TrainConfig options")
    tr.add_argument("--model", help="zhang_eccv16, vgg16_colorizer, resnet_colorizer, "
                    "iizuka_two_stream or unet_generator")
    tr.add_argument("--data", help="registry data set or folder of photos")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--image-size", type=int)
    tr.add_argument("--steps-per-epoch", type=int)
    tr.add_argument("--learning-rate", type=float)
    tr.add_argument("--optimizer", choices=["adam", "adadelta", "sgd"])
    tr.add_argument("--width", type=float, help="channel multiplier of the model")
    tr.add_argument("--precision",
                    choices=["auto", "float32", "mixed_float16", "mixed_bfloat16"])
    tr.add_argument("--xla", action="store_true", help="compile the training step with XLA")
    tr.add_argument("--minutes", type=float, help="stop after this many minutes")
    tr.add_argument("--max-steps", type=int, help="stop after this many steps in all")
    tr.add_argument("--seed", type=int)
    tr.add_argument("--out", default="runs/latest", help="run folder (default runs/latest)")
    tr.set_defaults(run=_train)

    co = commands.add_parser(
        "colorize", help="colorize photos or folders",
        description="Colorizes photos of any size; results are PNGs in the output folder. "
        "Existing results are kept unless --overwrite. A file that cannot be read is skipped "
        "and counted; the exit status is 1 when no photo could be colorized.",
    )
    co.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files or folders")
    co.add_argument("-o", "--output", required=True, help="output folder")
    co.add_argument("--model", required=True, help="a .keras file or a run folder")
    co.add_argument("--render-size", type=int, default=256,
                    help="short side the model sees (larger: detail; smaller: bolder colour)")
    co.add_argument("--temperature", type=float, default=0.38,
                    help="annealed-mean temperature of bin models (0.38 in Zhang et al.)")
    co.add_argument("--overwrite", action="store_true", help="replace existing results")
    co.set_defaults(run=_colorize)

    ev = commands.add_parser(
        "evaluate", help="score models against the gray and mean-colour baselines",
        description="AuC (and rebalanced AuC) of the ab error, PSNR, SSIM, colourfulness and "
        "accuracy on held-out photos; writes metrics.csv, metrics.md and comparison.png.",
    )
    ev.add_argument("--model", action="append", required=True,
                    help="a .keras file or run folder (repeat to compare models)")
    ev.add_argument("--data", default="sample", help="registry data set or folder")
    ev.add_argument("--split", default="test", choices=["train", "val", "test"],
                    help="the held-out photos to score (default test; the mean-colour "
                    "baseline comes from train)")
    ev.add_argument("--size", type=int, default=256, help="evaluation crop side")
    ev.add_argument("--render-size", type=int, default=None,
                    help="short side the models see (default: --size)")
    ev.add_argument("--limit", type=int, default=None, help="at most this many photos")
    ev.add_argument("--temperature", type=float, default=0.38,
                    help="annealed-mean temperature of bin models (0.38 in Zhang et al.)")
    ev.add_argument("--out", default="evaluation", help="output folder")
    ev.set_defaults(run=_evaluate)

    da = commands.add_parser("data", help="list, fetch, or compute the ab prior of data sets")
    data_commands = da.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    ls = data_commands.add_parser("list", help="the registered data sets")
    ls.set_defaults(run=_data_list)
    fe = data_commands.add_parser("fetch", help="download and verify a data set")
    fe.add_argument("name")
    fe.add_argument("--data-dir", help="cache folder (default: $COLORLAB_DATA or per-user)")
    fe.set_defaults(run=_data_fetch)
    pr = data_commands.add_parser("prior", help="the empirical ab prior of a data set (.npy)")
    pr.add_argument("name", help="registry data set or folder")
    pr.add_argument("--image-size", type=int, default=176)
    pr.add_argument("--out", help="output .npy (default NAME_prior.npy)")
    pr.add_argument("--data-dir")
    pr.set_defaults(run=_data_prior)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
