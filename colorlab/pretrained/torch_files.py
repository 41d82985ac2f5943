"""Reading PyTorch ``.pth`` state dicts without PyTorch, and without trusting the pickle.

``torch.save`` writes one of two formats:

- **legacy** (before PyTorch 1.6, and ``_use_new_zipfile_serialization=False``): a sequence
  of pickles (a magic number, the protocol version, system info, the object with its tensors
  as persistent ids, the sorted storage keys), then each storage as an int64 element count
  and its raw little-endian bytes;
- **zip**: an archive holding ``<folder>/data.pkl`` (the object) and ``<folder>/data/<key>``
  (each storage's raw bytes); the folder is usually ``archive`` but not always.

A ``.pth`` is a pickle, and unpickling runs whatever the file names. :func:`read_state_dict`
unpickles with a :class:`RestrictedUnpickler` that admits only what a state dict needs (an
ordered dict, the tensor rebuild functions, the storage types) and refuses every other name
before anything runs. Tensors come back as numpy arrays, their offsets and strides honoured.
"""

from __future__ import annotations

import collections
import io
import os
import pathlib
import pickle
import struct
import zipfile
from typing import Any, BinaryIO

import numpy as np

from colorlab.files import check_regular_file

__all__ = ["TorchFileError", "UnsafePickle", "RestrictedUnpickler", "read_state_dict"]

#: The first pickle of a legacy file.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
#: The storage types of torch, and the numpy dtype of their elements ("bfloat16" is read
#: as its upper 16 bits of float32).
STORAGE_DTYPES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class TorchFileError(ValueError):
    """Not a readable ``.pth`` file: not one at all, truncated, or of a layout colorlab
    cannot read (big-endian data)."""


class UnsafePickle(TorchFileError):
    """The file's pickle names something a state dict never needs; nothing of it was run."""


class _Storage:
    """A storage named by the pickle; its bytes are read afterwards."""

    def __init__(self, kind: str, key: str, numel: int) -> None:
        self.kind, self.key, self.numel = kind, key, int(numel)
        self.array: np.ndarray | None = None

    @property
    def dtype(self) -> np.dtype:
        name = STORAGE_DTYPES[self.kind]
        return np.dtype("<u2") if name == "bfloat16" else np.dtype(name)


class _StorageType:
    """Stands in for ``torch.FloatStorage`` and the other storage classes."""

    def __init__(self, kind: str) -> None:
        self.kind = kind


