"""From a source to photos: one place resolves what a data set, folder or list holds.

Every way colorlab reads photos starts here. :func:`resolve` turns a *source* and a *split*
into a :class:`PhotoSet`, one plain object holding the files (or arrays, or TFRecord
shards), their class labels, and what was skipped and why; the tf.data pipeline
(:func:`colorlab.data.make_dataset`) then only builds batches from it.

Sources: a registry name (``"sample"``, ``"bsds500"``, ...; fetched if needed), a folder, a
list of image files, a :class:`~colorlab.data.photos.ScanReport`, TFRecord shards (a path,
glob or list of ``.tfrecord`` files), or photos as an (N, H, W, 3) uint8 array or an
(images, labels) pair.

Splits: "train", "val", "test", or a union such as "train+val"; None for every photo. A data
set whose publisher splits it (Imagenette, BSDS500) uses that split; everything else is
split by a hash of each file's name (:func:`split_of`), the same on every machine and run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
from typing import Any, Iterable, Sequence

import numpy as np

from colorlab.data import registry
from colorlab.data.photos import GRAY_FRACTION, ScanReport, list_images, scan_images

__all__ = [
    "SPLITS",
    "PhotoSet",
    "is_record_source",
    "resolve",
    "split_files",
    "split_of",
    "split_parts",
    "split_paths",
]

#: The splits of every source; a union joins them with "+" ("train+val").
SPLITS = ("train", "val", "test")


# === Splits =====================================================================================


def split_parts(split: str | None) -> list[str] | None:
    """The parts of a split ("train+val" -> ["train", "val"]); None stays None.

    Raises:
        ValueError: a part that is not "train", "val" or "test".
    """
    if split is None:
        return None
    parts = str(split).split("+")
    unknown = [part for part in parts if part not in SPLITS]
    if unknown:
        raise ValueError(f"Unknown split {split!r}; the splits are train, val and test, or a "
                         "union such as train+val.")
    return parts


def split_of(name: str, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> str:
    """Deterministic split ("train", "val" or "test") of a file, from a hash of its name.

    The same name lands in the same split on every machine and every run, and adding files
    never moves existing ones between splits.

    Args:
        name: The file's name or its path relative to the data root (posix separators).
        fractions: Shares of train, val and test (summing to 1).

    Example:
        >>> split_of("cat.jpg"), split_of("cat.jpg") == split_of("cat.jpg")
        ('train', True)
    """
    fractions = _check_fractions(fractions)
    # surrogateescape: a file name that is not valid UTF-8 still gets its split.
    digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).digest()
    position = int.from_bytes(digest[:8], "big") / 2.0**64
    if position < fractions[0]:
        return "train"
    if position < fractions[0] + fractions[1]:
        return "val"
    return "test"


def split_paths(
    paths: Iterable[str | os.PathLike],
    root: str | os.PathLike | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
) -> dict[str, list[pathlib.Path]]:
    """Splits files into {"train", "val", "test"} by a hash of their names (see :func:`split_of`).

    Args:
        paths: Image files.
        root: Hash the path relative to this folder (so sub-folders with equal file names do
            not collide); by default the file name alone.
        fractions: Shares of train, val and test.
    """
    fractions = _check_fractions(fractions)
    splits: dict[str, list[pathlib.Path]] = {part: [] for part in SPLITS}
    for path in map(pathlib.Path, paths):
        name = path.relative_to(root).as_posix() if root is not None else path.name
        splits[split_of(name, fractions)].append(path)
    return splits


def split_files(
    source: Any, split: str | None = None, data_dir: str | os.PathLike | None = None
) -> list[pathlib.Path]:
    """The photo files of one split, or a union such as "train+val", of a source.

    Args:
        source: A registry data set of photo files, a folder, or a list of files.
        split: See the module docstring (None: every file).
        data_dir: Cache folder of registry data sets.

    Raises:
        ValueError: an unknown split, a data set stored as arrays, or a source that is
            neither a data set nor a folder nor a list of files.
    """
    parts = split_parts(split)
    if isinstance(source, str) and source in registry.names():
        if registry.entry(source).get("kind") == "arrays":
            raise ValueError(f"{source!r} is stored as arrays, not photo files; use its "
                             "'train' or 'test' split with make_dataset.")
        root = registry.fetch(source, data_dir)
        everything = None
        files: list[pathlib.Path] = []
        for part in parts or [None]:
            folder = registry.split_folder(source, part) if part else None
            if folder is not None:
                files += list_images(root / folder)
                continue
            if everything is None:
                everything = registry.image_files(source, data_dir)
            files += everything if part is None else split_paths(everything, root)[part]
        return files
    if isinstance(source, (str, os.PathLike)):
        root = pathlib.Path(source)
        if not root.is_dir():
            raise ValueError(
                f"{os.fspath(source)!r} is neither a data set of the registry "
                f"({', '.join(registry.names())}) nor a folder nor TFRecord files."
            )
        files, hashed_from = list_images(root), root
    else:
        files, hashed_from = [pathlib.Path(p) for p in source], None
    if parts is None:
        return files
    splits = split_paths(files, hashed_from)
    return [f for part in parts for f in splits[part]]


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(
            f"fractions must be three non-negative shares (train, val, test) summing to 1, "
            f"got {fractions}."
        )
    return values  # type: ignore[return-value]


# === A resolved source =========================================================================


@dataclasses.dataclass
class PhotoSet:
    """What a source holds, resolved once: the pipeline's only input.

    Exactly one of ``report``, ``arrays`` and ``records`` is set.

    Attributes:
        description: The source, for messages ("'sample', the 'val' split").
        report: Photo files: the scan (usable files, and each skipped one with its reason).
        arrays: Photos as (N, H, W, 3) uint8.
        records: TFRecord shard paths (their photos are counted only as they are read).
        labels: Class index per usable photo or array row (-1: none); None for records,
            whose labels are stored in the shards.
        class_names: Names of the classes, where the source has them.
    """

    description: str
    report: ScanReport | None = None
    arrays: np.ndarray | None = None
    records: list[str] | None = None
    labels: list[int] | None = None
    class_names: list[str] | None = None

    @property
    def paths(self) -> list[str]:
        """The usable photo files (empty for arrays and records)."""
        return self.report.paths if self.report is not None else []

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of every file left out."""
        return self.report.skipped if self.report is not None else []

    @property
    def count(self) -> int | None:
        """Number of usable photos (None for TFRecords: not known before reading)."""
        if self.arrays is not None:
            return len(self.arrays)
        return None if self.records is not None else len(self.report.usable)


