"""Photo files: listing, deterministic splits, checking, EXIF orientation and the near-gray filter.

Real photo collections contain files a training run must survive: empty files, text files
named ``.jpg``, truncated downloads, CMYK JPEGs, 1 x 1 pixels, decompression bombs, and
grayscale photos stored as RGB (a few percent of ImageNet; they teach a model sepia).
:func:`scan_images` opens every file once (header, then a reduced-size decode), and sorts
them into usable photos and skipped files, each skipped file with its reason, so nothing is
lost silently. The tf.data pipeline (:mod:`colorlab.data.pipeline`) then reads only usable photos.

The scan needs Pillow; the pipeline decodes with TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import stat
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from colorlab import reference
from colorlab.files import file_identity, is_regular_file, write_text_atomic

__all__ = [
    "IMAGE_SUFFIXES",
    "OUTPUT_MARKER",
    "PILLOW_SUFFIXES",
    "GRAY_CHROMA",
    "GRAY_FRACTION",
    "MAX_PIXELS",
    "MIN_SIDE",
    "ImageInfo",
    "ScanReport",
    "colorful_fraction",
    "exif_orientation",
    "is_output_folder",
    "list_images",
    "mark_output_folder",
    "scan_images",
]

#: File suffixes :func:`list_images` picks up (lower case); TensorFlow decodes all four formats.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
#: What Pillow reads as well (colorize takes these; the training pipeline does not).
PILLOW_SUFFIXES = (*IMAGE_SUFFIXES, ".tif", ".tiff", ".webp")
#: The file that marks a folder as colorlab's results (see :func:`mark_output_folder`).
OUTPUT_MARKER = ".colorlab-output"
_FORMATS = {"JPEG", "PNG", "BMP", "GIF", "MPO"}  # MPO: multi-picture JPEG from cameras

#: Photos with more pixels than this are refused (a decompression-bomb guard: a small file
#: that would decode to gigabytes). 40 Mpixel lets every camera photo through.
MAX_PIXELS = 40_000_000
#: Photos whose shorter side is below this are skipped (icons, spacer pixels, 1 x 1 trackers).
#: Larger photos smaller than the crop are upscaled by the pipeline.
MIN_SIDE = 16

#: A pixel is grey when its chroma sqrt(a^2 + b^2) is at most this (Lab units; the authors'
#: code masks |a|, |b| <= 5).
GRAY_CHROMA = 5.0
#: A photo is near-gray, and dropped by the filter, when fewer than this fraction of its
#: pixels have chroma above ``GRAY_CHROMA``. Grayscale stored as RGB has none; a
#: dim, muted photo still has 10-30 %.
GRAY_FRACTION = 0.05

_SCAN_SIDE = 64  # the colour statistic uses a decode reduced to about this size
_SCAN_VERSION = 3  # cached scan results of an older version are redone


# === Listing and splits ========================================================================


def list_images(
    root: str | os.PathLike,
    suffixes: Sequence[str] | None = IMAGE_SUFFIXES,
    exclude: Iterable[str | os.PathLike] = (),
) -> list[pathlib.Path]:
    """All image files under ``root`` (recursively), sorted.

    Left out: hidden files and folders, anything that is not a regular file (a FIFO named
    ``x.jpg`` would block a reader forever), and sub-folders that hold colorlab's own results
    (marked by :func:`mark_output_folder`: colorized photos, training runs, evaluations),
    so results are never read back as photos.

    Args:
        root: A folder.
        suffixes: File suffixes to include, compared case-insensitively (None: every
            regular file).
        exclude: Folders under ``root`` to leave out as well.

    Raises:
        FileNotFoundError: ``root`` does not exist or is not a folder.
    """
    root = pathlib.Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"list_images: {root} is not a folder.")
    wanted = None if suffixes is None else {s.lower() for s in suffixes}
    skip = {file_identity(folder) for folder in exclude if os.path.isdir(folder)}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".")
            and not is_output_folder(os.path.join(dirpath, d))
            and file_identity(os.path.join(dirpath, d)) not in skip
        )
        found.extend(
            pathlib.Path(dirpath, f)
            for f in filenames
            if not f.startswith(".")
            and (wanted is None or pathlib.Path(f).suffix.lower() in wanted)
            and is_regular_file(os.path.join(dirpath, f))
        )
    return sorted(found)


def mark_output_folder(folder: str | os.PathLike, what: str) -> bool:
    """Marks ``folder`` (created) as holding colorlab's results, so that :func:`list_images`
    skips it: results are never read back as inputs, and a run folder inside a data folder
    never adds its sample figures to the data.

    A folder that already holds photos of its own (and no marker) is not marked: it is the
    user's, and marking it would hide those photos from later listings.

    Returns:
        True if the folder is marked.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OUTPUT_MARKER
    if os.path.lexists(marker):
        return True
    with os.scandir(folder) as entries:
        if any(e.name.lower().endswith(PILLOW_SUFFIXES) and not e.name.startswith(".")
               for e in entries):
            return False
    write_text_atomic(marker, f"colorlab {what}: photo listings skip this folder.\n")
    return True