class _TensorRef:
    """A tensor named by the pickle: a view of a storage, resolved once the bytes are in."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def resolve(self) -> np.ndarray:
        data = self.storage.array
        if data is None:
            raise TorchFileError(f"storage {self.storage.key} has no data (truncated file?)")
        end = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if self.size and min(self.size) == 0:
            end = self.offset
        if self.offset < 0 or end > len(data) or any(s < 0 for s in self.stride):
            raise TorchFileError(f"a tensor of shape {self.size} reaches past its storage "
                                 f"{self.storage.key} ({len(data)} elements)")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * item for s in self.stride],
            writeable=False)
        array = np.array(view)  # a copy: the storage can go
        if STORAGE_DTYPES[self.storage.kind] == "bfloat16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _rebuild_tensor_v2(storage: Any, storage_offset: int, size: tuple, stride: tuple,
                       requires_grad: bool = False, backward_hooks: Any = None,
                       metadata: Any = None) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise TorchFileError("a tensor's storage is not a storage of the file")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: bool = False, backward_hooks: Any = None
                       ) -> Any:
    return data


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only the names a PyTorch state dict is made of.

    Allowed: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and
    ``_rebuild_parameter`` (replaced by colorlab's own, which make numpy arrays), and the
    storage classes of :data:`STORAGE_DTYPES`. Any other global (``os.system``,
    ``builtins.eval``, a class's ``__reduce__``, ...) raises :class:`UnsafePickle` when the
    pickle names it, before it could be called.
    """

    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file: BinaryIO, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickle(
            f"the file's pickle names {module}.{name}, which a PyTorch state dict never needs; "
            "it was refused without running (a .pth file can carry code: load only files "
            "you trust, and only state dicts)"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UnsafePickle(f"the file's pickle refers to {pid!r}, which is not a storage")
        kind, key, numel = pid[1].kind, str(pid[2]), pid[4]
        if key not in self.storages:
            self.storages[key] = _Storage(kind, key, numel)
        return self.storages[key]


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch ``.pth`` state dict as numpy arrays, keyed as in the file.

    Reads the legacy and the zip format (see the module docstring) without PyTorch; a file
    whose object is a dict holding the state dict under "state_dict" or "model" gives that.

    Raises:
        TorchFileError: not a ``.pth`` file, truncated, big-endian, or not a state dict.
        UnsafePickle: the pickle names anything a state dict never needs (nothing is run).
    """
    path = check_regular_file(path, ".pth file")
    if zipfile.is_zipfile(path):
        obj = _read_zip(path)
    else:
        with open(path, "rb") as handle:
            obj = _read_legacy(handle, path)
    return _tensors(obj, path)


def _read_legacy(handle: BinaryIO, path: pathlib.Path) -> Any:
    def load(what: str, storages: dict | None = None) -> Any:
        try:
            return RestrictedUnpickler(handle, {} if storages is None else storages).load()
        except UnsafePickle:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                IndexError, struct.error) as error:
            raise TorchFileError(f"{path} is not a readable PyTorch file ({what}: "
                                 f"{type(error).__name__}: {error})") from None

    if load("its first pickle") != LEGACY_MAGIC:
        raise TorchFileError(f"{path} is not a PyTorch .pth file (no torch magic number)")
    load("the protocol version")
    info = load("the system info")
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise TorchFileError(f"{path} holds big-endian data, which colorlab cannot read; "
                             "save it again on a little-endian machine")
    storages: dict[str, _Storage] = {}
    obj = load("the state dict", storages)
    keys = load("the storage keys")
    for key in keys:
        storage = storages.get(str(key))
        count = handle.read(8)
        if storage is None or len(count) < 8:
            raise TorchFileError(f"{path} is truncated (storage {key} missing)")
        numel = struct.unpack("<q", count)[0]
        raw = handle.read(numel * storage.dtype.itemsize)
        if numel < 0 or len(raw) < numel * storage.dtype.itemsize:
            raise TorchFileError(f"{path} is truncated (storage {key} has {len(raw):,} of "
                                 f"{numel * storage.dtype.itemsize:,} bytes)")
        storage.array = np.frombuffer(raw, dtype=storage.dtype)
    return obj


def _read_zip(path: pathlib.Path) -> Any:
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise TorchFileError(f"{path} is a zip archive but not a PyTorch file (no one "
                                 "data.pkl in it)")
        folder = pickles[0][: -len("data.pkl")]
        order = folder + "byteorder"
        if order in names and archive.read(order).strip() != b"little":
            raise TorchFileError(f"{path} holds big-endian data, which colorlab cannot read; "
                                 "save it again on a little-endian machine")
        storages: dict[str, _Storage] = {}
        try:
            obj = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), storages).load()
        except UnsafePickle:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                IndexError) as error:
            raise TorchFileError(f"{path} is not a readable PyTorch file ({type(error).__name__}"
                                 f": {error})") from None
        for key, storage in storages.items():
            entry = f"{folder}data/{key}"
            if entry not in names:
                raise TorchFileError(f"{path} is truncated or damaged ({entry} missing)")
            raw = archive.read(entry)
            if len(raw) < storage.numel * storage.dtype.itemsize:
                raise TorchFileError(f"{path} is truncated ({entry} has {len(raw):,} bytes)")
            storage.array = np.frombuffer(raw, dtype=storage.dtype, count=storage.numel)
        return obj
    except zipfile.BadZipFile as error:
        raise TorchFileError(f"{path} is a damaged zip archive ({error})") from None


def _tensors(obj: Any, path: pathlib.Path) -> dict[str, np.ndarray]:
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, _TensorRef) for v in obj.values()):
        raise TorchFileError(f"{path} does not hold a state dict (a mapping of names to "
                             "tensors)")
    return {str(key): ref.resolve() for key, ref in obj.items()}
