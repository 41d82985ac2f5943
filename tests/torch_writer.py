"""A small writer of PyTorch ``.pth`` files in both formats, for the reader's tests.

It writes what ``torch.save`` writes (pickle protocol 2, tensors as
``torch._utils._rebuild_tensor_v2`` over persistent-id storages), without PyTorch: the two
torch names the pickle refers to are stand-ins, put in ``sys.modules`` only while writing.
"""

from __future__ import annotations

import collections
import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

STORAGE_OF = {np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
              np.dtype("float16"): "HalfStorage", np.dtype("int64"): "LongStorage",
              np.dtype("int32"): "IntStorage", np.dtype("uint8"): "ByteStorage"}


@contextlib.contextmanager
def _stand_in_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: only named in the pickle
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in STORAGE_OF.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch, utils
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Tensor:
    def __init__(self, storage, offset, shape, stride, utils):
        self.args = (storage, offset, tuple(shape), tuple(stride), False,
                     collections.OrderedDict())
        self.utils = utils

    def __reduce__(self):
        return self.utils._rebuild_tensor_v2, self.args


class _StorageRef:
    def __init__(self, key, kind, numel):
        self.key, self.kind, self.numel = key, kind, numel


def _pickle_state(state, torch, utils, transpose_first=False):
    """(pickle bytes, {key: raw bytes}) of a state dict of numpy arrays."""
    storages, raw = {}, {}
    tensors = collections.OrderedDict()
    for i, (name, array) in enumerate(state.items()):
        array = np.array(array, order="C")  # (ascontiguousarray would make 0-d 1-d)
        key = str(i)
        kind = STORAGE_OF[array.dtype]
        if transpose_first and i == 0 and array.ndim == 2:
            # a transposed view: the storage holds array.T, the tensor strides read it back
            stored = np.ascontiguousarray(array.T)
            stride = (1, array.shape[0])
        else:
            stored = array
            stride = tuple(s // array.itemsize for s in array.strides)
        offset = 3  # a storage larger than the tensor, the tensor at an offset
        padded = np.concatenate([np.zeros(offset, array.dtype), stored.ravel()])
        storages[key] = _StorageRef(key, kind, padded.size)
        raw[key] = padded.astype(padded.dtype.newbyteorder("<")).tobytes()
        tensors[name] = _Tensor(storages[key], offset, array.shape, stride, utils)

    class Writer(pickle._Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageRef):
                return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
            return None

    buffer = io.BytesIO()
    Writer(buffer, protocol=2).dump(tensors)
    return buffer.getvalue(), raw, list(storages)


def save_legacy(state, path, *, little_endian=True, transpose_first=False):
    """A state dict in torch's legacy format."""
    with _stand_in_torch() as (torch, utils):
        body, raw, keys = _pickle_state(state, torch, utils, transpose_first)
    with open(path, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001,
                    {"protocol_version": 1001, "little_endian": little_endian,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(obj, f, protocol=2)
        f.write(body)
        pickle.dump(sorted(keys), f, protocol=2)
        for key in sorted(keys):
            data = raw[key]
            itemsize = int(np.dtype(state[list(state)[int(key)]].dtype).itemsize)
            f.write(struct.pack("<q", len(data) // itemsize))
            f.write(data)


def save_zip(state, path, *, folder="archive", byteorder="little", transpose_first=False):
    """A state dict in torch's zip format (records stored, not compressed)."""
    with _stand_in_torch() as (torch, utils):
        body, raw, keys = _pickle_state(state, torch, utils, transpose_first)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{folder}/data.pkl", body)
        archive.writestr(f"{folder}/byteorder", byteorder)
        for key in keys:
            archive.writestr(f"{folder}/data/{key}", raw[key])
        archive.writestr(f"{folder}/version", "3\n")
