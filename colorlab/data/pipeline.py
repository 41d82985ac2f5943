"""The tf.data input pipeline: photo files in, (normalised L, target) batches out.

Everything after reading a file runs in the TensorFlow graph, on as many cores as tf.data
finds: decoding (JPEG, PNG, BMP, GIF; grayscale, RGBA, palette and 16-bit files become RGB),
EXIF rotation, resizing, random crop and flip (training) or a centre crop (evaluation), then
per batch sRGB -> Lab and the training target. The targets a model can ask for:

===========  =====================================================================  ========
target       per photo                                                              paper
===========  =====================================================================  ========
"soft"       soft-encoded bins, packed sparse (h, w, 2k) for RebalancedCrossEntropy  Zhang
             (or dense (h, w, Q) with ``sparse=False``)
"hard"       index of the nearest bin, (h, w) int32
"ab"         ab / ``ab_scale``, (H, W, 2), for regression                           VGG, GAN
"ab+label"   {"ab": ab, "class": class index}: the joint loss of the two-stream     Iizuka
             model (the names of its two outputs)
===========  =====================================================================  ========

``h, w`` are ``H, W`` divided by ``target_downsample`` (4 in the paper: the network predicts
at a quarter of the input size), sampled every ``target_downsample`` pixels as the
authors' training net does.
"""

from __future__ import annotations

import functools
import os
import pathlib
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from colorlab import color
from colorlab.data.photos import GRAY_FRACTION, ScanReport, list_images, scan_images
from colorlab.losses import pack_sparse_target
from colorlab.quantize import ColorBins

__all__ = [
    "TARGETS",
    "decode_photo",
    "encode_batch",
    "load_photo",
    "make_dataset",
    "orient",
    "MAX_ASPECT",
    "resize_short_side",
    "target_pixels",
]

#: Target kinds :func:`make_dataset` and :func:`encode_batch` produce.
TARGETS = ("soft", "hard", "ab", "ab+label")


# === One photo, in the graph ==================================================================


