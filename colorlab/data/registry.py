"""The data set registry (``datasets.yaml``): what each data set is, and fetching it.

``datasets.yaml`` (shipped in the package, and linked from the repository's top level)
describes every data set colorlab knows: its files with URLs, sizes and sha256 checksums
where the publisher or a well-kept listing states them, its number of images, licence,
citation, archive layout and splits. :func:`fetch` downloads, verifies and unpacks one (see
:mod:`colorlab.data.download` for the safety rules) and returns the folder of its photos.

``sample`` needs no download: the colour photos scikit-image and scikit-learn ship are
copied into the cache. It is the default wherever a data set is optional.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pathlib
import pickle
import shutil
from importlib import resources
from typing import Any

import numpy as np
import yaml

from colorlab.data.archives import extract
from colorlab.data.download import ChecksumError, data_home, download
from colorlab.data.download import forget as forget_download
from colorlab.files import make_private_folder
from colorlab.data.photos import list_images

__all__ = [
    "describe", "download_size", "entry", "fetch", "forget", "image_files", "is_downloaded",
    "load_arrays", "load_registry", "names", "prior_file", "scan_cache", "size_text", "source_key",
    "split_folder",
]


@functools.lru_cache(maxsize=None)
def load_registry() -> dict[str, dict[str, Any]]:
    """All registry entries by name, as read from the packaged ``datasets.yaml``."""
    text = resources.files("colorlab.resources").joinpath("datasets.yaml").read_text("utf-8")
    return yaml.safe_load(text)["datasets"]


def names() -> list[str]:
    """Names of the registered data sets."""
    return list(load_registry())


def entry(name: str) -> dict[str, Any]:
    """The registry entry of ``name``; ValueError naming the known sets if there is none."""
    registry = load_registry()
    if name not in registry:
        raise ValueError(f"Unknown data set {name!r}; the registry has: {', '.join(registry)}.")
    return registry[name]


def describe(name: str) -> str:
    """A few lines on a data set: title, size, licence, citation (for notebooks)."""
    e = entry(name)
    description = " ".join(str(e.get("description", "")).split())
    lines = [f"{name}: {e.get('title', name)}", f"  {description}"]
    if e.get("images"):
        shape = f" ({e['image_size']})" if e.get("image_size") else ""
        lines.append(f"  images: {e['images']:,}{shape}")
    for f in e.get("files") or []:
        size = size_text(f["size"]) if f.get("size") else "size not published"
        check = "sha256 published" if f.get("sha256") else "sha256 recorded on first download"
        lines.append(f"  file: {f['filename']} ({size}; {check})")
    for key in ("license", "citation", "homepage"):
        if e.get(key):
            lines.append(f"  {key}: {' '.join(str(e[key]).split())}")
    return "\n".join(lines)


def size_text(count: int) -> str:
    """A byte count as a data set's size is written: "99.0 MB"."""
    return f"{count / 1e6:,.1f} MB"


def fetch(
    name: str, data_dir: str | os.PathLike | None = None, progress: bool = True
) -> pathlib.Path:
    """Downloads (if needed), verifies and unpacks a data set; returns the folder of its photos.

    Args:
        name: A registry name (see :func:`names`). ``"folder"`` is not fetched: pass your
            folder to :func:`colorlab.data.pipeline.make_dataset` directly.
        data_dir: Cache folder (default ``$COLORLAB_DATA`` or the per-user cache).
        progress: Show download progress.

    Returns:
        The folder that holds the data set's images (for CIFAR-10, its batch files).

    Raises:
        colorlab.data.download.DownloadError: offline or unreachable, with where to put the file.
        colorlab.data.download.ChecksumError: a file fails its size or sha256 check.
    """
    e = entry(name)
    kind = e.get("kind")
    if kind == "folder":
        raise ValueError(
            "The 'folder' entry stands for your own photos: pass the folder itself, e.g. "
            "make_dataset('/path/to/photos')."
        )
    if e.get("parent"):
        return fetch(e["parent"], data_dir, progress)
    home = data_home(data_dir) / name
    if kind == "embedded":
        return _materialize_sample(home)
    for f in e.get("files") or []:
        urls = [f["url"], *(f.get("mirrors") or [])]
        archive = download(
            urls, home / "downloads", f["filename"], sha256=f.get("sha256"),
            size=f.get("size"), dataset=name, progress=progress,
        )
        try:
            extract(archive, home / _stem(f["filename"]))
        except ChecksumError as error:
            if not f.get("sha256"):  # a recorded (not published) checksum: start afresh
                forget_download(home / "downloads", f["filename"])
                raise ChecksumError(f"{error} It was deleted, with its recorded checksum; "
                                    f"fetch {name} again.") from None
            raise
    extracted = home / _stem(e["files"][0]["filename"])
    root = extracted / (e.get("root") or "")
    return root if root.is_dir() else extracted  # "root" is where the publisher puts it


