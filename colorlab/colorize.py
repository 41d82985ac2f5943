"""Colorizing photos of any size with a trained model: one array, or a folder of files.

The model sees a small copy (``render_size`` on the short side); its ab is upsampled and
joined with the photo's own full-resolution L, so the result is exactly as sharp as the
input (:mod:`colorlab.predict` runs the model and renders the result). Bin models are
decoded by the annealed mean at ``temperature``; a model that takes colour hints
(``zhang_siggraph17``) takes ``hints``.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import sys
from typing import Any, Iterable, Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorlab import color
from colorlab.files import atomic_path, check_regular_file, file_identity, printable, same_file
from colorlab.data.photos import MAX_PIXELS, PILLOW_SUFFIXES, list_images, mark_output_folder
from colorlab import models
from colorlab.predict import (
    MAX_RENDER_SIZE,
    MIN_RENDER_SIZE,
    NonFiniteOutput,
    as_rgb,
    check_colorizer,
    predict,
    render,
)
from colorlab.quantize import ColorBins

__all__ = [
    "ColorizeReport", "MAX_RENDER_SIZE", "MIN_RENDER_SIZE", "NonFiniteOutput", "TEMPERATURE",
    "check_options", "colorize", "colorize_folder", "decodes_bins", "gray_rgb", "read_image",
    "temperature_for", "with_ab",
]

#: The annealed-mean temperature of Zhang et al. (ECCV 2016): bin models decode at it unless
#: told otherwise.
TEMPERATURE = 0.38


def colorize(
    model: keras.Model,
    image: np.ndarray,
    *,
    render_size: int = 256,
    temperature: float | None = None,
    bins: ColorBins | None = None,
    hints: Sequence | None = None,
) -> np.ndarray:
    """Colorizes one photo of any size.

    Args:
        model: A colorlab model from normalised L: one that outputs ab / 110 (regression
            models, :func:`~colorlab.models.zhang_inference_model`, the two-stream model's
            "ab"), or bin logits (:func:`~colorlab.models.zhang_eccv16`).
        image: (H, W) or (H, W, 1) gray, (H, W, 3) RGB (its L is used) or (H, W, 4) RGBA
            (alpha is kept); uint8, uint16, or floats in [0, 1].
        render_size: Short side, in pixels, of the copy the model sees (rounded to a
            multiple of the model's stride, at least 32; a photo longer than 4:1 is
            shrunk until its long side is 4 x render_size). Ignored for a model with a
            fixed input size.
        temperature: Annealed-mean temperature of a bin model (default 0.38, Zhang et al.'s;
            0 gives the most likely bin, 1 the mean). Refused for a model that outputs ab,
            which has none (see :func:`temperature_for`).
        bins: The bins of a bin model (default: see :func:`colorlab.models.model_bins`).
        hints: Colour hints for a model that takes them (``zhang_siggraph17``):
            ``[(row, col, colour), ...]`` in the photo's pixels, a colour an RGB triple of
            0-255 numbers or ``"#rrggbb"`` (its chroma is used; see
            :func:`colorlab.predict.hint_maps`).

    Returns:
        (H, W, 3) uint8 RGB, or (H, W, 4) with the input's alpha.

    Raises:
        ValueError: an image of the wrong shape or value range, or a model that is not a
            colorizer (its input is not one L channel, its output neither ab nor bins).
        NonFiniteOutput: the model's output holds NaN or infinity (damaged weights, such
            as a diverged run's): never written as a black image.
    """
    check_options(render_size, temperature)
    temperature = temperature_for(model, temperature)
    prediction = predict(model, image, render_size=render_size, hints=hints)
    out, method = prediction.output, prediction.method
    if method is not None and method.to_ab is not None:
        to_ab = method.to_ab
    else:  # a Keras model colorlab did not build: ab if it has 2 channels, else bin logits
        to_ab = (models.ab_from_regression if isinstance(out, dict) or out.shape[-1] == 2
                 else models.ab_from_bins)
    ab_small = np.asarray(to_ab(out, model, temperature, bins), dtype=np.float32)
    if not np.isfinite(ab_small).all():
        raise NonFiniteOutput(
            f"Decoding the model's bins at temperature {temperature} gave NaN or "
            "infinity; use a temperature of 0 (the mode) or between 0.01 and 1."
        )
    return render(prediction, ab_small)


def with_ab(image: np.ndarray, ab: Any) -> np.ndarray:
    """The photo's own L with a constant ab, as (H, W, 3) uint8 RGB.

    Args:
        image: As for :func:`colorize`.
        ab: (2,) a and b for every pixel.
    """
    rgb, _ = as_rgb(image)
    lightness = color.rgb_to_lightness(rgb)
    ab = np.broadcast_to(np.asarray(ab, lightness.dtype), (*lightness.shape[:2], 2))
    lab = color.join_lab(lightness, ab)
    return np.round(color.lab_to_rgb(lab, validate=False) * 255.0).astype(np.uint8)


def gray_rgb(image: np.ndarray) -> np.ndarray:
    """The photo without its colour (a = b = 0), as (H, W, 3) uint8 RGB.

    The gray baseline of evaluation, and the input panel of comparison figures.
    """
    return with_ab(image, (0.0, 0.0))


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Reads a photo file as colorize takes it: EXIF orientation applied; uint8 or uint16.

    Gray files give (H, W) (16-bit PNGs as uint16), colour files (H, W, 3), files with
    transparency (H, W, 4); palette and CMYK files are converted to RGB(A). Pillow reads
    16-bit colour files at 8 bits (within 1 level of exact), as the result is 8-bit anyway.

    Raises:
        ValueError: not an image, corrupt, or above ``max_pixels`` (decompression bomb).
    """
    path = check_regular_file(path, "photo")
    try:
        with Image.open(path) as image:
            if image.width * image.height > max_pixels:
                raise ValueError(
                    f"{path.name}: {image.width} x {image.height} is above the "
                    f"{max_pixels:,}-pixel limit."
                )
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
            if image.mode == "L":
                return np.asarray(image)
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except UnidentifiedImageError:
        raise ValueError(f"{path.name}: not an image Pillow can read (a multi-page or "
                         "unusual TIFF? save it as PNG).") from None
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path.name}: refused as a decompression bomb ({error}).") from None
    except (OSError, SyntaxError) as error:
        raise ValueError(f"{path.name}: unreadable or corrupt ({error}).") from None


