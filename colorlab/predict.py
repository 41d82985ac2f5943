"""One photo through one model: the small copy it sees, what it outputs, the full-size result.

:func:`colorize` is :func:`predict`, the method's ``to_ab``, then :func:`render`; the
distribution tools (:mod:`colorlab.distribution`) decode the same prediction their own
way. The model sees a small copy (``render_size`` on the short side, like DeOldify's render
factor: larger for detail, smaller for bolder colour). Its ab is upsampled to the photo's
own size and joined with the photo's own full-resolution L, never the resized one, so the
result is exactly as sharp as the input: colour is low-frequency, lightness carries the
detail. Large photos are converted in strips of rows, so a 12-megapixel photo needs about
200 MB beyond the model.

Colour hints (Zhang et al., SIGGRAPH 2017, the user-guided mode): ``(row, col, colour)``
points in the photo's own pixels, each a small square of the colour's ab on the copy the
model sees, for a method that takes hints (``Method.with_hints``).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from typing import Any, Sequence

import cv2
from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np

from colorlab import color, models
from colorlab._arrays import check_rgb_range

__all__ = ["HINT_SIZE", "MAX_RENDER_SIZE", "MIN_RENDER_SIZE", "NonFiniteOutput", "Prediction",
           "as_rgb", "check_colorizer", "hint_maps", "predict", "render", "working_size"]

#: The smallest render size (the short side the model sees).
MIN_RENDER_SIZE = 32
#: The largest render size: beyond it a model's activations outgrow most machines' memory,
#: and colour (low-frequency) gains nothing.
MAX_RENDER_SIZE = 2048
#: The side, in pixels of the copy the model sees, of the square one hint paints (the paper
#: trained with squares of 1 to 9 pixels).
HINT_SIZE = 5
#: Rows converted at a time when joining L and ab (bounds the memory of large photos).
_STRIP_ROWS = 256
#: The long side the model sees is at most this many times render_size (a 12 x 4000 strip
#: must not become a 256 x 85,000 input).
_MAX_ASPECT = 4


class NonFiniteOutput(RuntimeError):
    """A model produced NaN or infinite output: an error, never a black image."""


@dataclasses.dataclass
class Prediction:
    """A model's output for one photo.

    Attributes:
        rgb: (H, W, 3) the photo, in its own dtype (uint8, uint16 or float32 in [0, 1]).
        alpha: (H, W) uint8 alpha, or None.
        output: The model's output for the small copy: (h, w, C) numpy, or a dict of them.
        method: The method that built the model (None for a foreign Keras model).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    output: Any
    method: Any


def predict(model: keras.Model, image: Any, *, render_size: int = 256,
            hints: Sequence | None = None, hint_size: int = HINT_SIZE) -> Prediction:
    """Runs ``model`` on a small copy of ``image`` (see :func:`colorlab.colorize.colorize`).

    Args:
        hints: ``[(row, col, colour), ...]`` in the photo's pixels; a colour is an RGB
            triple of 0-255 numbers or ``"#rrggbb"``, and only its chroma is used (the photo
            keeps its own lightness). Only for a method that takes hints.
        hint_size: Side of each hint's square on the copy the model sees.

    Raises:
        ValueError: see :func:`colorlab.colorize.colorize`; a hint off the photo or of no
            colour, or hints for a model that takes none.
        NonFiniteOutput: the output holds NaN or infinity.
    """
    check_colorizer(model)
    method = models.method_of(model)
    if hints and (method is None or method.with_hints is None):
        takers = [name for name in models.names() if models.method(name).with_hints]
        raise ValueError(f"This model takes no colour hints; {', '.join(takers)} does (e.g. "
                         "pretrained.load('zhang_siggraph17')).")
    rgb, alpha = as_rgb(image)
    height, width = rgb.shape[:2]
    small_h, small_w = working_size(model, height, width, render_size)
    small = cv2.resize(rgb, (small_w, small_h), interpolation=cv2.INTER_AREA)
    lightness = color.normalize_l(color.rgb_to_lightness(small)).astype(np.float32)[None]
    if hints:
        ab, mask = hint_maps(hints, (height, width), (small_h, small_w), hint_size)
        out = method.with_hints(model, lightness, ab[None], mask[None])
    else:
        out = model(lightness, training=False)
    if isinstance(out, dict):
        out = {key: keras.ops.convert_to_numpy(value)[0] for key, value in out.items()}
    else:
        out = np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)[0]
    first = out.get("ab") if isinstance(out, dict) else out
    if first is not None and np.ndim(first) != 3:
        raise ValueError(f"The model's output has shape {np.shape(first)[:-1]}+(C,) per photo; "
                         "a colorizer outputs an (H, W, C) map of ab or bin logits.")
    if not all(np.isfinite(v).all() for v in (out.values() if isinstance(out, dict) else [out])):
        raise NonFiniteOutput(
            "The model's output holds NaN or infinity: its weights are damaged (a diverged "
            "run?). Use an earlier checkpoint, or retrain with a lower learning rate."
        )
    return Prediction(rgb, alpha, out, method)