def decode_photo(contents: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF bytes -> (H, W, 3) float32 RGB in [0, 1].

    Grayscale is repeated to three channels, alpha dropped, palettes expanded, 16-bit PNG
    scaled from 0-65535, and an animated GIF gives its first frame.
    """
    image = tf.io.decode_image(contents, channels=3, dtype=tf.float32, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def orient(image: tf.Tensor, orientation: Any) -> tf.Tensor:
    """Applies an EXIF orientation (1-8) so the photo stands upright.

    The same result as ``PIL.ImageOps.exif_transpose``, in the graph.

    Args:
        image: (H, W, C) tensor as stored in the file.
        orientation: Scalar int, the EXIF tag 0x0112 (1: already upright).
    """
    image = tf.convert_to_tensor(image)
    transpose = lambda: tf.transpose(image, [1, 0, 2])  # noqa: E731
    branches = [
        lambda: image,                                              # 1 upright
        lambda: tf.reverse(image, [1]),                             # 2 mirrored
        lambda: tf.reverse(image, [0, 1]),                          # 3 upside down
        lambda: tf.reverse(image, [0]),                             # 4 mirrored vertically
        transpose,                                                  # 5 transposed
        lambda: tf.image.rot90(image, k=3),                         # 6 turned 90 cw to stand
        lambda: tf.reverse(transpose(), [0, 1]),                    # 7 transversed
        lambda: tf.image.rot90(image, k=1),                         # 8 turned 90 ccw to stand
    ]
    index = tf.clip_by_value(tf.cast(orientation, tf.int32) - 1, 0, 7)
    return tf.switch_case(index, branches)


#: Photos longer than this many times their short side are centre-cropped to it before
#: scaling (a 16 x 200,000 strip would otherwise scale to 201 x 2,512,500 pixels: gigabytes).
MAX_ASPECT = 4


def resize_short_side(image: tf.Tensor, size: int) -> tf.Tensor:
    """Scales so the shorter side is ``size`` (down with antialiasing, or up).

    A photo more elongated than :data:`MAX_ASPECT` : 1 keeps only its centre
    ``MAX_ASPECT x short side`` first, which bounds the memory of any photo.
    """
    image = _cap_aspect(image)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.math.ceil(shape * scale - 1e-3), tf.int32)
    new = tf.maximum(new, size)
    resized = tf.image.resize(image, new, method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)


def _cap_aspect(image: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    longest = MAX_ASPECT * tf.minimum(height, width)

    def crop() -> tf.Tensor:
        new_h, new_w = tf.minimum(height, longest), tf.minimum(width, longest)
        top, left = (height - new_h) // 2, (width - new_w) // 2
        return image[top : top + new_h, left : left + new_w, :]

    # Only an elongated photo is sliced: the slice copies the whole image.
    return tf.cond(tf.maximum(height, width) > longest, crop, lambda: tf.identity(image))


def load_photo(
    path: tf.Tensor, orientation: Any = 1, short_side: int | None = None
) -> tf.Tensor:
    """Reads, decodes and orients one photo, then scales its shorter side to ``short_side``.

    Returns:
        (H, W, 3) float32 RGB in [0, 1].
    """
    image = orient(decode_photo(tf.io.read_file(path)), orientation)
    return image if short_side is None else resize_short_side(image, short_side)


def _crop(image: tf.Tensor, size: int, training: bool, seed: tf.Tensor) -> tf.Tensor:
    if training:
        image = tf.image.stateless_random_crop(image, [size, size, 3], seed=seed)
        return tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    shape = tf.shape(image)
    top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
    crop = image[top : top + size, left : left + size, :]
    # A static shape: models whose layers need known sizes (UpSampling2D) see one.
    return tf.ensure_shape(crop, [size, size, 3])


# === A batch, in the graph =====================================================================


def target_pixels(images: Any, downsample: int) -> Any:
    """The pixels bin targets are made at: every n-th pixel, the centre of each n x n block.

    Args:
        images: (B, H, W, C) numpy array or tensor.
        downsample: n (1: every pixel).

    Returns:
        (B, H // n, W // n, C), as the authors' training net subsamples its ab.
    """
    if downsample <= 1:
        return images
    offset = downsample // 2
    return images[:, offset::downsample, offset::downsample, :]


def encode_batch(
    rgb: tf.Tensor,
    target: str = "soft",
    *,
    bins: ColorBins | None = None,
    k: int = 10,
    sigma: float = 5.0,
    sparse: bool = True,
    target_downsample: int = 4,
    ab_scale: float = color.AB_SCALE,
) -> tuple[tf.Tensor, Any]:
    """RGB batch -> (network input, target): Lab in the graph, targets as :data:`TARGETS`.

    Args:
        rgb: (B, H, W, 3) float32 RGB in [0, 1] (or uint8).
        target: "soft", "hard" or "ab" ("ab+label" adds the label outside this function).
        bins: Bins for "soft" and "hard" (default: the 313 of Zhang et al.).
        k, sigma: Soft encoding: k nearest bins, Gaussian width in ab units.
        sparse: "soft" as packed (k indices, k weights) instead of dense (..., Q).
        target_downsample: Bin targets at 1/n of the input size (every n-th pixel);
            1 for full size. Regression targets stay full size.
        ab_scale: ab targets are ab / ab_scale (110: Zhang et al.; 128: the VGG16 report).

    Returns:
        ``(L, y)``: L is (B, H, W, 1) float32, ``(L - 50) / 100``; y as described above.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}.")
    if target in ("ab", "ab+label"):
        lab = _compiled_lab()(rgb)
        return color.normalize_l(lab[..., :1]), color.normalize_ab(lab[..., 1:], ab_scale)
    # Bin targets need ab only at every n-th pixel: L alone at full size costs a third.
    x, ab = _compiled_l_and_ab(target_downsample)(rgb)
    bins = bins if bins is not None else ColorBins.zhang313()
    if target == "hard":
        return x, bins.hard_encode(ab)
    if sparse:
        return x, pack_sparse_target(*bins.soft_encode(ab, k=k, sigma=sigma, sparse=True))
    return x, bins.soft_encode(ab, k=k, sigma=sigma)


# The colour conversions run as one XLA kernel each: fused, the dozen elementwise steps of
# sRGB -> Lab read and write the batch once instead of a dozen times (3.4x faster for the
# 176 px batches of make_dataset on a CPU). XLA compiles once per batch shape.


@functools.lru_cache(maxsize=None)
def _compiled_lab() -> Any:
    @tf.function(jit_compile=True, reduce_retracing=True)
    def lab(rgb):
        return color.rgb_to_lab(rgb, validate=False)

    return lab


@functools.lru_cache(maxsize=None)
def _compiled_l_and_ab(downsample: int) -> Any:
    @tf.function(jit_compile=True, reduce_retracing=True)
    def l_and_ab(rgb):
        x = color.normalize_l(color.rgb_to_lightness(rgb))
        return x, color.rgb_to_lab(target_pixels(rgb, downsample), validate=False)[..., 1:]

    return l_and_ab


# === Data sets =================================================================================


def make_dataset(
    source: Any = "sample",
    *,
    training: bool = True,
    image_size: int = 176,
    short_side: int | None = None,
    target: str = "soft",
    batch_size: int = 32,
    bins: ColorBins | None = None,
    k: int = 10,
    sigma: float = 5.0,
    sparse: bool = True,
    target_downsample: int = 4,
    ab_scale: float = color.AB_SCALE,
    labels: str | dict | None = None,
    split: str | None = None,
    gray_fraction: float | None = GRAY_FRACTION,
    shuffle_buffer: int | None = None,
    cache: bool | str = False,
    repeat: bool = False,
    drop_remainder: bool | None = None,
    deterministic: bool = False,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tf.data.Dataset:
    """A tf.data.Dataset of (normalised L, target) batches from photo files.

    Args:
        source: A registry name (``"sample"``, ``"imagenette160"``, ``"cifar10"``, ...;
            fetched if needed), a folder, a list of image files, a
            :class:`~colorlab.data.photos.ScanReport`, a TFRecord file, list or glob written by
            :func:`colorlab.data.records.write_tfrecords`, or photos as an (N, H, W, 3) uint8
            array or an (images, labels) pair (CIFAR-10 as Keras loads it).
        training: Random crop and flip (and shuffling); False: centre crop, in file order.
        image_size: Side of the square crops, in pixels (176 in Zhang et al.'s training).
        short_side: Photos are first scaled so their shorter side is this (smaller photos
            are upscaled); default ``image_size * 8 // 7`` (256 for 224, 201 for 176).
        target: One of :data:`TARGETS` (see the module docstring), or None for batches of
            the RGB crops alone (no Lab, no target: for looking at photos, and the baseline
            of ``benchmarks/pipeline.py``).
        batch_size: Photos per batch.
        bins, k, sigma, sparse, target_downsample, ab_scale: See :func:`encode_batch`.
        labels: For "ab+label": "folder" (the parent folder names, sorted, give the class
            indices) or a dict {path: class index}.
        split: "train", "val" or "test": the publisher's split for registry data sets that
            have one, otherwise the hash split of :func:`colorlab.data.photos.split_paths`.
        gray_fraction: The near-gray filter of :func:`colorlab.data.photos.scan_images` (None: off).
        shuffle_buffer: Shuffle buffer (training); default: all files (shuffled by name).
        cache: Cache decoded, scaled photos in memory (True) or in a file (its path), before
            the random crop, so later epochs skip decoding.
        repeat: Repeat forever (for ``fit(steps_per_epoch=...)``).
        drop_remainder: Drop a last, smaller batch; default: True when training.
        deterministic: Same batches, in the same order, on every run with the same seed.
        seed: Seed of shuffling and augmentation (default 0 when deterministic).
        data_dir: Where registry data sets are cached (see :func:`colorlab.data.download.data_home`).

    Returns:
        A dataset of ``(L, y)``; ``L`` is (B, image_size, image_size, 1). The dataset carries
        ``.scan_report`` (the :class:`ScanReport`: usable and skipped files) when built from
        files, and ``.class_names`` with ``labels``.

    Raises:
        ValueError: an unknown target, no usable photos, or labels missing for "ab+label".
    """
    from colorlab.data import records

    if target is not None and target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS} or None, got {target!r}.")
    image_size = int(image_size)
    short_side = int(short_side or image_size * 8 // 7)
    if short_side < image_size:
        raise ValueError(f"short_side ({short_side}) must be at least image_size ({image_size}).")
    if deterministic and seed is None:
        seed = 0
    drop_remainder = training if drop_remainder is None else drop_remainder
    ordered = bool(deterministic or not training)  # evaluation keeps the file order

    report = None
    class_names = None
    arrays = _array_source(source, split, data_dir)
    if (target == "ab+label" and labels is None and arrays is None
            and not records.is_record_source(source)):
        raise ValueError('target "ab+label" needs labels="folder" or a {path: class} dict.')
    if arrays is not None:
        images, label_ids, class_names = arrays
        count = len(images)
        photos = tf.data.Dataset.from_tensor_slices((images, label_ids))
        if training:
            photos = photos.shuffle(count, seed=seed, reshuffle_each_iteration=True)
        photos = photos.map(
            lambda image, label: (
                resize_short_side(tf.image.convert_image_dtype(image, tf.float32), short_side),
                label,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=ordered,
        )
    elif records.is_record_source(source):
        photos = records.read_tfrecords(source, short_side=short_side)
        count = None
    else:
        report = _scan(source, split, gray_fraction, data_dir)
        infos = report.usable
        if not infos:
            raise ValueError(f"No usable photos in {_describe(source)}: {report.summary()}.")
        paths = [info.path for info in infos]
        label_ids, class_names = _labels(paths, labels)
        files = tf.data.Dataset.from_tensor_slices(
            (paths, [info.orientation for info in infos], label_ids)
        )
        count = len(paths)
        if training:
            files = files.shuffle(count, seed=seed, reshuffle_each_iteration=True)
        photos = files.map(
            lambda path, orientation, label: (load_photo(path, orientation, short_side), label),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=ordered,
        )
        # A file Pillow accepted but TensorFlow cannot decode is logged and skipped.
        photos = photos.ignore_errors(log_warning=True)
    if cache:
        photos = photos.cache("" if cache is True else os.fspath(cache))
    if training and shuffle_buffer:
        photos = photos.shuffle(shuffle_buffer, seed=seed)
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
        return _finish(batches.map(lambda rgb, label: rgb), ordered, report, class_names, count)

    def to_example(rgb, label):
        x, y = encode_batch(
            rgb, target, bins=bins, k=k, sigma=sigma, sparse=sparse,
            target_downsample=target_downsample, ab_scale=ab_scale,
        )
        return (x, {"ab": y, "class": label}) if target == "ab+label" else (x, y)

    dataset = batches.map(to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
    return _finish(dataset, ordered, report, class_names, count)


def _describe(source: Any) -> str:
    """A source for a message: a name or a path, never a Python list of paths."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, ScanReport):
        return f"the {len(source.images)} files scanned"
    files = list(source)
    return f"the {len(files)} files given" + (f" (first: {files[0]})" if files else "")


def _finish(
    dataset: tf.data.Dataset, ordered: bool, report: Any, class_names: Any, count: Any
) -> tf.data.Dataset:
    """Prefetch, determinism option, and the attributes make_dataset promises."""
    options = tf.data.Options()
    options.deterministic = ordered
    dataset = dataset.prefetch(tf.data.AUTOTUNE).with_options(options)
    dataset.scan_report = report
    dataset.class_names = class_names
    dataset.num_photos = count
    return dataset


def _array_source(source: Any, split: str | None, data_dir: Any) -> tuple | None:
    """(images uint8 (N, H, W, 3), labels, class names) for array sources, else None.

    Array sources: a registry data set stored as arrays (CIFAR-10), an (N, H, W, 3) uint8
    array, or an (images, labels) pair.
    """
    from colorlab.data import registry

    if isinstance(source, str) and source in registry.names():
        if registry.entry(source).get("kind") != "arrays":
            return None
        loaded = registry.load_arrays(source, data_dir=data_dir)
        part = split or "train"
        if part not in loaded:
            raise ValueError(f"{source!r} has the splits train and test, not {split!r}.")
        images, labels = loaded[part]
        return images, labels, loaded.get("class_names")
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], np.ndarray):
        images, labels = source
    elif isinstance(source, np.ndarray):
        images, labels = source, np.full(len(source), -1)
    else:
        return None
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"An array source must be (N, H, W, 3) uint8 photos, got {images.shape} "
            f"{images.dtype}. Floats in [0, 1]: (images * 255).round().astype(np.uint8)."
        )
    return images, np.asarray(labels).astype(np.int64), None


def _scan(
    source: Any, split: str | None, gray_fraction: float | None, data_dir: Any
) -> ScanReport:
    """Resolves a source to scanned files."""
    from colorlab.data import registry

    if isinstance(source, ScanReport):
        return source if split is None else _split_report(source, split)
    manifest = None
    if isinstance(source, str) and source in registry.names():
        paths, manifest = registry.image_files(source, split=split, data_dir=data_dir)
        split = None  # the registry applied it
    elif isinstance(source, (str, os.PathLike)) and pathlib.Path(source).is_dir():
        paths = list_images(source)
        if split is not None:
            paths = _hash_split(paths, source, split)
    elif isinstance(source, (str, os.PathLike)):
        raise ValueError(
            f"{source!r} is neither a data set of the registry ({', '.join(registry.names())}) "
            "nor a folder nor TFRecord files."
        )
    else:
        paths = [pathlib.Path(p) for p in source]
        if split is not None:
            paths = _hash_split(paths, None, split)
    return scan_images(paths, gray_fraction=gray_fraction, manifest=manifest)


def _hash_split(paths: Sequence[pathlib.Path], root: Any, split: str) -> list[pathlib.Path]:
    from colorlab.data.photos import split_paths

    splits = split_paths(paths, root=root)
    if split not in splits:
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}.")
    return splits[split]


def _split_report(report: ScanReport, split: str) -> ScanReport:
    keep = set(map(str, _hash_split([pathlib.Path(i.path) for i in report.images], None, split)))
    return ScanReport([i for i in report.images if i.path in keep], report.gray_fraction)


def _labels(paths: Sequence[str], labels: str | dict | None) -> tuple[list[int], list[str] | None]:
    if labels is None:
        return [-1] * len(paths), None
    if labels == "folder":
        folders = [pathlib.Path(p).parent.name for p in paths]
        names = sorted(set(folders))
        index = {name: i for i, name in enumerate(names)}
        return [index[f] for f in folders], names
    if isinstance(labels, dict):
        missing = [p for p in paths if p not in labels and pathlib.Path(p).name not in labels]
        if missing:
            raise ValueError(f"labels has no class for {len(missing)} photos, e.g. {missing[0]}.")
        ids = [int(labels.get(p, labels.get(pathlib.Path(p).name))) for p in paths]
        return ids, None
    raise ValueError(f'labels must be None, "folder" or a {{path: class}} dict, got {labels!r}.')
