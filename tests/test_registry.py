"""The generic registry: duplicates and unknown names are ConfigErrors that list what is known."""

from __future__ import annotations

import pytest

from promptops.errors import ConfigError
from promptops.registry import Registry


def test_register_get_and_order() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("b", 2)
    reg.add("a")(1)
    assert reg.get("a") == 1 and reg.get("b") == 2
    assert reg.names() == ["a", "b"]
    assert [name for name, _ in reg] == ["b", "a"]
    assert "a" in reg and "c" not in reg and len(reg) == 2


def test_duplicate_is_a_config_error_naming_the_known() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("a", 1)
    with pytest.raises(ConfigError, match=r"widget named 'a' is already registered \(known: a\)"):
        reg.register("a", 2)
    assert reg.get("a") == 1


def test_unknown_lists_known_names_and_where() -> None:
    reg: Registry[int] = Registry("retriever")
    reg.register("bm25", 1)
    reg.register("dense", 2)
    with pytest.raises(ConfigError) as err:
        reg.get("bm52", where="suite.yaml: retriever")
    assert str(err.value) == "suite.yaml: retriever: unknown retriever 'bm52' (known: bm25, dense)"
