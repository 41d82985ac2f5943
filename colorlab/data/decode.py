"""One photo in the TensorFlow graph: decode, stand upright, bound and scale.

Used by the tf.data pipeline (:mod:`colorlab.data.pipeline`) and by the TFRecord reader
(:mod:`colorlab.data.records`), so a photo reads the same from a file and from a shard.
Decoding covers JPEG, PNG, BMP and GIF; grayscale, RGBA, palette and 16-bit files become RGB.
"""

from __future__ import annotations

from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import tensorflow as tf

__all__ = ["MAX_ASPECT", "decode_photo", "load_photo", "orient", "resize_short_side"]


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
