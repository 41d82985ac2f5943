"""The authors' released models by name: :func:`load`.

The presets themselves live in their methods' homes (``Method.presets``):
``zhang_eccv16`` (:data:`colorlab.models.zhang.ECCV16_RELEASE`) and ``zhang_siggraph17``
(:data:`colorlab.models.siggraph17.SIGGRAPH17_RELEASE`).
"""

from __future__ import annotations

import os

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab import models
from colorlab.pretrained.presets import Preset

__all__ = ["load", "preset", "preset_names"]


def preset_names() -> list[str]:
    """The released models' names: ``["zhang_eccv16", "zhang_siggraph17"]``."""
    return list(models.presets())


def preset(name: str) -> Preset:
    """The :class:`Preset` of this name.

    Raises:
        ValueError: no released model has this name (the message lists those that do).
    """
    known = models.presets()
    if name not in known:
        raise ValueError(f"No released model is called {name!r}; the released models are "
                         f"{', '.join(known)}.")
    return known[name]


def load(name: str, weights: str | os.PathLike | None = None, *, logits: bool = False,
         temperature: float = 1.0, data_dir: str | os.PathLike | None = None,
         progress: bool = True) -> keras.Model:
    """A released model: normalised L (B, H, W, 1) -> ab / 110 (B, H, W, 2) at the input's size.

    It computes what the authors' PyTorch model computes (``colorizers.eccv16()`` /
    ``colorizers.siggraph17()``), with no PyTorch: eccv16's softmax over 313 bins, the
    mean of their centres and a bilinear x 4 upsampling; siggraph17's U-Net with no hints.

    Args:
        name: ``"zhang_eccv16"`` or ``"zhang_siggraph17"`` (:func:`preset_names`).
        weights: None: the official file, downloaded once into the data cache (checked
            against its published size and sha256, a partial download resumed); a path:
            that ``.pth`` file; ``"random"``: the same network with random weights.
        logits: eccv16 only: return the bin-logit network instead, (B, H/4, W/4, 313),
            which colorize, evaluate and the annealed mean decode at any temperature.
        temperature: eccv16 only: the annealed-mean temperature of the decoding (1: the
            plain mean, the official forward pass; 0.38: the paper's; 0: the mode).
        data_dir: The data cache (default ``$COLORLAB_DATA`` or the user cache).
        progress: Show download progress.

    Raises:
        ValueError: an unknown name, or a state dict of another model.
        colorlab.data.download.DownloadError: offline and not downloaded: the message names
            the URL, the size and where to put the file.
    """
    chosen = preset(name)
    model = chosen.load(weights, data_dir=data_dir, progress=progress)
    if models.method(chosen.method).output != "bins":
        if logits:
            raise ValueError(f"{name} regresses ab: it has no bin logits (logits=True is for "
                             "zhang_eccv16).")
        return model
    if logits:
        return model
    return models.zhang_inference_model(model, temperature=temperature,
                                        name=f"{name}_official")
