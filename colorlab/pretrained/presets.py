"""A released weight file as colorlab knows it: where it is, how it is checked, how it
becomes a Keras model, and where that model is kept.

A :class:`Preset` is the authors' file (URL, size, sha256, licence) plus two functions of
the method it belongs to (defined in the method's home, e.g. :mod:`colorlab.models.zhang`):
``convert`` (an official state dict -> the method's Keras model with those weights) and
``network`` (the same architecture with random weights). :meth:`Preset.load`

1. downloads the file through colorlab's checksummed, resumable download into the data
   cache (``<data home>/pretrained/``), or takes a file you give it;
2. reads it without PyTorch (:func:`colorlab.pretrained.torch_files.read_state_dict`, a
   restricted unpickler that never runs the file's code) and converts it once, saving the
   model as ``.keras`` beside the file;
3. afterwards reloads that ``.keras`` with ``safe_mode=True`` (a second or so, not a
   conversion).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import pathlib
from typing import Callable

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab.data.download import data_home, download, sha256_of
from colorlab.files import atomic_path, check_regular_file
from colorlab.pretrained.torch_files import read_state_dict

__all__ = ["RANDOM", "Preset"]

#: ``weights=RANDOM``: the released architecture with random weights (offline lessons, CI).
RANDOM = "random"


@dataclasses.dataclass(frozen=True)
class Preset:
    """Released weights of a method, by name (``Method.presets``).

    Attributes:
        name: What users type: ``colorlab colorize --model NAME``, ``load_model(NAME)``.
        method: The registered method the weights are for.
        paper: The paper they were trained for.
        url: The authors' download address.
        filename: The file's name (kept as published: its sha256 prefix is in it).
        size: Its size in bytes.
        sha256: Its published sha256.
        licence: Its licence.
        convert: An official state dict (numpy arrays by PyTorch key) -> the method's model.
        network: The method's model in the released layout, with random weights.
    """

    name: str
    method: str
    paper: str
    url: str
    filename: str
    size: int
    sha256: str
    licence: str
    convert: Callable[[dict], keras.Model]
    network: Callable[[], keras.Model]

    def path(self, data_dir: str | os.PathLike | None = None) -> pathlib.Path:
        """Where the downloaded file lives (whether or not it is there yet)."""
        return data_home(data_dir) / "pretrained" / self.filename

    def downloaded(self, data_dir: str | os.PathLike | None = None) -> bool:
        """Whether the file is in the data cache (checked when it is next loaded)."""
        return self.path(data_dir).is_file()

    def fetch(self, data_dir: str | os.PathLike | None = None,
              progress: bool = True) -> pathlib.Path:
        """Downloads the file (resuming a partial one) unless a verified copy is there.

        Raises:
            DownloadError: offline or unreachable: the message names the URL, the size and
                where to put the file by hand.
            ChecksumError: the file fails its size or sha256 check: a download is deleted,
                a file placed by hand is kept and named (replace it with a good copy).
        """
        target = self.path(data_dir)
        return download(self.url, target.parent, self.filename, sha256=self.sha256,
                        size=self.size, progress=progress,
                        what=f"the {self.name} weights ({self.size / 1e6:.0f} MB)")

    def load(self, weights: str | os.PathLike | None = None, *,
             data_dir: str | os.PathLike | None = None, progress: bool = True) -> keras.Model:
        """The method's model with these weights.

        Args:
            weights: None: the official file (downloaded and verified once); a path: that
                ``.pth`` file (either torch format); ``"random"``: random weights in the
                released layout (nothing is read).
            data_dir: The data cache (default ``$COLORLAB_DATA`` or the user cache).
            progress: Show download progress.

        Returns:
            The converted model, saved as ``<file stem>.<name>.<sha256 prefix>.keras``
            beside the file the first time (where that folder is writable) and reloaded
            from there afterwards; the file's checksum in the name means a replaced file is
            never mistaken for the one converted before.

        Raises:
            DownloadError, ChecksumError: see :meth:`fetch`.
            FileNotFoundError: ``weights`` is not a file.
            colorlab.pretrained.torch_files.TorchFileError: not a readable ``.pth`` file.
            ValueError: a state dict of another model (missing and mis-shaped keys named).
        """
        if isinstance(weights, str) and weights.lower() == RANDOM:
            return self.network()
        if weights is None:
            source, digest = self.fetch(data_dir, progress), self.sha256  # verified
        else:
            source = check_regular_file(pathlib.Path(weights).expanduser(), "weights file")
            if source.suffix == ".keras":
                raise ValueError(f"{source} is a Keras model, not a PyTorch weights file: "
                                 "load it with colorlab.models.load_model(path).")
            digest = sha256_of(source)
        converted = source.with_name(f"{source.stem}.{self.name}.{digest[:12]}.keras")
        if converted.is_file():
            try:
                return keras.models.load_model(converted, compile=False, safe_mode=True)
            except Exception:  # noqa: BLE001 - damaged: convert again below
                pass
        model = self.convert(read_state_dict(source))
        try:
            with atomic_path(converted, suffix=".keras") as temporary:
                model.save(temporary)
            for older in source.parent.glob(f"{glob.escape(source.stem)}.{self.name}.*.keras"):
                if older != converted:  # the conversion of a file since replaced
                    older.unlink(missing_ok=True)
        except OSError:  # a read-only folder: use the model, convert again next time
            pass
        return model
