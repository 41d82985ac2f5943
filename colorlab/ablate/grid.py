"""The grid file of an ablation: a base training config, labelled variants, seeds, a budget.

A grid (YAML; see ``colorlab/resources/ablations/`` for the two shipped ones)::

    name: zhang_ablation
    base:                      # any TrainConfig options, any method
      model: zhang_eccv16
      model_args: {width: 0.25}
      data: imagenette160
      image_size: 128
    variants:                  # a label and the options it changes ("set")
      - label: L2 kernel 1e-4
        set: {kernel_l2: 1.0e-4}
      - label: output at 1/8
        set: {model_args: {output_stride: 8}}   # model_args merge key by key
    seeds: 2                   # or a list: [0, 1]
    budget: {steps: 800, time_limit: null}      # the same for every variant and seed
    evaluate: {split: val, photos: 200, size: 128}
    sizes:                     # named sizes override any of the above
      gpu: {seeds: 3, budget: {steps: 20000}, base: {batch_size: 40}}

The base itself always runs, labelled ``base``; every difference is measured from it. Every
mistake is found here, before anything trains: an unknown option (with the nearest name),
an option the method ignores, a duplicate label, a budget of zero, an unknown split.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import pathlib
import re
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import tensorflow as tf

from colorlab.data.sources import split_parts
from colorlab.files import check_regular_file
from colorlab.train.config import HOW_LONG, TrainConfig, safe_yaml

__all__ = ["BASE", "Grid", "Variant", "default_size", "load_grid", "shipped_grids"]

#: The label of the base config's own runs.
BASE = "base"
#: The keys a grid file may hold, and the keys of its sections.
_KEYS = ("name", "description", "base", "variants", "seeds", "budget", "evaluate", "sizes")
_BUDGET_KEYS = ("steps", "time_limit")
_EVALUATE_KEYS = ("data", "split", "photos", "size")
_SIZE_KEYS = ("description", "base", "seeds", "budget", "evaluate", "variants")
#: Options a variant may not set: the grid's own (the budget and the seeds are the same for
#: every run, so that runs differ only in what the variants say).
_GRID_OWNED = (*HOW_LONG, "seed", "epochs")
_MAX_GRID_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Variant:
    """One arm of the ablation.

    Attributes:
        label: Its name in the table and figures (``base`` for the base config).
        changes: The options it sets on top of the base, as written.
        config: The base with the changes, the budget applied (seed 0; see
            :meth:`Grid.config`).
    """

    label: str
    changes: dict
    config: TrainConfig

    @property
    def slug(self) -> str:
        """Its folder name: the label in lower case, other characters as ``-``."""
        return slugify(self.label)


@dataclasses.dataclass(frozen=True)
class Grid:
    """A checked ablation grid (see the module docstring); made by :func:`load_grid`.

    Attributes:
        name: The grid's name.
        variants: The base first, then the variants in file order.
        seeds: The seeds every variant trains with.
        steps: Training steps of every run.
        time_limit: Minutes one call may spend on one run (None: no limit); a run stopped
            by it resumes on the next call.
        eval_data, eval_split: Where the scored photos come from.
        eval_photos: At most this many photos are scored.
        eval_size: Side of the scored centre crops, in pixels.
        size: The named size chosen (None: the file's own values).
        description: What the grid is for, from the file.
        source: The file it was read from (None: a dict).
    """

    name: str
    variants: tuple[Variant, ...]
    seeds: tuple[int, ...]
    steps: int
    time_limit: float | None
    eval_data: str
    eval_split: str | None
    eval_photos: int
    eval_size: int
    size: str | None = None
    description: str = ""
    source: str | None = None
    sizes: tuple[str, ...] = ()

    def variant(self, label: str) -> Variant:
        for variant in self.variants:
            if variant.label == label:
                return variant
        raise ValueError(f"No variant {label!r}; the variants: "
                         f"{', '.join(v.label for v in self.variants)}.")

    def config(self, variant: Variant | str, seed: int) -> TrainConfig:
        """The training config of one run: the variant's, with this seed."""
        variant = self.variant(variant) if isinstance(variant, str) else variant
        return dataclasses.replace(variant.config, seed=int(seed))

    @property
    def runs(self) -> list[tuple[Variant, int]]:
        """Every (variant, seed), seed by seed: a grid stopped half-way has whole seeds of
        every variant rather than every seed of a few."""
        return [(variant, seed) for seed in self.seeds for variant in self.variants]

    def settings(self) -> dict:
        """What the runs share, for the summary and to tell a changed grid."""
        return {"name": self.name, "size": self.size, "seeds": list(self.seeds),
                "steps": self.steps, "time_limit": self.time_limit,
                "evaluate": {"data": self.eval_data, "split": self.eval_split,
                             "photos": self.eval_photos, "size": self.eval_size}}


def slugify(label: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return slug or "variant"


def shipped_grids() -> dict[str, pathlib.Path]:
    """The grids shipped with colorlab, by name (``zhang_ablation``, ``vgg16_ablation``)."""
    folder = pathlib.Path(__file__).resolve().parents[1] / "resources" / "ablations"
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def load_grid(grid: str | os.PathLike | dict, size: str | None = None, *,
              data: str | None = None) -> Grid:
    """Reads and checks a grid: a YAML file, a shipped grid's name, or a dict.

    Args:
        grid: A path, the name of a shipped grid (:func:`shipped_grids`), or the grid as a
            dict (the YAML's contents).
        size: One of the grid's ``sizes`` ("quick", "cpu", "gpu" in the shipped grids);
            None takes the file's values as they are.
        data: Train (and score) on this data set or folder instead of the grid's (the
            scored photos follow unless the grid's ``evaluate`` names its own data).

    Raises:
        ValueError: any mistake in the grid, naming it (nothing has trained).
    """
    values, source = _read(grid)
    where = f"grid {source}" if source else "the grid"
    _refuse_unknown(values, _KEYS, where)
    sizes = values.get("sizes") or {}
    if not isinstance(sizes, dict):
        raise ValueError(f"{where}: sizes must map a size's name to its settings.")
    if size is not None:
        if size not in sizes:
            raise ValueError(f"{where} has no size {size!r}; its sizes: "
                             f"{', '.join(sizes) or 'none'}.")
        chosen = sizes[size] or {}
        if not isinstance(chosen, dict):
            raise ValueError(f"{where}: size {size!r} must be a mapping.")
        _refuse_unknown(chosen, _SIZE_KEYS, f"{where}, size {size!r}")
        values = _with_size(values, chosen, where, size)

    name = str(values.get("name") or (pathlib.Path(source).stem if source else "ablation"))
    base = values.get("base")
    if not isinstance(base, dict):
        raise ValueError(f"{where} needs base: a mapping of training options (model, data, ...).")
    base = dict(base)
    if data is not None:
        base["data"] = str(data)
    owned = sorted(set(base) & set(_GRID_OWNED))
    if owned:
        raise ValueError(f"{where}: base sets {', '.join(owned)}; the grid's budget and seeds "
                         "say how long and with which seeds every run trains.")
    budget = values.get("budget") or {}
    if not isinstance(budget, dict):
        raise ValueError(f"{where}: budget must be a mapping: {{steps: 800}}.")
    _refuse_unknown(budget, _BUDGET_KEYS, f"{where}, budget")
    steps = _positive_int(budget.get("steps"), f"{where}: budget steps")
    time_limit = budget.get("time_limit")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(
            time_limit, (int, float)) or not time_limit > 0):
        raise ValueError(f"{where}: budget time_limit is minutes > 0 (or null), got "
                         f"{time_limit!r}.")
    seeds = _seeds(values.get("seeds", 2), where)

    entries = [(BASE, {})]
    for number, entry in enumerate(values.get("variants") or [], start=1):
        if not isinstance(entry, dict) or "label" not in entry:
            raise ValueError(f"{where}: variant {number} must be a mapping with a label and "
                             "the options it sets: {label: dropout 0.2, set: {...}}.")
        _refuse_unknown(entry, ("label", "set", "description"), f"{where}, variant {number}")
        label = str(entry["label"]).strip()
        changes = entry.get("set") or {}
        if not isinstance(changes, dict):
            raise ValueError(f"{where}: variant {label!r}: set must be a mapping of options.")
        entries.append((label, changes))
    _refuse_duplicates([label for label, _ in entries], where)
    variants = [_variant(label, changes, base, steps, time_limit, where)
                for label, changes in entries]

    evaluate = dict(values.get("evaluate") or {})
    _refuse_unknown(evaluate, _EVALUATE_KEYS, f"{where}, evaluate")
    first = variants[0].config
    eval_data = str(evaluate.get("data") or first.data)
    eval_split = evaluate.get("split", "test")
    if eval_split is not None:
        try:
            split_parts(eval_split)
        except ValueError as error:
            raise ValueError(f"{where}, evaluate: {error}") from None
    return Grid(
        name=name, variants=tuple(variants), seeds=seeds, steps=steps,
        time_limit=None if time_limit is None else float(time_limit),
        eval_data=eval_data, eval_split=eval_split,
        eval_photos=_positive_int(evaluate.get("photos", 100), f"{where}: evaluate photos"),
        eval_size=_positive_int(evaluate.get("size", 256), f"{where}: evaluate size"),
        size=size, description=str(values.get("description") or "").strip(), source=source,
        sizes=tuple(sizes),
    )


def default_size(grid: str | os.PathLike | dict) -> str | None:
    """The size to run a grid at here: "gpu" when TensorFlow sees a GPU, else "cpu", if the
    grid has that size; None for a grid without sizes."""
    sizes = load_grid(grid).sizes
    wanted = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return wanted if wanted in sizes else None


# === Internals ================================================================================


def _read(grid: Any) -> tuple[dict, str | None]:
    if isinstance(grid, dict):
        return copy.deepcopy(grid), None
    shipped = shipped_grids()
    name = os.fspath(grid)
    if name in shipped and not pathlib.Path(name).exists():
        path = shipped[name]
    elif name.removesuffix(".yaml") in shipped and not pathlib.Path(name).exists():
        path = shipped[name.removesuffix(".yaml")]
    else:
        if not pathlib.Path(name).exists():
            close = difflib.get_close_matches(pathlib.Path(name).stem, shipped, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise FileNotFoundError(f"No grid file {name}; {hint}the shipped grids: "
                                    f"{', '.join(shipped)} (or a YAML file of your own).")
        path = check_regular_file(name, "grid file")
    if path.stat().st_size > _MAX_GRID_BYTES:
        raise ValueError(f"{path} is {path.stat().st_size:,} bytes; a grid is a few kilobytes.")
    try:
        values = safe_yaml(path.read_text(encoding="utf-8"), path)
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text.") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a mapping: base, variants, seeds, budget, ...")
    return values, str(path)


def _refuse_unknown(values: dict, known: tuple[str, ...], where: str) -> None:
    unknown = [key for key in values if key not in known]
    if unknown:
        hints = [f"{key}: did you mean {close[0]}?" for key in unknown
                 for close in [difflib.get_close_matches(str(key), known, n=1)] if close]
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}"
                         + (f" ({'; '.join(hints)})" if hints else "")
                         + f"; the keys are: {', '.join(known)}.")


