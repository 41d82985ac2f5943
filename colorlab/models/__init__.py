"""Keras model builders for the colorization methods colorlab compares.

Every builder returns a functional model (:class:`BuiltModel`) from normalised L,
``(L - 50) / 100`` of shape (B, H, W, 1), that

- takes a ``width`` channel multiplier: 1 is the paper's model for a GPU, 1/8 a tiny one that
  trains on a laptop CPU and in CI;
- takes any input size (a multiple of the model's stride) unless ``input_shape`` fixes it;
- names its layers deterministically, and returns every builder argument from
  ``get_config()``, so ``model.save("m.keras")`` and
  ``keras.models.load_model("m.keras", safe_mode=True)`` round-trip.

===========================  ================================================  ============
builder                      paper or source                                   output
===========================  ================================================  ============
:func:`zhang_eccv16`         Zhang, Isola & Efros, ECCV 2016                   bin logits
:func:`zhang_siggraph17`     Zhang, Zhu, Isola et al., SIGGRAPH 2017 (hints)   ab
:func:`vgg16_colorizer`      VGG16 transfer encoder-decoder (student report)   ab
:func:`iizuka_two_stream`    Iizuka, Simo-Serra & Ishikawa, SIGGRAPH 2016      ab + class
:func:`resnet_colorizer`     ResNet encoder + slides' head (student reports)   ab
:func:`unet_generator`       Nazeri, Ng & Ebrahimi 2018 (pix2pix U-Net)        ab
:func:`patch_discriminator`  Nazeri et al. 2018 (PatchGAN)                     patch logits
===========================  ================================================  ============

"ab" outputs are ab / 110 in [-1, 1], the ``"ab"`` target of :func:`colorlab.data.make_dataset`.
Each builder's module also defines its :class:`Method` (the target it trains on, its loss
and optimiser defaults, the options it accepts, how its output becomes ab, its input-size
multiple), registered in :data:`METHODS`: training, colorize, evaluate and the command line
read it from there. :func:`build` makes any model by name; :func:`summary_table` compares
them. A new model is one module with a builder and its Method, plus one :func:`register`.

Both of Zhang et al.'s networks also come with the authors' released weights
(``Method.presets``): :func:`load_model` takes ``"zhang_eccv16"`` or ``"zhang_siggraph17"``
wherever it takes a path (downloaded once, see :mod:`colorlab.pretrained`).
"""

from __future__ import annotations

import os
import pathlib
import zipfile
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab import losses  # noqa: F401  (registers the losses: compiled .keras files load)
from colorlab.files import check_regular_file
from colorlab.models._base import (
    LOSSES,
    MAX_WIDTH,
    METHODS,
    OUTPUTS,
    BuiltModel,
    Method,
    ab_from_regression,
    check_width,
    lightness_input,
    method,
    method_of,
    names,
    presets,
    register,
    scaled,
    side_multiple,
)
from colorlab.models.gan import GAN_PRESETS, patch_discriminator, unet_generator
from colorlab.models.iizuka import GLOBAL_SIZE, JOINT_LOSS_ALPHA, iizuka_two_stream, joint_loss
from colorlab.models.layers import AnnealedMeanDecode, GlobalFusion, GrayToRGB, ResizeLike
from colorlab.models.resnet import resnet_colorizer
from colorlab.models.summary import (
    count_flops,
    count_params,
    receptive_field,
    summary_rows,
    summary_table,
)
from colorlab.models.siggraph17 import with_hints, zhang_siggraph17
from colorlab.models.vgg import set_encoder_trainable, vgg16_colorizer
from colorlab.models.zhang import ab_from_bins, model_bins, zhang_eccv16, zhang_inference_model

__all__ = [
    "AnnealedMeanDecode",
    "BuiltModel",
    "LOSSES",
    "MAX_WIDTH",
    "METHODS",
    "Method",
    "OUTPUTS",
    "GAN_PRESETS",
    "GLOBAL_SIZE",
    "GlobalFusion",
    "GrayToRGB",
    "JOINT_LOSS_ALPHA",
    "ResizeLike",
    "ab_from_bins",
    "ab_from_regression",
    "build",
    "check_width",
    "count_flops",
    "count_params",
    "iizuka_two_stream",
    "joint_loss",
    "lightness_input",
    "load_model",
    "method",
    "method_of",
    "model_bins",
    "names",
    "patch_discriminator",
    "presets",
    "receptive_field",
    "register",
    "resnet_colorizer",
    "scaled",
    "set_encoder_trainable",
    "side_multiple",
    "summary_rows",
    "summary_table",
    "unet_generator",
    "vgg16_colorizer",
    "with_hints",
    "zhang_eccv16",
    "zhang_inference_model",
    "zhang_siggraph17",
]


def load_model(path: str | os.PathLike, compile: bool = True) -> keras.Model:
    """Loads a colorlab ``.keras`` file (``safe_mode=True``), a run folder's ``model.keras``,
    or the authors' released weights by name.

    Args:
        path: A ``.keras`` file, a run folder of :func:`colorlab.train.train` (the newer
            of its ``model.keras`` and ``checkpoints/last.keras``: a resumed run that was
            interrupted again has a checkpoint newer than its model), or a preset name
            (:func:`presets`: ``"zhang_eccv16"``, ``"zhang_siggraph17"``; downloaded and
            converted once, see :class:`colorlab.pretrained.presets.Preset`). A file or
            folder of that name wins over the preset.
        compile: Restore the loss and optimiser too (False for inference only).

    Raises:
        FileNotFoundError: No model file at ``path``.
        colorlab.data.download.DownloadError: a preset's file is not downloaded and this
            machine is offline (the message says where to put it).
        ValueError: Not a readable ``.keras`` file (corrupt, truncated, or refused by
            ``safe_mode``: a file that would run arbitrary code is never loaded).
    """
    known = presets()
    if str(path) in known and not os.path.lexists(path):
        return known[str(path)].load()
    path = pathlib.Path(path)
    if path.is_dir():
        candidates = [path / "model.keras", path / "checkpoints" / "last.keras"]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise FileNotFoundError(f"{path} holds no model.keras or checkpoints/last.keras.")
        path = max(found, key=lambda c: c.stat().st_mtime_ns)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"No model file at {path}: give a .keras file, a run folder, or "
                                f"the name of released weights ({', '.join(known)}).")
    check_regular_file(path, "model file")
    if path.suffix in (".pth", ".pt"):
        raise ValueError(f"{path.name} holds PyTorch weights, not a Keras model: convert it "
                         "in Python with colorlab.pretrained.load(NAME, weights=PATH) (NAME: "
                         f"{', '.join(known)}), or put the authors' file where the offline "
                         "error says and give the NAME instead.")
    if path.suffix != ".keras":
        raise ValueError(f"{path.name} is not a .keras file; colorlab saves models as .keras.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable .keras file (corrupt or truncated); "
                         "train or download it again.")
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds; one clear message
        detail = " ".join(str(error).split())
        detail = detail if len(detail) <= 240 else detail[:237] + "..."
        raise ValueError(
            f"{path} could not be loaded as a model ({type(error).__name__}: {detail}). "
            "colorlab loads with safe_mode=True: files that would run code are refused."
        ) from None


def build(name: str, **kwargs: Any) -> BuiltModel:
    """Builds a registered method's model by name: ``build("zhang_eccv16", width=0.125)``.

    Args:
        name: One of :func:`names`.
        **kwargs: The builder's arguments (see each builder).
    """
    return method(name).builder(**kwargs)