def render(prediction: Prediction, ab_small: Any) -> np.ndarray:
    """The photo's own L joined with ``ab_small`` (h, w, 2, Lab units) upsampled to its size.

    Returns:
        (H, W, 3) uint8 RGB, or (H, W, 4) with the input's alpha.
    """
    rgb = prediction.rgb
    height, width = rgb.shape[:2]
    ab = cv2.resize(np.asarray(ab_small, np.float32), (width, height),
                    interpolation=cv2.INTER_LINEAR)
    result = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, _STRIP_ROWS):
        rows = slice(top, top + _STRIP_ROWS)
        lab = color.join_lab(color.rgb_to_lightness(rgb[rows]), ab[rows])
        result[rows] = np.round(color.lab_to_rgb(lab, validate=False) * 255.0).astype(np.uint8)
    if prediction.alpha is not None:
        result = np.concatenate([result, prediction.alpha[..., None]], axis=-1)
    return result


def hint_maps(hints: Sequence, photo_size: tuple[int, int], small_size: tuple[int, int],
              hint_size: int = HINT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Rasterises hints for the copy the model sees.

    Args:
        hints: ``[(row, col, colour), ...]`` in the photo's pixels (see :func:`predict`).
        photo_size: (H, W) of the photo.
        small_size: (h, w) of the copy the model sees.
        hint_size: Side of each hint's square, in the copy's pixels.

    Returns:
        ``(ab, mask)``: (h, w, 2) the hints' ab / 110 (0 elsewhere) and (h, w, 1) float32,
        1 inside a hint.

    Example:
        >>> ab, mask = hint_maps([(10, 20, "#ff0000")], (100, 100), (50, 50), hint_size=3)
        >>> int(mask.sum()), bool(ab[5, 10, 0] > 0.5)   # 3 x 3 pixels, red: a > 55
        (9, True)
    """
    small_h, small_w = small_size
    ab = np.zeros((small_h, small_w, 2), np.float32)
    mask = np.zeros((small_h, small_w, 1), np.float32)
    for number, hint in enumerate(hints, start=1):
        try:
            row, col, colour = hint
        except (TypeError, ValueError):
            raise ValueError(f"Hint {number} is {hint!r}; a hint is (row, col, colour), e.g. "
                             "(120, 80, '#d04020').") from None
        if not all(isinstance(v, numbers.Real) for v in (row, col)) \
                or not (0 <= row < photo_size[0] and 0 <= col < photo_size[1]):
            raise ValueError(f"Hint {number} at ({row!r}, {col!r}) is not on the photo, whose "
                             f"rows are 0-{photo_size[0] - 1} and columns 0-{photo_size[1] - 1}.")
        r = int(row * small_h / photo_size[0])
        c = int(col * small_w / photo_size[1])
        half = hint_size // 2
        rows = slice(max(0, r - half), r - half + hint_size)
        cols = slice(max(0, c - half), c - half + hint_size)
        ab[rows, cols] = _hint_ab(colour, number) / color.AB_SCALE
        mask[rows, cols] = 1.0
    return ab, mask


def _hint_ab(colour: Any, number: int) -> np.ndarray:
    """The ab of a hint's colour: an RGB triple of 0-255 numbers or ``"#rrggbb"``."""
    rgb = None
    if isinstance(colour, str) and len(colour) == 7 and colour.startswith("#"):
        try:
            rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
        except ValueError:
            rgb = None
    elif not isinstance(colour, str):
        values = np.asarray(colour) if isinstance(colour, (Sequence, np.ndarray)) else None
        if values is not None and values.shape == (3,) and values.dtype.kind in "uif" \
                and np.all((values >= 0) & (values <= 255)):
            if values.dtype.kind == "f" and 0 < values.max() <= 1:
                raise ValueError(f"Hint {number}'s colour {colour!r} looks like 0-1 values; "
                                 "hint colours are 0-255 (multiply by 255) or '#rrggbb'.")
            rgb = values.tolist()
    if rgb is None:
        raise ValueError(f"Hint {number}'s colour is {colour!r}; give an RGB triple of 0-255 "
                         "numbers, e.g. (208, 64, 32), or '#d04020'.")
    lab = color.rgb_to_lab(np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255.0)
    return lab[0, 0, 1:]


def as_rgb(image: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) RGB in its own dtype (uint8, uint16 or float32 in [0, 1]), and alpha uint8."""
    if isinstance(image, (str, os.PathLike)):
        raise ValueError(f"{image!r} is a file name, not an image: read it first, "
                         "colorlab.colorize.read_image(path).")
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ValueError(
            f"colorize takes an (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA image, got shape "
            f"{image.shape}."
        )
    if image.dtype == np.uint8 or image.dtype == np.uint16:
        scale = 255.0 if image.dtype == np.uint8 else 65535.0
    elif image.dtype.kind == "f":
        image = image.astype(np.float32, copy=False)
        check_rgb_range(float(np.min(image)), float(np.max(image)), "colorize")
        image = np.clip(image, 0.0, 1.0)
        scale = 1.0
    else:
        raise ValueError(
            f"colorize takes uint8, uint16 or float images in [0, 1], got {image.dtype}."
        )
    alpha = None
    if image.shape[-1] == 4:
        alpha = np.round(image[..., 3].astype(np.float32) * (255.0 / scale)).astype(np.uint8)
        image = image[..., :3]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.ascontiguousarray(image), alpha


def check_colorizer(model: Any) -> None:
    """Refuses a model that cannot be a colorizer: one (B, H, W, 1) input of L."""
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[-1] != 1:
        shape = [tuple(i.shape) for i in inputs] if inputs else "none (not built)"
        raise ValueError(
            f"This is not a colorlab colorizer: a colorizer takes one (batch, H, W, 1) input "
            f"of normalised L, this model takes {shape}. Train one with colorlab train, or "
            "build one with colorlab.models."
        )


def working_size(model: keras.Model, height: int, width: int, render_size: int) -> tuple:
    """(height, width) the model sees: render_size on the short side, at most
    ``_MAX_ASPECT * render_size`` on the long side, both multiples of the model's stride."""
    fixed = model.inputs[0].shape[1:3]
    if fixed[0] is not None and fixed[1] is not None:
        return int(fixed[0]), int(fixed[1])
    scale = min(render_size / min(height, width),
                _MAX_ASPECT * render_size / max(height, width))
    multiple = models.side_multiple(model)
    smallest = -(-MIN_RENDER_SIZE // multiple) * multiple  # no side below 32 pixels

    def side(n: int) -> int:
        return max(smallest, int(round(n * scale / multiple)) * multiple)

    return side(height), side(width)