def _with_size(values: dict, chosen: dict, where: str, size: str) -> dict:
    """The grid with a named size's settings over its own (base, budget and evaluate merge
    key by key; ``variants`` there is a list of the labels to run)."""
    values = copy.deepcopy(values)
    for key in ("base", "budget", "evaluate"):
        if key in chosen:
            if not isinstance(chosen[key], dict):
                raise ValueError(f"{where}, size {size!r}: {key} must be a mapping.")
            values[key] = _merge(values.get(key) or {}, chosen[key])
    if "seeds" in chosen:
        values["seeds"] = chosen["seeds"]
    if "variants" in chosen:
        wanted = chosen["variants"]
        labels = [str(v.get("label", "")).strip() for v in values.get("variants") or []
                  if isinstance(v, dict)]
        if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
            raise ValueError(f"{where}, size {size!r}: variants lists the labels it runs.")
        missing = [w for w in wanted if w not in labels]
        if missing:
            raise ValueError(f"{where}, size {size!r} names variant(s) {missing} the grid does "
                             f"not have; its variants: {', '.join(labels)}.")
        values["variants"] = [v for v in values.get("variants") or []
                              if isinstance(v, dict) and str(v.get("label", "")).strip()
                              in wanted]
    return values


def _merge(base: dict, changes: dict) -> dict:
    """``changes`` over ``base``; ``model_args`` (and any other mapping) merge key by key."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _variant(label: str, changes: dict, base: dict, steps: int, time_limit: Any,
             where: str) -> Variant:
    name = "the base" if label == BASE else f"variant {label!r}"
    owned = sorted(set(changes) & set(_GRID_OWNED))
    if owned:
        raise ValueError(f"{where}: {name} sets {', '.join(owned)}; every run trains for the "
                         "grid's budget with the grid's seeds, so only the budget and seeds "
                         "sections say those.")
    options = _merge(base, changes)
    options.update(max_steps=steps, time_limit=time_limit, seed=0)
    try:
        config = TrainConfig.from_dict(options)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}, {name}: {error}") from None
    return Variant(label, dict(changes), config)


def _refuse_duplicates(labels: list[str], where: str) -> None:
    seen: dict[str, str] = {}
    for label in labels:
        if not label:
            raise ValueError(f"{where}: a variant has an empty label.")
        slug = slugify(label)
        if slug in seen:
            other = seen[slug]
            why = ("" if other == label else
                   f" (its folder name {slug!r} is the same as that of {other!r})")
            hint = " (the base runs as 'base' by itself)" if slug == BASE else ""
            raise ValueError(f"{where}: the label {label!r} is used twice{why}{hint}; give "
                             "every variant its own label.")
        seen[slug] = label


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number of at least 1, got {value!r}.")
    return int(value)


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"{where}: seeds must be at least 1 (a count or a list), got "
                             f"{value}.")
        return tuple(range(value))
    if isinstance(value, list) and value and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        if len(set(value)) != len(value):
            raise ValueError(f"{where}: seeds {value} repeats a seed.")
        return tuple(int(s) for s in value)
    raise ValueError(f"{where}: seeds is a count (2) or a list of seeds ([0, 1]), got "
                     f"{value!r}.")
