"""The network of Zhang, Isola & Efros, *Colorful Image Colorization* (ECCV 2016).

Eight blocks of 3 x 3 convolutions, no pooling: resolution falls by strided convolutions in
blocks 1-3 and comes back once by a transposed convolution in block 8, so the logits over the
ab bins are at 1/4 of the input size. Blocks 5 and 6 use dilation 2 (a wider view at the same
resolution, instead of pooling it away). Layer names follow the authors' released Caffe
model (``conv1_1`` ... ``conv8_3``), except the last 1 x 1 convolution (Caffe's
``conv8_313``), named ``logits`` in every variant.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras
import numpy as np

from colorlab import color
from colorlab.models._base import (
    BuiltModel,
    check_input_shape,
    check_rate,
    check_width,
    lightness_input,
    Method,
    ab_from_regression,
    register,
    scaled,
)
from colorlab.models.layers import AnnealedMeanDecode
from colorlab.pretrained.convert import copy_state_dict
from colorlab.pretrained.presets import Preset
from colorlab.quantize import ColorBins

__all__ = ["ECCV16_RELEASE", "ab_from_bins", "model_bins", "release_from_state_dict",
           "zhang_eccv16", "zhang_inference_model"]


def zhang_eccv16(
    num_bins: int | ColorBins | dict = 313,
    width: float = 1.0,
    middle_dilations: Sequence[int] = (1, 2, 2, 1),
    output_stride: int = 4,
    dropout: float = 0.0,
    input_shape: Sequence[int | None] | None = None,
    head: str = "bins",
    release: bool = False,
    name: str = "zhang_eccv16",
) -> BuiltModel:
    """Zhang et al. (ECCV 2016): normalised L in, logits over the ab bins out.

    The released model: blocks [64, 64 s2], [128, 128 s2], [256 x 2, 256 s2], [512 x 3],
    [512 x 3, dilation 2] x 2, [512 x 3], [transposed 4 x 4 s2 to 256, 256, 256], ReLU
    after every convolution, batch normalisation after the last ReLU of blocks 1-7, and a
    1 x 1 convolution to Q logits. At width 1 and Q = 313: 32,235,385 trainable weights.

    Args:
        num_bins: Q, or the :class:`ColorBins` the targets use (313; 484 for the 22 x 22 grid).
            Given as ColorBins (or its config), the bins are saved with the model and
            :func:`zhang_inference_model` decodes with them.
        width: Channel multiplier (1: the paper; 1/8 trains on a laptop CPU).
        middle_dilations: One entry per 512-channel block (blocks 4-7 in the paper), its
            dilation. Fewer entries make the shallower ablation, e.g. ``(1, 2)``.
        output_stride: 4 (the paper) or 8: block 8 keeps the 1/8 resolution instead of
            upsampling (the lower output resolution one report found helped).
        dropout: Rate of spatial dropout after each 512-channel block (0: none).
        input_shape: (H, W) or (H, W, 1); None for any size. Sides must be multiples of 8.
        head: "bins" (the paper's classifier) or "ab": the same network regressing ab with a
            linear 1 x 1 convolution to 2 channels, upsampled bilinearly to the input size.
            "ab" is the L2 baseline the paper compares against ("Ours (L2)" in Table 1).
        release: Lay it out as the authors' released PyTorch network, so their weights
            compute what they computed (:data:`ZHANG_ECCV16` presets): the stride-2
            convolutions pad one pixel on every side (Keras's "same" pads only bottom and
            right at stride 2, a one-pixel shift of the grid) and batch norms use eps 1e-5
            (Keras's default is 1e-3). Trained from scratch the two layouts learn alike.
        name: Model name.

    Returns:
        A model from (B, H, W, 1) ``(L - 50) / 100`` to (B, H/s, W/s, Q) logits, s =
        ``output_stride``. Train it with :class:`colorlab.losses.RebalancedCrossEntropy`;
        :func:`zhang_inference_model` turns it into L -> ab. With ``head="ab"``: to
        (B, H, W, 2) ab / 110, trained with :class:`colorlab.losses.ABRegression`.

    Example:
        >>> model = zhang_eccv16(width=0.125)
        >>> model(np.zeros((1, 64, 64, 1), "float32")).shape
        TensorShape([1, 16, 16, 313])
    """
    if isinstance(num_bins, dict):
        num_bins = ColorBins.from_config(num_bins)
    q = len(num_bins) if isinstance(num_bins, ColorBins) else int(num_bins)
    width = check_width(width)
    dropout = check_rate(dropout)
    middle_dilations = [int(d) for d in middle_dilations]
    if output_stride not in (4, 8):
        raise ValueError(f"output_stride must be 4 (the paper) or 8, got {output_stride}.")
    if q < 2:
        raise ValueError(f"num_bins must be at least 2, got {q}.")
    if head not in ("bins", "ab"):
        raise ValueError(f"head must be 'bins' (the paper) or 'ab' (L2 regression), got {head!r}.")
    arguments = dict(
        num_bins=num_bins.get_config() if isinstance(num_bins, ColorBins) else q,
        width=width, middle_dilations=middle_dilations, output_stride=output_stride,
        dropout=dropout, input_shape=check_input_shape(input_shape),
    )
    if head != "bins":  # saved only when it differs, so older .keras files load unchanged
        arguments["head"] = head
    if release:
        arguments["release"] = True

    # === Functional Model ===
    inputs = lightness_input(input_shape, 8)
    x = inputs
    blocks = [(64, 2, 1, 2), (128, 2, 1, 2), (256, 3, 1, 2)]
    blocks += [(512, 3, d, 1) for d in middle_dilations]
    for number, (filters, convs, dilation, stride) in enumerate(blocks, start=1):
        for i in range(1, convs + 1):
            strides = stride if i == convs else 1
            padding = "same"
            if release and strides == 2:  # PyTorch's padding=1: one pixel on every side
                x = keras.layers.ZeroPadding2D(1, name=f"conv{number}_{i}_pad")(x)
                padding = "valid"
            x = keras.layers.Conv2D(
                scaled(filters, width), 3, padding=padding, activation="relu",
                strides=strides, dilation_rate=dilation, name=f"conv{number}_{i}",
            )(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5 if release else 1e-3,
                                            name=f"conv{number}_{convs}norm")(x)
        if dropout and filters == 512:
            x = keras.layers.SpatialDropout2D(dropout, name=f"conv{number}_dropout")(x)
    last = len(blocks) + 1  # 8 in the paper
    if output_stride == 4:
        x = keras.layers.Conv2DTranspose(
            scaled(256, width), 4, strides=2, padding="same", activation="relu",
            name=f"conv{last}_1",
        )(x)
    else:
        x = keras.layers.Conv2D(
            scaled(256, width), 3, padding="same", activation="relu", name=f"conv{last}_1"
        )(x)
    for i in (2, 3):
        x = keras.layers.Conv2D(
            scaled(256, width), 3, padding="same", activation="relu", name=f"conv{last}_{i}"
        )(x)
    if head == "ab":
        ab = keras.layers.Conv2D(2, 1, dtype="float32", name="ab_small")(x)
        ab = keras.layers.UpSampling2D(output_stride, interpolation="bilinear",
                                       dtype="float32", name="ab")(ab)
        return BuiltModel(inputs, ab, builder="zhang_eccv16", arguments=arguments, name=name)
    logits = keras.layers.Conv2D(q, 1, dtype="float32", name="logits")(x)
    return BuiltModel(inputs, logits, builder="zhang_eccv16", arguments=arguments, name=name)


def model_bins(model: keras.Model) -> ColorBins:
    """The ab bins of a bin-logit model: those saved with it (a :func:`zhang_eccv16` built
    from ColorBins), else Zhang's 313 for a model with 313 outputs.

    Raises:
        ValueError: the model has another number of outputs and no saved bins.
    """
    saved = getattr(model, "arguments", {}).get("num_bins")
    if isinstance(saved, dict):
        return ColorBins.from_config(saved)
    q = model.outputs[0].shape[-1]
    if q == 313:
        return ColorBins.zhang313()
    raise ValueError(
        f"The model predicts {q} bins and does not say which; pass bins= (the ColorBins its "
        "targets were encoded with, e.g. ColorBins.grid() for 484)."
    )


def zhang_inference_model(
    model: keras.Model,
    bins: ColorBins | None = None,
    temperature: float = 0.38,
    ab_scale: float = color.AB_SCALE,
    name: str | None = None,
) -> keras.Model:
    """Wraps a bin-logit model into L -> ab at full resolution (annealed mean, Eq. 5).

    Args:
        model: A model from L to (B, h, w, Q) logits, such as :func:`zhang_eccv16`.
        bins: The bins of its logits. Default: those saved with a :func:`zhang_eccv16` model
            built from ColorBins, else Zhang's 313 for a 313-bin model.
        temperature: Annealed-mean T (0.38 in the paper).
        ab_scale: Output is ab / ab_scale.
        name: Model name (default: the model's name + "_decode").

    Returns:
        A functional model from (B, H, W, 1) normalised L to (B, H, W, 2) ab / ab_scale,
        sharing the trained model's layers (no copy of the weights).
    """
    q = model.outputs[0].shape[-1]
    if getattr(model, "arguments", {}).get("head") == "ab":
        raise ValueError("This model regresses ab (head='ab'); it needs no decoding: use it as "
                         "it is, e.g. with colorlab.colorize.")
    bins = bins if bins is not None else model_bins(model)
    if q != len(bins):
        raise ValueError(f"The model predicts {q} bins but {len(bins)} bins were given.")
    decoded = AnnealedMeanDecode(bins, temperature, ab_scale, name="annealed_mean")(
        [model.outputs[0], model.inputs[0]]
    )
    return keras.Model(model.inputs[0], decoded, name=name or f"{model.name}_decode")


def ab_from_bins(output: Any, model: Any = None, temperature: float = 0.38,
                  bins: ColorBins | None = None) -> np.ndarray:
    """``to_ab`` of the classifier: the annealed mean (Eq. 5) of its (h, w, Q) logits."""
    chosen = bins if bins is not None else model_bins(model)  # Zhang's 313 by default
    if output.shape[-1] != len(chosen):
        raise ValueError(
            f"The model outputs {output.shape[-1]} channels: neither ab (2) nor logits over "
            f"the {len(chosen)} bins given."
        )
    return chosen.decode(output, temperature, from_logits=True)


# === The authors' released weights ==============================================================

#: PyTorch's names (``colorizers/eccv16.py``) of the layers that have weights -> colorlab's.
_RELEASE_NAMES = {
    **{f"model{block}_{2 * i}": f"conv{block}_{i + 1}"
       for block, convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3), (6, 3), (7, 3))
       for i in range(convs)},
    **{f"model{block}_{2 * convs}": f"conv{block}_{convs}norm"
       for block, convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3), (6, 3), (7, 3))},
    "model8_0": "conv8_1", "model8_2": "conv8_2", "model8_4": "conv8_3", "model8_6": "logits",
}


def release_from_state_dict(state: dict[str, Any]) -> BuiltModel:
    """The released eccv16 weights as a :func:`zhang_eccv16` in the release layout.

    The official network ends in a softmax and ``model_out``, a 1 x 1 convolution whose
    weights are the bin centres / 110; here they become the model's :class:`ColorBins`
    (Zhang's 313 when they are those, as in the release), so the model outputs logits
    and every colorlab tool decodes them: the annealed mean at any temperature, with
    T = 1 (the plain mean) the official forward pass.

    Args:
        state: The official state dict (numpy arrays by PyTorch key, as
            :func:`colorlab.pretrained.torch_files.read_state_dict` gives), at width 1 or a
            narrower copy of the same layout.

    Raises:
        ValueError: not an eccv16 state dict: missing, left-over and mis-shaped keys named.
    """
    centres = state.get("model_out.weight")
    first = state.get("model1.0.weight")
    if centres is None or first is None or np.ndim(first) != 4:
        found = ", ".join(sorted({key.split(".")[0] for key in state})[:8])
        raise ValueError("This is not an eccv16 state dict: it has no model_out.weight or "
                         f"model1.0.weight (its modules: {found}).")
    centres = np.asarray(centres, np.float64).reshape(np.shape(centres)[0], -1).T
    centres = centres * color.AB_SCALE
    standard = ColorBins.zhang313()
    if centres.shape == standard.centers.shape and np.allclose(centres, standard.centers,
                                                               atol=1e-3):
        bins = standard
    else:
        bins = ColorBins(centres, name="eccv16 model_out")
    width = np.shape(first)[0] / 64
    model = zhang_eccv16(bins if bins is not standard else len(bins), width=width,
                         release=True)
    copy_state_dict(model, state, "eccv16", renames=_RELEASE_NAMES, ignore=("model_out.",))
    return model


ECCV16_RELEASE = Preset(
    name="zhang_eccv16", method="zhang_eccv16",
    paper="Zhang, Isola & Efros, Colorful Image Colorization, ECCV 2016",
    url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
    filename="colorization_release_v2-9b330a0b.pth", size=128_976_165,
    sha256="9b330a0bae53f4ded77b1e23defbf78beaa09c10ebc4c4999e8e4f4a160b93f9",
    licence="BSD-2-Clause, richzhang/colorization",
    convert=release_from_state_dict,
    network=functools.partial(zhang_eccv16, release=True),
)


def _as_built(arguments: dict) -> Method:
    """``head="ab"`` makes the paper's L2 baseline: the same network and optimiser,
    regressing ab, so the two differ only in the loss."""
    if arguments.get("head", "bins") != "ab":
        return ZHANG_ECCV16
    return dataclasses.replace(ZHANG_ECCV16, output="ab", target="ab", loss="mse",
                               losses=("mse", "l1", "huber"), options=(), variant=None,
                               to_ab=ab_from_regression, target_settings=None)


def _target_settings(arguments: dict) -> dict:
    """The soft targets at the network's output resolution (1/4, or 1/8 with
    ``output_stride=8``), in the bins it predicts when they are saved with it."""
    settings = {"downsample": int(arguments.get("output_stride", 4))}
    bins = arguments.get("num_bins")
    if isinstance(bins, dict):
        settings["bins"] = ColorBins.from_config(bins)
    elif isinstance(bins, ColorBins):
        settings["bins"] = bins
    return settings


#: Zhang et al. train with Adam, lr 3e-5, betas 0.9/0.99 and weight decay 1e-3 (their
#: solver). One honest difference: Caffe adds weight decay to the gradient before Adam scales
#: it (coupled L2), Keras subtracts it from the weights after (decoupled, as AdamW), so the
#: same 1e-3 regularises differently.
ZHANG_ECCV16 = register(Method(
    name="zhang_eccv16", builder=zhang_eccv16,
    paper="Zhang, Isola & Efros, Colorful Image Colorization, ECCV 2016",
    output="bins", target="soft", loss="rebalanced",
    optimizer=dict(optimizer="adam", learning_rate=3e-5, beta_1=0.9, beta_2=0.99,
                   weight_decay=1e-3),
    image_size=176, options=("prior", "rebalance_lambda"), multiple=8,
    variant=_as_built, to_ab=ab_from_bins, presets={"zhang_eccv16": ECCV16_RELEASE},
    target_settings=_target_settings,
))