def decodes_bins(model: keras.Model) -> bool:
    """Whether the model predicts bins that colorize decodes (so a temperature applies)."""
    method = models.method_of(model)
    if method is not None:
        return method.output == "bins"
    outputs = getattr(model, "outputs", None) or []
    return len(outputs) == 1 and outputs[0].shape[-1] != 2


def temperature_for(model: keras.Model, temperature: float | None) -> float:
    """The temperature colorize decodes ``model`` with: :data:`TEMPERATURE` when None.

    Raises:
        ValueError: a temperature given for a model that outputs ab (it would change
            nothing): e.g. the released eccv16 loaded already decoded.
    """
    if temperature is None:
        return TEMPERATURE
    if not decodes_bins(model):
        raise ValueError(
            f"This model outputs ab directly, so temperature {temperature} would change "
            "nothing: a temperature applies to models that predict bins, such as "
            "pretrained.load('zhang_eccv16', logits=True) or models.load_model('zhang_eccv16')."
            " Leave it out for this model.")
    return temperature


def check_options(render_size: Any, temperature: Any) -> None:
    """Refuses a render size or temperature that no photo could be colorized with.

    Raises:
        ValueError: render_size not a whole number from 32 to 2048, or temperature
            negative or not finite.
    """
    if isinstance(render_size, bool) or not isinstance(render_size, (int, np.integer)) \
            or not MIN_RENDER_SIZE <= render_size <= MAX_RENDER_SIZE:
        raise ValueError(
            f"render_size must be a whole number of pixels from {MIN_RENDER_SIZE} to "
            f"{MAX_RENDER_SIZE}; got {render_size!r}."
        )
    if temperature is not None and (not float(temperature) >= 0.0
                                    or not np.isfinite(float(temperature))):
        raise ValueError(
            f"temperature must be 0 or more (0.38 in Zhang et al.; 0: the most likely bin, "
            f"1: the mean), got {temperature}."
        )


@dataclasses.dataclass
class ColorizeReport:
    """What :func:`colorize_folder` did: files written, kept (not overwritten), skipped.

    The exit status of ``colorlab colorize`` follows from it (:meth:`exit_status`): 0 when
    every usable input has its result (written now, or kept from an earlier run), 1 when
    some input could not be colorized (it is in ``skipped``, with the reason).
    """

    written: list[str] = dataclasses.field(default_factory=list)
    existing: list[str] = dataclasses.field(default_factory=list)
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def exit_status(self) -> int:
        """0: every input has a result; 1: some input could not be colorized."""
        return 1 if self.skipped else 0

    def summary(self) -> str:
        text = f"{len(self.written)} colorized"
        if self.existing:
            text += f", {len(self.existing)} left as they were (already there; --overwrite)"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text


