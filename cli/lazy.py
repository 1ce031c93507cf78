"""Modules loaded on first use. Every `caisson` command builds the whole command tree, so
each command's module is imported at every start; the gRPC runtime and the generated
protobuf modules they use (~50 ms) are loaded only when a command really talks to the daemon,
and `--help`, `--version` or a bad flag never pay for them."""

from __future__ import annotations

import importlib
import types
from typing import Any


class _Module(types.ModuleType):
    """Stands for a module until an attribute is read; then imports it (under the import
    lock, so threads racing here get the same module) and keeps its names as its own."""

    def __getattr__(self, attr: str) -> Any:
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def module(name: str) -> Any:
    """`name`, imported when first used; typed Any, so callers declare the real module under
    TYPE_CHECKING for the type checker."""
    return _Module(name)