def resolve(
    source: Any = "sample",
    split: str | None = None,
    *,
    labels: str | dict | None = None,
    gray_fraction: float | None = GRAY_FRACTION,
    data_dir: str | os.PathLike | None = None,
) -> PhotoSet:
    """Resolves a source and a split into a :class:`PhotoSet` (see the module docstring).

    Args:
        source: Any source of the module docstring, or a PhotoSet (returned as it is).
        split: "train", "val", "test", a union such as "train+val", or None (everything).
            Arrays from the registry (CIFAR-10) have the publisher's "train" and "test".
        labels: Class labels of photo files: "folder" (each file's parent folder, sorted
            names give the indices) or a dict {path or file name: class index}.
        gray_fraction: The near-gray filter of :func:`colorlab.data.scan_images` (None: off).
        data_dir: Cache folder of registry data sets.

    Raises:
        ValueError: an unknown source or split, or labels that do not cover every photo.
    """
    if isinstance(source, PhotoSet):
        if split is not None:
            raise ValueError("A PhotoSet is already resolved; give the split to resolve().")
        return source
    where = _describe(source) + (f", the {split!r} split" if split else "")
    arrays = _arrays(source, split, data_dir)
    if arrays is not None:
        images, label_ids, class_names = arrays
        return PhotoSet(where, arrays=images, labels=list(map(int, label_ids)),
                        class_names=class_names)
    if is_record_source(source):
        if split is not None:
            raise ValueError("TFRecord shards have no splits: write one set of shards per "
                             "split (write_tfrecords of split_files(source, split)).")
        return PhotoSet(where, records=_record_files(source))
    if isinstance(source, ScanReport):
        keep = (None if split is None
                else set(map(str, split_files([i.path for i in source.images], split))))
        report = ScanReport([i for i in source.images if keep is None or i.path in keep],
                            source.gray_fraction)
    else:
        manifest = None
        if isinstance(source, str) and source in registry.names():
            manifest = registry.scan_cache(source, split, data_dir)
        files = split_files(source, split, data_dir)
        report = scan_images(files, gray_fraction=gray_fraction, manifest=manifest)
    label_ids, class_names = _labels(report.paths, labels)
    return PhotoSet(where, report=report, labels=label_ids, class_names=class_names)


