"""The command registries, filled on demand.

``all_commands`` (code -> class) and ``commands_by_application``
((application id, code) -> class) are dicts. The generated
``diameter.message.commands`` package gives them an index of class *names*;
a class's module is imported the first time its key is looked up, so a
program that only handles Gy messages never imports the other command
modules. Iterating, ``len()`` and the other whole-dict views import them all
first, so the dicts read exactly as if they had been filled eagerly.
"""
from __future__ import annotations

from _collections_abc import dict_items, dict_keys, dict_values
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

K = TypeVar("K")

__all__ = ["CommandRegistry"]


class CommandRegistry(dict[K, type]):
    """A dict of command classes whose entries are imported when first looked up."""

    def __init__(self) -> None:
        super().__init__()
        self._index: dict[K, str] = {}
        self._load: Callable[[str], type] | None = None
        #: called after every change of an entry (the decoder empties its class cache)
        self.on_change: Callable[[], None] | None = None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def __setitem__(self, key: K, value: type) -> None:
        dict.__setitem__(self, key, value)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        dict.update(self, *args, **kwargs)
        self._changed()

    def __ior__(self, other: Any) -> CommandRegistry[K]:
        dict.update(self, other)
        self._changed()
        return self

    def clear(self) -> None:
        self._index.clear()
        dict.clear(self)
        self._changed()

    def popitem(self) -> tuple[K, type]:
        self._resolve_all()
        item = dict.popitem(self)
        self._changed()
        return item

    def set_index(self, index: dict[K, str], load: Callable[[str], type]) -> None:
        """Entries to resolve lazily: key -> class name, ``load(name)`` imports it."""
        self._index = dict(index)
        self._load = load

    def _resolve(self, key: Any) -> bool:
        index = self._index
        name = index.get(key) if index else None
        if name is None or self._load is None:
            return False
        # import first, forget the index entry after: a thread looking the key up
        # meanwhile waits on the import lock instead of finding nothing
        dict.setdefault(self, key, self._load(name))   # a registered class stays
        index.pop(key, None)
        return True

    def _resolve_all(self) -> None:
        for key in list(self._index):
            self._resolve(key)

    def __missing__(self, key: K) -> type:
        if self._resolve(key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: K, default: Any = None) -> Any:
        if dict.__contains__(self, key) or self._resolve(key):
            return dict.__getitem__(self, key)
        return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._resolve(key)

    def __iter__(self) -> Iterator[K]:
        self._resolve_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._resolve_all()
        return dict.__len__(self)

    def keys(self) -> dict_keys[K, type]:
        self._resolve_all()
        return dict.keys(self)

    def values(self) -> dict_values[K, type]:
        self._resolve_all()
        return dict.values(self)

    def items(self) -> dict_items[K, type]:
        self._resolve_all()
        return dict.items(self)

    def copy(self) -> dict[K, type]:
        self._resolve_all()
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self._resolve_all()
        return dict.__eq__(self, other)

    __hash__ = None

    def __repr__(self) -> str:
        self._resolve_all()
        return dict.__repr__(self)

    def __delitem__(self, key: K) -> None:
        self._index.pop(key, None)
        dict.__delitem__(self, key)
        self._changed()

    def pop(self, key: K, *default: Any) -> Any:
        self._resolve(key)
        try:
            return dict.pop(self, key, *default)
        finally:
            self._changed()

    def setdefault(self, key: K, default: Any = None) -> Any:
        self._resolve(key)
        try:
            return dict.setdefault(self, key, default)
        finally:
            self._changed()