def colorize_folder(
    model: keras.Model,
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: bool = True,
    **options: Any,
) -> ColorizeReport:
    """Colorizes photo files (a folder, or a list of files and folders) into ``out_dir``.

    Each result is written as PNG under the input's name (for a folder, its path inside
    the folder): ``x.jpg`` gives ``x.png``. Inputs are never overwritten or read back:
    ``out_dir`` may lie inside an input folder (it is left out of that folder's photos, and
    marked so later runs leave it out too) but may not be an input folder itself, and a
    result that would replace an input file is refused before anything is written. A file
    named twice is colorized once. Where two inputs would give the same name (``x.jpg``
    and ``x.png``), both keep their suffix instead (``x.jpg.png``, ``x.png.png``), and
    inputs that still clash are numbered (``x.jpg-2.png``), so every photo gets its own
    result. A file that cannot be read is skipped with a message and counted; an existing
    result is kept unless ``overwrite``.

    Args:
        model: As for :func:`colorize`.
        inputs: A folder (searched recursively), a file, or a list of both.
        out_dir: Output folder (created).
        overwrite: Replace results that already exist.
        progress: Show a progress bar.
        **options: Passed to :func:`colorize` (render_size, temperature, bins).

    Returns:
        A :class:`ColorizeReport`.

    Raises:
        FileNotFoundError: an input does not exist.
        ValueError: no photos among the inputs, ``out_dir`` is a file or an input folder,
            or a result would replace an input.
        NonFiniteOutput: the model's output is not finite (nothing more is written).
    """
    from tqdm.auto import tqdm

    check_options(options.get("render_size", 256), options.get("temperature"))
    check_colorizer(model)
    temperature_for(model, options.get("temperature"))
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"The output {out_dir} is a file; give a folder for the results.")
    ignored: list[pathlib.Path] = []
    files = _input_files(inputs, out_dir, ignored)
    if ignored:
        kinds = sorted({p.suffix.lower() or "no suffix" for p in ignored})
        print(f"left out {len(ignored)} file(s) that are not photos colorize reads "
              f"({', '.join(kinds[:6])}{', ...' if len(kinds) > 6 else ''})", file=sys.stderr)
    if not files:
        raise ValueError(f"No photos ({', '.join(PILLOW_SUFFIXES)}) found in "
                         f"{_describe_inputs(inputs)}.")
    outputs = _output_names([name for _, name in files])
    targets = [out_dir / name for name in outputs]
    sources = {file_identity(path) for path, _ in files}
    for target in targets:  # a result that exists may be an input under another spelling
        if os.path.lexists(target) and file_identity(target) in sources:
            raise ValueError(f"The result {printable(target)} would replace an input photo; "
                             "write the results into another folder (-o).")
    mark_output_folder(out_dir, "colorize results")
    report = ColorizeReport()
    for (path, _), target in tqdm(list(zip(files, targets)), desc="colorize", unit="photo",
                                  disable=True if not progress else None):
        if target.exists() and not overwrite:
            report.existing.append(str(target))
            continue
        try:
            result = colorize(model, read_image(path), **options)
        except ValueError as error:
            reason = str(error).removeprefix(f"{path.name}: ")  # the path is printed already
            report.skipped.append((str(path), reason))
            print(f"skipped {printable(path)}: {printable(reason)}", file=sys.stderr)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as partial:  # never a half-written result under its name
            Image.fromarray(result).save(partial, format="PNG")
        report.written.append(str(target))
    return report


# === Internals ================================================================================


def _output_names(names: Sequence[pathlib.Path]) -> list[pathlib.Path]:
    """A distinct ``.png`` name per input: ``x.png``; clashing ones keep their suffix
    (``x.jpg.png``); any still clashing are numbered (``x.jpg-2.png``). Names that differ
    only in case clash too (they are one file on macOS and Windows)."""
    def key(name: pathlib.Path) -> str:
        return str(name).lower()

    plain = [name.with_suffix(".png") for name in names]
    counts: dict[str, int] = {}
    for name in plain:
        counts[key(name)] = counts.get(key(name), 0) + 1
    wanted = [n.with_name(f"{o.name}.png") if counts[key(n)] > 1 else n
              for n, o in zip(plain, names)]
    taken = {key(n) for n in plain + wanted}
    seen: set[str] = set()
    result = []
    for name in wanted:
        candidate, number = name, 1
        while key(candidate) in seen or (number > 1 and key(candidate) in taken):
            number += 1
            candidate = name.with_name(f"{name.stem}-{number}.png")
        seen.add(key(candidate))
        result.append(candidate)
    return result


def _input_files(inputs: Any, out_dir: pathlib.Path,
                 ignored: list | None = None) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """(file, output name without suffix) pairs; a folder's files keep their relative path.

    ``out_dir`` (and any folder marked as colorlab's output) is left out of input folders;
    an input folder that is ``out_dir`` itself is refused. A file named twice (or reached
    through two inputs) is colorized once. Regular files of other kinds in the folders are
    appended to ``ignored``."""
    items: Iterable = [inputs] if isinstance(inputs, (str, os.PathLike)) else inputs
    files, seen = [], set()
    for path, name in _each_input(items, out_dir, ignored):
        identity = file_identity(path)
        if identity not in seen:
            seen.add(identity)
            files.append((path, name))
    return files


def _each_input(items: Iterable, out_dir: pathlib.Path, ignored: list | None) -> Iterable:
    for item in items:
        path = pathlib.Path(item)
        if path.is_dir():
            if same_file(path, out_dir):
                raise ValueError(
                    f"The output folder {out_dir} is an input folder: results would mix with "
                    f"the photos and be read back next time. Write them elsewhere, e.g. "
                    f"-o {path / 'colorized'}."
                )
            for f in list_images(path, suffixes=None, exclude=[out_dir]):  # one walk
                if f.suffix.lower() in PILLOW_SUFFIXES:
                    yield f, f.relative_to(path)
                elif ignored is not None:
                    ignored.append(f)
        elif path.exists() or path.is_symlink():
            yield check_regular_file(path, "photo"), pathlib.Path(path.name)
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")


def _describe_inputs(inputs: Any) -> str:
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    return ", ".join(str(item) for item in items) or "the inputs (none given)"

