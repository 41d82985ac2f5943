"""The tf.data input pipeline: a resolved source in, (normalised L, target) batches out.

:func:`make_dataset` first resolves its source and split into a
:class:`~colorlab.data.sources.PhotoSet` (:func:`~colorlab.data.sources.resolve`), then
builds batches from it. Everything after reading a file runs in the TensorFlow graph, on as
many cores as tf.data finds: decoding and EXIF rotation (:mod:`colorlab.data.decode`),
resizing, random crop and flip (training) or a centre crop (evaluation), then per batch
sRGB -> Lab and the training target (:mod:`colorlab.data.targets`).
"""

from __future__ import annotations

import os
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import numpy as np
import tensorflow as tf

from colorlab.color import AB_SCALE
from colorlab.data import records
from colorlab.data.decode import load_photo, resize_short_side
from colorlab.data.photos import GRAY_FRACTION
from colorlab.data.sources import PhotoSet, resolve
from colorlab.data.targets import Target, as_target, encode_batch
from colorlab.quantize import ColorBins
from colorlab.rebalance import empirical_prior

__all__ = ["dataset_prior", "make_dataset"]

#: Shuffle buffer after a training cache (decoded photos; 512 at 201 px is about 250 MB).
_CACHED_SHUFFLE = 512


def make_dataset(
    source: Any = "sample",
    *,
    split: str | None = None,
    target: str | Target | None = "soft",
    training: bool = True,
    image_size: int = 176,
    short_side: int | None = None,
    batch_size: int = 32,
    labels: str | dict | None = None,
    gray_fraction: float | None = GRAY_FRACTION,
    shuffle_buffer: int | None = None,
    cache: bool | str = False,
    repeat: bool = False,
    drop_remainder: bool | None = None,
    deterministic: bool = False,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tf.data.Dataset:
    """A tf.data.Dataset of (normalised L, target) batches.

    Args:
        source: A source of :mod:`colorlab.data.sources` (registry name, folder, file list,
            ScanReport, TFRecord shards, arrays) or a :class:`PhotoSet` already resolved.
        split: "train", "val", "test" or a union such as "train+val" (see
            :func:`~colorlab.data.sources.resolve`).
        target: A :class:`~colorlab.data.targets.Target` or a kind's name ("soft", "hard",
            "ab", "ab+class"); None for batches of the RGB crops alone (for looking at
            photos, and the baseline of ``benchmarks/pipeline.py``). A method's own target
            is ``colorlab.models.method(name).target``.
        training: Random crop and flip (and shuffling); False: centre crop, in file order.
        image_size: Side of the square crops, in pixels (176 in Zhang et al.'s training).
        short_side: Photos are first scaled so their shorter side is this (smaller photos
            are upscaled); default ``image_size * 8 // 7`` (256 for 224, 201 for 176).
        batch_size: Photos per batch.
        labels: For "ab+class" from photo files: "folder" or a {path: class} dict.
        gray_fraction: The near-gray filter of :func:`colorlab.data.scan_images` (None: off).
        shuffle_buffer: A shuffle buffer of decoded photos (training), on top of the file
            order shuffled every epoch; with ``cache`` it defaults to all photos (at most
            512), since a cache replays its first epoch's order.
        cache: Cache decoded, scaled photos in memory (True) or in a file (its path), before
            the random crop, so later epochs skip decoding.
        repeat: Repeat forever (for ``fit(steps_per_epoch=...)``).
        drop_remainder: Drop a last, smaller batch; default: True when training.
        deterministic: Same batches, in the same order, on every run with the same seed.
        seed: Seed of shuffling and augmentation (default 0 when deterministic).
        data_dir: Where registry data sets are cached (see :func:`colorlab.data.data_home`).

    Returns:
        A dataset of ``(L, y)``; ``L`` is (B, image_size, image_size, 1). It carries
        ``.photo_set`` (the resolved :class:`PhotoSet`), ``.scan_report`` (usable and
        skipped files, when built from files), ``.class_names`` and ``.num_photos``.

    Raises:
        ValueError: an unknown target, source or split, no usable photos, or labels missing
            for "ab+class".
    """
    target = None if target is None else as_target(target)
    image_size = int(image_size)
    short_side = int(short_side or image_size * 8 // 7)
    if short_side < image_size:
        raise ValueError(f"short_side ({short_side}) must be at least image_size ({image_size}).")
    if deterministic and seed is None:
        seed = 0
    drop_remainder = training if drop_remainder is None else drop_remainder
    ordered = bool(deterministic or not training)  # evaluation keeps the file order

    photo_set = resolve(source, split, labels=labels, gray_fraction=gray_fraction,
                        data_dir=data_dir)
    if (target is not None and target.kind == "ab+class" and photo_set.report is not None
            and photo_set.class_names is None and labels is None):
        raise ValueError('target "ab+class" needs labels="folder" or a {path: class} dict.')
    count = photo_set.count
    if drop_remainder and not repeat and count and count < batch_size:  # (0: an error below)
        raise ValueError(
            f"{photo_set.description} has {count} usable photos, fewer than one batch of "
            f"{batch_size}, and drop_remainder drops that batch (the default when training): "
            "pass training=False for evaluation, or a smaller batch_size."
        )
    photos = _photos(photo_set, short_side, training, ordered, seed)
    if cache:
        photos = photos.cache("" if cache is True else os.fspath(cache))
        if training and not shuffle_buffer:
            # The cache replays its first epoch's order: shuffle again after it, or every
            # epoch would see the photos in one order.
            shuffle_buffer = min(count or _CACHED_SHUFFLE, _CACHED_SHUFFLE)
    if training and shuffle_buffer:
        photos = photos.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        photos = photos.repeat()

    seeds = tf.data.Dataset.random(seed=seed).batch(2)  # one stateless seed pair per photo
    crops = tf.data.Dataset.zip(photos, seeds).map(
        lambda photo, pair: (_crop(photo[0], image_size, training, pair), photo[1]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=ordered,
    )
    batches = crops.batch(batch_size, drop_remainder=drop_remainder)

    if target is None:
        return _finish(batches.map(lambda rgb, label: rgb), ordered, photo_set)

    def to_example(rgb, label):
        x, y = encode_batch(rgb, target)
        return (x, {"ab": y, "class": label}) if target.kind == "ab+class" else (x, y)

    dataset = batches.map(to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
    return _finish(dataset, ordered, photo_set)


def dataset_prior(
    source: Any = "sample",
    bins: ColorBins | None = None,
    *,
    split: str | None = None,
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
        bins: The :class:`~colorlab.quantize.ColorBins` (default: the 313 of Zhang et al.).
        split: A split of the source (None: every photo).
        sigma: Gaussian smoothing in ab units.
        image_size: Crop side in pixels.
        batch_size: Photos per batch.
        progress: Show a progress bar.
        data_dir: Cache folder of registry data sets.

    Returns:
        (Q,) float64 summing to 1.
    """
    bins = bins if bins is not None else ColorBins.zhang313()
    dataset = make_dataset(
        source, split=split, training=False, image_size=image_size, target="ab",
        batch_size=batch_size, data_dir=data_dir,
    )
    ab = dataset.map(lambda x, y: y * AB_SCALE)
    total = None
    if dataset.num_photos is not None:
        total = -(-dataset.num_photos // batch_size)
    return empirical_prior(ab, bins, sigma=sigma, progress=progress, total=total)


def _photos(photo_set: PhotoSet, short_side: int, training: bool, ordered: bool,
            seed: int | None) -> tf.data.Dataset:
    """(photo (H, W, 3) float32 scaled to ``short_side``, label) pairs of a PhotoSet."""
    if photo_set.records is not None:
        return records.read_tfrecords(photo_set.records, short_side=short_side)
    if photo_set.arrays is not None:
        count = len(photo_set.arrays)
        photos = tf.data.Dataset.from_tensor_slices((photo_set.arrays, photo_set.labels))
        if training:
            photos = photos.shuffle(count, seed=seed, reshuffle_each_iteration=True)
        return photos.map(
            lambda image, label: (
                resize_short_side(tf.image.convert_image_dtype(image, tf.float32), short_side),
                label,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=ordered,
        )
    infos = photo_set.report.usable
    if not infos:
        raise ValueError(f"No usable photos in {photo_set.description}: "
                         f"{photo_set.report.summary()}.")
    files = tf.data.Dataset.from_tensor_slices(
        ([info.path for info in infos], [info.orientation for info in infos],
         [int(label) for label in photo_set.labels])
    )
    if training:
        files = files.shuffle(len(infos), seed=seed, reshuffle_each_iteration=True)
    photos = files.map(
        lambda path, orientation, label: (load_photo(path, orientation, short_side), label),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=ordered,
    )
    # A file Pillow accepted but TensorFlow cannot decode is logged and skipped.
    return photos.ignore_errors(log_warning=True)


def _crop(image: tf.Tensor, size: int, training: bool, seed: tf.Tensor) -> tf.Tensor:
    if training:
        image = tf.image.stateless_random_crop(image, [size, size, 3], seed=seed)
        return tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    shape = tf.shape(image)
    top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
    crop = image[top : top + size, left : left + size, :]
    # A static shape: models whose layers need known sizes (UpSampling2D) see one.
    return tf.ensure_shape(crop, [size, size, 3])


def _finish(dataset: tf.data.Dataset, ordered: bool, photo_set: PhotoSet) -> tf.data.Dataset:
    """Prefetch, determinism option, and the attributes make_dataset promises."""
    options = tf.data.Options()
    options.deterministic = ordered
    dataset = dataset.prefetch(tf.data.AUTOTUNE).with_options(options)
    dataset.photo_set = photo_set
    dataset.scan_report = photo_set.report
    dataset.class_names = photo_set.class_names
    dataset.num_photos = photo_set.count
    return dataset
