"""Figures of the ab plane, the bins and the Lab channels, used by the notebooks.

Every function draws on a matplotlib ``Axes`` it is given (or makes a figure) and returns what
it drew, so a notebook composes figures without repeating plotting code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colorlab.color import (
    AB_SCALE,
    denormalize_ab,
    denormalize_l,
    in_gamut,
    join_lab,
    lab_to_rgb,
    rgb_to_lab,
)
from colorlab.data.decode import load_photo
from colorlab.data.targets import target_pixels, unpack_sparse_target
from colorlab.quantize import ColorBins, center_spacing

__all__ = [
    "ab_plane",
    "plot_ab_plane",
    "plot_batch",
    "plot_bins",
    "plot_lab_channels",
    "plot_comparison",
    "plot_history",
    "plot_photo_grid",
    "save_comparison",
]

_EXTENT = 110.0


def ab_plane(
    lightness: float, resolution: int = 221, extent: float = _EXTENT, background: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Renders the ab plane at one lightness: each in-gamut (a, b) in its own colour.

    Args:
        lightness: L in [0, 100].
        resolution: Pixels along each axis.
        extent: The plane spans [-extent, extent] in a and b.
        background: Grey level of out-of-gamut points.

    Returns:
        (image (resolution, resolution, 3) float RGB with a along x and b along y, row 0 at
        b = +extent; mask (resolution, resolution) bool, True where in gamut).
    """
    axis = np.linspace(-extent, extent, resolution)
    a, b = np.meshgrid(axis, axis[::-1])
    lab = np.stack([np.full_like(a, lightness), a, b], axis=-1)
    mask = in_gamut(lab)
    image = lab_to_rgb(lab)
    image[~mask] = background
    return image, mask


def plot_ab_plane(ax: Any, lightness: float, extent: float = _EXTENT) -> Any:
    """Draws :func:`ab_plane` on ``ax`` with labelled a and b axes."""
    image, _ = ab_plane(lightness, extent=extent)
    ax.imshow(image, extent=(-extent, extent, -extent, extent))
    ax.set(xlabel="a", ylabel="b", title=f"sRGB gamut at L = {lightness:g}")
    return ax


def plot_bins(
    ax: Any,
    bins: ColorBins,
    values: Any = None,
    lightness: float = 60.0,
    cmap: str = "viridis",
    log: bool = False,
    label: str = "",
) -> Any:
    """Draws each bin as a square cell, in its own colour or coloured by a value per bin.

    Args:
        ax: Matplotlib axes.
        bins: The bins; the cell size is the spacing of their centers.
        values: Optional (Q,) values (a prior, weights); None shows each bin's colour at
            ``lightness``.
        lightness: L at which bin colours are shown.
        cmap: Colour map for ``values``.
        log: Show ``log10(values)``.
        label: Colour bar label for ``values``.

    Returns:
        The image artist.
    """
    centers = bins.centers.astype(np.float64)
    step = center_spacing(centers)
    lo = centers.min(0) - step / 2
    n = np.round((centers.max(0) - centers.min(0)) / step).astype(int) + 1
    ij = np.round((centers - centers.min(0)) / step).astype(int)
    extent = (lo[0], lo[0] + n[0] * step, lo[1], lo[1] + n[1] * step)
    if values is None:
        lab = np.concatenate([np.full((len(centers), 1), lightness), centers], axis=1)
        colours = lab_to_rgb(lab)
        grid = np.ones((n[1], n[0], 4))
        grid[..., 3] = 0.0
        grid[ij[:, 1], ij[:, 0], :3] = colours
        grid[ij[:, 1], ij[:, 0], 3] = 1.0
        artist = ax.imshow(grid, origin="lower", extent=extent, interpolation="nearest")
    else:
        values = np.asarray(values, dtype=np.float64)
        if log:
            values = np.log10(np.maximum(values, 1e-8))  # floor: empty bins
        grid = np.full((n[1], n[0]), np.nan)
        grid[ij[:, 1], ij[:, 0]] = values
        artist = ax.imshow(grid, origin="lower", extent=extent, cmap=cmap, interpolation="nearest")
        ax.figure.colorbar(artist, ax=ax, label=("log10 " if log else "") + label, shrink=0.8)
    ax.set(xlabel="a", ylabel="b", xlim=(-_EXTENT, _EXTENT), ylim=(-_EXTENT, _EXTENT))
    return artist


