"""A study on disk: the photos, each method's colorization of them, and the vigilance fakes.

:func:`make_study` centre-crops every photo to the display size (256 x 256, the paper's),
colorizes its gray version with every method (trained run folders, the authors' released
models by name, any colorlab model, or a function), adds the baselines (``gray``: no
colour; ``random colour``: one ab drawn from the 313 in-gamut bins for the whole photo)
and a vigilance fake per photo (its own lightness with the colours of another photo), and
writes them as JPEG files with a ``study.json`` that names everything and the protocol.
The study's id is a checksum of all of it, so answers can never be mixed across studies.

::

    study/study.json
    study/images/<photo>/real.jpg, <method>.jpg, vigilance.jpg
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import re
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np
from PIL import Image

from colorlab import color, models
from colorlab.colorize import colorize, gray_rgb, with_ab
from colorlab.data.photos import mark_output_folder
from colorlab.evaluate import load_photos
from colorlab.files import atomic_path, write_text_atomic
from colorlab.quantize import ColorBins
from colorlab.turing.protocol import (
    DISPLAY_SIZE,
    EXPOSURE_MS,
    FEEDBACK_MS,
    PRACTICE,
    TEST,
    VIGILANCE,
    VIGILANCE_METHOD,
    plan_session,
    rng_for,
)

__all__ = ["BASELINES", "FORMAT", "Study", "load_study", "make_study"]

#: The marker of a study.json.
FORMAT = "colorlab-turing-study"
#: The baselines a study can include beside the methods.
BASELINES = ("gray", "random colour")
#: JPEG quality of the study's images (small pages; artefacts well below what 1 s shows).
JPEG_QUALITY = 90


class Study(dict):
    """A study's ``study.json``, with the folder it is in (``study.folder``)."""

    folder: pathlib.Path

    def image(self, photo: str, what: str) -> pathlib.Path:
        """The file of ``what`` ("real", a method, or "vigilance") for ``photo``."""
        return self.folder / "images" / photo / f"{_safe(what)}.jpg"


def make_study(photos: Sequence[str | os.PathLike], methods: Mapping[str, Any],
               out_dir: str | os.PathLike, *, baselines: Sequence[str] = BASELINES,
               size: int = DISPLAY_SIZE, seed: int = 0, design: str = "one",
               practice: int = PRACTICE, test: int = TEST, vigilance: float = VIGILANCE,
               exposure_ms: int = EXPOSURE_MS, render_size: int | None = None) -> Study:
    """Makes a study folder.

    Args:
        photos: Photo files (at least ``practice + test`` usable ones; unreadable and
            near-gray photos are skipped, as in evaluation).
        methods: {name: a model path or preset name ("zhang_eccv16"), a Keras model, or a
            function (H, W, 3) uint8 -> (H, W, 3) uint8}.
        out_dir: The study folder (created; it must not hold another study).
        baselines: Which of :data:`BASELINES` to add as methods.
        size: Side of the square images shown.
        seed: The study's seed (vigilance pairs, random colours, every session's plan).
        design: "one" method per session (the paper's) or "mixed".
        practice, test, vigilance: The session's trials (see
            :func:`~colorlab.turing.protocol.plan_session`).
        exposure_ms: How long each image is shown.
        render_size: The size models see (default: ``size``).

    Returns:
        The :class:`Study`.

    Raises:
        ValueError: too few usable photos, a name used twice, a folder holding another
            study, or an unknown baseline or design.
    """
    out = pathlib.Path(out_dir)
    if (out / "study.json").exists():
        raise ValueError(f"{out} already holds a study; choose another folder (a study's "
                         "images must not change once people have seen them).")
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown or design not in ("one", "mixed"):
        raise ValueError(f"baselines are {BASELINES} and design 'one' or 'mixed'; got "
                         f"{unknown or baselines}, {design!r}.")
    names = [*methods, *baselines]
    if len(set(map(_safe, names))) != len(names) or VIGILANCE_METHOD in names \
            or "real" in names:
        raise ValueError(f"Method names must be distinct (and not 'real' or "
                         f"{VIGILANCE_METHOD!r}); got {names}.")
    # The protocol is checked before any work (a study folder cannot be made twice).
    plan_session([f"photo{i}" for i in range(practice + test)], names, study="check",
                 participant="check", practice=practice, test=test, vigilance=vigilance)
    if not mark_output_folder(out, "a Turing-test study"):
        raise ValueError(f"{out} holds files of its own (photos?): a study needs a folder of "
                         "its own, e.g. -o study/.")
    crops, stems = load_photos(photos, size)
    stems = stems or [f"photo{i:03d}" for i in range(len(crops))]
    if len(crops) < practice + test:
        raise ValueError(f"{len(crops)} usable photos; a session of {practice} practice and "
                         f"{test} test trials needs {practice + test} different ones.")
    photo_names = _unique([_safe(s) for s in stems])
    colorizers = {name: _colorizer(value, render_size or size) for name, value in methods.items()}
    bins = ColorBins.zhang313().centers
    out.mkdir(parents=True, exist_ok=True)
    protocol = [size, seed, names, photo_names, design, practice, test, vigilance, exposure_ms]
    digest = hashlib.sha256(json.dumps(protocol).encode())  # and every image, below
    others = rng_for(seed, "vigilance").permutation(len(crops))
    for i, (name, crop) in enumerate(zip(photo_names, crops)):
        images = {"real": crop, **{m: f(crop) for m, f in colorizers.items()}}
        if "gray" in baselines:
            images["gray"] = gray_rgb(crop)
        if "random colour" in baselines:
            ab = bins[rng_for(seed, "random colour", name).integers(len(bins))]
            images["random colour"] = with_ab(crop, ab)
        donor = crops[others[i] if others[i] != i else others[(i + 1) % len(crops)]]
        images[VIGILANCE_METHOD] = _vigilance_fake(crop, donor)
        folder = out / "images" / name
        folder.mkdir(parents=True, exist_ok=True)
        for what, image in images.items():
            data = _jpeg(image)
            digest.update(data)
            with atomic_path(folder / f"{_safe(what)}.jpg") as tmp:
                tmp.write_bytes(data)
    study = Study(format=FORMAT, version=1, id=digest.hexdigest()[:12], size=size, seed=seed,
                  design=design, photos=photo_names, methods=names, practice=practice,
                  test=test, vigilance=vigilance, exposure_ms=exposure_ms,
                  feedback_ms=FEEDBACK_MS)
    write_text_atomic(out / "study.json", json.dumps(study, indent=1))
    study.folder = out
    return study


