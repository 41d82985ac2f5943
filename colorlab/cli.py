"""The ``colorlab`` command: demo, train, colorize, evaluate, models, data, turing, ablate.

Every command has ``--help``, answered without importing TensorFlow (each command imports
what it needs when it runs). A user mistake (an unknown data set, a missing file, a bad
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

from colorlab.ablate import cli as ablate_cli  # argparse only: --help stays light
from colorlab.turing import cli as turing_cli  # numpy only: --help stays light
__all__ = ["main"]

#: The exit status for user mistakes (as argparse uses for bad options).
USAGE_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints escaped
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return USAGE_ERROR
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        run = getattr(args, "out", None)
        run = pathlib.Path(run) / "run" if run and args.command == "demo" else run
        if args.command == "ablate" or run and args.command in ("train", "demo"):
            saved = args.command == "ablate" or (pathlib.Path(run) / "checkpoints" /
                                                 "last.keras").is_file()
            print("colorlab: interrupted; " + (
                "rerun the same command to resume from the last checkpoint." if saved else
                "no checkpoint was saved yet, so a rerun starts afresh."), file=sys.stderr)
        else:
            print("colorlab: interrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        print("colorlab: error: out of memory; use a smaller --batch-size, --image-size, "
              "--width or --render-size.", file=sys.stderr)
        return USAGE_ERROR
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"colorlab: error: {message}", file=sys.stderr)
        return USAGE_ERROR


# === Commands =================================================================================


def _demo(args: argparse.Namespace) -> int:
    """Train a small Zhang model, colorize held-out photos, evaluate against the baselines."""
    from colorlab.colorize import colorize_folder
    from colorlab.data.photos import mark_output_folder
    from colorlab.evaluate import Candidate
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
    held_out = _demo_photos(args.data)
    mark_output_folder(out, "colorlab demo")  # its figures never join a folder of photos
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

    report = colorize_folder(result.model, held_out, out / "colorized", overwrite=True,
                             progress=False, render_size=args.image_size)
    print(f"  colorized {len(report.written)} held-out photos into {out / 'colorized'}")
    run = str(out / "run")
    _score([Candidate(run, result.model, config)], args.data, "test", size=256,
           render_size=None, out=out)
    print(f"(the same scores: colorlab evaluate --model {run} --data {args.data} --split test "
          f"--out {out})")
    return 0


def _demo_photos(data: str) -> list:
    """The demo's held-out photos, after saying up front how the photos split (and refusing
    a data set too small to both train and hold out)."""
    from colorlab.data.photos import scan_images
    from colorlab.data.sources import split_files

    reports = {split: scan_images(split_files(data, split))
               for split in ("train+val", "test")}
    counts = {split: len(report.usable) for split, report in reports.items()}
    print(f"Photos of {data!r}, split by a hash of each name (80/10/10 on average; a small "
          f"set varies): train+val {reports['train+val'].summary()}, to train on; test "
          f"{reports['test'].summary()}, held out to colorize and score (and to validate on "
          "while training).")
    if counts["train+val"] < 1 or counts["test"] < 1:
        raise ValueError(
            f"The demo needs at least 1 usable photo to train on and 1 held out, and "
            f"{data!r} has {counts['train+val']} and {counts['test']} (near-gray and unreadable "
            "photos do not count); give a folder of 20 or more photos (or --data sample)."
        )
    return reports["test"].paths


def _train(args: argparse.Namespace) -> int:
    from colorlab import models
    from colorlab.train import TrainConfig, read_config, train

    values = read_config(args.config) if args.config else {}
    options = {
        "model": args.model, "data": args.data, "epochs": args.epochs,
        "batch_size": args.batch_size, "image_size": args.image_size,
        "steps_per_epoch": args.steps_per_epoch, "learning_rate": args.learning_rate,
        "optimizer": args.optimizer, "precision": args.precision,
        "time_limit": args.minutes, "max_steps": args.max_steps, "seed": args.seed,
    }
    values.update({k: v for k, v in options.items() if v is not None})
    model = values.get("model", "zhang_eccv16") if args.model is None else args.model
    if args.weights is not None and "weights" not in models.method(model).arguments():
        with_weights = [n for n in models.names() if "weights" in models.method(n).arguments()]
        raise ValueError(f"--weights is for {' and '.join(with_weights)} (a pretrained "
                         f"encoder); {model} has none.")
    for key, value in (("width", args.width), ("weights", args.weights)):
        if value is not None:
            value = None if key == "weights" and value.lower() == "none" else value
            values["model_args"] = {**values.get("model_args", {}), key: value}
    if args.xla:
        values["xla"] = True
    config = TrainConfig.from_dict(values)
    # Keras's progress bar redraws one line with terminal codes: a log gets a line per epoch.
    verbose = "auto" if sys.stdout.isatty() else 2
    result = train(config, args.out, verbose=verbose)
    print(f"Trained {config.model} to step {result.steps}: "
          f"{pathlib.Path(args.out) / 'model.keras'}")
    return 0


def _colorize(args: argparse.Namespace) -> int:
    from colorlab.colorize import check_options, colorize_folder
    from colorlab.models import load_model

    check_options(args.render_size, args.temperature)  # before the model loads
    output = pathlib.Path(args.output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"-o {output} is a file; give a folder for the results.")
    missing = [path for path in args.inputs if not os.path.lexists(path)]
    if missing:  # before a model (perhaps a download) loads
        raise FileNotFoundError(f"No such input: {', '.join(missing)}.")
    model = load_model(args.model, compile=False)
    report = colorize_folder(
        model, args.inputs, args.output, overwrite=args.overwrite,
        render_size=args.render_size, temperature=args.temperature,
    )
    print(f"{report.summary()} -> {args.output}")
    return report.exit_status()


def _evaluate(args: argparse.Namespace) -> int:
    from colorlab.colorize import MAX_RENDER_SIZE, check_options
    from colorlab.evaluate import Candidate, candidate_names, run_config
    from colorlab.models import load_model

    if not 32 <= args.size <= _MAX_EVAL_SIZE:
        raise ValueError(f"--size must be from 32 to {_MAX_EVAL_SIZE} pixels, got {args.size}.")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be 1 or more photos, got {args.limit}.")
    if args.render_size is not None:
        check_options(args.render_size, args.temperature)  # before the models load
    else:
        check_options(min(args.size, MAX_RENDER_SIZE), args.temperature)
    candidates = [Candidate(name, load_model(path, compile=False), run_config(path))
                  for name, path in zip(candidate_names(args.model), args.model)]
    _score(candidates, args.data, args.split, size=args.size, render_size=args.render_size,
           out=args.out, limit=args.limit, temperature=args.temperature)
    return 0


def _score(candidates: list, data: str, split: str, *, size: int, render_size: int | None,
           out: str | os.PathLike, limit: int | None = None,
           temperature: float | None = None) -> None:
    """:func:`colorlab.evaluate.evaluate_split`, written into ``out`` and printed."""
    from colorlab.evaluate import evaluate_split

    scores = evaluate_split(candidates, data, split, size=size, render_size=render_size,
                            limit=limit, temperature=temperature)
    paths = scores.write(out)
    print(scores.settings + ".")
    print(scores.markdown())
    print(f"metrics: {paths['csv']}, {paths['markdown']}; figure: {paths['figure']}")


def _models(args: argparse.Namespace) -> int:
    from colorlab import models

    for name in models.names():
        method = models.method(name)
        others = [loss for loss in method.losses if loss != method.loss]
        trained = (f"trains on {method.target!r} targets with the {method.loss} loss"
                   + (f" (or {', '.join(others)})" if others else "")
                   + f", {method.optimizer['optimizer']}, {method.image_size} px crops"
                   if method.trainable
                   else "not trained on its own")
        print(f"{name}\n  {method.paper}\n  outputs {method.output!r}; {trained}; input "
              f"sides a multiple of {method.side_multiple()}")
        for preset in method.presets.values():
            here = "downloaded" if preset.downloaded() else "downloaded on first use"
            print(f"  released weights: --model {preset.name} ({preset.size / 1e6:.0f} MB, "
                  f"{preset.licence}; {here})")
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from colorlab.data import registry
    from colorlab.data.download import data_home

    print(f"{'name':18} {'download':>10}  {'here':4}  title")
    for name in registry.names():
        entry = registry.entry(name)
        kind = entry.get("kind")
        size = registry.download_size(name) if kind not in ("folder", "embedded") else 0
        shown = ("-" if kind == "folder" else "embedded" if kind == "embedded"
                 else "unknown" if size is None else registry.size_text(size))
        here = "-" if kind == "folder" else (
            "yes" if registry.is_downloaded(name, args.data_dir) else "no")
        images = f" ({entry['images']:,} images)" if entry.get("images") else ""
        print(f"{name:18} {shown:>10}  {here:4}  {entry.get('title', '')}{images}")
    print("download: bytes to fetch (unknown: not published); here: in the cache "
          f"({data_home(args.data_dir)}).")
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    from colorlab.data import registry

    root = registry.fetch(args.name, args.data_dir)
    print(f"{args.name}: {root}")
    return 0


def _data_forget(args: argparse.Namespace) -> int:
    from colorlab.data import registry

    removed = registry.forget(args.name, args.data_dir)
    print(f"{args.name}: deleted {', '.join(removed)} and the recorded checksums; 'colorlab "
          f"data fetch {args.name}' downloads it afresh." if removed else
          f"{args.name}: nothing downloaded or recorded to forget.")
    return 0


def _data_prior(args: argparse.Namespace) -> int:
    import numpy as np

    from colorlab.data import dataset_prior
    from colorlab.data.registry import prior_file
    from colorlab.files import atomic_path

    out = prior_file(args.name, args.out, args.data_dir)
    prior = dataset_prior(args.name, image_size=args.image_size, data_dir=args.data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as partial, open(partial, "wb") as handle:
        np.save(handle, prior)
    print(f"prior over {len(prior)} bins written to {out} "
          f"(most likely bin holds {prior.max():.1%})")
    return 0


# === Helpers ==================================================================================

#: The largest evaluation crop side (every photo is held in memory at this size).
_MAX_EVAL_SIZE = 1024


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("colorlab")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown (not installed)"


# === Parser ===================================================================================


class _Parser(argparse.ArgumentParser):
    """argparse, with the error line first and the usage after it (argparse prints the usage
    block first, which pushes the one line that says what was wrong below ten others)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"colorlab: error: {message}\n{self.format_usage()}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="colorlab",
        description="Learning-based image colorization: train, colorize, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"colorlab {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=_Parser)

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
        "interruption. Options override the YAML config's values. The defaults are the "
        "paper's full-size model (width 1, 176 px crops, batch 32): on a CPU a step takes "
        "about a minute, so start with e.g. --width 0.125 --batch-size 8 --max-steps 200.",
    )
    tr.add_argument("config", nargs="?", help="YAML file of TrainConfig options")
    tr.add_argument("--model", help="the method to train (default zhang_eccv16; "
                    "'colorlab models' lists them)")
    tr.add_argument("--data", help="registry data set or folder of photos")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--image-size", type=int,
                    help="training crop side, a multiple of the model's stride (default: the "
                    "method's own: 176 Zhang and ResNet, 224 VGG16 and Iizuka, 256 U-Net)")
    tr.add_argument("--steps-per-epoch", type=int)
    tr.add_argument("--learning-rate", type=float)
    tr.add_argument("--optimizer", choices=["adam", "adadelta", "sgd"])
    tr.add_argument("--width", type=float, help="channel multiplier of the model")
    tr.add_argument("--weights", help="pretrained encoder of vgg16_colorizer (default "
                    "imagenet, downloaded once) and resnet_colorizer (default none): "
                    "imagenet, a weights file, or none (random; offline)")
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
        "Existing results are kept unless --overwrite; inputs are never overwritten, and an "
        "output folder inside an input folder is left out of it. A file that cannot be read "
        "is skipped and counted. Exit status: 0 when every input has its result, 1 when some "
        "input could not be colorized, 2 for a usage error.",
    )
    co.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files or folders")
    co.add_argument("-o", "--output", required=True, help="output folder")
    co.add_argument("--model", required=True, help="a .keras file, a run folder, or the "
                    "authors' released zhang_eccv16 or zhang_siggraph17")
    co.add_argument("--render-size", type=int, default=256,
                    help="short side the model sees (larger: detail; smaller: bolder colour)")
    co.add_argument("--temperature", type=float,
                    help="annealed-mean temperature of bin models (default 0.38, Zhang et al.'s;"
                    " 1: the official forward pass of the released zhang_eccv16)")
    co.add_argument("--overwrite", action="store_true", help="replace existing results")
    co.set_defaults(run=_colorize)

    ev = commands.add_parser(
        "evaluate", help="score models against the gray and mean-colour baselines",
        description="AuC (and rebalanced AuC) of the ab error, PSNR, SSIM, colorfulness and "
        "accuracy on held-out photos; writes metrics.csv, metrics.md and comparison.png.",
    )
    ev.add_argument("--model", action="append", required=True,
                    help="a .keras file, run folder, zhang_eccv16 or zhang_siggraph17 (the "
                    "authors' released weights); repeat to compare models")
    ev.add_argument("--data", default="sample", help="registry data set or folder")
    ev.add_argument("--split", default="test",
                    help="the photos to score: train, val, test, or a union such as "
                    "val+test (default test; the mean-colour "
                    "baseline comes from the photos the run trained on, else train)")
    ev.add_argument("--size", type=int, default=256,
                    help=f"evaluation crop side (32 to {_MAX_EVAL_SIZE}, default 256)")
    ev.add_argument("--render-size", type=int, default=None,
                    help="short side the models see (default: the size each run trained "
                    "at, else --size)")
    ev.add_argument("--limit", type=int, default=None, help="at most this many photos")
    ev.add_argument("--temperature", type=float,
                    help="annealed-mean temperature of bin models (default 0.38, Zhang et al.'s;"
                    " 1: the official forward pass of the released zhang_eccv16)")
    ev.add_argument("--out", default="evaluation", help="output folder")
    ev.set_defaults(run=_evaluate)

    mo = commands.add_parser(
        "models", help="the methods colorlab trains and compares",
        description="Each registered method: its paper, what it outputs, the target and loss "
        "it trains with, its default training crop and the side multiple its input needs.",
    )
    mo.set_defaults(run=_models)

    da = commands.add_parser("data", help="list, fetch, or compute the ab prior of data sets")
    data_commands = da.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    ls = data_commands.add_parser("list", help="the registered data sets, their download "
                                  "sizes, and which are in the cache")
    ls.add_argument("--data-dir", help="cache folder (default: $COLORLAB_DATA or per-user)")
    ls.set_defaults(run=_data_list)
    fe = data_commands.add_parser("fetch", help="download and verify a data set")
    fe.add_argument("name")
    fe.add_argument("--data-dir", help="cache folder (default: $COLORLAB_DATA or per-user)")
    fe.set_defaults(run=_data_fetch)
    fo = data_commands.add_parser(
        "forget", help="delete a data set's downloads and recorded checksums",
        description="Deletes a data set's downloaded files, the sha256 recorded for them on "
        "first use (files whose publisher states none), and its unpacked folders; the next "
        "fetch downloads and records it afresh.")
    fo.add_argument("name")
    fo.add_argument("--data-dir", help="cache folder (default: $COLORLAB_DATA or per-user)")
    fo.set_defaults(run=_data_forget)
    pr = data_commands.add_parser("prior", help="the empirical ab prior of a data set (.npy)")
    pr.add_argument("name", help="registry data set or folder")
    pr.add_argument("--image-size", type=int, default=176)
    pr.add_argument("--out", help="a .npy file, or a folder for NAME_prior.npy (default: the "
                    "data cache's priors/ folder)")
    pr.add_argument("--data-dir")
    pr.set_defaults(run=_data_prior)
    turing_cli.add_commands(commands), ablate_cli.add_commands(commands)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