def plot_lab_channels(rgb: Any, axes: Any = None, chroma_lightness: float = 70.0) -> Any:
    """Shows a photo beside its L, a and b channels (a and b drawn in their own colours).

    Args:
        rgb: (H, W, 3) photo, uint8 or floats in [0, 1].
        axes: Four matplotlib axes, or None to make a figure.
        chroma_lightness: The constant L at which the a-only and b-only images are shown.

    Returns:
        The four axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(16, 4))
    lab = rgb_to_lab(rgb)
    zeros = np.zeros_like(lab[..., :1])
    flat_l = np.full_like(zeros, chroma_lightness)
    only_a = lab_to_rgb(join_lab(flat_l, np.concatenate([lab[..., 1:2], zeros], axis=-1)))
    only_b = lab_to_rgb(join_lab(flat_l, np.concatenate([zeros, lab[..., 2:3]], axis=-1)))
    panels = [
        (np.asarray(rgb), "photo (RGB)"),
        (lab[..., 0], "L: lightness, what the network sees"),
        (only_a, "a: green - red"),
        (only_b, "b: blue - yellow"),
    ]
    for ax, (image, title) in zip(axes, panels):
        if image.ndim == 2:
            ax.imshow(image, cmap="gray", vmin=0, vmax=100)  # L in [0, 100]
        else:
            ax.imshow(image)
        ax.set_title(title)
        ax.axis("off")
    return axes


def plot_photo_grid(photos: Any, titles: Any = None, columns: int = 4, size: float = 2.5) -> Any:
    """Shows photos in a grid: a list of (H, W, 3) arrays (uint8 or [0, 1]) or image files.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    photos = [load_photo(str(p)).numpy() if not hasattr(p, "shape") else p for p in photos]
    rows = max(1, -(-len(photos) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < len(photos):
            ax.imshow(photos[i])
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig


def plot_batch(x: Any, y: Any, bins: ColorBins | None = None, count: int = 4,
               target: str = "soft") -> Any:
    """A batch as the network sees it: input L, the target's colours, and the target's detail.

    Args:
        x: (B, H, W, 1) normalised L from :func:`colorlab.data.pipeline.make_dataset`.
        y: Its target: packed sparse soft (B, h, w, 2k), hard (B, h, w) or ab (B, H, W, 2).
        bins: The bins of soft and hard targets (default: Zhang et al.'s 313).
        count: Photos to show.
        target: "soft", "hard" or "ab" (ab normalised by ``AB_SCALE``).

    Returns:
        The matplotlib figure: per photo, L | the colours the target encodes | nearest bin.
    """
    import matplotlib.pyplot as plt

    bins = bins if bins is not None else ColorBins.zhang313()
    x = np.asarray(x)
    y = np.asarray(y)
    count = min(count, len(x))
    lightness = denormalize_l(x[:count])  # (count, H, W, 1)
    if target == "ab":
        ab = denormalize_ab(y[:count], AB_SCALE)
        nearest = bins.centers[bins.hard_encode(ab)]
    elif target == "hard":
        ab = nearest = bins.centers[y[:count]]
    else:
        indices, weights = unpack_sparse_target(y[:count])
        ab = bins.decode(bins.to_dense(np.asarray(indices), np.asarray(weights)), temperature=1.0)
        nearest = bins.centers[np.asarray(indices)[..., 0].astype(int)]
    h, w = ab.shape[1:3]
    small_l = target_pixels(lightness, lightness.shape[1] // h)  # L where the targets are
    target_rgb = lab_to_rgb(join_lab(small_l, ab.astype(np.float32)))
    nearest_rgb = lab_to_rgb(join_lab(small_l, nearest.astype(np.float32)))
    fig, axes = plt.subplots(count, 3, figsize=(7.5, 2.5 * count), squeeze=False)
    for i in range(count):
        panels = [
            (lightness[i, ..., 0], "gray", "input L"),
            (target_rgb[i], None, f"target colours ({h} x {w})"),
            (nearest_rgb[i], None, "nearest bin"),
        ]
        for ax, (image, cmap, title) in zip(axes[i], panels):
            ax.imshow(image, cmap=cmap, vmin=0 if cmap else None, vmax=100 if cmap else None,
                      interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_comparison(columns: dict, row_titles: Any = None, size: float = 2.5) -> Any:
    """A grid with one row per photo and one column per method: gray | models | truth.

    Args:
        columns: {column title: list of (H, W, 3) images (uint8 or [0, 1])}, all lists of the
            same length; photos in a row may differ in size between rows.
        row_titles: Optional label per row (e.g. file names).
        size: Inches per panel.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    titles = list(columns)
    rows = len(columns[titles[0]])
    if any(len(columns[t]) != rows for t in titles):
        raise ValueError("plot_comparison needs the same number of images in every column.")
    fig, axes = plt.subplots(rows, len(titles), figsize=(size * len(titles), size * rows),
                             squeeze=False)
    for r in range(rows):
        for c, title in enumerate(titles):
            ax = axes[r, c]
            ax.imshow(columns[title][r])
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(str(row_titles[r]), fontsize=8)
    fig.tight_layout()
    return fig


def plot_history(run: Any, axes: Any = None) -> Any:
    """Loss and metrics per epoch from a training run's ``history.csv``.

    A resumed run appends to the file, so an epoch that was interrupted and then finished
    appears twice; the last row of each epoch is plotted.

    Args:
        run: A run folder of :func:`colorlab.train.train`, or its ``history.csv``.
        axes: One matplotlib axis per quantity (loss first, then any others), or None to make
            them. Validation values (``val_...``) share their quantity's axis.

    Returns:
        The matplotlib figure.
    """
    import csv
    import pathlib

    import matplotlib.pyplot as plt

    path = pathlib.Path(run)
    if not path.exists():
        raise FileNotFoundError(f"No run folder or history file at {path}.")
    path = path / "history.csv" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"No history at {path}: has the run finished an epoch?")
    with open(path, newline="") as handle:
        by_epoch = {int(row["epoch"]): row for row in csv.DictReader(handle)}
    if not by_epoch:
        raise ValueError(f"{path} holds no epochs yet.")
    rows = [by_epoch[e] for e in sorted(by_epoch)]
    keys = [k for k in rows[0] if k not in ("epoch", "learning_rate") and not k.startswith("val_")]
    keys = sorted(keys, key=lambda k: k != "loss")  # loss first
    if axes is None:
        fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), squeeze=False)
        axes = axes[0]
    axes = list(np.atleast_1d(axes))
    if len(axes) < len(keys):
        raise ValueError(f"plot_history needs {len(keys)} axes (for {', '.join(keys)}), got "
                         f"{len(axes)}.")
    epochs = [e + 1 for e in sorted(by_epoch)]
    for ax, key in zip(axes, keys):
        for name, style in ((key, "o-"), (f"val_{key}", "s--")):
            if name in rows[0]:
                values = [float(r[name]) if r[name] else np.nan for r in rows]
                ax.plot(epochs, values, style, ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend(fontsize=8)
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def save_comparison(path: Any, columns: dict, row_titles: Any = None, dpi: int = 100) -> None:
    """Draws :func:`plot_comparison` into an image file (PNG) without showing it."""
    import matplotlib.pyplot as plt

    fig = plot_comparison(columns, row_titles)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
