"""Data in one subpackage: one path from a source to batches.

The path, in the order a photo travels it:

1. :mod:`colorlab.data.registry`: ``datasets.yaml``, what each data set is; :func:`fetch`
   downloads one through :mod:`colorlab.data.download` (checksummed, resumable, safe
   extraction).
2. :mod:`colorlab.data.photos`: :func:`list_images`, :func:`scan_images` (bad files skipped
   and counted, EXIF orientation, the near-gray filter).
3. :mod:`colorlab.data.sources`: :func:`resolve` a source and a split into a
   :class:`PhotoSet` (files, labels, what was skipped); :func:`split_files`, the one split.
4. :mod:`colorlab.data.decode` and :mod:`colorlab.data.targets`: one photo, and one batch's
   target (:class:`Target`), in the TensorFlow graph.
5. :mod:`colorlab.data.pipeline`: :func:`make_dataset`, the tf.data batches;
   :mod:`colorlab.data.records`: TFRecord shards.

``from colorlab import data`` gives every name below. Names that need TensorFlow load it
on first use, so listing or fetching data sets stays light.
"""

from __future__ import annotations

from colorlab._lazy import facade

#: Where each name lives (loaded on first use: PEP 562).
_NAMES = {
    "ChecksumError": "download", "DownloadError": "download", "UnsafeArchiveError": "download",
    "data_home": "download",
    "GRAY_CHROMA": "photos", "GRAY_FRACTION": "photos", "ScanReport": "photos",
    "list_images": "photos", "scan_images": "photos",
    "SPLITS": "sources", "PhotoSet": "sources", "resolve": "sources",
    "split_files": "sources", "split_of": "sources", "split_paths": "sources",
    "describe": "registry", "fetch": "registry", "forget": "registry",
    "image_files": "registry", "load_arrays": "registry", "names": "registry",
    "load_photo": "decode",
    "TARGETS": "targets", "Target": "targets", "encode_batch": "targets",
    "make_dataset": "pipeline", "dataset_prior": "pipeline",
    "read_tfrecords": "records", "write_tfrecords": "records",
}
_MODULES = ("archives", "decode", "download", "errors", "photos", "pipeline", "records",
            "registry", "sources",
            "targets")

__all__ = sorted(_NAMES)


__getattr__, __dir__ = facade(__name__, _NAMES, _MODULES, globals())
