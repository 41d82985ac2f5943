"""The authors' trained models in Keras, with no PyTorch at run time (issue 17).

- :func:`load`: a released model by name (``"zhang_eccv16"``, ``"zhang_siggraph17"``),
  downloaded once, checked, converted once and reloaded with ``safe_mode=True``.
  ``colorlab.models.load_model(NAME)`` and ``colorlab colorize --model NAME`` take the
  same names wherever they take a model path.
- :mod:`colorlab.pretrained.presets`: :class:`Preset`, what a released file is and how it
  becomes a model; the presets themselves live in their methods' homes
  (:mod:`colorlab.models.zhang`, :mod:`colorlab.models.siggraph17`).
- :mod:`colorlab.pretrained.torch_files`: PyTorch state dicts (legacy and zip formats) read
  through a restricted unpickler that never runs the file's code.
- :mod:`colorlab.pretrained.convert`: a state dict copied into Keras layers by name.

Names load on first use (PEP 562), so the method homes can use the reader and the presets
without importing everything here.
"""

from __future__ import annotations

from colorlab._lazy import facade

#: Where each name lives.
_NAMES = {
    "load": "catalog", "preset": "catalog", "preset_names": "catalog",
    "RANDOM": "presets", "Preset": "presets",
    "RestrictedUnpickler": "torch_files", "TorchFileError": "torch_files",
    "UnsafePickle": "torch_files", "read_state_dict": "torch_files",
    "copy_state_dict": "convert",
}
_MODULES = ("catalog", "convert", "presets", "torch_files")

__all__ = sorted(_NAMES)


__getattr__, __dir__ = facade(__name__, _NAMES, _MODULES, globals())
