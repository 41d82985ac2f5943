"""Does it learn? Zhang et al.'s central claim, reproduced small on a 2-core CPU.

Run by hand (about 45 minutes with the defaults; not a test):

    python benchmarks/does_it_learn.py [--photos ../shared/data/photos] [--minutes 20]

Two runs of the same reduced-width Zhang network get the same time budget on the same photos
(``imagenet-sample`` plus ``bsds500/train`` of ``../shared/data/photos``, read in place, never
copied; a clone without that folder uses the registry's ``bsds500`` instead, its train split
to train and its val split to score, fetched once, and says so):

(a) the classifier: Zhang et al.'s recipe, soft-encoded 313-bin targets, class-rebalanced
    cross-entropy (their ImageNet prior, lambda = 0.5), annealed-mean decoding (T = 0.38);
(b) the L2 baseline: the same network with ``head="ab"``, regressing ab with mean squared
    error ("Ours (L2)" in the paper's Table 1).

Both use the recipe's optimiser (Adam, betas 0.9 / 0.99, decoupled weight decay 1e-3). Its
learning rate of 3e-5 is meant for 450,000 iterations of the full model; for a 20-minute
budget both runs use ``--learning-rate`` (1e-3 by default), so they still differ only in the
loss. Then both are scored on ``bsds500/val`` (256 x 256 centre crops) with
:func:`colorlab.evaluate.evaluate`, next to the gray and mean-colour baselines.

The claim holds when (1) the classifier beats gray in class-rebalanced AuC, (2) it reaches at
least half the ground truth's colorfulness, and (3) the L2 model is less colorful than it.
The script prints the table, each check, and writes the table and a comparison figure into
``--out``. A finished run is reused (``--evaluate-only`` re-scores without training) as long
as its settings match. An interrupted run starts again from scratch: the comparison is of
equal time budgets, and a budget split over sessions would not be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from colorlab import evaluate  # noqa: E402
from colorlab.data import download  # noqa: E402
from colorlab.data.photos import list_images  # noqa: E402
from colorlab.data.sources import split_files  # noqa: E402
from colorlab.models import load_model  # noqa: E402
from colorlab.train import TrainConfig, train  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "photos"
TRAIN_FOLDERS = ("imagenet-sample", "bsds500/train")
VAL_FOLDER = "bsds500/val"
#: The arguments a finished run must match to be reused.
SETTINGS = ("minutes", "width", "image_size", "batch_size", "learning_rate", "seed")


def stage_training_photos(photos: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """A folder of links to the training photos (one data set for TrainConfig.data)."""
    staged = out / "train_photos"
    for folder in TRAIN_FOLDERS:
        source = photos / folder
        if not source.is_dir():
            raise SystemExit(f"No folder {source}: pass --photos, the folder holding "
                             f"{' and '.join(TRAIN_FOLDERS)}.")
        for path in list_images(source):
            link = staged / folder.replace("/", "-") / path.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(path.resolve())
    return staged


def choose_photos(photos: pathlib.Path) -> dict:
    """Where the photos come from: the shared folders when they are there, else the
    registry's bsds500 (train split to train, val split to score). Nothing is fetched here.

    Returns:
        {"data": a folder or registry name, "train_split": None or "train", "val": folder or
        None, "note": a line that says which}.
    """
    wanted = [photos / folder for folder in (*TRAIN_FOLDERS, VAL_FOLDER)]
    if all(folder.is_dir() for folder in wanted):
        return {"data": None, "train_split": None, "val": photos / VAL_FOLDER,
                "note": f"{' + '.join(TRAIN_FOLDERS)} of {photos}"}
    return {"data": "bsds500", "train_split": "train", "val": None,
            "note": (f"the registry's bsds500 (train split; scored on its val split): "
                     f"{photos} has no {' and '.join(f.name for f in wanted if not f.is_dir())} "
                     "folder, so bsds500 is fetched once instead")}


def run(name: str, model_args: dict, args: argparse.Namespace, data: str | pathlib.Path,
        out: pathlib.Path, train_split: str | None = None) -> dict:
    """Trains one model for the time budget (or reuses a finished run); returns its figures."""
    run_dir = out / name
    summary = run_dir / "summary.json"
    settings = {key: getattr(args, key) for key in SETTINGS}
    if summary.exists():
        figures = json.loads(summary.read_text())
        if figures.get("settings") != settings and not args.evaluate_only:
            raise SystemExit(f"{run_dir} was trained with other settings "
                             f"({figures.get('settings')}); pass another --out.")
        print(f"{name}: reusing the finished run in {run_dir}")
        return figures
    if args.evaluate_only:
        raise SystemExit(f"{run_dir} holds no finished run; run without --evaluate-only.")
    if run_dir.exists():
        print(f"{name}: {run_dir} holds an interrupted run; starting it again, so both "
              "models get the same uninterrupted budget.")
        shutil.rmtree(run_dir)
    config = TrainConfig(
        model="zhang_eccv16", model_args={"width": args.width, **model_args},
        data=str(data), train_split=train_split, val_split=None, image_size=args.image_size,
        batch_size=args.batch_size, epochs=10_000, learning_rate=args.learning_rate,
        time_limit=args.minutes, checkpoint_every=200, samples=0, seed=args.seed,
    )
    print(f"{name}: training for {args.minutes} minutes ({config.target} target, "
          f"{config.loss} loss, lr {config.learning_rate}) ...", flush=True)
    started = time.monotonic()
    result = train(config, run_dir, verbose=2)
    seconds = time.monotonic() - started
    figures = {"steps": result.steps, "seconds": round(seconds, 1),
               "photos_per_second": round(result.steps * args.batch_size / seconds, 2),
               "settings": settings}
    summary.write_text(json.dumps(figures))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=pathlib.Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "does_it_learn")
    parser.add_argument("--minutes", type=float, default=20.0, help="budget of each run")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--eval-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate-only", action="store_true")
    args = parser.parse_args()

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    source = choose_photos(args.photos)
    print(f"Photos: {source['note']}.")
    try:
        if source["data"] is None:
            data = stage_training_photos(args.photos, out)
            train_files = list_images(data)
        else:
            data = source["data"]
            train_files = split_files(data, "train")
    except (download.DownloadError, download.ChecksumError) as error:
        raise SystemExit(f"does_it_learn: {error}") from None
    runs = {
        "zhang (classification)": ("zhang_classification", {}),
        "zhang (L2 regression)": ("zhang_l2", {"head": "ab"}),
    }
    figures = {label: run(folder, extra, args, data, out, source["train_split"])
               for label, (folder, extra) in runs.items()}
    trained = [f["settings"] for f in figures.values()]
    if trained[0] != trained[1]:
        raise SystemExit(f"The two runs in {out} were trained with different settings "
                         f"({trained[0]} and {trained[1]}); train them again into a new --out.")
    settings = trained[0]  # with --evaluate-only, the runs' own settings

    candidates = [evaluate.Candidate(label, load_model(out / folder / "model.keras",
                                                      compile=False))
                  for label, (folder, _) in runs.items()]
    # One workflow with colorlab evaluate: held-out crops, the training photos' mean colour.
    scores = evaluate.evaluate_split(
        candidates, source["val"] if source["data"] is None else data,
        None if source["data"] is None else "val", size=args.eval_size,
        render_size=settings["image_size"], mean_data=data,
        mean_split=None if source["data"] is None else "train",
    )
    photos = scores.photos
    paths = scores.write(out / "evaluation")

    print(f"\nTrained on {len(train_files)} photos "
          f"({source['note'].split(':')[0]}), evaluated on {len(photos)}, "
          f"width {settings['width']}, {settings['image_size']} px crops, batch "
          f"{settings['batch_size']}, learning rate {settings['learning_rate']}, "
          f"{settings['minutes']} minutes each:")
    for label, f in figures.items():
        print(f"  {label}: {f['steps']} steps, {f['photos_per_second']} photos/s")
    print()
    print(scores.markdown())
    gray, zhang, l2 = (scores.row(m) for m in ("gray", *runs))
    truth = scores.truth_colorfulness
    checks = [
        ("classifier beats gray in rebalanced AuC",
         zhang["auc_rebalanced"] > gray["auc_rebalanced"],
         f"{zhang['auc_rebalanced']:.3f} vs {gray['auc_rebalanced']:.3f}"),
        ("classifier reaches half the truth's colorfulness",
         zhang["colorfulness"] >= 0.5 * truth, f"{zhang['colorfulness']:.1f} vs {truth:.1f}"),
        ("L2 model is less colorful than the classifier",
         l2["colorfulness"] < zhang["colorfulness"],
         f"{l2['colorfulness']:.1f} vs {zhang['colorfulness']:.1f}"),
    ]
    print()
    for text, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {text} ({detail})")
    print(f"\ntable: {paths['markdown']}; figure: {paths['figure']}")


if __name__ == "__main__":
    main()