def is_output_folder(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds colorlab's results (see :func:`mark_output_folder`)."""
    return os.path.lexists(os.path.join(folder, OUTPUT_MARKER))


# === One file ==================================================================================


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What a scan learned about one file.

    Attributes:
        path: The file.
        ok: Usable by the pipeline.
        reason: Why it is skipped ("" when ok, "near-gray" when only the colour filter
            dropped it).
        width, height: As stored (before EXIF rotation); 0 when unreadable.
        orientation: EXIF orientation 1-8 (1: as stored).
        colorful: Fraction of pixels with chroma above ``GRAY_CHROMA`` (-1 when unreadable).
    """

    path: str
    ok: bool
    reason: str = ""
    width: int = 0
    height: int = 0
    orientation: int = 1
    colorful: float = -1.0


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1-8) of an opened image; 1 when absent or invalid."""
    try:
        value = int(image.getexif().get(0x0112, 1))
    except Exception:  # a malformed EXIF block is not worth losing a photo over
        return 1
    return value if 1 <= value <= 8 else 1


def colorful_fraction(rgb: np.ndarray, chroma: float = GRAY_CHROMA) -> float:
    """Fraction of pixels whose Lab chroma exceeds ``chroma``: (H, W, 3) uint8 or [0, 1] floats.

    The scan computes it on a ~64 px decode, so the plain numpy Lab of
    :mod:`colorlab.reference` serves (listing and scanning photos need no TensorFlow)."""
    ab = reference.rgb_to_lab(rgb)[..., 1:]
    return float(np.mean(np.sum(ab * ab, axis=-1) > chroma * chroma))


def _inspect(path: str, min_side: int, max_pixels: int) -> ImageInfo:
    try:
        info = os.stat(path)
    except OSError as error:
        return ImageInfo(path, False, f"unreadable ({error.strerror})")
    if not stat.S_ISREG(info.st_mode):
        return ImageInfo(path, False, "not a regular file")
    if info.st_size == 0:
        return ImageInfo(path, False, "empty file")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # TensorFlow takes file names as UTF-8 strings
        return ImageInfo(path, False, "file name not UTF-8 (rename the file)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if image.format not in _FORMATS:
                    return ImageInfo(
                        path, False, f"unsupported format {image.format}", width, height
                    )
                if width * height > max_pixels:
                    return ImageInfo(
                        path, False,
                        f"too large ({width} x {height} > {max_pixels:,} pixels)",
                        width, height,
                    )
                if min(width, height) < min_side:
                    return ImageInfo(
                        path, False, f"too small ({width} x {height} < {min_side} px)",
                        width, height,
                    )
                orientation = exif_orientation(image)
                stored_mode = image.mode
                image.draft("RGB", (_SCAN_SIDE, _SCAN_SIDE))  # JPEG: decode at 1/2..1/8 size
                rgb = image.convert("RGB")  # decodes every byte: truncation shows here
                rgb.thumbnail((_SCAN_SIDE, _SCAN_SIDE))
                colorful = colorful_fraction(np.asarray(rgb))
                problem = _tensorflow_cannot_decode(path, image.format, stored_mode,
                                                   image.info.get("compression", 0))
                if problem:
                    return ImageInfo(path, False, problem, width, height)
    except Image.DecompressionBombError:
        return ImageInfo(path, False, "too large (decompression bomb)")
    except UnidentifiedImageError:
        return ImageInfo(path, False, "not an image")
    except (OSError, SyntaxError, ValueError) as error:  # truncated, corrupt
        return ImageInfo(path, False, f"corrupt ({error})")
    return ImageInfo(path, True, "", width, height, orientation, colorful)


def _tensorflow_cannot_decode(path: str, kind: str, mode: str, compression: int) -> str:
    """Why the pipeline's TensorFlow decoder would fail on a file Pillow reads ("" if it
    would not). Only the kinds TensorFlow is known to refuse are decoded a second time:
    BMPs (TensorFlow reads uncompressed BMP only) and CMYK/YCCK JPEGs."""
    risky = kind == "BMP" or (kind in ("JPEG", "MPO") and mode in ("CMYK", "YCbCr;K"))
    if not risky:
        return ""
    if kind == "BMP" and compression not in (0, 3):
        return "corrupt for TensorFlow (compressed BMP; save it as PNG)"
    from colorlab import _startup  # noqa: F401, I001  (deliberately lazy: quiet TensorFlow)
    import tensorflow as tf

    try:
        with open(path, "rb") as f:
            tf.io.decode_image(f.read(), channels=3, expand_animations=False)
    except (tf.errors.OpError, ValueError) as error:
        message = str(getattr(error, "message", error)).split("\n")[0]
        return f"corrupt for TensorFlow ({message}; save it as PNG)"
    return ""


# === Many files ================================================================================


@dataclasses.dataclass
class ScanReport:
    """The outcome of :func:`scan_images`: usable photos, and every skipped file with its reason.

    Attributes:
        images: Every file scanned, in input order.
        gray_fraction: The near-gray threshold used (None: filter off).
    """

    images: list[ImageInfo]
    gray_fraction: float | None = GRAY_FRACTION

    @property
    def usable(self) -> list[ImageInfo]:
        """Files the pipeline reads: readable, within size limits, and colorful enough."""
        return [info for info in self.images if info.ok and not self._gray(info)]

    @property
    def paths(self) -> list[str]:
        """Paths of the usable files."""
        return [info.path for info in self.usable]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of every file left out, near-gray photos included."""
        return [
            (info.path, "near-gray" if info.ok else info.reason)
            for info in self.images
            if not info.ok or self._gray(info)
        ]

    @property
    def near_gray(self) -> list[str]:
        """Paths dropped by the near-gray filter."""
        return [info.path for info in self.images if info.ok and self._gray(info)]

    def counts(self) -> dict[str, int]:
        """Number of files per outcome: "usable", then each skip reason (sizes folded)."""
        counts = Counter(reason.split(" (")[0] for _, reason in self.skipped)
        return {"usable": len(self.usable), **dict(sorted(counts.items()))}

    def summary(self) -> str:
        """One line: how many files are usable and why the others were skipped."""
        counts = self.counts()
        usable = counts.pop("usable")
        detail = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        return f"{usable} of {len(self.images)} photos usable" + (
            f"; skipped {len(self.images) - usable}: {detail}" if detail else ""
        )

    def _gray(self, info: ImageInfo) -> bool:
        return self.gray_fraction is not None and info.colorful < self.gray_fraction

    def __repr__(self) -> str:
        return f"ScanReport({self.summary()})"


def scan_images(
    paths: Iterable[str | os.PathLike],
    *,
    gray_fraction: float | None = GRAY_FRACTION,
    min_side: int = MIN_SIDE,
    max_pixels: int = MAX_PIXELS,
    manifest: str | os.PathLike | None = None,
    progress: bool = False,
    workers: int | None = None,
) -> ScanReport:
    """Opens every file once and sorts the usable photos from the rest.

    Each file is checked for: empty, not an image, a format TensorFlow cannot decode, more
    than ``max_pixels`` (decompression bombs are refused from the header, before decoding),
    a shorter side below ``min_side``, and corrupt or truncated data (a reduced-size decode
    reads every byte). Its EXIF orientation and its share of colorful pixels are recorded.

    Args:
        paths: Image files, or a folder (its :func:`list_images`).
        gray_fraction: Near-gray filter: photos with fewer colorful pixels than this share
            are left out (see ``GRAY_FRACTION``). None keeps them.
        min_side: Smallest acceptable shorter side in pixels.
        max_pixels: Largest acceptable width x height.
        manifest: A JSON file that caches results between runs (keyed by path, size and
            modification time): a re-run, or a run interrupted and started again, only
            opens new or changed files.
        progress: Show a progress bar.
        workers: Threads (Pillow decodes without the GIL); default: CPU count.

    Returns:
        A :class:`ScanReport`; ``report.paths`` are the usable files, ``report.skipped``
        lists the others with reasons, ``report.summary()`` counts them.
    """
    if isinstance(paths, (str, os.PathLike)):  # one folder (or file), not its characters
        paths = list_images(paths) if os.path.isdir(paths) else [paths]
    paths = [os.fspath(p) for p in paths]
    cache: dict[str, Any] = {}
    manifest_path = pathlib.Path(manifest) if manifest is not None else None
    if manifest_path is not None and manifest_path.exists():
        try:
            cache = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            cache = {}  # an unreadable cache is rebuilt, never trusted

    def key(path: str) -> str:
        try:
            info = os.stat(path)
        except OSError:
            return ""
        return f"{_SCAN_VERSION}:{info.st_size}:{info.st_mtime_ns}:{min_side}:{max_pixels}"

    def work(path: str) -> ImageInfo:
        stamp = key(path)
        cached = cache.get(path)
        if stamp and cached is not None and cached.get("key") == stamp:
            return ImageInfo(**cached["info"])
        return _inspect(path, min_side, max_pixels)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = pool.map(work, paths)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(paths), desc="scanning photos", unit="file",
                           disable=None)
        infos = list(results)

    if manifest_path is not None:
        entries = {info.path: {"key": key(info.path), "info": dataclasses.asdict(info)}
                   for info in infos}
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(manifest_path, json.dumps(entries))
    return ScanReport(infos, gray_fraction)