def is_record_source(source: Any) -> bool:
    """True for a ``.tfrecord`` path or glob, or a list of them."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source).endswith(".tfrecord")
    if isinstance(source, (list, tuple)) and source:
        return all(isinstance(s, (str, os.PathLike)) and os.fspath(s).endswith(".tfrecord")
                   for s in source)
    return False


def _record_files(source: Any) -> list[str]:
    import glob

    if isinstance(source, (str, os.PathLike)):
        files = sorted(glob.glob(os.fspath(source)))
    else:
        files = [os.fspath(s) for s in source]
    if not files:
        raise FileNotFoundError(f"No TFRecord shards match {source!r}.")
    return files


def _describe(source: Any) -> str:
    """A source for a message: a name or a path, never a Python list of paths."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, ScanReport):
        return f"the {len(source.images)} files scanned"
    if isinstance(source, np.ndarray) or (isinstance(source, tuple) and len(source) == 2
                                          and isinstance(source[0], np.ndarray)):
        return "the photos given as an array"
    files = list(source)
    return f"the {len(files)} files given" + (f" (first: {files[0]})" if files else "")


def _arrays(source: Any, split: str | None, data_dir: Any) -> tuple | None:
    """(images uint8 (N, H, W, 3), labels, class names) for array sources, else None."""
    if isinstance(source, str) and source in registry.names():
        if registry.entry(source).get("kind") != "arrays":
            return None
        loaded = registry.load_arrays(source, data_dir=data_dir)
        part = split or "train"
        if part not in loaded:
            raise ValueError(f"{source!r} has the splits train and test, not {split!r}.")
        images, labels = loaded[part]
        return images, labels, loaded.get("class_names")
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], np.ndarray):
        images, labels = source
    elif isinstance(source, np.ndarray):
        images, labels = source, np.full(len(source), -1)
    else:
        return None
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"An array source must be (N, H, W, 3) uint8 photos, got {images.shape} "
            f"{images.dtype}. Floats in [0, 1]: (images * 255).round().astype(np.uint8)."
        )
    if split is not None:
        raise ValueError("Photos given as an array have no splits; split them yourself "
                         "(e.g. images[:800], images[800:]).")
    return images, np.asarray(labels).astype(np.int64), None


def _labels(paths: Sequence[str], labels: str | dict | None) -> tuple[list[int], list[str] | None]:
    if labels is None:
        return [-1] * len(paths), None
    if labels == "folder":
        folders = [pathlib.Path(p).parent.name for p in paths]
        names = sorted(set(folders))
        index = {name: i for i, name in enumerate(names)}
        return [index[f] for f in folders], names
    if isinstance(labels, dict):
        missing = [p for p in paths if p not in labels and pathlib.Path(p).name not in labels]
        if missing:
            raise ValueError(f"labels has no class for {len(missing)} photos, e.g. {missing[0]}.")
        ids = [int(labels.get(p, labels.get(pathlib.Path(p).name))) for p in paths]
        return ids, None
    raise ValueError(f'labels must be None, "folder" or a {{path: class}} dict, got {labels!r}.')
