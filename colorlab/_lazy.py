"""The lazy package facade (PEP 562) that colorlab's subpackages share: names and
submodules are imported on first use, so importing a package stays light."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable, Mapping


def facade(package: str, names: Mapping[str, str], modules: Iterable[str],
           namespace: dict) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    Args:
        package: The package's name, e.g. "colorlab.data".
        names: {name: the submodule (relative) that defines it}.
        modules: Submodules reachable as attributes.
        namespace: The package's ``globals()`` (a loaded name is cached there).
    """
    modules = tuple(modules)

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
            namespace[name] = value
            return value
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*namespace, *names, *modules])

    return __getattr__, __dir__