def load_study(path: str | os.PathLike) -> Study:
    """Reads a study folder (or its study.json), checking every image is there.

    Raises:
        ValueError: not a study, or an image missing (the message names it).
    """
    path = pathlib.Path(path)
    folder = path.parent if path.name == "study.json" else path
    try:
        study = Study(json.loads((folder / "study.json").read_text()))
    except (OSError, ValueError) as error:
        raise ValueError(f"{folder} is not a study folder (no readable study.json); make one "
                         "with colorlab turing make (colorlab.turing.make_study).") from None
    if study.get("format") != FORMAT:
        raise ValueError(f"{folder / 'study.json'} is not a colorlab Turing-test study.")
    study.folder = folder
    for photo in study["photos"]:
        for what in ("real", VIGILANCE_METHOD, *study["methods"]):
            if not study.image(photo, what).is_file():
                raise ValueError(f"The study {folder} lacks {study.image(photo, what)}: it is "
                                 "incomplete; make it again.")
    return study


def _colorizer(value: Any, render_size: int) -> Callable[[np.ndarray], np.ndarray]:
    """A function crop -> colorization, from a path, preset name, model or function."""
    if isinstance(value, (str, os.PathLike)):
        value = models.load_model(value, compile=False)
    if hasattr(value, "outputs"):
        return lambda crop, m=value: colorize(m, crop, render_size=render_size)
    if callable(value):
        return value
    raise ValueError(f"A method is a model path, a preset name, a Keras model or a function; "
                     f"got {type(value).__name__}.")


def _vigilance_fake(crop: np.ndarray, donor: np.ndarray) -> np.ndarray:
    """The photo's own lightness with another photo's colours: an easy fake."""
    donor_ab = color.rgb_to_lab(cv2.resize(donor, crop.shape[1::-1]))[..., 1:]
    lab = color.join_lab(color.rgb_to_lightness(crop), donor_ab)
    return np.round(color.lab_to_rgb(lab, validate=False) * 255).astype(np.uint8)


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image)[..., :3]).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _safe(name: str) -> str:
    """A file-name-safe form of a name: letters, digits, '-', '_' and '.' kept."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "photo"


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return result
