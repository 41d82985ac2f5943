"""Data in one import: the registry, fetching, photo files, the tf.data pipeline, TFRecords.

A facade over the modules that do the work, so a notebook needs only ``from colorlab import
data``:

- :mod:`colorlab.data.registry`: ``datasets.yaml``, :func:`fetch`, :func:`forget`, :func:`describe`.
- :mod:`colorlab.data.download`: checksummed, resumable downloads and safe extraction.
- :mod:`colorlab.data.photos`: :func:`list_images`, hash splits, :func:`scan_images` (bad files
  and the near-gray filter).
- :mod:`colorlab.data.pipeline`: :func:`make_dataset` and :func:`encode_batch`.
- :mod:`colorlab.data.records`: :func:`write_tfrecords`, :func:`read_tfrecords`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from colorlab.data.download import ChecksumError, DownloadError, UnsafeArchiveError, data_home
from colorlab.data.photos import (
    GRAY_CHROMA,
    GRAY_FRACTION,
    ScanReport,
    list_images,
    scan_images,
    split_of,
    split_paths,
)
from colorlab.data.pipeline import TARGETS, encode_batch, load_photo, make_dataset
from colorlab.quantize import ColorBins
from colorlab.data.records import read_tfrecords, write_tfrecords
from colorlab.data.registry import describe, fetch, forget, image_files, load_arrays, names

__all__ = [
    "GRAY_CHROMA",
    "GRAY_FRACTION",
    "TARGETS",
    "ChecksumError",
    "DownloadError",
    "ScanReport",
    "UnsafeArchiveError",
    "data_home",
    "dataset_prior",
    "describe",
    "encode_batch",
    "fetch",
    "forget",
    "image_files",
    "list_images",
    "load_arrays",
    "load_photo",
    "make_dataset",
    "names",
    "read_tfrecords",
    "scan_images",
    "split_of",
    "split_paths",
    "write_tfrecords",
]


def dataset_prior(
    source: Any = "sample",
    bins: ColorBins | None = None,
    *,
    sigma: float = 5.0,
    image_size: int = 176,
    batch_size: int = 32,
    progress: bool = True,
    data_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """The empirical ab prior of a data set (Zhang et al. 2016, Sec. 2.2), with a progress bar.

    Every usable photo counts once, as its centre crop (``make_dataset(training=False)``),
    through :func:`colorlab.rebalance.empirical_prior`.

    Args:
        source: Anything :func:`make_dataset` accepts.
        bins: The bins (default: the 313 of Zhang et al.).
        sigma: Gaussian smoothing in ab units.
        image_size: Crop side in pixels.
        batch_size: Photos per batch.
        progress: Show a progress bar.
        data_dir: Cache folder of registry data sets.

    Returns:
        (Q,) float64 summing to 1.
    """
    from colorlab.color import AB_SCALE
    from colorlab.rebalance import empirical_prior

    bins = bins if bins is not None else ColorBins.zhang313()
    dataset = make_dataset(
        source, training=False, image_size=image_size, target="ab", batch_size=batch_size,
        data_dir=data_dir,
    )
    ab = dataset.map(lambda x, y: y * AB_SCALE)
    total = None
    if dataset.num_photos is not None:
        total = -(-dataset.num_photos // batch_size)
    return empirical_prior(ab, bins, sigma=sigma, progress=progress, total=total)
