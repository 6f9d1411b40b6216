"""One generic registry for every kind of plug-in: retrievers, rerankers, measures, baselines,
generation metrics, report kinds, scorers and task types.

A registry is filled explicitly (a `register` call in the package that owns the built-ins),
never as a side effect of importing a module, so what is known never depends on import order.
A duplicate or unknown name is a `ConfigError` that lists the known names: the user who typed
`retriever: bm52` learns what they could have typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from promptops.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to plug-ins of one kind; `what` names the kind in errors ("retriever")."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add `item` under `name`; a name registered twice is an error, never an overwrite."""
        if name in self._items:
            raise ConfigError(
                f"a {self.what} named {name!r} is already registered "
                f"(known: {', '.join(self.names())})"
            )
        self._items[name] = item
        return item

    def add(self, name: str) -> Callable[[T], T]:
        """`register` as a decorator, for a plug-in defined in the file that registers it."""

        def decorate(item: T) -> T:
            return self.register(name, item)

        return decorate

    def get(self, name: str, *, where: str | None = None) -> T:
        """The plug-in named `name`; `where` (a file and field) goes into the error."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(
                f"unknown {self.what} {name!r} (known: {known})", where=where
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[tuple[str, T]]:
        """Name and plug-in pairs in registration order."""
        return iter(list(self._items.items()))

    def __len__(self) -> int:
        return len(self._items)
