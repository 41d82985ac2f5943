"""``colorlab turing``: make a study, export it as one page, analyse the answers.

::

    colorlab turing make photos/ -o study/ --method zhang=zhang_eccv16 --method mine=runs/z
    colorlab turing export study/ -o study.html        # mail it to the class
    colorlab turing analyze answers/*.json --out report/

Registered into the ``colorlab`` command by :mod:`colorlab.cli`; each command imports what
it needs when it runs, so ``--help`` stays light.
"""

from __future__ import annotations

import argparse
import pathlib

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``turing make``, ``turing export`` and ``turing analyze`` to the command line."""
    tu = commands.add_parser("turing", help="the colorization Turing test: make a study, "
                             "export it as one HTML page, analyse the answers")
    actions = tu.add_subparsers(dest="turing_command", metavar="ACTION", required=True)
    mk = actions.add_parser("make", help="crop photos and colorize them with every method")
    mk.add_argument("photos", nargs="+", help="photo files or folders")
    mk.add_argument("-o", "--out", required=True, help="the study folder to create")
    mk.add_argument("--method", action="append", default=[], metavar="NAME=MODEL",
                    help="a method: a name and a .keras file, run folder or preset "
                    "(zhang_eccv16); repeat for each")
    mk.add_argument("--no-baselines", action="store_true",
                    help="leave out the gray and random-colour baselines")
    mk.add_argument("--design", choices=("one", "mixed"), default="one",
                    help="one method per session (the paper's) or all mixed")
    mk.add_argument("--size", type=int, default=256, help="side of the images shown")
    mk.add_argument("--practice", type=int, default=10,
                    help="practice trials with feedback (default 10)")
    mk.add_argument("--test", type=int, default=40,
                    help="test trials, vigilance included (default 40)")
    mk.add_argument("--vigilance", type=float, default=0.1,
                    help="share of test trials that are vigilance trials (default 0.1)")
    mk.add_argument("--seed", type=int, default=0, help="the study's seed")
    mk.set_defaults(run=_make)
    ex = actions.add_parser("export", help="the study as one self-contained HTML page")
    ex.add_argument("study", help="a study folder")
    ex.add_argument("-o", "--output", required=True, help="the .html file to write")
    ex.add_argument("--sessions", type=int, default=240,
                    help="pre-planned sessions (a participant's name picks one)")
    ex.set_defaults(run=_export)
    an = actions.add_parser("analyze", help="fool rates with bootstrap intervals, from "
                            "answer files (JSON, JSON lines or CSV)")
    an.add_argument("answers", nargs="+", help="answer files")
    an.add_argument("--out", help="a folder for report.md, photos.csv and the figures")
    an.add_argument("--study", help="the study folder: figures of its photos ranked by fool "
                    "rate (with --out)")
    an.add_argument("--bootstrap", type=int, default=2000,
                    help="bootstrap replicates (default 2000)")
    an.set_defaults(run=_analyze)


def _make(args: argparse.Namespace) -> int:
    from colorlab.data.photos import list_images
    from colorlab.turing.study import BASELINES, make_study

    methods = {}
    for item in args.method:
        name, sep, model = item.partition("=")
        if not sep or not name or not model:
            raise ValueError(f"--method is NAME=MODEL, e.g. zhang=zhang_eccv16; got {item!r}.")
        if name in methods:
            raise ValueError(f"--method {name} is given twice; give each method one name.")
        methods[name] = model
    files = []
    for given in map(pathlib.Path, args.photos):
        if not given.exists():
            raise FileNotFoundError(f"No such photo or folder: {given}.")
        files += list_images(given) if given.is_dir() else [given]
    study = make_study(files, methods, args.out, baselines=() if args.no_baselines else
                       BASELINES, size=args.size, seed=args.seed, design=args.design,
                       practice=args.practice, test=args.test, vigilance=args.vigilance)
    print(f"Study {study['id']}: {len(study['photos'])} photos, methods "
          f"{', '.join(study['methods'])} -> {args.out}")
    print(f"Next: colorlab turing export {args.out} -o study.html")
    return 0


def _export(args: argparse.Namespace) -> int:
    from colorlab.turing.page import export_page

    path = export_page(args.study, args.output, sessions=args.sessions)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB): open it in a browser, or send it; "
          "each participant downloads their answers at the end.")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from colorlab.turing.analysis import analyze
    from colorlab.turing.answers import read_answers

    from colorlab.turing.study import load_study

    study = load_study(args.study) if args.study else None  # checked before anything is written
    answers = read_answers(args.answers, study=study["id"] if study else None)
    result = analyze(answers, bootstrap=args.bootstrap)
    order = list(result.scores)  # highest fool rate first
    lines = [f"Study {result.study}: {len(answers)} answers", "", result.markdown(), ""]
    lines += [f"P({a} fools more than {b}) = {result.better[(a, b)]:.3f}"
              for i, a in enumerate(order) for b in order[i + 1:]]
    kept = sum(kept for _, _, kept in result.vigilance.values())
    lines.append(f"Vigilance: {kept} of {len(result.vigilance)} participants passed"
                 + (f"; excluded: {', '.join(result.excluded)}" if result.excluded else ""))
    text = "\n".join(lines)
    print(text)
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(text + "\n")
        rows = ["method,photo,fooled,trials,rate"]
        for method, photos in result.photos.items():
            for photo, (fooled, trials) in sorted(photos.items(),
                                                  key=lambda item: -item[1][0] / item[1][1]):
                rows.append(f"{method},{photo},{fooled},{trials},{fooled / trials:.3f}")
        (out / "photos.csv").write_text("\n".join(rows) + "\n")
        _figures(result, study, out)
        print(f"report: {out / 'report.md'}, per-photo fool rates: {out / 'photos.csv'}, "
              f"figures: {out}/*.png")
    return 0


def _figures(result, study, out: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from colorlab.turing.figures import plot_fool_rates, plot_photo_ranking

    plot_fool_rates(result).savefig(out / "fool_rates.png", dpi=110)
    for old in out.glob("photos_*.png"):  # an earlier analysis's
        old.unlink()
    if study is not None:
        for method in result.photos:
            figure = plot_photo_ranking(result, study, method)
            figure.savefig(out / f"photos_{method.replace(' ', '_')}.png", dpi=110)
