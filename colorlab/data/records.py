"""Sharded TFRecords of pre-resized photos: big data sets train from sequential reads.

Reading 36,500 small JPEG files from a network disk or a bucket is slow; reading 16 large
files is not. :func:`write_tfrecords` decodes each usable photo once (EXIF rotation applied),
scales its shorter side to ``short_side`` and re-encodes it as JPEG into shards;
:func:`read_tfrecords` gives back (photo, label) pairs that
:func:`colorlab.data.pipeline.make_dataset` crops and encodes like files.

Writing resumes: each shard is written to a private temporary file and renamed when
complete, so an interrupted run redoes only unfinished shards.
"""

from __future__ import annotations

import io
import math
import os
import pathlib
from typing import Sequence

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import tensorflow as tf
from PIL import Image, ImageOps

from colorlab.files import atomic_path
from colorlab.data.decode import decode_photo, resize_short_side
from colorlab.data.photos import ScanReport
from colorlab.data.sources import is_record_source

__all__ = ["is_record_source", "read_tfrecords", "write_tfrecords"]

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "name": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def write_tfrecords(
    photos: ScanReport | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    shards: int | None = None,
    short_side: int = 256,
    quality: int = 95,
    labels: dict | None = None,
    prefix: str = "photos",
    progress: bool = False,
) -> list[pathlib.Path]:
    """Writes photos as sharded TFRecords of JPEGs whose shorter side is ``short_side``.

    Args:
        photos: A :class:`~colorlab.data.photos.ScanReport` (its usable photos, EXIF orientation
            applied) or a list of files.
        out_dir: Output folder (created).
        shards: Number of shards; default: about 100 MB each (at least 1).
        short_side: Shorter side after resizing, in pixels (never upscaled here).
        quality: JPEG quality of the re-encoded photos.
        labels: Optional {path: class index}, stored with each photo.
        prefix: Shard file names: ``<prefix>-00000-of-00016.tfrecord``.
        progress: Show a progress bar.

    Returns:
        The shard paths, in order.
    """
    paths = photos.paths if isinstance(photos, ScanReport) else [os.fspath(p) for p in photos]
    if not paths:
        raise ValueError("write_tfrecords got no photos.")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if shards is None:
        shards = max(1, math.ceil(len(paths) * short_side * short_side * 0.25 / 100e6))
    shards = int(min(shards, len(paths)))
    names = [out_dir / f"{prefix}-{i:05d}-of-{shards:05d}.tfrecord" for i in range(shards)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="writing TFRecords", unit="photo", disable=None)
    for shard, name in enumerate(names):
        members = paths[shard::shards]
        if not name.exists():
            with atomic_path(name) as partial:  # a private temporary file, then renamed
                with tf.io.TFRecordWriter(str(partial)) as writer:
                    for path in members:
                        label = -1 if labels is None else int(labels.get(path, -1))
                        writer.write(_example(path, short_side, quality, label))
        if bar is not None:
            bar.update(len(members))
    if bar is not None:
        bar.close()
    return names


def _example(path: str, short_side: int, quality: int, label: int) -> bytes:
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        scale = short_side / min(image.size)
        if scale < 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[buffer.getvalue()])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "name": tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[pathlib.Path(path).name.encode()])
        ),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def read_tfrecords(
    source: str | os.PathLike | Sequence[str | os.PathLike], short_side: int | None = None
) -> tf.data.Dataset:
    """(photo (H, W, 3) float32 in [0, 1], label int64) pairs from shards.

    Args:
        source: A shard, a glob such as ``"records/photos-*.tfrecord"``, or a list.
        short_side: Scale the photos' shorter side to this (None: as stored).
    """
    if isinstance(source, (str, os.PathLike)):
        files = sorted(tf.io.gfile.glob(os.fspath(source)))
    else:
        files = [os.fspath(s) for s in source]
    if not files:
        raise FileNotFoundError(f"No TFRecord shards match {source!r}.")
    records = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    )

    def parse(serialized):
        example = tf.io.parse_single_example(serialized, _FEATURES)
        image = decode_photo(example["image"])
        if short_side is not None:
            image = resize_short_side(image, short_side)
        return image, example["label"]

    return records.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
