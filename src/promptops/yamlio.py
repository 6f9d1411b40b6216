"""YAML reading that keeps line numbers, so every error can point at the line to fix.

PyYAML silently keeps the last of two equal keys; here a duplicate key is an error.
`YamlDoc.line_of(loc)` maps a pydantic error location such as `("model", "temperature")`
to the line where that value (or its nearest existing parent) is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from promptops.errors import UserInputError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


@dataclass
class YamlDoc:
    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """The 1-based line of the value at `loc`, or of its deepest existing parent."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        child = value_node
                        line = key_node.start_mark.line + 1
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line

    def where(self, loc: tuple[int | str, ...]) -> str:
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line is not None else str(self.path)


def read_yaml(path: Path, error: type[UserInputError]) -> YamlDoc:
    """Parse a YAML file; syntax errors raise `error` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise error("file is not valid UTF-8", where=str(path)) from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        reason = exc.problem or str(exc)
        if exc.context and exc.problem:
            reason = f"{exc.problem} ({exc.context})"
        raise error(f"YAML syntax: {reason}", where=where) from exc
    except yaml.YAMLError as exc:
        raise error(f"YAML syntax: {exc}", where=str(path)) from exc
    return YamlDoc(path=path, data=data, root=root)


def validation_errors(doc: YamlDoc, exc: ValidationError) -> list[tuple[str, str]]:
    """Turn a pydantic error into (`file:line`, `field: reason`) pairs, one per problem."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
        field = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not allowed here)"
        elif err["type"] == "string_type" and isinstance(err.get("input"), bool):
            msg += " (YAML reads yes/no/on/off/true/false as booleans: quote the value)"
        out.append((doc.where(loc), f"{field}: {msg}"))
    return out