def forget(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Forgets a data set's downloads: deletes its downloaded files, their recorded
    checksums and its unpacked folders, so the next fetch starts afresh
    (``colorlab data forget NAME``). Published checksums stay in the registry.

    Returns:
        What was deleted, for a message.
    """
    e = entry(name)
    if e.get("kind") in ("folder", "embedded") or e.get("parent"):
        raise ValueError(f"{name!r} has no downloads of its own to forget.")
    home = data_home(data_dir) / name
    removed = []
    for f in e.get("files") or []:
        if forget_download(home / "downloads", f["filename"]):
            removed.append(f["filename"])
        unpacked = home / _stem(f["filename"])
        if unpacked.is_dir() and not unpacked.is_symlink():
            shutil.rmtree(unpacked)
            removed.append(f"{unpacked.name}/")
    for scan in home.glob("scan-*.json"):
        scan.unlink()
    for folder in (home / "downloads", home):  # empty folders of a failed fetch too
        try:
            if folder.is_dir() and not any(p for p in folder.iterdir()
                                           if p.name != "checksums.json"):
                (folder / "checksums.json").unlink(missing_ok=True)
                folder.rmdir()
        except OSError:
            pass
    return removed


def is_downloaded(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """True if a data set is in the cache (fetched and unpacked), without fetching it."""
    e = entry(name)
    if e.get("kind") == "folder":
        return False
    if e.get("parent"):
        return is_downloaded(e["parent"], data_dir)
    home = data_home(data_dir) / name
    if e.get("kind") == "embedded":
        return home.is_dir()
    return all((home / _stem(f["filename"])).is_dir() for f in e.get("files") or [])


def download_size(name: str) -> int | None:
    """The published bytes to download for a data set (None where a size is unpublished)."""
    e = entry(name)
    if e.get("parent"):
        return download_size(e["parent"])
    sizes = [f.get("size") for f in e.get("files") or []]
    return None if any(size is None for size in sizes) else sum(sizes)


def image_files(name: str, data_dir: str | os.PathLike | None = None) -> list[pathlib.Path]:
    """Every photo file of a registry data set (fetched if needed), in a stable order.

    Splits are chosen by :func:`colorlab.data.sources.split_files`, which asks
    :func:`split_folder` for the publisher's folders.
    """
    e = entry(name)
    if e.get("kind") == "arrays":
        raise ValueError(f"{name!r} is stored as arrays, not photo files; use load_arrays().")
    paths = list_images(fetch(name, data_dir))
    if e.get("categories"):
        paths = _places_categories(name, e, paths, data_dir)
    return paths


def split_folder(name: str, part: str) -> str | None:
    """The publisher's folder of one split ("train", "val" or "test") of a data set, relative
    to its photo folder, or None where the publisher does not split it."""
    return ((entry(name).get("splits") or {}).get(part) or {}).get("folder")


def scan_cache(name: str, split: str | None, data_dir: str | os.PathLike | None = None
               ) -> pathlib.Path:
    """Where the scan of a data set's split is cached (see :func:`colorlab.data.scan_images`)."""
    return data_home(data_dir) / name / f"scan-{split or 'all'}.json"


def source_key(source: str) -> str:
    """One spelling of a data source, to compare two: a registry name as it is, a folder
    resolved (an absolute path, ``./x`` and ``x/`` name the same folder)."""
    if source in names() or not os.path.exists(source):
        return source
    return os.path.normcase(os.path.realpath(source))


def prior_file(name: str, out: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """Where the ab prior of a data set or folder is written (``colorlab data prior``): ``out``
    as a .npy file, or a folder (NAME_prior.npy in it); by default the data cache's
    ``priors/`` folder, where a folder's name carries a hash of its path."""
    stem = pathlib.Path(name).name or "data"
    if out is None:
        if os.path.isdir(name):  # in the cache, a folder's path tells same names apart
            digest = hashlib.sha1(os.path.realpath(name).encode("utf-8", "surrogateescape"))
            stem = f"{stem}-{digest.hexdigest()[:8]}"
        return data_home(data_dir) / "priors" / f"{stem}_prior.npy"
    filename = f"{stem}_prior.npy"
    path = pathlib.Path(out)
    if path.is_dir():
        return path / filename
    if path.suffix.lower() == ".npy":
        return path
    if path.suffix:
        raise ValueError(f"--out {out}: give a .npy file or a folder (it writes "
                         f"{filename} into a folder).")
    return path / filename


def load_arrays(name: str = "cifar10", data_dir: str | os.PathLike | None = None) -> dict:
    """Loads a data set stored as arrays (CIFAR-10's pickled batches, as Keras loads them).

    Returns:
        {"train": (images (N, 32, 32, 3) uint8, labels (N,) int64), "test": (...),
        "class_names": [...]}.
    """
    e = entry(name)
    if e.get("kind") != "arrays":
        raise ValueError(f"{name!r} is a set of image files; use image_files() or make_dataset().")
    root = fetch(name, data_dir)

    def read(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for filename in files:
            with open(root / filename, "rb") as f:  # verified by sha256 before unpacking
                batch = pickle.load(f, encoding="bytes")
            images.append(batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
        return np.concatenate(images), np.concatenate(labels)

    with open(root / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="bytes")
    return {
        "train": read([f"data_batch_{i}" for i in range(1, 6)]),
        "test": read(["test_batch"]),
        "class_names": [n.decode() for n in meta[b"label_names"]],
    }


# === Internals ===================================================================================


def _stem(filename: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def _sample_sources() -> list[pathlib.Path]:
    """The files of the embedded sample: scikit-image's photos, then scikit-learn's if present."""
    from skimage import data as skdata

    folder = pathlib.Path(skdata.data_dir)
    files = [folder / n for n in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                                  "motorcycle_left.png")]
    try:
        import sklearn.datasets

        images = pathlib.Path(sklearn.datasets.__file__).parent / "images"
        files += [images / "china.jpg", images / "flower.jpg"]
    except ImportError:  # scikit-learn is in the dev extra and on Colab; without it, 5 photos
        pass
    return [f for f in files if f.exists()]


def _materialize_sample(home: pathlib.Path) -> pathlib.Path:
    sources = _sample_sources()
    if home.exists() and len(list_images(home)) >= len(sources):
        return home
    staging = make_private_folder(home)
    for source in sources:
        shutil.copyfile(source, staging / source.name)
    # Two processes may make it at once (two notebooks, parallel tests): a complete copy
    # made by the other is never deleted, only an incomplete one is replaced.
    if home.exists() and len(list_images(home)) >= len(sources):
        shutil.rmtree(staging, ignore_errors=True)
        return home
    shutil.rmtree(home, ignore_errors=True)
    try:
        os.replace(staging, home)
    except OSError:  # the other process renamed its copy into place first
        shutil.rmtree(staging, ignore_errors=True)
        if not (home.exists() and len(list_images(home)) >= len(sources)):
            raise
    return home


def _places_categories(
    name: str, e: dict, paths: list[pathlib.Path], data_dir: Any
) -> list[pathlib.Path]:
    """Keeps the Places365 validation photos of the entry's scene categories."""
    parent = entry(e["parent"])
    home = data_home(data_dir) / e["parent"]
    lists = [home / _stem(f["filename"]) for f in parent["files"][1:]]
    categories = _find(lists, "categories_places365.txt")
    val = _find(lists, "places365_val.txt")
    index = {}
    for line in categories.read_text().split("\n"):
        if line.strip():
            category, number = line.rsplit(" ", 1)
            index[category] = int(number)
    missing = [c for c in e["categories"] if c not in index]
    if missing:
        raise ValueError(f"{name}: categories {missing} are not in {categories}.")
    wanted = {index[c] for c in e["categories"]}
    keep = set()
    for line in val.read_text().split("\n"):
        if line.strip():
            filename, number = line.split()
            if int(number) in wanted:
                keep.add(filename)
    return [p for p in paths if p.name in keep]


def _find(folders: list[pathlib.Path], filename: str) -> pathlib.Path:
    for folder in folders:
        for found in folder.rglob(filename):
            return found
    raise FileNotFoundError(f"{filename} not found under {', '.join(map(str, folders))}.")
